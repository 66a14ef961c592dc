package render

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

// redirectedPull: containerd pulls through a realm on another host, its
// blobs redirected to storage, the last layer refused there.
func redirectedPull(layers int) *explain.Report {
	const ua = "containerd/1.7.24"
	bs := []*flowtest.Builder{
		flowtest.Get("https://registry.test/v2/").UA(ua).Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`),
		flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(ua).
			Basic("alice", planted).Status(200).JSON(`{"token":"opaque-` + planted + `"}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(ua).Bearer("opaque-"+planted).Status(200).
			RespHeader("Content-Type", "application/vnd.oci.image.manifest.v1+json").JSON(`{"schemaVersion":2}`),
	}
	for i := range layers {
		digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte{byte(i)}))
		signed := "https://s3.test/blob/" + digest + "?X-Amz-Signature=" + planted + "&X-Amz-Expires=300"
		bs = append(bs, flowtest.Get("https://registry.test/v2/team/app/blobs/"+digest).UA(ua).Bearer("opaque-"+planted).Status(307).Location(signed))
		status := 200
		if i == layers-1 {
			status = 403
		}
		b := flowtest.Get(signed).UA(ua).Status(status)
		if status == 403 {
			b = b.RespBody("application/xml", `<Error><Code>AccessDenied</Code></Error>`)
		} else {
			b = b.Blob(1 << 20)
		}
		bs = append(bs, b)
	}
	return explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(bs...))})
}

func TestMermaidDiagram(t *testing.T) {
	rep := redirectedPull(4)
	var md strings.Builder
	if err := Markdown(&md, rep, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "mermaid.md.golden", md.String())
	out := md.String()
	if strings.Contains(out, planted) {
		t.Errorf("a secret in the report:\n%s", out)
	}
	if strings.Count(out, "```mermaid") != 1 {
		t.Fatalf("want one diagram for the one failed operation:\n%s", out)
	}
	d := out[strings.Index(out, "```mermaid"):]
	for _, want := range []string{
		"participant C as containerd 1.7.24",
		"(registry)", "auth.test (token realm)", "s3.test (redirect target)",
		"(Basic alice)", "(Bearer from [2])", "token [2]",
		"(×3)", // the three redirected layers before the failing one fold
		"C-xP3", "Note over C,P3: stopped here#58; ",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diagram lacks %q:\n%s", want, d)
		}
	}
}

func TestMermaidFoldsAndBoundsLongOperations(t *testing.T) {
	rep := redirectedPull(60)
	var op *explain.Operation
	for _, o := range rep.Operations {
		if !o.Outcome().Reached {
			op = o
		}
	}
	d := Mermaid(op, "x")
	arrows := strings.Count(d, "->>") + strings.Count(d, "-x")
	if arrows > maxArrows {
		t.Errorf("%d arrows, want at most %d:\n%s", arrows, maxArrows, d)
	}
	// 59 alike redirected layers are two arrows.
	if !strings.Contains(d, "(×59)") || arrows > 8 {
		t.Errorf("the redirected layers are not folded:\n%s", d)
	}
	// Layers that differ in a cycle of three answers cannot fold: the
	// bound cuts them and says how much is left.
	var bs []*flowtest.Builder
	for i := range 100 {
		bs = append(bs, flowtest.Get(fmt.Sprintf("https://registry.test/v2/team/app/blobs/sha256:%064x", i)).UA("crane/0.20").Status([]int{200, 404, 500}[i%3]))
	}
	op.Exchanges = decode.NewSession().DecodeAll(flowtest.Seq(bs...))
	d = Mermaid(op, "x")
	if arrows := strings.Count(d, "->>") + strings.Count(d, "-x"); arrows != maxArrows || !strings.Contains(d, "60 more exchanges (the JSON report lists each)") {
		t.Errorf("%d arrows, want %d and a note for the rest:\n%s", arrows, maxArrows, d)
	}
}

func TestMermaidTextIsSafe(t *testing.T) {
	for in, want := range map[string]string{
		"a: b; c":            "a#58; b#59; c",
		"#3 %%comment":       "#35;3 #37;#37;comment",
		"line\nbreak":        "line break",
		"<script>x</script>": "#lt;script#gt;x#lt;/script#gt;",
	} {
		if got := mmText(in); got != want {
			t.Errorf("mmText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoDiagramWhenNothingFailed(t *testing.T) {
	rep := explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("crane/0.20").Status(200).
			RespHeader("Content-Type", "application/vnd.oci.image.manifest.v1+json").JSON(`{"schemaVersion":2}`),
	))})
	var md strings.Builder
	Markdown(&md, rep, ReportOptions{})
	if strings.Contains(md.String(), "mermaid") {
		t.Errorf("a diagram for a run that worked:\n%s", md.String())
	}
}
