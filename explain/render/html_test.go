package render

import (
	"regexp"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

func TestHTMLReport(t *testing.T) {
	rep := redirectedPull(4)
	var b strings.Builder
	if err := HTML(&b, rep, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, planted) {
		t.Errorf("a secret in the page")
	}
	// Self-contained: nothing to fetch, no script.
	if m := regexp.MustCompile(`(?i)<script|<link|<img|<iframe|@import|url\((?:["']?)(?:https?:|//)|\s(?:src|href)="(?:https?:|//)`).FindString(page); m != "" {
		t.Errorf("the page loads something: %q", m)
	}
	if !strings.Contains(page, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Errorf("no Content-Security-Policy forbidding requests")
	}
	p := rep.Primary()
	verdict := strings.Index(page, "Verdict: "+string(p.Verdict))
	fix := strings.Index(page, "<strong>Fix.</strong>")
	svg := strings.Index(page, "<svg")
	exchanges := strings.Index(page, "Every exchange (11)")
	if verdict < 0 || fix < verdict || svg < fix || exchanges < svg {
		t.Errorf("want verdict, fix, diagram, exchanges in that order: %d %d %d %d", verdict, fix, svg, exchanges)
	}
	for _, want := range []string{
		`class="msg stop"`, "stopped here: " + string(p.Rule), `<details id="flow-11">`, "Request headers", "Authorization",
		"s3.test (redirect target)", "(×3)", "prefers-color-scheme: dark", "@media print",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHTMLEscapesWhatRegistriesSay(t *testing.T) {
	rep := explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/team/<img>/manifests/1.0").UA(`crane/0.20 "><script>alert(1)</script>`).Status(500).
			RespHeader("X-Evil", `<script>alert(2)</script>`).RespBody("text/html", `<html><title><script>alert(3)</script></title></html>`),
	))})
	var b strings.Builder
	HTML(&b, rep, ReportOptions{})
	if strings.Contains(b.String(), "<script") || strings.Contains(b.String(), "<img>") {
		t.Errorf("unescaped markup from the trace:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "&lt;script&gt;alert(2)") {
		t.Errorf("the header is not shown escaped")
	}
}

func TestHTMLOfASuccess(t *testing.T) {
	rep := explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("crane/0.20").Status(200).
			RespHeader("Content-Type", "application/vnd.oci.image.manifest.v1+json").JSON(`{"schemaVersion":2}`),
	))})
	var b strings.Builder
	HTML(&b, rep, ReportOptions{})
	if !strings.Contains(b.String(), "Verdict: ok") || strings.Contains(b.String(), "<svg") {
		t.Errorf("a success: want the ok verdict and no diagram")
	}
}
