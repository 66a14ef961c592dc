package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/regtrace/regtrace"

// allowed is ARCHITECTURE.md's import table: for each package, the packages
// of ours and the third-party modules its non-test files may import. The
// standard library is always allowed. A package missing here fails the test,
// so a new package has to take its place in the design.
var allowed = map[string]struct{ ours, third []string }{
	"decode/flow":          {},
	"decode/flow/flowtest": {ours: []string{"decode/flow"}},
	"decode/redact":        {ours: []string{"decode/flow"}},
	"decode/har":           {ours: []string{"decode/flow", "decode/redact"}},
	"decode/logs":          {ours: []string{"decode/flow", "decode/redact"}},
	"decode":               {ours: []string{"decode/flow"}, third: []string{"github.com/golang-jwt/jwt/v5"}},
	"explain":              {ours: []string{"decode", "decode/flow"}},
	"explain/diff":         {ours: []string{"explain", "decode", "decode/flow"}},
	// render draws every report, diff's too: one place for the page shell,
	// escaping, colours and the JSON finding shape.
	"explain/render":      {ours: []string{"explain", "explain/diff", "decode", "decode/flow", "decode/redact"}, third: []string{"github.com/fatih/color"}},
	"explain/render/otlp": {ours: []string{"explain", "decode", "decode/flow", "decode/redact"}, third: []string{"go.opentelemetry.io/otel"}},
	"certs":               {},
	"proxy":               {ours: []string{"decode/flow", "decode/redact"}, third: []string{"github.com/elazarl/goproxy"}},
	"proxy/probe":         {ours: []string{"proxy", "decode", "decode/flow", "decode/redact"}},
	"cmd/regtrace":        {ours: []string{"*"}, third: []string{"github.com/urfave/cli/v2", "golang.org/x/crypto/bcrypt", "go.opentelemetry.io/otel"}},
	"cmd/regtrace-bench":  {ours: []string{"*"}, third: []string{"golang.org/x/crypto/bcrypt"}},
}

func TestImportTable(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports, err := packageImports(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 5 {
		t.Fatalf("found only %d packages under %s: the walk is broken", len(imports), root)
	}
	for _, v := range importViolations(imports) {
		t.Error(v)
	}
}

// packageImports returns, for each package directory under root (slash
// separated, relative to root), the imports of its non-test files.
func packageImports(root string) (map[string]map[string]bool, error) {
	imports := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			imports[rel][strings.Trim(imp.Path.Value, `"`)] = true
		}
		return nil
	})
	return imports, err
}

// importViolations checks imports (as packageImports returns them) against
// the allowed table and returns one message per violation, sorted.
func importViolations(imports map[string]map[string]bool) []string {
	var out []string
	for pkg, imps := range imports {
		rule, ok := allowed[pkg]
		if !ok {
			out = append(out, fmt.Sprintf("package %s is not in ARCHITECTURE.md's import table (add it there and here)", pkg))
			continue
		}
		for imp := range imps {
			switch {
			case strings.HasPrefix(imp, module+"/"):
				ours := strings.TrimPrefix(imp, module+"/")
				if !slices.Contains(rule.ours, "*") && !slices.Contains(rule.ours, ours) {
					out = append(out, fmt.Sprintf("%s imports %s, which the import table forbids", pkg, ours))
				}
			case isStdlib(imp):
			default:
				if !slices.ContainsFunc(rule.third, func(m string) bool { return imp == m || strings.HasPrefix(imp, m+"/") }) {
					out = append(out, fmt.Sprintf("%s imports third-party %s, which the import table forbids", pkg, imp))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// isStdlib: standard library paths have no dot in their first element.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestImportTableCatchesAViolation runs the checker TestImportTable uses on
// a made-up tree whose packages import what the table forbids, so a checker
// that stopped reporting would fail here rather than pass silently.
func TestImportTableCatchesAViolation(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		// proxy may not import certs (it takes GetCertificate instead).
		"proxy/proxy.go": "package proxy\n\nimport (\n\t\"net/http\"\n\n\t\"" + module + "/certs\"\n\t\"" + module + "/decode/flow\"\n)\n",
		// decode may import jwt but not color; a test file may import anything.
		"decode/decode.go":      "package decode\n\nimport (\n\t\"github.com/fatih/color\"\n\t\"github.com/golang-jwt/jwt/v5\"\n)\n",
		"decode/decode_test.go": "package decode\n\nimport \"" + module + "/proxy\"\n",
		// A package the table does not know.
		"util/util.go": "package util\n",
	}
	for name, src := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	imports, err := packageImports(root)
	if err != nil {
		t.Fatal(err)
	}
	got := importViolations(imports)
	want := []string{
		"decode imports third-party github.com/fatih/color, which the import table forbids",
		"package util is not in ARCHITECTURE.md's import table (add it there and here)",
		"proxy imports certs, which the import table forbids",
	}
	if !slices.Equal(got, want) {
		t.Errorf("importViolations(packageImports(%s)) =\n\t%s\nwant\n\t%s", root, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
