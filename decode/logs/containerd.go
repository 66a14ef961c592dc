package logs

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// FormatContainerd is containerd's debug log: the daemon's (crictl and
// the kubelet pull inside it, through the CRI plugin; containerd 2.x's
// transfer service pulls there for ctr too), with `--log-level debug` or
// `[debug] level = "debug"`, as logrus text (logfmt) or, with `format =
// "json"`, JSON, plain or from `journalctl -u containerd`; and the same
// lines from `ctr --debug` (containerd 1.x's ctr resolves and fetches in
// its own process and logs there). Its resolver (remotes/docker,
// core/remotes/docker from 2.0) logs, per request:
//
//	level=debug msg=resolving host=reg method=HEAD url=https://reg/v2/x/manifests/1
//	level=debug msg="do request" host=reg request.header.accept=… request.header.user-agent=containerd/1.6.20 request.method=HEAD url=…
//	level=debug msg="fetch response received" host=reg response.header.www-authenticate="Bearer realm=…" response.status="401 Unauthorized" url=…
//	level=debug msg=Unauthorized header="Bearer realm=…" host=reg
//	level=info msg="trying next host" error="failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized" host=reg
//	level=info msg="trying next host - response was http.StatusNotFound" host=reg      (1.x; 2.x: "… after status: 404 Not Found", "fetch failed …" at the last host)
//	level=error msg="PullImage \"reg/x:1\" failed" error="rpc error: … failed to resolve reference …"   (CRI's final error)
//	ctr: failed to resolve reference "reg/x:1": …                                                      (ctr's final error)
//
// Each registry request is logged with its method, URL and headers
// (Authorization is left out: requestFields skips it), and its answer
// with status and headers; bodies never. Token requests go through the
// same HTTP client but not through the resolver's logging: they are not
// in the log, only their failure, in the error ("failed to fetch anonymous
// token", "failed to fetch oauth token"). The reader puts back what
// containerd's authorizer (remotes/docker/authorizer.go) provably did: a
// 401 with a Bearer challenge followed by the same request again means a
// token was obtained from the challenge's realm and sent as Bearer; after a
// Basic challenge, the request again means credentials were sent as Basic
// (without them containerd stops: "no basic auth credentials"). A token
// request's failure is a POST of a password grant ("oauth": containerd had
// credentials), then, when the POST was refused 400, 401, 404 or 405, a GET
// with Basic — the error is the last one's — or an anonymous GET.
//
// A daemon log at info level has no requests, only the errors: they are
// read as the Kubernetes events reader reads the same error texts.
const FormatContainerd Format = "containerd"

// FormatCtr is `ctr --debug --http-dump` output: containerd 1.x's ctr
// resolves in its own process and logs the resolver's debug lines above;
// 2.x's pulls through the daemon's transfer service (unless --local), whose
// dumps are streamed back to ctr (core/transfer/registry: WithHTTPDebug,
// WithClientStream) while the debug lines stay in the daemon's log. Each
// request and response is dumped whole by httputil.DumpRequest and
// DumpResponse through a logrus writer — one info record per dumped line (`level=info
// msg="HEAD /v2/x/manifests/1 HTTP/1.1"`, `msg="Authorization: Basic …"`,
// a record without msg for each blank line), with a body's last line glued
// to the next dump's first (`msg="…&username=aliceHTTP/1.1 401
// Unauthorized"`) since a body does not end with a newline. The dumps
// hold what the debug log lacks: token requests with their forms and
// answers, bodies, and Authorization headers, in clear — regtrace redacts
// them (a dumped form holds the password). Blob bodies are not kept.
const FormatCtr Format = "ctr"

// cdRec is one logrus record of containerd or ctr.
type cdRec struct {
	n     int
	f     map[string]string
	blank bool // a record with no message: a dump's blank line
}

func (r *cdRec) msg() string   { return r.f["msg"] }
func (r *cdRec) level() string { return strings.ToLower(r.f["level"]) }

// dump: only time, level and msg, at info: a line of --http-dump (the
// resolver's own records carry host, url or digest fields).
func (r *cdRec) dump() bool {
	if r.level() != "info" {
		return false
	}
	for k := range r.f {
		if k != "time" && k != "level" && k != "msg" {
			return false
		}
	}
	return true
}

var (
	// cdTerminal is logrus's terminal form: "DEBU[0000] message   k=v".
	cdTerminal = regexp.MustCompile(`^(TRAC|DEBU|INFO|WARN|ERRO|FATA|PANI)\[[^\]]*\] ?(.*)$`)
	cdField    = regexp.MustCompile(`  +[A-Za-z_][A-Za-z0-9_.\-]*=`)
	// cdReqLine and cdRespLine end a dumped line that starts a request or
	// a response (what precedes is the previous dump's body).
	cdReqLine  = regexp.MustCompile(`(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (/\S*) HTTP/\d(?:\.\d)?$`)
	cdRespLine = regexp.MustCompile(`HTTP/\d(?:\.\d)? (\d{3})(?: [A-Za-z][A-Za-z '-]*)?$`)
	// cdPullImage is the CRI plugin's final error record.
	cdPullImage = regexp.MustCompile(`^PullImage "([^"]*)" failed`)
	cdPulling   = regexp.MustCompile(`^PullImage "([^"]+)"`)
)

var cdLevels = map[string]string{"TRAC": "trace", "DEBU": "debug", "INFO": "info", "WARN": "warning", "ERRO": "error", "FATA": "fatal", "PANI": "panic"}

// cdParse reads a line as a logrus record: logfmt, JSON or the terminal
// form; nil when it is none.
func cdParse(s string, n int) *cdRec {
	if r := cdFastDump(s, n); r != nil {
		return r
	}
	if len(s) > 5 && s[4] == '[' && s[0] >= 'A' && s[0] <= 'Z' {
		if m := cdTerminal.FindStringSubmatch(s); m != nil {
			return cdParseTerminal(m, n)
		}
	}
	return cdParseRecord(s, n)
}

// cdFastDump reads the commonest line of ctr's output, a dumped line
// (`time="…" level=info msg="…"`, or no msg), without the general parser.
func cdFastDump(s string, n int) *cdRec {
	if !strings.HasPrefix(s, "time=") {
		return nil
	}
	_, i := rcValue(s, len("time="))
	rest := s[i:]
	if !strings.HasPrefix(rest, " level=info") {
		return nil
	}
	rest = rest[len(" level=info"):]
	if rest == "" {
		return &cdRec{n: n, f: map[string]string{"level": "info"}, blank: true}
	}
	if !strings.HasPrefix(rest, " msg=") {
		return nil
	}
	msg, j := rcValue(rest, len(" msg="))
	if j != len(rest) {
		return nil
	}
	return &cdRec{n: n, f: map[string]string{"level": "info", "msg": msg}}
}

func cdParseTerminal(m []string, n int) *cdRec {
	{
		rest := m[2]
		msg, fields := rest, ""
		if loc := cdField.FindStringIndex(rest); loc != nil {
			msg, fields = rest[:loc[0]], rest[loc[0]:]
		}
		msg = strings.TrimRight(msg, " ")
		r := &cdRec{n: n, f: map[string]string{"level": cdLevels[m[1]]}}
		if fields != "" {
			if fr := rcParse("msg=x "+fields, n); fr != nil {
				for k, v := range fr.f {
					if k != "msg" {
						r.f[k] = v
					}
				}
			}
		}
		if msg == "" {
			r.blank = true
		} else {
			r.f["msg"] = msg
		}
		return r
	}
}

func cdParseRecord(s string, n int) *cdRec {
	if strings.HasPrefix(s, "{") {
		if f, ok := flatJSON(s); ok {
			if _, ok := f["msg"]; ok {
				return &cdRec{n: n, f: f}
			}
			return nil
		}
		if rr := rcParseJSON(s, n); rr != nil {
			return &cdRec{n: n, f: rr.f}
		}
		return nil
	}
	if !strings.Contains(s, "level=") {
		return nil
	}
	if rr := rcParse(s, n); rr != nil {
		if _, ok := rr.f["level"]; ok {
			return &cdRec{n: n, f: rr.f}
		}
		return nil
	}
	// "time=… level=info": a dumped blank line.
	if lv, ok := logfmtValue(s, "level"); ok && lv != "" {
		return &cdRec{n: n, f: map[string]string{"level": lv}, blank: true}
	}
	return nil
}

// cdWorth are words a record the reader uses holds; most of a daemon's
// journal holds none of them.
var cdWorth = []string{"do request", "fetch response received", "resolv", "Unauthorized", "trying next host", "fetch failed", "PullImage", "fetching", "pushing",
	"POST /", "POST request", "Handler for POST"}

// cdWorthParsing: the line may be a record the reader uses (ctr's
// dumped lines are info records).
func cdWorthParsing(s string, format Format) bool {
	for _, w := range cdWorth {
		if strings.Contains(s, w) {
			return true
		}
	}
	return format == FormatCtr && (strings.Contains(s, "level=info") || strings.HasPrefix(s, "INFO[") || strings.Contains(s, `"info"`))
}

// cdResolverMsgs are the resolver's messages.
func cdResolver(r *cdRec) bool {
	switch m := r.msg(); {
	case m == "do request" || m == "fetch response received":
		return r.f["url"] != ""
	case m == "resolving" || m == "Unauthorized" || strings.HasPrefix(m, "trying next host") || strings.HasPrefix(m, "fetch failed"):
		return r.f["host"] != "" || r.f["url"] != "" || r.f["digest"] != ""
	case cdPullImage.MatchString(m):
		return r.f["error"] != ""
	}
	return false
}

func sniffCtr(head []string) bool {
	resolver := false
	for _, h := range head {
		if strings.HasPrefix(h, "ctr: ") && kRuntime(h) == rtContainerd {
			return true
		}
		r := cdParse(h, 0)
		if r == nil {
			continue
		}
		if m := cdStart(cdReqLine, r.msg()); r.dump() && m != nil && m[0] == 0 {
			return true
		}
		if (r.msg() == "fetching" || r.msg() == "pushing") && r.f["image"] != "" {
			return true // ctr pull's or push's first record
		}
		resolver = resolver || cdResolver(r) && r.f["mediatype"] != "" // ctr's fetch context
	}
	return resolver && slices.ContainsFunc(head, func(h string) bool { return strings.HasPrefix(h, "ctr: ") })
}

func sniffContainerd(head []string) bool {
	for _, h := range head {
		if !strings.Contains(h, "level") && (len(h) < 5 || h[4] != '[') {
			continue
		}
		if r := cdParse(h, 0); r != nil && cdResolver(r) {
			return true
		}
	}
	return false
}

// cdState is what the reader knows of one flow beyond the flow itself.
type cdState struct {
	f         *flow.Flow
	logged    bool // "do request"
	answered  bool // "fetch response received"
	dumpReq   bool // its request was dumped
	dumpResp  bool // its response was dumped
	authShown bool // the dump showed its Authorization
	// after is the 401 its host answered before it was logged: the
	// challenge containerd's authorizer answered when it sent it.
	after *cdState
	sent  bool // the log shows it went out (answered, dumped, or failed in transport)
	// seq orders the flows as they went out; dropped: containerd logged
	// it, then failed to authorize it, so it never did.
	seq     int
	dropped bool
}

// cdDump is the dump being read: a request or a response, its start
// line, headers and body lines.
type cdDump struct {
	resp         bool
	method, path string
	status       int
	head         http.Header
	inBody       bool
	body         []string
	n            int
	placed       *cdState // the request's flow, once its headers are read
}

type cdReader struct {
	t       *Trace
	sts     []*cdState
	cur     *cdDump
	dumps   bool
	final   string // the final error
	finalAt int
	// challenged: host -> the last challenge a 401 carried, and the
	// request it answered.
	challenged map[string]*cdState
	// tokenFor and basicFor: host -> the authorizer holds a token for it,
	// or credentials it sends as Basic. Each host attempt ("resolving")
	// and the fetches after "resolved" start afresh (in ctr 1.6's dumps,
	// the first request of each carries no Authorization); tokenEver
	// remembers a token was obtained for the host at all.
	tokenFor, basicFor, tokenEver map[string]bool
	// undumped are the logged requests whose dump may still come, and
	// awaiting the dumped requests whose response may: a few at a time.
	undumped, awaiting []*cdState
	seq                int
	plainHTTP          map[string]bool // hosts logged with http:// URLs
	// unknownCreds: a token was obtained, and whether with credentials
	// the log does not say.
	unknownCreds bool
	// ctxScope is the scope containerd adds to every token request of the
	// operation the log shows: pull of the image fetched, or pull,push of
	// the one pushed.
	ctxScope string
	push     bool // the log is of a push (ctr images push)
	// dockerd: the log is dockerd's with the containerd image store (its
	// pulls go through containerd's resolver, in dockerd), and the image
	// of the API call that asked for the pull or push.
	dockerd      bool
	dockerdImage string
}

func readCtr(ls []line) *Trace { return readContainerdLike(ls, FormatCtr) }

func readContainerd(ls []line) *Trace { return readContainerdLike(ls, FormatContainerd) }

func readContainerdLike(ls []line, format Format) *Trace {
	t := &Trace{Format: format}
	rd := &cdReader{t: t, challenged: map[string]*cdState{}, tokenFor: map[string]bool{}, basicFor: map[string]bool{}, tokenEver: map[string]bool{}, plainHTTP: map[string]bool{}}
	for _, l := range ls {
		if format == FormatCtr && strings.HasPrefix(l.text, "ctr: ") {
			rd.endDump()
			rd.final, rd.finalAt = strings.TrimPrefix(l.text, "ctr: "), l.n
			continue
		}
		if !cdWorthParsing(l.text, format) {
			continue
		}
		r := cdParse(l.text, l.n)
		if r == nil {
			continue
		}
		if r.blank || r.dump() && !strings.HasPrefix(r.msg(), "PullImage ") {
			rd.dumpLine(r)
			continue
		}
		rd.record(r)
	}
	rd.endDump()
	rd.finish()
	return t
}

func (rd *cdReader) add(method string, u *url.URL, n int, origin string) *cdState {
	st := &cdState{f: &flow.Flow{
		ID: flow.ID(len(rd.sts) + 1), Origin: cmp.Or(origin, "line "+strconv.Itoa(n)),
		Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Response: &flow.Response{Inferred: true, Header: http.Header{}},
	}}
	rd.seq += 2
	st.seq = rd.seq
	rd.sts = append(rd.sts, st)
	return st
}

// maxPending bounds undumped and awaiting: a dump comes right after its
// record, a response right after its request.
const maxPending = 64

func pend(l []*cdState, st *cdState) []*cdState {
	if len(l) >= maxPending {
		l = l[1:]
	}
	return append(l, st)
}

func unpend(l []*cdState, st *cdState) []*cdState {
	if i := slices.Index(l, st); i >= 0 {
		return slices.Delete(l, i, i+1)
	}
	return l
}

// fieldHeaders reads request.header.* or response.header.* fields: keys
// lower-cased, a repeated value as KEY.1, KEY.2.
func fieldHeaders(f map[string]string, prefix string) http.Header {
	h := http.Header{}
	keys := make([]string, 0, len(f))
	for k := range f {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := k[len(prefix):]
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if name == "" {
			continue
		}
		h.Add(name, redact.Header(name, f[k]))
	}
	return h
}

func (rd *cdReader) record(r *cdRec) {
	switch msg := r.msg(); {
	case msg == "do request":
		u, err := url.Parse(r.f["url"])
		method := strings.ToUpper(cmp.Or(r.f["request.method"], r.f["method"]))
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || method == "" || strings.ContainsAny(method, " \t") {
			return
		}
		st := rd.add(method, u, r.n, "")
		st.logged = true
		if u.Scheme == "http" {
			rd.plainHTTP[u.Host] = true
		}
		for k, vs := range fieldHeaders(r.f, "request.header.") {
			st.f.Request.Header[k] = vs
		}
		st.after = rd.challenged[u.Host]
		delete(rd.challenged, u.Host)
		rd.undumped = pend(rd.undumped, st)
	case msg == "fetch response received":
		code, _, _ := strings.Cut(r.f["response.status"], " ")
		n, err := strconv.Atoi(code)
		if err != nil || n < 100 || n > 999 {
			return
		}
		st := rd.logged(r.f["url"], func(st *cdState) bool { return !st.answered && st.f.Err == nil })
		if st == nil {
			return
		}
		st.answered = true
		rd.undumped = unpend(rd.undumped, st)
		resp := st.f.Response
		// The record holds every header; a dump's lines may not all be
		// there yet (each host's client writes through a pipe of its own,
		// read concurrently), but its body is kept.
		resp.Header = fieldHeaders(r.f, "response.header.")
		if !st.dumpResp {
			resp.Body = dumpBody(resp.Header, nil, true)
		}
		resp.Status, resp.Inferred = n, false
		if st.f.Request.Method == http.MethodHead || n == http.StatusNoContent || n == http.StatusNotModified {
			resp.Body = flow.Body{Complete: true}
		}
		rd.send(st)
		if n == http.StatusUnauthorized {
			rd.challenged[st.f.Request.URL.Host] = st
		}
	case msg == "resolving":
		// An attempt at the next host entry starts afresh: its first
		// request answers no challenge (a token the authorizer holds for
		// the host name is still sent).
		if h := r.f["host"]; h != "" {
			delete(rd.challenged, h)
			delete(rd.tokenFor, h)
			delete(rd.basicFor, h)
		}
	case msg == "resolved":
		clear(rd.challenged)
		clear(rd.tokenFor)
		clear(rd.basicFor)
	case msg == "Unauthorized":
		// The challenge, when "fetch response received" did not show it
		// (a log filtered to these lines).
		host := r.f["host"]
		if st := rd.challenged[host]; st != nil && r.f["header"] != "" && st.f.Response.Header.Get("Www-Authenticate") == "" {
			st.f.Response.Header.Set("Www-Authenticate", r.f["header"])
		}
	case strings.HasPrefix(msg, "trying next host") || strings.HasPrefix(msg, "fetch failed"):
		// "… - response was http.StatusNotFound", "… after status: 404
		// Not Found": the answer is logged already.
		if e := r.f["error"]; e != "" {
			rd.attemptError(e, r.n)
		}
	case cdPullImage.MatchString(msg):
		rd.endDump()
		if rd.final != "" {
			// An earlier pull of the journal: its error is kept.
			rd.t.Errors = append(rd.t.Errors, redact.Text(rd.final))
		}
		rd.final, rd.finalAt = r.f["error"], r.n
		if rd.t.Image == "" {
			rd.t.Image = cdPullImage.FindStringSubmatch(msg)[1]
		}
	case msg == "fetching" || strings.HasPrefix(msg, "PullImage "):
		img := r.f["image"]
		if m := cdPulling.FindStringSubmatch(msg); img == "" && m != nil {
			img = m[1]
		}
		if img != "" {
			if rd.t.Image == "" {
				rd.t.Image = img
			}
			rd.ctxScope = "repository:" + parseRef(img).name + ":pull"
		}
	case strings.HasPrefix(msg, "Calling POST /") || msg == "handling POST request":
		// dockerd's API call: a pull or push of the image it names.
		path, _ := strings.CutPrefix(msg, "Calling POST ")
		if msg == "handling POST request" {
			path = r.f["request-url"]
		}
		if u, err := url.Parse(path); err == nil {
			if img, push, ok := dAPIImage(u); ok {
				rd.dockerd, rd.dockerdImage, rd.push = true, img, push
			}
		}
	case msg == "error response for POST request" || strings.HasPrefix(msg, "Handler for POST "):
		// dockerd's answer to the API call: the error the CLI prints.
		e := r.f["error-response"]
		if _, after, ok := strings.Cut(msg, " returned error: "); ok {
			e = after
		}
		if e != "" {
			rd.dockerd = true
			if rd.final != "" {
				rd.t.Errors = append(rd.t.Errors, redact.Text(rd.final))
			}
			rd.final, rd.finalAt = e, r.n
		}
	case msg == "pushing" && r.f["image"] != "":
		// ctr push's first record.
		if rd.t.Image == "" {
			rd.t.Image = r.f["image"]
		}
		rd.push = true
		rd.ctxScope = "repository:" + parseRef(r.f["image"]).name + ":pull,push"
	}
}

// logged is the last flow logged by "do request" for raw that ok accepts.
func (rd *cdReader) logged(raw string, ok func(*cdState) bool) *cdState {
	for i := len(rd.sts) - 1; i >= 0; i-- {
		st := rd.sts[i]
		if st.logged && !st.dropped && st.f.Request.URL.String() == raw && ok(st) {
			return st
		}
	}
	return nil
}

// send: the log shows st went out. Unless a dump shows its headers, the
// Authorization containerd's authorizer put on it is put back: after a
// Bearer challenge for its host, a token (obtained then: containerd logs
// "do request" before it authorizes, so only a request that went out
// proves the token); after a Basic one, credentials.
func (rd *cdReader) send(st *cdState) {
	if st.sent {
		return
	}
	st.sent = true
	if st.dumpReq {
		return
	}
	host := st.f.Request.URL.Host
	if ch := st.after; ch != nil && ch.f.Response.Status == http.StatusUnauthorized {
		c := ch.f.Response.Header.Get("Www-Authenticate")
		switch {
		case len(c) >= 6 && strings.EqualFold(c[:6], "bearer"):
			if !rd.tokenFor[host] && !rd.dumps {
				rd.impliedToken(ch, st)
			}
			rd.tokenFor[host], rd.tokenEver[host] = true, true
		case len(c) >= 5 && strings.EqualFold(c[:5], "basic"):
			rd.basicFor[host] = true
		}
	}
	resp := st.f.Response
	switch {
	case rd.tokenFor[host]:
		st.f.Request.Header.Set("Authorization", tokenFromLog)
	case rd.basicFor[host]:
		st.f.Request.Header.Set("Authorization", redactedNoUser)
	case rd.tokenEver[host] && st.f.Err == nil && resp != nil && resp.Status > 0 && resp.Status < 300:
		// Answered without a challenge on a registry that wanted a
		// token: the authorizer had kept one.
		st.f.Request.Header.Set("Authorization", tokenFromLog)
		rd.tokenFor[host] = true
	}
}

// impliedToken: containerd asked the challenge's realm for a token
// between ch and retry, and got one (it retried). The log does not show
// the request: it is put before the retry, its answer a token.
func (rd *cdReader) impliedToken(ch, retry *cdState) {
	realm, ok := cdRealm(ch, rd.ctxScope)
	if !ok {
		return
	}
	st := rd.add(http.MethodGet, realm, 0, "implied by "+retry.f.Origin)
	st.f.Response.Status = http.StatusOK
	b, _ := json.Marshal(map[string]string{"token": tokenFromLog[len("Bearer "):] + "-" + strings.TrimPrefix(st.f.ID.String(), "#")})
	st.f.Response.Body = flow.Body{Captured: b, Size: int64(len(b)), Complete: true}
	st.f.Response.Header.Set("Content-Type", "application/json")
	// before the retry
	rd.move(st, retry)
	rd.unknownCreds = true
}

// move puts st just before before.
func (rd *cdReader) move(st, before *cdState) {
	st.seq = before.seq - 1
}

// cdRealm is the token request a 401's Bearer challenge asks for, as
// containerd sends it anonymously: GET realm?scope=…&scope=…&service=….
// Its scopes are the challenge's and the operation's own (ctxScope: the
// resolver and fetcher add repository:NAME:pull, the pusher
// repository:NAME:pull,push), sorted, each once (GetTokenScopes).
func cdRealm(ch *cdState, ctxScope string) (*url.URL, bool) {
	c := ch.f.Response.Header.Get("Www-Authenticate")
	realm := challengeParam(c, "realm")
	u, err := url.Parse(realm)
	if realm == "" || err != nil || u.Host == "" || !u.IsAbs() {
		return nil, false
	}
	q := u.Query()
	var scopes []string
	if s := challengeParam(c, "scope"); s != "" {
		scopes = strings.Split(s, " ")
	}
	if ctxScope != "" {
		scopes = append(scopes, ctxScope)
	}
	slices.Sort(scopes)
	if scopes = slices.Compact(scopes); len(scopes) > 0 {
		q["scope"] = scopes
	}
	if s := challengeParam(c, "service"); s != "" {
		q.Set("service", s)
	}
	u.RawQuery = q.Encode()
	return u, true
}

// attemptError reads the error a host's attempt ended with.
func (rd *cdReader) attemptError(e string, n int) {
	e = strings.TrimSpace(e)
	if m := kAuthorize.FindStringSubmatch(e); m != nil {
		rd.tokenError(m[1] == "oauth", m[2], n)
		return
	}
	if m := kDoRequest.FindStringSubmatch(e); m != nil {
		u, err := url.Parse(m[2])
		if err != nil || u.Host == "" {
			return
		}
		for i := len(rd.sts) - 1; i >= 0; i-- {
			st := rd.sts[i]
			if st.logged && !st.dropped && !st.answered && st.f.Err == nil && strings.EqualFold(st.f.Request.Method, m[1]) && st.f.Request.URL.Host == u.Host && st.f.Request.URL.Path == u.Path {
				rd.send(st)
				setErr(st.f, m[3])
				return
			}
		}
		setErr(rd.add(strings.ToUpper(m[1]), u, n, "").f, m[3])
	}
}

// tokenError: the token request for the last challenge failed. A dump
// shows it (only a transport error is to be put on it); without one it
// is put back as containerd made it.
func (rd *cdReader) tokenError(oauth bool, e string, n int) {
	// The request it was authorizing never went out: containerd logged
	// it, then failed to authorize it.
	var ch *cdState
	for i := len(rd.sts) - 1; i >= 0; i-- {
		st := rd.sts[i]
		if st.logged && !st.dropped && !st.sent && st.f.Err == nil && !st.answered && !st.dumpReq {
			ch = st.after
			st.dropped = true
			rd.undumped = unpend(rd.undumped, st)
			break
		}
	}
	for i := len(rd.sts) - 1; i >= 0 && ch == nil; i-- {
		if r := rd.sts[i].f.Response; rd.sts[i].logged && !rd.sts[i].dropped && r != nil && r.Status == http.StatusUnauthorized {
			ch = rd.sts[i]
		}
	}
	method, st, reason := http.MethodGet, 0, ""
	var target *url.URL
	switch {
	case kReqStatus.MatchString(e):
		m := kReqStatus.FindStringSubmatch(e)
		method = m[1]
		target, _ = url.Parse(m[2])
		st, _ = strconv.Atoi(m[3])
	case kBareStatus.MatchString(e):
		st, _ = strconv.Atoi(kBareStatus.FindStringSubmatch(e)[1])
	case kDoRequest.MatchString(e):
		m := kDoRequest.FindStringSubmatch(e)
		method, reason = strings.ToUpper(m[1]), m[3]
		target, _ = url.Parse(m[2])
	default:
		reason = e
		if oauth {
			method = http.MethodPost
		}
	}
	// A dump shows the token requests: a transport error is the only
	// thing to add, on the request it names.
	if rd.dumps {
		if reason != "" && target != nil {
			for i := len(rd.sts) - 1; i >= 0; i-- {
				s := rd.sts[i]
				if s.dumpReq && !s.dumpResp && s.f.Err == nil && s.f.Request.URL.Host == target.Host && s.f.Request.URL.Path == target.Path {
					setErr(s.f, reason)
					return
				}
			}
		} else {
			return
		}
	}
	realm := target
	if realm == nil && ch != nil {
		realm, _ = cdRealm(ch, rd.ctxScope)
	}
	if realm == nil {
		return
	}
	fallback := st == 400 || st == 401 || st == 404 || st == 405
	if oauth && method == http.MethodGet && st > 0 && !fallback {
		method = http.MethodPost // a bare status not of the fallback's: the POST's own
	}
	post := func() *cdState {
		u := *realm
		u.RawQuery = ""
		p := rd.add(http.MethodPost, &u, n, "implied by line "+strconv.Itoa(n))
		q := realm.Query()
		form := url.Values{"grant_type": {"password"}, "client_id": {"containerd-client"}, "password": {"REDACTED"}}
		// The form joins the scopes with spaces (FetchToken).
		if sc := q["scope"]; len(sc) > 0 {
			form.Set("scope", strings.Join(sc, " "))
		}
		if v := q.Get("service"); v != "" {
			form.Set("service", v)
		}
		p.f.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		p.f.Request.Body = flow.Body{Captured: []byte(form.Encode()), Size: int64(len(form.Encode())), Complete: true}
		return p
	}
	var last *cdState
	switch {
	case oauth && method == http.MethodPost:
		last = post()
	case oauth:
		// the POST was refused with one of the statuses that make
		// containerd ask again with GET: which one, the log does not say.
		p := post()
		if st > 0 {
			p.f.Response.Status = st
		}
		g := *realm
		last = rd.add(http.MethodGet, &g, n, "implied by line "+strconv.Itoa(n))
		last.f.Request.Header.Set("Authorization", redactedNoUser)
	default:
		g := *realm
		last = rd.add(http.MethodGet, &g, n, "implied by line "+strconv.Itoa(n))
	}
	if oauth {
		if h := ""; ch != nil {
			h = ch.f.Request.URL.Host
			rd.t.CredentialsFor = append(rd.t.CredentialsFor, h)
		}
	}
	if st > 0 {
		last.f.Response.Status = st
	} else {
		setErr(last.f, reason)
	}
}

// dumpLine reads one line of --http-dump.
func (rd *cdReader) dumpLine(r *cdRec) {
	s := r.msg()
	if r.blank {
		s = ""
	}
	d := rd.cur
	// A start line, after the previous dump's body (glued to its last
	// line), or anywhere: each host's client dumps through a pipe of its
	// own, so one dump's lines may break into another's.
	if m := cdStart(cdReqLine, s); m != nil && (m[0] == 0 || d != nil && d.inBody) {
		rd.bodyTail(s[:m[0]])
		rd.endDump()
		rd.dumps = true
		rd.cur = &cdDump{method: s[m[2]:m[3]], path: s[m[4]:m[5]], head: http.Header{}, n: r.n}
		return
	}
	if m := cdStart(cdRespLine, s); m != nil && (m[0] == 0 || d != nil && d.inBody) {
		rd.bodyTail(s[:m[0]])
		rd.endDump()
		rd.dumps = true
		st, _ := strconv.Atoi(s[m[2]:m[3]])
		rd.cur = &cdDump{resp: true, status: st, head: http.Header{}, n: r.n}
		return
	}
	if d == nil {
		return
	}
	if d.inBody {
		if len(d.body) < 1024 {
			d.body = append(d.body, s)
		}
		return
	}
	if s == "" {
		d.inBody = true
		if !d.resp {
			rd.placeRequest(d)
		}
		return
	}
	if k, v, ok := strings.Cut(s, ":"); ok && !strings.ContainsAny(k, " \t") {
		d.head.Add(k, strings.TrimSpace(v))
	}
}

// cdStart matches a start line's regexp at the end of s, where "HTTP/"
// is: most dumped lines hold none, and a body line can be long.
func cdStart(re *regexp.Regexp, s string) []int {
	i := strings.LastIndex(s, "HTTP/")
	if i < 0 || len(s)-i > 64 {
		return nil
	}
	from := max(0, i-4096)
	m := re.FindStringSubmatchIndex(s[from:])
	for k := range m {
		if m[k] >= 0 {
			m[k] += from
		}
	}
	return m
}

func (rd *cdReader) bodyTail(s string) {
	if s != "" && rd.cur != nil && rd.cur.inBody {
		rd.cur.body = append(rd.cur.body, s)
	}
}

// placeRequest: a request's headers are whole — the flow is found or
// made now, so that the response dumped next finds it.
func (rd *cdReader) placeRequest(d *cdDump) {
	host := d.head.Get("Host")
	if host == "" {
		return
	}
	var st *cdState
	for _, s := range rd.undumped {
		u := s.f.Request.URL
		if !s.dumpReq && !s.dropped && s.f.Request.Method == d.method && u.Host == host && u.RequestURI() == d.path {
			st = s
			break
		}
	}
	if st == nil {
		scheme := "https"
		if rd.plainHTTP[host] {
			scheme = "http"
		}
		u, err := url.Parse(scheme + "://" + host + d.path)
		if err != nil || u.Host == "" {
			return
		}
		st = rd.add(d.method, u, d.n, "")
	}
	if st.logged {
		// It goes out now, after the token requests its authorizing
		// made: wire order is dump order.
		rd.seq += 2
		st.seq = rd.seq
		rd.undumped = unpend(rd.undumped, st)
	}
	rd.awaiting = pend(rd.awaiting, st)
	st.dumpReq = true
	st.sent = true
	for k, vs := range d.head {
		if k == "Host" {
			continue
		}
		st.f.Request.Header.Del(k)
		for _, v := range vs {
			st.f.Request.Header.Add(k, redact.Header(k, v))
		}
		if k == "Authorization" {
			st.authShown = true
		}
	}
	d.placed = st // its body follows
}

// endDump ends the dump being read.
func (rd *cdReader) endDump() {
	d := rd.cur
	rd.cur = nil
	if d == nil {
		return
	}
	if !d.resp {
		if d.placed == nil {
			rd.placeRequest(d) // its headers were cut short by another dump
		}
		if d.placed == nil || len(d.body) == 0 || d.method != http.MethodPost && d.method != http.MethodPut && d.method != http.MethodPatch {
			return // a GET has no body: lines here are another dump's
		}
		f := d.placed.f
		f.Request.Body = dumpBody(f.Request.Header, d.body, false)
		return
	}
	// The response goes to the oldest dumped request still waiting for
	// one: the one whose digest it names, if any.
	var st *cdState
	dg := d.head.Get("Docker-Content-Digest")
	for _, s := range rd.awaiting {
		if !s.dumpResp && s.f.Err == nil {
			if st == nil {
				st = s
			}
			if dg != "" && strings.HasSuffix(s.f.Request.URL.Path, "/"+dg) {
				st = s
				break
			}
		}
	}
	if st == nil {
		return
	}
	rd.awaiting = unpend(rd.awaiting, st)
	st.dumpResp = true
	resp := st.f.Response
	if !st.answered {
		// "fetch response received", when it comes, has every header.
		resp.Status, resp.Inferred = d.status, false
		resp.Header = http.Header{}
		for k, vs := range d.head {
			for _, v := range vs {
				resp.Header.Add(k, redact.Header(k, v))
			}
		}
	}
	switch {
	case st.f.Request.Method == http.MethodHead || d.status == http.StatusNoContent || d.status == http.StatusNotModified:
		resp.Body = flow.Body{Complete: true}
	case strings.Contains(st.f.Request.URL.Path, "/blobs/") && d.status < 300:
		resp.Body = dumpBody(resp.Header, nil, true) // a layer: not kept
	default:
		resp.Body = dumpBody(resp.Header, d.body, false)
	}
	if d.status == http.StatusUnauthorized && st.logged {
		rd.challenged[st.f.Request.URL.Host] = st
	}
}

// finish reads the final error back and fills in the trace.
func (rd *cdReader) finish() {
	t := rd.t
	rd.sts = slices.DeleteFunc(rd.sts, func(st *cdState) bool { return st.dropped })
	slices.SortStableFunc(rd.sts, func(a, b *cdState) int { return a.seq - b.seq })
	var flows []*flow.Flow
	for _, st := range rd.sts {
		flows = append(flows, st.f)
	}
	if t.Image == "" && rd.final != "" {
		if m := kResolve.FindStringSubmatch(kStripRPC(rd.final)); m != nil && m[1] != "" {
			t.Image = m[1]
		} else if m := kUnpack.FindStringSubmatch(kStripRPC(rd.final)); m != nil {
			t.Image = m[1]
		}
	}
	if t.Image == "" {
		t.Image = ggcrImage(flows)
	}
	registry := false
	for _, st := range rd.sts {
		registry = registry || st.logged || st.dumpReq && strings.HasPrefix(st.f.Request.URL.Path, "/v2/")
	}
	if rd.final != "" {
		t.Errors = append(t.Errors, redact.Text(rd.final))
		if !registry {
			// An info-level log: only the error, read as the events
			// reader reads it.
			b := &kBuilder{t: &Trace{}, runtime: rtContainerd}
			b.failure(parseRef(t.Image), rd.final, rd.finalAt)
			flows = b.flows
			rd.unknownCreds = rd.unknownCreds || b.proven < b.pulls
			t.CredentialsFor = append(t.CredentialsFor, b.t.CredentialsFor...)
		} else {
			flows = failSomewhere(flows, rd.final, t.Image)
		}
	}
	// The requests put back were sent by the process whose requests the
	// log shows, with its User-Agent (the authorizer's token requests
	// carry the resolver's headers).
	ua := cmp.Or(flowsUA(flows), "containerd")
	for i, f := range flows {
		f.ID = flow.ID(i + 1)
		if f.Request.Header.Get("User-Agent") == "" {
			f.Request.Header.Set("User-Agent", ua)
		}
	}
	t.Flows = flows
	// containerd never sends Authorization unasked: without a dump,
	// what it sent follows from the challenges (see FormatContainerd),
	// except whether a token it obtained was asked for with credentials.
	hidden := rd.unknownCreds
	for _, st := range rd.sts {
		hidden = hidden || rd.dumps && st.logged && st.sent && !st.dumpReq
	}
	t.HidesAuth = hidden
	img := cmp.Or(t.Image, "IMAGE")
	if t.Format == FormatCtr {
		t.Name = "ctr debug output"
		if rd.dumps {
			t.Name = "ctr --http-dump output"
		}
		t.CredentialsHint = "ctr sends only the credentials given with --user user:password (or --refresh); it never reads a docker login's config.json."
		verb := "pull"
		if rd.push {
			verb = "push"
		}
		t.Command = redact.Text("regtrace proxy --har trace.har; then, with the hosts directory that regtrace ca trust --client containerd sets up: " +
			"HTTPS_PROXY=http://127.0.0.1:8080 ctr --debug images " + verb + " --hosts-dir /etc/containerd/certs.d " + img)
		t.Lacks = "Authorization headers and token requests, unless --http-dump was given (regtrace puts back the token requests " +
			"containerd's authorizer makes, and the scheme it sends, from the challenges and the errors)"
		if rd.dumps {
			t.Lacks = "the TLS and timing of each exchange, and a layer's body (not kept)"
			if hidden {
				t.Lacks = "Authorization for requests whose dump is missing; " + t.Lacks
			}
		}
	} else if rd.dockerd || strings.HasPrefix(ua, "docker/") {
		// dockerd with the containerd image store: containerd's resolver
		// runs in dockerd, with the credentials the docker CLI sends.
		t.Name = "dockerd debug log with the containerd image store"
		t.CredentialsHint = dockerdCredentials
		verb := "pull"
		if rd.push {
			verb = "push"
		}
		t.Command = dockerdCommand(verb + " " + cmp.Or(rd.dockerdImage, familiarHost(img)))
		t.Lacks = "Authorization headers, token requests and bodies: dockerd logs each registry request of containerd's resolver and its answer's " +
			"status and headers, never the token requests, nor whether the docker CLI handed it credentials (regtrace puts the token requests back " +
			"from the challenges and the errors, and marks them inferred)"
	} else {
		t.Name = "containerd debug log"
		t.CredentialsHint = "containerd takes credentials from the CRI pull request (the kubelet's imagePullSecrets, crictl --creds) " +
			"or from its own registry configuration (hosts.toml, the CRI plugin's configs.auth), not from a docker login on a workstation."
		t.Command = (&kBuilder{runtime: rtContainerd}).command(img)
		t.Lacks = "Authorization headers, token requests and bodies: containerd logs each registry request and its answer's status " +
			"and headers, never the token requests (regtrace puts them back from the challenges and the errors, and marks them inferred)"
		if !registry && rd.final != "" {
			t.Lacks = "the requests themselves: this log is at info level and keeps only the errors (--log-level debug, or " +
				"[debug] level = \"debug\" in config.toml, logs each request and its answer)"
		}
	}
	t.Command = redact.Text(t.Command)
}

// flowsUA is the User-Agent of the first flow that has one.
func flowsUA(flows []*flow.Flow) string {
	for _, f := range flows {
		if v := f.Request.Header.Get("User-Agent"); v != "" {
			return v
		}
	}
	return ""
}

// familiarHost writes an image of Docker Hub as docker.io/…, as docker
// pull is given it, rather than by the host containerd sends requests to.
func familiarHost(img string) string {
	if rest, ok := strings.CutPrefix(img, "registry-1.docker.io/"); ok {
		return "docker.io/" + rest
	}
	return img
}

// flatJSON reads a JSON object whose values are strings, numbers, booleans,
// null or empty objects and arrays (logrus's JSONFormatter writes these;
// dockerd adds "vars":{}), faster than encoding/json; ok is false for
// anything else, which encoding/json then reads. An empty container's
// value is its text, "{}" or "[]".
func flatJSON(s string) (map[string]string, bool) {
	s = strings.TrimRight(s, " \t")
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	f := make(map[string]string, 8)
	i := 1
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	str := func() (string, bool) {
		if i >= len(s) || s[i] != '"' {
			return "", false
		}
		j, esc := i+1, false
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] < 0x20 {
				return "", false
			}
			if s[j] == '\\' {
				esc = true
				j++
			}
		}
		if j >= len(s) {
			return "", false
		}
		raw := s[i+1 : j]
		i = j + 1
		if !esc {
			return raw, true
		}
		return jsonUnescape(raw)
	}
	for {
		space()
		if i < len(s) && s[i] == '}' && len(f) == 0 {
			return f, i == len(s)-1
		}
		k, ok := str()
		space()
		if !ok || i >= len(s) || s[i] != ':' {
			return nil, false
		}
		i++
		space()
		var v string
		switch {
		case i >= len(s):
			return nil, false
		case s[i] == '"':
			if v, ok = str(); !ok {
				return nil, false
			}
		case s[i] == '{' || s[i] == '[':
			open := s[i]
			i++
			space()
			if i >= len(s) || s[i] != open+2 { // '}' is '{'+2, ']' is '['+2
				return nil, false // not empty: encoding/json's
			}
			i++
			v = string([]byte{open, open + 2})
		default:
			j := i
			for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			v = s[i:j]
			switch {
			case v == "null":
				v = ""
			case v == "true" || v == "false" || jsonNumber(v):
			default:
				return nil, false
			}
			i = j
		}
		f[k] = v
		space()
		if i >= len(s) {
			return nil, false
		}
		if s[i] == '}' {
			return f, i == len(s)-1
		}
		if s[i] != ',' {
			return nil, false
		}
		i++
	}
}

// jsonUnescape decodes a JSON string's escapes (raw is between the
// quotes); ok is false for one JSON does not have. A lone surrogate is
// U+FFFD, as encoding/json reads it.
func jsonUnescape(raw string) (string, bool) {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", false
		}
		switch raw[i] {
		case '"', '\\', '/':
			b.WriteByte(raw[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if strings.HasPrefix(raw[i+1:], "\\u") {
					r2, ok = hex4(raw[i+3:])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// hex4 reads the four hex digits a \u escape takes.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// jsonNumber: s is a number as JSON writes one (-?int frac? exp?).
func jsonNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}
