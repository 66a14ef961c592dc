package har

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLargeFileReadMatchesHeapRead reads a file big enough for readData's
// mapped buffer, which is unmapped before the flows are used: every string
// must have been copied out of it (a dangling one faults or differs here).
func TestLargeFileReadMatchesHeapRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.har")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := sampleFlows()
	for n := 0; ; n++ {
		for _, f := range fs {
			if err := w.Add(f, Annotation{}); err != nil {
				t.Fatal(err)
			}
		}
		if fi, _ := os.Stat(path); fi.Size() > 12<<20 {
			break
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	heap, err := parseTrace(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Flows) < 1000 || !reflect.DeepEqual(tr.Flows, heap.Flows) || !reflect.DeepEqual(tr.Handshakes, heap.Handshakes) {
		t.Fatalf("mapped read: %d flows, heap read: %d; they differ", len(tr.Flows), len(heap.Flows))
	}
	h, err := ReadFile(path)
	if err != nil || len(h.Log.Entries) != len(heap.Flows) {
		t.Fatalf("ReadFile: %v, %d entries", err, len(h.Log.Entries))
	}
	if hh, err := parse(data, nil); err != nil || !reflect.DeepEqual(h, hh) {
		t.Fatalf("ReadFile of the mapped file differs from a heap read (%v)", err)
	}
}
