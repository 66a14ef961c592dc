package har

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// ErrNotHAR says the input is JSON but not a HAR document.
var ErrNotHAR = errors.New("not a HAR file: no log.entries")

// FormatError locates a problem in a HAR file: the entry index (-1 for the
// log itself) and the JSON path.
type FormatError struct {
	Entry int
	Path  string
	Err   error
}

func (e *FormatError) Error() string {
	if e.Entry >= 0 {
		return fmt.Sprintf("entry %d: %s: %v", e.Entry, e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// maxHAR bounds what Read loads: a HAR holds captured prefixes, not blobs,
// so even 100,000 entries stay far below it.
const maxHAR = 2 << 30

// ReadFile reads a HAR file.
func ReadFile(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxHAR {
		return nil, fmt.Errorf("%s: %d bytes: larger than the %d a HAR of captured prefixes can reach", path, fi.Size(), int64(maxHAR))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// Read parses a HAR document. A regtrace HAR cut short mid-write (kill -9)
// is recovered up to its last whole entry.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxHAR))
	if err != nil {
		return nil, err
	}
	return parse(data)
}

func parse(data []byte) (*File, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM is allowed
	h, err := decodeDoc(data)
	if err != nil {
		// A regtrace HAR cut mid-write ends early; anything else malformed
		// is reported, never silently dropped.
		if errors.Is(err, errUnexpectedEnd) {
			if rec, ok := recoverTruncated(data); ok {
				return decodeDoc(rec)
			}
		}
		return nil, err
	}
	return h, nil
}

// decodeDoc streams the document: each entry is decoded once, straight into
// its struct, so a 100,000-entry file is scanned once and a bad entry is
// reported with its index.
func decodeDoc(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	docErr := func(path string, err error) error {
		return &FormatError{Entry: -1, Path: path, Err: jsonErrAt(err, dec.InputOffset())}
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, docErr("(document)", err)
	}
	var h *File
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, docErr("(document)", err)
		}
		if key != "log" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, docErr(fmt.Sprint(key), err)
			}
			continue
		}
		if h, err = decodeLog(dec); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, docErr("(document)", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, docErr("(document)", errors.New("data after the document"))
	}
	if h == nil || h.Log.Entries == nil {
		return nil, &FormatError{Entry: -1, Path: "log.entries", Err: ErrNotHAR}
	}
	return h, nil
}

func decodeLog(dec *json.Decoder) (*File, error) {
	logErr := func(path string, err error) error {
		return &FormatError{Entry: -1, Path: path, Err: jsonErrAt(err, dec.InputOffset())}
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, logErr("log", err)
	}
	h := &File{}
	l := &h.Log
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, logErr("log", err)
		}
		key, _ := tok.(string)
		var dst any
		switch key {
		case "version":
			dst = &l.Version
		case "creator":
			dst = &l.Creator
		case "browser":
			dst = &l.Browser
		case "pages":
			dst = &l.Pages
		case "comment":
			dst = &l.Comment
		case "_regtrace":
			dst = &l.Regtrace
		case "entries":
			if err := expectDelim(dec, '['); err != nil {
				return nil, logErr("log.entries", err)
			}
			l.Entries = []Entry{}
			for i := 0; dec.More(); i++ {
				var e Entry
				if err := dec.Decode(&e); err != nil {
					path := fmt.Sprintf("log.entries[%d]", i)
					var te *json.UnmarshalTypeError
					if errors.As(err, &te) && te.Field != "" {
						path += "." + te.Field
						return nil, &FormatError{Entry: i, Path: path, Err: err}
					}
					return nil, &FormatError{Entry: i, Path: path, Err: jsonErrAt(err, dec.InputOffset())}
				}
				l.Entries = append(l.Entries, e)
			}
			if err := expectDelim(dec, ']'); err != nil {
				return nil, logErr("log.entries", err)
			}
			continue
		default:
			var skip json.RawMessage
			dst = &skip
		}
		if err := dec.Decode(dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return nil, &FormatError{Entry: -1, Path: "log." + key, Err: err}
			}
			return nil, logErr("log."+key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, logErr("log", err)
	}
	return h, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}

var errUnexpectedEnd = errors.New("unexpected end of input")

func jsonErrAt(err error, off int64) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("invalid JSON at byte %d: %w", off, errUnexpectedEnd)
	}
	return jsonErr(err)
}

func jsonErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, err)
	}
	return err
}

// recoverTruncated rebuilds a regtrace HAR whose writer died mid-entry:
// the prefix line, every whole entry line, and the closing brackets.
func recoverTruncated(data []byte) ([]byte, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), maxHAR)
	if !sc.Scan() || !bytes.HasPrefix(sc.Bytes(), []byte(`{"log":{"version":"1.2","creator":{"name":"regtrace"`)) ||
		!bytes.HasSuffix(sc.Bytes(), []byte(`"entries":[`)) {
		return nil, false
	}
	var out bytes.Buffer
	out.Write(sc.Bytes())
	n := 0
	for sc.Scan() {
		line := bytes.TrimPrefix(sc.Bytes(), []byte(","))
		if !json.Valid(line) || len(line) == 0 || line[0] != '{' {
			break
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.Write(line)
		n++
	}
	out.WriteString("]}}")
	return out.Bytes(), true
}

// Sanitized reports whether the HAR comes from an exporter that strips
// credentials (Chrome's default "sanitized" export, har-sanitizer tools):
// then a missing Authorization header proves nothing.
func (h *File) Sanitized() bool {
	if h.Log.Creator.Name == "regtrace" {
		return false
	}
	for _, e := range h.Log.Entries {
		for _, hd := range e.Request.Headers {
			n := strings.ToLower(hd.Name)
			if n == "authorization" {
				v := strings.ToLower(hd.Value)
				if strings.Contains(v, "redacted") {
					return true
				}
				return false
			}
		}
	}
	// A browser HAR without any Authorization header: Chrome strips them by
	// default since 2024.
	name := strings.ToLower(h.Log.Creator.Name)
	return strings.Contains(name, "webinspector") || strings.Contains(name, "chrome") || strings.Contains(name, "firefox")
}

// Flows converts the entries to flows, sorted by start time then ID, and
// returns the handshake failures regtrace recorded.
func (h *File) Flows() ([]*flow.Flow, []flow.HandshakeFailure, error) {
	var out []*flow.Flow
	for i, e := range h.Log.Entries {
		f, err := toFlow(i, e)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Start.Equal(out[b].Start) {
			return out[a].Start.Before(out[b].Start)
		}
		return out[a].ID < out[b].ID
	})
	var hs []flow.HandshakeFailure
	if ext := h.Log.Regtrace; ext != nil {
		for _, t := range ext.TLSErrors {
			ts, _ := parseTime(t.Time)
			hs = append(hs, flow.HandshakeFailure{Time: ts, ClientAddr: t.ClientAddr, Target: t.Target,
				ServerName: t.ServerName, Message: t.Message, Reason: t.Reason})
		}
	}
	return out, hs, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 time: %q", s)
}

func dur(ms float64) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func toHeader(nvs []NameValue) http.Header {
	h := http.Header{}
	for _, nv := range nvs {
		if strings.HasPrefix(nv.Name, ":") { // HTTP/2 pseudo-headers
			continue
		}
		h.Add(nv.Name, nv.Value)
	}
	return h
}

func toFlow(i int, e Entry) (*flow.Flow, error) {
	fail := func(path string, err error) (*flow.Flow, error) {
		return nil, &FormatError{Entry: i, Path: fmt.Sprintf("log.entries[%d].%s", i, path), Err: err}
	}
	start, err := parseTime(e.StartedDateTime)
	if err != nil {
		return fail("startedDateTime", err)
	}
	u, err := url.Parse(e.Request.URL)
	if err != nil || !u.IsAbs() {
		if err == nil {
			err = errors.New("not an absolute URL")
		}
		return fail("request.url", err)
	}
	if e.Request.Method == "" {
		return fail("request.method", errors.New("missing"))
	}
	f := &flow.Flow{
		ID:    flow.ID(i + 1),
		Start: start,
		Request: flow.Request{
			Method: e.Request.Method, URL: u, Proto: e.Request.HTTPVersion, Header: toHeader(e.Request.Headers),
		},
	}
	if u.Host == "" {
		for _, hd := range e.Request.Headers {
			if hd.Name == ":authority" {
				u.Host = hd.Value
			}
		}
	}
	x := e.Regtrace
	if x != nil && x.ID != 0 {
		f.ID = flow.ID(x.ID)
	}
	if x != nil {
		f.ClientAddr, f.Request.Host = x.ClientAddr, x.Host
	}
	// Request body.
	if pd := e.Request.PostData; pd != nil {
		f.Request.Body.Captured = []byte(pd.Text)
		if pd.Text == "" && len(pd.Params) > 0 {
			v := url.Values{}
			for _, p := range pd.Params {
				v.Add(p.Name, p.Value)
			}
			f.Request.Body.Captured = []byte(v.Encode())
		}
		if f.Request.Header.Get("Content-Type") == "" && pd.MimeType != "" {
			f.Request.Header.Set("Content-Type", pd.MimeType)
		}
	}
	f.Request.Body.Size = max(e.Request.BodySize, int64(len(f.Request.Body.Captured)))
	f.Request.Body.Complete = true
	if x != nil && x.RequestBody != nil {
		rb := x.RequestBody
		f.Request.Body.Size, f.Request.Body.Truncated, f.Request.Body.Complete, f.Request.Body.SHA256 = rb.Size, rb.Truncated, rb.Complete, rb.SHA256
		if rb.Base64 != "" {
			if b, err := base64.StdEncoding.DecodeString(rb.Base64); err == nil {
				f.Request.Body.Captured = b
			}
		}
	}
	// Response.
	r := e.Response
	if r.Status > 0 || len(r.Headers) > 0 {
		resp := &flow.Response{Status: r.Status, Proto: r.HTTPVersion, Header: toHeader(r.Headers)}
		c := r.Content
		if c.Text != "" {
			if strings.EqualFold(c.Encoding, "base64") {
				b, err := base64.StdEncoding.DecodeString(c.Text)
				if err != nil {
					return fail("response.content.text", fmt.Errorf("encoding base64: %w", err))
				}
				resp.Body.Captured = b
			} else {
				resp.Body.Captured = []byte(c.Text)
			}
		}
		resp.Body.Size = max(c.Size, int64(len(resp.Body.Captured)))
		if r.BodySize > resp.Body.Size && c.Compression == 0 {
			resp.Body.Size = r.BodySize
		}
		resp.Body.Complete = true
		resp.Body.Truncated = strings.HasPrefix(c.Comment, "truncated") || (len(resp.Body.Captured) == 0 && resp.Body.Size > 0)
		if x != nil && x.ResponseBody != nil {
			rb := x.ResponseBody
			resp.Body.Size, resp.Body.Truncated, resp.Body.Complete, resp.Body.SHA256 = rb.Size, rb.Truncated, rb.Complete, rb.SHA256
		}
		if x != nil {
			resp.Synthetic = x.Synthetic
		}
		if resp.Header.Get("Content-Type") == "" && c.MimeType != "" && c.MimeType != "x-unknown" {
			resp.Header.Set("Content-Type", c.MimeType)
		}
		f.Response = resp
	}
	if e.Error != "" || (x != nil && x.ErrorKind != "") {
		kind := flow.ErrOther
		if x != nil && x.ErrorKind != "" {
			kind = flow.ErrKind(x.ErrorKind)
		}
		f.Err = &flow.Error{Kind: kind, Message: e.Error}
	}
	t := e.Timings
	f.Timings = flow.Timings{Blocked: dur(t.Blocked), DNS: dur(t.DNS), TLS: dur(t.SSL), Send: dur(t.Send), Wait: dur(t.Wait), Receive: dur(t.Receive), Connect: dur(t.Connect)}
	if t.Connect >= 0 && t.SSL > 0 {
		f.Timings.Connect = dur(t.Connect - t.SSL)
	}
	if ip := strings.Trim(e.ServerIPAddress, "[]"); ip != "" || (x != nil && x.Upstream != nil) {
		f.Upstream = &flow.TLSInfo{ServerIP: ip}
		if x != nil && x.Upstream != nil {
			up := x.Upstream
			f.Upstream.Version, f.Upstream.CipherSuite, f.Upstream.ALPN, f.Upstream.ServerName, f.Upstream.Insecure = up.Version, up.CipherSuite, up.ALPN, up.ServerName, up.Insecure
			if up.Issuer != "" {
				f.Upstream.Chain = []flow.CertSummary{{Issuer: up.Issuer}}
			}
		}
	}
	return f, nil
}
