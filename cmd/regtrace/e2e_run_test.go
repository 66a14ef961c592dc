package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunExplainsAndExitsWithTheCommandsStatus runs skopeo under `regtrace
// run` against distribution with token auth: a private image pulled
// anonymously fails, and regtrace exits with skopeo's status after naming
// the rule; a public one succeeds with exit 0.
func TestRunExplainsAndExitsWithTheCommandsStatus(t *testing.T) {
	skopeo := need(t, "skopeo")
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	ts.Users = map[string]string{"admin": "admin-pw"}
	ts.ACL = map[string]map[string][]string{"team/app": {"admin": {"*"}}, "public/app": {"": {"pull"}, "admin": {"*"}}}
	authPort := startTLS(t, pki, ts)
	reg := startRegistry(t, pki, ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	host := fmt.Sprintf("registry.test:%d", reg.Port)
	seedImages(t, pki, host, "admin:admin-pw", "team/app", "public/app")
	t.Setenv("HOME", t.TempDir()) // no user credentials for the child
	t.Setenv("NO_PROXY", "registry.test,auth.test")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1") // both must be overridden
	harPath := filepath.Join(t.TempDir(), "run.har")
	regtraceRun := func(repo string, extra ...string) (int, string, string) {
		args := append([]string{"regtrace", "run", "--resolve", "registry.test=127.0.0.1", "--resolve", "auth.test=127.0.0.1",
			"--upstream-ca", pki.CA, "--no-color"}, extra...)
		args = append(args, "--", skopeo, "inspect", "--raw", "--no-creds", "docker://"+host+"/"+repo+":1.0")
		var out, errb strings.Builder
		code := run(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errb := regtraceRun("team/app", "--har", harPath, "--explain")
	if code != 1 || !strings.Contains(errb, "insufficient-scope-ambiguous-denied") || !strings.Contains(errb, "requested access to the resource is denied") {
		t.Errorf("private pull: exit %d, stdout %q, stderr:\n%s", code, out, errb)
	}
	if n := strings.Count(errb, "== regtrace explain"); n != 1 {
		t.Errorf("--explain: %d final reports, want 1:\n%s", n, errb)
	}
	if h, err := os.ReadFile(harPath); err != nil || !strings.Contains(string(h), "/v2/team/app/manifests/1.0") {
		t.Errorf("--har: %v", err)
	}
	code, out, errb = regtraceRun("public/app", "--quiet")
	if code != 0 || !strings.Contains(out, `"schemaVersion"`) || !strings.Contains(errb, "nothing to explain") || strings.Contains(errb, "#1 ") {
		t.Errorf("public pull: exit %d, stdout %q, stderr:\n%s", code, out, errb)
	}
}

func TestChildEnv(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", "no_proxy=registry.test", "HTTPS_PROXY=http://other", "all_proxy=socks5://x", "SSL_CERT_FILE=/x", "HOME=/h"}, "http://127.0.0.1:9", "/b.pem")
	got := strings.Join(env, " ")
	for _, gone := range []string{"no_proxy", "http://other", "all_proxy", "SSL_CERT_FILE=/x"} {
		if strings.Contains(got, gone) {
			t.Errorf("child env keeps %s: %s", gone, got)
		}
	}
	for _, want := range []string{"PATH=/bin", "HOME=/h", "HTTPS_PROXY=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "SSL_CERT_FILE=/b.pem", "REGTRACE_ACTIVE=1"} {
		if !strings.Contains(got, want) {
			t.Errorf("child env lacks %s: %s", want, got)
		}
	}
}
