package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// TestOTLPCollectorRefusing: a collector that refuses every batch never
// stops or slows the proxy; regtrace says so once, and at exit how many
// spans were lost.
func TestOTLPCollectorRefusing(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.Error(w, "bad request", http.StatusBadRequest) // not retryable: refused at once
	}))
	defer collector.Close()
	origin := newPlainOrigin(t)
	rp := startProxy(t, "--ca-dir", filepath.Join(t.TempDir(), "ca"), "--no-color", "--otlp-endpoint", collector.URL,
		"--resolve", "registry.test="+origin.addr)
	proxyURL, _ := url.Parse(rp.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for range 20 {
		resp, err := client.Get("http://registry.test:" + origin.port + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Errorf("status %d through the proxy", resp.StatusCode)
		}
		resp.Body.Close()
	}
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("proxy exit %d: %s", code, rp.Stderr)
	}
	stderr := rp.Stderr.String()
	if n := strings.Count(stderr, "OTLP export failed"); n != 1 || posts.Load() == 0 {
		t.Errorf("%d warnings for %d refused posts, want one:\n%s", n, posts.Load(), stderr)
	}
	m := regexp.MustCompile(`OTLP: 0 spans exported to \S+ \(OTLP/HTTP\), (\d+) refused or lost by the collector`).FindStringSubmatch(stderr)
	if m == nil || m[1] != "21" { // 20 exchanges and their operation
		t.Errorf("the exit report does not count the 21 lost spans:\n%s", stderr)
	}
}

func TestOTLPFlagsAreChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--otlp-endpoint", "collector:4318"}, "--otlp-endpoint"},
		{[]string{"--otlp-endpoint", "http://c:4318", "--otlp-protocol", "thrift"}, "--otlp-protocol \"thrift\""},
		{[]string{"--otlp-protocol", "grpc"}, "--otlp-protocol needs --otlp-endpoint"},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), append([]string{"regtrace", "proxy", "--listen", "127.0.0.1:0", "--ca-dir", filepath.Join(t.TempDir(), "ca")}, c.args...), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want usage naming %s", c.args, code, errb.String(), c.want)
		}
	}
}
