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

// A client's final error is the only place most logs show how a request
// ended. The registry's own words survive in it (distribution's error
// codes, "invalid status code from registry 401"), so the failing flow's
// answer can be read back: its status, and a body with the codes named.

var (
	// errURL (match.go) is Go's url.Error: `Get "https://…": reason`;
	// errURLBare the form registry clients print for an HTTP error: `GET
	// https://…: CODE`; errURLQuoted finds every quoted URL of an error,
	// nested ones too.
	// errStatus is a status the client quotes.
	errStatus = regexp.MustCompile(`(?i)(?:invalid status code from registry|unexpected (?:http )?(?:status|code)[a-z ]*:?|status code|http status)\s*(\d{3})`)
)

// codes maps what clients print to distribution's error codes and the
// status the registry answers them with.
var codes = []struct {
	words  []string
	code   string
	status int
	what   string // which request: manifest, blob, repo, any
}{
	{[]string{"manifest unknown", "manifest_unknown"}, "MANIFEST_UNKNOWN", 404, "manifest"},
	{[]string{"blob unknown", "blob_unknown"}, "BLOB_UNKNOWN", 404, "blob"},
	{[]string{"name unknown", "name_unknown", "repository name not known"}, "NAME_UNKNOWN", 404, "repo"},
	{[]string{"toomanyrequests", "too many requests", "rate limit"}, "TOOMANYREQUESTS", 429, "repo"},
	{[]string{"denied: requested access", "requested access to the resource is denied", "denied:"}, "DENIED", 403, "repo"},
	{[]string{"unauthorized: authentication required", "unauthorized: ", "authentication required"}, "UNAUTHORIZED", 401, "repo"},
}

// bareCodes are the error codes a client may print with no message, as
// docker's errcode package words them.
var bareCodes = map[string]struct {
	code   string
	status int
}{
	"denied":          {"DENIED", 403},
	"unauthorized":    {"UNAUTHORIZED", 401},
	"toomanyrequests": {"TOOMANYREQUESTS", 429},
}

// applyError reads a client's final error back onto the flow it is about.
// insufficient says the client logged a challenge with
// error="insufficient_scope" (containers/image does).
//
// Only a request the log shows unanswered gets an answer this way: a logged
// answer is the registry's own, and an error that names a request whose
// failure the log shows only repeats it.
func applyError(flows []*flow.Flow, msg string, insufficient bool) []*flow.Flow {
	return applyErrorLower(flows, msg, strings.ToLower(msg), insufficient)
}

// applyErrorLower is applyError with m, msg lower-cased.
func applyErrorLower(flows []*flow.Flow, msg, m string, insufficient bool) []*flow.Flow {
	// The URL patterns are the costly ones, and most errors name no URL.
	hasURL := strings.Contains(msg, "://")
	for _, re := range []*methodURL{errURLQuoted, errURLBare} {
		if !hasURL {
			break
		}
		for _, sm := range re.FindAllStringSubmatch(msg, -1) {
			if f := lastURL(flows, sm[1], sm[2]); f != nil && loggedFailure(f) {
				return flows
			}
		}
	}
	// A transport failure names its URL: Go's url.Error.
	if sm := urlError(msg, hasURL); sm != nil {
		reason := sm[3]
		if k := failureKind(reason); k != "" {
			f := lastURL(flows, sm[1], sm[2])
			if f == nil || !unanswered(f) {
				f = addFlow(&flows, strings.ToUpper(sm[1]), sm[2])
			}
			setErr(f, reason)
			return flows
		}
	}
	if k := failureKindLower(m); k != "" && !strings.Contains(m, "status code") {
		if f := lastFlow(flows, "any"); f != nil {
			setErr(f, msg)
		}
		return flows
	}
	// A token server's refusal.
	if strings.Contains(m, "bearer token") || strings.Contains(m, "auth token") || strings.Contains(m, "invalid username/password") {
		if f := lastFlow(flows, "token"); f != nil {
			st := 401
			if n := quotedStatusLower(msg, m); n != 0 {
				st = n
			}
			setStatus(f, st, nil, msg)
			return flows
		}
	}
	errs, status, what := registryCodesLower(msg, m)
	if status == 0 {
		return flows
	}
	if strings.Contains(m, "reading manifest") || strings.Contains(m, "manifest") && what == "repo" {
		what = "manifest"
	}
	f := lastFlow(flows, what)
	if f == nil {
		return flows
	}
	setStatus(f, status, errs, msg)
	if status == 401 && insufficient {
		f.Response.Header.Set("Www-Authenticate", `Bearer error="insufficient_scope"`)
	}
	return flows
}

func urlError(msg string, hasURL bool) []string {
	if !hasURL {
		return nil
	}
	return errURL.FindStringSubmatch(msg)
}

// registryCodes reads back the registry's answer a client's error quotes:
// the error codes it names (as a body's errors), the status they are
// answered with (or the one the error quotes), and which request they are
// about (manifest, blob, repo, any). status 0: the message names none.
func registryCodes(msg string) (errs []map[string]string, status int, what string) {
	return registryCodesLower(msg, strings.ToLower(msg))
}

// registryCodesLower is registryCodes with m, msg lower-cased.
func registryCodesLower(msg, m string) (errs []map[string]string, status int, what string) {
	what = "any"
	// A code alone is an error code with no message: dockerd prints a
	// HEAD's 403 (no body) as "denied".
	if bare, ok := bareCodes[strings.TrimSpace(m)]; ok {
		return []map[string]string{{"code": bare.code, "message": ""}}, bare.status, "repo"
	}
	for _, c := range codes {
		for _, w := range c.words {
			if at := strings.Index(m, w); at >= 0 {
				errs = append(errs, map[string]string{"code": c.code, "message": codeMessage(msg, m, at, w, c.code)})
				// UNAUTHORIZED wins over DENIED: distribution answers an
				// insufficient scope with 401 and both in the body.
				if status == 0 || c.status == 401 || c.status == 404 {
					status, what = c.status, c.what
				}
				break
			}
		}
	}
	if n := quotedStatusLower(msg, m); n != 0 {
		status = n
	}
	return errs, status, what
}

// codeMessage is the message of the registry error a client quotes at m[at:],
// where it found w. Go clients print distribution's errors as "code:
// message" ("unauthorized: authentication required"): the message is the
// rest of that line. Otherwise what the client printed is the message
// itself ("manifest unknown").
func codeMessage(msg, m string, at int, w, code string) string {
	p := strings.ToLower(code) + ":"
	if !strings.HasPrefix(m[at:], p) {
		return w
	}
	// Lower-casing may move the text that is not ASCII: unless msg holds
	// the code at the same offset, the lower-cased text gives the message.
	if len(msg) == len(m) && strings.EqualFold(msg[at:at+len(p)], p) {
		m = msg
	}
	rest, _, _ := strings.Cut(m[at+len(p):], "\n")
	return trimUnbalanced(strings.TrimSpace(rest))
}

// trimUnbalanced drops the closing marks a wrapper put after a message
// (`… denied)`, `… denied"`, a quoted message quoted again: `… denied\""`),
// keeping those the message itself opened.
func trimUnbalanced(s string) string {
	for s != "" {
		c := s[len(s)-1]
		body := s[:len(s)-1]
		var balanced bool
		switch c {
		case '\\':
			balanced = false // a message does not end in an escape
		case ')':
			balanced = strings.Count(body, "(") > strings.Count(body, ")")
		case ']':
			balanced = strings.Count(body, "[") > strings.Count(body, "]")
		case '}':
			balanced = strings.Count(body, "{") > strings.Count(body, "}")
		case '"', '\'', '`':
			// An escaped quote is the wrapper's, not the message's.
			balanced = (strings.Count(body, string(c))-strings.Count(body, `\`+string(c)))%2 == 1
		default:
			return s
		}
		if balanced {
			return s
		}
		s = strings.TrimSpace(body)
	}
	return s
}

// quotedStatus is the HTTP status an error quotes (errStatus), or 0.
func quotedStatus(msg string) int { return quotedStatusLower(msg, strings.ToLower(msg)) }

// quotedStatusLower is quotedStatus with m, msg lower-cased.
func quotedStatusLower(msg, m string) int {
	// Every errStatus form says "status" or "code": most errors say
	// neither, and skip the pattern.
	if !strings.Contains(m, "status") && !strings.Contains(m, "code") {
		return 0
	}
	if sm := errStatus.FindStringSubmatch(msg); sm != nil {
		n, _ := strconv.Atoi(sm[1])
		return n
	}
	return 0
}

// failSomewhere: the client failed, so some flow must show it. When the
// error could not be read back onto a request, the last request (or, with
// none logged, the image's manifest) carries it as an unexplained failure.
func failSomewhere(flows []*flow.Flow, msg, image string) []*flow.Flow {
	for _, f := range flows {
		if f.Err != nil || f.Response != nil && f.Response.Status >= 400 {
			return flows
		}
	}
	f := lastFlow(flows, "repo")
	if f == nil {
		f = addFlow(&flows, http.MethodGet, manifestURL(image))
	}
	setErr(f, msg)
	if f.Err.Kind == flow.ErrOther {
		f.Err.Message = "the client failed here: " + f.Err.Message
	}
	return flows
}

// manifestURL is the manifest URL of an image reference, as best it can
// be read ("host/name:tag", "host/name@digest").
func manifestURL(image string) string {
	image = strings.TrimPrefix(image, "docker://")
	host, rest, ok := strings.Cut(image, "/")
	if !ok || !strings.ContainsAny(host, ".:") && host != "localhost" {
		host, rest = "registry-1.docker.io", image
	}
	name, ref := rest, "latest"
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		name, ref = rest[:i], rest[i+1:]
	} else if i := strings.LastIndex(rest, ":"); i >= 0 {
		name, ref = rest[:i], rest[i+1:]
	}
	return "https://" + host + "/v2/" + name + "/manifests/" + ref
}

// failureKind is the transport failure a message names, or "".
func failureKind(msg string) flow.ErrKind { return failureKindLower(strings.ToLower(msg)) }

// failureKindLower is failureKind of a message already lower-cased.
func failureKindLower(m string) flow.ErrKind {
	if strings.Contains(m, "bad gateway") || strings.Contains(m, "proxyconnect") {
		// The proxy on the way answered the CONNECT 502: it could not
		// reach the host.
		return flow.ErrProxyRefused
	}
	if k := flow.KindOfLowerMessage(m); k != flow.ErrOther {
		return k
	}
	return ""
}

func setErr(f *flow.Flow, msg string) {
	f.Err = &flow.Error{Kind: failureKind(msg), Message: redact.Text(clipMsg(msg))}
	if f.Err.Kind == "" {
		f.Err.Kind = flow.ErrOther
	}
	f.Response = nil
}

// errorBody is distribution's error body; a struct marshals faster than
// a map, to the same bytes.
type errorBody struct {
	Errors []map[string]string `json:"errors"`
}

// setStatus gives f the answer read back from the client's error.
func setStatus(f *flow.Flow, status int, errs []map[string]string, msg string) {
	r := &flow.Response{Status: status, Inferred: true, Header: http.Header{}}
	if len(errs) > 0 {
		b, _ := json.Marshal(errorBody{errs})
		r.Header.Set("Content-Type", "application/json")
		r.Body = flow.Body{Captured: b, Size: int64(len(b)), Complete: true}
	}
	f.Response = r
}

// unanswered: the log shows the request but not how it ended.
func unanswered(f *flow.Flow) bool {
	return f.Err == nil && f.Response != nil && f.Response.Status == 0
}

// loggedFailure: the log shows the request failed, in the registry's or
// the transport's own words.
func loggedFailure(f *flow.Flow) bool {
	return f.Err != nil || f.Response != nil && !f.Response.Inferred && f.Response.Status >= 400
}

// lastFlow is the last unanswered flow of a kind: "manifest", "blob", "token" (a
// request outside /v2/), "repo" (any request under /v2/<name>/), "any".
func lastFlow(flows []*flow.Flow, what string) *flow.Flow {
	for i := len(flows) - 1; i >= 0; i-- {
		if !unanswered(flows[i]) {
			continue
		}
		p := flows[i].Request.URL.Path
		ok := false
		switch what {
		case "manifest":
			ok = strings.Contains(p, "/manifests/")
		case "blob":
			ok = strings.Contains(p, "/blobs/")
		case "token":
			ok = !strings.HasPrefix(p, "/v2/") || p == "/v2/token" || p == "/v2/auth"
		case "repo":
			ok = strings.HasPrefix(p, "/v2/") && len(p) > len("/v2/")
		default:
			ok = true
		}
		if ok {
			return flows[i]
		}
	}
	if what != "any" {
		return lastFlow(flows, "any")
	}
	return nil
}

// lastURL is the last flow with method and URL (query ignored: clients
// redact it differently).
func lastURL(flows []*flow.Flow, method, raw string) *flow.Flow {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	for i := len(flows) - 1; i >= 0; i-- {
		f := flows[i]
		if strings.EqualFold(f.Request.Method, method) && f.Request.URL.Host == u.Host && f.Request.URL.Path == u.Path {
			return f
		}
	}
	return nil
}

func addFlow(flows *[]*flow.Flow, method, raw string) *flow.Flow {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		u = &url.URL{Scheme: "https", Host: "unknown", Path: "/"}
	}
	f := &flow.Flow{
		ID: flow.ID(len(*flows) + 1), Origin: "the final error",
		Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Response: &flow.Response{Inferred: true, Header: http.Header{}},
	}
	*flows = append(*flows, f)
	return f
}

// clipMsg bounds an error kept on a flow.
func clipMsg(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// inferredFlow is request id of a log, to raw (an unparsable URL becomes
// https://unknown/), whose answer the log does not show: status 0 until a
// reader sets it. shown is false for a request the log only implies.
func inferredFlow(id int, method, raw string, n int, shown bool) *flow.Flow {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		u = &url.URL{Scheme: "https", Host: "unknown", Path: "/"}
	}
	origin := "line " + strconv.Itoa(n)
	if !shown {
		origin = "implied by line " + strconv.Itoa(n)
	}
	return &flow.Flow{
		ID: flow.ID(id), Origin: origin,
		Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
		Response: &flow.Response{Inferred: true, Header: http.Header{}},
	}
}
