package logs

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOrasHeaderLine: the hand-written matcher agrees with orasHeader on
// every line of the oras fixtures and on random lines built of the bytes
// that matter.
func TestOrasHeaderLine(t *testing.T) {
	var lines []string
	files, _ := filepath.Glob(filepath.Join("testdata", "oras", "*.log"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(string(b), "\n")...)
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	pieces := []string{`"`, `\`, `: `, ":", " ", "\t", "\r", "\n", "a", "é", "\xff", `\"`, `"k"`, `"v, w"`}
	for range 200000 {
		var b strings.Builder
		for range rnd.IntN(8) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		lines = append(lines, b.String())
	}
	for _, l := range lines {
		k, v, ok := orasHeaderLine(l)
		m := orasHeader.FindStringSubmatch(l)
		if ok != (m != nil) || ok && (k != m[1] || v != m[2]) {
			t.Fatalf("%q: got %q %q %v, regexp %q", l, k, v, ok, m)
		}
	}
}
