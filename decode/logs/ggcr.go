package logs

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// FormatGGCR is go-containerregistry's transport log, as `crane -v` (and
// any tool that sets logs.Debug) prints it (pkg/v1/remote/transport/
// logger.go). Its logger is the innermost transport, below retries, the
// User-Agent and auth, so it sees every request as sent, pings and token
// requests too:
//
//	2026/12/04 17:12:16 --> GET https://reg/v2/x/manifests/1 [body redacted: reason]
//	2026/12/04 17:12:16 GET /v2/x/manifests/1 HTTP/1.1     (httputil.DumpRequestOut)
//	Host: reg
//	Authorization: <redacted>
//	…
//	2026/12/04 17:12:16 <-- 401 https://reg/v2/x/manifests/1 (2.5ms)
//	2026/12/04 17:12:16 HTTP/1.1 401 Unauthorized           (httputil.DumpResponse)
//	Www-Authenticate: Bearer realm="…",service="…"
//
//	{"errors":[…]}
//	2026/12/04 17:12:16 <-- dial tcp: … GET https://reg/v2/ (3ms)    (a transport error)
//	Error: GET https://reg/v2/x/manifests/1: UNAUTHORIZED: …          (crane's final error)
//
// Each log call is one entry: the timestamp is on its first line only, and
// entries of concurrent requests interleave, so responses are matched to
// requests by URL and dumps to their lines by method, path and status.
//
// What the log shows is the wire, less three things. Authorization's value
// is replaced whole by "<redacted>": the scheme is gone too, so the line
// proves only that the header was sent (ggcr redacts only a non-empty
// one), and a dumped request without it proves it was not. The scheme
// follows from which transport ggcr chose at the ping (transport.go): a
// Bearer challenge gives bearerTransport, which sends "Bearer <token>" to
// the registry host on every request; the token request goes through
// basicTransport, which sends Basic credentials (never a token) to the
// realm; a Basic challenge or a 200 ping gives basicTransport to the
// registry — Basic, unless the docker config holds a registrytoken, which
// ggcr sends as Bearer and the log cannot tell apart. regtrace puts back
// that scheme with a redacted value (decode.ParseAuthorization reads a
// bare "<redacted>" as no scheme at all). Token responses and blobs are
// not dumped ("[body redacted: …]"), so their bodies stay unknown; and a
// request or response whose dump is missing ("Failed to dump …", a log
// cut short) has unknown headers: such a response is Inferred, keeping
// the status its "<--" line gave.
const FormatGGCR Format = "go-containerregistry"

// pastePrefix is a timestamp a CI system or terminal puts on every line
// ("2024-01-02T03:04:05.1234567Z "): stripped, it says nothing of entries.
var pastePrefix = regexp.MustCompile(`^\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?(?:\s+|$)`)

const ggcrMethods = `GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS`

var (
	ggcrInErr     = regexp.MustCompile(`^<-- (.*) (` + ggcrMethods + `) (https?://\S+) \(([^)]*)\)$`)
	ggcrDumpFail  = regexp.MustCompile(`^Failed to dump (request|response) (` + ggcrMethods + `) (https?://\S+): `)
	ggcrErrorLike = regexp.MustCompile(`^(?:(?:` + ggcrMethods + `) https?://\S+: |(?i:get|head|post|put|patch|delete) "https?://)`)
)

func sniffGGCR(head []string) bool {
	for _, h := range head {
		s, _ := ggcrStrip(h)
		if ggcrOut.MatchString(s) || ggcrIn.MatchString(s) && strings.Contains(s, "://") {
			return true
		}
	}
	return false
}

// ggcrStrip drops per-line paste timestamps and the log package's prefix;
// stamped reports the latter, which only an entry's first line carries.
func ggcrStrip(s string) (string, bool) {
	s = strings.TrimRight(s, "\r") // a CR inside colour codes outlives clean
	for i := 0; i < 3 && pasteMaybe(s); i++ {
		loc := pastePrefix.FindStringIndex(s)
		if loc == nil {
			break
		}
		s = s[loc[1]:]
	}
	// The "log" package's prefix (log.LstdFlags, with optional
	// microseconds and file:line): a line that starts with it starts an
	// entry.
	if n := ggcrPrefixLen(s); n >= 0 {
		return s[n:], true
	}
	return s, false
}

// pasteMaybe is a cheap test that pastePrefix may match s: an optional
// "[" then four digits and "-". Most lines fail it, and skip the regexp.
func pasteMaybe(s string) bool {
	if strings.HasPrefix(s, "[") {
		s = s[1:]
	}
	return len(s) >= 5 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// entry kinds
const (
	eOther = iota
	eOut
	eIn
	eInErr
	eReqDump
	eRespDump
	eDumpFail
	eError
)

// ggcrEntry is one log call: its first line and the lines that go on it.
type ggcrEntry struct {
	kind  int
	n     int // line number of the first line
	first string
	rest  []string
}

func ggcrKind(s string) int {
	switch {
	case strings.HasPrefix(s, "--> ") && ggcrOut.MatchString(s):
		return eOut
	case strings.HasPrefix(s, "<-- ") && ggcrIn.MatchString(s):
		return eIn
	case strings.HasPrefix(s, "<-- ") && ggcrInErr.MatchString(s):
		return eInErr
	case strings.Contains(s, " HTTP/") && ggcrReqLine.MatchString(s):
		return eReqDump
	case strings.HasPrefix(s, "HTTP/") && ggcrRespLine.MatchString(s):
		return eRespDump
	case strings.HasPrefix(s, "Failed to dump ") && ggcrDumpFail.MatchString(s):
		return eDumpFail
	case strings.HasPrefix(s, "Error: "):
		return eError
	}
	return -1
}

func ggcrEntries(ls []line) []ggcrEntry {
	// Each line is stripped and classified on its own: on every core for
	// a long log.
	type classified struct {
		s       string
		stamped bool
		k       int
	}
	cs := make([]classified, len(ls))
	inParts(len(ls), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			c := &cs[i]
			c.s, c.stamped = ggcrStrip(ls[i].text)
			c.k = ggcrKind(c.s)
		}
	})
	var es []ggcrEntry
	for i, l := range ls {
		s, stamped, k := cs[i].s, cs[i].stamped, cs[i].k
		if k < 0 && stamped {
			k = eOther
		}
		if k < 0 {
			if len(es) > 0 {
				es[len(es)-1].rest = append(es[len(es)-1].rest, s)
			}
			continue
		}
		es = append(es, ggcrEntry{kind: k, n: l.n, first: s})
	}
	// The client's error ends the log: an "Error: " line before the
	// last exchange is a body's text (a registry's plain-text answer).
	last := -1
	for i, e := range es {
		if e.kind != eError && e.kind != eOther {
			last = i
		}
	}
	out := es[:0]
	for i, e := range es {
		if e.kind == eError && i < last && len(out) > 0 {
			p := &out[len(out)-1]
			p.rest = append(append(p.rest, e.first), e.rest...)
			continue
		}
		out = append(out, e)
	}
	return out
}

// ggcrState is what the reader knows of one flow beyond the flow itself.
type ggcrState struct {
	f          *flow.Flow
	answered   bool // a "<--" line
	reqDump    bool // its request dump was seen (headers known)
	dumpFailed bool // "Failed to dump request"
	respDump   bool // its response dump was seen
	wantResp   bool // answered, response dump still to come
	authShown  bool // the dump shows "Authorization: <redacted>"
	tokenReq   bool // ggcr says its response holds credentials
	omitBody   bool // ggcr omitted the bodies
	reqOmitted bool
	url        string // f.Request.URL.String()
}

// ggcrQueue holds flows in log order for one of the lookups below, each
// the first flow that matches: a flow that can never match again leaves
// the queue when a lookup passes it, so a long log costs each lookup the
// still-open flows before its match, not the whole log.
type ggcrQueue struct{ head, tail *ggcrNode }

type ggcrNode struct {
	st   *ggcrState
	next *ggcrNode
}

func (q *ggcrQueue) push(st *ggcrState) {
	n := &ggcrNode{st: st}
	if q.tail == nil {
		q.head = n
	} else {
		q.tail.next = n
	}
	q.tail = n
}

// first is the first flow that matches; flows that are done (for good)
// are dropped on the way.
func (q *ggcrQueue) first(done, match func(*ggcrState) bool) *ggcrState {
	var prev *ggcrNode
	for n := q.head; n != nil; n = n.next {
		if done(n.st) {
			if prev == nil {
				q.head = n.next
			} else {
				prev.next = n.next
			}
			if q.tail == n {
				q.tail = prev
			}
			continue
		}
		if match(n.st) {
			return n.st
		}
		prev = n
	}
	return nil
}

// ggcrQueues are the open flows of a log: unanswered ones, ones whose
// request dump is to come, answered ones whose response dump may come.
type ggcrQueues struct{ unanswered, reqDump, respDump ggcrQueue }

func (qs *ggcrQueues) push(st *ggcrState) {
	qs.unanswered.push(st)
	qs.reqDump.push(st)
	qs.respDump.push(st)
}

// Once answered, a flow waits for its response dump only if it was
// answered by a "<--" line, and stops waiting for good.
func ggcrAnswered(st *ggcrState) bool     { return st.answered }
func ggcrRespDumpDone(st *ggcrState) bool { return st.answered && !st.wantResp }
func ggcrReqDumpDone(st *ggcrState) bool  { return st.reqDump || st.dumpFailed }

func readGGCR(ls []line) *Trace {
	t := &Trace{Format: FormatGGCR,
		Lacks: "credentials or tokens (it prints every Authorization header as <redacted>; regtrace puts back the scheme " +
			"go-containerregistry sends), token responses, or blob bodies"}
	var sts []*ggcrState
	var qs ggcrQueues
	var lastErr string
	uas := map[string]int{}
	add := func(n int, method, raw string) *ggcrState {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil
		}
		st := &ggcrState{f: &flow.Flow{
			ID: flow.ID(len(sts) + 1), Origin: "line " + strconv.Itoa(n),
			Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
			Response: &flow.Response{Inferred: true, Header: http.Header{}},
		}}
		st.url = u.String()
		sts = append(sts, st)
		qs.push(st)
		return st
	}
	// Bodies are read after the entries are paired, on every core: a
	// body read is the same wherever it is done, and the last dump of a
	// message is the one kept.
	type bodyJob struct {
		dst     *flow.Body
		h       http.Header
		lines   []string
		omitted bool
		noBody  bool // a HEAD's response: what follows is another entry
	}
	var jobs []bodyJob
	es := ggcrEntries(ls)
	for i, e := range es {
		switch e.kind {
		case eOut:
			m := ggcrOut.FindStringSubmatch(e.first)
			if st := add(e.n, m[1], m[2]); st != nil && m[3] != "" {
				st.omitBody, st.reqOmitted = true, true
				st.tokenReq = strings.Contains(m[3], "token response")
			}
		case eIn:
			m := ggcrIn.FindStringSubmatch(e.first)
			st := ggcrPending(&qs, "", m[2])
			if st == nil && m[2] != "" {
				// The request is not in the log (it was cut there): the
				// status line does not name the method.
				st = add(e.n, http.MethodGet, m[2])
				if st != nil {
					st.f.Origin += " (method not in the log: GET assumed)"
				}
			}
			if st == nil {
				continue
			}
			st.answered, st.wantResp = true, true
			st.f.Response.Status, _ = strconv.Atoi(m[1])
			st.f.Response.Inferred = false
			if m[4] != "" {
				st.omitBody = true
			}
		case eInErr:
			m := ggcrInErr.FindStringSubmatch(e.first)
			st := ggcrPending(&qs, m[2], m[3])
			if st == nil {
				st = add(e.n, m[2], m[3])
			}
			if st == nil {
				continue
			}
			st.answered = true
			setErr(st.f, m[1])
		case eReqDump:
			m := ggcrReqLine.FindStringSubmatch(e.first)
			h, body := dumpParts(e.rest)
			st := ggcrForReqDump(&qs, m[1], m[2], h.Get("Host"))
			if st == nil {
				raw := m[2]
				if !strings.Contains(raw, "://") {
					raw = "https://" + h.Get("Host") + raw
				}
				if st = add(e.n, m[1], raw); st == nil {
					continue
				}
				st.f.Origin += " (no --> line)"
			}
			st.reqDump = true
			r := &st.f.Request
			r.Proto = "HTTP/" + m[3]
			for k, vs := range h {
				if http.CanonicalHeaderKey(k) == "Host" {
					continue
				}
				for _, v := range vs {
					if http.CanonicalHeaderKey(k) == "Authorization" {
						if strings.TrimSpace(v) == "<redacted>" {
							st.authShown = true
							continue
						}
					}
					r.Header.Add(k, redact.Header(k, v))
				}
			}
			if ua := r.Header.Get("User-Agent"); ua != "" {
				uas[ua]++
			}
			jobs = append(jobs, bodyJob{dst: &r.Body, h: r.Header, lines: body, omitted: st.reqOmitted})
		case eRespDump:
			m := ggcrRespLine.FindStringSubmatch(e.first)
			status, _ := strconv.Atoi(m[2])
			st := ggcrForRespDump(&qs, status)
			if st == nil {
				continue
			}
			st.wantResp, st.respDump = false, true
			h, body := dumpParts(e.rest)
			resp := st.f.Response
			resp.Proto = "HTTP/" + m[1]
			for k, vs := range h {
				for _, v := range vs {
					resp.Header.Add(k, redact.Header(k, v))
				}
			}
			jobs = append(jobs, bodyJob{dst: &resp.Body, h: resp.Header, lines: body, omitted: st.omitBody,
				noBody: st.f.Request.Method == http.MethodHead})
		case eDumpFail:
			m := ggcrDumpFail.FindStringSubmatch(e.first)
			if m[1] == "response" {
				if st := ggcrPendingDump(&qs, m[2], m[3]); st != nil {
					st.wantResp = false
				}
			} else if st := ggcrForReqDump(&qs, m[2], m[3], ""); st != nil {
				st.dumpFailed = true
			}
		case eError:
			msg := strings.TrimPrefix(e.first, "Error: ")
			if len(e.rest) > 0 {
				msg += "\n" + strings.TrimRight(strings.Join(e.rest, "\n"), "\n")
			}
			lastErr = msg
			t.Errors = append(t.Errors, redact.Text(msg))
		case eOther:
			// A tool that ends with log.Fatal: the last entry, in the form
			// of ggcr's transport.Error or Go's url.Error.
			if i == len(es)-1 && lastErr == "" && ggcrErrorLike.MatchString(e.first) {
				lastErr = e.first
				t.Errors = append(t.Errors, redact.Text(e.first))
			}
		}
	}
	last := map[*flow.Body]int{}
	for i, j := range jobs {
		last[j.dst] = i
	}
	inParts(len(jobs), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			j := jobs[i]
			switch {
			case last[j.dst] != i:
			case j.noBody:
				*j.dst = flow.Body{Complete: true}
			default:
				*j.dst = dumpBody(j.h, j.lines, j.omitted)
			}
		}
	})
	var flows []*flow.Flow
	for _, st := range sts {
		// A status without its dump: the headers are unknown.
		if st.answered && !st.respDump && st.f.Response != nil {
			st.f.Response.Inferred = true
		}
		flows = append(flows, st.f)
	}
	t.Image = ggcrImage(flows)
	if lastErr != "" {
		flows = applyError(flows, lastErr, false)
		flows = failSomewhere(flows, lastErr, t.Image)
	}
	t.HidesAuth = ggcrAuth(sts, lastErr != "")
	// One client sent every request: its User-Agent goes on those whose
	// headers the log did not show.
	ua, best := "", 0
	for k, n := range uas {
		if n > best || n == best && k < ua {
			ua, best = k, n
		}
	}
	program := "crane"
	if ua != "" {
		if p, _, _ := strings.Cut(ua, "/"); p != "" && !strings.HasPrefix(p, "go-containerregistry") && !strings.Contains(p, " ") {
			program = p
		} else if strings.HasPrefix(p, "go-containerregistry") {
			program = "go-containerregistry"
		}
	} else {
		ua = "crane"
	}
	for _, f := range flows {
		if f.Request.Header.Get("User-Agent") == "" {
			f.Request.Header.Set("User-Agent", ua)
		}
	}
	t.Name = program + " debug log"
	if t.Image != "" {
		t.Command = "regtrace run --har trace.har -- crane pull " + t.Image + " image.tar"
		for _, f := range flows {
			if f.Request.Method == http.MethodPut && strings.Contains(f.Request.URL.Path, "/manifests/") {
				t.Command = "regtrace run --har trace.har -- crane push image.tar " + t.Image
				break
			}
		}
	}
	t.Flows = flows
	return t
}

// ggcrPending is the first flow to rawURL (and method, when given) that
// has no answer yet.
func ggcrPending(qs *ggcrQueues, method, rawURL string) *ggcrState {
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil {
		return nil
	}
	us := u.String()
	return qs.unanswered.first(ggcrAnswered, func(st *ggcrState) bool {
		return !st.answered && st.url == us && (method == "" || st.f.Request.Method == method)
	})
}

// ggcrPendingDump is the first answered flow to method and rawURL whose
// response dump is still to come.
func ggcrPendingDump(qs *ggcrQueues, method, rawURL string) *ggcrState {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	us := u.String()
	return qs.respDump.first(ggcrRespDumpDone, func(st *ggcrState) bool {
		return st.wantResp && st.f.Request.Method == method && st.url == us
	})
}

// ggcrForReqDump is the first flow whose request line is method target
// (a request URI, or an absolute URL through a proxy) with no dump yet.
func ggcrForReqDump(qs *ggcrQueues, method, target, host string) *ggcrState {
	abs := ""
	if t, err := url.Parse(target); err == nil && t.Host != "" {
		abs = t.String()
	}
	return qs.reqDump.first(ggcrReqDumpDone, func(st *ggcrState) bool {
		if st.reqDump || st.dumpFailed || st.f.Request.Method != method {
			return false
		}
		u := st.f.Request.URL
		return abs != "" && abs == st.url || strings.HasPrefix(target, "/") && target == u.RequestURI() && (host == "" || host == u.Host)
	})
}

// ggcrForRespDump is the first flow answered with status whose response
// dump is still to come: the dump follows its "<--" line, but another
// request's entries may come between.
func ggcrForRespDump(qs *ggcrQueues, status int) *ggcrState {
	return qs.respDump.first(ggcrRespDumpDone, func(st *ggcrState) bool {
		return st.wantResp && st.f.Response != nil && st.f.Response.Status == status
	})
}

// dumpParts splits a dump's lines after its first: the header lines up to
// the blank line, and the body lines after it.
func dumpParts(rest []string) (http.Header, []string) {
	h := http.Header{}
	for i, l := range rest {
		if strings.TrimSpace(l) == "" {
			return h, rest[i+1:]
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		h.Add(k, strings.TrimSpace(v))
	}
	return h, nil
}

// maxCapture bounds a captured body, as the proxy does.
const maxCapture = 64 << 10

// dumpBody is the body a dump shows: its lines up to the blank line
// Println ends the entry with, de-chunked when it was sent chunked,
// captured up to maxCapture and redacted. omitted: ggcr did not dump it.
func dumpBody(h http.Header, ls []string, omitted bool) flow.Body {
	cl, clErr := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if clErr != nil || cl < 0 {
		cl = -1
	}
	if omitted {
		b := flow.Body{Truncated: true}
		if cl >= 0 {
			b.Size, b.Truncated = cl, cl > 0
		}
		return b
	}
	for len(ls) > 0 && strings.TrimSpace(ls[len(ls)-1]) == "" {
		ls = ls[:len(ls)-1]
	}
	if strings.EqualFold(h.Get("Transfer-Encoding"), "chunked") {
		ls = dechunk(ls)
	} else if cl >= 0 {
		// Lines after Content-Length bytes are not the body: a log
		// without timestamps does not mark where the next entry starts.
		var n int64
		for i, l := range ls {
			if n >= cl {
				ls = ls[:i]
				break
			}
			n += int64(len(l)) + 1
		}
	}
	// Line ends inside the body were LF or CRLF: Content-Length tells.
	sep := "\n"
	if n := int64(len(ls) - 1); cl > 0 && n > 0 {
		lf := n
		for _, l := range ls {
			lf += int64(len(l))
		}
		if d := cl - lf; d >= n && d <= n+2 {
			sep = "\r\n"
		}
	}
	var buf []byte
	var size int64
	for i, l := range ls {
		if i > 0 {
			size += int64(len(sep))
			if room := maxCapture - len(buf); room > 0 {
				buf = append(buf, sep[:min(len(sep), room)]...)
			}
		}
		size += int64(len(l))
		if room := maxCapture - len(buf); room > 0 {
			buf = append(buf, l[:min(len(l), room)]...)
		}
	}
	if cl > size && cl-size <= 2 && len(buf) < maxCapture-2 {
		// The line ends the body had (distribution ends its JSON with
		// one), lost in splitting lines.
		buf = append(buf, "\r\n"[2-(cl-size):]...)
		size = cl
	}
	b := flow.Body{Size: size, Complete: cl < 0 || size >= cl}
	if cl > size {
		b.Size = cl // the log was cut in the body: its true size
	}
	b.Truncated = b.Size > int64(len(buf))
	if len(buf) > 0 {
		b.Captured = redact.Body(h.Get("Content-Type"), buf)
	}
	return b
}

// dechunk reads a chunked body (RFC 9112 §7.1) from its lines, leniently:
// a size line, then data lines until the size is reached. What does not
// parse is kept as it is.
func dechunk(ls []string) []string {
	var out []string
	for i := 0; i < len(ls); {
		sz, _, _ := strings.Cut(ls[i], ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil || n < 0 {
			return ls
		}
		i++
		if n == 0 {
			break
		}
		var got int64
		for i < len(ls) && got < n {
			got += int64(len(ls[i]))
			out = append(out, ls[i])
			i++
			if got < n {
				got += 2 // a CRLF inside the chunk
			}
		}
	}
	return out
}

// ggcrAuth puts back Authorization's scheme on the requests whose dump
// shows "<redacted>", and on those whose headers the log did not show,
// what ggcr provably sent (see FormatGGCR). A token response ggcr did not
// dump held a token when the client went on to its registry (Refresh
// fails with "no token in bearer response" otherwise): it gets one, named
// by its flow, and the requests that carried it say so. It reports
// whether some request's Authorization is unknown all the same.
func ggcrAuth(sts []*ggcrState, failed bool) (hidden bool) {
	bearer := map[string]bool{}   // registry host -> its ping challenged Bearer
	creds := map[string]bool{}    // host -> some request to it carried credentials
	realms := map[string]string{} // token realm (host+path) -> registry host
	tokens := map[string]string{} // registry host -> the token last issued for it
	var reg string                // the registry last pinged
	lastUse := map[string]int{}   // host -> the last request to it
	for i, st := range sts {
		lastUse[st.f.Request.URL.Host] = i
	}
	for i, st := range sts {
		f := st.f
		u := f.Request.URL
		key := u.Host + u.Path
		if r := f.Response; r != nil {
			for _, c := range r.Header.Values("Www-Authenticate") {
				if len(c) >= 6 && strings.EqualFold(c[:6], "bearer") {
					if realm := challengeParam(c, "realm"); realm != "" {
						if ru, err := url.Parse(realm); err == nil {
							realms[ru.Host+ru.Path] = u.Host
						}
					}
				}
			}
		}
		toRealm := st.tokenReq || realms[key] != ""
		switch {
		case u.Path == "/v2/" || u.Path == "/v2":
			// ggcr pings without credentials (ping.go).
			reg = u.Host
			bearer[reg] = false
			if r := f.Response; r != nil {
				for _, c := range r.Header.Values("Www-Authenticate") {
					bearer[reg] = bearer[reg] || len(c) >= 6 && strings.EqualFold(c[:6], "bearer")
				}
			}
			if st.authShown {
				f.Request.Header.Set("Authorization", redactedNoUser)
			}
		case toRealm:
			r := realms[key]
			if r == "" {
				r = reg
			}
			if st.authShown || !st.reqDump && creds[r] {
				f.Request.Header.Set("Authorization", redactedNoUser)
				creds[r] = true
			} else if !st.reqDump {
				hidden = true
			}
			resp := f.Response
			if f.Err != nil || resp == nil || resp.Status != http.StatusOK || len(resp.Body.Captured) > 0 {
				break
			}
			if !failed || lastUse[r] > i {
				tok := tokenFromLog[len("Bearer "):] + "-" + strings.TrimPrefix(f.ID.String(), "#")
				b, _ := json.Marshal(map[string]string{"token": tok})
				resp.Body.Captured = b
				tokens[r] = tok
			}
		case st.authShown:
			// A host never pinged is another registry's blob store (a
			// cross-host challenge gets a Bearer token) or, in a log cut
			// before the ping, this registry after a token request.
			isBearer, pinged := bearer[u.Host]
			if !pinged {
				isBearer = tokens[u.Host] != "" || reg != "" && u.Host != reg
			}
			if isBearer {
				f.Request.Header.Set("Authorization", bearerOf(tokens[u.Host]))
			} else {
				f.Request.Header.Set("Authorization", redactedNoUser)
				creds[u.Host] = true
			}
		case !st.reqDump:
			switch {
			case bearer[u.Host] && tokens[u.Host] != "":
				f.Request.Header.Set("Authorization", bearerOf(tokens[u.Host]))
			case creds[u.Host]:
				f.Request.Header.Set("Authorization", redactedNoUser)
			default:
				hidden = true
			}
		}
	}
	return hidden
}

// bearerOf is the Authorization value of a token put back, or of one the
// log does not show at all.
func bearerOf(tok string) string {
	if tok == "" {
		return tokenFromLog
	}
	return "Bearer " + tok
}

// challengeParam is a parameter of a challenge, read simply: ggcr's log
// shows the header as the registry sent it.
func challengeParam(c, name string) string { return challengeParamLow(c, lowerASCII(c), name) }

// challengeParamLow is challengeParam with low, lowerASCII(c).
func challengeParamLow(c, low, name string) string {
	for i := 0; ; {
		j := strings.Index(low[i:], name+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j > 0 && low[j-1] != ' ' && low[j-1] != ',' {
			i = j + 1
			continue
		}
		v := c[j+len(name)+1:]
		if strings.HasPrefix(v, `"`) {
			v = v[1:]
			if k := strings.IndexByte(v, '"'); k >= 0 {
				return v[:k]
			}
			return v
		}
		if k := strings.IndexByte(v, ','); k >= 0 {
			return v[:k]
		}
		return v
	}
}

// ggcrImage is the image of the first manifest request: host/name:tag or
// host/name@digest.
func ggcrImage(flows []*flow.Flow) string {
	for _, f := range flows {
		p := f.Request.URL.Path
		name, ref, ok := strings.Cut(strings.TrimPrefix(p, "/v2/"), "/manifests/")
		if !ok || !strings.HasPrefix(p, "/v2/") || name == "" || ref == "" {
			continue
		}
		sep := ":"
		if strings.Contains(ref, ":") {
			sep = "@"
		}
		return f.Request.URL.Host + "/" + name + sep + ref
	}
	return ""
}

// lowerASCII lower-cases ASCII letters only, so that an index into the
// result is one into s (strings.ToLower changes the length of some
// letters: "İ" becomes three bytes).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
