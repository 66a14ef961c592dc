package decode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	tokenTestRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	tokenTestECKey = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// signedTestJWT signs claims with RS256 or ES256 and the extra header fields.
func signedTestJWT(t testing.TB, alg string, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	var tok *jwt.Token
	var key any
	switch alg {
	case "RS256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, claims), tokenTestRSAKey()
	case "ES256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodES256, claims), tokenTestECKey()
	default:
		t.Fatalf("alg %s", alg)
	}
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// redactedTestJWT is what decode/redact's JWT does to a token: the
// signature becomes REDACTED.
func redactedTestJWT(tok string) string {
	return tok[:strings.LastIndexByte(tok, '.')] + ".REDACTED"
}

// unsignedTestJWT builds header.claims. from raw JSON texts.
func unsignedTestJWT(header, claims string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(claims)) + "."
}

// Known pairs computed with decode/redact.Opaque (decode's tests may not
// import decode/redact): Opaque(token) == "REDACTED(" + TokenID(token) + ")".
const (
	ghcrTestToken        = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	ghcrTestTokenID      = "len=40,sha256:3543c50b" // redact.Opaque → REDACTED(len=40,sha256:3543c50b)
	ecrTestToken         = "ECRtokenAAAABBBBCCCC"
	ecrTestTokenID       = "len=20,sha256:6e61f429"
	badClaimsTestToken   = "eyJhbGciOiJSUzI1NiJ9.!!!.sig"
	badClaimsTestTokenID = "len=28,sha256:b54b3e03" // redact.JWT refuses it, so Opaque
	nullClaimsTestToken  = "eyJhbGciOiJSUzI1NiJ9.bnVsbA.sig"
	nullClaimsTestID     = "len=31,sha256:df843af1" // claims "null" is no object: Opaque
)

func TestTokenID(t *testing.T) {
	hubJWT := signedTestJWT(t, "RS256", jwt.MapClaims{"iss": "auth.docker.io", "access": []any{}}, nil)
	hc := hubJWT[:strings.LastIndexByte(hubJWT, '.')]
	for _, c := range []struct {
		name, token, want string
	}{
		{"empty", "", ""},
		{"bare REDACTED says nothing", "REDACTED", ""},
		{"JWT is header.claims", hubJWT, hc},
		{"redacted JWT has the live ID", redactedTestJWT(hubJWT), hc},
		{"unsigned JWT", hc + ".", hc},
		{"GHCR token matches redact.Opaque", ghcrTestToken, ghcrTestTokenID},
		{"redacted GHCR token", "REDACTED(" + ghcrTestTokenID + ")", ghcrTestTokenID},
		{"ECR-style token matches redact.Opaque", ecrTestToken, ecrTestTokenID},
		{"corrupt claims hash like redact", badClaimsTestToken, badClaimsTestTokenID},
		{"null claims hash like redact", nullClaimsTestToken, nullClaimsTestID},
		{"marker with upper-case hex is a token", "REDACTED(len=40,sha256:3543C50B)", TokenID("REDACTED(len=40,sha256:3543C50B)")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := TokenID(c.token); got != c.want {
				t.Errorf("TokenID(%q) = %q, want %q", c.token, got, c.want)
			}
		})
	}
	if id := TokenID("REDACTED(len=40,sha256:3543C50B)"); !strings.HasPrefix(id, "len=32,") {
		t.Errorf("an invalid marker is hashed as a token, got %q", id)
	}
}

func TestParseTokenJWT(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	unix := func(t time.Time) int64 { return t.Unix() }
	hub := jwt.MapClaims{
		"iss": "auth.docker.io", "sub": "alice", "aud": "registry.docker.io",
		"exp": unix(now.Add(5 * time.Minute)), "nbf": unix(now.Add(-30 * time.Second)), "iat": unix(now),
		"jti": "jti-1",
		"access": []any{
			map[string]any{"type": "repository", "name": "library/nginx", "actions": []string{"pull"}},
			map[string]any{"type": "repository", "class": "plugin", "name": "vieux/sshfs", "actions": []string{"pull", "push"}},
		},
	}
	hubToken := signedTestJWT(t, "RS256", hub, map[string]any{"kid": "ABCD:EFGH", "x5c": []string{"MIIB"}})
	hubWant := &Claims{
		Issuer: "auth.docker.io", Subject: "alice", Audience: []string{"registry.docker.io"},
		ExpiresAt: now.Add(5 * time.Minute), NotBefore: now.Add(-30 * time.Second), IssuedAt: now, JTI: "jti-1",
		Access: []Scope{
			{Type: "repository", Name: "library/nginx", Actions: []string{"pull"}},
			{Type: "repository", Class: "plugin", Name: "vieux/sshfs", Actions: []string{"pull", "push"}},
		},
		HasAccess: true,
	}
	for _, c := range []struct {
		name       string
		token      string
		wantHeader JWTHeader
		want       *Claims // without its Issues
		// issues are the Whats of the claims' Issues, in order, each
		// matched as a prefix.
		issues []string
	}{
		{"Docker Hub RS256 with kid and x5c", hubToken, JWTHeader{Alg: "RS256", Kid: "ABCD:EFGH", Typ: "JWT", X5C: true}, hubWant, nil},
		{"redacted signature decodes the same", redactedTestJWT(hubToken), JWTHeader{Alg: "RS256", Kid: "ABCD:EFGH", Typ: "JWT", X5C: true}, hubWant, nil},
		{
			"ES256 with aud array and empty access",
			signedTestJWT(t, "ES256", jwt.MapClaims{"iss": "harbor-token-issuer", "aud": []string{"harbor-registry", "other"}, "access": []any{}}, nil),
			JWTHeader{Alg: "ES256", Typ: "JWT"},
			&Claims{Issuer: "harbor-token-issuer", Audience: []string{"harbor-registry", "other"}, HasAccess: true},
			nil,
		},
		{
			"access claim missing",
			signedTestJWT(t, "ES256", jwt.MapClaims{"sub": "robot$ci"}, nil),
			JWTHeader{Alg: "ES256", Typ: "JWT"},
			&Claims{Subject: "robot$ci"},
			nil,
		},
		{
			"access claim null",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":null}`),
			JWTHeader{Alg: "none"},
			&Claims{HasAccess: true},
			nil,
		},
		{
			"expired and not yet valid: the data only",
			signedTestJWT(t, "RS256", jwt.MapClaims{"exp": unix(now.Add(-time.Hour)), "nbf": unix(now.Add(time.Hour))}, nil),
			JWTHeader{Alg: "RS256", Typ: "JWT"},
			&Claims{ExpiresAt: now.Add(-time.Hour), NotBefore: now.Add(time.Hour)},
			nil,
		},
		{
			"fractional and string-number times",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"exp":1740830400.5,"nbf":"1740830100","iat":" 1740830000 "}`),
			JWTHeader{Alg: "HS256"},
			&Claims{ExpiresAt: time.Unix(1740830400, 5e8).UTC(), NotBefore: time.Unix(1740830100, 0).UTC(), IssuedAt: time.Unix(1740830000, 0).UTC()},
			[]string{
				`claim "nbf" is a JSON string ("1740830100"), not a NumericDate (a JSON number, RFC 7519 §2); read as the number it holds`,
				`claim "iat" is a JSON string (" 1740830000 "), not a NumericDate`,
			},
		},
		{
			"unreadable times are zero, and say so",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"exp":"soon","nbf":1e300,"iat":true,"aud":""}`),
			JWTHeader{Alg: "HS256"},
			&Claims{},
			[]string{
				`claim "exp" is a JSON string ("soon"), not a NumericDate (a JSON number, RFC 7519 §2); unreadable, so no date is known`,
				`claim "nbf" is a JSON number (1e300), too far from 1970 to be a date`,
				`claim "iat" is a JSON boolean (true), not a NumericDate`,
			},
		},
		{
			"exp as an RFC 3339 string",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"exp":"2025-03-01T12:05:00Z"}`),
			JWTHeader{Alg: "HS256"},
			&Claims{ExpiresAt: now.Add(5 * time.Minute)},
			[]string{`claim "exp" is a JSON string ("2025-03-01T12:05:00Z"), not a NumericDate (a JSON number, RFC 7519 §2); read as an RFC 3339 date`},
		},
		{
			"exp null, nbf an object, iat an array",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"exp":null,"nbf":{"t":1},"iat":[1]}`),
			JWTHeader{Alg: "HS256"},
			&Claims{},
			[]string{
				`claim "exp" is null, not a NumericDate`,
				`claim "nbf" is a JSON object, not a NumericDate`,
				`claim "iat" is a JSON array, not a NumericDate`,
			},
		},
		{
			"aud as a number",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"aud":42,"sub":"alice"}`),
			JWTHeader{Alg: "HS256"},
			&Claims{Subject: "alice"},
			[]string{`claim "aud" is a JSON number (42), not a string or an array of strings (RFC 7519 §4.1.3)`},
		},
		{
			"aud array with a number and a null keeps the strings",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"aud":["registry.test",7,null]}`),
			JWTHeader{Alg: "HS256"},
			&Claims{Audience: []string{"registry.test"}},
			[]string{
				`claim "aud" entry 1 is a JSON number (7), not a string`,
				`claim "aud" entry 2 is null, not a string`,
			},
		},
		{
			"aud null and an object",
			unsignedTestJWT(`{"alg":"HS256"}`, `{"aud":null,"iss":{"name":"x"},"sub":1,"jti":false}`),
			JWTHeader{Alg: "HS256"},
			&Claims{},
			[]string{
				`claim "iss" is a JSON object, not a string`,
				`claim "sub" is a JSON number (1), not a string`,
				`claim "jti" is a JSON boolean (false), not a string`,
				`claim "aud" is null, not a string or an array of strings`,
			},
		},
		{
			"unknown alg still decodes",
			unsignedTestJWT(`{"alg":"XX999","typ":"at+jwt"}`, `{"iss":"x"}`),
			JWTHeader{Alg: "XX999", Typ: "at+jwt"},
			&Claims{Issuer: "x"},
			nil,
		},
		{
			"padded segments",
			base64.URLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"a"}`)) + ".sig",
			JWTHeader{Alg: "RS256"},
			&Claims{Subject: "a"},
			nil,
		},
		{
			"class written into the type",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":[{"type":"repository(plugin)","name":"p","actions":["pull","push"]}]}`),
			JWTHeader{Alg: "none"},
			&Claims{HasAccess: true, Access: []Scope{
				{Type: "repository", Class: "plugin", Name: "p", Actions: []string{"pull", "push"}},
			}},
			nil,
		},
		{
			"actions as a string and a string entry: malformed, readable entries kept for display",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":[{"type":"repository(plugin)","name":"p","actions":"pull,push"},"junk",{"type":"registry","name":"catalog","actions":["*"]}]}`),
			JWTHeader{Alg: "none"},
			&Claims{AccessMalformed: true, Access: []Scope{
				{Type: "repository", Class: "plugin", Name: "p", Actions: []string{"pull", "push"}},
				{Type: "registry", Name: "catalog", Actions: []string{"*"}},
			}},
			[]string{
				`claim "access" entry 0 has "actions" a JSON string ("pull,push"), not an array of strings: what the token grants cannot be told`,
				`claim "access" entry 1 is a JSON string ("junk"), not an object: what the token grants cannot be told`,
			},
		},
		{
			"access an object instead of an array",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":{"type":"repository","name":"a","actions":["pull"]}}`),
			JWTHeader{Alg: "none"},
			&Claims{AccessMalformed: true},
			[]string{`claim "access" is a JSON object, not an array (docker token spec): what the token grants cannot be told`},
		},
		{
			"access a string",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":"repository:a:pull"}`),
			JWTHeader{Alg: "none"},
			&Claims{AccessMalformed: true},
			[]string{`claim "access" is a JSON string ("repository:a:pull"), not an array`},
		},
		{
			"access entries that are strings",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":["repository:a:pull","repository:b:push"]}`),
			JWTHeader{Alg: "none"},
			&Claims{AccessMalformed: true},
			[]string{
				`claim "access" entry 0 is a JSON string ("repository:a:pull"), not an object`,
				`claim "access" entry 1 is a JSON string ("repository:b:push"), not an object`,
			},
		},
		{
			"actions an object, an action a number, a name a number, a null entry",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":[{"type":"repository","name":"a","actions":{"pull":true}},{"type":"repository","name":"b","actions":["pull",1]},{"type":"repository","name":5,"actions":["pull"]},null]}`),
			JWTHeader{Alg: "none"},
			&Claims{AccessMalformed: true, Access: []Scope{
				{Type: "repository", Name: "a"},
				{Type: "repository", Name: "b", Actions: []string{"pull"}},
				{Type: "repository", Actions: []string{"pull"}},
			}},
			[]string{
				`claim "access" entry 0 has "actions" a JSON object, not an array of strings`,
				`claim "access" entry 1 has actions[1] a JSON number (1), not a string`,
				`claim "access" entry 2 has "name" a JSON number (5), not a string`,
				`claim "access" entry 3 is null, not an object`,
			},
		},
		{
			"an entry without actions or with null ones grants nothing, and is no malformation",
			unsignedTestJWT(`{"alg":"none"}`, `{"access":[{"type":"repository","name":"a"},{"type":"repository","name":"b","actions":null}]}`),
			JWTHeader{Alg: "none"},
			&Claims{HasAccess: true, Access: []Scope{{Type: "repository", Name: "a"}, {Type: "repository", Name: "b"}}},
			nil,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := ParseToken(c.token)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if !tok.JWT || tok.Header == nil || tok.Claims == nil {
				t.Fatalf("not decoded as a JWT: %+v", tok)
			}
			if tok.ID != TokenID(c.token) {
				t.Errorf("ID = %q, want TokenID %q", tok.ID, TokenID(c.token))
			}
			if *tok.Header != c.wantHeader {
				t.Errorf("header = %+v, want %+v", *tok.Header, c.wantHeader)
			}
			got := *tok.Claims
			issues := got.Issues
			got.Issues = nil
			if !reflect.DeepEqual(&got, c.want) {
				t.Errorf("claims =\n%+v\nwant\n%+v", &got, c.want)
			}
			whats := issueWhats(issues)
			ok := len(whats) == len(c.issues)
			for i := 0; ok && i < len(whats); i++ {
				ok = strings.HasPrefix(whats[i], c.issues[i])
			}
			if !ok {
				t.Errorf("claims issues = %q, want %q", whats, c.issues)
			}
			for _, is := range issues {
				if is.Where != "JWT claims" || is.Raw == "" {
					t.Errorf("claims issue %+v: want Where \"JWT claims\" and the claim's JSON in Raw", is)
				}
			}
		})
	}
}

func TestParseTokenOpaque(t *testing.T) {
	ecr := base64.StdEncoding.EncodeToString([]byte(`{"payload":"abc","datakey":"def","version":"2","type":"DATA_KEY","expiration":1700000000}`))
	for _, c := range []struct{ name, token, id string }{
		{"GHCR", ghcrTestToken, ghcrTestTokenID},
		{"GHCR redacted", "REDACTED(" + ghcrTestTokenID + ")", ghcrTestTokenID},
		{"ECR-style base64 blob", ecr, TokenID(ecr)},
		{"random string with two dots", "abc.def.ghi", TokenID("abc.def.ghi")},
		{"four segments", "eyJhbGciOiJub25lIn0.e30.x.y", TokenID("eyJhbGciOiJub25lIn0.e30.x.y")},
		{"bare REDACTED", "REDACTED", ""},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := ParseToken(c.token)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			want := &Token{ID: c.id}
			if !reflect.DeepEqual(tok, want) {
				t.Errorf("got %+v, want %+v", tok, want)
			}
			if c.id != "" && !strings.HasPrefix(c.id, "len=") {
				t.Errorf("opaque ID %q", c.id)
			}
		})
	}
}

func TestParseTokenCorruptJWT(t *testing.T) {
	for _, c := range []struct {
		name, token, errHas string
		offset              int
	}{
		{"corrupt claims base64", badClaimsTestToken, "claims segment: base64url", 21},
		{"claims not an object", nullClaimsTestToken, "claims segment: not a JSON object", 21},
		{"claims invalid JSON", unsignedTestJWT(`{"alg":"RS256"}`, `{"sub":`) + "sig", "claims segment: JSON", 21},
		{"header invalid JSON", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256",}`)) + ".e30.sig", "header segment: JSON", 0},
		{"header cut base64", "eyJhbGciOiJSUzI1NiJ9x.e30.sig", "header segment: base64url", 20},
		{"empty claims", "eyJhbGciOiJSUzI1NiJ9..sig", "claims segment: empty", 21},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := ParseToken(c.token)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != "JWT" {
				t.Fatalf("err = %v, want a *ParseError for JWT", err)
			}
			if !strings.Contains(pe.Error(), c.errHas) {
				t.Errorf("error %q does not say %q", pe.Error(), c.errHas)
			}
			if pe.Offset != c.offset {
				t.Errorf("offset = %d, want %d", pe.Offset, c.offset)
			}
			if tok == nil || tok.JWT || tok.Claims != nil || tok.ID != TokenID(c.token) || !strings.HasPrefix(tok.ID, "len=") {
				t.Errorf("want the opaque token, got %+v", tok)
			}
			if strings.Contains(pe.Input, "sig") {
				t.Errorf("Input %q quotes the token", pe.Input)
			}
		})
	}
}

func TestParseTokenResponse(t *testing.T) {
	j1 := signedTestJWT(t, "RS256", jwt.MapClaims{"iss": "auth.docker.io", "access": []any{}}, nil)
	j2 := signedTestJWT(t, "RS256", jwt.MapClaims{"iss": "auth.docker.io", "jti": "other"}, nil)
	issued := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, c := range []struct {
		name                     string
		body                     string
		token, access            string // TokenIDs, "" when absent
		differ, refresh          bool
		expiresIn                int
		issuedAt                 time.Time
		tokenJWT                 bool
		errField                 string
		errInputHas, errInputNot string
	}{
		{
			name:  "Docker Hub shape",
			body:  `{"token":"` + j1 + `","access_token":"` + j1 + `","expires_in":300,"issued_at":"2025-03-01T12:00:00.123456789Z"}`,
			token: TokenID(j1), access: TokenID(j1), expiresIn: 300, issuedAt: issued, tokenJWT: true,
		},
		{
			name:  "token and access_token differ",
			body:  `{"token":"` + j1 + `","access_token":"` + j2 + `"}`,
			token: TokenID(j1), access: TokenID(j2), differ: true, tokenJWT: true,
		},
		{
			name:   "OAuth2 POST answer with refresh token, expires_in as string",
			body:   `{"access_token":"` + j2 + `","refresh_token":"r1","expires_in":"3600","scope":"repository:a:pull"}`,
			access: TokenID(j2), refresh: true, expiresIn: 3600,
		},
		{
			name:  "GHCR opaque token",
			body:  `{"token":"` + ghcrTestToken + `"}`,
			token: ghcrTestTokenID,
		},
		{
			name:  "redacted body gives the live IDs",
			body:  `{"token":"` + redactedTestJWT(j1) + `","access_token":"REDACTED(` + ghcrTestTokenID + `)","refresh_token":"REDACTED","expires_in":300.9}`,
			token: TokenID(j1), access: ghcrTestTokenID, differ: true, refresh: true, expiresIn: 300, tokenJWT: true,
		},
		{
			name:  "truncated after the first token",
			body:  `{"token":"` + j1 + `","access_token":"` + j1[:40],
			token: TokenID(j1), tokenJWT: true,
		},
		{
			name:  "keys match case-insensitively, null and empty values are absent",
			body:  `{"Token":"` + ghcrTestToken + `","access_token":null,"refresh_token":""}`,
			token: ghcrTestTokenID,
		},
		{
			name:     "truncated before any token",
			body:     `{"expires_in":300,"token":"eyJhbGciOiJ`,
			errField: "token response", errInputHas: "expires_in", expiresIn: 300,
		},
		{
			name:     "SSO login page",
			body:     "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>",
			errField: "token response", errInputHas: "<html>",
		},
		{
			name:     "JSON without a token",
			body:     `{"refresh_token":"r1","expires_in":60}`,
			errField: "token response", errInputHas: "keys: expires_in, refresh_token", refresh: true, expiresIn: 60,
		},
		{
			name:     "a bare token is not quoted",
			body:     ghcrTestToken + "\n",
			errField: "token response", errInputHas: ghcrTestTokenID, errInputNot: ghcrTestToken,
		},
		{
			name:     "empty body",
			body:     " \n",
			errField: "token response",
		},
		{
			name:     "JSON array",
			body:     `["` + j1 + `"]`,
			errField: "token response", errInputNot: j1[:20],
		},
		{
			name:  "corrupt JWT: usable response and a JWT error",
			body:  `{"token":"` + badClaimsTestToken + `","expires_in":60}`,
			token: badClaimsTestTokenID, expiresIn: 60, errField: "JWT",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := ParseTokenResponse([]byte(c.body))
			if resp == nil {
				t.Fatal("nil response")
			}
			var pe *ParseError
			switch {
			case c.errField == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.errField != "" && (!errors.As(err, &pe) || pe.Field != c.errField):
				t.Fatalf("err = %v, want a *ParseError for %q", err, c.errField)
			}
			if pe != nil {
				if !strings.Contains(pe.Input, c.errInputHas) {
					t.Errorf("Input %q does not have %q", pe.Input, c.errInputHas)
				}
				if c.errInputNot != "" && strings.Contains(pe.Input, c.errInputNot) {
					t.Errorf("Input %q quotes %q", pe.Input, c.errInputNot)
				}
			}
			id := func(t *Token) string {
				if t == nil {
					return ""
				}
				return t.ID
			}
			if id(resp.Token) != c.token || id(resp.AccessToken) != c.access {
				t.Errorf("IDs = %q, %q; want %q, %q", id(resp.Token), id(resp.AccessToken), c.token, c.access)
			}
			if resp.Token != nil && resp.Token.JWT != c.tokenJWT {
				t.Errorf("Token.JWT = %v", resp.Token.JWT)
			}
			if resp.Differ != c.differ || resp.HasRefreshToken != c.refresh || resp.ExpiresIn != c.expiresIn || !resp.IssuedAt.Equal(c.issuedAt) {
				t.Errorf("got %+v", resp)
			}
		})
	}
}

func TestParseTokenResponseClaimsOfHubToken(t *testing.T) {
	j := signedTestJWT(t, "ES256", jwt.MapClaims{"access": []any{map[string]any{"type": "repository", "name": "library/nginx", "actions": []string{"pull"}}}}, nil)
	resp, err := ParseTokenResponse([]byte(`{"token":"` + j + `","access_token":"` + j + `","expires_in":300}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Scope{{Type: "repository", Name: "library/nginx", Actions: []string{"pull"}}}
	if resp.Differ || !reflect.DeepEqual(resp.AccessToken.Claims.Access, want) || !reflect.DeepEqual(resp.Token.Claims.Access, want) {
		t.Errorf("got %+v / %+v", resp.Token.Claims, resp.AccessToken.Claims)
	}
}
