package har

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// validateScript checks files with npm's har-validator (the JSON Schemas of
// har-schema with its own ajv setup: what HTTP Toolkit validates imports
// with).
const validateScript = `
const v = require('har-validator'); const fs = require('fs');
(async () => { for (const f of process.argv.slice(1)) {
  try { await v.har(JSON.parse(fs.readFileSync(f, 'utf8'))); }
  catch (e) { console.error(f + ': ' + JSON.stringify(e.errors || e.message)); process.exit(1); } } })();`

// TestHARValidatorAcceptsOurFiles validates what the writer produces — every
// kind of entry (failed, redirected, blob, form POST, truncated) — with
// har-validator, installed by make test into .tools/.
func TestHARValidatorAcceptsOurFiles(t *testing.T) {
	modules, _ := filepath.Abs("../../.tools/node_modules")
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(modules, "har-validator")); err != nil || statErr != nil {
		if os.Getenv("REGTRACE_E2E") == "1" {
			t.Fatalf("node or har-validator missing (%v, %v): make test installs them", err, statErr)
		}
		t.Skip("node or har-validator missing: run make test")
	}
	files := []string{writeSample(t, Options{}), writeSample(t, Options{NoRedact: true}), redactThirdParty(t)}
	// An empty capture is a valid HAR too.
	empty := filepath.Join(t.TempDir(), "empty.har")
	w, err := Create(empty, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	files = append(files, empty)
	cmd := exec.Command(node, append([]string{"-e", validateScript}, files...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("har-validator rejected our HAR: %v\n%s", err, out)
	}
	// The validator can fail: mitmproxy's "content": {} for a failed exchange.
	bad := filepath.Join(t.TempDir(), "bad.har")
	os.WriteFile(bad, []byte(`{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":0,"request":{"method":"GET","url":"https://a/","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"queryString":[],"headersSize":-1,"bodySize":0},"response":{"status":0,"statusText":"","httpVersion":"","cookies":[],"headers":[],"content":{},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{"send":0,"wait":0,"receive":0}}]}}`), 0o644)
	cmd = exec.Command(node, "-e", validateScript, bad)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	if err := cmd.Run(); err == nil {
		t.Error("har-validator accepted content: {} — the check cannot fail")
	}
}
