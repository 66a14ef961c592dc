package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
)

// TestMermaidDiagramsRender hands the Markdown report of failed pulls to
// mermaid's own CLI (@mermaid-js/mermaid-cli, rendering in headless
// Chromium as a forge's viewer would): every diagram must parse and draw,
// with the step where it stopped. A broken diagram makes the CLI fail, so
// the test can.
func TestMermaidDiagramsRender(t *testing.T) {
	chromium := need(t, "chromium")
	mmdc := filepath.Join(nodeModules(t, "@mermaid-js/mermaid-cli"), ".bin", "mmdc")
	dir := t.TempDir()
	pp := filepath.Join(dir, "puppeteer.json")
	os.WriteFile(pp, []byte(fmt.Sprintf(`{"executablePath": %q, "args": ["--no-sandbox", "--disable-gpu"]}`, chromium)), 0o644)
	render1 := func(in string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out := filepath.Join(dir, "out-"+filepath.Base(in))
		b, err := exec.CommandContext(ctx, mmdc, "-q", "-p", pp, "-i", in, "-o", out).CombinedOutput()
		return string(b), err
	}

	// Many kinds of failed operation on one report (one diagram each, up
	// to the report's bound): names, scopes, colons, digests, a peer.
	var fs []*flowtest.Builder
	chal := `Bearer realm="https://auth.test/token",service="registry.test:5000",scope="repository:team/app:pull"`
	fs = append(fs,
		flowtest.Get("https://registry.test:5000/v2/").UA("skopeo/1.16.1").Status(401).Challenge(chal),
		flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test%3A5000").UA("skopeo/1.16.1").Basic("alice", "pw;#%:").
			Status(401).JSON(`{"details":"incorrect username or password"}`),
		flowtest.Get("https://registry-1.docker.io/v2/nginx/manifests/latest").UA("docker/24.0.5 go/go1.20.6").Status(401).
			Challenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:nginx:pull",error="insufficient_scope"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required: <b>;x</b>"}]}`),
		flowtest.New("CONNECT", "https://down.test:443").UA("containerd/1.7.24").Err(flow.ErrRefused, "dial tcp 10.0.0.9:443: connect: connection refused"),
		flowtest.Get("https://ghcr.test/v2/org/tool/blobs/sha256:"+strings.Repeat("ab", 32)).UA("crane/0.20.2").Status(404).
			JSON(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`),
	)
	rep := explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(fs...))})
	var md strings.Builder
	if err := render.Markdown(&md, rep, render.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	blocks := strings.Count(md.String(), "```mermaid")
	if blocks < 4 {
		t.Fatalf("%d diagrams for four failed operations:\n%s", blocks, md.String())
	}
	report := filepath.Join(dir, "report.md")
	os.WriteFile(report, []byte(md.String()), 0o644)
	if out, err := render1(report); err != nil {
		t.Fatalf("mermaid-cli refused the report's diagrams: %v\n%s\n%s", err, out, md.String())
	}
	svgs, _ := filepath.Glob(filepath.Join(dir, "out-report-*.svg"))
	if len(svgs) != blocks {
		t.Fatalf("%d SVGs for %d diagrams", len(svgs), blocks)
	}
	for _, s := range svgs {
		b, _ := os.ReadFile(s)
		if !strings.Contains(string(b), "stopped here") {
			t.Errorf("%s does not show where the operation stopped", s)
		}
	}

	// The control: a diagram mermaid cannot parse fails the CLI.
	bad := filepath.Join(dir, "bad.md")
	os.WriteFile(bad, []byte("```mermaid\nsequenceDiagram\n    C->>: no participant\n```\n"), 0o644)
	if out, err := render1(bad); err == nil {
		t.Errorf("mermaid-cli took a broken diagram: %s", out)
	}
}
