package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

// manyFailures is a client that failed alike on n repositories, then
// once on a registry of another kind of failure.
func manyFailures(n int) *explain.Report {
	var bs []*flowtest.Builder
	for i := range n {
		bs = append(bs, flowtest.Get(fmt.Sprintf("https://registry.test/v2/team/r%d/manifests/1.0", i)).UA("skopeo/1.9.3").Bearer("opaque").
			Status(401).Challenge(fmt.Sprintf(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/r%d:pull",error="insufficient_scope"`, i)).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
	}
	bs = append(bs, flowtest.Get("https://other.test/v2/team/x/manifests/1.0").UA("skopeo/1.9.3").Status(404).
		JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
	return explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(bs...))})
}

func TestReportsFoldRepeatedFindings(t *testing.T) {
	for _, n := range []int{foldOver, foldOver + 1, foldNames + 5} {
		rep := manyFailures(n)
		rule := rep.Primary().Rule
		same := 0
		for _, f := range rep.Findings {
			if f.Rule == rule {
				same++
			}
		}
		if same != n {
			t.Fatalf("n=%d: %d findings of %s, want one per repository:\n%v", n, same, rule, rep.Findings)
		}
		var text, md, js strings.Builder
		if err := Text(&text, rep, ReportOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := Markdown(&md, rep, ReportOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := JSON(&js, rep, ReportOptions{}); err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
			full := strings.Count(out, "manifest-get of \"team/r")
			if n <= foldOver {
				if full != n || strings.Contains(out, "The same finding") {
					t.Errorf("%s, %d alike: %d printed in full, want all, none folded:\n%s", name, n, full, out)
				}
				continue
			}
			if full != 1 {
				t.Errorf("%s, %d alike: %d printed in full, want the first:\n%s", name, n, full, out)
			}
			want := fmt.Sprintf("The same finding for %d more operations (repositories team/r1, team/r2,", n-1)
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q:\n%s", name, want, out)
			}
			if more := n - 1 - foldNames; more > 0 && !strings.Contains(out, fmt.Sprintf("team/r%d and %d more)", foldNames, more)) {
				t.Errorf("%s: the fold does not stop naming at %d repositories:\n%s", name, foldNames, out)
			}
			// The other kind of failure is never folded into it.
			if !strings.Contains(out, "other.test") {
				t.Errorf("%s: the other registry's finding is gone:\n%s", name, out)
			}
		}
		if got := strings.Count(js.String(), `"rule": "`+string(rule)+`"`); got != n+1 { // findings and primary
			t.Errorf("JSON lists %d findings of %s, want every one (%d) and the primary", got, rule, n)
		}
	}
}

func TestFoldKeepsKindsApart(t *testing.T) {
	f := func(rule explain.Rule, peer, repo string, primary bool) explain.Finding {
		return explain.Finding{Rule: rule, Verdict: "v", Peer: peer, Client: "c", Registry: "r", Repo: repo, Primary: primary, Evidence: []flow.ID{1}}
	}
	var fs []explain.Finding
	fs = append(fs, f("a", "alice", "x0", true))
	for i := range 5 {
		fs = append(fs, f("a", "alice", fmt.Sprint("x", i+1), false), f("a", "bob", fmt.Sprint("y", i), false), f("b", "alice", fmt.Sprint("z", i), false))
	}
	got := fold(fs)
	var heads []string
	for _, s := range got {
		heads = append(heads, fmt.Sprintf("%s/%s/%s+%d", s.f.Rule, s.f.Peer, s.f.Repo, len(s.folded)))
	}
	want := "a/alice/x0+5 a/bob/y0+4 b/alice/z0+4"
	if strings.Join(heads, " ") != want {
		t.Errorf("fold = %s, want %s", strings.Join(heads, " "), want)
	}
}
