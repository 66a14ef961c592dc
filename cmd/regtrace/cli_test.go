package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs regtrace in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := run(context.Background(), append([]string{"regtrace"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "regtrace version ") {
		t.Errorf("--version = %d %q", code, out)
	}
}

func TestUsageMistakesExit2(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"},
		{"proxy", "--bogus"},
		{"proxy", "extra-arg"},
		{"proxy", "--resolve", "registry.test:5000"},
		{"proxy", "--upstream-proxy", "::bad"},
		{"ca", "path", "--bogus"},
		{"ca", "trust", "--client", "nope", "--ca-dir", "/nonexistent-regtrace-test"},
	} {
		code, _, errb := runCLI(t, args...)
		if code != 2 || !strings.HasPrefix(errb, "regtrace: ") {
			t.Errorf("regtrace %v = exit %d, stderr %q; want 2 and a one-line message", args, code, errb)
		}
	}
}

func TestCACommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	code, out, errb := runCLI(t, "ca", "path", "--ca-dir", dir)
	if code != 0 || strings.TrimSpace(out) != filepath.Join(dir, "ca.crt") || !strings.Contains(errb, "created a CA") {
		t.Fatalf("ca path = %d %q %q", code, out, errb)
	}
	fi, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v (%v), want 0600", fi.Mode(), err)
	}
	// Second use: the same CA, no "created".
	code, pemOut, errb := runCLI(t, "ca", "export", "--ca-dir", dir)
	if code != 0 || strings.Contains(errb, "created") {
		t.Fatalf("ca export = %d %q", code, errb)
	}
	block, _ := pem.Decode([]byte(pemOut))
	if block == nil || block.Type != "CERTIFICATE" || strings.Contains(pemOut, "PRIVATE KEY") {
		t.Fatalf("ca export printed %q", pemOut)
	}
	caCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !caCert.IsCA {
		t.Fatalf("exported certificate: %v", err)
	}
	code, out, _ = runCLI(t, "ca", "bundle", "--ca-dir", dir)
	bundle, err := os.ReadFile(strings.TrimSpace(out))
	if code != 0 || err != nil || !strings.Contains(string(bundle), strings.TrimSpace(pemOut)) {
		t.Errorf("ca bundle = %d %q (%v)", code, out, err)
	}
	code, out, _ = runCLI(t, "ca", "trust", "--ca-dir", dir, "--client", "oras")
	if code != 0 || !strings.Contains(out, "--ca-file") || !strings.Contains(out, filepath.Join(dir, "ca.crt")) {
		t.Errorf("ca trust --client oras = %d %q", code, out)
	}
}

func TestCorruptCAIsNotReplaced(t *testing.T) {
	dir := t.TempDir()
	if code, _, errb := runCLI(t, "ca", "path", "--ca-dir", dir); code != 0 {
		t.Fatal(errb)
	}
	crt := filepath.Join(dir, "ca.crt")
	os.WriteFile(crt, []byte("not a certificate"), 0o644)
	code, _, errb := runCLI(t, "ca", "export", "--ca-dir", dir)
	if code != 1 || !strings.Contains(errb, crt) {
		t.Errorf("corrupt CA: exit %d, stderr %q; want 1 naming %s", code, errb, crt)
	}
	if b, _ := os.ReadFile(crt); string(b) != "not a certificate" {
		t.Error("corrupt CA file was replaced")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "127.1.2.3:0": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "192.0.2.1:8080": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestProxyCommandRecordsAndRedacts runs `regtrace proxy` against a plain
// HTTP origin: the line is printed, the password is not.
func TestProxyCommandShowsNoSecrets(t *testing.T) {
	origin := newPlainOrigin(t)
	rp := startProxy(t, "--ca-dir", t.TempDir(), "--no-color", "-v", "--resolve", "plain.test="+origin.addr)
	pu, _ := url.Parse(rp.URL)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	req, _ := http.NewRequest("GET", "http://plain.test:"+origin.port+"/v2/?X-Amz-Signature=planted-sig&n=1", nil)
	req.SetBasicAuth("alice", "planted-password")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, rp.Stderr)
	}
	trace := rp.Stdout.String()
	if !strings.Contains(trace, "GET") || !strings.Contains(trace, "/v2/?X-Amz-Signature=REDACTED&n=1") || !strings.Contains(trace, "user=alice") {
		t.Errorf("trace:\n%s", trace)
	}
	for _, secret := range []string{"planted-password", "planted-sig"} {
		if strings.Contains(trace+rp.Stderr.String(), secret) {
			t.Errorf("%s printed:\n%s", secret, trace)
		}
	}
}

func TestExplainBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.har")
	os.WriteFile(bad, []byte(`{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://a/"},"response":{"status":"x"}}]}}`), 0o644)
	code, _, errb := runCLI(t, "explain", bad)
	if code != 1 || !strings.Contains(errb, "entry 0") || !strings.Contains(errb, "response.status") {
		t.Errorf("malformed HAR: exit %d %q", code, errb)
	}
	if code, _, _ := runCLI(t, "explain", filepath.Join(dir, "missing.har")); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
	if code, _, _ := runCLI(t, "explain", "--format", "yaml", bad); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
	empty := filepath.Join(dir, "empty.har")
	os.WriteFile(empty, []byte(`{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[]}}`), 0o644)
	code, out, _ := runCLI(t, "explain", "--format", "json", empty)
	// No registry traffic is a failure to capture what was meant: exit 3.
	if code != 3 || !strings.Contains(out, `"rule": "no-registry-traffic"`) {
		t.Errorf("empty HAR: %d %s", code, out)
	}
}

func TestRedactCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.har")
	os.WriteFile(in, []byte(`{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"1"},"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":1,
"request":{"method":"GET","url":"https://s3.test/b?X-Amz-Signature=PLANTED","httpVersion":"HTTP/1.1","cookies":[{"name":"s","value":"PLANTED"}],"headers":[{"name":"Authorization","value":"Basic YWxpY2U6UExBTlRFRA=="}],"queryString":[{"name":"X-Amz-Signature","value":"PLANTED"}],"headersSize":-1,"bodySize":0},
"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"content":{"size":20,"mimeType":"application/json","text":"{\"token\":\"PLANTED\"}"},"redirectURL":"","headersSize":-1,"bodySize":20},"cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}`), 0o644)
	out := filepath.Join(dir, "out.har")
	code, _, errb := runCLI(t, "redact", in, out)
	b, err := os.ReadFile(out)
	if code != 0 || err != nil || strings.Contains(string(b), "PLANTED") || !strings.Contains(string(b), "user=alice") {
		t.Errorf("redact: exit %d %q, output:\n%s", code, errb, b)
	}
	if code, _, _ := runCLI(t, "redact", in, in); code != 2 {
		t.Errorf("redact onto itself: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "redact", filepath.Join(dir, "nope.har"), out); code != 1 {
		t.Errorf("missing input: exit %d, want 1", code)
	}
}

func TestRunWarnsAboutWeakenedDefaults(t *testing.T) {
	code, _, errb := runCLI(t, "run", "--no-redact", "--insecure-upstream", "--", "true")
	if code != 0 || !strings.Contains(errb, "warning: --no-redact") || !strings.Contains(errb, "warning: --insecure-upstream") {
		t.Errorf("run --no-redact --insecure-upstream -- true: exit %d, stderr %q", code, errb)
	}
	if code, _, _ := runCLI(t, "run", "--", "false"); code != 1 {
		t.Errorf("run -- false: exit %d, want the command's 1", code)
	}
}

// regtrace explain --rules prints the reference kept in the repository.
func TestExplainRules(t *testing.T) {
	code, out, errb := runCLI(t, "explain", "--rules", "--format", "markdown")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "explain", "RULES.md"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Error("explain --rules --format markdown differs from explain/RULES.md")
	}
	code, out, _ = runCLI(t, "explain", "--rules")
	for _, id := range []string{"unexplained-failure", "insufficient-scope-ambiguous-denied", "registry-unreachable"} {
		if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Fix: ") {
			t.Errorf("explain --rules: exit %d, no %s or no fix:\n%s", code, id, out)
		}
	}
	if code, _, _ := runCLI(t, "explain", "--rules", "x.har"); code != 2 {
		t.Errorf("explain --rules FILE: exit %d, want 2 (usage)", code)
	}
}

// regtrace redact takes a client's log too: podman echoes --creds in its
// debug output.
func TestRedactLog(t *testing.T) {
	in := filepath.Join("..", "..", "decode", "logs", "testdata", "containers-image", "podman-wrong-password-through-nginx-auth_basic.log")
	out := filepath.Join(t.TempDir(), "ticket.log")
	if code, _, errb := runCLI(t, "redact", in, out); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "not-the-password") || !strings.Contains(string(b), "--creds alice:REDACTED") {
		t.Errorf("redacted log keeps the password or loses the user:\n%s", b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
}

// regtrace explain reads a client's log, by content, from a file or stdin.
func TestExplainLog(t *testing.T) {
	in := filepath.Join("..", "..", "decode", "logs", "testdata", "containers-image", "skopeo-missing-tag-with-good-credentials.log")
	code, out, _ := runCLI(t, "explain", "--no-color", in)
	if code != exitFound || !strings.Contains(out, "[not-found-is-real]") || !strings.Contains(out, "skopeo debug log") ||
		!strings.Contains(out, "regtrace run --har trace.har -- skopeo") {
		t.Errorf("explain LOG: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(bad, []byte("the pull failed yesterday\n"), 0o644)
	if code, _, errb := runCLI(t, "explain", bad); code != 1 || !strings.Contains(errb, "containers-image") {
		t.Errorf("explain of an unknown text: exit %d %q, want 1 naming the formats it knows", code, errb)
	}
}

// A JSON log (regctl --logopt json) is not mistaken for a HAR.
func TestExplainJSONLog(t *testing.T) {
	in := filepath.Join("..", "..", "decode", "logs", "testdata", "regclient", "regctl-json-connection-refused.log")
	code, out, errb := runCLI(t, "explain", "--no-color", in)
	if code != exitFound || !strings.Contains(out, "regctl") {
		t.Errorf("explain of a JSON log: exit %d %s\n%s", code, errb, out)
	}
}

// From Kubernetes events, a credentials fix says where the kubelet takes
// them from; from a workstation's log it does not.
func TestExplainEventsSayWhereCredentialsComeFrom(t *testing.T) {
	dir := filepath.Join("..", "..", "decode", "logs", "testdata")
	_, out, _ := runCLI(t, "explain", "--no-color", filepath.Join(dir, "kubernetes", "describe-insufficient-scope-private.log"))
	if !strings.Contains(out, "imagePullSecrets") {
		t.Errorf("events: no imagePullSecrets in the fix:\n%s", out)
	}
	_, out, _ = runCLI(t, "explain", "--no-color", filepath.Join(dir, "containers-image", "skopeo-anonymous-pull-of-a-missing-repository.log"))
	if strings.Contains(out, "imagePullSecrets") {
		t.Errorf("skopeo log: a Kubernetes hint in the fix:\n%s", out)
	}
}

// oras cancels its context when a concurrent upload fails, and its log
// then cannot print a token answer still being read: a body the log does
// not show is no proof the token was unusable, and the push's missing
// scope stays the verdict, as in the HAR of the same kind of run.
func TestExplainOrasTokenBodyUnread(t *testing.T) {
	in := filepath.Join("..", "..", "decode", "logs", "testdata", "oras", "oras-push-without-push-permission-token-body-unread.log")
	code, out, _ := runCLI(t, "explain", "--no-color", in)
	if code != exitFound || !strings.Contains(out, "WHY IT FAILED: denied  [push-scope-missing]") || strings.Contains(out, "token-response-unusable") {
		t.Errorf("explain of oras's log: exit %d\n%s", code, out)
	}
}
