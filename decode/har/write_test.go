package har

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestFileIsValidAfterEveryChange covers the one-write append and the
// trailer getting shorter (findings replaced by fewer), which must cut the
// file.
func TestFileIsValidAfterEveryChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.har")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	valid := func(step string, wantEntries, wantFindings int) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Log struct {
				Entries  []json.RawMessage `json:"entries"`
				Regtrace struct {
					Findings []string `json:"findings"`
				} `json:"_regtrace"`
			} `json:"log"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("after %s the file is not JSON: %v\n%s", step, err, b)
		}
		if len(doc.Log.Entries) != wantEntries || len(doc.Log.Regtrace.Findings) != wantFindings {
			t.Fatalf("after %s: %d entries, %d findings; want %d, %d", step, len(doc.Log.Entries), len(doc.Log.Regtrace.Findings), wantEntries, wantFindings)
		}
	}
	valid("create", 0, 0)
	fs := benchFlows()
	for i, f := range fs {
		if err := w.Add(f, Annotation{}); err != nil {
			t.Fatal(err)
		}
		valid("add", i+1, 0)
	}
	w.SetFindings([]string{"rule-one denied [1 2 3]", "rule-two not-found [4]"})
	valid("findings", len(fs), 2)
	w.SetFindings([]string{"x"})
	valid("fewer findings", len(fs), 1)
	if err := w.Add(fs[0], Annotation{}); err != nil {
		t.Fatal(err)
	}
	valid("add after findings", len(fs)+1, 1)
}
