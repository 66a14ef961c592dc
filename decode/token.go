package decode

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// redactMark is the marker decode/redact writes for a secret it does not
// identify; redactOpaqueRE matches its Opaque form, REDACTED(len=N,sha256:8hex).
// decode does not import decode/redact: these mirror its output format.
const redactMark = "REDACTED"

var redactOpaqueRE = regexp.MustCompile(`^REDACTED\((len=[0-9]+,sha256:[0-9a-f]{8})\)$`)

// TokenID identifies a token without revealing it, so that the same token can
// be followed across flows, live or redacted:
//
//   - a JWT (three dot-separated segments whose first two are base64url JSON
//     objects) is identified by "header.claims", its first two segments; a
//     JWT redacted as "header.claims.REDACTED" has the same ID;
//   - an opaque token redacted as "REDACTED(len=N,sha256:xxxxxxxx)" has the
//     ID "len=N,sha256:xxxxxxxx";
//   - any other token has the ID "len=N,sha256:" followed by the first 8 hex
//     digits of its sha256, exactly what decode/redact writes inside
//     REDACTED(…), so a live token and its redacted copy match.
//
// The empty string and the bare marker "REDACTED" (a secret redacted without
// an identity) have the ID "": nothing can be said about them.
func TokenID(token string) string {
	if token == "" || token == redactMark {
		return ""
	}
	if m := redactOpaqueRE.FindStringSubmatch(token); m != nil {
		return m[1]
	}
	if h, c, _, ok := jwtSegments(token); ok {
		if _, err := jsonObjectSegment(h); err == nil {
			if _, err := jsonObjectSegment(c); err == nil {
				return h + "." + c
			}
		}
	}
	sum := sha256.Sum256([]byte(token))
	return "len=" + strconv.Itoa(len(token)) + ",sha256:" + hex.EncodeToString(sum[:4])
}

// isRedactedToken reports whether token is one of decode/redact's forms of a
// token: REDACTED, REDACTED(len=…) or a JWT whose signature is REDACTED.
func isRedactedToken(token string) bool {
	if token == redactMark || redactOpaqueRE.MatchString(token) {
		return true
	}
	_, _, sig, ok := jwtSegments(token)
	return ok && sig == redactMark && !strings.HasPrefix(TokenID(token), "len=")
}

// jwtSegments splits a compact JWS into exactly three segments.
func jwtSegments(token string) (header, claims, sig string, ok bool) {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", "", false
	}
	claims, sig, ok = strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return "", "", "", false
	}
	return header, claims, sig, true
}

// decodeSegment decodes base64url with or without padding, as token servers
// in the wild send both.
func decodeSegment(seg string) ([]byte, error) {
	seg = strings.TrimRight(seg, "=")
	// Go's decoder skips \r and \n; a JWS segment has neither (RFC 7515
	// §2: base64url without line breaks), and decode/redact agrees.
	if i := strings.IndexAny(seg, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("line break at byte %d", i)
	}
	return base64.RawURLEncoding.DecodeString(seg)
}

// errNotObject says a JWT segment decoded to JSON that is not an object.
var errNotObject = errors.New("not a JSON object")

// jsonObjectSegment decodes a JWT segment that must be a JSON object (the
// same test decode/redact applies before it keeps a JWT's claims).
func jsonObjectSegment(seg string) ([]byte, error) {
	if strings.TrimRight(seg, "=") == "" {
		return nil, errors.New("empty segment")
	}
	b, err := decodeSegment(seg)
	if err != nil {
		return nil, fmt.Errorf("base64url: %w", err)
	}
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return nil, errNotObject
	}
	if !json.Valid(t) {
		var v any
		if err := json.Unmarshal(t, &v); err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		return nil, errNotObject
	}
	return b, nil
}

// looksLikeJWT reports whether token has three segments and a header that
// starts like a base64url JSON object, so that a failure to decode it is worth
// reporting (a random opaque token with two dots is not).
func looksLikeJWT(token string) (header, claims string, ok bool) {
	h, c, _, ok := jwtSegments(token)
	if !ok || h == "" {
		return "", "", false
	}
	b, err := decodeSegment(h)
	if err != nil && len(h) >= 4 {
		b, err = decodeSegment(h[:4])
	}
	if err != nil {
		return "", "", false
	}
	b = bytes.TrimLeft(b, " \t\r\n")
	return h, c, len(b) > 0 && b[0] == '{'
}

// ParseToken decodes an access token.
//
// JWT header and claims are read with jwt.Parser.ParseUnverified: signatures
// are NOT verified, and cannot be, since regtrace holds no keys. The result
// says what the token claims, not that the claims are true. A JWT whose
// signature was redacted ("header.claims.REDACTED") decodes the same as the
// live token.
//
// Opaque tokens (GHCR, ECR, random strings, redacted REDACTED(len=…) forms)
// are normal: they decode as a Token with only ID set and a nil error. The
// error is non-nil only for a token that looks like a JWT but whose header or
// claims segment is corrupt: the Token is then returned as opaque, together
// with a *ParseError whose Field is "JWT".
func ParseToken(token string) (*Token, error) {
	tok := &Token{ID: TokenID(token)}
	h, c, ok := looksLikeJWT(token)
	if !ok {
		return tok, nil
	}
	fail := func(off int, err error) (*Token, error) {
		input := "REDACTED(" + tok.ID + ")"
		if hb, herr := jsonObjectSegment(h); herr == nil {
			input = "header " + compactJSON(hb)
		}
		return tok, &ParseError{Field: "JWT", Input: clip(input), Offset: off, Err: err}
	}
	segOffset := func(base int, err error) int {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return base + int(ce)
		}
		return base
	}
	if _, err := jsonObjectSegment(h); err != nil {
		return fail(segOffset(0, err), fmt.Errorf("header segment: %w", err))
	}
	if _, err := jsonObjectSegment(c); err != nil {
		return fail(segOffset(len(h)+1, err), fmt.Errorf("claims segment: %w", err))
	}
	// The signature is not needed to read a token, and a redacted one
	// would not decode: leave it out. Padding goes too: TokenID and
	// decode/redact read segments without it, and so must this (a badly
	// padded segment was a FuzzParseToken finding).
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser(jwt.WithJSONNumber(), jwt.WithPaddingAllowed()).
		ParseUnverified(strings.TrimRight(h, "=")+"."+strings.TrimRight(c, "=")+".", claims)
	// ErrTokenUnverifiable (unknown or missing alg) comes after the header
	// and claims were read: the token still decodes.
	if err != nil && (parsed == nil || errors.Is(err, jwt.ErrTokenMalformed)) {
		return fail(-1, err)
	}
	tok.JWT = true
	tok.Header = jwtHeader(parsed.Header)
	tok.Claims = jwtClaims(claims)
	return tok, nil
}

func jwtHeader(m map[string]any) *JWTHeader {
	h := &JWTHeader{}
	h.Alg, _ = m["alg"].(string)
	h.Kid, _ = m["kid"].(string)
	h.Typ, _ = m["typ"].(string)
	h.X5C = m["x5c"] != nil
	return h
}

// claimsWhere is the Where of the Issues about a token's claims.
const claimsWhere = "JWT claims"

func jwtClaims(m jwt.MapClaims) *Claims {
	c := &Claims{}
	bad := func(what string, raw any) {
		c.Issues = append(c.Issues, Issue{Where: claimsWhere, What: what, Raw: clip(claimJSON(raw))})
	}
	// iss, sub and jti are StringOrURI or strings (RFC 7519 §4.1.1, §4.1.2,
	// §4.1.7).
	for _, f := range []struct {
		name string
		dst  *string
	}{{"iss", &c.Issuer}, {"sub", &c.Subject}, {"jti", &c.JTI}} {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		if s, isStr := v.(string); isStr {
			*f.dst = s
		} else {
			bad(fmt.Sprintf("claim %q is %s, not a string (RFC 7519 §4.1)", f.name, jsonKind(v)), v)
		}
	}
	// aud: "an array of case-sensitive strings … In the special case when
	// the JWT has one audience, the aud value MAY be a single
	// case-sensitive string" (RFC 7519 §4.1.3).
	switch aud := m["aud"].(type) {
	case nil:
		if _, ok := m["aud"]; ok {
			bad(`claim "aud" is null, not a string or an array of strings (RFC 7519 §4.1.3)`, aud)
		}
	case string:
		if aud != "" {
			c.Audience = []string{aud}
		}
	case []any:
		for i, a := range aud {
			if s, ok := a.(string); ok {
				c.Audience = append(c.Audience, s)
			} else {
				bad(fmt.Sprintf(`claim "aud" entry %d is %s, not a string (RFC 7519 §4.1.3)`, i, jsonKind(a)), aud)
			}
		}
	default:
		bad(fmt.Sprintf(`claim "aud" is %s, not a string or an array of strings (RFC 7519 §4.1.3)`, jsonKind(aud)), aud)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"exp", &c.ExpiresAt}, {"nbf", &c.NotBefore}, {"iat", &c.IssuedAt}} {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		var problem string
		*f.dst, problem = claimTime(v)
		if problem != "" {
			bad(fmt.Sprintf("claim %q %s", f.name, problem), v)
		}
	}
	access, has := m["access"]
	if !has {
		return c
	}
	malformed := func(what string, raw any) {
		c.AccessMalformed = true
		bad(`claim "access" `+what+`: what the token grants cannot be told`, raw)
	}
	switch list := access.(type) {
	case nil:
		// null decodes as an empty list in the registries' Go structs.
	case []any:
		for i, e := range list {
			sc, problem := accessEntry(e)
			if problem != "" {
				malformed(fmt.Sprintf("entry %d %s", i, problem), e)
			}
			if sc != nil {
				c.Access = append(c.Access, *sc)
			}
		}
	default:
		malformed(fmt.Sprintf("is %s, not an array (docker token spec)", jsonKind(access)), access)
	}
	c.HasAccess = !c.AccessMalformed
	return c
}

// accessEntry reads one entry of the "access" claim:
// {"type":…, "class":…, "name":…, "actions":[…]} (docker token spec,
// "Requesting a Token"). It returns what could be read (nil for an entry
// that is no object) and, when the entry is not of that shape, what is wrong.
func accessEntry(e any) (*Scope, string) {
	m, ok := e.(map[string]any)
	if !ok {
		return nil, fmt.Sprintf("is %s, not an object", jsonKind(e))
	}
	var problem string
	note := func(p string) {
		if problem == "" {
			problem = p
		}
	}
	var sc Scope
	for _, f := range []struct {
		name string
		dst  *string
	}{{"type", &sc.Type}, {"class", &sc.Class}, {"name", &sc.Name}} {
		v, ok := m[f.name]
		if !ok || v == nil {
			continue
		}
		if s, isStr := v.(string); isStr {
			*f.dst = s
		} else {
			note(fmt.Sprintf("has %q %s, not a string", f.name, jsonKind(v)))
		}
	}
	if sc.Class == "" {
		// Some token servers write the class into the type, as in a scope.
		if open := strings.IndexByte(sc.Type, '('); open > 0 && strings.HasSuffix(sc.Type, ")") {
			sc.Type, sc.Class = sc.Type[:open], sc.Type[open+1:len(sc.Type)-1]
		}
	}
	switch acts := m["actions"].(type) {
	case nil:
	case []any:
		for i, a := range acts {
			if s, ok := a.(string); ok {
				sc.Actions = append(sc.Actions, s)
			} else {
				note(fmt.Sprintf("has actions[%d] %s, not a string", i, jsonKind(a)))
			}
		}
	case string:
		// Read for display ("pull,push"), but no registry reads it so.
		note(fmt.Sprintf(`has "actions" %s, not an array of strings`, jsonKind(acts)))
		for a := range strings.SplitSeq(acts, ",") {
			if a = strings.TrimSpace(a); a != "" {
				sc.Actions = append(sc.Actions, a)
			}
		}
	default:
		note(fmt.Sprintf(`has "actions" %s, not an array of strings`, jsonKind(acts)))
	}
	return &sc, problem
}

// jsonKind names the JSON type of a value decoded with UseNumber, as the
// Issues say it: "a JSON string (\"soon\")", "a JSON object", …
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("a JSON string (%q)", clipShort(v))
	case json.Number, float64:
		return fmt.Sprintf("a JSON number (%v)", v)
	case bool:
		return fmt.Sprintf("a JSON boolean (%v)", v)
	case []any:
		return "a JSON array"
	case map[string]any:
		return "a JSON object"
	}
	return fmt.Sprintf("%T", v)
}

// clipShort bounds a value quoted inside an Issue's What.
func clipShort(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// claimJSON is a claim's value as compact JSON, for an Issue's Raw (claims
// are no secret: decode/redact keeps them in a redacted JWT).
func claimJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// claimTime reads a NumericDate (RFC 7519 §2): "a JSON numeric value
// representing the number of seconds from 1970-01-01T00:00:00Z UTC", also
// fractional. A string holding a number or an RFC 3339 date is read too, but
// reported: registries that decode the claim as a number refuse the token.
// problem is "" for a well-formed date, otherwise the rest of a sentence
// starting with the claim's name; the time is zero when unreadable.
func claimTime(v any) (t time.Time, problem string) {
	switch v := v.(type) {
	case json.Number:
		t, ok := numericDate(v.String())
		if !ok {
			return time.Time{}, fmt.Sprintf("is %s, too far from 1970 to be a date (over 1e11 seconds): no date is known", jsonKind(v))
		}
		return t, ""
	case float64:
		t, ok := unixFloat(v)
		if !ok {
			return time.Time{}, fmt.Sprintf("is %s, too far from 1970 to be a date (over 1e11 seconds): no date is known", jsonKind(v))
		}
		return t, ""
	case string:
		s := strings.TrimSpace(v)
		wrong := fmt.Sprintf("is %s, not a NumericDate (a JSON number, RFC 7519 §2)", jsonKind(v))
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), wrong + "; read as an RFC 3339 date"
		}
		if t, ok := numericDate(s); ok {
			return t, wrong + "; read as the number it holds"
		}
		return time.Time{}, wrong + "; unreadable, so no date is known"
	}
	return time.Time{}, fmt.Sprintf("is %s, not a NumericDate (a JSON number, RFC 7519 §2): no date is known", jsonKind(v))
}

// numericDate reads a decimal number of seconds since the epoch.
func numericDate(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < -maxClaimSeconds || n > maxClaimSeconds {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, false
	}
	return unixFloat(f)
}

// maxClaimSeconds bounds the NumericDates taken as dates (about year 5000).
const maxClaimSeconds = 1e11

func unixFloat(f float64) (time.Time, bool) {
	if math.IsNaN(f) || f < -maxClaimSeconds || f > maxClaimSeconds {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// compactJSON returns b as compact JSON text, or b itself if it is not JSON.
func compactJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(bytes.TrimSpace(b))
	}
	return buf.String()
}

// ParseTokenResponse decodes the body of a token server's 200 answer:
// {"token":…, "access_token":…, "expires_in":…, "issued_at":…,
// "refresh_token":…}. expires_in may be a number or a string of one;
// issued_at is RFC 3339. The body may be a truncated prefix (members read
// before the cut are kept) or redacted (token values "h.c.REDACTED" or
// "REDACTED(len=…)", which decode to the same IDs as the live tokens).
//
// The response is never nil. The error is a *ParseError: with Field "token
// response" when the body is not JSON or carries neither token (no usable
// token: the catalog's token-response-unusable), otherwise with Field "JWT"
// when a token looks like a JWT but is corrupt (the response is complete).
func ParseTokenResponse(body []byte) (*TokenResponse, error) {
	resp := &TokenResponse{}
	b := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	fail := func(input string, err error) (*TokenResponse, error) {
		return resp, &ParseError{Field: "token response", Input: clip(input), Offset: -1, Err: err}
	}
	if len(b) == 0 {
		return fail("", errors.New("empty body"))
	}
	if b[0] != '{' {
		return fail(bodySummary(b), errors.New("body is not a JSON object"))
	}
	var token, accessToken string
	var keys []string
	cut := false
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_, _ = dec.Token() // '{'
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			cut = true
			break
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			cut = true
			break
		}
		keys = append(keys, key)
		switch strings.ToLower(key) {
		case "token":
			token = jsonString(raw)
		case "access_token":
			accessToken = jsonString(raw)
		case "refresh_token":
			resp.HasRefreshToken = jsonString(raw) != ""
		case "expires_in":
			resp.ExpiresIn = jsonInt(raw)
		case "issued_at":
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(jsonString(raw))); err == nil {
				resp.IssuedAt = t.UTC()
			}
		}
	}
	var jwtErr error
	if token != "" {
		resp.Token, jwtErr = ParseToken(token)
	}
	if accessToken != "" {
		var err error
		resp.AccessToken, err = ParseToken(accessToken)
		if jwtErr == nil {
			jwtErr = err
		}
	}
	if resp.Token != nil && resp.AccessToken != nil {
		resp.Differ = resp.Token.ID != resp.AccessToken.ID
	}
	if resp.Token == nil && resp.AccessToken == nil {
		sort.Strings(keys)
		input := "keys: " + strings.Join(keys, ", ")
		if len(keys) == 0 {
			input = "no keys"
		}
		if cut {
			return fail(input, errors.New("body ends before a token (truncated or invalid JSON)"))
		}
		return fail(input, errors.New(`neither "token" nor "access_token"`))
	}
	return resp, jwtErr
}

// jsonString returns a JSON string's value, "" for anything else.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// jsonInt reads a JSON number or a string holding one, truncated to an int
// and clamped to the int32 range; 0 when unreadable.
func jsonInt(raw json.RawMessage) int {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		s = strings.TrimSpace(jsonString(raw))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0
	}
	return int(max(min(f, math.MaxInt32), math.MinInt32))
}

// bodySummary quotes a body that is not JSON in a ParseError: markup and
// text with spaces as they are (clipped), a single word (perhaps a bare
// token) only by its TokenID.
func bodySummary(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		s = s[:200]
	}
	if s[0] == '<' || strings.ContainsAny(strings.TrimSpace(s), " \t\r\n") {
		return strings.Join(strings.Fields(s), " ")
	}
	return "REDACTED(" + TokenID(strings.TrimSpace(string(b))) + ")"
}
