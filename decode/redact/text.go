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
//   - the credentials after "Authorization:" (also Go's map[Authorization:[…]]
//     and JSON "Authorization": ["…"]), as Authorization does;
//   - every URL (scheme://…, also JSON-escaped), as URLString does;
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
	s = scrubAuthorizationValues(s)
	s = scrubURLs(s)
	s = scrubFormFields(s)
	s = stripJWTs(s)
	s = scrubSchemeCredentials(s)
	s = scrubKnownTokens(s)
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

// jsonSecretKeys are the JSON object keys whose values are secrets (compared
// case-insensitively): the OAuth2 and Docker token responses (RFC 6749 §5.1,
// distribution's token spec), Docker's AuthConfig and config.json
// (identitytoken, registrytoken, auth = base64 user:password) and credential
// helper output (Secret).
var jsonSecretKeys = []string{
	"token", "access_token", "refresh_token", "id_token", "identity_token",
	"identitytoken", "registrytoken", "password", "secret", "client_secret", "auth",
}

func isJSONSecretKey(k string) bool {
	for _, s := range jsonSecretKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// jsonFieldRE finds a JSON token field up to its value, at any level of
// JSON-escaping (the leading backslashes are the level).
var jsonFieldRE = regexp.MustCompile(`(?i)(\\*)"(?:` + strings.Join(jsonSecretKeys, "|") + `)\\*"[ \t\r\n]*:[ \t\r\n]*`)

// scrubJSONFields redacts the values of JSON token fields found textually, for
// JSON that does not parse (a body cut at the capture limit) and JSON quoted
// in messages.
func scrubJSONFields(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for pos < len(s) {
		m := jsonFieldRE.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		start, end, repl, found, changed := jsonFieldValue(s, pos+m[1], m[3]-m[2])
		switch {
		case !found:
			pos += m[1]
		case !changed:
			pos = max(end, pos+m[1])
		default:
			b.WriteString(s[last:start])
			b.WriteString(repl)
			last, pos = end, max(end, pos+m[1])
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// jsonFieldValue finds the value that starts at s[i] of a field whose key was
// escaped level times, and its replacement. A string is read to its closing
// quote, or to the end of the line or of s when cut short; a number or a bare
// word becomes a string marker; objects and arrays are left to the scan,
// which will find any token fields inside them.
func jsonFieldValue(s string, i, level int) (start, end int, repl string, found, changed bool) {
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
			r := secretString(v)
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
		r := secretString(raw)
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
	return i, e, quote + Opaque(lit) + quote, true, true
}

// authorizationRE finds an Authorization value in text: a header line
// ("Authorization: Bearer …"), Go's printing of an http.Header
// ("map[Authorization:[Bearer …]]") and its JSON ("Authorization":["…"]),
// escaped or not.
var authorizationRE = regexp.MustCompile(`(?i)authorization\\*"?[ \t]*[:=][ \t]*\[?[ \t]*\\*"?[ \t]*`)

func scrubAuthorizationValues(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for pos < len(s) {
		m := authorizationRE.FindStringIndex(s[pos:])
		if m == nil {
			break
		}
		start := pos + m[1]
		end := start
		for end < len(s) && strings.IndexByte("\"\\]\r\n", s[end]) < 0 {
			end++
		}
		v := strings.TrimRight(s[start:end], " \t")
		end = start + len(v)
		if r := Authorization(v); r != v {
			b.WriteString(s[last:start])
			b.WriteString(r)
			last = end
		}
		pos = max(end, pos+m[1])
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubURLs applies scrubURL to every URL in s. A URL starts with its scheme
// and ends at whitespace, a quote or an angle bracket; trailing punctuation
// that belongs to the sentence is left outside.
func scrubURLs(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for {
		i, n := nextSchemeSeparator(s, pos)
		if i < 0 {
			break
		}
		start := i
		for start > last && isSchemeByte(s[start-1]) {
			start--
		}
		end := i + n
		for end < len(s) && !isURLStop(s[end]) {
			end++
		}
		end = max(start+len(trimURLTail(s[start:end])), i+n)
		b.WriteString(s[last:start])
		b.WriteString(scrubURL(s[start:end]))
		last, pos = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// nextSchemeSeparator returns the index and length of the first "://" or
// JSON-escaped ":\/\/" at or after pos, or -1.
func nextSchemeSeparator(s string, pos int) (int, int) {
	i := strings.Index(s[pos:], "://")
	j := strings.Index(s[pos:], `:\/\/`)
	switch {
	case i < 0 && j < 0:
		return -1, 0
	case j < 0 || i >= 0 && i < j:
		return pos + i, 3
	default:
		return pos + j, 5
	}
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
// RFC 7523 client_assertion). The first group are guessable or single-use and
// become Mark; the rest are tokens and keep a JWT's claims or an Opaque hash.
var (
	formMarkKeys  = []string{"password", "passwd", "client_secret", "code", "code_verifier", "secret"}
	formTokenKeys = []string{"refresh_token", "access_token", "id_token", "identity_token", "token", "client_assertion"}
)

func formKeyKind(key string) (secret, mark bool) {
	for _, k := range formMarkKeys {
		if strings.EqualFold(key, k) {
			return true, true
		}
	}
	for _, k := range formTokenKeys {
		if strings.EqualFold(key, k) {
			return true, false
		}
	}
	return false, false
}

// formSecretValue redacts the raw (%-encoded) value of a form field.
func formSecretValue(key, raw string) string {
	secret, mark := formKeyKind(key)
	if !secret || raw == "" {
		return raw
	}
	v, err := url.QueryUnescape(raw)
	if err != nil {
		v = raw
	}
	if isMarked(v) {
		return raw
	}
	if j, ok := JWT(v); ok && j == v {
		return raw
	}
	if mark {
		return Mark
	}
	return secretString(v)
}

var formFieldRE = regexp.MustCompile(`(?i)(?:` + strings.Join(append(append([]string{}, formMarkKeys...), formTokenKeys...), "|") + `)=`)

// scrubFormFields redacts key=value secrets in text: a form body with the
// wrong content type, a form quoted in a log. The key must start the text or
// follow a separator; "code" only after '?', '&' or ';', so that "exit
// code=1" stays.
func scrubFormFields(s string) string {
	var b strings.Builder
	pos, last := 0, 0
	for pos < len(s) {
		m := formFieldRE.FindStringIndex(s[pos:])
		if m == nil {
			break
		}
		i, j := pos+m[0], pos+m[1]
		key := s[i : j-1]
		if i > 0 && !(strings.IndexByte("?&;", s[i-1]) >= 0 ||
			!strings.EqualFold(key, "code") && strings.IndexByte(" \t\r\n,\"'([{", s[i-1]) >= 0) {
			pos = i + 1
			continue
		}
		end := j
		for end < len(s) && strings.IndexByte("&; \t\r\n\"'<>`\\", s[end]) < 0 {
			end++
		}
		if r := formSecretValue(key, s[j:end]); r != s[j:end] {
			b.WriteString(s[last:j])
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

// schemeRE finds Basic and Bearer credentials in text.
var schemeRE = regexp.MustCompile(`(?i)(basic|bearer)[ \t]+`)

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
	for pos < len(s) {
		m := schemeRE.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		p := pos + m[1]
		basic := strings.EqualFold(s[pos+m[2]:pos+m[3]], "basic")
		pos = p
		if basic {
			if n := basicMarkedPrefix(s[p:]); n > 0 {
				pos = p + n
				continue
			}
			e := p
			for e < len(s) && isBase64Byte(s[e]) {
				e++
			}
			user, ok := decodeBasic(s[p:e])
			if !ok || !isPrintable(user) {
				continue
			}
			b.WriteString(s[last:p])
			b.WriteString(basicMark(user))
			last, pos = e, e
			continue
		}
		if n := markedPrefix(s[p:]); n > 0 {
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

func scrubKnownTokens(s string) string {
	return knownTokenRE.ReplaceAllStringFunc(s, Opaque)
}
