package redact

import (
	"net/http"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
)

// Flow returns a deep copy of f with every secret redacted: the request URL,
// Host, headers and captured body, the response headers, trailers and
// captured body, and the error message. Body sizes, truncation flags and
// hashes describe what passed through the proxy and are kept, so a redacted
// Captured may differ in length from what Size says was seen. f is not
// modified; nil gives nil.
func Flow(f *flow.Flow) *flow.Flow {
	if f == nil {
		return nil
	}
	c := *f
	c.Request = flow.Request{
		Method: f.Request.Method,
		URL:    URL(f.Request.URL),
		Proto:  f.Request.Proto,
		Header: Headers(f.Request.Header),
		Host:   host(f.Request.Host),
		Body:   body(f.Request.Header, f.Request.Body),
	}
	if r := f.Response; r != nil {
		c.Response = &flow.Response{
			Status:    r.Status,
			Proto:     r.Proto,
			Header:    Headers(r.Header),
			Trailer:   Headers(r.Trailer),
			Body:      body(r.Header, r.Body),
			Synthetic: r.Synthetic,
		}
	}
	if u := f.Upstream; u != nil {
		t := *u
		if u.Chain != nil {
			t.Chain = make([]flow.CertSummary, len(u.Chain))
			for i, cs := range u.Chain {
				cs.DNSNames = append([]string(nil), cs.DNSNames...)
				t.Chain[i] = cs
			}
		}
		c.Upstream = &t
	}
	if e := f.Err; e != nil {
		c.Err = &flow.Error{Kind: e.Kind, Message: Text(e.Message)}
	}
	return &c
}

// HandshakeFailure returns h with its messages redacted: Go's TLS errors can
// quote what the client sent.
func HandshakeFailure(h flow.HandshakeFailure) flow.HandshakeFailure {
	h.Target = host(h.Target)
	h.Message = Text(h.Message)
	h.Reason = Text(h.Reason)
	return h
}

// host redacts a userinfo that should never be in a Host or CONNECT target
// but would be a password if it were.
func host(h string) string {
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		return Mark + h[i:]
	}
	return h
}

func body(h http.Header, b flow.Body) flow.Body {
	b.Captured = Body(headerValue(h, "Content-Type"), b.Captured)
	return b
}

// headerValue is h.Get for headers whose keys may not be canonical (HTTP/2,
// HAR).
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
