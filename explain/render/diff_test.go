package render

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/diff"
)

// storePull is a pull whose blobs are redirected to a store; the last
// answers lastStatus with body.
func storePull(lastStatus int, body string) *explain.Report {
	const ua = "containerd/1.7.24"
	bs := []*flowtest.Builder{
		flowtest.Get("https://registry.test/v2/").UA(ua).Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
		flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(ua).
			Basic("alice", planted).Status(200).JSON(`{"token":"opaque-` + planted + `"}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(ua).Bearer("opaque-"+planted).Status(200).
			RespHeader("Content-Type", "application/vnd.oci.image.manifest.v1+json").JSON(`{"schemaVersion":2}`),
	}
	for i := range 2 {
		digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte{byte(i)}))
		signed := "https://s3.test/blob/" + digest + "?X-Amz-Signature=" + planted + "&X-Amz-Expires=300"
		bs = append(bs, flowtest.Get("https://registry.test/v2/team/app/blobs/"+digest).UA(ua).Bearer("opaque-"+planted).Status(307).Location(signed))
		b := flowtest.Get(signed).UA(ua).Status(200).Blob(1 << 20)
		if i == 1 && lastStatus != 200 {
			b = flowtest.Get(signed).UA(ua).Status(lastStatus).RespBody("application/xml", body)
		}
		bs = append(bs, b)
	}
	return explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(bs...))})
}

func TestDiffReports(t *testing.T) {
	r := diff.Compare(diff.Side{Name: "node-a.har", Report: storePull(200, "")},
		diff.Side{Name: "node-b.har", Report: storePull(403, `<Error><Code>AccessDenied</Code><Message><script>alert(1)</script> `+planted+`</Message></Error>`)})
	if r.Same || r.First == nil {
		t.Fatalf("no divergence: %+v", r)
	}
	outs := map[string]string{}
	for name, f := range map[string]func(*strings.Builder) error{
		"text":     func(b *strings.Builder) error { return DiffText(b, r, ReportOptions{}) },
		"markdown": func(b *strings.Builder) error { return DiffMarkdown(b, r, ReportOptions{}) },
		"json":     func(b *strings.Builder) error { return DiffJSON(b, r, ReportOptions{}) },
		"html":     func(b *strings.Builder) error { return DiffHTML(b, r, ReportOptions{}) },
	} {
		var b strings.Builder
		if err := f(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		outs[name] = b.String()
		if strings.Contains(b.String(), planted) {
			t.Errorf("%s: a secret in the output:\n%s", name, b.String())
		}
	}
	golden(t, "diff.txt.golden", outs["text"])
	golden(t, "diff.md.golden", outs["markdown"])
	golden(t, "diff.json.golden", outs["json"])
	for _, want := range []string{"regtrace diff: the runs diverge.", "FIRST DIVERGENCE: blob sha256:", "evidence B #7", "B's verdict:"} {
		if !strings.Contains(outs["text"], want) {
			t.Errorf("text lacks %q:\n%s", want, outs["text"])
		}
	}
	if !strings.Contains(outs["markdown"], "```mermaid\nsequenceDiagram") {
		t.Errorf("markdown lacks the failed side's diagram:\n%s", outs["markdown"])
	}
	var j struct {
		Version int  `json:"version"`
		Same    bool `json:"same"`
		First   struct {
			Step string `json:"step"`
			B    []int  `json:"b"`
		} `json:"first"`
		B struct {
			Primary struct {
				Rule string `json:"rule"`
			} `json:"primary"`
		} `json:"b"`
	}
	if err := json.Unmarshal([]byte(outs["json"]), &j); err != nil {
		t.Fatalf("json: %v\n%s", err, outs["json"])
	}
	if j.Version != 1 || j.Same || !strings.HasPrefix(j.First.Step, "blob ") || len(j.First.B) == 0 || j.B.Primary.Rule == "" {
		t.Errorf("json: %+v", j)
	}
	page := outs["html"]
	if strings.Contains(page, "<script") {
		t.Errorf("unescaped markup from the trace in the page")
	}
	if !strings.Contains(page, "<svg") || !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Errorf("the page lacks its diagram or its CSP")
	}
}

func TestDiffSameRuns(t *testing.T) {
	s := diff.Side{Name: "a.har", Report: storePull(200, "")}
	r := diff.Compare(s, s)
	var b strings.Builder
	DiffText(&b, r, ReportOptions{})
	if !r.Same || !strings.Contains(b.String(), "both runs reached the same outcome, the same way") || strings.Contains(b.String(), "DIVERGENCE") {
		t.Errorf("the same run twice:\n%s", b.String())
	}
}

// A long report's findings are scrubbed on every core: the JSON is the
// same as when scrubbed on one.
func TestJSONInPartsIsTheSame(t *testing.T) {
	rep := redirectedPull(6)
	rep.Findings = append(rep.Findings, rep.Findings...)
	rep.Findings = append(rep.Findings, rep.Findings...)
	render := func() string {
		var b strings.Builder
		if err := JSON(&b, rep, ReportOptions{}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	defer func(n int) { partsMin = n }(partsMin)
	partsMin = 1 << 30
	one := render()
	partsMin = 1
	if many := render(); many != one || strings.Contains(one, planted) || strings.Count(one, `"rule"`) < 4 {
		t.Errorf("in parts:\n%s\nwhole:\n%s", many, one)
	}
}

// Two runs that failed the same way get one verdict, not the same twice.
func TestDiffSameFailureOnce(t *testing.T) {
	s := diff.Side{Name: "a.har", Report: storePull(403, "<Error><Code>AccessDenied</Code></Error>")}
	r := diff.Compare(s, s)
	var b strings.Builder
	DiffText(&b, r, ReportOptions{})
	out := b.String()
	if !r.Same || strings.Count(out, "verdict:") != 1 || !strings.Contains(out, "Both runs' verdict: denied") {
		t.Errorf("the same failure twice:\n%s", out)
	}
}
