package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/regtrace/regtrace/decode/flow"
)

// testCA is a throwaway CA for tests. The real one lives in package certs,
// which proxy must not import (see cmd/regtrace/deps_test.go).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	mu   sync.Mutex
	leaf map[string]*tls.Certificate
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, leaf: map[string]*tls.Certificate{}}
}

func (ca *testCA) issue(host string) (*tls.Certificate, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c := ca.leaf[host]; c != nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	ca.leaf[host] = c
	return c, nil
}

func (ca *testCA) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		return nil, errors.New("no server name")
	}
	return ca.issue(hello.ServerName)
}

// env is a proxy in front of a TLS origin that answers for registry.test,
// a name only the proxy resolves.
type env struct {
	t          *testing.T
	proxy      *Proxy
	proxyURL   *url.URL
	mitmCA     *testCA
	upstreamCA *testCA
	origin     *httptest.Server
	base       string // https://registry.test:port
	flows      chan *flow.Flow
	handshakes chan flow.HandshakeFailure
	client     *http.Client
}

func newEnv(t *testing.T, h http.Handler, tweak func(*Options, *httptest.Server)) *env {
	t.Helper()
	e := &env{
		t:          t,
		mitmCA:     newTestCA(t, "regtrace test CA"),
		upstreamCA: newTestCA(t, "upstream test CA"),
		flows:      make(chan *flow.Flow, 1024),
		handshakes: make(chan flow.HandshakeFailure, 16),
	}
	e.origin = httptest.NewUnstartedServer(h)
	oc, err := e.upstreamCA.issue("registry.test")
	if err != nil {
		t.Fatal(err)
	}
	e.origin.TLS = &tls.Config{Certificates: []tls.Certificate{*oc}}
	e.origin.StartTLS()
	t.Cleanup(e.origin.Close)
	_, port, _ := net.SplitHostPort(e.origin.Listener.Addr().String())
	e.base = "https://registry.test:" + port

	opts := Options{
		GetCertificate:     e.mitmCA.GetCertificate,
		OnFlow:             func(f *flow.Flow) { e.flows <- f },
		OnHandshakeFailure: func(h flow.HandshakeFailure) { e.handshakes <- h },
		UpstreamRoots:      e.upstreamCA.pool,
		Resolve:            map[string]string{"registry.test": "127.0.0.1"},
	}
	if tweak != nil {
		tweak(&opts, e.origin)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	t.Cleanup(func() { p.Close() })
	e.proxy = p
	e.proxyURL = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	e.client = e.newClient(e.mitmCA.pool, false)
	return e
}

func (e *env) newClient(roots *x509.CertPool, h2 bool) *http.Client {
	tr := &http.Transport{
		Proxy:              http.ProxyURL(e.proxyURL),
		TLSClientConfig:    &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2:  h2,
		DisableCompression: true,
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) flow() *flow.Flow {
	e.t.Helper()
	select {
	case f := <-e.flows:
		return f
	case <-time.After(30 * time.Second):
		e.t.Fatal("no flow recorded")
		return nil
	}
}

func (e *env) do(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("reading %s: %v", req.URL, err)
	}
	return resp, b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func echoHandler(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Got-Sha256", sum(b))
	w.Header().Set("X-Got-Accept-Encoding", r.Header.Get("Accept-Encoding"))
	fmt.Fprintf(w, `{"method":%q,"len":%d}`, r.Method, len(b))
}

func TestBodiesArriveByteIdentical(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	payload := bytes.Repeat([]byte("layer-bytes\x00\x01"), 300_000) // ~3.9 MB, binary
	for _, method := range []string{"GET", "PUT", "POST", "PATCH"} {
		var body io.Reader
		if method != "GET" {
			body = bytes.NewReader(payload)
		}
		req, _ := http.NewRequest(method, e.base+"/v2/team/app/blobs/uploads/x?_state=s3cr3t", body)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, got := e.do(req)
		f := e.flow()
		want := sum(nil)
		if method != "GET" {
			want = sum(payload)
		}
		if g := resp.Header.Get("X-Got-Sha256"); g != want {
			t.Errorf("%s: origin got body sha256 %s, want %s", method, g, want)
		}
		if f.Request.Method != method || f.Request.URL.Path != "/v2/team/app/blobs/uploads/x" {
			t.Errorf("%s: flow request = %s %s", method, f.Request.Method, f.Request.URL)
		}
		if method != "GET" && (f.Request.Body.Size != int64(len(payload)) || len(f.Request.Body.Captured) != 0 || !f.Request.Body.Complete) {
			t.Errorf("%s: request body recorded as size %d captured %d complete %v", method, f.Request.Body.Size, len(f.Request.Body.Captured), f.Request.Body.Complete)
		}
		if f.Response == nil || f.Response.Status != 200 || string(f.Response.Body.Captured) != string(got) || f.Response.Body.SHA256 != sum(got) {
			t.Errorf("%s: response recorded as %+v, client got %q", method, f.Response, got)
		}
		if f.Err != nil {
			t.Errorf("%s: unexpected flow error %v", method, f.Err)
		}
		if f.Upstream == nil || f.Upstream.ServerIP != "127.0.0.1" || f.Upstream.Version == "" {
			t.Errorf("%s: upstream TLS info = %+v", method, f.Upstream)
		}
	}
}

func TestFlowIDsAreArrivalOrder(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	for i := 1; i <= 3; i++ {
		req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
		e.do(req)
		if f := e.flow(); f.ID != flow.ID(i) {
			t.Fatalf("flow %d has ID %v", i, f.ID)
		}
	}
}

func TestHEADKeepsContentLength(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "123456789")
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.Method == "GET" {
			w.Header().Set("Content-Length", "11")
			io.WriteString(w, "hello world")
		}
	}), nil)
	req, _ := http.NewRequest("HEAD", e.base+"/v2/a/blobs/sha256:abc", nil)
	resp, _ := e.do(req)
	if resp.ContentLength != 123456789 || resp.Header.Get("Content-Length") != "123456789" {
		t.Errorf("HEAD: client saw Content-Length %d (%q), want 123456789", resp.ContentLength, resp.Header.Get("Content-Length"))
	}
	if len(resp.TransferEncoding) != 0 {
		t.Errorf("HEAD: client saw Transfer-Encoding %v", resp.TransferEncoding)
	}
	f := e.flow()
	if f.Response.Header.Get("Content-Length") != "123456789" || f.Response.Body.Size != 0 {
		t.Errorf("HEAD flow: %+v", f.Response)
	}
	req, _ = http.NewRequest("GET", e.base+"/v2/a/blobs/sha256:abc", nil)
	resp, _ = e.do(req)
	if resp.ContentLength != 11 || len(resp.TransferEncoding) != 0 {
		t.Errorf("GET: client saw Content-Length %d, Transfer-Encoding %v, want 11 and none", resp.ContentLength, resp.TransferEncoding)
	}
	e.flow()
}

func TestResponseWithoutLengthStaysChunked(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"tags":[`)
		w.(http.Flusher).Flush()
		io.WriteString(w, `"1.0"]}`)
	}), nil)
	req, _ := http.NewRequest("GET", e.base+"/v2/a/tags/list", nil)
	resp, body := e.do(req)
	if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("client saw Content-Length %d Transfer-Encoding %v, want chunked", resp.ContentLength, resp.TransferEncoding)
	}
	if string(body) != `{"tags":["1.0"]}` {
		t.Errorf("body = %q", body)
	}
	f := e.flow()
	if string(f.Response.Body.Captured) != string(body) || f.Response.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("flow response = %+v", f.Response)
	}
}

// bigReader yields n bytes without holding them.
type bigReader struct{ n, off int64 }

func (r *bigReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n-r.off {
		p = p[:r.n-r.off]
	}
	for i := range p {
		p[i] = byte('a' + (r.off+int64(i))%26)
	}
	r.off += int64(len(p))
	return len(p), nil
}

func TestLargeBodyStreamsWithBoundedCapture(t *testing.T) {
	const size = 100 << 20
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.URL.Query().Get("type"))
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &bigReader{n: size})
	}), nil)
	for _, tc := range []struct {
		typ     string
		capture int
	}{
		{"application/octet-stream", 0},
		{"text/plain", DefaultCaptureLimit},
	} {
		req, _ := http.NewRequest("GET", e.base+"/v2/a/blobs/sha256:big?type="+url.QueryEscape(tc.typ), nil)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			t.Fatalf("%s: read %d bytes, err %v", tc.typ, n, err)
		}
		wantSum := sha256.New()
		io.Copy(wantSum, &bigReader{n: size})
		if !bytes.Equal(h.Sum(nil), wantSum.Sum(nil)) {
			t.Errorf("%s: body differs from what the origin sent", tc.typ)
		}
		f := e.flow()
		b := f.Response.Body
		if b.Size != size || len(b.Captured) != tc.capture || !b.Truncated || !b.Complete || f.Err != nil {
			t.Errorf("%s: recorded size %d captured %d truncated %v complete %v err %v; want size %d captured %d",
				tc.typ, b.Size, len(b.Captured), b.Truncated, b.Complete, f.Err, size, tc.capture)
		}
	}
}

func TestConcurrentDownloadsAllRecorded(t *testing.T) {
	const size = 2 << 20
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &bigReader{n: size})
	}), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			resp, err := e.client.Get(fmt.Sprintf("%s/v2/a/blobs/sha256:%d", e.base, i))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
				errs <- fmt.Errorf("download %d: %d bytes, %v", i, n, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	ids := map[flow.ID]bool{}
	for range 8 {
		f := e.flow()
		if f.Response.Body.Size != size || f.Err != nil {
			t.Errorf("flow %v: size %d err %v", f.ID, f.Response.Body.Size, f.Err)
		}
		seen[f.Request.URL.Path] = true
		ids[f.ID] = true
	}
	if len(seen) != 8 || len(ids) != 8 {
		t.Errorf("recorded %d distinct paths and %d IDs, want 8 each", len(seen), len(ids))
	}
}

func TestClientOfferingH2IsServedHTTP1AndUpstreamMayBeH2(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, s *httptest.Server) {})
	// Restart the origin with h2 enabled.
	e.origin.Close()
	origin := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
	oc, _ := e.upstreamCA.issue("registry.test")
	origin.TLS = &tls.Config{Certificates: []tls.Certificate{*oc}}
	origin.EnableHTTP2 = true
	origin.StartTLS()
	defer origin.Close()
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	c := e.newClient(e.mitmCA.pool, true)
	resp, err := c.Get("https://registry.test:" + port + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("client offering h2 got %s (ALPN %q), want HTTP/1.1", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	f := e.flow()
	if f.Response.Proto != "HTTP/2.0" || f.Upstream.ALPN != "h2" {
		t.Errorf("upstream leg recorded as %s ALPN %q, want HTTP/2.0 h2", f.Response.Proto, f.Upstream.ALPN)
	}
}

func TestUntrustedUpstreamGives502AndUnknownAuthority(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.UpstreamRoots = x509.NewCertPool() // trusts nothing
	})
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	resp, body := e.do(req)
	if resp.StatusCode != 502 || !strings.Contains(resp.Header.Get("X-Regtrace-Error"), "unknown authority") || !strings.Contains(string(body), "unknown authority") {
		t.Errorf("client got %d %q %q, want 502 naming the unknown authority", resp.StatusCode, resp.Header.Get("X-Regtrace-Error"), body)
	}
	f := e.flow()
	if f.Err == nil || f.Err.Kind != flow.ErrUnknownAuthority || !strings.Contains(f.Err.Message, "unknown authority") || !f.Response.Synthetic {
		t.Errorf("flow err = %v, response %+v", f.Err, f.Response)
	}
}

func TestInsecureUpstreamSkipsVerificationAndSaysSo(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.UpstreamRoots = x509.NewCertPool()
		o.InsecureUpstream = true
	})
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	if resp, _ := e.do(req); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if f := e.flow(); f.Upstream == nil || !f.Upstream.Insecure {
		t.Errorf("flow upstream = %+v, want Insecure", f.Upstream)
	}
}

// noDNS resolves nothing, without the network: a name that does not
// resolve, deterministically.
var noDNS = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no DNS in tests")
}}

// closedPort is a local port with nothing listening.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// Plain HTTP has no CONNECT: an upstream that cannot be reached is the
// RoundTripper's 502.
func TestTransportFailuresAreFlows(t *testing.T) {
	deadPort := closedPort(t)
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.Resolve["dead.test"] = "127.0.0.1"
		o.resolver = noDNS
	})
	cases := []struct {
		url  string
		kind flow.ErrKind
		say  string
	}{
		{fmt.Sprintf("http://dead.test:%d/v2/", deadPort), flow.ErrRefused, "refused"},
		{"http://nowhere.invalid/v2/", flow.ErrDNS, "resolve"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", c.url, nil)
		resp, body := e.do(req)
		f := e.flow()
		if resp.StatusCode != 502 || f.Err == nil || f.Err.Kind != c.kind || !strings.Contains(f.Err.Message, c.say) || !strings.Contains(string(body), c.say) {
			t.Errorf("%s: client %d %q; flow err %v; want 502 and %s", c.url, resp.StatusCode, body, f.Err, c.kind)
		}
	}
}

// Issue 12: an upstream that cannot be reached fails the CONNECT itself, as
// a proxy that cannot connect does, instead of a 502 from "the server"
// inside a tunnel that some clients report as a registry's answer.
func TestConnectToUnreachableUpstreamFailsTheConnect(t *testing.T) {
	deadPort := closedPort(t)
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.Resolve["dead.test"] = "127.0.0.1"
		o.resolver = noDNS
	})
	cases := []struct {
		name, target string
		kind         flow.ErrKind
		say          string
	}{
		{"closed port", fmt.Sprintf("dead.test:%d", deadPort), flow.ErrRefused, "refused"},
		{"name that does not resolve", "nowhere.invalid:443", flow.ErrDNS, "resolve"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A Go client: its error is the failed CONNECT.
			_, err := e.client.Get("https://" + c.target + "/v2/")
			if err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
				t.Errorf("client error = %v, want the CONNECT's Bad Gateway", err)
			}
			f := e.flow()
			checkConnectFlow(t, f, c.target, c.kind, c.say)

			// On the wire: 502 to the CONNECT, saying why, and the
			// connection closed.
			conn, err := net.Dial("tcp", e.proxyURL.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", c.target, c.target)
			resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 502 || !resp.Close || !strings.HasPrefix(resp.Header.Get("X-Regtrace-Error"), string(c.kind)+": ") ||
				!strings.Contains(string(body), c.say) || resp.ContentLength != int64(len(body)) {
				t.Errorf("CONNECT answered %d close=%v %q %q", resp.StatusCode, resp.Close, resp.Header.Get("X-Regtrace-Error"), body)
			}
			checkConnectFlow(t, e.flow(), c.target, c.kind, c.say)
		})
	}
	// The proxy keeps serving.
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	if resp, _ := e.do(req); resp.StatusCode != 200 {
		t.Errorf("after failed CONNECTs: %d", resp.StatusCode)
	}
}

func checkConnectFlow(t *testing.T, f *flow.Flow, target string, kind flow.ErrKind, say string) {
	t.Helper()
	if f.Request.Method != http.MethodConnect || f.Request.URL.String() != "https://"+target || f.Request.URL.Host != target {
		t.Errorf("flow request = %s %s, want CONNECT https://%s", f.Request.Method, f.Request.URL, target)
	}
	if f.Err == nil || f.Err.Kind != kind || !strings.Contains(f.Err.Message, say) {
		t.Errorf("flow err = %v, want %s saying %q", f.Err, kind, say)
	}
	if r := f.Response; r == nil || r.Status != 502 || !r.Synthetic || !strings.Contains(r.Body.Text(), say) ||
		!strings.HasPrefix(r.Header.Get("X-Regtrace-Error"), string(kind)+": ") {
		t.Errorf("flow response = %+v, want a synthetic 502 saying %q", r, say)
	}
	if f.ID == 0 || f.Start.IsZero() || f.ClientAddr == "" || f.Upstream != nil {
		t.Errorf("flow ID %v start %v client %q upstream %+v", f.ID, f.Start, f.ClientAddr, f.Upstream)
	}
}

// The connection dialed for the CONNECT is the one the request goes over,
// with its connect time on the request's flow.
func TestConnectDialIsReusedByTheTunnel(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	var conns atomic.Int32
	origin := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
	origin.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	oc, _ := e.upstreamCA.issue("registry.test")
	origin.TLS = &tls.Config{Certificates: []tls.Certificate{*oc}}
	origin.StartTLS()
	defer origin.Close()
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	resp, body := e.do(mustRequest(t, "GET", "https://registry.test:"+port+"/v2/"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %q", resp.StatusCode, body)
	}
	f := e.flow()
	if n := conns.Load(); n != 1 {
		t.Errorf("origin saw %d connections for one tunnel and one request, want 1", n)
	}
	if f.Timings.Connect < 0 || f.Timings.Reused || f.Timings.Blocked < 0 {
		t.Errorf("first request's timings %+v, want the CONNECT's connect time", f.Timings)
	}
	// A second request in the same tunnel reuses the upstream connection.
	e.do(mustRequest(t, "GET", "https://registry.test:"+port+"/v2/"))
	if f := e.flow(); !f.Timings.Reused || f.Timings.Connect >= 0 {
		t.Errorf("second request's timings %+v, want a reused connection", f.Timings)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("origin saw %d connections, want 1", n)
	}
	// A new tunnel while the transport holds an idle connection: the
	// CONNECT's dial goes unused and is closed after the first request
	// (before its flow is delivered); so is one whose client fails the
	// handshake.
	c := e.newClient(e.mitmCA.pool, false)
	if resp, err := c.Get("https://registry.test:" + port + "/v2/"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if f := e.flow(); !f.Timings.Reused {
		t.Errorf("new tunnel's request timings %+v, want the idle connection", f.Timings)
	}
	if _, err := e.newClient(x509.NewCertPool(), false).Get("https://registry.test:" + port + "/v2/"); err == nil {
		t.Fatal("a client trusting nothing succeeded")
	}
	<-e.handshakes
	e.proxy.early.mu.Lock()
	left := len(e.proxy.early.conns)
	e.proxy.early.mu.Unlock()
	if left != 0 {
		t.Errorf("%d addresses still hold connections dialed for CONNECTs", left)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), func(o *Options, _ *httptest.Server) { o.ResponseHeaderTimeout = 200 * time.Millisecond })
	defer close(release)
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	resp, _ := e.do(req)
	f := e.flow()
	if resp.StatusCode != 502 || f.Err == nil || f.Err.Kind != flow.ErrTimeout {
		t.Errorf("client %d, flow err %v; want 502 timeout", resp.StatusCode, f.Err)
	}
}

func TestClientRejectingCAIsRecorded(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	c := e.newClient(x509.NewCertPool(), false) // trusts nothing, like a client without our CA
	_, err := c.Get(e.base + "/v2/")
	if err == nil {
		t.Fatal("client trusting nothing succeeded")
	}
	select {
	case h := <-e.handshakes:
		if !strings.Contains(h.Reason, "does not trust the regtrace CA") || h.ServerName != "registry.test" || !strings.HasPrefix(h.Target, "registry.test:") {
			t.Errorf("handshake failure = %+v", h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake failure recorded")
	}
	// The proxy keeps serving.
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	if resp, _ := e.do(req); resp.StatusCode != 200 {
		t.Errorf("after a failed handshake: %d", resp.StatusCode)
	}
}

func TestClientHangingUpMidBody(t *testing.T) {
	const size = 64 << 20
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &bigReader{n: size})
	}), nil)
	resp, err := e.client.Get(e.base + "/v2/a/blobs/sha256:x")
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, resp.Body, 1<<20)
	resp.Body.Close() // hangs up: HTTP/1 closes the connection on an unread body
	f := e.flow()
	if f.Err == nil || f.Err.Kind != flow.ErrClientClosed || f.Response.Body.Complete || f.Response.Body.Size >= size {
		t.Errorf("flow err %v, body %+v; want client-closed", f.Err, f.Response.Body)
	}
	req, _ := http.NewRequest("HEAD", e.base+"/v2/", nil)
	if resp, _ := e.do(req); resp.StatusCode != 200 {
		t.Errorf("after a hang-up: %d", resp.StatusCode)
	}
}

func TestIPLiteralWithoutSNI(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	_, port, _ := net.SplitHostPort(e.origin.Listener.Addr().String())
	// The origin's certificate is for registry.test only, so verification
	// upstream fails: what matters here is that the client leg works.
	c := e.newClient(e.mitmCA.pool, false)
	c.Transport.(*http.Transport).Proxy = func(*http.Request) (*url.URL, error) { return e.proxyURL, nil }
	resp, err := c.Get("https://127.0.0.1:" + port + "/v2/")
	if err != nil {
		t.Fatalf("client leg for an IP literal: %v", err)
	}
	resp.Body.Close()
	if f := e.flow(); f.Request.URL.Host != "127.0.0.1:"+port {
		t.Errorf("flow URL host %q", f.Request.URL.Host)
	}
}

func TestPlainHTTPIsProxiedAndRecorded(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer plain.Close()
	_, port, _ := net.SplitHostPort(plain.Listener.Addr().String())
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.Resolve["plain.test"] = "127.0.0.1"
	})
	resp, err := e.client.Get("http://plain.test:" + port + "/v1/_ping")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	f := e.flow()
	if f.Request.URL.String() != "http://plain.test:"+port+"/v1/_ping" || f.Response.Status != 200 || f.Upstream != nil {
		t.Errorf("plain flow = %s %+v", f.Request.URL, f.Response)
	}
}

// The tests below pin each goproxy default that New overrides.

func TestNeverUsesGoproxyBuiltinCA(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	goproxyPool := x509.NewCertPool()
	goproxyPool.AddCert(goproxy.GoproxyCa.Leaf)
	if goproxy.GoproxyCa.Leaf == nil {
		ca, _ := x509.ParseCertificate(goproxy.GoproxyCa.Certificate[0])
		goproxyPool.AddCert(ca)
	}
	c := e.newClient(goproxyPool, false)
	if _, err := c.Get(e.base + "/v2/"); err == nil {
		t.Fatal("a client trusting only goproxy's public CA accepted the proxy's certificate")
	}
}

func TestIgnoresOwnProxyEnvironment(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	if e.proxy.gp.ConnectDial != nil || e.proxy.tr.Proxy != nil {
		t.Error("goproxy dialers or transport read the environment's proxy")
	}
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	if resp, _ := e.do(req); resp.StatusCode != 200 {
		t.Errorf("with HTTPS_PROXY pointing nowhere: %d", resp.StatusCode)
	}
}

func TestUpstreamProxyOption(t *testing.T) {
	var hits sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.Method+" "+r.Host, true)
		http.Error(w, "upstream proxy says no", http.StatusForbidden)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) { o.UpstreamProxy = u })
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	resp, _ := e.do(req)
	if resp.StatusCode != 502 {
		t.Errorf("status %d, want 502 (the upstream proxy refused CONNECT)", resp.StatusCode)
	}
	e.flow()
	if _, ok := hits.Load("CONNECT " + strings.TrimPrefix(e.base, "https://")); !ok {
		t.Error("the upstream proxy saw no CONNECT")
	}
}

// An upstream proxy that cannot be reached fails the CONNECT too, and says
// which hop failed.
func TestUnreachableUpstreamProxyFailsTheConnect(t *testing.T) {
	u := &url.URL{Scheme: "http", Host: fmt.Sprintf("upproxy.test:%d", closedPort(t))}
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.UpstreamProxy = u
		o.Resolve["upproxy.test"] = "127.0.0.1"
	})
	if _, err := e.client.Get(e.base + "/v2/"); err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("client error = %v, want the CONNECT's Bad Gateway", err)
	}
	f := e.flow()
	checkConnectFlow(t, f, strings.TrimPrefix(e.base, "https://"), flow.ErrRefused, "refused")
	if !strings.Contains(f.Err.Message, "upstream proxy "+u.Host) {
		t.Errorf("flow err %v does not name the upstream proxy", f.Err)
	}
}

func TestAcceptEncodingPassesThroughAndNoGzipAdded(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	resp, _ := e.do(req)
	if g := resp.Header.Get("X-Got-Accept-Encoding"); g != "" {
		t.Errorf("origin saw Accept-Encoding %q though the client sent none", g)
	}
	e.flow()
	req, _ = http.NewRequest("GET", e.base+"/v2/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, _ = e.do(req)
	if g := resp.Header.Get("X-Got-Accept-Encoding"); g != "gzip" {
		t.Errorf("origin saw Accept-Encoding %q, want the client's gzip", g)
	}
	e.flow()
	if !e.proxy.tr.DisableCompression || e.proxy.tr.MaxIdleConnsPerHost < 16 || !e.proxy.gp.KeepAcceptEncoding || e.proxy.gp.AllowHTTP2 {
		t.Error("transport defaults not overridden")
	}
}

func TestPanicInOnFlowDoesNotKillTheProxy(t *testing.T) {
	var once sync.Once
	var e *env
	e = newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		next := o.OnFlow
		o.OnFlow = func(f *flow.Flow) {
			once.Do(func() { panic("boom") })
			next(f)
		}
	})
	for range 2 {
		req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
		e.client.Do(req)
	}
	if f := e.flow(); f == nil {
		t.Fatal("no flow after a panic")
	}
}

func TestParseResolve(t *testing.T) {
	for _, c := range []struct{ in, key, addr, err string }{
		{"registry.test:5000=127.0.0.1", "registry.test:5000", "127.0.0.1", ""},
		{"Registry.Test=127.0.0.1:9000", "registry.test", "127.0.0.1:9000", ""},
		{"h:443=[::1]:8443", "h:443", "[::1]:8443", ""},
		{"h:443", "", "", "want host:port=addr"},
		{"h:443=example.com", "", "", "not an IP"},
		{"h:notaport=127.0.0.1", "", "", "bad port"},
		{"=127.0.0.1", "", "", "want host:port=addr"},
	} {
		k, a, err := ParseResolve(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseResolve(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || k != c.key || a != c.addr {
			t.Errorf("ParseResolve(%q) = %q, %q, %v; want %q, %q", c.in, k, a, err, c.key, c.addr)
		}
	}
}

func TestShutdownIsClean(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), nil)
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	e.do(req)
	e.flow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.proxy.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := e.client.Get(e.base + "/v2/"); err == nil {
		t.Error("proxy still answers after Shutdown")
	}
}

// Settle waits for a request still being served and returns once its flow
// has been delivered: a caller that runs one client after another gets
// every flow of the first before the second starts.
func TestSettleWaitsForRequestsInProgress(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/slow/manifests/1" {
			close(arrived)
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}), nil)
	e.do(mustReq(t, http.MethodGet, e.base+"/v2/"))
	e.flow()
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := e.client.Get(e.base + "/v2/slow/manifests/1")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	// Until the slow request has gone through the proxy to the registry
	// (on a loaded machine this can take a while: the wait is not what is
	// tested; the proxy's count of requests in progress may still hold the
	// first one, so it cannot tell)...
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow request never reached the registry")
	}
	// ...then, while it is being served, Settle must not return.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.proxy.Settle(ctx); err == nil {
		t.Fatal("Settle returned while a request was being served")
	}
	close(release)
	<-done
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := e.proxy.Settle(ctx2); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	select {
	case f := <-e.flows:
		if f.Request.URL.Path != "/v2/slow/manifests/1" {
			t.Errorf("flow for %s, want the slow request", f.Request.URL.Path)
		}
	default:
		t.Fatal("Settle returned before the slow request's flow was delivered")
	}
}

func mustReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// RoundTrip is the proxy's recording for a caller in the same process
// (regtrace probe): the flow is delivered when the body is done, and a
// transport failure is the caller's error as well as the flow's Err.
func TestRoundTripRecordsForAnInProcessCaller(t *testing.T) {
	deadPort := closedPort(t)
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.Resolve["dead.test"] = "127.0.0.1"
	})
	c := &http.Client{Transport: e.proxy}
	resp, err := c.Get(e.base + "/v2/?n=1&X-Amz-Signature=secret")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := e.flow()
	if resp.StatusCode != 200 || f.Response == nil || f.Response.Status != 200 || f.Err != nil ||
		f.Response.Body.Size != int64(len(body)) || f.Upstream == nil || f.ClientAddr != "regtrace" {
		t.Errorf("got %d %q, flow %+v", resp.StatusCode, body, f)
	}
	_, err = c.Get(fmt.Sprintf("https://dead.test:%d/v2/", deadPort))
	var fe *flow.Error
	if !errors.As(err, &fe) || fe.Kind != flow.ErrRefused {
		t.Fatalf("a refused connection gave %v, want a *flow.Error of kind %s", err, flow.ErrRefused)
	}
	if f := e.flow(); f.Err == nil || f.Err.Kind != flow.ErrRefused || !f.Response.Synthetic {
		t.Errorf("the failed flow: %+v", f)
	}
}

// A shared proxy: a client without or with wrong proxy credentials gets 407
// with a challenge, recorded, and nothing reaches the upstream; the right
// ones pass, and Proxy-Authorization never goes upstream.
func TestProxyAuthentication(t *testing.T) {
	var upstream atomic.Int32
	var leaked atomic.Bool
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream.Add(1)
		if r.Header.Get("Proxy-Authorization") != "" {
			leaked.Store(true)
		}
		echoHandler(w, r)
	}), func(o *Options, _ *httptest.Server) {
		o.Authenticate = func(v string) (string, bool) {
			for _, u := range []string{"alice", "bob"} {
				if v == "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":pw")) {
					return u, true
				}
			}
			return "", false
		}
	})
	client := func(user *url.Userinfo) *http.Client {
		pu := *e.proxyURL
		pu.User = user
		tr := &http.Transport{Proxy: http.ProxyURL(&pu), TLSClientConfig: &tls.Config{RootCAs: e.mitmCA.pool}, DisableCompression: true}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	for _, tc := range []struct {
		name string
		user *url.Userinfo
		say  string
	}{
		{"none", nil, "no proxy credentials"},
		{"wrong", url.UserPassword("alice", "nope"), "refused"},
	} {
		_, err := client(tc.user).Get(e.base + "/v2/")
		if err == nil || !strings.Contains(err.Error(), "Proxy Authentication Required") {
			t.Errorf("%s: got %v, want a 407", tc.name, err)
		}
		f := e.flow()
		if f.Err == nil || f.Err.Kind != flow.ErrProxyAuth || !strings.Contains(f.Err.Message, tc.say) || f.Response.Status != 407 ||
			!strings.HasPrefix(f.Response.Header.Get("Proxy-Authenticate"), "Basic realm=") || f.Request.Method != http.MethodConnect {
			t.Errorf("%s: flow %+v %+v", tc.name, f.Err, f.Response)
		}
		if (tc.user != nil) != (f.Request.Header.Get("Proxy-Authorization") != "") {
			t.Errorf("%s: the flow does not show whether credentials were sent", tc.name)
		}
	}
	// Plain HTTP through the proxy is gated too.
	req, _ := http.NewRequest("GET", "http://registry.test/v2/", nil)
	if resp, err := client(nil).Do(req); err != nil || resp.StatusCode != 407 {
		t.Errorf("plain HTTP without credentials: %v %v", resp, err)
	} else {
		resp.Body.Close()
		e.flow()
	}
	if upstream.Load() != 0 {
		t.Fatalf("%d refused requests reached the upstream", upstream.Load())
	}
	resp, err := client(url.UserPassword("alice", "pw")).Get(e.base + "/v2/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("with the right credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	if f := e.flow(); f.ProxyUser != "alice" || f.Peer() != "alice" {
		t.Errorf("a tunnelled request of alice's: ProxyUser %q", f.ProxyUser)
	}
	if upstream.Load() != 1 || leaked.Load() {
		t.Errorf("upstream saw %d requests, Proxy-Authorization leaked: %v", upstream.Load(), leaked.Load())
	}
	// Each request carries its own client's user, tunnelled or not.
	if resp, err := client(url.UserPassword("bob", "pw")).Get(e.base + "/v2/"); err == nil {
		resp.Body.Close()
	}
	if f := e.flow(); f.ProxyUser != "bob" {
		t.Errorf("a tunnelled request of bob's: ProxyUser %q", f.ProxyUser)
	}
	if resp, err := client(url.UserPassword("bob", "pw")).Do(req); err == nil {
		resp.Body.Close()
	}
	if f := e.flow(); f.ProxyUser != "bob" || f.Request.URL.Scheme != "http" {
		t.Errorf("a plain HTTP request of bob's: ProxyUser %q, URL %v", f.ProxyUser, f.Request.URL)
	}
	// A refusal names nobody: the user was not authenticated.
	client(url.UserPassword("bob", "nope")).Get(e.base + "/v2/")
	if f := e.flow(); f.ProxyUser != "" {
		t.Errorf("a refused request: ProxyUser %q", f.ProxyUser)
	}
}

// A client that asks regtrace for regtrace's own address (by any name)
// gets a refusal, not a loop, and the proxy keeps serving.
func TestNoLoopThroughItself(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.Resolve["self.test"] = "127.0.0.1"
	})
	_, port, _ := net.SplitHostPort(e.proxyURL.Host)
	for _, target := range []string{"https://" + e.proxyURL.Host + "/v2/", "https://self.test:" + port + "/v2/", "http://self.test:" + port + "/v2/"} {
		resp, err := e.client.Get(target)
		if err == nil {
			resp.Body.Close()
		}
		f := e.flow()
		if f.Err == nil || !strings.Contains(f.Err.Message, "regtrace itself") {
			t.Errorf("%s: %v, flow err %v", target, err, f.Err)
		}
	}
	resp, body := e.do(mustReq(t, "GET", e.base+"/v2/"))
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Errorf("the proxy stopped serving after the loops: %d", resp.StatusCode)
	}
	e.flow()
}

// Clients that never finish their headers on a shared listener are cut off
// after ClientHeaderTimeout, and the proxy goes on serving others.
func TestSlowClientsAreCutOff(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.ClientHeaderTimeout = 300 * time.Millisecond
	})
	var conns []net.Conn
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", e.proxyURL.Host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "CONNECT registry.test:443 HTTP/1.1\r\nHost: registry.test:443\r\nX-Slow: ") // never ends
	}
	resp, body := e.do(mustReq(t, "GET", e.base+"/v2/"))
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("another client while 20 hang: %d", resp.StatusCode)
	}
	e.flow()
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("a stuck client's connection was not closed by the proxy: %v", err)
		}
		c.Close()
	}
}

// TestTraceContextPassesUnchanged: a client's W3C trace context reaches the
// registry as it was sent (regtrace joins the trace, it does not rewrite it)
// and is recorded.
func TestTraceContextPassesUnchanged(t *testing.T) {
	var got http.Header
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}), nil)
	const tp, ts = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	req.Header.Set("Traceparent", tp)
	req.Header.Set("Tracestate", ts)
	e.do(req)
	f := e.flow()
	if got.Get("Traceparent") != tp || got.Get("Tracestate") != ts {
		t.Errorf("upstream got traceparent %q tracestate %q, want them unchanged", got.Get("Traceparent"), got.Get("Tracestate"))
	}
	if f.Request.Header.Get("Traceparent") != tp {
		t.Errorf("recorded traceparent %q", f.Request.Header.Get("Traceparent"))
	}
}

// TestRefusalFloodIsCountedNotRecorded: a client retrying without
// credentials in a loop gets every 407, but past RefusalsRecorded a minute
// its refusals are counted, not recorded; other clients are unaffected.
func TestRefusalFloodIsCountedNotRecorded(t *testing.T) {
	var logs lockedLog
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		o.Authenticate = func(v string) (string, bool) {
			return "ci", v == "Basic "+base64.StdEncoding.EncodeToString([]byte("ci:pw"))
		}
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	const n = 60
	noCreds := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(e.proxyURL)}}
	for range n {
		resp, err := noCreds.Get("http://registry.test/v2/")
		if err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
			t.Fatalf("refusal %v %v: want every request answered 407", resp, err)
		}
		resp.Body.Close()
	}
	for range RefusalsRecorded {
		if f := e.flow(); f.Err == nil || f.Err.Kind != flow.ErrProxyAuth {
			t.Fatalf("recorded %+v, want a refusal", f)
		}
	}
	pu := *e.proxyURL
	pu.User = url.UserPassword("ci", "pw")
	good := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&pu), TLSClientConfig: &tls.Config{RootCAs: e.mitmCA.pool}}}
	resp, err := good.Get(e.base + "/v2/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a client with credentials during the flood: %v %v", resp, err)
	}
	resp.Body.Close()
	if f := e.flow(); f.ProxyUser != "ci" || f.Err != nil {
		t.Errorf("the next flow is not the good client's: %+v", f)
	}
	if got := e.proxy.UnrecordedRefusals(); got["127.0.0.1"] != n-RefusalsRecorded || len(got) != 1 {
		t.Errorf("unrecorded refusals %v, want 127.0.0.1: %d", got, n-RefusalsRecorded)
	}
	if c := strings.Count(logs.String(), "keeps failing proxy authentication"); c != 1 {
		t.Errorf("%d warnings about the flood, want one:\n%s", c, logs.String())
	}
}

func TestRefusalWindow(t *testing.T) {
	var rf refusals
	t0 := time.Unix(1e9, 0)
	var got []string
	for i := range RefusalsRecorded + 2 {
		ok, flood := rf.record("10.0.0.1:"+fmt.Sprint(4000+i), t0.Add(time.Duration(i)*time.Second))
		got = append(got, fmt.Sprint(ok, flood))
	}
	if ok, _ := rf.record("10.0.0.2:1", t0.Add(20*time.Second)); !ok {
		t.Errorf("another address is limited by the first's flood")
	}
	if ok, flood := rf.record("10.0.0.1:5000", t0.Add(61*time.Second)); !ok || flood {
		t.Errorf("a new minute: recorded %v, flood %v", ok, flood)
	}
	want := strings.Repeat("true false ", RefusalsRecorded) + "false true false false"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	if rf.unrec["10.0.0.1"] != 2 {
		t.Errorf("unrecorded %v", rf.unrec)
	}
	// Addresses are bounded.
	for i := range maxRefusalAddrs + 50 {
		for range RefusalsRecorded + 1 {
			rf.record(fmt.Sprintf("10.1.%d.%d:1", i/256, i%256), t0.Add(62*time.Second))
		}
	}
	if len(rf.unrec) > maxRefusalAddrs+1 || rf.unrec["other addresses"] == 0 {
		t.Errorf("%d addresses counted, other addresses %d", len(rf.unrec), rf.unrec["other addresses"])
	}
}

// lockedLog is a log sink the proxy's goroutines write to at once.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
