package redact

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Authorization redacts the value of an Authorization or Proxy-Authorization
// header (RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 /
// #auth-param ) ]). The scheme is always kept, as written:
//
//	Basic dXNlcjpwYXNz        -> Basic REDACTED(user=user)
//	Basic !!!                 -> Basic REDACTED              (not user:password)
//	Bearer <header.claims.sig> -> Bearer <header.claims>.REDACTED
//	Bearer ghp_…              -> Bearer REDACTED(len=40,sha256:1f2e3d4c)
//	token ghp_…, AWS4-HMAC-SHA256 Credential=… -> <scheme> REDACTED
//
// The user name is shown with bytes outside [A-Za-z0-9._@+~-] %-escaped. A
// value that is a single word is either a scheme without credentials (kept)
// or credentials without a scheme (redacted like a bearer token).
func Authorization(value string) string {
	v := strings.Trim(value, " \t")
	if v == "" {
		return value
	}
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		if isBareScheme(v) {
			return v
		}
		return secretString(v)
	}
	scheme, cred := v[:i], strings.TrimLeft(v[i:], " \t")
	switch strings.ToLower(scheme) {
	case "basic":
		return scheme + " " + basicCredentials(cred)
	case "bearer":
		return scheme + " " + secretString(cred)
	default:
		return scheme + " " + Mark
	}
}

// isBareScheme reports whether a one-word Authorization value is a scheme
// name sent without credentials (a client bug worth seeing).
func isBareScheme(v string) bool {
	switch strings.ToLower(v) {
	case "basic", "bearer", "digest", "negotiate", "ntlm", "token", "aws4-hmac-sha256":
		return true
	}
	return false
}

// basicCredentials redacts the token68 of a Basic Authorization (RFC 7617:
// base64 of user-id ":" password), keeping the user name.
func basicCredentials(cred string) string {
	if n := basicMarkedPrefix(cred); n > 0 && n == len(cred) {
		return cred
	}
	if cred == "Og==" || cred == "Og" {
		// ":" — no user, no password (what containers/image sends on a
		// Basic challenge without credentials). It hides nothing and is
		// evidence, so it stays.
		return cred
	}
	user, ok := decodeBasic(cred)
	if !ok {
		return Mark
	}
	return basicMark(user)
}

// BasicOf is the redacted Authorization value of Basic credentials of user
// whose secret is not known ("" when the user is not known either): what a
// log's reader puts back for credentials the client sent but did not log.
func BasicOf(user string) string { return "Basic " + basicMark(user) }

// basicMark is the marker for Basic credentials of user.
func basicMark(user string) string {
	return "REDACTED(user=" + escapeUser(user) + ")"
}

// decodeBasic returns the user-id of Basic credentials. It accepts the
// standard and URL-safe alphabets, with or without padding, and a token cut
// short (a truncated log line still carries most of the password).
func decodeBasic(cred string) (string, bool) {
	s := strings.TrimRight(cred, "=")
	if len(s)%4 == 1 {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "", false
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return "", false
		}
	}
	user, _, ok := strings.Cut(string(b), ":")
	return user, ok
}

// escapeUser %-escapes every byte of a user name outside [A-Za-z0-9._@+~-],
// so the Basic marker is one word with no quotes, spaces or parentheses.
func escapeUser(u string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._@+~-", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// isPrintable reports whether s is valid UTF-8 without control characters.
func isPrintable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
