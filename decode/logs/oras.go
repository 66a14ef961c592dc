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

// FormatOras is oras's --debug log (oras internal/trace): a logrus entry
// per request and per response, numbered so that concurrent ones pair up:
//
//	[2026-12-04T17:32:39.5135239Z][DEBUG]: --> Request #1
//	> Request URL: "https://auth/token?scope=REDACTED&service=REDACTED"
//	> Request method: "GET"
//	> Request headers:
//	   "Authorization": "*****"
//	   "User-Agent": "oras/1.3.6"
//
//	[2026-12-04T17:32:39.5555Z][DEBUG]: <-- Response #1
//	< Response Status: "401 Unauthorized"
//	< Response headers:
//	   "Www-Authenticate": "Bearer realm=\"…\",service=\"…\",scope=\"…\""
//	< Response body:
//	{"errors":[…]}
//
//	[…][ERROR]: <-- Response #2
//	Error in getting response: Bad Gateway
//	Error: GET "https://reg/v2/x/manifests/1": …                 (oras's error)
//	Error response from registry: unauthorized: …                (or this)
//
// The tracing transport sits between oras-go's auth client and its retry
// transport, so it sees every request the auth client sends — token
// requests too — but not the retries below it. It prints every value of
// Authorization (and Cookie, Proxy-Authorization, --header names) as
// "*****", every query value as REDACTED, and response bodies only when
// JSON or text up to 16 KiB without a credential-looking key. A logged
// "*****" proves the header was sent; its absence proves it was not.
//
// What oras-go sends (registry/remote/auth/client.go) is put back: a host
// that challenged Basic gets Basic credentials, one that challenged Bearer
// the token last fetched for it (the client caches the scheme per host);
// a token GET carries Basic credentials when it carries any (SetBasicAuth)
// and the query service=<challenge's service>&scope=<challenge's scope>
// (oras-go adds the challenge's scope to those the operation hinted, which
// the log does not show); a token POST is oras-go's OAuth2 form, which oras
// (never forcing OAuth2) sends only with a refresh token. A token response
// "redacted due to potential credentials" held a token; it gets one named
// by its flow. The query of a failed token request is read back exactly
// from oras's error, which quotes the URL unredacted.
const FormatOras Format = "oras"

var (
	orasEntry  = regexp.MustCompile(`^\[(\d{4}-\d{2}-\d{2}T[^\]]*)\]\[([A-Z]+)\]: (.*)$`)
	orasHeader = regexp.MustCompile(`^\s*("(?:[^"\\]|\\.)*"): ("(?:[^"\\]|\\.)*")$`)
	// orasBodyNote is what oras prints instead of a body.
	orasBodyNote = regexp.MustCompile(`^(?:No response body to print|Response body is empty|Response body (?:for redirect|without a content type|of content type .*|exceeding the trace size limit) is not printed|Response body redacted due to potential credentials|Error reading response body: .*)$`)
	// orasNotFound is oras-go's errdef.ErrNotFound for a manifest's 404:
	// "<reference>: not found".
	orasNotFound = regexp.MustCompile(`\S+[:@]\S+: not found$`)
	orasClient   = regexp.MustCompile(`^(?:Error: |Error response from registry: )`)
)

func sniffOras(head []string) bool {
	for _, h := range head {
		s := orasStrip(h)
		if m := orasEntryOf(s); m != nil {
			if _, ok := orasHeadID(m[3], "--> Request #"); ok {
				return true
			}
			if _, ok := orasHeadID(m[3], "<-- Response #"); ok {
				return true
			}
		}
	}
	return false
}

// orasStrip drops per-line paste timestamps (a CI's, a terminal's).
func orasStrip(s string) string {
	s = strings.TrimRight(s, "\r")
	for i := 0; i < 3; i++ {
		if strings.HasPrefix(s, "[") && orasEntry.MatchString(s) {
			break // the entry's own stamp
		}
		if !pasteMaybe(s) {
			break
		}
		loc := pastePrefix.FindStringIndex(s)
		if loc == nil {
			break
		}
		s = s[loc[1]:]
	}
	return s
}

// orasState is what the reader knows of one flow beyond the flow itself.
type orasState struct {
	f         *flow.Flow
	id        string
	answered  bool
	authShown bool // the request's headers show "Authorization": "*****"
	headers   bool // the request's headers were logged
	credBody  bool // oras did not print the body: it looked like credentials
}

// orasEnt is one log entry: its first line's message and the lines after.
type orasEnt struct {
	n     int
	level string
	msg   string
	rest  []string
}

// orasEntryOf is orasEntry's submatches of s, asking first what it starts
// with: most lines of a long log are in an entry's dump.
func orasEntryOf(s string) []string {
	if len(s) < 2 || s[0] != '[' || !isDigit(s[1]) {
		return nil
	}
	return orasEntry.FindStringSubmatch(s)
}

// orasHeadID reads an entry that opens a dump, head then its number
// ("--> Request #12", "<-- Response #12").
func orasHeadID(msg, head string) (string, bool) {
	id, ok := strings.CutPrefix(msg, head)
	return id, ok && digits(id)
}

func readOras(ls []line) *Trace {
	t := &Trace{Format: FormatOras, Name: "oras debug log",
		Lacks: "credentials or tokens (it prints every Authorization header as *****; regtrace puts back the scheme oras-go sends), " +
			"the token request's query (every value is printed as REDACTED; regtrace puts back the challenge's service and scope, " +
			"and oras may have asked for more), request bodies, token responses, bodies that are not JSON or text or over 16 KiB, " +
			"or requests its retry transport repeated"}
	var ents []orasEnt
	var clientErr string
	inEntry := false
	blanks := 0
	for _, l := range ls {
		s := orasStrip(l.text)
		if m := orasEntryOf(s); m != nil {
			ents = append(ents, orasEnt{n: l.n, level: m[2], msg: m[3]})
			inEntry, blanks = true, 0
			continue
		}
		// An entry ends with two blank lines; what follows is oras's own
		// output (progress, its error).
		if inEntry && blanks < 2 {
			if strings.TrimSpace(s) == "" {
				blanks++
			} else {
				blanks = 0
			}
			e := &ents[len(ents)-1]
			e.rest = append(e.rest, s)
			continue
		}
		inEntry = false
		if orasClient.MatchString(s) {
			clientErr = strings.TrimPrefix(s, "Error: ")
			t.Errors = append(t.Errors, redact.Text(s))
		}
	}
	// Each entry is read on its own (on every core for a long log); only
	// pairing a response with its request, by ID, goes in order.
	reqs := make([]*orasState, len(ents))
	rspID := make([]string, len(ents))
	inParts(len(ents), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			if id, ok := orasHeadID(ents[i].msg, "--> Request #"); ok {
				reqs[i] = orasRequest(ents[i], id, 0)
			} else if id, ok := orasHeadID(ents[i].msg, "<-- Response #"); ok {
				rspID[i] = id
			}
		}
	})
	var sts []*orasState
	byID := map[string]*orasState{}
	answers := make([]*orasState, len(ents)) // the request each response answers
	for i := range ents {
		if st := reqs[i]; st != nil {
			st.f.ID = flow.ID(len(sts) + 1)
			sts = append(sts, st)
			byID[st.id] = st
			continue
		}
		st := byID[rspID[i]]
		if rspID[i] == "" || st == nil || st.answered {
			continue // its request is not in the log
		}
		st.answered = true
		answers[i] = st
	}
	inParts(len(ents), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			if st := answers[i]; st != nil {
				orasResponse(st, ents[i])
			}
		}
	})
	var flows []*flow.Flow
	for _, st := range sts {
		flows = append(flows, st.f)
	}
	orasQueries(sts, clientErr)
	t.HidesAuth = orasAuth(sts)
	t.Image = orasImage(flows)
	if clientErr != "" {
		flows = orasApplyError(flows, clientErr)
		flows = failSomewhere(flows, clientErr, t.Image)
	}
	for _, f := range flows {
		if f.Request.Header.Get("User-Agent") == "" {
			f.Request.Header.Set("User-Agent", "oras")
		}
	}
	if t.Image != "" {
		t.Command = "regtrace run --har trace.har -- oras pull " + t.Image
		for _, f := range flows {
			if f.Request.Method == http.MethodPut && strings.Contains(f.Request.URL.Path, "/manifests/") || strings.Contains(f.Request.URL.Path, "/blobs/uploads/") {
				t.Command = "regtrace run --har trace.har -- oras push " + t.Image + " FILE"
				break
			}
		}
	}
	t.Flows = flows
	return t
}

// orasRequest reads a request entry; nil without a usable URL.
func orasRequest(e orasEnt, id string, n int) *orasState {
	method, raw := "", ""
	var h []string
	inHeaders := false
	for _, l := range e.rest {
		switch {
		case strings.HasPrefix(l, "> Request URL: "):
			raw = orasUnquote(l)
		case strings.HasPrefix(l, "> Request method: "):
			method = strings.ToUpper(orasUnquote(l))
		case strings.HasPrefix(l, "> Request headers:"):
			inHeaders = true
		case inHeaders && strings.TrimSpace(l) == "":
			inHeaders = false
		case inHeaders:
			h = append(h, l)
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	u.User = nil // REDACTED
	origin := "line " + strconv.Itoa(e.n)
	if method == "" || strings.ContainsAny(method, " \t") {
		method, origin = http.MethodGet, origin+" (method not in the log: GET assumed)"
	}
	st := &orasState{id: id, f: &flow.Flow{
		ID: flow.ID(n), Origin: origin,
		Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Response: &flow.Response{Inferred: true, Header: http.Header{}},
	}}
	st.headers = len(h) > 0
	for k, v := range orasHeaders(h) {
		if http.CanonicalHeaderKey(k) == "Authorization" {
			st.authShown = true
			continue
		}
		if v == "*****" {
			continue // a sensitive header: sent, its value unknown
		}
		st.f.Request.Header.Set(k, redact.Header(k, v))
	}
	return st
}

// orasHeaders reads `   "Name": "v1, v2"` lines.
func orasHeaders(ls []string) map[string]string {
	out := map[string]string{}
	for _, l := range ls {
		qk, qv, ok := orasHeaderLine(l)
		if !ok {
			continue
		}
		k, err1 := strconv.Unquote(qk)
		v, err2 := strconv.Unquote(qv)
		if err1 != nil || err2 != nil || k == "" || strings.ContainsAny(k, " \t:\r\n") {
			continue
		}
		out[k] = v
	}
	return out
}

// orasHeaderLine is orasHeader's match without a regexp (it runs on every
// header line of every dump): the two quoted strings, quotes included.
func orasHeaderLine(l string) (k, v string, ok bool) {
	i := 0
	for i < len(l) && strings.IndexByte(" \t\n\f\r", l[i]) >= 0 {
		i++
	}
	e := orasQuotedEnd(l, i)
	if e < 0 || !strings.HasPrefix(l[e:], ": ") {
		return "", "", false
	}
	if orasQuotedEnd(l, e+2) != len(l) {
		return "", "", false
	}
	return l[i:e], l[e+2:], true
}

// orasQuotedEnd is the end of the Go-quoted string at s[i] ("(?:[^"\\]|\\.)*"),
// or -1.
func orasQuotedEnd(s string, i int) int {
	if i >= len(s) || s[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(s); {
		switch s[j] {
		case '"':
			return j + 1
		case '\\':
			if j+1 >= len(s) || s[j+1] == '\n' {
				return -1
			}
			j += 2
		default:
			j++
		}
	}
	return -1
}

func orasUnquote(l string) string {
	// orasQuoted by hand: "< " or "> ", letters and spaces, ": ", then a
	// quoted string to the end, which strconv.Unquote checks in full.
	if len(l) < 3 || (l[0] != '<' && l[0] != '>') || l[1] != ' ' {
		return ""
	}
	j := 2
	for j < len(l) && (l[j] == ' ' || 'A' <= l[j] && l[j] <= 'Z' || 'a' <= l[j] && l[j] <= 'z') {
		j++
	}
	if j == 2 || !strings.HasPrefix(l[j:], ": \"") {
		return ""
	}
	s, err := strconv.Unquote(l[j+2:])
	if err != nil {
		return ""
	}
	return s
}

// orasResponse reads a response entry onto its flow: a status, headers and
// body, or the transport's error.
func orasResponse(st *orasState, e orasEnt) {
	f := st.f
	var status string
	var h, body []string
	part := ""
	for i, l := range e.rest {
		switch {
		case part == "" && strings.HasPrefix(l, "Error in getting response: "):
			msg := strings.TrimPrefix(l, "Error in getting response: ")
			for _, m := range e.rest[i+1:] {
				if strings.TrimSpace(m) == "" {
					break
				}
				msg += "\n" + m
			}
			setErr(f, msg)
			if orasCancelled(msg) {
				// oras gave up on it when another request failed: the
				// context's cause names that request.
				f.Err.Kind = flow.ErrClientClosed
				f.Err.Message = redact.Text(clipMsg("the client cancelled it, after: " + msg))
			}
			return
		case part == "" && strings.HasPrefix(l, "No response obtained for request "):
			setErr(f, l)
			return
		case part != "body" && strings.HasPrefix(l, "< Response Status: "):
			status, part = orasUnquote(l), ""
		case part != "body" && strings.HasPrefix(l, "< Response headers:"):
			part = "headers"
		case part != "body" && strings.HasPrefix(l, "< Response body:"):
			part, body = "body", e.rest[i+1:]
		case part == "headers":
			h = append(h, l)
		}
	}
	code, _, _ := strings.Cut(status, " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 999 {
		return // the status is not in the log: the answer stays unknown
	}
	r := f.Response
	r.Status, r.Inferred = n, false
	for k, v := range orasHeaders(h) {
		if v == "*****" {
			continue
		}
		r.Header.Set(k, redact.Header(k, v))
	}
	if len(h) == 0 || part != "body" {
		r.Inferred = true // a log cut before the headers
	}
	// The entry's trailing separator is not the body.
	for len(body) > 0 && strings.TrimSpace(body[len(body)-1]) == "" {
		body = body[:len(body)-1]
	}
	msg := ""
	if len(body) == 1 && orasBodyNote.MatchString(strings.TrimSpace(body[0])) {
		msg = strings.TrimSpace(body[0])
	}
	switch {
	case part != "body":
		r.Body = flow.Body{Truncated: true}
	case msg == "No response body to print", msg == "Response body is empty":
		r.Body = flow.Body{Complete: true}
	case strings.HasPrefix(msg, "Response body ") || strings.HasPrefix(msg, "Error reading response body"):
		// Not printed: its size is what Content-Length says.
		b := flow.Body{Truncated: true}
		if cl, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
			b.Size, b.Truncated = cl, cl > 0
		}
		r.Body = b
		st.credBody = msg == "Response body redacted due to potential credentials"
	default:
		hh := r.Header.Clone()
		hh.Del("Transfer-Encoding") // oras prints the decoded body
		r.Body = dumpBody(hh, body, false)
	}
	if f.Request.Method == http.MethodHead {
		r.Body = flow.Body{Complete: true}
	}
}

// orasCancelled: a transport error that quotes a request as oras-go's
// errors do (POST "URL": response status code 401 …) is the cause of the
// context oras cancelled when a concurrent request failed, not this
// request's failure (the transport's own errors are not so worded; Go's
// url.Error writes "Post").
func orasCancelled(msg string) bool {
	m := errURLQuoted.FindStringSubmatch(msg)
	return m != nil && m[1] == strings.ToUpper(m[1])
}

// orasChallenge is a Bearer challenge: oras-go asks its realm for a token
// right after it.
type orasChallenge struct {
	host, realm, service, scope string
}

func orasChallengeOf(f *flow.Flow) (scheme string, c orasChallenge) {
	scheme, ch := orasChallengeScheme(f)
	if scheme == "bearer" {
		low := lowerASCII(ch)
		c = orasChallenge{host: f.Request.URL.Host, service: challengeParamLow(ch, low, "service"), scope: challengeParamLow(ch, low, "scope")}
		if ru, err := url.Parse(challengeParamLow(ch, low, "realm")); err == nil {
			c.realm = ru.Host + ru.Path
		}
	}
	return scheme, c
}

// orasChallengeScheme is the scheme of f's challenge, "basic" or "bearer"
// ("" for none or another), and the challenge.
func orasChallengeScheme(f *flow.Flow) (scheme, ch string) {
	r := f.Response
	if f.Err != nil || r == nil || r.Status != http.StatusUnauthorized {
		return "", ""
	}
	ch = r.Header.Get("Www-Authenticate")
	s, _, _ := strings.Cut(strings.TrimSpace(ch), " ")
	switch {
	case strings.EqualFold(s, "basic"):
		return "basic", ch
	case strings.EqualFold(s, "bearer"):
		return "bearer", ch
	}
	return "", ch
}

// orasTokenChallenges gives each token request the challenge whose realm
// it asks, the last one before it (nil for other requests).
func orasTokenChallenges(sts []*orasState) []*orasChallenge {
	out := make([]*orasChallenge, len(sts))
	last := map[string]*orasChallenge{} // realm -> its last challenge
	for i, st := range sts {
		u := st.f.Request.URL
		out[i] = last[u.Host+u.Path]
		if s, c := orasChallengeOf(st.f); s == "bearer" && c.realm != "" {
			last[c.realm] = &c
		}
	}
	return out
}

// orasQueries puts back a token request's query: exactly, from oras's
// error when it quotes the URL, else the challenge's service and scope.
func orasQueries(sts []*orasState, clientErr string) {
	quoted := map[string]string{} // host+path -> raw query, from the error
	for _, m := range errURLQuoted.FindAllStringSubmatch(clientErr, -1) {
		if u, err := url.Parse(m[2]); err == nil && u.RawQuery != "" && !strings.Contains(u.RawQuery, "REDACTED") {
			quoted[u.Host+u.Path] = u.RawQuery
		}
	}
	tcs := orasTokenChallenges(sts)
	for i, st := range sts {
		u := st.f.Request.URL
		c := tcs[i]
		if !strings.Contains(u.RawQuery, "REDACTED") || c == nil {
			continue
		}
		if q, ok := quoted[u.Host+u.Path]; ok {
			u.RawQuery = q
			continue
		}
		q := u.Query()
		for k, vs := range q {
			if len(vs) == 1 && vs[0] == "REDACTED" {
				delete(q, k)
			}
		}
		if st.f.Request.Method == http.MethodGet {
			if c.service != "" {
				q.Set("service", c.service)
			}
			for _, sc := range strings.Fields(c.scope) {
				q.Add("scope", sc)
			}
		}
		u.RawQuery = q.Encode()
	}
}

// orasAuth puts back Authorization where the log shows "*****" (see
// FormatOras), and the token a token response held. It reports whether
// some request's Authorization scheme is unknown.
func orasAuth(sts []*orasState) (hidden bool) {
	scheme := map[string]string{} // host -> the scheme it last challenged
	tokens := map[string]string{} // registry host -> the token last fetched for it
	tcs := orasTokenChallenges(sts)
	for i, st := range sts {
		f := st.f
		u := f.Request.URL
		c, isToken := orasChallenge{}, tcs[i] != nil
		if isToken {
			c = *tcs[i]
		}
		switch {
		case isToken && f.Request.Method == http.MethodPost:
			// oras-go's OAuth2 form, sent only with a refresh token:
			// no Authorization header.
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"REDACTED"}, "client_id": {"oras-go"}}
			if c.service != "" {
				form.Set("service", c.service)
			}
			if c.scope != "" {
				form.Set("scope", c.scope)
			}
			b := form.Encode()
			f.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			f.Request.Body = flow.Body{Captured: []byte(b), Size: int64(len(b)), Complete: true}
		case isToken && st.authShown:
			f.Request.Header.Set("Authorization", redactedNoUser)
		case st.authShown:
			switch s := scheme[u.Host]; {
			case s == "basic":
				f.Request.Header.Set("Authorization", redactedNoUser)
			case s == "bearer" || tokens[u.Host] != "":
				f.Request.Header.Set("Authorization", bearerOf(tokens[u.Host]))
			default:
				// The challenge is not in the log (it was cut before it).
				f.Request.Header.Set("Authorization", "<redacted>")
				hidden = true
			}
		case !st.headers:
			hidden = true
		}
		if isToken && st.credBody && f.Response != nil && f.Response.Status == http.StatusOK {
			key := "token"
			if f.Request.Method == http.MethodPost {
				key = "access_token"
			}
			tok := tokenFromLog[len("Bearer "):] + "-" + strings.TrimPrefix(f.ID.String(), "#")
			b, _ := json.Marshal(map[string]string{key: tok})
			f.Response.Body = flow.Body{Captured: b, Size: int64(len(b)), Complete: true}
			tokens[c.host] = tok
		}
		if s, _ := orasChallengeScheme(f); s != "" && !isToken {
			scheme[u.Host] = s
		}
	}
	return hidden
}

// orasApplyError reads oras's error back (applyError); oras-go's own
// "REF: not found" is the manifest's 404.
func orasApplyError(flows []*flow.Flow, msg string) []*flow.Flow {
	n := len(flows)
	flows = applyError(flows, msg, false)
	if orasNotFound.MatchString(msg) && len(flows) == n {
		if f := lastFlow(flows, "manifest"); f != nil && strings.Contains(f.Request.URL.Path, "/manifests/") {
			setStatus(f, http.StatusNotFound, nil, msg)
		}
	}
	return flows
}

// orasImage is the image oras worked on: the reference of the manifest it
// pushed by tag, else of the first manifest request.
func orasImage(flows []*flow.Flow) string {
	ref := func(f *flow.Flow) string {
		p := f.Request.URL.Path
		name, r, ok := strings.Cut(strings.TrimPrefix(p, "/v2/"), "/manifests/")
		if !ok || !strings.HasPrefix(p, "/v2/") || name == "" || r == "" {
			return ""
		}
		if strings.Contains(r, ":") {
			return f.Request.URL.Host + "/" + name + "@" + r
		}
		return f.Request.URL.Host + "/" + name + ":" + r
	}
	for _, f := range flows {
		if f.Request.Method == http.MethodPut {
			if r := ref(f); r != "" && !strings.Contains(r, "@") {
				return r
			}
		}
	}
	for _, f := range flows {
		if r := ref(f); r != "" {
			return r
		}
	}
	return ""
}
