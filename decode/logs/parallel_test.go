package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// dumpTrace is everything a reader returns, flow by flow, for comparing.
func dumpTrace(t *Trace) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%v|%s|%v|%q\n", t.Name, t.Image, t.HidesAuth, t.Command, t.CredentialsFor, t.Errors)
	for _, f := range t.Flows {
		fmt.Fprintf(&b, "%d %s %s %s %v %v\n", f.ID, f.Origin, f.Request.Method, f.Request.URL, f.Request.Header, f.Err)
		if r := f.Response; r != nil {
			fmt.Fprintf(&b, "  %d %v %q\n", r.Status, r.Header, r.Body.Captured)
		}
	}
	return b.String()
}

// Built on several cores, a journal's pulls are the same flows, in the
// same order with the same numbers, as built on one.
func TestBuiltInPartsIsTheSame(t *testing.T) {
	for _, dir := range []string{"kubernetes", "dockerd", "oras", "ggcr"} {
		t.Run(dir, func(t *testing.T) { builtInParts(t, dir) })
	}
}

func builtInParts(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	read := func() string {
		tr, err := Read(strings.NewReader(all.String()))
		if err != nil {
			t.Fatal(err)
		}
		return dumpTrace(tr)
	}
	defer func(n, b int) { parallelMin, aheadBlock = n, b }(parallelMin, aheadBlock)
	parallelMin = 1 << 30
	one := read()
	parallelMin, aheadBlock = 1, 7
	if partsOf(40) < 2 {
		t.Skip("one core: nothing to split")
	}
	if many := read(); many != one {
		t.Errorf("built in parts:\n%s\nbuilt whole:\n%s", many, one)
	}
	if strings.Count(one, "\n") < 40 {
		t.Errorf("too few flows to tell: %s", one)
	}
}

// Every reader numbers its flows 1, 2, 3… in order, whatever it inserted
// or joined on the way (the Kubernetes reader renumbers only what a
// failure adds; parts are joined and numbered again).
func TestFlowsNumberedInOrder(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	if len(files) < 50 {
		t.Fatalf("only %d fixtures", len(files))
	}
	defer func(n int) { parallelMin = n }(parallelMin)
	for _, min := range []int{1 << 30, 1} {
		parallelMin = min
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// Twice over: a journal holding the run again.
			tr, err := Read(strings.NewReader(string(b) + "\n" + string(b)))
			if err != nil {
				continue // a fixture of what regtrace must refuse
			}
			for i, f := range tr.Flows {
				if f.ID != flow.ID(i+1) {
					t.Errorf("%s (parts from %d): flow %d is numbered %d", file, min, i+1, f.ID)
					break
				}
			}
		}
	}
}

// TestReadAhead: every item read ahead is given in order, whatever the
// block size; a caller that stops early leaves no goroutine behind.
func TestReadAhead(t *testing.T) {
	defer func(n, b int) { parallelMin, aheadBlock = n, b }(parallelMin, aheadBlock)
	parallelMin = 1
	if partsOf(2) < 2 {
		t.Skip("one core: nothing is read ahead")
	}
	base := runtime.NumGoroutine()
	for _, block := range []int{1, 3, 64, 1000} {
		aheadBlock = block
		for _, n := range []int{1, 2, 63, 64, 65, 999, 5000} {
			at, stop := readAhead(n, func(i int) int { return i * i })
			for i := range n {
				if got := at(i); got != i*i {
					t.Fatalf("block %d, n %d: item %d read as %d", block, n, i, got)
				}
			}
			stop()
			// Stopped after a few items only.
			at, stop = readAhead(n, func(i int) int { return i })
			_ = at(min(n-1, 2))
			stop()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines left behind", n-base)
	}
}
