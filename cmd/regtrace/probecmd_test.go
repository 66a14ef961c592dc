package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeCodesReference keeps proxy/probe/CODES.md, the result codes'
// reference, in step with the codes (go test -run TestProbeCodesReference
// -update rewrites it).
func TestProbeCodesReference(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"regtrace", "probe", "--codes", "--format", "markdown"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	path := filepath.Join("..", "..", "proxy", "probe", "CODES.md")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("CODES.md is stale: go test ./cmd/regtrace -run TestProbeCodesReference -update rewrites it")
	}
}

func TestProbeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"probe"}, "want one IMAGE"},
		{[]string{"probe", "Registry.Example.com/App"}, "lower-case"},
		{[]string{"probe", "--format", "html", "nginx"}, "--format"},
		{[]string{"probe", "--mount-from", "a/b", "nginx"}, "add --push"},
		{[]string{"probe", "--as", "ctr", "nginx"}, "--as"},
		{[]string{"probe", "--creds-stdin", "--anonymous", "nginx"}, "contradict"},
		{[]string{"probe", "--codes", "nginx"}, "no IMAGE"},
		{[]string{"probe", "--platform", "linux", "nginx"}, "os/arch"},
		{[]string{"probe", "--resolve", "nonsense", "nginx"}, "--resolve"},
	} {
		var out, errb bytes.Buffer
		app := newApp(&out, &errb)
		app.Reader = strings.NewReader("")
		if code := runApp(context.Background(), app, append([]string{"regtrace"}, tc.args...)); code != exitUsage || !strings.Contains(errb.String(), tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 2 saying %q", tc.args, code, errb.String(), tc.says)
		}
	}
}

func TestReadStdinCredential(t *testing.T) {
	c, err := readStdinCredential(strings.NewReader("alice:pa:ss\r\nignored\n"))
	if err != nil || c.Username != "alice" || c.Password != "pa:ss" || strings.Contains(c.Source(), "pa:ss") {
		t.Errorf("got %+v, %v", c, err)
	}
	for _, bad := range []string{"", "nocolon\n", ":pw\n"} {
		if _, err := readStdinCredential(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMirrorHost(t *testing.T) {
	for in, want := range map[string]string{"mirror.test:5000": "mirror.test:5000", "https://Mirror.test": "mirror.test", "https://m.test/v2/": "m.test",
		"http://m.test": "", "m.test/path": "", "https://m.test?x=1": "", "": ""} {
		got, err := mirrorHost(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("mirrorHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestEnvProxy(t *testing.T) {
	env := map[string]string{"HTTPS_PROXY": "proxy.corp:3128", "http_proxy": "http://plain.corp:80", "NO_PROXY": "internal.corp, .svc,10.0.0.0/8,reg.test:5000"}
	get := func(k string) string { return env[k] }
	for _, tc := range []struct {
		host  string
		plain bool
		want  string
	}{
		{"registry-1.docker.io", false, "http://proxy.corp:3128"},
		{"registry-1.docker.io", true, "http://plain.corp:80"},
		{"internal.corp:443", false, ""},
		{"a.internal.corp", false, ""},
		{"x.svc", false, ""},
		{"10.1.2.3:5000", false, ""},
		{"reg.test:5000", false, ""},
		{"localhost:5000", false, ""},
		{"127.0.0.1:5000", false, ""},
		{"[::1]:5000", false, ""},
		{"notinternal.corp", false, "http://proxy.corp:3128"},
	} {
		got := ""
		if u := envProxy(get, tc.host, tc.plain); u != nil {
			got = u.String()
		}
		if got != tc.want {
			t.Errorf("envProxy(%s, plain=%v) = %q, want %q", tc.host, tc.plain, got, tc.want)
		}
	}
	if u := envProxy(func(string) string { return "" }, "r.io", false); u != nil {
		t.Errorf("no environment gave %v", u)
	}
}
