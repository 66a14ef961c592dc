package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSharedProxyAuthentication runs skopeo through a proxy that asks for
// credentials: without them or with wrong ones it gets 407 and its copy
// fails, nothing reaching the registry; with them it works. The HAR keeps
// the refusals and never the proxy password.
func TestSharedProxyAuthentication(t *testing.T) {
	skopeo := need(t, "skopeo")
	reg := startRegistry(t, testPKI(t), "")
	dir := t.TempDir()
	harPath := filepath.Join(dir, "trace.har")
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--proxy-auth", htpasswdFile(t, "ci"), "--har", harPath,
		"--resolve", fmt.Sprintf("registry.test:%d=127.0.0.1", reg.Port), "--upstream-ca", reg.Certs.CA)
	bundle := caBundle(t, filepath.Join(dir, "ca"))
	layout := t.TempDir()
	ociImage(t, layout, "1.0", "hello through a shared proxy\n")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	ref := fmt.Sprintf("docker://registry.test:%d/team/app:1.0", reg.Port)
	copyWith := func(userinfo string) (string, error) {
		proxyURL := strings.Replace(rp.URL, "http://", "http://"+userinfo, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cp := exec.CommandContext(ctx, skopeo, "--policy", policy, "copy", "--retry-times", "0", "--dest-no-creds", "oci:"+layout+":1.0", ref)
		cp.Env = clientEnv(t, proxyURL, bundle)
		out, err := cp.CombinedOutput()
		return string(out), err
	}
	for _, userinfo := range []string{"", "ci:wrong-pw@"} {
		out, err := copyWith(userinfo)
		if err == nil || !strings.Contains(out, "407") && !strings.Contains(out, "Proxy Authentication Required") {
			t.Errorf("skopeo through the proxy with %q: %v\n%s", userinfo, err, out)
		}
	}
	if out, err := copyWith("ci:" + proxyPassword("ci") + "@"); err != nil {
		t.Fatalf("skopeo with the proxy credentials: %v\n%s\nproxy stderr:\n%s", err, out, rp.Stderr)
	}
	if code := rp.Stop(t); code != 0 {
		t.Errorf("proxy exited %d; stderr:\n%s", code, rp.Stderr)
	}
	b, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(proxyPassword("ci"))) || bytes.Contains(b, []byte("wrong-pw")) {
		t.Error("the HAR holds a proxy password")
	}
	if n := bytes.Count(b, []byte(`"status":407`)) + bytes.Count(b, []byte(`"status": 407`)); n < 2 {
		t.Errorf("the HAR has %d refusals, want one per refused attempt at least", n)
	}
	var eo, ee bytes.Buffer
	run(context.Background(), []string{"regtrace", "explain", harPath}, &eo, &ee)
	if !strings.Contains(eo.String(), "answered 407") || !strings.Contains(eo.String(), "--proxy-auth file in the client's proxy URL") {
		t.Errorf("explain of the refusals:\n%s%s", eo.String(), ee.String())
	}
	if !strings.Contains(rp.Stdout.String(), "407") {
		t.Errorf("the live trace does not show the refusals:\n%s", rp.Stdout)
	}
}
