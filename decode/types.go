package decode

import (
	"fmt"
	"time"
)

// ParseError is returned by the parsers of wire input. It names the field
// being parsed, quotes the input (truncated) and says what was wrong where.
type ParseError struct {
	// Field is what was being parsed: "WWW-Authenticate", "scope", "JWT",
	// "token response", "registry error body", …
	Field string
	// Input is the offending input, at most 120 bytes; parsers never put a
	// whole token or secret here.
	Input string
	// Offset is the byte offset of the problem in the input, or -1.
	Offset int
	Err    error
}

func (e *ParseError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s %q: at byte %d: %v", e.Field, e.Input, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s %q: %v", e.Field, e.Input, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

var _ error = (*ParseError)(nil)

// clip bounds an input quoted in a ParseError.
func clip(s string) string {
	const max = 120
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110 §11.6.1,
// formerly RFC 7235 §4.1).
type Challenge struct {
	// Scheme as sent ("Bearer", "Basic", …); compare with strings.EqualFold.
	Scheme string
	// Params holds auth-params with lower-cased names and unquoted values.
	// A repeated parameter keeps its first value (and adds an Issue).
	Params map[string]string
	// Token68 is set for challenges of the form `Scheme token68`.
	Token68 string
}

// Scope is a token-auth resource scope (distribution docs/spec/auth/scope.md):
//
//	scope        := resourcetype ":" resourcename ":" action [ "," action ]*
//	resourcetype := resourcetypevalue [ "(" resourcetypevalue ")" ]
//	resourcename := [ hostname "/" ] component [ "/" component ]*
//
// A name may contain "host:port", so a scope is split from both ends. The
// same type describes the "access" entries of a token's claims.
type Scope struct {
	Type    string // "repository", "registry", …
	Class   string // the optional "(class)" of the type, e.g. "plugin"
	Name    string // "library/nginx", "catalog"
	Actions []string
}

// Credentials describe the Authorization header a request carried — never
// the secret itself.
type Credentials struct {
	// Scheme as sent ("Basic", "Bearer", …); empty when no Authorization.
	Scheme string
	// User is the Basic user name, when it could be read (also from a
	// redacted value "Basic REDACTED(user=alice)").
	User string
	// Empty is true for Basic credentials with an empty user and password
	// ("Og==", which containers/image sends on a Basic challenge without
	// credentials).
	Empty bool
	// TokenID identifies a Bearer token without revealing it (see TokenID).
	TokenID string
	// Malformed is true for Basic credentials that are not base64 of
	// "user:password", or that have a password but no user name.
	Malformed bool
	// Redacted is true when the value had already been redacted (an
	// offline HAR), so the secret itself cannot be checked.
	Redacted bool
}

// Token is a decoded access token. JWT signatures are NOT verified: regtrace
// reads what a token claims, it does not vouch for it.
type Token struct {
	// ID identifies the token across flows without revealing it: for a JWT
	// its header and claims segments, otherwise "len=N,sha256:xxxxxxxx" of
	// the token (the form decode/redact writes as REDACTED(len=…)).
	ID string
	// JWT is true when the token parsed as a JWS compact JWT.
	JWT    bool
	Header *JWTHeader // nil for opaque tokens
	Claims *Claims    // nil for opaque tokens
}

// JWTHeader is the part of a JOSE header that explains a rejected token.
type JWTHeader struct {
	Alg string
	Kid string
	Typ string
	// X5C is true when the header carries a certificate chain.
	X5C bool
}

// Claims are the registered claims of a registry token plus its "access".
// A claim of the wrong JSON type is never read silently as absent: it is an
// Issue, and for "access" AccessMalformed says what the token grants cannot
// be told.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time // zero when absent or unreadable (then an Issue)
	NotBefore time.Time
	IssuedAt  time.Time
	JTI       string
	// Access is what the token grants (distribution token spec "access": an
	// array of {"type","class","name","actions":[…]} objects). When
	// AccessMalformed it holds only the entries that could be read, for
	// display: it is not what the token grants.
	Access []Scope
	// HasAccess is true when the access claim is present and well formed:
	// Access is then everything the token grants, and an empty list (or
	// null) means "granted nothing". It is false when the claim is absent,
	// and when it is malformed.
	HasAccess bool
	// AccessMalformed is true when the access claim is present but not of
	// the spec's shape: not an array, an entry that is not an object, an
	// entry's type, class or name not a string, actions not an array of
	// strings. A registry that decodes the claim strictly (distribution)
	// refuses such a token, and regtrace cannot tell what it grants; not the
	// same as absent (!HasAccess alone) or empty (HasAccess, no Access).
	AccessMalformed bool
	// Issues name each claim of the wrong JSON type or with an unreadable
	// value (Where "JWT claims"): `claim "exp" is a JSON string …`.
	Issues []Issue
}

// TokenRequest is a request to a token server (GET per the distribution
// token spec, or an OAuth2 POST per its oauth spec).
type TokenRequest struct {
	Method  string // GET or POST
	Service string
	// Scopes requested: repeated scope= (GET) or one space-separated scope
	// (POST), parsed. Unparsable ones are in Issues.
	Scopes       []Scope
	Account      string
	ClientID     string
	OfflineToken bool // GET offline_token=true
	// POST form fields.
	GrantType  string // "password", "refresh_token", …
	AccessType string // "offline"
	Username   string
	// HasPassword and HasRefreshToken say whether the form carried them;
	// their values are never kept.
	HasPassword     bool
	HasRefreshToken bool
	// Auth is the Authorization the request carried.
	Auth Credentials
}

// TokenResponse is a token server's answer.
type TokenResponse struct {
	// Token and AccessToken are the decoded "token" and "access_token"
	// fields, nil when absent.
	Token       *Token
	AccessToken *Token
	// Differ is true when both are present and not the same token: "the
	// client's choice is undefined" (token spec), and clients do differ.
	Differ bool
	// ExpiresIn in seconds as sent; 0 when absent (the spec's default is 60).
	ExpiresIn int
	IssuedAt  time.Time
	// HasRefreshToken says whether a refresh_token came back (value not kept).
	HasRefreshToken bool
}

// RegistryError is one entry of an OCI/distribution error body:
// {"errors":[{"code":…,"message":…,"detail":…}]}.
type RegistryError struct {
	Code    string
	Message string
	// Detail is the detail member as compact JSON text, if any.
	Detail string
}

// ErrorBody is what a non-2xx response body said, whatever its shape.
type ErrorBody struct {
	// Format: "errors" (OCI), "details" (legacy {"details":…}), "json"
	// (other JSON), "html", "xml" (e.g. S3 <Error>), "text", "empty".
	Format string
	Errors []RegistryError
	// Text is a short plain-text summary for non-OCI bodies (an HTML title,
	// an S3 <Code>/<Message>, the first line of text), at most 200 bytes.
	Text string
	// Truncated is true when the body was only partly captured.
	Truncated bool
}

// RateLimit is what a response said about rate limits.
type RateLimit struct {
	// Limit and Remaining as sent ("100;w=21600"), with the numbers parsed.
	Limit, Remaining   string
	LimitN, RemainingN int // -1 when absent or unparsable
	WindowSeconds      int // Limit's ";w=", else Remaining's; 0 when neither has one
	Source             string
	RetryAfter         time.Duration // 0 when absent
	RetryAfterRaw      string
}

// Issue is something malformed or suspicious in what a registry or client
// sent. It is data for explain to cite, not a Go error.
type Issue struct {
	// Where names the header, field or body: "WWW-Authenticate", "scope", …
	Where string
	// What says what is wrong, in words.
	What string
	// Raw is the offending value (redaction-safe: never a secret), clipped.
	Raw string
}
