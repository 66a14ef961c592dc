package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSkopeoFailureBecomesAReport is the support-ticket path end to end:
// skopeo fails to pull a private image anonymously through `regtrace proxy
// --har --explain`; the live summary and `regtrace explain --format
// markdown` of the HAR both name the rule, and neither the HAR nor the report
// holds a secret.
func TestSkopeoFailureBecomesAReport(t *testing.T) {
	skopeo := need(t, "skopeo")
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	ts.Users = map[string]string{"admin": "admin-PLANTED-pw"}
	ts.ACL = map[string]map[string][]string{"team/app": {"admin": {"*"}}}
	authPort := startTLS(t, pki, ts)
	reg := startRegistry(t, pki, ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	dir := t.TempDir()
	harPath := filepath.Join(dir, "trace.har")
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--explain", "--har", harPath,
		"--resolve", "registry.test=127.0.0.1", "--resolve", "auth.test=127.0.0.1", "--upstream-ca", pki.CA)
	var bundle strings.Builder
	if code := run(context.Background(), []string{"regtrace", "ca", "bundle", "--ca-dir", filepath.Join(dir, "ca")}, &bundle, os.Stderr); code != 0 {
		t.Fatal("ca bundle failed")
	}
	env := clientEnv(t, rp.URL, strings.TrimSpace(bundle.String()))
	host := fmt.Sprintf("registry.test:%d", reg.Port)

	seedImages(t, pki, host, "admin:admin-PLANTED-pw", "team/app")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	insp := exec.CommandContext(ctx, skopeo, "inspect", "--raw", "--no-creds", "docker://"+host+"/team/app:1.0")
	insp.Env = env
	out, err := insp.CombinedOutput()
	if err == nil {
		t.Fatalf("anonymous inspect of a private image succeeded: %s", out)
	}
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("proxy exit %d: %s", code, rp.Stderr)
	}
	const rule = "insufficient-scope-ambiguous-denied"
	if live := rp.Stdout.String(); !strings.Contains(live, "regtrace explain: summary") || !strings.Contains(live, rule) {
		t.Errorf("live summary lacks %s:\n%s", rule, live)
	}
	harBytes, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	var md, errb strings.Builder
	if code := run(context.Background(), []string{"regtrace", "explain", "--format", "markdown", harPath}, &md, &errb); code != exitFound {
		t.Fatalf("explain exit %d: %s", code, errb.String())
	}
	report := md.String()
	if !strings.Contains(report, "## Verdict: unauthorized-ambiguous") || !strings.Contains(report, "Rule `"+rule+"`") || !strings.Contains(report, "| flow | request |") {
		t.Errorf("report:\n%s", report)
	}
	for name, b := range map[string]string{"HAR": string(harBytes), "report": report, "live trace": rp.Stdout.String()} {
		if strings.Contains(b, "admin-PLANTED-pw") {
			t.Errorf("the admin password is in the %s", name)
		}
	}
	t.Logf("report:\n%s", report)
}

// TestProxyHARFindingsWithoutExplain: without --explain nothing is kept in
// memory, and the findings the HAR carries come from explaining the file.
func TestProxyHARFindingsWithoutExplain(t *testing.T) {
	tr := startTokenRegistry(t)
	dir := t.TempDir()
	harPath := filepath.Join(dir, "trace.har")
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--har", harPath,
		"--resolve", "registry.test=127.0.0.1", "--resolve", "auth.test=127.0.0.1", "--upstream-ca", tr.reg.Certs.CA)
	var bundle strings.Builder
	if code := run(context.Background(), []string{"regtrace", "ca", "bundle", "--ca-dir", filepath.Join(dir, "ca")}, &bundle, os.Stderr); code != 0 {
		t.Fatal("ca bundle failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	insp := exec.CommandContext(ctx, tr.skopeo, "inspect", "--raw", "--no-creds", "docker://"+tr.host+"/team/app:1.0")
	insp.Env = clientEnv(t, rp.URL, strings.TrimSpace(bundle.String()))
	if out, err := insp.CombinedOutput(); err == nil {
		t.Fatalf("anonymous inspect of a private image succeeded: %s", out)
	}
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("proxy exit %d: %s", code, rp.Stderr)
	}
	var doc struct {
		Log struct {
			Ext struct {
				Findings []string `json:"findings"`
			} `json:"_regtrace"`
		} `json:"log"`
	}
	b, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(doc.Log.Ext.Findings, "\n"); !strings.Contains(got, "insufficient-scope-ambiguous-denied") {
		t.Errorf("HAR findings %q lack the rule", got)
	}
}
