package main

import (
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
	"decode":               {ours: []string{"decode/flow"}, third: []string{"github.com/golang-jwt/jwt/v5"}},
	"explain":              {ours: []string{"decode", "decode/flow"}},
	"explain/render":       {ours: []string{"explain", "decode", "decode/flow", "decode/redact"}, third: []string{"github.com/fatih/color"}},
	"certs":                {},
	"proxy":                {ours: []string{"decode/flow", "decode/redact"}, third: []string{"github.com/elazarl/goproxy"}},
	"cmd/regtrace":         {ours: []string{"*"}, third: []string{"github.com/urfave/cli/v2"}},
	"cmd/regtrace-bench":   {ours: []string{"*"}},
}

func TestImportTable(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]map[string]bool{} // package dir -> imports
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
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
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 5 {
		t.Fatalf("found only %d packages under %s: the walk is broken", len(imports), root)
	}
	for pkg, imps := range imports {
		rule, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in ARCHITECTURE.md's import table (add it there and here)", pkg)
			continue
		}
		for imp := range imps {
			switch {
			case strings.HasPrefix(imp, module+"/"):
				ours := strings.TrimPrefix(imp, module+"/")
				if !slices.Contains(rule.ours, "*") && !slices.Contains(rule.ours, ours) {
					t.Errorf("%s imports %s, which the import table forbids", pkg, ours)
				}
			case isStdlib(imp):
			default:
				if !slices.ContainsFunc(rule.third, func(m string) bool { return imp == m || strings.HasPrefix(imp, m+"/") }) {
					t.Errorf("%s imports third-party %s, which the import table forbids", pkg, imp)
				}
			}
		}
	}
}

// isStdlib: standard library paths have no dot in their first element.
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestImportTableCatchesAViolation(t *testing.T) {
	// The checker itself must be able to fail: proxy may not import certs.
	rule := allowed["proxy"]
	if slices.Contains(rule.ours, "certs") {
		t.Fatal("proxy is allowed to import certs")
	}
	if _, err := os.Stat("../../proxy"); err != nil {
		t.Fatalf("proxy package not found from %s: %v", ".", err)
	}
}
