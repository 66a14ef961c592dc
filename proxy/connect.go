package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// Issue 12: the proxy must not change the failure it shows. Answering a
// CONNECT with 200 before dialing turned "cannot connect" into an HTTP 502
// from "the server" inside the tunnel, which some clients then report as
// an authentication failure (regctl said "unauthorized" of a token realm on
// a closed port). So the proxy dials first, as mitmproxy does by default
// (connection_strategy eager), and a failed dial is the CONNECT's answer.
// The dialed connection is not wasted: the transport's first dial to that
// address takes it (early conns below).

// earlyMaxAge is how long a connection dialed for a CONNECT waits for the
// transport. A client sends its first request milliseconds after its TLS
// handshake with us; servers drop a silent connection after their
// read-header timeout (nginx client_header_timeout: 60 s), and an older
// connection risks failing the request it is given.
const earlyMaxAge = 5 * time.Second

// earlyConn is an upstream connection dialed when a CONNECT arrived, until
// the transport takes it or the tunnel's first request is over.
type earlyConn struct {
	net.Conn
	addr   string // as the transport will dial it, lower-cased
	tm     *timing
	dialed time.Time
}

// earlyConns are connections dialed for CONNECTs, by address.
type earlyConns struct {
	mu    sync.Mutex
	conns map[string][]*earlyConn
}

func (e *earlyConns) put(c *earlyConn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conns == nil {
		e.conns = map[string][]*earlyConn{}
	}
	e.conns[c.addr] = append(e.conns[c.addr], c)
}

// take removes and returns a young connection to addr, closing stale ones.
func (e *earlyConns) take(addr string) *earlyConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(addr)
	cs := e.conns[key]
	if cs == nil {
		return nil
	}
	defer func() { e.set(key, cs) }()
	for len(cs) > 0 {
		c := cs[0]
		cs = cs[1:]
		if time.Since(c.dialed) < earlyMaxAge {
			return c
		}
		c.Close()
	}
	return nil
}

// drop closes c unless the transport has taken it.
func (e *earlyConns) drop(c *earlyConn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := e.conns[c.addr]
	for i, x := range cs {
		if x == c {
			e.set(c.addr, append(cs[:i:i], cs[i+1:]...))
			c.Close()
			return
		}
	}
}

// closeAll closes every connection no transport took.
func (e *earlyConns) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, cs := range e.conns {
		for _, c := range cs {
			c.Close()
		}
	}
	clear(e.conns)
}

func (e *earlyConns) set(addr string, cs []*earlyConn) {
	if len(cs) == 0 {
		delete(e.conns, addr)
		return
	}
	e.conns[addr] = cs
}

// dialAddr is the address the transport dials for a request to target:
// the upstream proxy's when there is one (the transport then sends its
// own CONNECT over the connection).
func (p *Proxy) dialAddr(target string) string {
	u := p.opts.UpstreamProxy
	if u == nil {
		return target
	}
	if u.Port() != "" {
		return u.Host
	}
	port := map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	return net.JoinHostPort(u.Hostname(), port)
}

// dialEarly dials what the tunnel to target will need, with its DNS and
// connect times.
func (p *Proxy) dialEarly(ctx context.Context, target string) (*earlyConn, error) {
	addr := p.dialAddr(target)
	tm := &timing{start: time.Now()}
	c, err := p.dialDirect(httptrace.WithClientTrace(ctx, tm.trace()), "tcp", addr)
	if err != nil {
		return &earlyConn{addr: addr, tm: tm}, err
	}
	return &earlyConn{Conn: c, addr: strings.ToLower(addr), tm: tm, dialed: time.Now()}, nil
}

// connectFailed answers a CONNECT whose upstream could not be reached with
// 502, as a proxy that cannot connect does, and records it as a flow: the
// client's own error is then a failed proxy CONNECT, not an HTTP answer
// from the registry.
func (p *Proxy) connectFailed(req *http.Request, client net.Conn, start time.Time, target string, ec *earlyConn, err error) {
	f := &flow.Flow{
		ID:         flow.ID(p.nextID.Add(1)),
		Start:      start,
		ClientAddr: req.RemoteAddr,
		ProxyUser:  proxyUser(req),
		Request: flow.Request{
			Method: http.MethodConnect,
			// Authority form as sent, with https so that it is absolute
			// (HAR wants an absolute URL; decode/har reads mitmproxy's
			// bare host:port the same way).
			URL:    &url.URL{Scheme: "https", Host: target},
			Proto:  req.Proto,
			Header: req.Header.Clone(),
			Body:   flow.Body{Complete: true},
		},
	}
	e := p.classify(&http.Request{Method: http.MethodConnect, URL: f.Request.URL}, err, nil)
	if p.opts.UpstreamProxy != nil {
		e.Message = fmt.Sprintf("upstream proxy %s: %s", p.opts.UpstreamProxy.Host, e.Message)
	}
	f.Err = e
	h, msg := badGateway(e)
	f.Response = syntheticResponse(h, msg)
	// A CONNECT's answer ends the exchange: the client must not take the
	// connection for a tunnel.
	h.Set("Connection", "close")
	var b strings.Builder
	b.WriteString("HTTP/1.1 502 Bad Gateway\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.WriteString(msg)
	_ = client.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, _ = client.Write([]byte(b.String()))
	f.Timings, _ = ec.tm.timings(time.Now())
	p.log.Debug("CONNECT upstream unreachable", "target", target, "err", e)
	p.deliver(f)
}

// badGateway is the header and body of the 502 that says why the upstream
// exchange failed.
// syntheticResponse records the 502 the proxy answers in place of an
// upstream it could not use.
func syntheticResponse(h http.Header, msg string) *flow.Response {
	return &flow.Response{
		Status:    http.StatusBadGateway,
		Proto:     "HTTP/1.1",
		Header:    h.Clone(),
		Synthetic: true,
		Body:      flow.Body{Captured: []byte(msg), Size: int64(len(msg)), Complete: true},
	}
}

func badGateway(e *flow.Error) (http.Header, string) {
	msg := "regtrace: " + e.Message + "\n"
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Regtrace-Error", string(e.Kind)+": "+oneLine(e.Message))
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	return h, msg
}
