package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
)

// TestDecodeRedirectAndRateLimit records real traffic for the two cases a
// plain distribution registry does not produce: blob redirects (its redirect
// storage middleware, with nginx serving the blob files as a CDN would) and
// a 429 with Docker Hub's rate-limit headers (nginx limit_req in front; Docker
// Hub's own limiter cannot run here, so nginx stands in for it).
func TestDecodeRedirectAndRateLimit(t *testing.T) {
	curl := need(t, "curl")
	skopeo := need(t, "skopeo")
	pki := testPKI(t)
	cdnPort, frontPort := freePort(t), freePort(t)
	reg := startRegistry(t, pki, fmt.Sprintf(`middleware:
  storage:
    - name: redirect
      options:
        baseurl: https://cdn.test:%d/
`, cdnPort))
	startNginx(t, fmt.Sprintf(`
  limit_req_zone $binary_remote_addr zone=pulls:1m rate=1r/m;
  server {
    listen 127.0.0.1:%[1]d ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location ~ ^/v2/limited/.+/manifests/ {
      limit_req zone=pulls nodelay;
      limit_req_status 429;
      error_page 429 = @toomany;
      proxy_pass https://127.0.0.1:%[2]d;
      proxy_set_header Host $http_host;
    }
    location @toomany {
      default_type application/json;
      add_header RateLimit-Limit "1;w=60" always;
      add_header RateLimit-Remaining "0;w=60" always;
      add_header Docker-RateLimit-Source "127.0.0.1" always;
      add_header Retry-After "60" always;
      return 429 '{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}';
    }
    location / {
      proxy_pass https://127.0.0.1:%[2]d;
      proxy_set_header Host $http_host;
    }
  }
  server {
    listen 127.0.0.1:%[5]d ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location /docker/ { root %[6]s; }
  }`, frontPort, reg.Port, pki.Cert, pki.Key, cdnPort, reg.Data))

	rec := startRecorder(t, pki, map[string]string{"registry.test": "127.0.0.1", "front.test": "127.0.0.1", "cdn.test": "127.0.0.1"})
	env := clientEnv(t, rec.URL, rec.Bundle)
	layout := t.TempDir()
	ociImage(t, layout, "1.0", "redirected\n")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	skopeoRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(skopeo, append([]string{"--policy", policy}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, out)
		}
	}
	skopeoRun("copy", "oci:"+layout+":1.0", fmt.Sprintf("docker://registry.test:%d/limited/app:1.0", reg.Port))
	rec.Take(t)

	var all strings.Builder
	front := fmt.Sprintf("front.test:%d", frontPort)
	skopeoRun("copy", "docker://"+front+"/limited/app:1.0", "dir:"+t.TempDir())
	xs := rec.Take(t)
	// skopeo fetches the two blobs concurrently: compare the lines as a set.
	sorted := strings.Split(strings.TrimSpace(summarize(front, xs)), "\n")
	for i, l := range sorted {
		sorted[i] = l[strings.IndexByte(l, ' ')+1:]
	}
	slices.Sort(sorted)
	fmt.Fprintf(&all, "## pull through the front, blobs redirected (skopeo), sorted\n%s\n\n", strings.Join(sorted, "\n"))
	var redirected int
	for _, x := range xs {
		if x.Kind == decode.KindBlobRedirect {
			redirected++
			from := x.RedirectFrom
			if x.Repo != "limited/app" || from == 0 || x.Flow.Response.Status != 200 {
				t.Errorf("redirect target decoded as %+v", x)
			}
		}
	}
	if redirected != 2 {
		t.Errorf("%d blob redirect targets, want 2 (config and layer):\n%s", redirected, summarize(front, xs))
	}

	cmd := exec.Command(curl, "-sS", "--cacert", rec.CACert, "-x", rec.URL, "https://"+front+"/v2/limited/app/manifests/1.0")
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	xs = rec.Take(t)
	fmt.Fprintf(&all, "## rate limited (curl)\n%s\n", summarize(front, xs))
	if len(xs) != 1 || xs[0].Flow.Response.Status != 429 || xs[0].RateLimit == nil || xs[0].RateLimit.RemainingN != 0 ||
		xs[0].RateLimit.LimitN != 1 || xs[0].RateLimit.WindowSeconds != 60 || xs[0].RateLimit.Source != "127.0.0.1" ||
		xs[0].RateLimit.RetryAfter.Seconds() != 60 || xs[0].Errors.Errors[0].Code != "TOOMANYREQUESTS" {
		t.Errorf("429 decoded as %+v (client got %s)", xs, out)
	}
	goldenFile(t, "decode-redirect-ratelimit.golden", all.String())
}
