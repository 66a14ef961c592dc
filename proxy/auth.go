package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	p.deliver(f)
}
