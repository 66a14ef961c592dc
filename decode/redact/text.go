package redact

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
)

// Text redacts free text: error messages, logs, HTML, bodies that are neither
// JSON nor forms. In order, it replaces
//
//   - the values of JSON token fields ("refresh_token": "…"), also inside
//     JSON-escaped JSON (\"refresh_token\":\"…\") and cut short;
//   - the values after "Authorization:", "Cookie:" and "Set-Cookie:" (also
//     Go's map[Authorization:[…]] and JSON "Authorization": ["…"]), as
//     Header does;
//   - every URL (scheme://…, also JSON-escaped), as URLString does, and the
//     query of every absolute path (an access log's "PUT /v2/…?_state=…");
//   - form-style secrets (password=…, refresh_token=…, &code=…);
//   - JWT signatures: ey….ey….sig becomes ey….ey….REDACTED, with or without
//     valid JSON in the parts (Cloudflare har-sanitizer's rule);
//   - "Basic <base64 of user:password>" and "Bearer <token>";
//   - well-known token formats (GitHub ghp_…/github_pat_…, GitLab glpat-…,
//     Docker dckr_pat_…).
//
// Text favours redacting too much over too little, but keeps prose readable:
// "Bearer realm=…" (a challenge quoted in an error) and "no basic auth
// credentials" are left alone.
func Text(s string) string {
	if s == "" {
		return s
	}
	s = scrubJSONFields(s)
	s = scrubHeaderValues(s)
	s = scrubURLs(s)
	s = scrubRelativeURLs(s)
	s = scrubFormFields(s)
	s = stripJWTs(s)
	s = scrubSchemeCredentials(s)
	s = scrubKnownTokens(s)
	s = scrubCommandLine(s)
	return s
}

// Command lines that clients echo into their logs (podman's "Called
// pull.PersistentPreRunE(…)") and that tickets paste from shell history
// carry passwords as flags: --creds user:password (podman, skopeo's
// --src-creds/--dest-creds), --password/-p (docker, podman, crane, oras,
// regctl login), --registry-token and --identity-token. The user name
// stays: it is evidence.
var (
	credsFlagRE    = regexp.MustCompile(`(--(?:src-|dest-)?creds(?:=|\s+))([^\s:"']*):([^\s"']+)`)
	passwordFlagRE = regexp.MustCompile(`(--(?:password|pass|registry-token|identity-token|token)(?:=|\s+))([^\s"']+)`)
	// -p only after a login: elsewhere it publishes ports.
	loginShortPRE = regexp.MustCompile(`(\blogin\b[^\n]*?\s-p(?:=|\s+))([^\s"']+)`)
)

func scrubCommandLine(s string) string {
	// Each expression runs only on text holding a literal it needs: the
	// texts of a long report are many, and few are command lines.
	if strings.Contains(s, "creds") {
		s = credsFlagRE.ReplaceAllStringFunc(s, func(m string) string {
			sm := credsFlagRE.FindStringSubmatch(m)
			if strings.HasPrefix(sm[3], Mark) {
				return m
			}
			return sm[1] + sm[2] + ":" + Mark
		})
	}
	for _, c := range []struct {
		re *regexp.Regexp
		// maybe: s holds the literals every match holds (a report's
		// texts say "regtrace run -- …": "--" alone lets most through).
		maybe func(s string) bool
	}{
		{passwordFlagRE, func(s string) bool { return strings.Contains(s, "--pass") || strings.Contains(s, "-token") }},
		{loginShortPRE, func(s string) bool { return strings.Contains(s, "-p") && strings.Contains(s, "login") }},
	} {
		if !c.maybe(s) {
			continue
		}
		s = c.re.ReplaceAllStringFunc(s, func(m string) string {
			sm := c.re.FindStringSubmatch(m)
			if strings.HasPrefix(sm[2], Mark) || strings.HasPrefix(sm[2], "-") {
				return m // already redacted, or the next flag (--password-stdin)
			}
			return sm[1] + Mark
		})
	}
	return s
}

// Error is Text(err.Error()); nil gives "". Go's *url.Error prints the full
// request URL, signed query and all, so every error that reaches a user or a
// trace goes through here.
func Error(err error) string {
	if err == nil {
		return ""
	}
	return Text(err.Error())
}

// JSON object keys whose values are secrets (compared case-insensitively):
// the OAuth2 and Docker token responses (RFC 6749 §5.1, distribution's token
// spec), Docker's AuthConfig and config.json (identitytoken, registrytoken,
// auth = base64 user:password) and credential helper output (Secret).
var (
	jsonTokenKeys    = []string{"token", "access_token", "refresh_token", "id_token", "identity_token", "identitytoken", "registrytoken"}
	jsonPasswordKeys = []string{"password", "secret", "client_secret", "auth"}
)

func jsonKeySecrecy(k string) secrecy {
	for _, s := range jsonPasswordKeys {
		if strings.EqualFold(k, s) {
			return passwordSecret
		}
	}
	for _, s := range jsonTokenKeys {
		if strings.EqualFold(k, s) {
			return tokenSecret
		}
	}
	return public
}

// scrubJSONFields redacts the values of JSON token fields found textually, for
// JSON that does not parse (a body cut at the capture limit) and JSON quoted
// in messages. A field is a token or password key in quotes, each quote
// escaped any number of times, then a colon; the backslashes before the key's
// opening quote give the level of escaping.
func scrubJSONFields(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for pos < len(s) {
		c := strings.IndexByte(s[pos:], ':')
		if c < 0 {
			break
		}
		c += pos
		from := pos
		pos = c + 1
		k := c
		for k > from && isJSONSpace(s[k-1]) {
			k--
		}
		if k == from || s[k-1] != '"' {
			continue
		}
		k--
		for k > from && s[k-1] == '\\' {
			k--
		}
		keyEnd := k
		for k > from && isKeyByte(s[k-1]) {
			k--
		}
		kind := jsonKeySecrecy(s[k:keyEnd])
		if k == from || s[k-1] != '"' || kind == public {
			continue
		}
		level := 0
		for k-1-level > 0 && s[k-2-level] == '\\' {
			level++
		}
		v := c + 1
		for v < len(s) && isJSONSpace(s[v]) {
			v++
		}
		start, end, repl, found, changed := jsonFieldValue(s, v, level, kind)
		switch {
		case !found:
		case !changed:
			pos = max(end, pos)
		default:
			b.WriteString(s[last:start])
			b.WriteString(repl)
			last, pos = end, max(end, pos)
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// jsonFieldValue finds the value that starts at s[i] of a field whose key was
// escaped level times, and its replacement. A string is read to its closing
// quote, or to the end of the line or of s when cut short; a number or a bare
// word becomes a string marker; objects and arrays are left to the scan,
// which will find any token fields inside them.
func jsonFieldValue(s string, i, level int, kind secrecy) (start, end int, repl string, found, changed bool) {
	k := i
	for k < len(s) && s[k] == '\\' {
		k++
	}
	if k < len(s) && s[k] == '"' {
		q := k + 1
		if k == i {
			e := q
			for e < len(s) && s[e] != '"' && s[e] != '\n' {
				if s[e] == '\\' {
					e++
				}
				e++
			}
			e = min(e, len(s))
			raw := s[q:e]
			v := raw
			var d string
			if json.Unmarshal([]byte(`"`+raw+`"`), &d) == nil {
				v = d
			}
			r := kind.redact(v)
			return q, e, r, true, r != v
		}
		// Escaped n = k-i times: the value ends at a quote escaped n times
		// or fewer (fewer ends the enclosing string too); a quote escaped
		// more is inside the value. The closing quote's backslashes are not
		// part of the value.
		n := k - i
		e := q
		for ; e < len(s) && s[e] != '\n'; e++ {
			if s[e] != '"' {
				continue
			}
			r := 0
			for e-r > q && s[e-r-1] == '\\' {
				r++
			}
			if r <= n {
				e -= r
				break
			}
		}
		raw := s[q:e]
		r := kind.redact(raw)
		return q, e, r, true, r != raw
	}
	if i >= len(s) || strings.IndexByte("{[,}]", s[i]) >= 0 {
		return 0, 0, "", false, false
	}
	e := i
	for e < len(s) && strings.IndexByte(",}] \t\r\n\\\"", s[e]) < 0 {
		e++
	}
	lit := s[i:e]
	switch lit {
	case "true", "false", "null":
		return i, e, lit, true, false
	}
	quote := strings.Repeat(`\`, level) + `"`
	return i, e, quote + kind.redact(lit) + quote, true, true
}

// headerValueRE matches, after a header name, what separates it from its
// value in text: a header line ("Authorization: Bearer …"), Go's printing of
// an http.Header ("map[Authorization:[Bearer …]]") and its JSON
// ("Authorization":["…"]), escaped or not.
var headerValueRE = regexp.MustCompile(`^\\*"?[ \t]*[:=][ \t]*\[?[ \t]*\\*"?[ \t]*`)

// textHeaders are the headers whose values scrubHeaderValues finds in text,
// lower case, each with its redaction. Proxy-Authorization and Set-Cookie end
// in the names of Authorization and Cookie.
var textHeaders = []struct {
	name   string
	redact func(string) string
}{
	{"authorization", Authorization},
	{"cookie", cookie},
}

// proseAfterAuthorization: what follows "authorization:" in a text is
// words, not credentials — containerd's "may require authorization:
// server message: insufficient_scope: authorization failed". Credentials
// (RFC 9110 §11.4) are a scheme and a token68 or auth-params, none of
// which holds ": " outside a quoted string; a scheme clients send
// (Basic, Bearer, …) is redacted all the same.
func proseAfterAuthorization(v string) bool {
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || strings.ContainsAny(scheme, ":=\"") || knownScheme[asciiLower(scheme)] {
		return false
	}
	quoted := false
	for i := 0; i < len(rest); i++ {
		switch {
		case rest[i] == '"':
			quoted = !quoted
		case !quoted && rest[i] == ':' && i+1 < len(rest) && rest[i+1] == ' ':
			return true
		}
	}
	return false
}

// knownScheme are the HTTP authentication schemes registries and their
// clients use (IANA's registry, and AWS's).
var knownScheme = map[string]bool{"basic": true, "bearer": true, "digest": true, "negotiate": true, "ntlm": true,
	"hoba": true, "mutual": true, "vapid": true, "scram-sha-1": true, "scram-sha-256": true, "aws4-hmac-sha256": true,
	"token": true, "dpop": true, "privatetoken": true, "concealed": true}

// scrubHeaderValues redacts Authorization, Cookie and Set-Cookie values
// quoted in text, such as curl -v or Go debug output. A value ends at a
// quote, a closing bracket or the end of the line; after '=' (a query
// parameter) also at a space, '&' or ';'.
func scrubHeaderValues(s string) string {
	for _, h := range textHeaders {
		if indexFold(s, h.name, 0) == len(s) {
			continue
		}
		var b strings.Builder
		pos, last := 0, 0
		for pos < len(s) {
			i := indexFold(s, h.name, pos)
			if i == len(s) {
				break
			}
			pos = i + 1
			m := headerValueRE.FindStringIndex(s[i+len(h.name):])
			if m == nil {
				continue
			}
			start := i + len(h.name) + m[1]
			stops := "\"\\]\r\n"
			if strings.Contains(s[i+len(h.name):start], "=") {
				stops += " \t&;" // a query parameter, not a header line
			}
			end := start
			for end < len(s) && strings.IndexByte(stops, s[end]) < 0 {
				end++
			}
			v := strings.TrimRight(s[start:end], " \t")
			end = start + len(v)
			redact := h.redact
			if h.name == "authorization" && proseAfterAuthorization(v) {
				continue
			}
			if h.name == "cookie" && i >= 4 && indexFold(s[i-4:i], "set-", 0) == 0 {
				redact = setCookie
			}
			if r := redact(v); r != v {
				b.WriteString(s[last:start])
				b.WriteString(r)
				last = end
			}
			pos = max(end, pos)
		}
		if last > 0 {
			b.WriteString(s[last:])
			s = b.String()
		}
	}
	return s
}

// indexFold is the index of sub, lower-case ASCII, in s at or after pos,
// comparing ASCII letters without case (as in asciiLower: no Unicode
// folding, byte offsets are s's); len(s) when absent. It allocates nothing,
// unlike lower-casing each text a long report holds.
func indexFold(s, sub string, pos int) int {
	if len(s)-pos < 64 {
		c0 := sub[0]
		for i := pos; i+len(sub) <= len(s); i++ {
			if lowerByte(s[i]) == c0 && foldEqual(s[i+1:i+len(sub)], sub[1:]) {
				return i
			}
		}
		return len(s)
	}
	// A long text is searched for sub's rarest letter (one IndexByte per
	// case, at memory speed), the rest checked where it is found: a
	// byte-by-byte scan was a tenth of reading a long Kubernetes events
	// file.
	k := anchorOf(sub)
	a := sub[k]
	lo, up := a, a
	if 'a' <= a && a <= 'z' {
		up = a - 'a' + 'A'
	}
	nextLo, nextUp := -1, -1 // next of each case at or after from, or len(s)
	for from := pos + k; from+len(sub)-k <= len(s); {
		if nextLo < from {
			nextLo = indexByteFrom(s, lo, from)
		}
		if nextUp < from {
			nextUp = indexByteFrom(s, up, from)
		}
		c := min(nextLo, nextUp)
		if c+len(sub)-k > len(s) {
			break
		}
		if i := c - k; foldEqual(s[i:i+len(sub)], sub) {
			return i
		}
		from = c + 1
	}
	return len(s)
}

// indexByteFrom is the index of c in s at or after from, or len(s).
func indexByteFrom(s string, c byte, from int) int {
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return len(s)
}

// foldEqual: t equals the lower-case sub but for ASCII letters' case.
func foldEqual(t, sub string) bool {
	for i := 0; i < len(sub); i++ {
		if lowerByte(t[i]) != sub[i] {
			return false
		}
	}
	return true
}

// anchorOf is the index of sub's rarest byte in English text (letters
// by frequency, anything else rarer still).
func anchorOf(sub string) int {
	best := 0
	for i := 1; i < len(sub); i++ {
		if byteRarity[sub[i]] > byteRarity[sub[best]] {
			best = i
		}
	}
	return best
}

// byteRarity ranks bytes by how rare they are in English text: letters
// by frequency, anything else rarer still.
var byteRarity = func() (r [256]uint8) {
	const common = "etaoinshrdlcumwfgypbvkjxqz" // most frequent first
	for i := range r {
		r[i] = uint8(len(common))
	}
	for i := 0; i < len(common); i++ {
		r[common[i]] = uint8(i)
	}
	return r
}()

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// scrubURLs applies scrubURL to every URL in s. A URL starts with its scheme
// and ends at whitespace, a quote or an angle bracket; trailing punctuation
// that belongs to the sentence is left outside.
func scrubURLs(s string) string {
	var b strings.Builder
	// last: where the text not yet copied starts; pos: where the search
	// goes on (a URL left as it was is not copied apart).
	pos, last := 0, 0
	plain, escaped := -1, -1 // next "://" and ":\/\/" at or after pos, or len(s)
	for {
		if plain < pos {
			plain = indexFrom(s, "://", pos)
		}
		if escaped < pos {
			escaped = indexFrom(s, `:\/\/`, pos)
		}
		i, n := plain, 3
		if escaped < plain {
			i, n = escaped, 5
		}
		if i == len(s) {
			break
		}
		start := i
		for start > pos && isSchemeByte(s[start-1]) {
			start--
		}
		end := i + n
		for end < len(s) && !isURLStop(s[end]) {
			end++
		}
		end = max(start+len(trimURLTail(s[start:end])), i+n)
		if u := scrubURL(s[start:end]); u != s[start:end] {
			b.WriteString(s[last:start])
			b.WriteString(u)
			last = end
		}
		pos = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubRelativeURLs scrubs the query of every absolute path in text (an
// access log's "PUT /v2/…/uploads/u?_state=…"). The path must start the text
// or follow a separator, so that the path of a URL with a scheme, already
// scrubbed, is not taken for one.
func scrubRelativeURLs(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for pos < len(s) {
		q := strings.IndexByte(s[pos:], '?')
		if q < 0 {
			break
		}
		q += pos
		st := q
		for st > pos && strings.IndexByte(" \t\r\n\"'<>?#", s[st-1]) < 0 {
			st--
		}
		end := q + 1
		for end < len(s) && strings.IndexByte(" \t\r\n\"'<>#", s[end]) < 0 {
			end++
		}
		pos = end
		if s[st] != '/' || st > 0 && strings.IndexByte(" \t\r\n\"'(<[=,", s[st-1]) < 0 {
			continue
		}
		if r := scrubURL(s[st:end]); r != s[st:end] {
			b.WriteString(s[last:st])
			b.WriteString(r)
			last = end
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// indexFrom is strings.Index from pos, len(s) when absent.
func indexFrom(s, sub string, pos int) int {
	if i := strings.Index(s[pos:], sub); i >= 0 {
		return pos + i
	}
	return len(s)
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

func isURLStop(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`'
}

// trimURLTail drops from the end of a URL found in prose the punctuation that
// ends the sentence or closes a bracket opened before the URL, and the
// backslash of a JSON-escaped closing quote.
func trimURLTail(u string) string {
	for u != "" {
		c := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?*\\", c) >= 0:
		case c == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
		case c == ']' && strings.Count(u, "[") < strings.Count(u, "]"):
		case c == '}' && strings.Count(u, "{") < strings.Count(u, "}"):
		default:
			return u
		}
		u = u[:len(u)-1]
	}
	return u
}

// Form fields whose values are secrets (RFC 6749 §4.1.3, §4.3, §6; RFC 7636;
// RFC 7523 client_assertion), compared case-insensitively.
var (
	formPasswordKeys = []string{"password", "passwd", "client_secret", "code", "code_verifier", "secret"}
	formTokenKeys    = []string{"refresh_token", "access_token", "id_token", "identity_token", "token", "client_assertion"}
)

func formKeySecrecy(key string) secrecy {
	for _, k := range formPasswordKeys {
		if strings.EqualFold(key, k) {
			return passwordSecret
		}
	}
	for _, k := range formTokenKeys {
		if strings.EqualFold(key, k) {
			return tokenSecret
		}
	}
	return public
}

// formSecretValue redacts the raw (%-encoded) value of a form field. A
// token is hashed decoded, so that it matches the same token seen in JSON or
// a header.
func formSecretValue(key, raw string) string {
	kind := formKeySecrecy(key)
	if kind == public || raw == "" {
		return raw
	}
	v, err := url.QueryUnescape(raw)
	if err != nil {
		v = raw
	}
	if isMarked(v) {
		return raw
	}
	if j, ok := JWT(v); ok && j == v && kind == tokenSecret {
		return raw
	}
	return kind.redact(v)
}

// scrubFormFields redacts key=value secrets in text: a form body with the
// wrong content type, a form quoted in a log. The key must start the text or
// follow a separator; "code" only after '?', '&' or ';', so that "exit
// code=1" stays.
func scrubFormFields(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for pos < len(s) {
		j := strings.IndexByte(s[pos:], '=')
		if j < 0 {
			break
		}
		j += pos
		i := j
		for i > pos && isKeyByte(s[i-1]) {
			i--
		}
		key := s[i:j]
		pos = j + 1
		if formKeySecrecy(key) == public {
			continue
		}
		if i > 0 && !(strings.IndexByte("?&;", s[i-1]) >= 0 ||
			!strings.EqualFold(key, "code") && strings.IndexByte(" \t\r\n,\"'([{", s[i-1]) >= 0) {
			continue
		}
		end := j + 1
		for end < len(s) && strings.IndexByte("&; \t\r\n\"'<>`\\", s[end]) < 0 {
			end++
		}
		if r := formSecretValue(key, s[j+1:end]); r != s[j+1:end] {
			b.WriteString(s[last : j+1])
			b.WriteString(r)
			last = end
		}
		pos = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// jwtRE finds compact JWS-looking text: two base64url parts that start like a
// JSON object ("ey" is base64 of `{"`), and a signature. The parts must be 10
// characters or more so that host names such as keyboard.eyewear.com do not
// match; a real JWT header is at least 19.
var jwtRE = regexp.MustCompile(`(ey[A-Za-z0-9_-]{8,}=*)\.(ey[A-Za-z0-9_-]{8,}=*)\.[A-Za-z0-9_\-+/=]+`)

func stripJWTs(s string) string {
	if !strings.Contains(s, "ey") {
		return s
	}
	return jwtRE.ReplaceAllString(s, "${1}.${2}."+Mark)
}

// authParams are the auth-param names of challenges (RFC 9110 §11.6.1, RFC
// 6750 §3, RFC 7616 §3.3, RFC 9728): "Bearer realm=…" in text is a quoted
// challenge, not a credential.
var authParams = []string{
	"realm", "scope", "service", "error", "error_description", "error_uri",
	"charset", "nonce", "algorithm", "qop", "opaque", "domain", "stale",
	"userhash", "resource_metadata", "as_uri", "max_age", "acr_values",
}

func isAuthParam(k string) bool {
	for _, p := range authParams {
		if strings.EqualFold(k, p) {
			return true
		}
	}
	return false
}

func scrubSchemeCredentials(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	nextBasic, nextBearer := -1, -1
	for pos < len(s) {
		if nextBasic < pos {
			nextBasic = indexFold(s, "basic", pos)
		}
		if nextBearer < pos {
			nextBearer = indexFold(s, "bearer", pos)
		}
		i, basic := nextBearer, false
		if nextBasic < nextBearer {
			i, basic = nextBasic, true
		}
		if i == len(s) {
			break
		}
		p := i + 5
		if !basic {
			p++
		}
		pos = p
		if p == len(s) || s[p] != ' ' && s[p] != '\t' {
			continue
		}
		for p < len(s) && (s[p] == ' ' || s[p] == '\t') {
			p++
		}
		pos = p
		if basic {
			if n := basicMarkedPrefix(s[p:]); n > 0 && (p+n == len(s) || !isBase64Byte(s[p+n]) && s[p+n] != '(') {
				pos = p + n
				continue
			}
			e := p
			for e < len(s) && isBase64Byte(s[e]) {
				e++
			}
			user, ok := decodeBasic(s[p:e])
			if !ok {
				continue
			}
			b.WriteString(s[last:p])
			if isPrintable(user) {
				b.WriteString(basicMark(user))
			} else {
				// Not a name worth showing, but the password after it
				// is still one.
				b.WriteString(Mark)
			}
			last, pos = e, e
			continue
		}
		if n := markedPrefix(s[p:]); n > 0 && (p+n == len(s) || !isTokenByte(s[p+n]) && s[p+n] != '(') {
			pos = p + n
			continue
		}
		e := p
		for e < len(s) && strings.IndexByte(" \t\r\n\"'<>,;)]}\\", s[e]) < 0 {
			e++
		}
		tok := strings.TrimRight(s[p:e], ".:!?")
		if tok == "" {
			continue
		}
		e = p + len(tok)
		if k, _, ok := strings.Cut(tok, "="); ok && isAuthParam(k) || !looksLikeToken(tok) {
			continue
		}
		if r := secretString(tok); r != tok {
			b.WriteString(s[last:p])
			b.WriteString(r)
			last = e
		}
		pos = e
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/=", c) >= 0
}

func isBase64Byte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+/=-_", c) >= 0
}

// looksLikeToken tells a bearer token from the next word of a sentence
// ("Bearer token required"): tokens are long or hold digits or punctuation.
func looksLikeToken(t string) bool {
	return len(t) >= 20 || strings.ContainsAny(t, "0123456789-._~+/=")
}

// knownTokenRE matches token formats with a fixed prefix, so they are caught
// wherever they appear (a command line in a log, a config dump).
var knownTokenRE = regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|gl(?:pat|dt)-[A-Za-z0-9_-]{20,}|dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}`)

// knownTokenPrefixes are the literal starts of knownTokenRE: the regexp runs
// only on text holding one of them.
var knownTokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "dckr_pat_", "dckr_oat_"}

func scrubKnownTokens(s string) string {
	found := false
	for _, p := range knownTokenPrefixes {
		if strings.Contains(s, p) {
			found = true
			break
		}
	}
	if !found {
		return s
	}
	return knownTokenRE.ReplaceAllStringFunc(s, Opaque)
}
