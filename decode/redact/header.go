package redact

import (
	"net/http"
	"strings"
	"time"
)

// neverRedact are the headers kept exactly as sent: they carry no secret and
// they are the evidence explain works from. WWW-Authenticate and
// Proxy-Authenticate especially: realm, service, scope and error are what a
// support engineer needs, and a challenge is not a credential.
var neverRedact = map[string]bool{
	"www-authenticate":                true,
	"proxy-authenticate":              true,
	"docker-distribution-api-version": true,
	"docker-content-digest":           true,
	"docker-ratelimit-source":         true,
	"retry-after":                     true,
	"content-type":                    true,
	"content-length":                  true,
}

// opaqueHeaders carry a credential in their whole value.
var opaqueHeaders = map[string]bool{
	"x-api-key":                                 true,
	"x-auth-token":                              true,
	"x-amz-security-token":                      true,
	"x-registry-auth":                           true, // Docker Engine API: base64 JSON AuthConfig
	"x-registry-config":                         true,
	"x-registry-token":                          true,
	"x-csrf-token":                              true,
	"x-xsrf-token":                              true,
	"x-goog-iam-authorization-token":            true,
	"x-docker-token":                            true, // registry v1: signature=…,repository=…
	"x-harbor-csrf-token":                       true,
	"x-amz-server-side-encryption-customer-key": true,
}

// secretNameParts: a header whose name contains one of these is taken to
// carry a credential, unless it is known to be safe.
var secretNameParts = []string{"token", "secret", "password", "passwd", "api-key", "apikey", "api_key", "session"}

// safeSecretNames are headers whose names contain a secretNameParts word but
// whose values are not secret, and are evidence.
var safeSecretNames = map[string]bool{
	"x-github-authentication-token-expiration": true, // GitHub: when the PAT expires
}

// safeSecretSuffixes: a name ending in one of these carries a date or a
// duration about a credential, not the credential.
var safeSecretSuffixes = []string{"-expiration", "-expires", "-expires-at", "-expires-in", "-expiry"}

// isOpaqueHeader reports whether the value of header name (lower case) is a
// credential as a whole.
func isOpaqueHeader(name string) bool {
	if opaqueHeaders[name] {
		return true
	}
	if safeSecretNames[name] {
		return false
	}
	for _, s := range safeSecretSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	for _, p := range secretNameParts {
		if strings.Contains(name, p) {
			return true
		}
	}
	return false
}

// Header redacts one value of the header name (any case, HTTP/2 pseudo-headers
// included):
//
//   - never: WWW-Authenticate, Proxy-Authenticate, Docker-Distribution-Api-Version,
//     Docker-Content-Digest, RateLimit-*, Docker-RateLimit-Source,
//     Retry-After, Content-Type, Content-Length;
//   - Authorization, Proxy-Authorization: Authorization;
//   - Cookie: names kept, values REDACTED; Set-Cookie: name and attributes
//     kept, value REDACTED;
//   - Location, Content-Location, Referer, :path: URLString; Link: each
//     <URL> through URLString;
//   - credential headers (X-Api-Key, X-Auth-Token, X-Registry-Auth, …, any
//     name containing token, secret, password, api-key, apikey or session):
//     the whole value as a token (JWT claims kept, else Opaque);
//   - any other header: Text, which catches URLs, JWTs and credentials
//     inside values nobody expected to carry them.
func Header(name, value string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case neverRedact[n] || strings.HasPrefix(n, "ratelimit-"):
		return value
	case n == "authorization" || n == "proxy-authorization":
		return Authorization(value)
	case n == "cookie":
		return cookie(value)
	case n == "set-cookie" || n == "set-cookie2":
		return setCookie(value)
	case n == "location" || n == "content-location" || n == "referer" || n == ":path":
		return URLString(value)
	case n == "link":
		return link(value)
	case isOpaqueHeader(n):
		if strings.Contains(n, "password") || strings.Contains(n, "passwd") {
			return passwordSecret.redact(value)
		}
		return tokenSecret.redact(value)
	}
	return Text(value)
}

// Headers returns a redacted deep copy of h; nil gives nil. Keys are kept as
// they are (HTTP/2 and HAR headers may not be canonical).
func Headers(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	c := make(http.Header, len(h))
	for k, vs := range h {
		if vs == nil {
			c[k] = nil
			continue
		}
		rs := make([]string, len(vs))
		for i, v := range vs {
			rs[i] = Header(k, v)
		}
		c[k] = rs
	}
	return c
}

// cookie redacts a Cookie header (RFC 6265 §4.2: name=value pairs joined by
// "; "): names kept, values REDACTED. A pair without '=' is a value.
func cookie(v string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		t := strings.TrimSpace(p)
		if t == "" {
			continue
		}
		lead := p[:strings.Index(p, t)]
		name, val, ok := strings.Cut(t, "=")
		switch {
		case !ok:
			parts[i] = lead + Mark
		case val == "":
			parts[i] = lead + t
		default:
			parts[i] = lead + name + "=" + Mark
		}
	}
	return strings.Join(parts, ";")
}

// setCookie redacts a Set-Cookie header (RFC 6265 §4.1): the cookie's name and
// its attributes are kept, its value is REDACTED. An attribute value is kept
// only when it has the shape of its attribute, because HAR tools join repeated
// headers with ", " and the next cookie's value would otherwise hide in a Path
// or an Expires. Unknown attributes keep their names only.
func setCookie(v string) string {
	parts := strings.Split(v, ";")
	for i, p := range parts {
		t := strings.TrimSpace(p)
		if t == "" {
			continue
		}
		lead := p[:strings.Index(p, t)]
		name, val, ok := strings.Cut(t, "=")
		switch {
		case i == 0 && !ok:
			parts[i] = lead + Mark
		case i == 0 && val == "":
			parts[i] = lead + t
		case i == 0:
			parts[i] = lead + name + "=" + Mark
		case !ok:
			switch strings.ToLower(t) {
			case "secure", "httponly", "partitioned":
			default:
				parts[i] = lead + Mark
			}
		case !cookieAttributeOK(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)):
			parts[i] = lead + name + "=" + Mark
		}
	}
	return strings.Join(parts, ";")
}

func cookieAttributeOK(name, val string) bool {
	switch name {
	case "path":
		return val != "" && !strings.ContainsAny(val, " \t,=") && isPrintable(val)
	case "domain":
		return allBytes(val, func(c byte) bool { return isAlnum(c) || strings.IndexByte(".-:[]", c) >= 0 })
	case "max-age":
		return allBytes(val, func(c byte) bool { return '0' <= c && c <= '9' || c == '-' })
	case "samesite", "priority":
		return allBytes(val, func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' })
	case "expires":
		return isCookieDate(val)
	}
	return false
}

// isCookieDate reports whether v is a date in one of the formats servers use
// in Expires (RFC 1123, RFC 850, ANSI C, and the Netscape 02-Jan-2006 form).
func isCookieDate(v string) bool {
	if _, err := http.ParseTime(v); err == nil {
		return true
	}
	for _, layout := range []string{"Mon, 02-Jan-2006 15:04:05 MST", "Mon, 02-Jan-06 15:04:05 MST"} {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}

func allBytes(s string, ok func(byte) bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// link redacts a Link header (RFC 8288: <URI-reference>; params, …):
// distribution paginates with Link: </v2/_catalog?last=x&n=100>; rel="next".
func link(v string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i+1:], '>')
		if j < 0 {
			break
		}
		b.WriteString(Text(v[:i]))
		b.WriteByte('<')
		b.WriteString(URLString(v[i+1 : i+1+j]))
		b.WriteByte('>')
		v = v[i+1+j+1:]
	}
	b.WriteString(Text(v))
	return b.String()
}
