package render

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
)

// TestJSONWriterMatchesEncodingJSON: the report's hand-written JSON is
// encoding/json's indented output, byte for byte, for reports of every
// shape and strings of every kind of byte.
func TestJSONWriterMatchesEncodingJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"", "a", "é", "<", ">", "&", `"`, `\`, "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"\u2028", "\u2029", "\xff", "\xe2\x80", "日本", "\U0001F600", "#3 GET https://r.test/v2/?a=b&c=d", " "}
	str := func() string {
		var b []byte
		for range rnd.IntN(6) {
			b = append(b, pieces[rnd.IntN(len(pieces))]...)
		}
		return string(b)
	}
	ids := func() []flow.ID {
		switch rnd.IntN(3) {
		case 0:
			return nil
		case 1:
			return []flow.ID{}
		}
		out := make([]flow.ID, 1+rnd.IntN(3))
		for i := range out {
			out[i] = flow.ID(rnd.Uint64() >> rnd.IntN(64))
		}
		return out
	}
	strs := func() []string {
		switch rnd.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+rnd.IntN(3))
		for i := range out {
			out[i] = str()
		}
		return out
	}
	finding := func() jsonFinding {
		return jsonFinding{Rule: str(), Verdict: str(), Primary: rnd.IntN(2) == 0, Client: str(), Registry: str(), Repo: str(),
			Evidence: ids(), Why: str(), Fix: str(), CannotProve: str(), Suspected: rnd.IntN(2) == 0, Candidates: strs()}
	}
	for n := range 3000 {
		r := jsonReport{Version: rnd.IntN(3), Failed: rnd.IntN(2) == 0}
		if rnd.IntN(2) == 0 {
			f := finding()
			r.Primary = &f
		}
		if k := rnd.IntN(4); k > 0 {
			r.Findings = []jsonFinding{}
			for range k - 1 {
				r.Findings = append(r.Findings, finding())
			}
		}
		if k := rnd.IntN(4); k > 0 {
			r.Operations = []jsonOperation{}
			for range k - 1 {
				r.Operations = append(r.Operations, jsonOperation{Client: str(), Registry: str(), Repos: strs(), Flows: ids(),
					Goal: str(), Reached: rnd.IntN(2) == 0, StoppedAt: flow.ID(rnd.IntN(3)), Stage: str(),
					RecoveredBy: flow.ID(rnd.IntN(3)), Probes: ids()})
			}
		}
		if rnd.IntN(2) == 0 {
			r.Source = &jsonSource{Name: str(), Lacks: str(), Capture: str()}
		}
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		jw := &jsonWriter{w: &got}
		if err := jw.report(&r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("report %d:\ngot  %s\nwant %s", n, got.Bytes(), want.Bytes())
		}
	}
}
