package proxy

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// userKey carries the authenticated proxy user in a request's context.
type userKey struct{}

// proxyUser is the proxy user a request authenticated as: on the request
// itself (plain HTTP, CONNECT) or on the tunnel it came through.
func proxyUser(r *http.Request) string {
	if u, ok := r.Context().Value(userKey{}).(string); ok {
		return u
	}
	if tc, ok := r.Context().Value(ctxKey{}).(*tunnelConn); ok {
		return tc.user
	}
	return ""
}

// gate lets through only requests whose Proxy-Authorization
// Options.Authenticate accepts; the header goes no further in either case.
func (p *Proxy) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		value := r.Header.Get("Proxy-Authorization")
		r.Header.Del("Proxy-Authorization")
		user, ok := p.opts.Authenticate(value)
		if ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
			return
		}
		p.refuse(w, r, value)
	})
}

// RefusalsRecorded is how many 407s a client address gets recorded as flows
// in a minute: a client that retries without (or with wrong) credentials
// in a loop would otherwise fill the trace, the HAR and the collector.
// Past it, each refusal is still answered, and only counted.
const RefusalsRecorded = 10

// maxRefusalAddrs bounds the addresses refusals are counted by; past it
// they are counted under "other addresses".
const maxRefusalAddrs = 1000

// refusals counts 407s per client address in the current minute and, for
// the summary, those that were not recorded.
type refusals struct {
	mu       sync.Mutex
	window   time.Time
	inWindow map[string]int
	unrec    map[string]int
}

// record says whether this refusal of a client at addr is recorded, and
// whether it is the first one that is not (the flood starts).
func (rf *refusals) record(addr string, now time.Time) (ok, floodStarts bool) {
	ip := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		ip = h
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if now.Sub(rf.window) >= time.Minute || rf.inWindow == nil {
		rf.window, rf.inWindow = now, map[string]int{}
	}
	if len(rf.inWindow) >= maxRefusalAddrs && rf.inWindow[ip] == 0 {
		ip = "other addresses"
	}
	rf.inWindow[ip]++
	if rf.inWindow[ip] <= RefusalsRecorded {
		return true, false
	}
	if rf.unrec == nil {
		rf.unrec = map[string]int{}
	}
	if len(rf.unrec) >= maxRefusalAddrs && rf.unrec[ip] == 0 {
		ip = "other addresses"
	}
	rf.unrec[ip]++
	return false, rf.inWindow[ip] == RefusalsRecorded+1
}

// UnrecordedRefusals returns, per client IP address, the 407s that were
// answered but not recorded (past RefusalsRecorded a minute).
func (p *Proxy) UnrecordedRefusals() map[string]int {
	p.refused.mu.Lock()
	defer p.refused.mu.Unlock()
	return maps.Clone(p.refused.unrec)
}

// refuse answers 407 and records the refused request as a flow.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, value string) {
	realm := p.opts.AuthRealm
	if realm == "" {
		realm = "regtrace"
	}
	why := "no proxy credentials: the client must send Proxy-Authorization (a user and password in its proxy URL)"
	if value != "" {
		why = "the proxy credentials were refused (wrong user or password, or not Basic)"
	}
	msg := "regtrace: " + why + "\n"
	h := http.Header{}
	h.Set("Proxy-Authenticate", `Basic realm=`+strconv.Quote(realm))
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Regtrace-Error", string(flow.ErrProxyAuth)+": "+why)
	for k, vs := range h {
		w.Header()[k] = vs
	}
	if r.Method == http.MethodConnect {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(http.StatusProxyAuthRequired)
	fmt.Fprint(w, msg)

	u := r.URL
	if r.Method == http.MethodConnect || u == nil || u.Host == "" {
		host := r.Host
		if u != nil && u.Host != "" {
			host = u.Host
		}
		u = &url.URL{Scheme: "https", Host: host}
	}
	hdr := r.Header.Clone()
	if value != "" {
		// Kept for the record (writers redact it to its scheme and user).
		hdr.Set("Proxy-Authorization", value)
	}
	f := &flow.Flow{
		ID: flow.ID(p.nextID.Add(1)), Start: time.Now(), ClientAddr: r.RemoteAddr,
		Request: flow.Request{Method: r.Method, URL: cloneURL(u), Proto: r.Proto, Header: hdr, Body: flow.Body{Complete: true}},
		Err:     &flow.Error{Kind: flow.ErrProxyAuth, Message: why},
	}
	f.Response = &flow.Response{Status: http.StatusProxyAuthRequired, Proto: "HTTP/1.1", Header: h, Synthetic: true,
		Body: flow.Body{Captured: []byte(msg), Size: int64(len(msg)), Complete: true}}
	p.log.Debug("proxy authentication refused", "client", r.RemoteAddr, "method", r.Method, "target", strings.TrimSpace(u.Host))
	ok, flood := p.refused.record(r.RemoteAddr, f.Start)
	if flood {
		p.log.Warn("a client keeps failing proxy authentication: its refusals are counted, and no longer recorded, for the rest of the minute",
			"client", r.RemoteAddr, "recorded", RefusalsRecorded)
	}
	if ok {
		p.deliver(f)
	}
}
