package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Mark replaces a secret whose length and identity are of no use (passwords,
// signatures, query values).
const Mark = "REDACTED"

// The markers this package writes, matched at the start of a string: Mark
// alone or Opaque's REDACTED(len=N,sha256:8hex) for tokens, and the Basic
// credentials marker REDACTED(user=NAME), NAME escaped by escapeUser. The
// Basic form is recognised only after "Basic ": anywhere else a value shaped
// like it could hide a secret in NAME.
var (
	tokenMarkRE = regexp.MustCompile(`^REDACTED(?:\(len=[0-9]+,sha256:[0-9a-f]{8}\))?`)
	basicMarkRE = regexp.MustCompile(`^REDACTED(?:\(user=[A-Za-z0-9._@+~%-]*\))?`)
)

// markedPrefix returns the length of the token marker s starts with, 0 if
// none.
func markedPrefix(s string) int {
	if !strings.HasPrefix(s, Mark) {
		return 0
	}
	return len(tokenMarkRE.FindString(s))
}

// basicMarkedPrefix is markedPrefix for Basic credentials.
func basicMarkedPrefix(s string) int {
	if !strings.HasPrefix(s, Mark) {
		return 0
	}
	return len(basicMarkRE.FindString(s))
}

// isMarked reports whether s is exactly a token marker.
func isMarked(s string) bool {
	return s != "" && markedPrefix(s) == len(s)
}

// Opaque replaces a high-entropy secret by its length and the first 8 hex
// digits of its sha256: "REDACTED(len=40,sha256:1f2e3d4c)". Two flows that
// carry the same token show the same marker, so "the client sent the token it
// was just given" stays provable. 32 bits of a hash say nothing useful about
// a token; do not use Opaque for passwords, which can be guessed (use Mark).
//
// The empty string and a marker are returned unchanged.
func Opaque(secret string) string {
	if secret == "" || isMarked(secret) {
		return secret
	}
	sum := sha256.Sum256([]byte(secret))
	return "REDACTED(len=" + strconv.Itoa(len(secret)) + ",sha256:" + hex.EncodeToString(sum[:4]) + ")"
}

// JWT strips the signature from a compact JWS (RFC 7515 §7.1):
// "header.claims.signature" becomes "header.claims.REDACTED", true. The header
// and claims stay readable because explain needs them (scopes, audience,
// expiry) and, without the signature, they prove nothing to a server. The
// token is recognised only when it has exactly three parts and the first two
// are base64url-encoded JSON objects; anything else is returned unchanged with
// false. JWT does not verify signatures.
//
// An unsigned token ("header.claims.", alg none) has nothing to strip and is
// returned unchanged with true.
func JWT(token string) (string, bool) {
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return token, false
	}
	c, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") || !isJSONObjectPart(h) || !isJSONObjectPart(c) {
		return token, false
	}
	if sig == "" {
		return token, true
	}
	return h + "." + c + "." + Mark, true
}

// isJSONObjectPart reports whether part is base64url (padding tolerated) of a
// JSON object.
func isJSONObjectPart(part string) bool {
	part = strings.TrimRight(part, "=")
	// Go's decoder skips \r and \n, which no JWS segment holds (RFC 7515
	// §2); decode's TokenID applies the same test.
	if part == "" || strings.ContainsAny(part, "\r\n") {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return false
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// secretString redacts a token-like value: a JWT loses its signature,
// anything else becomes Opaque. Empty values and markers are kept.
func secretString(v string) string {
	if v == "" || isMarked(v) {
		return v
	}
	if j, ok := JWT(v); ok {
		return j
	}
	return Opaque(v)
}

// secrecy says how a secret is replaced.
type secrecy uint8

const (
	public secrecy = iota
	// tokenSecret is high-entropy: a JWT keeps its claims, anything else
	// becomes Opaque, so that the same token can be followed across flows.
	tokenSecret
	// passwordSecret may be guessable (a password, a client secret,
	// base64 user:password): it becomes Mark, never a hash, because 32 bits
	// of sha256 are enough to test a dictionary against.
	passwordSecret
)

// redact replaces v according to k; empty values and markers are kept.
func (k secrecy) redact(v string) string {
	switch {
	case k == tokenSecret:
		return secretString(v)
	case k == passwordSecret && v != "" && !isMarked(v):
		return Mark
	}
	return v
}
