package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

// probeFixture is a probe of a private repository: refused anonymously,
// pulled with a credential, with a planted secret in a signed URL and in a
// registry message.
func probeFixture() (*Probe, *explain.Report) {
	ua := "regtrace-probe/test"
	fs := flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA(ua).Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
		flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(ua).Status(200).JSON(`{"token":"opaque"}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(ua).Bearer("opaque").Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull",error="insufficient_scope"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
		flowtest.Get("https://registry.test/v2/").UA(ua).Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
		flowtest.Get("https://auth.test/token?account=alice&scope=repository:team/app:pull&service=registry.test").UA(ua).Basic("alice", planted).Status(200).JSON(`{"token":"opaque2"}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(ua).Bearer("opaque2").Status(200).
			RespBody("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2,"config":{"digest":"sha256:c0"}}`),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:c0").UA(ua).Bearer("opaque2").Status(307).Location("https://s3.test/c0?X-Amz-Signature="+planted),
		flowtest.Get("https://s3.test/c0?X-Amz-Signature="+planted).UA(ua).Status(200).JSON(`{}`),
	)
	rep := explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(fs)})
	p := &Probe{
		Image: "registry.test/team/app:1.0", Credential: `the credential stored under "registry.test" in /home/u/.docker/config.json (user "alice")`,
		Code: "PULLABLE", Exit: 0, Fix: "Nothing to fix at the registry.",
		Conclusion: "registry.test/team/app:1.0 exists and is private: pullable with the credential, not anonymously.",
		Notes:      []string{`podman, skopeo and buildah would go anonymous: it finds no credential for this image`},
		Steps: []ProbeStep{
			{"anonymous", "ping", "GET https://registry.test/v2/", ids(fs[0:1]), 401, "401: the registry challenges"},
			{"anonymous", "token", "GET https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test", ids(fs[1:2]), 200, "200 asked anonymously: an opaque token"},
			{"anonymous", "manifest", "GET https://registry.test/v2/team/app/manifests/1.0", ids(fs[2:3]), 401, "401: UNAUTHORIZED: authentication required"},
			{"with credentials", "ping", "GET https://registry.test/v2/", ids(fs[3:4]), 401, "401: the registry challenges"},
			{"with credentials", "token", "GET https://auth.test/token?account=alice&scope=repository%3Ateam%2Fapp%3Apull&service=registry.test", ids(fs[4:5]), 200, "200 asked with credentials: an opaque token"},
			{"with credentials", "manifest", "GET https://registry.test/v2/team/app/manifests/1.0", ids(fs[5:6]), 200, "200: application/vnd.oci.image.manifest.v1+json"},
			{"with credentials", "config", "GET https://registry.test/v2/team/app/blobs/sha256:c0", ids(fs[6:8]), 200,
				"200 from https://s3.test/c0?X-Amz-Signature=" + planted + " after a redirect"},
		},
	}
	return p, rep
}

func ids(fs []*flow.Flow) []flow.ID {
	var out []flow.ID
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestProbeReports(t *testing.T) {
	p, rep := probeFixture()
	for _, tc := range []struct {
		name string
		fn   func(*strings.Builder) error
	}{
		{"probe.txt.golden", func(b *strings.Builder) error { return ProbeText(b, p, rep, ReportOptions{}) }},
		{"probe.md.golden", func(b *strings.Builder) error { return ProbeMarkdown(b, p, rep, ReportOptions{}) }},
		{"probe.json.golden", func(b *strings.Builder) error { return ProbeJSON(b, p, rep, ReportOptions{}) }},
	} {
		var b strings.Builder
		if err := tc.fn(&b); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		golden(t, tc.name, got)
		if strings.Contains(got, planted) {
			t.Errorf("%s: a planted secret was printed", tc.name)
		}
	}
	var b strings.Builder
	ProbeJSON(&b, p, rep, ReportOptions{})
	var out struct {
		Version  int
		Findings []json.RawMessage
		Probe    Probe
	}
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil || out.Version != 1 || out.Probe.Code != "PULLABLE" || len(out.Probe.Steps) != 7 || out.Findings == nil {
		t.Errorf("the JSON report: %v %+v", err, out)
	}
}

func TestProbeCodesFormats(t *testing.T) {
	docs := []CodeDoc{{"PULLABLE", 0, "Pulls | works.", "Nothing."}, {"DENIED", 6, "403.", "Grant pull."}}
	for _, f := range []string{"text", "markdown", "json"} {
		var b strings.Builder
		if err := ProbeCodes(&b, docs, f); err != nil || !strings.Contains(b.String(), "DENIED") {
			t.Errorf("%s: %v\n%s", f, err, b.String())
		}
		if f == "markdown" && !strings.Contains(b.String(), `Pulls \| works.`) {
			t.Errorf("a pipe in a Markdown table cell is not escaped:\n%s", b.String())
		}
	}
}
