package logs

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// FormatRegclient is regclient's trace log, as `regctl -v trace` (and any
// tool built on regclient with its slog logger at types.LevelTrace) prints
// it: log/slog records, logfmt by default or JSON with `--logopt json`.
// Its HTTP transport (internal/reghttp, wrapTransport) is the innermost
// one, below auth, so it logs every request as sent, token requests too:
//
//	time=… level=DEBUG-4 msg="reg http request" req-method=GET req-url=https://reg/v2/x/manifests/1
//	    req-headers="map[Accept:[…] Authorization:[[censored]] User-Agent:[regclient/regctl (v0.11.7)]]"
//	    resp-status="401 Unauthorized" resp-headers="map[Www-Authenticate:[Bearer realm=\"…\",…]]"
//	time=… level=DEBUG msg="reg http request" req-method=GET req-url=… req-headers=… err="Bad Gateway"
//	time=… level=DEBUG msg="Loading config" hostname=reg … source=docker user=alice
//	time=… level=WARN msg="Failed to get manifest" ref=reg/x:1 err="failed to get manifest …: unauthorized"
//	failed to get manifest reg/x:1: unauthorized                  (regctl's final error, plain)
//
// Each request is one record with its status and both headers, or its
// transport error. What the log lacks: bodies (never logged; a failure's
// error repeats the body of a 4xx other than 401, which is put back), and
// Authorization, whose value is "[censored]": the line proves only that
// the header was sent, and its absence that it was not. The scheme follows
// from regclient's auth (internal/auth): after a Basic challenge it sends
// Basic with the docker config's credentials for that host (the user is in
// "Loading config"); after a Bearer challenge it asks the realm for a token
// — GET with Basic credentials (and account=user) when it has them,
// anonymous otherwise, or POST with a form (grant_type=refresh_token) when
// it holds a refresh or identity token — and sends "Bearer <token>" to the
// registry. A token response's body is unseen: a 200 after which the
// registry got Authorization held a token.
const FormatRegclient Format = "regclient"

// rcRecord is one slog record: its fields, and the two header maps.
type rcRecord struct {
	n      int
	f      map[string]string
	reqH   http.Header
	respH  http.Header
	hasReq bool // req-headers was there
}

func (r *rcRecord) get(k string) string { return r.f[k] }

func sniffRegclient(head []string) bool {
	for _, h := range head {
		if strings.Contains(h, "reg http request") || strings.Contains(h, "regclient initialized") {
			if r := rcParse(h, 0); r != nil && (r.get("msg") == "reg http request" && r.get("req-url") != "" || r.get("msg") == "regclient initialized") {
				return true
			}
		}
	}
	return false
}

// rcParse reads one line as a slog record, logfmt or JSON, or returns nil.
// Whatever precedes the record (a CI's timestamp) is skipped.
func rcParse(s string, n int) *rcRecord {
	if i := strings.IndexByte(s, '{'); i >= 0 && strings.Contains(s[i:], `"msg"`) {
		if r := rcParseJSON(s[i:], n); r != nil {
			return r
		}
	}
	if !strings.Contains(s, "msg=") {
		return nil
	}
	r := &rcRecord{n: n, f: map[string]string{}}
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != '"' {
			j++
		}
		if j >= len(s) || s[j] != '=' || j == i {
			// not key=value: skip the word
			for j < len(s) && s[j] != ' ' {
				j++
			}
			i = j
			continue
		}
		key := s[i:j]
		v, next := rcValue(s, j+1)
		r.f[key] = v
		i = next
	}
	if _, ok := r.f["msg"]; !ok {
		return nil
	}
	if h, ok := r.f["req-headers"]; ok {
		r.reqH, r.hasReq = goHeaderMap(h), true
	}
	if h, ok := r.f["resp-headers"]; ok {
		r.respH = goHeaderMap(h)
	}
	return r
}

// rcValue reads a logfmt value at s[i:]: strconv.Quote'd, or up to a space.
// It returns the value and where the next field starts.
func rcValue(s string, i int) (string, int) {
	if i >= len(s) || s[i] != '"' {
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			return s[i:], len(s)
		}
		return s[i : i+j], i + j
	}
	k := i + 1
	esc := false
	for k < len(s) && s[k] != '"' {
		if s[k] == '\\' {
			esc = true
			k++
		}
		k++
	}
	if k >= len(s) {
		return s[i+1:], len(s) // cut off: keep what there is
	}
	raw := s[i : k+1]
	if !esc {
		return raw[1 : len(raw)-1], k + 1
	}
	if u, err := strconv.Unquote(raw); err == nil {
		return u, k + 1
	}
	return raw[1 : len(raw)-1], k + 1
}

// rcParseJSON reads slog's JSON handler output.
func rcParseJSON(s string, n int) *rcRecord {
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil
	}
	if _, ok := m["msg"].(string); !ok {
		return nil
	}
	r := &rcRecord{n: n, f: map[string]string{}}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			r.f[k] = v
		case float64:
			r.f[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			r.f[k] = strconv.FormatBool(v)
		case map[string]any:
			h := http.Header{}
			for hk, hv := range v {
				if l, ok := hv.([]any); ok {
					for _, x := range l {
						if s, ok := x.(string); ok {
							h.Add(hk, s)
						}
					}
				} else if s, ok := hv.(string); ok {
					h.Add(hk, s)
				}
			}
			switch k {
			case "req-headers":
				r.reqH, r.hasReq = h, true
			case "resp-headers":
				r.respH = h
			}
		}
	}
	return r
}

// goHeaderMap reads an http.Header as fmt prints it: map[K:[v1 v2] K2:[v]].
// Values are joined by spaces there, so a header's values stay one value
// (a WWW-Authenticate with two challenges is split where the next starts).
func goHeaderMap(s string) http.Header {
	h := http.Header{}
	s = strings.TrimPrefix(s, "map[")
	s = strings.TrimSuffix(s, "]")
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		k := strings.Index(s, ":[")
		if k <= 0 {
			break
		}
		key := s[:k]
		if strings.ContainsAny(key, " []") {
			break
		}
		// the value list ends at its matching bracket
		depth, j := 0, k+1
		for ; j < len(s); j++ {
			if s[j] == '[' {
				depth++
			} else if s[j] == ']' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		val := s[k+2 : min(j, len(s))]
		if http.CanonicalHeaderKey(key) == "Www-Authenticate" {
			for _, c := range splitChallenges(val) {
				h.Add(key, c)
			}
		} else {
			h.Add(key, val)
		}
		if j >= len(s) {
			break
		}
		s = s[j+1:]
	}
	return h
}

var rcNextChallenge = regexp.MustCompile(`(?i)" (basic|bearer) `)

func splitChallenges(v string) []string {
	var out []string
	for {
		loc := rcNextChallenge.FindStringIndex(v)
		if loc == nil {
			return append(out, v)
		}
		out = append(out, v[:loc[0]+1])
		v = v[loc[0]+2:]
	}
}

// rcState is what the reader knows of one flow beyond the flow itself.
type rcState struct {
	f         *flow.Flow
	authShown bool // req-headers holds Authorization
	headers   bool // req-headers was logged
}

var rcHTTPBody = regexp.MustCompile(`(?s)\[http (\d{3})\]: (.*)$`)

func readRegclient(ls []line) *Trace {
	t := &Trace{Format: FormatRegclient, Name: "regctl trace log",
		Lacks: "credentials, tokens or any body (regctl logs Authorization as [censored]; regtrace puts back the scheme " +
			"regclient sends, and a failure's body from its error)"}
	var sts []*rcState
	creds := map[string]string{} // host -> user, from "Loading config"
	var lastRec *rcRecord
	var warnErrs []string
	var plain []string // lines after the last record that are not records
	var src, tgt, op string
	for _, l := range ls {
		r := rcParse(l.text, l.n)
		if r == nil {
			if s := strings.TrimSpace(l.text); s != "" || len(plain) > 0 {
				plain = append(plain, l.text)
			}
			continue
		}
		plain = plain[:0]
		lastRec = r
		switch msg := r.get("msg"); {
		case msg == "reg http request":
			u, err := url.Parse(r.get("req-url"))
			method := strings.ToUpper(r.get("req-method"))
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || method == "" || strings.ContainsAny(method, " \t") {
				continue
			}
			st := &rcState{f: &flow.Flow{
				ID: flow.ID(len(sts) + 1), Origin: "line " + strconv.Itoa(r.n),
				Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
				Response: &flow.Response{Inferred: true, Header: http.Header{}},
			}, headers: r.hasReq}
			sts = append(sts, st)
			for k, vs := range r.reqH {
				for _, v := range vs {
					if http.CanonicalHeaderKey(k) == "Authorization" {
						st.authShown = true
						continue
					}
					st.f.Request.Header.Add(k, redact.Header(k, v))
				}
			}
			if status := r.get("resp-status"); status != "" {
				code, _, _ := strings.Cut(status, " ")
				if n, err := strconv.Atoi(code); err == nil && n >= 100 && n <= 999 {
					resp := st.f.Response
					resp.Status, resp.Inferred = n, false
					for k, vs := range r.respH {
						for _, v := range vs {
							resp.Header.Add(k, redact.Header(k, v))
						}
					}
					// regclient never logs a body.
					resp.Body = dumpBody(resp.Header, nil, true)
					if method == http.MethodHead || n == http.StatusNoContent || n == http.StatusNotModified {
						resp.Body = flow.Body{Complete: true}
					}
				}
			} else if e := r.get("err"); e != "" {
				setErr(st.f, e)
			}
		case msg == "Loading config":
			if h, u := r.get("hostname"), r.get("user"); h != "" && u != "" {
				creds[h] = u
			}
		case msg == "Image export" || msg == "Image copy" || msg == "Image export failed" || strings.HasPrefix(msg, "Image "):
			if op == "" {
				op = strings.ToLower(strings.TrimPrefix(msg, "Image "))
				src, tgt = cmp.Or(r.get("ref"), r.get("source")), r.get("target")
			}
		}
		if lv := strings.ToUpper(r.get("level")); (strings.HasPrefix(lv, "WARN") || strings.HasPrefix(lv, "ERROR")) && r.get("err") != "" {
			warnErrs = append(warnErrs, r.get("err"))
		}
	}
	// regctl's final error: the plain lines after the last record, when
	// they are the error a warning logged (or read like one); else the
	// last record itself when it is a "Failed to …" warning.
	lastErr := ""
	for len(plain) > 0 && strings.TrimSpace(plain[len(plain)-1]) == "" {
		plain = plain[:len(plain)-1]
	}
	if len(plain) > 0 {
		first := strings.TrimSpace(plain[0])
		for _, w := range warnErrs {
			if first != "" && (strings.HasPrefix(w, first) || strings.HasPrefix(first, w)) {
				lastErr = strings.Join(plain, "\n")
			}
		}
		if lastErr == "" && rcErrorWords.MatchString(first) {
			lastErr = strings.Join(plain, "\n")
		}
	}
	full := lastErr // the error with the body regclient quotes, unescaped
	for _, w := range warnErrs {
		if lastErr != "" && strings.HasPrefix(w, strings.TrimSpace(strings.SplitN(lastErr, "\n", 2)[0])) {
			full = w
		}
	}
	if lastErr == "" && lastRec != nil && strings.HasPrefix(lastRec.get("msg"), "Failed to") && len(warnErrs) > 0 &&
		warnErrs[len(warnErrs)-1] == lastRec.get("err") {
		lastErr, full = lastRec.get("err"), lastRec.get("err")
	}
	var flows []*flow.Flow
	for _, st := range sts {
		flows = append(flows, st.f)
	}
	t.Image = src
	if op == "copy" && tgt != "" {
		t.Image = tgt
	}
	if t.Image == "" {
		t.Image = ggcrImage(flows)
	}
	if lastErr != "" {
		t.Errors = append(t.Errors, redact.Text(lastErr))
		flows = rcApplyError(flows, full)
		flows = failSomewhere(flows, lastErr, t.Image)
	}
	hidden := rcAuth(sts, creds)
	for _, st := range sts {
		hidden = hidden || !st.headers
	}
	t.HidesAuth = hidden
	for h := range creds {
		t.CredentialsFor = append(t.CredentialsFor, h)
	}
	for _, f := range flows {
		if f.Request.Header.Get("User-Agent") == "" {
			f.Request.Header.Set("User-Agent", "regclient/regctl")
		}
	}
	switch {
	case op == "copy" && src != "" && tgt != "":
		t.Command = "regtrace run --har trace.har -- regctl image copy " + src + " " + tgt
	case t.Image != "":
		t.Command = "regtrace run --har trace.har -- regctl image export " + t.Image + " image.tar"
	}
	t.Command = redact.Text(t.Command)
	t.Flows = flows
	return t
}

var rcErrorWords = regexp.MustCompile(`(?i)\b(failed|error|unauthorized|denied|forbidden|not found|refused|timeout|no such host|certificate|bad gateway)\b`)

// rcApplyError reads the final error back: the body regclient quotes after
// "[http NNN]: " goes on the last flow logged with that status whose body
// is unknown (its status and headers stay the registry's own); a request
// the log shows unanswered (cut off) gets the status and body the error
// names. A logged answer is never overwritten.
func rcApplyError(flows []*flow.Flow, msg string) []*flow.Flow {
	if m := rcHTTPBody.FindStringSubmatch(msg); m != nil {
		st, _ := strconv.Atoi(m[1])
		body := strings.TrimRight(m[2], "\n")
		for i := len(flows) - 1; i >= 0; i-- {
			r := flows[i].Response
			if flows[i].Err != nil || r == nil || r.Inferred || r.Status != st {
				continue
			}
			if len(r.Body.Captured) == 0 && body != "" {
				b := []byte(body)
				if len(b) > maxCapture {
					b = b[:maxCapture]
				}
				size := int64(len(body))
				if cl, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64); err == nil && cl >= size {
					size = cl
				}
				r.Body = flow.Body{Captured: redact.Body(r.Header.Get("Content-Type"), b), Size: size}
				r.Body.Complete = size <= int64(len(body))+1
				r.Body.Truncated = size > int64(len(b))+1
			}
			return flows
		}
	}
	if !slices.ContainsFunc(flows, unanswered) {
		return flows
	}
	return applyError(flows, msg, false)
}

// rcAuth puts back what regclient sent where the log shows "[censored]"
// (see FormatRegclient), and the token a 200 token response held when the
// registry then got Authorization. It reports whether some request's
// Authorization stays unknown.
func rcAuth(sts []*rcState, creds map[string]string) (hidden bool) {
	schemes := map[string]map[string]bool{} // registry host -> challenged schemes
	realms := map[string]string{}           // realm host+path -> registry host
	tokens := map[string]string{}           // registry host -> token last issued
	// Whether a token is used later: the last request that shows an
	// Authorization header, per host, and to any /v2/ path (looked up,
	// not scanned for, on each token response: a long log has thousands).
	lastAuth, lastAuthV2 := map[string]int{}, -1
	for i, g := range sts {
		if g.authShown {
			gu := g.f.Request.URL
			lastAuth[gu.Host] = i
			if strings.HasPrefix(gu.Path, "/v2/") {
				lastAuthV2 = i
			}
		}
	}
	for i, st := range sts {
		f := st.f
		u := f.Request.URL
		reg, toRealm := realms[u.Host+u.Path], false
		if reg != "" {
			toRealm = true
		} else if !strings.HasPrefix(u.Path, "/v2/") && (u.Query().Has("scope") || u.Query().Has("service") || u.Query().Has("client_id") || f.Request.Method == http.MethodPost) {
			toRealm = true // a realm whose challenge the log did not show
		}
		switch {
		case toRealm:
			if f.Request.Method == http.MethodPost {
				// tryPost: a form with grant_type=refresh_token (a refresh or
				// identity token), never an Authorization header.
				if len(f.Request.Body.Captured) == 0 {
					f.Request.Body = flow.Body{Captured: []byte("grant_type=refresh_token&refresh_token=REDACTED"), Truncated: true}
					if f.Request.Header.Get("Content-Type") == "" {
						f.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
					}
				}
			}
			if st.authShown {
				// tryGet: SetBasicAuth with the user it also sends as account.
				user := u.Query().Get("account")
				if user == "" {
					user = creds[reg]
				}
				f.Request.Header.Set("Authorization", "Basic "+rcUser(user))
			}
			resp := f.Response
			if f.Err != nil || resp == nil || resp.Status != http.StatusOK || len(resp.Body.Captured) > 0 {
				break
			}
			used := lastAuth[reg] > i || reg == "" && lastAuthV2 > i
			if used {
				tok := tokenFromLog[len("Bearer "):] + "-" + strings.TrimPrefix(f.ID.String(), "#")
				b, _ := json.Marshal(map[string]string{"token": tok})
				resp.Body.Captured, resp.Body.Truncated = b, false
				if reg == "" {
					for _, g := range sts[i+1:] {
						if g.authShown && strings.HasPrefix(g.f.Request.URL.Path, "/v2/") {
							reg = g.f.Request.URL.Host
							break
						}
					}
				}
				tokens[reg] = tok
			}
		case st.authShown:
			// UpdateRequest tries the Basic handler first (it fails without
			// a user and password), then Bearer.
			sc := schemes[u.Host]
			user, hasCreds := creds[u.Host]
			switch {
			case sc["basic"] && hasCreds:
				f.Request.Header.Set("Authorization", "Basic "+rcUser(user))
			case sc["bearer"] || tokens[u.Host] != "":
				f.Request.Header.Set("Authorization", bearerOf(tokens[u.Host]))
			default:
				hidden = true
			}
		}
		if r := f.Response; r != nil && r.Status == http.StatusUnauthorized {
			for _, c := range r.Header.Values("Www-Authenticate") {
				scheme, _, _ := strings.Cut(strings.TrimSpace(c), " ")
				scheme = strings.ToLower(scheme)
				if schemes[u.Host] == nil {
					schemes[u.Host] = map[string]bool{}
				}
				schemes[u.Host][scheme] = true
				if scheme == "bearer" {
					if realm := challengeParam(c, "realm"); realm != "" {
						if ru, err := u.Parse(realm); err == nil {
							realms[ru.Host+ru.Path] = u.Host
						}
					}
				}
			}
		}
	}
	return hidden
}

// rcUser is redacted Basic credentials of user (unknown when "").
func rcUser(user string) string {
	if user == "" {
		return strings.TrimPrefix(redactedNoUser, "Basic ")
	}
	v := redact.Authorization("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":-")))
	return strings.TrimPrefix(v, "Basic ")
}
