// Package flowtest builds flow.Flows for tests, the way httptest builds
// requests:
//
//	flows := flowtest.Seq(
//		flowtest.Get("https://registry.test/v2/").Status(401).Challenge(`Bearer realm="https://auth.test/token"`),
//		flowtest.Get("https://auth.test/token?scope=repository:a:pull").Status(200).JSON(`{"token":"…"}`),
//	)
//
// It imports only decode/flow.
package flowtest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// Epoch is the start time of the first flow of a Seq.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Builder builds one flow. Methods return the builder for chaining; a
// malformed URL panics (test input is the test's own).
type Builder struct {
	f flow.Flow
	// after is how much later than Seq's 100 ms step this flow starts.
	after time.Duration
}

// New starts a flow for method and an absolute URL.
func New(method, rawURL string) *Builder {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic("flowtest: " + err.Error())
	}
	return &Builder{f: flow.Flow{
		ClientAddr: "127.0.0.1:50000",
		Request:    flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}, Body: flow.Body{Complete: true}},
		Timings:    flow.Timings{Blocked: -1, DNS: -1, Connect: -1, TLS: -1, Send: time.Millisecond, Wait: 5 * time.Millisecond, Receive: time.Millisecond},
	}}
}

func Get(u string) *Builder    { return New(http.MethodGet, u) }
func Head(u string) *Builder   { return New(http.MethodHead, u) }
func Post(u string) *Builder   { return New(http.MethodPost, u) }
func Put(u string) *Builder    { return New(http.MethodPut, u) }
func Patch(u string) *Builder  { return New(http.MethodPatch, u) }
func Delete(u string) *Builder { return New(http.MethodDelete, u) }

// Header adds a request header.
func (b *Builder) Header(name, value string) *Builder {
	b.f.Request.Header.Add(name, value)
	return b
}

// UA sets the User-Agent.
func (b *Builder) UA(ua string) *Builder { return b.Header("User-Agent", ua) }

// Basic sets Basic credentials.
func (b *Builder) Basic(user, pass string) *Builder {
	return b.Header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

// Bearer sets a Bearer token.
func (b *Builder) Bearer(token string) *Builder { return b.Header("Authorization", "Bearer "+token) }

// Body sets the request body (captured whole).
func (b *Builder) Body(contentType, body string) *Builder {
	if contentType != "" {
		b.f.Request.Header.Set("Content-Type", contentType)
	}
	b.f.Request.Body = flow.Body{Captured: []byte(body), Size: int64(len(body)), Complete: true}
	return b
}

// Form sets an application/x-www-form-urlencoded request body.
func (b *Builder) Form(v url.Values) *Builder {
	return b.Body("application/x-www-form-urlencoded", v.Encode())
}

func (b *Builder) resp() *flow.Response {
	if b.f.Response == nil {
		b.f.Response = &flow.Response{Status: 200, Proto: "HTTP/1.1", Header: http.Header{}, Body: flow.Body{Complete: true}}
	}
	return b.f.Response
}

// Status sets the response status (a response exists from then on).
func (b *Builder) Status(code int) *Builder {
	b.resp().Status = code
	return b
}

// RespHeader adds a response header.
func (b *Builder) RespHeader(name, value string) *Builder {
	b.resp().Header.Add(name, value)
	return b
}

// Challenge adds a WWW-Authenticate header.
func (b *Builder) Challenge(value string) *Builder { return b.RespHeader("Www-Authenticate", value) }

// Location adds a Location header.
func (b *Builder) Location(value string) *Builder { return b.RespHeader("Location", value) }

// RespBody sets the response body (captured whole).
func (b *Builder) RespBody(contentType, body string) *Builder {
	r := b.resp()
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Body = flow.Body{Captured: []byte(body), Size: int64(len(body)), Complete: true}
	return b
}

// JSON sets a JSON response body.
func (b *Builder) JSON(body string) *Builder { return b.RespBody("application/json", body) }

// Blob sets a binary response body of n bytes, not captured.
func (b *Builder) Blob(n int64) *Builder {
	r := b.resp()
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Body = flow.Body{Size: n, Truncated: n > 0, Complete: true}
	return b
}

// Inferred marks the response as one a log implies but did not show.
func (b *Builder) Inferred() *Builder {
	b.resp().Inferred = true
	return b
}

// Err records a transport failure; with no response set, the flow gets the
// proxy's synthetic 502.
func (b *Builder) Err(kind flow.ErrKind, msg string) *Builder {
	b.f.Err = &flow.Error{Kind: kind, Message: msg}
	if b.f.Response == nil {
		b.f.Response = &flow.Response{Status: 502, Proto: "HTTP/1.1", Header: http.Header{}, Synthetic: true}
	}
	return b
}

// Build returns the flow with the given ID, starting at start.
func (b *Builder) Build(id flow.ID, start time.Time) *flow.Flow {
	f := b.f
	f.ID = id
	f.Start = start
	f.Request.Header = f.Request.Header.Clone()
	if f.Response != nil {
		r := *f.Response
		r.Header = r.Header.Clone()
		f.Response = &r
	}
	return &f
}

// From sets who sent the flow to a shared proxy: its proxy user (may be
// empty) and its address (ip:port).
func (b *Builder) From(user, addr string) *Builder {
	b.f.ProxyUser, b.f.ClientAddr = user, addr
	return b
}

// After makes the flow start d later than Seq would start it (and the
// flows after it too).
func (b *Builder) After(d time.Duration) *Builder { b.after = d; return b }

// Seq builds flows with IDs 1, 2, 3… starting 100ms apart from Epoch, plus
// the After of each flow so far.
func Seq(builders ...*Builder) []*flow.Flow {
	out := make([]*flow.Flow, len(builders))
	var extra time.Duration
	for i, b := range builders {
		extra += b.after
		out[i] = b.Build(flow.ID(i+1), Epoch.Add(time.Duration(i)*100*time.Millisecond+extra))
	}
	return out
}
