package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	defer func(n int) { parallelMin = n }(parallelMin)
	parallelMin = 1 << 30
	one := read()
	parallelMin = 1
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
