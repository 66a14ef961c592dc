package har

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
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
	data, release, err := openHAR(path)
	if err != nil {
		return nil, err
	}
	h, err := parse(data, nil)
	release()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

func openHAR(path string) ([]byte, func(), error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() > maxHAR {
		return nil, nil, fmt.Errorf("%s: %d bytes: larger than the %d a HAR of captured prefixes can reach", path, fi.Size(), int64(maxHAR))
	}
	return readData(path, fi.Size())
}

// Read parses a HAR document. A regtrace HAR cut short mid-write (kill -9)
// is recovered up to its last whole entry.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxHAR))
	if err != nil {
		return nil, err
	}
	return parse(data, nil)
}

// parse decodes a document; with a sink, entries go to it instead of the
// File.
func parse(data []byte, sink *flowSink) (*File, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM is allowed
	h, err := decodeDoc(data, sink)
	if err != nil {
		// A regtrace HAR cut mid-write ends early; anything else malformed
		// is reported, never silently dropped.
		if errors.Is(err, errUnexpectedEnd) {
			if rec, ok := recoverTruncated(data); ok {
				return decodeDoc(rec, sink)
			}
		}
		return nil, err
	}
	return h, nil
}

// decodeDoc walks the document's structure with a small scanner that only
// finds where values start and end; the entries are then decoded (and
// validated) on every core, in place in a slice sized once, by fastEntry
// or, for what it declines, encoding/json. A 100,000-entry file is never
// copied, and a bad entry is reported with its index.
func decodeDoc(data []byte, sink *flowSink) (*File, error) {
	s := &scanner{data: data}
	docErr := func(path string, err error) error { return &FormatError{Entry: -1, Path: path, Err: err} }
	var h *File
	err := s.object(func(key string) error {
		if key != "log" {
			return s.skipValid(key)
		}
		var err error
		h, err = decodeLog(s, sink)
		return err
	})
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, docErr("(document)", err)
	}
	if s.ws(); s.pos < len(data) {
		return nil, docErr("(document)", s.errorf("data after the document"))
	}
	if h == nil || h.Log.Entries == nil {
		return nil, &FormatError{Entry: -1, Path: "log.entries", Err: ErrNotHAR}
	}
	return h, nil
}

func decodeLog(s *scanner, sink *flowSink) (*File, error) {
	h := &File{}
	l := &h.Log
	err := s.object(func(key string) error {
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
			es, err := decodeEntries(s, sink)
			if err != nil {
				return err
			}
			l.Entries = es
			return nil
		default:
			return s.skipValid("log." + key)
		}
		start, end, err := s.value()
		if err != nil {
			return &FormatError{Entry: -1, Path: "log." + key, Err: err}
		}
		if err := json.Unmarshal(s.data[start:end], dst); err != nil {
			return &FormatError{Entry: -1, Path: "log." + key, Err: jsonErr(err, start)}
		}
		return nil
	})
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &FormatError{Entry: -1, Path: "log", Err: err}
	}
	return h, nil
}

// decodeEntries finds every entry's bytes, then decodes them in parallel.
// The error reported is the one of the lowest entry index, as a sequential
// decoder would report it.
func decodeEntries(s *scanner, sink *flowSink) ([]Entry, error) {
	if err := s.expect('['); err != nil {
		return nil, &FormatError{Entry: -1, Path: "log.entries", Err: err}
	}
	var spans [][2]int
	var scanErr error
	for first := true; ; first = false {
		s.ws()
		if first && s.pos < len(s.data) && s.data[s.pos] == ']' {
			s.pos++
			break
		}
		start, end, err := s.value()
		if err != nil {
			scanErr = err
			break
		}
		spans = append(spans, [2]int{start, end})
		if c, err := s.next(',', ']'); err != nil {
			scanErr = err
			break
		} else if c == ']' {
			break
		}
	}
	var entries []Entry
	if sink != nil {
		entries = []Entry{}
		sink.reset(len(spans))
	} else {
		entries = make([]Entry, len(spans))
	}
	err := parallel(len(spans), func(i int) error {
		var scratch Entry
		e := &scratch
		if sink == nil {
			e = &entries[i]
		}
		if err := decodeEntry(s.data, spans[i], i, e); err != nil {
			return err
		}
		if sink != nil {
			sink.take(i, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if scanErr != nil {
		i := len(spans)
		return nil, &FormatError{Entry: i, Path: fmt.Sprintf("log.entries[%d]", i), Err: scanErr}
	}
	return entries, nil
}

// decodeEntry decodes entry i, data[span[0]:span[1]], into e.
func decodeEntry(data []byte, span [2]int, i int, e *Entry) error {
	start, end := span[0], span[1]
	*e = newEntry()
	if fastEntry(data[start:end], e) {
		return nil
	}
	if err := unmarshalEntry(data[start:end], e); err != nil {
		path := fmt.Sprintf("log.entries[%d]", i)
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			path += "." + te.Field
		}
		return &FormatError{Entry: i, Path: path, Err: jsonErr(err, start)}
	}
	return nil
}

// unmarshalEntry decodes with encoding/json into a copy: handing e itself
// to it would put every caller's scratch entry on the heap.
func unmarshalEntry(b []byte, e *Entry) error {
	ref := newEntry()
	err := json.Unmarshal(b, &ref)
	*e = ref
	return err
}

// newEntry is an entry before decoding: HAR 1.2 makes blocked, dns,
// connect and ssl optional with -1 for "does not apply" (mitmproxy leaves
// some out), so absent is -1, not 0.
func newEntry() Entry {
	return Entry{Timings: Timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1}}
}

// parallel runs fn(0…n-1) on every core, in blocks claimed in index order,
// and returns the error of the lowest index (blocks past a known failure
// are skipped; every block before it still runs).
func parallel(n int, fn func(i int) error) error {
	const block = 64
	workers := min(runtime.GOMAXPROCS(0), (n+block-1)/block)
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		errAt    = n
		wg       sync.WaitGroup
	)
	failedBefore := func(i int) bool {
		mu.Lock()
		defer mu.Unlock()
		return errAt < i
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(block)) - block
				if lo >= n || failedBefore(lo) {
					return
				}
				for i := lo; i < min(lo+block, n); i++ {
					if err := fn(i); err != nil {
						mu.Lock()
						if i < errAt {
							errAt, firstErr = i, err
						}
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// scanner walks JSON structure: objects, arrays, strings and the extent of
// any value. It does not validate what it skips; whatever it hands on is
// checked by the decoder that takes it (fastEntry, encoding/json or
// json.Valid), so together they accept exactly valid JSON.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) eof() error {
	return fmt.Errorf("invalid JSON at byte %d: %w", len(s.data), errUnexpectedEnd)
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// next consumes one of the wanted bytes after white space.
func (s *scanner) next(want ...byte) (byte, error) {
	s.ws()
	if s.pos >= len(s.data) {
		return 0, s.eof()
	}
	c := s.data[s.pos]
	for _, w := range want {
		if c == w {
			s.pos++
			return c, nil
		}
	}
	return 0, s.errorf("want %s, found %q", quoteAll(want), c)
}

func quoteAll(bs []byte) string {
	var q []string
	for _, b := range bs {
		q = append(q, strconv.QuoteRune(rune(b)))
	}
	return strings.Join(q, " or ")
}

func (s *scanner) expect(c byte) error {
	_, err := s.next(c)
	return err
}

// object calls member for each key of the object at s.pos; member must
// consume the value.
func (s *scanner) object(member func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		s.ws()
		if first && s.pos < len(s.data) && s.data[s.pos] == '}' {
			s.pos++
			return nil
		}
		if s.pos < len(s.data) && s.data[s.pos] != '"' {
			return s.errorf("want a member name, found %q", s.data[s.pos])
		}
		start, end, err := s.value()
		if err != nil {
			return err
		}
		var key string
		if err := json.Unmarshal(s.data[start:end], &key); err != nil {
			return jsonErr(err, start)
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		if c, err := s.next(',', '}'); err != nil {
			return err
		} else if c == '}' {
			return nil
		}
	}
}

// skipValid skips a value nobody reads, checking it is valid JSON.
func (s *scanner) skipValid(path string) error {
	start, end, err := s.value()
	if err == nil && !json.Valid(s.data[start:end]) {
		var v any
		err = jsonErr(json.Unmarshal(s.data[start:end], &v), start)
	}
	if err != nil {
		return &FormatError{Entry: -1, Path: path, Err: err}
	}
	return nil
}

// value returns the extent of the value at s.pos (after white space) and
// moves past it.
func (s *scanner) value() (start, end int, err error) {
	s.ws()
	if s.pos >= len(s.data) {
		return 0, 0, s.eof()
	}
	start = s.pos
	d := s.data
	switch d[start] {
	case '"':
		e, err := s.stringEnd(start)
		if err != nil {
			return 0, 0, err
		}
		s.pos = e
		return start, e, nil
	case '{', '[':
		depth := 0
		for i := start; i < len(d); i++ {
			switch d[i] {
			case '"':
				e, err := s.stringEnd(i)
				if err != nil {
					return 0, 0, err
				}
				i = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					s.pos = i + 1
					return start, i + 1, nil
				}
			}
		}
		return 0, 0, s.eof()
	case '}', ']', ',', ':':
		return 0, 0, s.errorf("want a value, found %q", d[start])
	}
	// A literal or number: up to the next delimiter.
	i := start
	for i < len(d) && !delimiter(d[i]) {
		i++
	}
	if i == len(d) {
		return 0, 0, s.eof()
	}
	s.pos = i
	return start, i, nil
}

func delimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '[', ']', '{', '}', '"':
		return true
	}
	return false
}

// stringEnd returns the index after the closing quote of the string that
// opens at i.
func (s *scanner) stringEnd(i int) (int, error) {
	d := s.data
	j := i + 1
	for {
		k := bytes.IndexByte(d[j:], '"')
		if k < 0 {
			return 0, s.eof()
		}
		j += k
		// Escaped when preceded by an odd number of backslashes.
		n := 0
		for b := j - 1; b > i && d[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

var errUnexpectedEnd = errors.New("unexpected end of input")

// jsonErr places an encoding/json error of the value that starts at base in
// the document.
func jsonErr(err error, base int) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %v", int64(base)+se.Offset, err)
	}
	return err
}

// recoverTruncated rebuilds a regtrace HAR whose writer died mid-entry:
// the prefix line, every whole entry line, and the closing brackets.
func recoverTruncated(data []byte) ([]byte, bool) {
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	if !bytes.HasPrefix(first, []byte(`{"log":{"version":"1.2","creator":{"name":"regtrace"`)) ||
		!bytes.HasSuffix(first, []byte(`"entries":[`)) {
		return nil, false
	}
	out := bytes.NewBuffer(make([]byte, 0, len(data)+8))
	out.Write(first)
	n := 0
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimPrefix(line, []byte(","))
		if len(line) == 0 || line[0] != '{' || !json.Valid(line) {
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
	first := authNone
	for i := range h.Log.Entries {
		if first = authOf(&h.Log.Entries[i]); first != authNone {
			break
		}
	}
	return sanitized(&h.Log, first)
}

// authSeen is what an entry's Authorization header says about sanitizing.
type authSeen uint8

const (
	authNone     authSeen = iota
	authPlain             // a value, not a marker
	authOurMark           // regtrace's REDACTED marker
	authRedacted          // another tool's "redacted"
)

func authOf(e *Entry) authSeen {
	for _, hd := range e.Request.Headers {
		if strings.ToLower(hd.Name) != "authorization" {
			continue
		}
		switch {
		case strings.Contains(hd.Value, redact.Mark):
			return authOurMark
		case strings.Contains(strings.ToLower(hd.Value), "redacted"):
			return authRedacted
		}
		return authPlain
	}
	return authNone
}

// sanitized decides from the log and the first entry with Authorization.
func sanitized(l *Log, first authSeen) bool {
	if l.Creator.Name == "regtrace" {
		return false
	}
	switch first {
	case authOurMark:
		// `regtrace redact` keeps the scheme beside its own REDACTED
		// marker: presence still proves something.
		return l.Regtrace == nil || !l.Regtrace.Redacted
	case authRedacted:
		return true
	case authPlain:
		return false
	}
	// A browser HAR without any Authorization header: Chrome strips them by
	// default since 2024.
	name := strings.ToLower(l.Creator.Name)
	return strings.Contains(name, "webinspector") || strings.Contains(name, "chrome") || strings.Contains(name, "firefox")
}

// Flows converts the entries to flows, sorted by start time then ID, and
// returns the handshake failures regtrace recorded.
func (h *File) Flows() ([]*flow.Flow, []flow.HandshakeFailure, error) {
	out := make([]*flow.Flow, len(h.Log.Entries))
	err := parallel(len(out), func(i int) error {
		f, err := toFlow(i, &h.Log.Entries[i])
		out[i] = f
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	sortFlows(out)
	return out, handshakes(&h.Log), nil
}

func sortFlows(fs []*flow.Flow) {
	byStart := func(a, b *flow.Flow) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}
	// Usually in order already (regtrace writes at completion, close to
	// start order); checking is cheaper than sorting.
	if !slices.IsSortedFunc(fs, byStart) {
		slices.SortStableFunc(fs, byStart)
	}
}

func handshakes(l *Log) []flow.HandshakeFailure {
	var hs []flow.HandshakeFailure
	if ext := l.Regtrace; ext != nil {
		for _, t := range ext.TLSErrors {
			ts, _ := parseTime(t.Time)
			hs = append(hs, flow.HandshakeFailure{Time: ts, ClientAddr: t.ClientAddr, ProxyUser: t.ProxyUser, Target: t.Target,
				ServerName: t.ServerName, Message: t.Message, Reason: t.Reason})
		}
	}
	return hs
}

// Trace is what explaining a HAR file takes from it.
type Trace struct {
	Creator Creator
	// Flows are sorted by start time, then ID.
	Flows      []*flow.Flow
	Handshakes []flow.HandshakeFailure
	// Sanitized is File.Sanitized.
	Sanitized bool
}

// ReadTrace is ReadFile, Flows and Sanitized in one pass: each entry
// becomes a flow as soon as it is decoded, and the entries are never kept
// (a 100,000-entry file holds ~100 MB of them). Errors are those ReadFile
// or else Flows would report.
func ReadTrace(path string) (*Trace, error) {
	data, release, err := openHAR(path)
	if err != nil {
		return nil, err
	}
	t, err := parseTrace(data)
	release()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func parseTrace(data []byte) (*Trace, error) {
	sink := &flowSink{}
	h, err := parse(data, sink)
	if err != nil {
		return nil, err
	}
	if sink.err != nil {
		return nil, sink.err
	}
	first := authNone
	for _, a := range sink.auth {
		if first = a; first != authNone {
			break
		}
	}
	sortFlows(sink.flows)
	return &Trace{Creator: h.Log.Creator, Flows: sink.flows, Handshakes: handshakes(&h.Log), Sanitized: sanitized(&h.Log, first)}, nil
}

// flowSink takes entries as they are decoded and keeps their flows (and
// what their Authorization says) instead. err is the conversion error of
// the lowest entry index; a decoding error anywhere comes first, as
// ReadFile's would before Flows'.
type flowSink struct {
	flows []*flow.Flow
	auth  []authSeen
	mu    sync.Mutex
	err   error
	errAt int
}

func (k *flowSink) reset(n int) {
	k.flows, k.auth, k.err, k.errAt = make([]*flow.Flow, n), make([]authSeen, n), nil, n
}

func (k *flowSink) take(i int, e *Entry) {
	k.auth[i] = authOf(e)
	f, err := toFlow(i, e)
	if err == nil {
		k.flows[i] = f
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if i < k.errAt {
		k.errAt, k.err = i, err
	}
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
	h := make(http.Header, len(nvs))
	// One backing array for the usual one value per name; capped slices so
	// a repeated name appends into its own copy.
	vals := make([]string, len(nvs))
	for i, nv := range nvs {
		if strings.HasPrefix(nv.Name, ":") { // HTTP/2 pseudo-headers
			continue
		}
		k := http.CanonicalHeaderKey(nv.Name)
		if old, ok := h[k]; ok {
			// chrome-har lists a header twice, as the page asked for it
			// and as sent: the same value again is not a second header.
			if !slices.Contains(old, nv.Value) {
				h[k] = append(old, nv.Value)
			}
			continue
		}
		vals[i] = nv.Value
		h[k] = vals[i : i+1 : i+1]
	}
	return h
}

func toFlow(i int, e *Entry) (*flow.Flow, error) {
	fail := func(path string, err error) (*flow.Flow, error) {
		return nil, &FormatError{Entry: i, Path: fmt.Sprintf("log.entries[%d].%s", i, path), Err: err}
	}
	start, err := parseTime(e.StartedDateTime)
	if err != nil {
		return fail("startedDateTime", err)
	}
	raw := e.Request.URL
	if strings.EqualFold(e.Request.Method, http.MethodConnect) && !strings.Contains(raw, "//") {
		// mitmproxy records a tunnel it could not open as the CONNECT,
		// with the authority-form target as its URL.
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
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
		f.ClientAddr, f.ProxyUser, f.Request.Host = x.ClientAddr, x.ProxyUser, x.Host
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
	// Response. A status is three digits, 100–599 (RFC 9110 §15). HAR has
	// no "no response": browsers write status 0 for a request that got none
	// (Chrome adds _error), which stays a flow without a response. Any other
	// value is no status at all, and taking it for one would make explain
	// reason about a response that never was.
	r := e.Response
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		return fail("response.status", fmt.Errorf("%d is not an HTTP status (100–599, RFC 9110 §15; 0 for no response)", r.Status))
	}
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
	if msg := cmp.Or(e.Error, r.Error); msg != "" || (x != nil && x.ErrorKind != "") {
		kind := flow.KindOfMessage(msg)
		if x != nil && x.ErrorKind != "" {
			kind = flow.ErrKind(x.ErrorKind)
		}
		f.Err = &flow.Error{Kind: kind, Message: msg}
	}
	t := e.Timings
	f.Timings = flow.Timings{Blocked: dur(t.Blocked), DNS: dur(t.DNS), TLS: dur(t.SSL), Send: dur(t.Send), Wait: dur(t.Wait), Receive: dur(t.Receive), Connect: dur(t.Connect)}
	// HAR counts ssl inside connect; mitmproxy does not (connect < ssl).
	if t.Connect >= 0 && t.SSL > 0 && t.Connect >= t.SSL {
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
