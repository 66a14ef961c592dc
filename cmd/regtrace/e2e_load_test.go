package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// loadClient is one client of TestFiftyClientsShareOneProxy: a proxy user,
// the registry credentials it pulls with ("" anonymous), and what it did.
type loadClient struct {
	user, creds string
	skopeo      bool
	requests    int // Go clients: every request sent
	err         error
}

// goPull pulls team/app:1.0 the way registry clients do (ping, challenge,
// token, manifest, blobs), counting each request it sends.
func (lc *loadClient) goPull(ctx context.Context, proxyURL *url.URL, roots *x509.CertPool, host string) error {
	pu := *proxyURL
	pu.User = url.UserPassword(lc.user, proxyPassword(lc.user))
	tr := &http.Transport{Proxy: http.ProxyURL(&pu), TLSClientConfig: &tls.Config{RootCAs: roots}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	get := func(u, auth, accept string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("User-Agent", "regtrace-load/1.0")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		lc.requests++
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	base := "https://" + host
	resp, _, err := get(base+"/v2/", "", "")
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`realm="([^"]+)",service="([^"]+)"`).FindStringSubmatch(resp.Header.Get("Www-Authenticate"))
	if resp.StatusCode != 401 || m == nil {
		return fmt.Errorf("ping: %d %q", resp.StatusCode, resp.Header.Get("Www-Authenticate"))
	}
	auth := ""
	if lc.creds != "" {
		user, pass, _ := strings.Cut(lc.creds, ":")
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.SetBasicAuth(user, pass)
		auth = r.Header.Get("Authorization")
	}
	resp, body, err := get(m[1]+"?service="+url.QueryEscape(m[2])+"&scope="+url.QueryEscape("repository:team/app:pull"), auth, "")
	if err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &tok) != nil || tok.Token == "" {
		return fmt.Errorf("token: %d %s", resp.StatusCode, body)
	}
	bearer := "Bearer " + tok.Token
	resp, body, err = get(base+"/v2/team/app/manifests/1.0", bearer, "application/vnd.oci.image.manifest.v1+json")
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("manifest: %d", resp.StatusCode)
	}
	var man struct {
		Config struct{ Digest string }   `json:"config"`
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(body, &man); err != nil {
		return fmt.Errorf("manifest: %v", err)
	}
	for _, d := range append([]string{man.Config.Digest}, func() (ds []string) {
		for _, l := range man.Layers {
			ds = append(ds, l.Digest)
		}
		return ds
	}()...) {
		resp, _, err := get(base+"/v2/team/app/blobs/"+d, bearer, "")
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("blob %s: %d", d, resp.StatusCode)
		}
	}
	return nil
}

// TestFiftyClientsShareOneProxy: fifty clients, each its own proxy user,
// pull through one authenticated proxy at once (five of them skopeo, the
// rest Go clients doing the token dance), some with registry credentials
// and some without. Nothing is lost: each client's HAR holds exactly its
// exchanges, Jaeger holds a span for every one, and each client's HAR
// explains its own outcome.
func TestFiftyClientsShareOneProxy(t *testing.T) {
	skopeo := need(t, "skopeo")
	j := startJaeger(t)
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	ts.Users = map[string]string{"admin": "admin-pw"}
	ts.ACL = map[string]map[string][]string{"team/app": {"admin": {"*"}}}
	authPort := startTLS(t, pki, ts)
	reg := startRegistry(t, pki, ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	host := fmt.Sprintf("registry.test:%d", reg.Port)
	seedImages(t, pki, host, "admin:admin-pw", "team/app")

	var clients []*loadClient
	var names []string
	for i := range 50 {
		lc := &loadClient{user: fmt.Sprintf("c%02d", i), creds: "admin:admin-pw", skopeo: i < 5}
		if i%10 == 9 || i == 4 { // five pull anonymously and fail
			lc.creds = ""
		}
		clients = append(clients, lc)
		names = append(names, lc.user)
	}
	dir := t.TempDir()
	harDir := filepath.Join(dir, "hars")
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--proxy-auth", htpasswdFile(t, names...), "--har-dir", harDir,
		"--otlp-endpoint", j.OTLPHTTP, "--resolve", "registry.test=127.0.0.1", "--resolve", "auth.test=127.0.0.1", "--upstream-ca", pki.CA)
	bundle := caBundle(t, filepath.Join(dir, "ca"))
	caPEM, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	proxyURL, _ := url.Parse(rp.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, lc := range clients {
		wg.Go(func() {
			if !lc.skopeo {
				lc.err = lc.goPull(ctx, proxyURL, roots, host)
				return
			}
			creds := []string{"--no-creds"}
			if lc.creds != "" {
				creds = []string{"--creds", lc.creds}
			}
			cmd := exec.CommandContext(ctx, skopeo, append(append([]string{"inspect", "--raw", "--retry-times", "0"}, creds...), "docker://"+host+"/team/app:1.0")...)
			cmd.Env = clientEnv(t, rp.as(lc.user), bundle)
			if out, err := cmd.CombinedOutput(); err != nil {
				lc.err = fmt.Errorf("%v: %s", err, out)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("proxy exit %d: %s", code, rp.Stderr)
	}
	exported := regexp.MustCompile(`OTLP: (\d+) spans exported`).FindStringSubmatch(rp.Stderr.String())
	if exported == nil || strings.Contains(rp.Stderr.String(), "dropped") {
		t.Errorf("the proxy lost spans or did not say:\n%s", rp.Stderr)
	}

	// Each client's HAR holds its exchanges and nobody else's.
	entries := map[string]int{}
	total := 0
	for _, lc := range clients {
		if (lc.err == nil) != (lc.creds != "") {
			t.Errorf("%s (credentials %q): %v", lc.user, lc.creds, lc.err)
		}
		path := filepath.Join(harDir, lc.user+".har")
		users := harProxyUsers(t, path)
		for _, u := range users {
			if u != lc.user {
				t.Errorf("%s's HAR holds an exchange of %q", lc.user, u)
			}
		}
		entries[lc.user] = len(users)
		total += len(users)
		if !lc.skopeo && len(users) != lc.requests {
			t.Errorf("%s sent %d requests, its HAR holds %d", lc.user, lc.requests, len(users))
		}
		// Its own HAR explains its own outcome.
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"regtrace", "explain", "--format", "json", path}, &out, &errb)
		var rep report
		json.Unmarshal(out.Bytes(), &rep)
		switch {
		case lc.creds != "" && code != 0:
			t.Errorf("%s pulled, explain of its HAR exits %d: %+v", lc.user, code, rep.Primary)
		case lc.creds == "" && (code != exitFound || rep.Primary == nil || rep.Primary.Rule != "insufficient-scope-ambiguous-denied"):
			t.Errorf("%s failed anonymously, explain of its HAR: exit %d, primary %+v", lc.user, code, rep.Primary)
		}
	}
	t.Logf("50 clients, %d exchanges in %v (%.0f exchanges/s through the proxy, race detector on)", total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())

	// Jaeger holds a span for every exchange, each under its client.
	_, spans := j.traces(t, total)
	perPeer := map[string]int{}
	for _, s := range spans {
		if s.tag("span.kind") == "client" {
			perPeer[s.tag("regtrace.peer")]++
		}
	}
	for user, n := range entries {
		if perPeer[user] != n {
			t.Errorf("%s: %d exchange spans in Jaeger, %d exchanges in its HAR", user, perPeer[user], n)
		}
	}
}
