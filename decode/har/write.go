package har

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// Annotation is what the caller knows about a flow beyond the recording:
// decode's kind and explain's findings (plain strings: har does not import
// explain, and `regtrace explain` recomputes them anyway).
type Annotation struct {
	Kind     string
	Findings []string
}

// Options configure a Writer. The zero value redacts.
type Options struct {
	// NoRedact writes secrets as they are, and says so in log.comment.
	NoRedact bool
	// CreatorVersion is regtrace's version for log.creator.
	CreatorVersion string
}

// Writer writes a HAR file incrementally. After every Add the file is a
// complete, valid HAR: the closing brackets are rewritten in place. Each
// entry is one line, so a file cut short by kill -9 in the middle of a write
// is recovered by Read up to the last whole entry. A write that fails (a
// full disk) is undone: the file stays valid with every entry written
// before, the exchange is counted as unwritten, and writing goes on when it
// can. Safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	f       file
	opts    Options
	ext     LogExt
	comment string // log.comment, written in the trailer
	n       int    // entries written
	trailer int64  // offset where the trailer starts
	tail    []byte // the trailer as written, remade only when ext changes
	size    int64  // file size
	// unwritten counts exchanges (and trailer updates) that could not be
	// written; firstErr is the first such failure.
	unwritten int
	firstErr  error
	// stale: the count of omitted handshake failures changed since the
	// trailer was written; it is written with an exchange at most once a
	// second, and at Close.
	stale   bool
	trailed time.Time
}

// file is what the Writer needs of an *os.File (tests fill a disk).
type file interface {
	WriteAt(b []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// UnwrittenError is Add's error when an exchange could not be written.
// N counts the unwritten ones so far: a caller reports the first and says
// how many at the end (Close's error).
type UnwrittenError struct {
	N   int
	Err error
}

func (e *UnwrittenError) Error() string {
	return fmt.Sprintf("an exchange could not be written to the HAR (%v); the file stays valid with the others", e.Err)
}

func (e *UnwrittenError) Unwrap() error { return e.Err }

// Create creates (or truncates) path with mode 0600 and writes an empty HAR.
func Create(path string, opts Options) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	w, err := newWriter(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func newWriter(f file, opts Options) (*Writer, error) {
	w := &Writer{f: f, opts: opts, ext: LogExt{Version: 1, Redacted: !opts.NoRedact}}
	w.comment = "secrets redacted by regtrace (Authorization keeps its scheme and Basic user; JWTs keep header and claims; cookies, passwords, tokens and signed URL parameters are replaced)"
	if opts.NoRedact {
		w.comment = "CONTAINS SECRETS: written with --no-redact; do not attach to a ticket"
	}
	version := opts.CreatorVersion
	if version == "" {
		version = "dev"
	}
	creator, _ := json.Marshal(Creator{Name: "regtrace", Version: version})
	prefix := fmt.Sprintf(`{"log":{"version":"1.2","creator":%s,"pages":[],"entries":[`, creator)
	if _, err := f.WriteAt([]byte(prefix), 0); err != nil {
		return nil, err
	}
	w.trailer = int64(len(prefix))
	w.size = w.trailer
	if err := w.writeTrailer(); err != nil {
		return nil, err
	}
	return w, nil
}

// writeTrailer remakes the trailer (log.comment and _regtrace, which
// change) and writes it; on failure the previous one is put back.
func (w *Writer) writeTrailer() error {
	ext, err := json.Marshal(w.ext)
	if err != nil {
		return err
	}
	comment := w.comment
	if w.unwritten > 0 {
		comment += fmt.Sprintf("; INCOMPLETE: %d exchanges could not be written (%v)", w.unwritten, w.firstErr)
	}
	c, _ := json.Marshal(comment)
	w.stale, w.trailed = false, time.Now()
	old := w.tail
	w.tail = append(append(append(append([]byte("\n],\"comment\":"), c...), ",\"_regtrace\":"...), ext...), "}}\n"...)
	if err := w.writeAt(w.tail); err != nil {
		w.tail = old
		w.restore()
		return err
	}
	return nil
}

// restore puts the last good trailer back after a failed write, over
// bytes the file already holds (so a full disk still takes it), and cuts
// what the failed write left after it.
func (w *Writer) restore() {
	if w.tail == nil {
		return
	}
	if _, err := w.f.WriteAt(w.tail, w.trailer); err == nil {
		end := w.trailer + int64(len(w.tail))
		if w.f.Truncate(end) == nil {
			w.size = end
		}
	}
}

// writeAt writes b at the trailer's offset, and cuts the file after it
// only if it ended further on: an entry and the trailer after it go out in
// one write, so a live trace costs one syscall per exchange, and the file is
// never without a trailer between two writes.
func (w *Writer) writeAt(b []byte) error {
	if _, err := w.f.WriteAt(b, w.trailer); err != nil {
		return err
	}
	end := w.trailer + int64(len(b))
	if end < w.size {
		if err := w.f.Truncate(end); err != nil {
			return err
		}
	}
	w.size = end
	return nil
}

// failed counts a write that could not be made.
func (w *Writer) failed(err error) *UnwrittenError {
	w.unwritten++
	if w.firstErr == nil {
		w.firstErr = err
	}
	return &UnwrittenError{N: w.unwritten, Err: err}
}

// Add appends one flow.
func (w *Writer) Add(f *flow.Flow, ann Annotation) error {
	e := Entry{}
	if f != nil {
		if !w.opts.NoRedact {
			f = redact.Flow(f)
		}
		e = toEntry(f, ann)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stale && time.Since(w.trailed) > time.Second {
		w.writeTrailer() // best effort: Close tries again
	}
	sep := "\n"
	if w.n > 0 {
		sep = "\n,"
	}
	buf := make([]byte, 0, len(sep)+len(b)+len(w.tail))
	buf = append(append(append(buf, sep...), b...), w.tail...)
	if err := w.writeAt(buf); err != nil {
		w.restore()
		return w.failed(err)
	}
	w.trailer += int64(len(sep) + len(b))
	w.n++
	return nil
}

// Size is how many bytes the file holds.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// maxTLSErrors bounds the handshake failures the trailer lists: it is
// rewritten after each, and a shared proxy may see a flood of clients
// that do not trust it. The rest are counted.
const maxTLSErrors = 1000

// AddHandshakeFailure records a client that failed the TLS handshake.
func (w *Writer) AddHandshakeFailure(h flow.HandshakeFailure) error {
	if !w.opts.NoRedact {
		h = redact.HandshakeFailure(h)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ext.TLSErrors) >= maxTLSErrors {
		w.ext.TLSErrorsOmitted++
		w.stale = true
		return nil
	}
	w.ext.TLSErrors = append(w.ext.TLSErrors, TLSError{
		Time: h.Time.UTC().Format(time.RFC3339Nano), ClientAddr: h.ClientAddr, ProxyUser: h.ProxyUser, Target: h.Target,
		ServerName: h.ServerName, Message: h.Message, Reason: h.Reason,
	})
	if err := w.writeTrailer(); err != nil {
		w.ext.TLSErrors = w.ext.TLSErrors[:len(w.ext.TLSErrors)-1]
		return w.failed(err)
	}
	return nil
}

// SetFindings records explain's findings at log level (annotations only).
func (w *Writer) SetFindings(findings []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.ext.Findings
	w.ext.Findings = findings
	if err := w.writeTrailer(); err != nil {
		w.ext.Findings = old
		return err
	}
	return nil
}

// Close says in the file (log.comment, _regtrace.unwritten) how many
// exchanges could not be written, syncs and closes it. Its error says
// that count too.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.stale && w.unwritten == 0 {
		w.writeTrailer()
	}
	if w.unwritten > 0 {
		w.ext.Unwritten = w.unwritten
		w.writeTrailer() // best effort: the count is in the error too
		err = fmt.Errorf("%d exchanges (of %d) could not be written to the HAR: %v; the file is valid and holds the others",
			w.unwritten, w.unwritten+w.n, w.firstErr)
	}
	if e := w.f.Sync(); err == nil {
		err = e
	}
	if e := w.f.Close(); err == nil {
		err = e
	}
	return err
}

func ms(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return float64(d.Microseconds()) / 1000
}

func nonNeg(d time.Duration) float64 { return max(ms(d), 0) }

func headers(h http.Header) []NameValue {
	out := []NameValue{}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, NameValue{Name: k, Value: v})
		}
	}
	return out
}

func query(u *url.URL) []NameValue {
	out := []NameValue{}
	if u == nil {
		return out
	}
	for _, kv := range strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(kv, "=")
		uk, err := url.QueryUnescape(k)
		if err != nil {
			uk = k
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			uv = v
		}
		out = append(out, NameValue{Name: uk, Value: uv})
	}
	return out
}

func mimeOf(h http.Header) string {
	if h == nil {
		return ""
	}
	return h.Get("Content-Type")
}

func bodyExt(b flow.Body) *BodyExt {
	return &BodyExt{Size: b.Size, Captured: len(b.Captured), Truncated: b.Truncated, Complete: b.Complete, SHA256: b.SHA256}
}

// toEntry converts a (redacted) flow.
func toEntry(f *flow.Flow, ann Annotation) Entry {
	u := f.Request.URL
	if u == nil {
		u = &url.URL{}
	}
	e := Entry{
		StartedDateTime: f.Start.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		Cache:           struct{}{},
		Regtrace: &EntryExt{
			ID: uint64(f.ID), Kind: ann.Kind, Findings: ann.Findings, ClientAddr: f.ClientAddr, ProxyUser: f.ProxyUser,
			RequestBody: bodyExt(f.Request.Body), Host: f.Request.Host,
		},
	}
	t := f.Timings
	connect := -1.0
	if t.Connect >= 0 || t.TLS >= 0 {
		connect = nonNeg(t.Connect) + nonNeg(t.TLS) // HAR: ssl is part of connect
	}
	e.Timings = Timings{Blocked: ms(t.Blocked), DNS: ms(t.DNS), Connect: connect, SSL: ms(t.TLS),
		Send: nonNeg(t.Send), Wait: nonNeg(t.Wait), Receive: nonNeg(t.Receive)}
	for _, x := range []float64{e.Timings.Blocked, e.Timings.DNS, e.Timings.Connect, e.Timings.Send, e.Timings.Wait, e.Timings.Receive} {
		if x > 0 {
			e.Time += x
		}
	}
	req := Request{
		Method: f.Request.Method, URL: u.String(), HTTPVersion: orDefault(f.Request.Proto, "HTTP/1.1"),
		Cookies: []Cookie{}, Headers: headers(f.Request.Header), QueryString: query(u),
		HeadersSize: -1, BodySize: f.Request.Body.Size,
	}
	if b := f.Request.Body; len(b.Captured) > 0 {
		mt := mimeOf(f.Request.Header)
		if utf8.Valid(b.Captured) {
			req.PostData = &PostData{MimeType: mt, Text: string(b.Captured)}
			if base, _, _ := mime.ParseMediaType(mt); base == "application/x-www-form-urlencoded" {
				if vals, err := url.ParseQuery(string(b.Captured)); err == nil {
					for k, vs := range vals {
						for _, v := range vs {
							req.PostData.Params = append(req.PostData.Params, NameValue{Name: k, Value: v})
						}
					}
					slices.SortFunc(req.PostData.Params, func(a, b NameValue) int { return strings.Compare(a.Name, b.Name) })
				}
			}
			if b.Truncated {
				req.PostData.Comment = fmt.Sprintf("truncated: first %d of %d bytes", len(b.Captured), b.Size)
			}
		} else {
			// postData has no encoding field in HAR 1.2.
			e.Regtrace.RequestBody.Base64 = base64.StdEncoding.EncodeToString(b.Captured)
		}
	} else if f.Request.Body.Size > 0 {
		req.Comment = fmt.Sprintf("request body not captured: %d bytes (binary)", f.Request.Body.Size)
	}
	e.Request = req

	resp := Response{Cookies: []Cookie{}, Headers: []NameValue{}, HeadersSize: -1, Content: Content{MimeType: "x-unknown"}}
	if r := f.Response; r != nil {
		resp.Status, resp.StatusText = r.Status, http.StatusText(r.Status)
		resp.HTTPVersion = orDefault(r.Proto, "HTTP/1.1")
		resp.Headers = headers(r.Header)
		resp.RedirectURL = r.Header.Get("Location")
		resp.BodySize = r.Body.Size
		resp.Content = content(r)
		e.Regtrace.ResponseBody = bodyExt(r.Body)
		e.Regtrace.Synthetic = r.Synthetic
	} else {
		resp.HTTPVersion = ""
		resp.Content.Comment = "no response"
	}
	e.Response = resp
	if f.Err != nil {
		e.Error = f.Err.Message
		e.Regtrace.ErrorKind = string(f.Err.Kind)
	}
	if up := f.Upstream; up != nil {
		e.ServerIPAddress = strings.Trim(up.ServerIP, "[]")
		x := &TLSExt{Version: up.Version, CipherSuite: up.CipherSuite, ALPN: up.ALPN, ServerName: up.ServerName, Insecure: up.Insecure}
		if len(up.Chain) > 0 {
			x.Issuer = up.Chain[0].Issuer
		}
		e.Regtrace.Upstream = x
	}
	return e
}

func content(r *flow.Response) Content {
	b := r.Body
	c := Content{Size: b.Size, MimeType: orDefault(mimeOf(r.Header), "x-unknown")}
	switch {
	case len(b.Captured) > 0 && utf8.Valid(b.Captured):
		c.Text = string(b.Captured)
	case len(b.Captured) > 0:
		c.Text, c.Encoding = base64.StdEncoding.EncodeToString(b.Captured), "base64"
	}
	switch {
	case len(b.Captured) > 0 && b.Truncated:
		c.Comment = fmt.Sprintf("truncated: the text is the first %d of %d bytes", len(b.Captured), b.Size)
	case len(b.Captured) == 0 && b.Size > 0:
		c.Comment = fmt.Sprintf("body not captured: %d bytes (blob or binary)", b.Size)
	}
	if b.SHA256 != "" && c.Comment != "" {
		c.Comment += ", sha256 " + b.SHA256
	}
	if !b.Complete && b.Size > 0 {
		c.Comment = strings.TrimPrefix(c.Comment+"; body cut short", "; ")
	}
	return c
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
