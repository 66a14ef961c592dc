package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

func (p *Proxy) newTransport() *http.Transport {
	tr := &http.Transport{
		DialContext: p.dial,
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            p.opts.UpstreamRoots,
			InsecureSkipVerify: p.opts.InsecureUpstream, //nolint:gosec // only when --insecure-upstream
		},
		// A custom TLSClientConfig turns HTTP/2 off unless forced; registries
		// and CDNs speak h2.
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   32, // docker pulls 3 layers at once, containerd more
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: p.opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
	if p.opts.UpstreamProxy != nil {
		tr.Proxy = http.ProxyURL(p.opts.UpstreamProxy)
	}
	return tr
}

// dial is the transport's dialer: a connection dialed for a CONNECT to
// addr if one is waiting (its DNS and connect times go to the request
// that takes it), else a new one.
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := p.early.take(addr); c != nil {
		if tm, ok := ctx.Value(timingKey{}).(*timing); ok {
			tm.adopt(c.tm)
		}
		return c.Conn, nil
	}
	return p.dialDirect(ctx, network, addr)
}

// dialDirect applies Resolve, then dials.
func (p *Proxy) dialDirect(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: p.opts.DialTimeout, KeepAlive: 30 * time.Second, Resolver: p.opts.resolver}
	c, err := d.DialContext(ctx, network, p.resolve(addr))
	if err != nil {
		return nil, err
	}
	if p.isSelf(c) {
		c.Close()
		return nil, errLoop
	}
	return &upstreamConn{Conn: c}, nil
}

// errLoop: an upstream dial reached the proxy itself (a client asking
// regtrace for regtrace's own address, or an upstream proxy that is
// regtrace): serving it would loop until the file descriptors ran out.
var errLoop = errors.New("that address is regtrace itself: a request through regtrace to regtrace would loop")

// isSelf reports whether c goes to this host on a port the proxy listens
// on, whatever name or address led there.
func (p *Proxy) isSelf(c net.Conn) bool {
	r, ok1 := c.RemoteAddr().(*net.TCPAddr)
	l, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 || !r.IP.Equal(l.IP) {
		return false
	}
	p.portsMu.Lock()
	defer p.portsMu.Unlock()
	return p.ports[r.Port]
}

func (p *Proxy) resolve(addr string) string {
	if len(p.opts.Resolve) == 0 {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	to, ok := p.opts.Resolve[strings.ToLower(addr)]
	if !ok {
		to, ok = p.opts.Resolve[strings.ToLower(host)]
	}
	if !ok {
		return addr
	}
	if _, _, err := net.SplitHostPort(to); err == nil {
		return to
	}
	return net.JoinHostPort(strings.Trim(to, "[]"), port)
}

// timingKey carries a request's *timing to the dialer.
type timingKey struct{}

// timing collects httptrace events for one request. Events arrive on the
// transport's goroutines, hence the lock.
type timing struct {
	mu                                     sync.Mutex
	start, getConn, dnsStart, dnsDone      time.Time
	connStart, connDone, tlsStart, tlsDone time.Time
	gotConn, wrote, firstByte              time.Time
	reused                                 bool
	remote                                 string
}

func (t *timing) trace() *httptrace.ClientTrace {
	set := func(dst *time.Time) func() {
		return func() {
			t.mu.Lock()
			if dst.IsZero() {
				*dst = time.Now()
			}
			t.mu.Unlock()
		}
	}
	return &httptrace.ClientTrace{
		GetConn:              func(string) { set(&t.getConn)() },
		DNSStart:             func(httptrace.DNSStartInfo) { set(&t.dnsStart)() },
		DNSDone:              func(httptrace.DNSDoneInfo) { set(&t.dnsDone)() },
		ConnectStart:         func(string, string) { set(&t.connStart)() },
		ConnectDone:          func(string, string, error) { set(&t.connDone)() },
		TLSHandshakeStart:    set(&t.tlsStart),
		TLSHandshakeDone:     func(tls.ConnectionState, error) { set(&t.tlsDone)() },
		WroteRequest:         func(httptrace.WroteRequestInfo) { set(&t.wrote)() },
		GotFirstResponseByte: set(&t.firstByte),
		GotConn: func(info httptrace.GotConnInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.gotConn.IsZero() {
				t.gotConn = time.Now()
				t.reused = info.Reused
				if info.Conn != nil {
					t.remote = info.Conn.RemoteAddr().String()
				}
			}
		},
	}
}

// adopt takes the DNS and connect times of a connection dialed earlier,
// for the request that is first to use it.
func (t *timing) adopt(from *timing) {
	from.mu.Lock()
	dnsStart, dnsDone, connStart, connDone := from.dnsStart, from.dnsDone, from.connStart, from.connDone
	from.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.connStart.IsZero() {
		t.dnsStart, t.dnsDone, t.connStart, t.connDone = dnsStart, dnsDone, connStart, connDone
	}
}

func span(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return -1
	}
	return b.Sub(a)
}

func (t *timing) timings(end time.Time) (flow.Timings, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tm := flow.Timings{
		DNS:     span(t.dnsStart, t.dnsDone),
		Connect: span(t.connStart, t.connDone),
		TLS:     span(t.tlsStart, t.tlsDone),
		Send:    span(t.gotConn, t.wrote),
		Wait:    span(t.wrote, t.firstByte),
		Receive: span(t.firstByte, end),
		Reused:  t.reused,
	}
	if b := span(t.start, t.gotConn); b >= 0 {
		// A connection dialed for the CONNECT was dialed before the
		// request started: that time was not spent waiting.
		for _, x := range [...]struct {
			from time.Time
			d    time.Duration
		}{{t.dnsStart, tm.DNS}, {t.connStart, tm.Connect}, {t.tlsStart, tm.TLS}} {
			if x.d > 0 && !x.from.Before(t.start) {
				b -= x.d
			}
		}
		tm.Blocked = max(b, 0)
	} else {
		tm.Blocked = -1
	}
	return tm, t.remote
}

// roundTrip is installed as every request's goproxy RoundTripper. It records
// the exchange and never returns an error: goproxy would close the client's
// connection without a word, so failures become a 502 that says what happened.
func (p *Proxy) roundTrip(req *http.Request, _ *goproxy.ProxyCtx) (resp *http.Response, _ error) {
	f := &flow.Flow{
		ID:         flow.ID(p.nextID.Add(1)),
		Start:      time.Now(),
		ClientAddr: req.RemoteAddr,
		ProxyUser:  proxyUser(req),
		Request: flow.Request{
			Method: req.Method,
			URL:    cloneURL(req.URL),
			Proto:  req.Proto,
			// Not cloned: once goproxy has removed the proxy headers,
			// nothing changes the map (the transport only reads it).
			Header: req.Header,
		},
	}
	if req.Host != "" && req.Host != req.URL.Host {
		f.Request.Host = req.Host
	}
	if p.opts.OnStart != nil {
		p.opts.OnStart(f.ID, f.Peer())
	}
	tm := &timing{start: f.Start}
	var reqCap *capture
	if req.Body != nil && req.Body != http.NoBody {
		reqCap = newCapture(req.Header.Get("Content-Type"), p.opts.CaptureLimit)
		req.Body = &reqBody{rc: req.Body, c: reqCap}
	} else {
		reqCap = newCapture("", 0)
		reqCap.end(true, nil)
	}
	var finished sync.Once
	tc, _ := req.Context().Value(ctxKey{}).(*tunnelConn)
	finish := func(err *flow.Error) { finished.Do(func() { p.finishFlow(f, reqCap, tm, err, tc) }) }
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("panic while proxying", "flow", f.ID, "panic", v)
			e := &flow.Error{Kind: flow.ErrProxy, Message: fmt.Sprintf("regtrace internal error: %v", v)}
			resp = p.failure(req, f, e)
			finish(e)
		}
	}()

	out := req.WithContext(httptrace.WithClientTrace(context.WithValue(req.Context(), timingKey{}, tm), tm.trace()))
	up, err := p.tr.RoundTrip(out)
	if err != nil {
		e := p.classify(req, err, reqCap)
		if up != nil && up.Body != nil {
			up.Body.Close()
		}
		resp = p.failure(req, f, e)
		finish(e)
		return resp, nil
	}
	f.Response = &flow.Response{
		Status:  up.StatusCode,
		Proto:   up.Proto,
		Header:  up.Header, // goproxy only reads it; see the chunked case below
		Trailer: nil,
	}
	if up.TLS != nil {
		f.Upstream = p.upstreamTLS(up.TLS)
	}
	if bodyless(req.Method, up.StatusCode) || up.Body == nil || up.Body == http.NoBody {
		if up.Body != nil {
			up.Body.Close()
		}
		up.Body = http.NoBody
		f.Response.Body.Complete = true
		finish(nil)
		return up, nil
	}
	if up.ContentLength < 0 && len(up.TransferEncoding) > 0 {
		// Keep chunked framing towards the client: without this net/http
		// would buffer a short body and give it a Content-Length.
		up.Header = up.Header.Clone()
		up.Header.Set("Transfer-Encoding", "chunked")
	}
	rc := newCapture(up.Header.Get("Content-Type"), p.opts.CaptureLimit)
	want := up.ContentLength
	rb := &respBody{rc: up.Body, c: rc, finish: func(rerr error, complete bool) {
		f.Response.Body = rc.body()
		f.Response.Trailer = up.Trailer.Clone()
		var e *flow.Error
		switch {
		case rerr != nil && (errors.Is(rerr, context.Canceled) || req.Context().Err() != nil):
			// net/http cancels the request when the client's connection
			// closes: the client went away, not the upstream.
			e = &flow.Error{Kind: flow.ErrClientClosed, Message: fmt.Sprintf(
				"client hung up after %d%s response body bytes", f.Response.Body.Size, of(want))}
		case rerr != nil:
			e = &flow.Error{Kind: flow.ErrUpstreamClosed, Message: fmt.Sprintf(
				"upstream %s failed after %d%s response body bytes: %s",
				req.URL.Host, f.Response.Body.Size, of(want), redact.Error(rerr))}
		case !complete:
			e = &flow.Error{Kind: flow.ErrClientClosed, Message: fmt.Sprintf(
				"client hung up after %d%s response body bytes", f.Response.Body.Size, of(want))}
		}
		finish(e)
	}}
	up.Body = rb
	if tc != nil && (want < 0 || want >= streamMin) {
		up.Body = &streamBody{respBody: rb, out: tc.out}
	}
	return up, nil
}

// finishFlow completes f and hands it to OnFlow, at once or, for an
// exchange in a tunnel, once the client has the whole response.
func (p *Proxy) finishFlow(f *flow.Flow, reqCap *capture, tm *timing, err *flow.Error, tc *tunnelConn) {
	f.Request.Body = reqCap.body()
	f.Err = err
	var remote string
	f.Timings, remote = tm.timings(time.Now())
	if f.Upstream != nil && remote != "" {
		if h, _, err := net.SplitHostPort(remote); err == nil {
			f.Upstream.ServerIP = h
		}
	}
	if tc != nil && tc.later(f) {
		return
	}
	p.deliver(f)
}

// deliver calls OnFlow, whose panics must not take the proxy down: they
// are logged.
func (p *Proxy) deliver(f *flow.Flow) {
	if p.opts.OnFlow == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("panic in OnFlow", "flow", f.ID, "panic", v)
		}
	}()
	p.opts.OnFlow(f)
}

func of(n int64) string {
	if n < 0 {
		return ""
	}
	return " of " + strconv.FormatInt(n, 10)
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	if u.User != nil {
		ui := *u.User
		c.User = &ui
	}
	return &c
}

// failure makes the 502 the client gets when the upstream exchange failed,
// and records it on the flow as synthetic.
func (p *Proxy) failure(req *http.Request, f *flow.Flow, e *flow.Error) *http.Response {
	if slot, ok := req.Context().Value(directErr{}).(**flow.Error); ok {
		*slot = e
	}
	h, msg := badGateway(e)
	var body io.ReadCloser = io.NopCloser(strings.NewReader(msg))
	if req.Method == http.MethodHead {
		body = http.NoBody
	}
	f.Response = syntheticResponse(h, msg)
	return &http.Response{
		Status:        "502 Bad Gateway",
		StatusCode:    http.StatusBadGateway,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          body,
		ContentLength: int64(len(msg)),
		Request:       req,
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// classify turns a transport error into a flow.Error whose message names the
// host and says what happened in words. URLs are redacted: url.Error carries
// the full request URL, signed query and all. reqCap is nil for a CONNECT.
func (p *Proxy) classify(req *http.Request, err error, reqCap *capture) *flow.Error {
	host := req.URL.Host
	if reqCap != nil {
		if rerr := reqCap.readErr(); rerr != nil {
			return &flow.Error{Kind: flow.ErrClientClosed, Message: fmt.Sprintf(
				"client hung up while sending the request body (after %d bytes): %s", reqCap.body().Size, redact.Error(rerr))}
		}
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	msg := redact.Error(inner)
	var (
		dnsErr  *net.DNSError
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		rec     tls.RecordHeaderError
		alert   tls.AlertError
		nerr    net.Error
	)
	switch {
	case errors.Is(err, errLoop):
		return &flow.Error{Kind: flow.ErrProxy, Message: fmt.Sprintf("refused %s: %v", host, errLoop)}
	case errors.As(err, &dnsErr):
		return &flow.Error{Kind: flow.ErrDNS, Message: fmt.Sprintf("cannot resolve upstream %s: %s (regtrace resolves names itself; map test names with --resolve host:port=addr)", host, msg)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &flow.Error{Kind: flow.ErrRefused, Message: fmt.Sprintf("upstream %s refused the connection (%s): nothing is listening there", host, p.resolve(hostPort(req.URL)))}
	case errors.As(err, &unknown):
		issuer := ""
		if unknown.Cert != nil {
			issuer = fmt.Sprintf(" (issuer %q)", unknown.Cert.Issuer.String())
		}
		return &flow.Error{Kind: flow.ErrUnknownAuthority, Message: fmt.Sprintf("upstream %s presented a certificate signed by an unknown authority%s: trust its CA with --upstream-ca FILE, or --insecure-upstream", host, issuer)}
	case errors.As(err, &hostErr):
		return &flow.Error{Kind: flow.ErrCertificate, Message: fmt.Sprintf("upstream %s presented a certificate for other names: %s", host, msg)}
	case errors.As(err, &invalid):
		return &flow.Error{Kind: flow.ErrCertificate, Message: fmt.Sprintf("upstream %s presented an invalid certificate: %s", host, msg)}
	case errors.As(err, &verify):
		return &flow.Error{Kind: flow.ErrCertificate, Message: fmt.Sprintf("upstream %s certificate rejected: %s", host, msg)}
	case errors.As(err, &rec):
		return &flow.Error{Kind: flow.ErrTLS, Message: fmt.Sprintf("upstream %s does not speak TLS on that port: %s", host, msg)}
	case errors.As(err, &alert):
		return &flow.Error{Kind: flow.ErrTLS, Message: fmt.Sprintf("upstream %s refused the TLS handshake: %s", host, msg)}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &nerr) && nerr.Timeout():
		return &flow.Error{Kind: flow.ErrTimeout, Message: fmt.Sprintf("upstream %s timed out: %s", host, msg)}
	case errors.Is(err, context.Canceled):
		return &flow.Error{Kind: flow.ErrClientClosed, Message: fmt.Sprintf("client went away before %s answered", host)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return &flow.Error{Kind: flow.ErrUpstreamClosed, Message: fmt.Sprintf("upstream %s closed the connection without answering: %s", host, msg)}
	}
	return &flow.Error{Kind: flow.ErrOther, Message: fmt.Sprintf("upstream %s: %s", host, msg)}
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// upstreamTLS describes an upstream connection for a flow. The transport
// gives every response on one connection the same *tls.ConnectionState, so
// the description (certificate names as strings: 3% of the proxy's CPU
// under small requests, and tls.CipherSuiteName allocates its whole table)
// is made once per connection; flows of one connection share the Chain
// slice, which nobody writes.
func (p *Proxy) upstreamTLS(cs *tls.ConnectionState) *flow.TLSInfo {
	p.tlsMu.Lock()
	t, ok := p.tlsInfos[cs]
	if !ok {
		t = tlsInfo(cs, p.opts.InsecureUpstream)
		if len(p.tlsInfos) >= tlsInfoCache {
			clear(p.tlsInfos) // closed connections' states go with it
		}
		p.tlsInfos[cs] = t
	}
	p.tlsMu.Unlock()
	c := *t
	return &c
}

// tlsInfoCache bounds the connections whose description is kept: more
// than MaxIdleConns (256), so a steady set of upstreams is never evicted.
const tlsInfoCache = 512

func tlsInfo(cs *tls.ConnectionState, insecure bool) *flow.TLSInfo {
	t := &flow.TLSInfo{
		Version:     tls.VersionName(cs.Version),
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		ALPN:        cs.NegotiatedProtocol,
		ServerName:  cs.ServerName,
		Insecure:    insecure,
	}
	for _, c := range cs.PeerCertificates {
		t.Chain = append(t.Chain, flow.CertSummary{
			Subject:   c.Subject.String(),
			Issuer:    c.Issuer.String(),
			DNSNames:  c.DNSNames,
			NotBefore: c.NotBefore,
			NotAfter:  c.NotAfter,
		})
	}
	return t
}

// directErr carries, for a request made with RoundTrip, where the
// transport failure of its flow goes.
type directErr struct{}

// RoundTrip sends req upstream through the proxy's own transport and
// recording, as if a client had sent it through the proxy (regtrace probe
// is that client): the flow goes to OnFlow when the response body is closed
// or read to its end, with the same timings, captured bodies and upstream
// TLS facts. Unlike a proxied client, which gets a 502, the caller gets the
// transport failure as an error (its message redacted), and the flow
// records it as Err.
func (p *Proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	var e *flow.Error
	req = req.WithContext(context.WithValue(req.Context(), directErr{}, &e))
	if req.RemoteAddr == "" {
		req.RemoteAddr = "regtrace"
	}
	resp, err := p.roundTrip(req, nil)
	if err == nil && e != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, e
	}
	return resp, err
}
