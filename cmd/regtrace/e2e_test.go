package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSkopeoThroughProxy pushes an image to a real distribution registry and
// inspects it with skopeo, both through `regtrace proxy`, and checks what the
// live trace printed.
func TestSkopeoThroughProxy(t *testing.T) {
	skopeo := need(t, "skopeo")
	reg := startRegistry(t, testPKI(t), "")
	caDir := t.TempDir()
	rp := startProxy(t, "--ca-dir", caDir, "--no-color",
		"--resolve", fmt.Sprintf("registry.test:%d=127.0.0.1", reg.Port),
		"--upstream-ca", reg.Certs.CA)

	var bundle strings.Builder
	if code := run(context.Background(), []string{"regtrace", "ca", "bundle", "--ca-dir", caDir}, &bundle, os.Stderr); code != 0 {
		t.Fatalf("ca bundle exited %d", code)
	}
	env := clientEnv(t, rp.URL, strings.TrimSpace(bundle.String()))
	ref := fmt.Sprintf("docker://registry.test:%d/team/app:1.0", reg.Port)

	layout := t.TempDir()
	digest := ociImage(t, layout, "1.0", "hello from regtrace\n")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp := exec.CommandContext(ctx, skopeo, "--policy", policy, "copy", "--dest-no-creds", "oci:"+layout+":1.0", ref)
	cp.Env = env
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy through the proxy: %v\n%s\nproxy stderr:\n%s\ntrace:\n%s", err, out, rp.Stderr, rp.Stdout)
	}

	insp := exec.CommandContext(ctx, skopeo, "inspect", "--no-creds", "--raw", ref)
	insp.Env = env
	out, err := insp.Output()
	if err != nil {
		t.Fatalf("skopeo inspect through the proxy: %v\n%s\ntrace:\n%s", err, out, rp.Stdout)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(out)); got != digest {
		t.Errorf("skopeo inspect --raw gave manifest %s, pushed %s", got, digest)
	}
	var m struct {
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(out, &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("skopeo inspect printed %q (%v)", out, err)
	}

	if code := rp.Stop(t); code != 0 {
		t.Errorf("proxy exited %d after interrupt; stderr:\n%s", code, rp.Stderr)
	}
	trace := rp.Stdout.String()
	port := fmt.Sprint(reg.Port)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^#\d+\s+GET\s+registry\.test:` + port + ` /v2/\s+200\b`),
		regexp.MustCompile(`(?m)^#\d+\s+POST\s+registry\.test:` + port + ` /v2/team/app/blobs/uploads/\s+202\b`),
		regexp.MustCompile(`(?m)^#\d+\s+PUT\s+registry\.test:` + port + ` /v2/team/app/manifests/1\.0\s+201\b`),
		regexp.MustCompile(`(?m)^#\d+\s+GET\s+registry\.test:` + port + ` /v2/team/app/manifests/1\.0\s+200\b`),
	} {
		if !want.MatchString(trace) {
			t.Errorf("trace lacks a line matching %s:\n%s", want, trace)
		}
	}
	// The registry's upload URLs carry _state, a signed value: redacted.
	if strings.Contains(trace, "_state=") && !strings.Contains(trace, "_state=REDACTED") {
		t.Errorf("upload state not redacted:\n%s", trace)
	}
	if !strings.Contains(rp.Stderr.String(), "exchanges") {
		t.Errorf("no summary on exit:\n%s", rp.Stderr)
	}
}
