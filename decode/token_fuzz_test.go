package decode

import (
	"encoding/base64"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var opaqueIDRE = regexp.MustCompile(`^len=[0-9]+,sha256:[0-9a-f]{8}$`)

// FuzzParseToken checks that ParseToken never panics, that its error is a
// *ParseError for "JWT" with the token returned as opaque, that a JWT's ID is
// its first two segments and its redacted copy decodes the same, that a
// malformed access claim is never taken for a well-formed one and always
// says why, and that an opaque token's ID is the hash form that
// decode/redact writes.
func FuzzParseToken(f *testing.F) {
	e := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		"", "REDACTED", "REDACTED(len=40,sha256:3543c50b)", ghcrTestToken, ecrTestToken,
		badClaimsTestToken, nullClaimsTestToken, "a.b.c", "eyJ.eyJ.x", "...",
		unsignedTestJWT(`{"alg":"RS256","kid":"k","x5c":["a"]}`, `{"iss":"i","aud":["a",1],"exp":1.5,"nbf":"2","access":[{"type":"repository","name":"a","actions":["pull"]}]}`) + "sig",
		unsignedTestJWT(`{"alg":"none"}`, `{"access":null,"exp":1e400}`) + "REDACTED",
		unsignedTestJWT(`{"alg":"none"}`, `{"access":{"type":"repository"},"exp":"soon","aud":5}`) + "s",
		unsignedTestJWT(`{"alg":"none"}`, `{"access":["repository:a:pull",{"name":1,"actions":"pull"},{"actions":[1]}],"iat":null}`) + "s",
		e([]byte(`{"alg":"RS256"}`)) + "." + e([]byte(`{"sub":`)) + ".s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if tok == nil {
			t.Fatalf("ParseToken(%q) = nil", s)
		}
		if tok.ID != TokenID(s) {
			t.Fatalf("ID %q != TokenID %q", tok.ID, TokenID(s))
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != "JWT" || tok.JWT || tok.Claims != nil || tok.Header != nil {
				t.Fatalf("ParseToken(%q) = %+v, %v; want an opaque token and a JWT *ParseError", s, tok, err)
			}
			if len(pe.Input) > 120+len("…") || pe.Offset < -1 || pe.Offset > len(s) {
				t.Fatalf("ParseError %#v", pe)
			}
		}
		if tok.JWT {
			if tok.Header == nil || tok.Claims == nil {
				t.Fatalf("JWT without header or claims: %+v", tok)
			}
			dot := strings.LastIndexByte(s, '.')
			if tok.ID != s[:dot] {
				t.Fatalf("JWT ID %q, want %q", tok.ID, s[:dot])
			}
			red, err := ParseToken(s[:dot] + ".REDACTED")
			if err != nil || !reflect.DeepEqual(red, tok) {
				t.Fatalf("redacted copy decodes to %+v, %v; live %+v", red, err, tok)
			}
			cl := tok.Claims
			if cl.Access != nil && !cl.HasAccess && !cl.AccessMalformed {
				t.Fatalf("access entries without HasAccess or AccessMalformed: %+v", cl)
			}
			if cl.HasAccess && cl.AccessMalformed {
				t.Fatalf("access both well formed and malformed: %+v", cl)
			}
			said := false
			for _, is := range cl.Issues {
				if is.Where != "JWT claims" || !strings.HasPrefix(is.What, `claim "`) || len(is.Raw) > 120+len("…") {
					t.Fatalf("claims issue %+v: want Where \"JWT claims\", a What naming the claim, a clipped Raw", is)
				}
				said = said || strings.HasPrefix(is.What, `claim "access"`)
			}
			if cl.AccessMalformed != said {
				t.Fatalf("AccessMalformed %v, but issues %q", cl.AccessMalformed, issueWhats(cl.Issues))
			}
			return
		}
		if tok.Header != nil || tok.Claims != nil {
			t.Fatalf("opaque token with claims: %+v", tok)
		}
		if tok.ID == "" {
			if s != "" && s != "REDACTED" {
				t.Fatalf("empty ID for %q", s)
			}
			return
		}
		if !opaqueIDRE.MatchString(tok.ID) {
			t.Fatalf("opaque ID %q", tok.ID)
		}
		if TokenID("REDACTED("+tok.ID+")") != tok.ID {
			t.Fatalf("redacted form of %q has another ID", tok.ID)
		}
	})
}

// FuzzParseTokenResponse checks that ParseTokenResponse never panics on any
// body or any prefix of it, that its response is never nil, and that its
// errors are typed and consistent with the response.
func FuzzParseTokenResponse(f *testing.F) {
	j := unsignedTestJWT(`{"alg":"RS256","typ":"JWT"}`, `{"iss":"auth.docker.io","access":[]}`) + "sig"
	for _, s := range []string{
		`{"token":"` + j + `","access_token":"` + j + `","expires_in":300,"issued_at":"2025-03-01T12:00:00Z"}`,
		`{"token":"` + ghcrTestToken + `","access_token":"REDACTED(len=40,sha256:3543c50b)","refresh_token":"REDACTED","expires_in":"60"}`,
		`{"refresh_token":"x"}`, `<html>`, `[`, `{"token":{"a":[1,2,{}]},"token":"x"}`, `{"expires_in":1e999,"issued_at":5}`,
		"\xef\xbb\xbf {\"access_token\":\"a.b.c\"}", `{"token":"` + badClaimsTestToken + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, b := range [][]byte{body, body[:len(body)/2]} {
			resp, err := ParseTokenResponse(b)
			if resp == nil {
				t.Fatalf("nil response for %q", b)
			}
			if resp.Differ && (resp.Token == nil || resp.AccessToken == nil) {
				t.Fatalf("Differ with one token: %+v", resp)
			}
			if err == nil {
				if resp.Token == nil && resp.AccessToken == nil {
					t.Fatalf("no token and no error for %q", b)
				}
				continue
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			switch pe.Field {
			case "token response":
				if resp.Token != nil || resp.AccessToken != nil {
					t.Fatalf("unusable response with a token: %+v", resp)
				}
			case "JWT":
			default:
				t.Fatalf("ParseError field %q", pe.Field)
			}
			if len(pe.Input) > 120+len("…") {
				t.Fatalf("Input %d bytes", len(pe.Input))
			}
		}
	})
}
