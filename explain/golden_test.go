package explain_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
)

var update = flag.Bool("update", false, "rewrite golden files")

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// TestRenderedGoldens renders every rule trace as text and Markdown and
// compares with testdata/golden/<trace>.golden: what a user reads for each
// rule is reviewed in one place.
func TestRenderedGoldens(t *testing.T) {
	seen := map[string]bool{}
	for _, tr := range explain.TracesForTest() {
		name := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(tr.Name), "-"), "-")
		seen[name+".golden"] = true
		t.Run(name, func(t *testing.T) {
			rep := explain.Explain(tr.In)
			var b strings.Builder
			b.WriteString("=== text ===\n")
			render.Text(&b, rep, render.ReportOptions{})
			b.WriteString("=== markdown ===\n")
			render.Markdown(&b, rep, render.ReportOptions{})
			got := b.String()
			path := filepath.Join("testdata", "golden", name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./explain -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test ./explain -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
	// A golden whose trace is gone is stale.
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			if *update {
				os.Remove(f)
				continue
			}
			t.Errorf("%s has no trace any more (go test -update removes it)", f)
		}
	}
}

// TestRulesReference keeps RULES.md, the rules reference inside the
// repository, generated from ruledocs.go.
func TestRulesReference(t *testing.T) {
	var b strings.Builder
	if err := render.RulesMarkdown(&b, explain.Rules()); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("RULES.md", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("RULES.md")
	if err != nil {
		t.Fatalf("%v (go test ./explain -run TestRulesReference -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("RULES.md is stale: go test ./explain -run TestRulesReference -update rewrites it from ruledocs.go")
	}
	for _, d := range explain.Rules() {
		if !strings.Contains(string(want), "## "+string(d.ID)+"\n") {
			t.Errorf("RULES.md has no section for %s", d.ID)
		}
	}
}
