package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestHtpasswd(t *testing.T) {
	dir := t.TempDir()
	h2a, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	// htpasswd -B writes $2y$, which bcrypt in Go reads.
	h2y := "$2y$" + strings.TrimPrefix(string(h2a), "$2a$")
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# users\n\nalice:"+string(h2a)+"\nbob:"+h2y+"\n"), 0o600)
	h, err := readHtpasswd(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value, user string
		ok          bool
	}{
		{basicValue("alice", "pw"), "alice", true},
		{basicValue("bob", "pw"), "bob", true},
		{basicValue("alice", "pw"), "alice", true}, // cached
		{basicValue("alice", "nope"), "", false},
		{basicValue("carol", "pw"), "", false},
		{"Bearer " + base64.StdEncoding.EncodeToString([]byte("alice:pw")), "", false},
		{"Basic !!!", "", false},
		{"", "", false},
	} {
		if user, ok := h.Authenticate(tc.value); user != tc.user || ok != tc.ok {
			t.Errorf("Authenticate(%q) = %q, %v; want %q, %v", tc.value, user, ok, tc.user, tc.ok)
		}
	}
	for content, says := range map[string]string{
		"alice:$apr1$abc$def\n":           `line 1: user "alice" has no bcrypt hash`,
		"alice:{SHA}abc=\n":               "no bcrypt hash",
		"#c\nnocolon\n":                   "line 2: want USER:BCRYPT-HASH",
		"alice:$2a$10$short\n":            `user "alice"`,
		"":                                "no users",
		"a:" + string(h2a) + "\na:" + h2y: `line 2: user "a" appears twice`,
	} {
		p := filepath.Join(t.TempDir(), "users")
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := readHtpasswd(p); err == nil || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want an error naming the file and saying %q", content, err, says)
		}
	}
}

// FuzzHtpasswd: any file gives users or an error naming the file, and
// any header value a verdict; never a panic.
func FuzzHtpasswd(f *testing.F) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	f.Add([]byte("alice:"+string(h)+"\n"), basicValue("alice", "pw"))
	f.Add([]byte("x:$2y$04$\n:\n"), "Basic Og==")
	f.Fuzz(func(t *testing.T, content []byte, value string) {
		p := filepath.Join(t.TempDir(), "users")
		os.WriteFile(p, content, 0o600)
		users, err := readHtpasswd(p)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q names no file", err)
			}
			return
		}
		users.Authenticate(value)
	})
}

func TestProxyListenNeedsAuthentication(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"regtrace", "proxy", "--listen", "0.0.0.0:0", "--ca-dir", filepath.Join(dir, "ca")}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--proxy-auth") {
		t.Errorf("a non-loopback listen without --proxy-auth: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	code = run(context.Background(), []string{"regtrace", "proxy", "--proxy-auth", filepath.Join(dir, "missing"), "--ca-dir", filepath.Join(dir, "ca")}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "missing") {
		t.Errorf("a missing --proxy-auth file: exit %d, %s", code, errb.String())
	}
}

// TestRefusalFloodSummary: a client looping without credentials is
// answered every time, recorded ten times a minute, and the rest is
// counted in the exit summary.
func TestRefusalFloodSummary(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("ci:"+string(hash)+"\n"), 0o600)
	harPath := filepath.Join(dir, "trace.har")
	origin := newPlainOrigin(t)
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--proxy-auth", users, "--har", harPath, "--resolve", "registry.test="+origin.addr)
	proxyURL, _ := url.Parse(rp.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for range 35 {
		resp, err := client.Get("http://registry.test:" + origin.port + "/v2/")
		if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
			t.Fatalf("%v %v: want 407", resp, err)
		}
		resp.Body.Close()
	}
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, rp.Stderr)
	}
	if !strings.Contains(rp.Stderr.String(), "not recorded (past 10 a minute per address, a client failing proxy authentication in a loop): 127.0.0.1 25") ||
		strings.Count(rp.Stderr.String(), "keeps failing proxy authentication") != 1 {
		t.Errorf("stderr:\n%s", rp.Stderr)
	}
	if n := strings.Count(rp.Stdout.String(), " 407 "); n != 10 {
		t.Errorf("%d refusals in the live trace, want 10:\n%s", n, rp.Stdout)
	}
	// The HAR's answer is the proxy's refusal, not an unreachable registry.
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"regtrace", "explain", harPath}, &out, &errb); code != exitFound ||
		!strings.Contains(out.String(), "[proxy-auth-refused]") {
		t.Errorf("explain of the HAR: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
