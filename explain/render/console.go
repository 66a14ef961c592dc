// Package render turns flows (and, later, decoded exchanges and findings)
// into what people read: the live console trace now; text, Markdown and JSON
// reports as explain grows. Everything it prints goes through decode/redact
// unless the caller turned redaction off.
//
// render never touches fatih/color's globals: each Console builds its own
// colors and writes to the io.Writer it was given.
package render

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// ConsoleOptions configure a Console. The zero value prints one plain line
// per flow with secrets redacted.
type ConsoleOptions struct {
	// Color turns on ANSI colors. The caller decides (--no-color, NO_COLOR,
	// whether the output is a terminal).
	Color bool
	// Verbose adds the request and response headers under each line.
	Verbose bool
	// NoRedact prints secrets as they were. Off by default; the CLI warns.
	NoRedact bool
	// Peers starts each line with the client it came from (flow.Flow.Peer),
	// for a proxy many clients share.
	Peers bool
}

// Console prints the live trace: one line per exchange as it completes.
// It is safe for concurrent use.
type Console struct {
	mu   sync.Mutex
	w    io.Writer
	opts ConsoleOptions

	id, method, host, dim, ok, redirect, clientErr, serverErr, fail *color.Color
}

// NewConsole returns a Console writing to w.
func NewConsole(w io.Writer, opts ConsoleOptions) *Console {
	c := &Console{w: w, opts: opts,
		id:        color.New(color.Bold),
		method:    color.New(color.FgCyan),
		host:      color.New(color.FgBlue),
		dim:       color.New(color.Faint),
		ok:        color.New(color.FgGreen),
		redirect:  color.New(color.FgCyan),
		clientErr: color.New(color.FgYellow, color.Bold),
		serverErr: color.New(color.FgRed, color.Bold),
		fail:      color.New(color.FgRed, color.Bold),
	}
	for _, col := range []*color.Color{c.id, c.method, c.host, c.dim, c.ok, c.redirect, c.clientErr, c.serverErr, c.fail} {
		if opts.Color {
			col.EnableColor()
		} else {
			col.DisableColor()
		}
	}
	return c
}

// Flow prints one completed exchange, e.g.
//
//	#3  GET  registry.example.com /v2/team/app/manifests/1.0  401  12ms  Bearer realm="https://auth.example.com/token" …
func (c *Console) Flow(f *flow.Flow) { c.print(f, nil) }

// Exchange prints one completed exchange with its registry meaning: kind,
// repository, the token it carried and what that token lacks, what a token
// server granted against what was asked, and the registry's error code.
func (c *Console) Exchange(x *decode.Exchange) { c.print(x.Flow, x) }

func (c *Console) print(f *flow.Flow, x *decode.Exchange) {
	if !c.opts.NoRedact {
		f = c.lineView(f)
	}
	var b strings.Builder
	if c.opts.Peers {
		b.WriteString(c.peer(f.Peer()))
	}
	u := f.Request.URL
	if u == nil {
		u = &url.URL{}
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	fmt.Fprintf(&b, "%s  %s  %s %s", c.id.Sprintf("%-4s", f.ID), c.method.Sprintf("%-6s", f.Request.Method), c.host.Sprint(u.Host), path)
	if f.Response != nil {
		fmt.Fprintf(&b, "  %s", c.status(f.Response.Status, f.Response.Synthetic))
	}
	fmt.Fprintf(&b, "  %s", c.dim.Sprint(duration(f.Timings.Total())))
	if f.Response != nil && f.Response.Body.Size > 0 {
		fmt.Fprintf(&b, "  %s", c.dim.Sprint(size(f.Response.Body.Size)))
	}
	if f.Err != nil {
		fmt.Fprintf(&b, "  %s", c.fail.Sprintf("%s: %s", f.Err.Kind, f.Err.Message))
	} else if f.Response != nil {
		for _, v := range f.Response.Header.Values("Www-Authenticate") {
			fmt.Fprintf(&b, "  %s", v)
		}
		if loc := f.Response.Header.Get("Location"); loc != "" && f.Response.Status/100 == 3 {
			fmt.Fprintf(&b, "  → %s", loc)
		}
	}
	if x != nil {
		if m := c.meaning(x); m != "" {
			fmt.Fprintf(&b, "\n      %s", m)
		}
	}
	b.WriteByte('\n')
	if c.opts.Verbose {
		headers(&b, "    > ", f.Request.Header, c.dim)
		if f.Response != nil {
			headers(&b, "    < ", f.Response.Header, c.dim)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, b.String())
}

// lineView is f redacted, with only what a line prints: redacting the
// whole flow (bodies included) for one line was a tenth of the proxy's CPU
// on small requests.
func (c *Console) lineView(f *flow.Flow) *flow.Flow {
	v := &flow.Flow{ID: f.ID, Start: f.Start, Timings: f.Timings, ClientAddr: f.ClientAddr, ProxyUser: f.ProxyUser}
	v.Request = flow.Request{Method: f.Request.Method, URL: redact.URL(f.Request.URL)}
	if c.opts.Verbose {
		v.Request.Header = redact.Headers(f.Request.Header)
	}
	if r := f.Response; r != nil {
		h := redact.Headers(r.Header)
		if !c.opts.Verbose {
			h = redact.Headers(http.Header{
				"Www-Authenticate": r.Header.Values("Www-Authenticate"),
				"Location":         r.Header.Values("Location"),
			})
		}
		v.Response = &flow.Response{Status: r.Status, Synthetic: r.Synthetic, Header: h, Body: flow.Body{Size: r.Body.Size}}
	}
	if e := f.Err; e != nil {
		v.Err = &flow.Error{Kind: e.Kind, Message: redact.Text(e.Message)}
	}
	return v
}

// HandshakeFailure prints a client that failed the TLS handshake with the
// proxy: on a first run, almost always a missing trust step.
func (c *Console) HandshakeFailure(h flow.HandshakeFailure) {
	if !c.opts.NoRedact {
		h = redact.HandshakeFailure(h)
	}
	line := fmt.Sprintf("%s%s  %s  %s  %s (%s) — see: regtrace ca trust\n", c.peerOf(h),
		c.id.Sprintf("%-4s", "TLS"), c.method.Sprintf("%-6s", "CONNECT"), c.host.Sprint(h.Target),
		c.fail.Sprint(h.Reason), h.Message)
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, line)
}

// peer is a line's label for a peer: "[alice] ".
func (c *Console) peer(p string) string {
	if p == "" {
		p = "?"
	}
	return c.dim.Sprint("["+p+"]") + " "
}

func (c *Console) peerOf(h flow.HandshakeFailure) string {
	if !c.opts.Peers {
		return ""
	}
	return c.peer(flow.Peer(h.ProxyUser, h.ClientAddr))
}

func (c *Console) status(code int, synthetic bool) string {
	s := fmt.Sprint(code)
	if synthetic {
		s += " (regtrace)"
	}
	switch {
	case code >= 500 || synthetic:
		return c.serverErr.Sprint(s)
	case code >= 400:
		return c.clientErr.Sprint(s)
	case code >= 300:
		return c.redirect.Sprint(s)
	default:
		return c.ok.Sprint(s)
	}
}

func headers(b *strings.Builder, prefix string, h http.Header, dim *color.Color) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s\n", prefix, dim.Sprintf("%s: %s", k, v))
		}
	}
}

func duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
}

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// meaning is the decoded line under an exchange: what it was and what it
// says about auth. Nothing here can hold a secret: scopes, user names, JWT
// claims, token IDs (header.claims or a length and hash prefix) and registry
// error messages (scrubbed anyway).
func (c *Console) meaning(x *decode.Exchange) string {
	var parts []string
	what := x.Kind.String()
	if x.Repo != "" {
		what += " " + x.Repo
		if x.Ref != "" {
			sep := ":"
			if strings.Contains(x.Ref, ":") {
				sep = "@"
			}
			what += sep + x.Ref
		}
		if n := decode.NormalizeRepo(x.Host, x.Repo); n != x.Repo {
			what += " (registry name " + n + ")"
		}
	}
	if x.From != "" {
		what += " from " + x.From
	}
	if x.RedirectFrom != 0 {
		what += " (redirected by " + x.RedirectFrom.String() + ")"
	}
	parts = append(parts, what)
	if x.Auth.Scheme != "" {
		a := strings.ToLower(x.Auth.Scheme)
		switch {
		case x.Auth.User != "":
			a += " user " + x.Auth.User
		case x.Auth.Empty:
			a += " with empty credentials"
		case x.Auth.Malformed:
			a += " (malformed)"
		}
		if x.TokenFrom != 0 {
			a += " token from " + x.TokenFrom.String()
		}
		parts = append(parts, a)
	}
	if tr := x.TokenRequest; tr != nil {
		t := "asks " + scopeList(tr.Scopes)
		if tr.Service != "" {
			t += " for service " + tr.Service
		}
		if tr.Auth.User != "" {
			t += " as " + tr.Auth.User
		} else if tr.Username != "" {
			t += " as " + tr.Username
		} else if tr.Auth.Scheme == "" && !tr.HasPassword && !tr.HasRefreshToken {
			t += " anonymously"
		}
		if tr.GrantType != "" {
			t += " (" + tr.GrantType + " grant)"
		}
		parts = append(parts, t)
	}
	if resp := x.TokenResponse; resp != nil {
		tok := resp.AccessToken
		if tok == nil {
			tok = resp.Token
		}
		switch {
		case tok == nil:
		case tok.Claims == nil:
			parts = append(parts, "opaque token")
		case tok.Claims.AccessMalformed:
			parts = append(parts, "token's access claim is malformed: what it grants cannot be read")
		case !tok.Claims.HasAccess:
			parts = append(parts, "token has no access claim")
		case len(tok.Claims.Access) == 0:
			parts = append(parts, c.fail.Sprint("granted nothing"))
		default:
			parts = append(parts, "granted "+scopeList(tok.Claims.Access))
		}
		if resp.Differ {
			parts = append(parts, "token and access_token differ")
		}
	}
	if len(x.Missing) > 0 {
		parts = append(parts, c.fail.Sprint("token lacks "+scopeList(x.Missing)))
	}
	for _, e := range x.Errors.Errors {
		msg := e.Code
		if e.Message != "" {
			msg += ": " + e.Message
		}
		parts = append(parts, c.clientErr.Sprint(redact.Text(clipText(msg, 120))))
	}
	if len(x.Errors.Errors) == 0 && x.Errors.Text != "" {
		parts = append(parts, redact.Text(clipText(x.Errors.Text, 120)))
	}
	if rl := x.RateLimit; rl != nil && (rl.RemainingN >= 0 || rl.RetryAfter > 0) {
		r := "rate limit"
		if rl.RemainingN >= 0 {
			r += fmt.Sprintf(" %d left", rl.RemainingN)
			if rl.LimitN >= 0 {
				r += fmt.Sprintf(" of %d", rl.LimitN)
			}
		}
		if rl.RetryAfter > 0 {
			r += " retry after " + rl.RetryAfter.String()
		}
		parts = append(parts, r)
	}
	for _, is := range x.Issues {
		parts = append(parts, c.clientErr.Sprint("problem in "+is.Where+": "+is.What))
	}
	return c.dim.Sprint("↳ ") + strings.Join(parts, "; ")
}

func scopeList(ss []decode.Scope) string {
	if len(ss) == 0 {
		return "no scope"
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(out, " ")
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
