// Package proxy is regtrace's MITM proxy: it accepts CONNECT and plain HTTP
// proxy requests, terminates the client's TLS with a leaf from the caller's
// GetCertificate, streams every byte to the upstream and back, and records each
// exchange as a flow.Flow.
//
// It is built on github.com/elazarl/goproxy, with each of goproxy's unsafe
// defaults overridden (its public built-in CA, unverified upstream TLS, the
// environment's HTTPS_PROXY, stripped Accept-Encoding). The client-side TLS
// handshake is taken over with ConnectHijack so that a client refusing the CA
// is recorded, not just logged, and each tunnel is served by net/http, which
// handles keep-alive and framing; requests then go through goproxy's handler
// chain with our recording RoundTripper.
//
// proxy imports decode/flow and decode/redact only; it knows nothing of certs
// (it takes a GetCertificate func) or of registry meaning.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/regtrace/regtrace/decode/flow"
)

// Proxy is a recording MITM proxy. Create it with New, run it with Serve,
// stop it with Shutdown or Close.
type Proxy struct {
	opts   Options
	log    *slog.Logger
	gp     *goproxy.ProxyHttpServer
	tr     *http.Transport
	outer  *http.Server // the proxy port: CONNECT and plain HTTP
	inner  *http.Server // serves decrypted tunnels
	tunnel *connQueue
	nextID atomic.Uint64
	held   heldFlows  // flows waiting in tunnels for their response to be written
	early  earlyConns // upstream connections dialed for CONNECTs
	// refused counts 407s per client, to stop recording a flood of them.
	refused refusals

	tlsMu    sync.Mutex
	tlsInfos map[*tls.ConnectionState]*flow.TLSInfo // by upstream connection

	mu       sync.Mutex
	closing  bool
	innerRun sync.Once

	// ports are the TCP ports the proxy listens on: an upstream dial that
	// lands on one of them on this host is regtrace itself.
	portsMu sync.Mutex
	ports   map[int]bool
}

type ctxKey struct{}

// tunnelConn is a client connection whose TLS the proxy terminated, with the
// CONNECT target it was opened for.
type tunnelConn struct {
	*tls.Conn
	target string     // host:port from CONNECT
	user   string     // the proxy user the CONNECT authenticated as
	out    *batchConn // under the tls.Conn: gathers records of large bodies
	// early is the upstream connection dialed for the CONNECT, closed
	// after the first request unless the transport took it.
	early atomic.Pointer[earlyConn]

	// Flows of the request being served wait here until its response is
	// on its way to the client (the connection goes idle or closes), so
	// that OnFlow (decoding, printing, the HAR) never delays a response.
	// Profiles of regtrace proxy under small requests had a fifth of the
	// proxy's time in OnFlow, on the client's path and under its lock.
	// (A queue to one delivering goroutine cost more in wake-ups than it
	// saved on this 2-core machine.)
	mu      sync.Mutex
	serving bool
	pending []*flow.Flow
	held    *heldFlows // the proxy's count of pending flows
}

// begin marks the start of a request on the connection.
// The request counts as held until its flows are delivered: a client may
// have its whole response, and exit, before the handler returns.
func (t *tunnelConn) begin() {
	t.mu.Lock()
	if !t.serving {
		t.held.add(1)
	}
	t.serving = true
	t.mu.Unlock()
}

// later keeps f for the end of the request being served; false if none is.
func (t *tunnelConn) later(f *flow.Flow) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.serving {
		return false
	}
	t.pending = append(t.pending, f)
	t.held.add(1)
	return true
}

// end returns the flows kept during the request that just ended, and how
// many held counts that releases (the flows and the request itself).
func (t *tunnelConn) end() ([]*flow.Flow, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fs, n := t.pending, len(t.pending)
	if t.serving {
		n++
	}
	t.serving, t.pending = false, nil
	return fs, n
}

// New returns a Proxy. It does not listen: call Serve.
func New(opts Options) (*Proxy, error) {
	if opts.GetCertificate == nil {
		return nil, errors.New("proxy: Options.GetCertificate is required")
	}
	if opts.CaptureLimit == 0 {
		opts.CaptureLimit = DefaultCaptureLimit
	}
	if opts.ResponseHeaderTimeout == 0 {
		opts.ResponseHeaderTimeout = 5 * time.Minute
	}
	if opts.ClientHeaderTimeout == 0 {
		opts.ClientHeaderTimeout = 30 * time.Second
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 30 * time.Second
	}
	p := &Proxy{opts: opts, log: opts.Logger, tunnel: newConnQueue(), tlsInfos: map[*tls.ConnectionState]*flow.TLSInfo{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.tr = p.newTransport()

	gp := goproxy.NewProxyHttpServer()
	// Every default below is goproxy's, and unsafe for this tool.
	gp.Tr = p.tr                 // not InsecureSkipVerify + ProxyFromEnvironment
	gp.ConnectDial = nil         // never follow our own HTTPS_PROXY
	gp.ConnectDialWithReq = nil  //
	gp.KeepAcceptEncoding = true // bytes as the registry sent them
	gp.AllowHTTP2 = false        // its h2 path would bypass our handlers
	gp.Verbose = false           //
	gp.Logger = goproxyLogger{p.log}
	gp.CertStore = nil
	gp.NonproxyHandler = http.HandlerFunc(p.serveNonProxy)
	gp.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		ctx.RoundTripper = goproxy.RoundTripperFunc(p.roundTrip)
		return r, nil
	})
	gp.OnRequest().HandleConnectFunc(func(host string, ctx *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		// Never goproxy.MitmConnect or AlwaysMitm: they sign with a CA whose
		// key is public.
		return &goproxy.ConnectAction{Action: goproxy.ConnectHijack, Hijack: p.hijack}, host
	})
	p.gp = gp

	var outer http.Handler = gp
	if opts.Authenticate != nil {
		outer = p.gate(gp)
	}
	p.outer = &http.Server{
		Handler:           outer,
		ReadHeaderTimeout: opts.ClientHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		// HTTP/1.1 only: goproxy's CONNECT handling needs a Hijacker.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	p.inner = &http.Server{
		Handler:           http.HandlerFunc(p.serveTunnel),
		ReadHeaderTimeout: 60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, c)
		},
		// Idle: the response has been written and flushed.
		ConnState: func(c net.Conn, s http.ConnState) {
			if tc, ok := c.(*tunnelConn); ok && s != http.StateNew && s != http.StateActive {
				if ec := tc.early.Swap(nil); ec != nil {
					p.early.drop(ec) // the first request is over, or none came
				}
				fs, n := tc.end()
				for _, f := range fs {
					p.deliver(f)
				}
				p.held.add(-n)
			}
		},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	return p, nil
}

// Serve accepts proxy connections on ln until Shutdown or Close. It returns
// http.ErrServerClosed after a shutdown.
func (p *Proxy) Serve(ln net.Listener) error {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		p.portsMu.Lock()
		if p.ports == nil {
			p.ports = map[int]bool{}
		}
		p.ports[a.Port] = true
		p.portsMu.Unlock()
	}
	p.innerRun.Do(func() {
		go func() { _ = p.inner.Serve(p.tunnel) }()
	})
	return p.outer.Serve(ln)
}

// Shutdown stops accepting, lets exchanges in progress finish until ctx is
// done, then closes everything.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	err := p.outer.Shutdown(ctx)
	if e := p.inner.Shutdown(ctx); err == nil {
		err = e
	}
	p.tunnel.Close()
	p.tr.CloseIdleConnections()
	p.early.closeAll()
	p.held.wait(ctx)
	return err
}

// Close closes the proxy and every connection at once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	err := p.outer.Close()
	if e := p.inner.Close(); err == nil {
		err = e
	}
	p.tunnel.Close()
	p.tr.CloseIdleConnections()
	p.early.closeAll()
	// The closed connections' goroutines deliver what they held.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.held.wait(ctx)
	return err
}

// Settle waits until every request the proxy has begun to serve has had
// its flows delivered to OnFlow, or ctx is done. A client that has exited
// has all its answers, but the proxy delivers a tunnel's flows only once
// the connection goes idle or closes: Settle is how a caller that runs
// clients one after another (a test, regtrace run) knows it has every flow.
func (p *Proxy) Settle(ctx context.Context) error {
	p.held.wait(ctx)
	return ctx.Err()
}

// heldFlows counts flows kept for delivery once their response is written,
// so that Shutdown and Close return only after OnFlow has had them (net/http
// lets a server shut down before its ConnState hooks have run).
type heldFlows struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n is zero; nil means never waited on
}

func (h *heldFlows) add(d int) {
	if d == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n += d
	if h.n == 0 && h.zero != nil {
		close(h.zero)
		h.zero = nil
	}
}

func (h *heldFlows) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// wait returns when no flow is held, or when ctx is done.
func (h *heldFlows) wait(ctx context.Context) {
	h.mu.Lock()
	if h.n == 0 {
		h.mu.Unlock()
		return
	}
	if h.zero == nil {
		h.zero = make(chan struct{})
	}
	zero := h.zero
	h.mu.Unlock()
	select {
	case <-zero:
	case <-ctx.Done():
	}
}

func (p *Proxy) serveNonProxy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "regtrace is a proxy: point a client at it with HTTPS_PROXY=http://%s\n", r.Host)
}

// hijack takes a CONNECT tunnel: it dials the upstream (a failure is the
// CONNECT's answer, see connect.go), answers 200, does the client TLS
// handshake itself (so a failure is recorded, not just logged), and hands the
// decrypted connection to the inner server.
func (p *Proxy) hijack(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
	var ec *earlyConn
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("panic in CONNECT handler", "target", req.URL.Host, "panic", v)
			if ec != nil && ec.Conn != nil {
				p.early.drop(ec)
			}
			client.Close()
		}
	}()
	start := time.Now()
	target := req.URL.Host
	if _, _, err := net.SplitHostPort(target); err != nil {
		target = net.JoinHostPort(strings.Trim(target, "[]"), "443")
	}
	host, _, _ := net.SplitHostPort(target)
	ec, err := p.dialEarly(req.Context(), target)
	if err != nil {
		p.connectFailed(req, client, start, target, ec, err)
		client.Close()
		return
	}
	p.early.put(ec)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		p.early.drop(ec)
		client.Close()
		return
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Clients are offered HTTP/1.1 only: every registry client accepts
		// it, and it keeps one recording path.
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName == "" {
				h := *hello
				h.ServerName = host
				hello = &h
			}
			return p.opts.GetCertificate(hello)
		},
	}
	out := &batchConn{Conn: client}
	tc := tls.Server(out, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		p.early.drop(ec)
		p.handshakeFailed(req, client, tc, target, err)
		client.Close()
		return
	}
	t := &tunnelConn{Conn: tc, target: target, user: proxyUser(req), out: out, held: &p.held}
	t.early.Store(ec)
	if !p.tunnel.Push(t) {
		p.early.drop(ec)
		tc.Close()
	}
}

func (p *Proxy) handshakeFailed(req *http.Request, client net.Conn, tc *tls.Conn, target string, err error) {
	h := flow.HandshakeFailure{
		Time:       time.Now(),
		ClientAddr: client.RemoteAddr().String(),
		ProxyUser:  proxyUser(req),
		Target:     target,
		ServerName: tc.ConnectionState().ServerName,
		Message:    err.Error(),
		Reason:     handshakeReason(err),
	}
	p.log.Debug("client TLS handshake failed", "target", target, "err", err)
	if p.opts.OnHandshakeFailure != nil {
		p.opts.OnHandshakeFailure(h)
	}
}

// handshakeReason reads a client handshake error the way a support engineer
// would, after mitmproxy's classification of the same alerts.
func handshakeReason(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "unknown certificate authority"), strings.Contains(msg, "unknown ca"),
		strings.Contains(msg, "bad certificate"), strings.Contains(msg, "certificate unknown"):
		return "the client does not trust the regtrace CA"
	case strings.Contains(msg, "bad record mac"):
		// OpenSSL clients (curl) send their "unknown CA" alert unencrypted
		// after ServerHello, which Go reads as a record that fails its MAC.
		return "the client aborted the handshake: it most likely does not trust the regtrace CA"
	case strings.Contains(msg, "eof"), strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"):
		return "the client closed the connection during the handshake: it may not trust the regtrace CA"
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline"):
		return "the client did not complete the TLS handshake in time"
	case strings.Contains(msg, "first record does not look like a tls handshake"):
		return "the client sent plain HTTP inside a CONNECT tunnel"
	case strings.Contains(msg, "protocol version"), strings.Contains(msg, "no cipher suite"):
		return "the client and regtrace share no TLS version or cipher suite"
	}
	return "TLS handshake with the client failed"
}

// serveTunnel serves one request read from a decrypted tunnel: it makes the
// URL absolute and hands the request to goproxy's HTTP handler chain.
func (p *Proxy) serveTunnel(w http.ResponseWriter, r *http.Request) {
	tc, _ := r.Context().Value(ctxKey{}).(*tunnelConn)
	if tc == nil {
		http.Error(w, "regtrace: request without a tunnel", http.StatusInternalServerError)
		return
	}
	if r.Method == http.MethodConnect {
		http.Error(w, "regtrace: CONNECT inside a tunnel is not supported", http.StatusMethodNotAllowed)
		return
	}
	tc.begin()
	r.URL.Scheme = "https"
	host, port, _ := net.SplitHostPort(tc.target)
	if port == "443" {
		r.URL.Host = bracket(host)
	} else {
		r.URL.Host = tc.target
	}
	p.gp.ServeHTTP(w, r)
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// goproxyLogger sends goproxy's printf logging to our logger at debug level,
// so it never lands on the live console.
type goproxyLogger struct{ l *slog.Logger }

func (g goproxyLogger) Printf(format string, v ...any) {
	g.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "from", "goproxy")
}

// connQueue is a net.Listener fed by hijack with decrypted tunnels.
type connQueue struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.closed.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return tunnelAddr{} }

type tunnelAddr struct{}

func (tunnelAddr) Network() string { return "tunnel" }
func (tunnelAddr) String() string  { return "regtrace-tunnels" }
