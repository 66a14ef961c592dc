package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

var update = flag.Bool("update", false, "rewrite golden files")

// tokenRegistry is distribution under token auth behind the test token
// server, seeded with images, and a recording proxy in front of both.
type tokenRegistry struct {
	ts      *tokenServer
	reg     *registry
	rec     *recorder
	host    string // registry.test:port
	env     []string
	skopeo  string
	authDir string
	pki     pemFiles
}

var tokenResolve = map[string]string{"registry.test": "127.0.0.1", "auth.test": "127.0.0.1"}

func startTokenRegistry(t *testing.T) *tokenRegistry {
	t.Helper()
	tr := &tokenRegistry{skopeo: need(t, "skopeo")}
	pki := testPKI(t)
	tr.ts = newTokenServer(t, t.TempDir())
	tr.ts.Users = map[string]string{"admin": "admin-pw", "alice": "alice-pw"}
	tr.ts.ACL = map[string]map[string][]string{
		"public/app":      {"": {"pull"}, "admin": {"*"}},
		"team/app":        {"alice": {"pull"}, "admin": {"*"}},
		"library/busybox": {"": {"pull"}, "admin": {"*"}},
		"team/copy":       {"admin": {"*"}},
	}
	authPort := startTLS(t, pki, tr.ts)
	tr.reg = startRegistry(t, pki, tr.ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	tr.pki = pki
	tr.rec = startRecorder(t, pki, tokenResolve)
	tr.host = fmt.Sprintf("registry.test:%d", tr.reg.Port)
	tr.env = clientEnv(t, tr.rec.URL, tr.rec.Bundle)
	tr.authDir = t.TempDir()

	layout := t.TempDir()
	ociImage(t, layout, "1.0", "hello\n")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	for _, repo := range []string{"public/app", "team/app", "library/busybox"} {
		if out, err := tr.skopeoRun(t, "--policy", policy, "copy", "--dest-creds", "admin:admin-pw",
			"oci:"+layout+":1.0", "docker://"+tr.host+"/"+repo+":1.0"); err != nil {
			t.Fatalf("seeding %s: %v\n%s", repo, err, out)
		}
	}
	tr.next(t)
	return tr
}

// next returns every flow the proxy recorded and puts a fresh proxy (and
// client environment) in its place, so that what one client did cannot
// reach the next one's flows: not a flow delivered late, not a kept-alive
// connection.
func (tr *tokenRegistry) next(t *testing.T) []*decode.Exchange {
	t.Helper()
	xs := tr.rec.Stop(t)
	tr.rec = startRecorder(t, tr.pki, tokenResolve)
	tr.env = clientEnv(t, tr.rec.URL, tr.rec.Bundle)
	return xs
}

func (tr *tokenRegistry) skopeoRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tr.skopeo, args...)
	cmd.Env = tr.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// summarize renders decoded exchanges without what varies between runs
// (ports, token values, times), for golden files.
func summarize(host string, xs []*decode.Exchange) string {
	var b strings.Builder
	portRE := regexp.MustCompile(`\.test:\d+`)
	// Digests depend on the gzip the test's Go links: not worth pinning.
	hexRE := regexp.MustCompile(`(/[0-9a-f]{2}/)?[0-9a-f]{64}`)
	// Flow IDs count from the proxy's start; number them within xs.
	num := map[flow.ID]string{}
	for i, x := range xs {
		num[x.Flow.ID] = fmt.Sprintf("#%d", i+1)
	}
	for _, x := range xs {
		f := x.Flow
		status := "-"
		if f.Response != nil {
			status = fmt.Sprint(f.Response.Status)
		}
		fmt.Fprintf(&b, "%s %s %s %s %s", num[f.ID], x.Kind, f.Request.Method, portRE.ReplaceAllString(x.Host, ".test:PORT")+hexRE.ReplaceAllString(f.Request.URL.Path, "HEX"), status)
		if x.Repo != "" {
			fmt.Fprintf(&b, " repo=%s", x.Repo)
		}
		if x.Auth.Scheme != "" {
			fmt.Fprintf(&b, " auth=%s", strings.ToLower(x.Auth.Scheme))
			if x.Auth.User != "" {
				fmt.Fprintf(&b, ":%s", x.Auth.User)
			}
		}
		if x.TokenFrom != 0 {
			fmt.Fprintf(&b, " token-from=%s", num[x.TokenFrom])
		}
		for _, c := range x.Challenges {
			fmt.Fprintf(&b, " challenge=%s", portRE.ReplaceAllString(c.String(), ".test:PORT"))
		}
		if r := x.TokenRequest; r != nil {
			fmt.Fprintf(&b, " asks=%q grant=%q", scopeStrings(r.Scopes), r.GrantType)
			if r.HasRefreshToken {
				b.WriteString(" refresh-token-sent")
			}
		}
		if r := x.TokenResponse; r != nil {
			tok := r.AccessToken
			if tok == nil {
				tok = r.Token
			}
			if tok != nil && tok.Claims != nil {
				fmt.Fprintf(&b, " granted=%q sub=%q", scopeStrings(tok.Claims.Access), tok.Claims.Subject)
			}
			fmt.Fprintf(&b, " token=%v access_token=%v", r.Token != nil, r.AccessToken != nil)
		}
		if x.Missing != nil {
			fmt.Fprintf(&b, " missing=%q", scopeStrings(x.Missing))
		}
		for _, e := range x.Errors.Errors {
			fmt.Fprintf(&b, " error=%s", e.Code)
		}
		if rl := x.RateLimit; rl != nil {
			fmt.Fprintf(&b, " ratelimit=%d/%d;w=%d source=%s retry-after=%s", rl.RemainingN, rl.LimitN, rl.WindowSeconds, rl.Source, rl.RetryAfter)
		}
		if x.Errors.Format != "" && len(x.Errors.Errors) == 0 {
			fmt.Fprintf(&b, " body=%s", x.Errors.Format)
		}
		for _, is := range x.Issues {
			fmt.Fprintf(&b, " issue=%q", is.Where+": "+is.What)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func scopeStrings(ss []decode.Scope) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(out, " ")
}

func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func find(xs []*decode.Exchange, kind decode.Kind, repo string) *decode.Exchange {
	for i := len(xs) - 1; i >= 0; i-- {
		if xs[i].Kind == kind && (repo == "" || xs[i].Repo == repo) {
			return xs[i]
		}
	}
	return nil
}

// TestDecodeRealClientsUnderTokenAuth runs skopeo and curl through the proxy
// against distribution under token auth and checks what decode makes of each
// sequence, then compares the whole with a golden summary.
func TestDecodeRealClientsUnderTokenAuth(t *testing.T) {
	curl := need(t, "curl")
	tr := startTokenRegistry(t)
	var all strings.Builder
	scenario := func(name string, wantOK bool, run func() (string, error)) []*decode.Exchange {
		t.Helper()
		out, err := run()
		if (err == nil) != wantOK {
			t.Errorf("%s: client exit error %v, want ok=%v\n%s", name, err, wantOK, out)
		}
		xs := tr.next(t)
		fmt.Fprintf(&all, "## %s\n%s\n", name, summarize(tr.host, xs))
		return xs
	}
	ref := func(repo string) string { return "docker://" + tr.host + "/" + repo }

	// Anonymous pull of a public repository: token granted pull.
	xs := scenario("anonymous public pull (skopeo)", true, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--no-creds", ref("public/app:1.0"))
	})
	tok, man := find(xs, decode.KindTokenRequest, ""), find(xs, decode.KindManifestGet, "public/app")
	if tok == nil || man == nil || tok.TokenRequest.Auth.Scheme != "" || man.TokenFrom != tok.Flow.ID || man.Missing != nil || man.Flow.Response.Status != 200 {
		t.Errorf("anonymous public pull decoded as:\n%s", summarize(tr.host, xs))
	}

	// Anonymous pull of a private repository: an anonymous token with empty access.
	xs = scenario("anonymous private pull (skopeo)", false, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--no-creds", ref("team/app:1.0"))
	})
	tok, man = find(xs, decode.KindTokenRequest, ""), find(xs, decode.KindManifestGet, "team/app")
	if tok == nil || tok.TokenResponse == nil || tok.TokenResponse.Token.Claims == nil || !tok.TokenResponse.Token.Claims.HasAccess ||
		len(tok.TokenResponse.Token.Claims.Access) != 0 || man == nil || len(man.Missing) != 1 || man.Challenges[0].ErrorCode() != "insufficient_scope" {
		t.Errorf("anonymous private pull decoded as:\n%s", summarize(tr.host, xs))
	}

	// A name without its namespace: the registry knows library/busybox.
	xs = scenario("name without namespace (skopeo)", false, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--no-creds", ref("busybox:1.0"))
	})
	if man := find(xs, decode.KindManifestGet, "busybox"); man == nil || len(man.Missing) != 1 || man.Missing[0].Name != "busybox" {
		t.Errorf("busybox decoded as:\n%s", summarize(tr.host, xs))
	}

	// Wrong password: the token server refuses.
	xs = scenario("wrong password (skopeo)", false, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--creds", "alice:wrong", ref("team/app:1.0"))
	})
	if tok := find(xs, decode.KindTokenRequest, ""); tok == nil || tok.Flow.Response.Status != 401 || tok.TokenRequest.Auth.User != "alice" ||
		len(tok.Errors.Errors) == 0 || tok.Errors.Errors[0].Code != "UNAUTHORIZED" {
		t.Errorf("wrong password decoded as:\n%s", summarize(tr.host, xs))
	}

	// Good credentials: pull granted; then a missing tag is really missing.
	xs = scenario("private pull with credentials (skopeo)", true, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--creds", "alice:alice-pw", ref("team/app:1.0"))
	})
	if man := find(xs, decode.KindManifestGet, "team/app"); man == nil || man.Missing != nil || man.TokenFrom == 0 || man.Token.Claims.Subject != "alice" {
		t.Errorf("good credentials decoded as:\n%s", summarize(tr.host, xs))
	}
	xs = scenario("missing tag with credentials (skopeo)", false, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--creds", "alice:alice-pw", ref("team/app:nope"))
	})
	if man := find(xs, decode.KindManifestGet, "team/app"); man == nil || man.Flow.Response.Status != 404 || man.Errors.Errors[0].Code != "MANIFEST_UNKNOWN" || man.Missing != nil {
		t.Errorf("missing tag decoded as:\n%s", summarize(tr.host, xs))
	}

	// HEAD 401: no body, the challenge is all there is.
	xs = scenario("HEAD without a token (curl)", true, func() (string, error) {
		cmd := exec.Command(curl, "-sS", "-I", "--cacert", tr.rec.CACert, "-x", tr.rec.URL, "https://"+tr.host+"/v2/team/app/manifests/1.0")
		cmd.Env = tr.env
		out, err := cmd.CombinedOutput()
		return string(out), err
	})
	if h := find(xs, decode.KindManifestHead, "team/app"); h == nil || h.Flow.Response.Status != 401 || h.Errors.Format != "empty" || len(h.Challenges) != 1 {
		t.Errorf("HEAD 401 decoded as:\n%s", summarize(tr.host, xs))
	}

	// OAuth2 POST: containers/image uses a stored identity token with a
	// refresh_token grant.
	authFile := filepath.Join(tr.authDir, "auth.json")
	os.WriteFile(authFile, fmt.Appendf(nil, `{"auths":{%q:{"auth":%q,"identitytoken":%q}}}`,
		tr.host, base64.StdEncoding.EncodeToString([]byte("alice:")), tr.ts.NewRefreshToken("alice")), 0o600)
	xs = scenario("identity token, OAuth2 POST (skopeo)", true, func() (string, error) {
		return tr.skopeoRun(t, "inspect", "--raw", "--authfile", authFile, ref("team/app:1.0"))
	})
	if tok := find(xs, decode.KindTokenRequest, ""); tok == nil || tok.TokenRequest.Method != "POST" || tok.TokenRequest.GrantType != "refresh_token" ||
		!tok.TokenRequest.HasRefreshToken || tok.TokenResponse == nil || tok.TokenResponse.AccessToken == nil {
		t.Errorf("OAuth2 POST decoded as:\n%s", summarize(tr.host, xs))
	}

	// Copying between repositories of one registry mounts the blobs
	// (POST ?mount=&from=) instead of uploading them.
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	// Not in the golden: upload IDs and the order of concurrent blob
	// requests vary, and skopeo mounts from whichever repository its blob
	// cache saw the layer in.
	if out, err := tr.skopeoRun(t, "--policy", policy, "copy", "--src-creds", "admin:admin-pw", "--dest-creds", "admin:admin-pw",
		ref("public/app:1.0"), ref("team/copy:1.0")); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	xs = tr.next(t)
	if m := find(xs, decode.KindBlobMount, "team/copy"); m == nil || m.From == "" || len(m.Need) != 2 || status(m) != 201 {
		t.Errorf("mount decoded as:\n%s", summarize(tr.host, xs))
	}

	// The remaining endpoints, anonymously with curl: each answers with a
	// challenge (or 404 for V1), and each is decoded for what it is.
	xs = scenario("catalog, tags, referrers and V1 (curl)", true, func() (string, error) {
		var outs []string
		for _, p := range []string{"/v2/_catalog?n=10", "/v2/public/app/tags/list", "/v2/public/app/referrers/sha256:" + strings.Repeat("0", 64), "/v1/_ping", "/v1/repositories/public/app/images"} {
			cmd := exec.Command(curl, "-sS", "--cacert", tr.rec.CACert, "-x", tr.rec.URL, "https://"+tr.host+p)
			cmd.Env = tr.env
			out, err := cmd.CombinedOutput()
			if err != nil {
				return string(out), err
			}
			outs = append(outs, string(out))
		}
		return strings.Join(outs, "\n"), nil
	})
	for _, k := range []decode.Kind{decode.KindCatalog, decode.KindTagsList, decode.KindReferrers, decode.KindV1Ping, decode.KindV1Images} {
		if find(xs, k, "") == nil {
			t.Errorf("no %s exchange in:\n%s", k, summarize(tr.host, xs))
		}
	}

	goldenFile(t, "decode-token-auth.golden", all.String())
}

func status(x *decode.Exchange) int {
	if x.Flow.Response == nil {
		return 0
	}
	return x.Flow.Response.Status
}
