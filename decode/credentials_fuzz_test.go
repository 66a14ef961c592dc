package decode

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseAuthorization checks that ParseAuthorization never panics on any
// value, that Basic credentials built from a user and a password give that
// user and never the password, and that a Bearer token is only identified.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"", "Basic Og==", "Basic REDACTED(user=alice)", "Basic REDACTED(user=%zz%4)", "Basic REDACTED", "Basic !!!",
		"Bearer REDACTED(len=40,sha256:3543c50b)", "Bearer a.b.REDACTED", "bearer", " \t", "token x y", ghcrTestToken,
	} {
		f.Add(s, "alice", "s3cr3t-pass", ghcrTestToken)
	}
	f.Add("Basic  YWxpY2U6czNjcjN0 ", "", "", "")
	f.Fuzz(func(t *testing.T, value, user, password, token string) {
		_ = ParseAuthorization(value)

		if !strings.Contains(user, ":") {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
				got := ParseAuthorization("Basic " + enc.EncodeToString([]byte(user+":"+password)))
				if got.Scheme != "Basic" || got.User != user || got.Empty != (user == "" && password == "") || got.Redacted || got.TokenID != "" {
					t.Fatalf("Basic %q:%q = %+v", user, password, got)
				}
			}
		}
		if len(password) >= 4 && !strings.Contains(user, password) {
			got := ParseAuthorization("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
			if strings.Contains(got.User, password) || strings.Contains(got.TokenID, password) {
				t.Fatalf("password %q kept in %+v", password, got)
			}
		}

		tok := strings.Trim(token, " \t")
		if tok == "" || strings.ContainsAny(tok, " \t") {
			return
		}
		got := ParseAuthorization("Bearer " + tok)
		if got.Scheme != "Bearer" || got.TokenID != TokenID(tok) || got.User != "" {
			t.Fatalf("Bearer %q = %+v", tok, got)
		}
		if len(tok) >= 16 && !got.Redacted && !strings.Contains(tok, ".") && strings.Contains(got.TokenID, tok) {
			t.Fatalf("token %q revealed in %+v", tok, got)
		}
	})
}

// Markers planted as secrets in FuzzParseTokenRequest: a NUL byte and a
// fixed word make them impossible to produce from the fixed texts of a result.
const (
	fuzzPasswordMark = "\x00Zq8vK3pW"
	fuzzRefreshMark  = "\x00Rt7xQ2mN"
)

// FuzzParseTokenRequest checks that ParseTokenRequest never panics and that a
// password or refresh token planted in a POST form, whole or cut short, never
// appears anywhere in what it returns.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add(uint8(1), "service=registry.docker.io&scope=repository:a:pull", "application/x-www-form-urlencoded",
		"grant_type=password&username=alice", "scope=repository%3Aa%3Apull+repository%3Ab%3Apush&client_id=containerd-client",
		"p@ss word&=", "rt", "Basic YWxpY2U6cHc=", -1)
	f.Add(uint8(0), "scope=repository:a:pull,push+bogus&scope=registry:catalog:*&offline_token=maybe&account=a", "",
		"", "", "pw", "", "Bearer REDACTED(len=40,sha256:3543c50b)", -1)
	f.Add(uint8(1), "", "application/x-www-form-urlencoded; charset=utf-8", "password=&%zz=1", "service=%", "x", "y", "", 40)
	f.Add(uint8(1), "", "application/json", `{"password":"`, "", "x", "y", "", 5)
	f.Add(uint8(1), "", "", "", "", "", "", "", 0)
	methods := []string{"GET", "POST", "post", "PUT"}
	f.Fuzz(func(t *testing.T, m uint8, query, contentType, prefix, suffix, password, refresh, auth string, cut int) {
		password = fuzzPasswordMark + password
		refresh = fuzzRefreshMark + refresh
		public := strings.Join([]string{query, contentType, prefix, suffix, auth}, "\n")
		for _, s := range []string{public, looseUnescape(public), base64Fields(auth)} {
			if strings.Contains(s, "Zq8vK3pW") || strings.Contains(s, "Rt7xQ2mN") {
				t.Skip("the planted secret is in the public input")
			}
		}
		body := prefix + "&password=" + url.QueryEscape(password) + "&refresh_token=" + url.QueryEscape(refresh) + "&" + suffix
		truncated := cut >= 0
		if truncated {
			body = body[:cut%(len(body)+1)]
		}
		q, _ := url.ParseQuery(query)
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		method := methods[int(m)%len(methods)]
		tr, issues := ParseTokenRequest(method, q, h, contentType, []byte(body), truncated)
		if tr == nil {
			t.Fatal("nil request")
		}
		out := fmt.Sprintf("%+v %+v", tr, issues)
		for _, secret := range []string{password, refresh, fuzzPasswordMark, fuzzRefreshMark, url.QueryEscape(fuzzPasswordMark), url.QueryEscape(fuzzRefreshMark)} {
			if strings.Contains(out, secret) {
				t.Fatalf("secret %q in %s", secret, out)
			}
		}
		mt := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
		if method != "GET" && strings.EqualFold(method, "POST") && !truncated && (mt == "" || mt == "application/x-www-form-urlencoded") {
			if !tr.HasPassword || !tr.HasRefreshToken {
				t.Fatalf("planted password/refresh_token not noted: %+v", tr)
			}
		}
	})
}

// looseUnescape undoes valid %XX escapes and '+', leaving the rest as is.
func looseUnescape(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	return percentUnescape(s)
}

// base64Fields decodes every field of s that decodes as base64.
func base64Fields(s string) string {
	var b strings.Builder
	for _, f := range strings.Fields(s) {
		if d, ok := decodeBasicToken(f); ok {
			b.Write(d)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
