package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
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

// smallDisk is a file on a disk with room for cap bytes: a write past it
// writes what fits, then fails with ENOSPC, as a full file system does.
type smallDisk struct {
	b   []byte
	cap int
}

func (d *smallDisk) WriteAt(p []byte, off int64) (int, error) {
	n := len(p)
	if int(off)+n > d.cap {
		n = max(d.cap-int(off), 0)
	}
	if need := int(off) + n; need > len(d.b) {
		d.b = append(d.b, make([]byte, need-len(d.b))...)
	}
	copy(d.b[off:], p[:n])
	if n < len(p) {
		return n, syscall.ENOSPC
	}
	return n, nil
}

func (d *smallDisk) Truncate(size int64) error {
	if int(size) <= len(d.b) {
		d.b = d.b[:size]
	}
	return nil
}
func (d *smallDisk) Sync() error  { return nil }
func (d *smallDisk) Close() error { return nil }

// A full disk (the measurement: 150 requests into a 64 KiB
// tmpfs) leaves a valid file with every entry written before, reports the
// failure once (N == 1), counts the rest, says so in log.comment and
// _regtrace.unwritten, and writes again when there is room.
func TestFullDiskKeepsTheFileValid(t *testing.T) {
	d := &smallDisk{cap: 64 << 10}
	w, err := newWriter(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := benchFlows()
	written, firsts, unwritten := 0, 0, 0
	for i := 0; i < 150; i++ {
		err := w.Add(fs[i%len(fs)], Annotation{})
		var ue *UnwrittenError
		switch {
		case err == nil:
			written++
		case errors.As(err, &ue) && errors.Is(err, syscall.ENOSPC):
			unwritten++
			if ue.N == 1 {
				firsts++
			}
		default:
			t.Fatalf("Add: %v", err)
		}
		// Valid JSON for any tool, not only for regtrace's reader (which
		// recovers a cut file).
		if !json.Valid(d.b) {
			t.Fatalf("after add %d the file is not valid JSON", i)
		}
		h, err := Read(bytes.NewReader(d.b))
		if err != nil || len(h.Log.Entries) != written {
			t.Fatalf("after add %d the file does not read (%v) or has not %d entries", i, err, written)
		}
	}
	if unwritten == 0 || firsts != 1 || written == 0 {
		t.Fatalf("written %d, unwritten %d, first failures %d", written, unwritten, firsts)
	}
	d.cap = 1 << 20 // room again
	if err := w.Add(fs[0], Annotation{}); err != nil {
		t.Fatalf("with room again: %v", err)
	}
	written++
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d exchanges (of %d)", unwritten, unwritten+written)) {
		t.Errorf("Close: %v", err)
	}
	var doc struct {
		Log struct {
			Comment  string            `json:"comment"`
			Entries  []json.RawMessage `json:"entries"`
			Regtrace LogExt            `json:"_regtrace"`
		} `json:"log"`
	}
	if err := json.Unmarshal(d.b, &doc); err != nil || len(doc.Log.Entries) != written || doc.Log.Regtrace.Unwritten != unwritten ||
		!strings.Contains(doc.Log.Comment, fmt.Sprintf("INCOMPLETE: %d exchanges could not be written", unwritten)) {
		t.Errorf("the closed file: %v, %d entries, unwritten %d, comment %q", err, len(doc.Log.Entries), doc.Log.Regtrace.Unwritten, doc.Log.Comment)
	}
}

// The same on a real full file system, when this machine lets the test
// mount one (root): a 64 KiB tmpfs.
func TestFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); TestFullDiskKeepsTheFileValid covers it", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	path := filepath.Join(dir, "t.har")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := benchFlows()
	unwritten := 0
	for i := 0; i < 150; i++ {
		if err := w.Add(fs[i%len(fs)], Annotation{}); err != nil {
			unwritten++
		}
	}
	err = w.Close()
	if unwritten == 0 || err == nil {
		t.Fatalf("150 exchanges into 64 KiB: %d unwritten, Close %v", unwritten, err)
	}
	b, _ := os.ReadFile(path)
	h, err := ReadFile(path)
	if !json.Valid(b) || err != nil || len(h.Log.Entries) != 150-unwritten {
		t.Fatalf("the file on the full tmpfs: %v, %d entries, want %d", err, len(h.Log.Entries), 150-unwritten)
	}
}

// A flood of clients that fail the handshake costs a bounded trailer: the
// first maxTLSErrors are listed, the rest counted, and the proxy user of
// each is kept for explain.
func TestHandshakeFloodIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.har")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := maxTLSErrors + 250
	for i := range n {
		w.AddHandshakeFailure(flow.HandshakeFailure{ClientAddr: fmt.Sprintf("10.0.0.%d:4000", i%250), ProxyUser: "carol",
			Target: "registry.test:443", Message: "remote error: tls: bad certificate"})
	}
	if err := w.Add(benchFlows()[0], Annotation{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != w.Size() {
		t.Fatalf("Size() = %d, the file holds %v (%v)", w.Size(), fi.Size(), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Handshakes) != maxTLSErrors || tr.Handshakes[0].ProxyUser != "carol" || len(tr.Flows) != 1 {
		t.Errorf("read back %d handshakes (user %q), %d flows", len(tr.Handshakes), tr.Handshakes[0].ProxyUser, len(tr.Flows))
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"tlsErrorsOmitted":250`)) {
		t.Errorf("the omitted handshakes are not counted in the file")
	}
}
