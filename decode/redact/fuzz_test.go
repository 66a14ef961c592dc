package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// plant is the secret the fuzz targets hide in their inputs; it must never
// come out of redaction.
const plant = "s3cr3tPLANT"

func noPlant(t *testing.T, what, in, got string) {
	t.Helper()
	if strings.Contains(got, plant) {
		t.Fatalf("planted secret survived %s\n in: %q\nout: %q", what, in, got)
	}
}

// noBasicPassword fails if the password of Basic credentials for user can be
// read from got: as the credentials' base64 (any alphabet, padded or not), or
// by decoding any base64 run in got — a redactor that passed the header
// through would show no plain-text password, so looking for plant alone
// would not catch it.
func noBasicPassword(t *testing.T, what, in, got, user, pass string) {
	t.Helper()
	cred := []byte(user + ":" + pass)
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if enc := e.EncodeToString(cred); strings.Contains(got, enc) {
			t.Fatalf("Basic credentials survived %s as base64 %q\n in: %q\nout: %q", what, enc, in, got)
		}
	}
	if dec, ok := base64Hides(got, plant); ok {
		t.Fatalf("Basic password recoverable from %s output: base64 decodes to %q\n in: %q\nout: %q", what, dec, in, got)
	}
}

// base64Hides reports whether some run of base64 bytes in s decodes (in the
// standard or URL-safe alphabet, from any of the four alignments, cut short
// or not) to text containing secret, and returns that text.
func base64Hides(s, secret string) (string, bool) {
	isB64 := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+/-_", c) >= 0
	}
	for i := 0; i < len(s); {
		if !isB64(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isB64(s[j]) {
			j++
		}
		// An input glued to the token in front shifts its alignment.
		for off := 0; off < 4 && i+off < j; off++ {
			run := s[i+off : j]
			if len(run)%4 == 1 { // a cut-off token: its last byte decodes to nothing
				run = run[:len(run)-1]
			}
			for _, e := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				if b, err := e.DecodeString(run); err == nil && strings.Contains(string(b), secret) {
					return string(b), true
				}
			}
		}
		i = j
	}
	return "", false
}

func idempotent(t *testing.T, what string, f func(string) string, in string) string {
	t.Helper()
	once := f(in)
	if twice := f(once); twice != once {
		t.Fatalf("%s not idempotent\n   in: %q\n once: %q\ntwice: %q", what, in, once, twice)
	}
	return once
}

func FuzzAuthorization(f *testing.F) {
	f.Add(basic("alice", "pw"), "alice", "pw")
	f.Add("Bearer "+jwtToken, "Bearer", "x")
	f.Add("Bearer "+ghcrToken, "token", "")
	f.Add("Basic REDACTED(user=alice)", "a b", "\t")
	f.Add("  basic  !!! ", "", "==")
	f.Add("Digest username=\"a\", response=\"b\"", "Digest", "\"")
	f.Fuzz(func(t *testing.T, value, user, extra string) {
		idempotent(t, "Authorization", Authorization, value)
		if strings.Contains(user, plant) {
			return
		}
		if _, ok := base64Hides(user+" "+extra, plant); !ok {
			pass := extra + plant + extra
			b := basic(user, pass)
			got := idempotent(t, "Authorization", Authorization, b)
			noPlant(t, "Basic", b, got)
			noBasicPassword(t, "Basic", b, got, user, pass)
		}
		bearer := "Bearer " + extra + plant + extra
		noPlant(t, "Bearer", bearer, idempotent(t, "Authorization", Authorization, bearer))
		other := user + " " + extra + plant
		noPlant(t, "scheme", other, Authorization(other))
		claims, _ := json.Marshal(map[string]string{"sub": user, "x": extra})
		enc := base64.RawURLEncoding.EncodeToString
		jwt := enc([]byte(`{"alg":"HS256"}`)) + "." + enc(claims) + "." + plant + enc([]byte(extra))
		got := Authorization("Bearer " + jwt)
		noPlant(t, "Bearer JWT", jwt, got)
		if !strings.HasSuffix(got, "."+Mark) {
			t.Fatalf("JWT signature not stripped: %q", got)
		}
	})
}

func FuzzURLString(f *testing.F) {
	f.Add("https://u:p@h/x?X-Amz-Signature=s&scope=a#f", "alice", "pw", "sig", "v")
	f.Add("/v2/a/blobs/uploads/1?_state=abc", "", "", "_state", "")
	f.Add(`https:\/\/u:p@h\/x?n=1\u0026sig=2`, "u", ":", "n", "1")
	f.Add("//h/x?;&=&a", "@", "#", "scope", "&")
	f.Add("http://[::1]:80/x?%zz=%", "u%", "p%zz", "%", "%")
	f.Fuzz(func(t *testing.T, s, user, pass, key, val string) {
		idempotent(t, "URLString", URLString, s)
		if u, err := url.Parse(s); err == nil {
			r := URL(u)
			if u.String() != mustParseNoT(s).String() {
				t.Fatalf("URL modified its input %q", s)
			}
			if again := URL(r).String(); again != r.String() {
				t.Fatalf("URL not idempotent\n in: %q\nonce: %q\ntwice: %q", s, r.String(), again)
			}
		}

		if strings.Contains(user, plant) {
			return
		}
		q := url.Values{key: {val + plant}}.Encode()
		if allowedQueryKey(strings.SplitN(q, "=", 2)[0]) {
			q = ""
		}
		u := &url.URL{Scheme: "https", Host: "registry.example.com", Path: "/v2/x/blobs/sha256:ab", User: url.UserPassword(user, pass+plant), RawQuery: q}
		us := u.String()
		noPlant(t, "URLString", us, idempotent(t, "URLString", URLString, us))
		noPlant(t, "URL", us, URL(u).String())
		if !strings.Contains(s, plant) {
			in := s + " " + us + " " + s
			noPlant(t, "Text with a URL", in, idempotent(t, "Text", Text, in))
		}
		// A user-only userinfo is a token.
		u.User = url.User(user + plant)
		noPlant(t, "URL user", u.String(), URLString(u.String()))
	})
}

func mustParseNoT(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

func FuzzBody(f *testing.F) {
	f.Add("application/json", []byte(`{"token":"abc","n":1}`), "refresh_token", "v", uint8(3))
	f.Add("text/plain", []byte(`{"a":[{"Password":12}],"b":"https://h/x?sig=1"}`), "PASSWORD", "", uint8(0))
	f.Add("application/x-www-form-urlencoded", []byte("grant_type=password&password=x"), "code", "a&b=c", uint8(200))
	f.Add("", []byte(`{"log":"{\"access_token\":\"x\"}"}`), "Access_Token", `\"`, uint8(7))
	f.Add("application/vnd.oci.image.index.v1+json", []byte(`[1,"two",{"3":null}]`), "id_token", "\x00", uint8(1))
	f.Fuzz(func(t *testing.T, contentType string, body []byte, key, val string, cut uint8) {
		in := bytes.Clone(body)
		once := Body(contentType, body)
		if !bytes.Equal(in, body) {
			t.Fatalf("Body modified its input")
		}
		if body != nil && len(body) > 0 && len(once) > 0 && &once[0] == &body[0] {
			t.Fatalf("Body returned its input")
		}
		if twice := Body(contentType, once); !bytes.Equal(once, twice) {
			t.Fatalf("Body not idempotent\n   in: %q\n once: %q\ntwice: %q", body, once, twice)
		}
		if json.Valid(body) && (isJSONType(mediaType(contentType)) || looksLikeJSON(body)) && mediaType(contentType) != "application/x-www-form-urlencoded" && !json.Valid(once) {
			t.Fatalf("Body broke valid JSON\n in: %q\nout: %q", body, once)
		}

		// A token field, its key chosen and cased by the input.
		jsonKeys := append(append([]string{}, jsonTokenKeys...), jsonPasswordKeys...)
		k := []byte(jsonKeys[len(key)%len(jsonKeys)])
		for i := range k {
			if i < len(key) && key[i]&1 == 1 {
				k[i] = bytes.ToUpper(k[i : i+1])[0]
			}
		}
		other, _ := json.Marshal(val)
		secret, _ := json.Marshal(val + plant + val)
		doc := `{"a":` + string(other) + `,"` + string(k) + `":` + string(secret) + `}`
		for _, ct := range []string{"application/json", "", "text/plain; charset=utf-8"} {
			noPlant(t, "JSON body", doc, string(Body(ct, []byte(doc))))
		}
		var pretty bytes.Buffer
		_ = json.Indent(&pretty, []byte(doc), "", "\t")
		noPlant(t, "pretty JSON body", pretty.String(), string(Body("application/json", pretty.Bytes())))
		escaped, _ := json.Marshal(doc)
		nested := `{"log":` + string(escaped) + `}`
		noPlant(t, "escaped JSON body", nested, string(Body("application/json", []byte(nested))))
		noPlant(t, "escaped JSON text", string(escaped), Text(string(escaped)))
		end := strings.Index(doc, plant) + len(plant)
		truncated := doc[:min(len(doc), end+int(cut)%8)]
		noPlant(t, "truncated JSON body", truncated, string(Body("application/json", []byte(truncated))))

		// A form field.
		formKeys := append(append([]string{}, formPasswordKeys...), formTokenKeys...)
		fk := formKeys[len(key)%len(formKeys)]
		if len(key) > 0 && key[0]&1 == 1 {
			fk = strings.ToUpper(fk)
		}
		form := "grant_type=password&username=" + url.QueryEscape(val) + "&" + fk + "=" + url.QueryEscape(val+plant) + "&" + string(body)
		out := Body("application/x-www-form-urlencoded", []byte(form))
		noPlant(t, "form body", form, string(out))
		if twice := Body("application/x-www-form-urlencoded", out); !bytes.Equal(out, twice) {
			t.Fatalf("form Body not idempotent\n once: %q\ntwice: %q", out, twice)
		}
	})
}

func FuzzText(f *testing.F) {
	f.Add(`Get "https://u:pw@h/x?X-Amz-Signature=abc": EOF`, "", "")
	f.Add(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`, "Bearer", "x")
	f.Add("map[Authorization:[Bearer abc123]]", `"token":"`, `\`)
	f.Add(`{\"refresh_token\":\"abc\"} password=x&code=y`, "Basic", "&")
	f.Add("see eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl. (https://h/?n=1)", "https:", `\/\/`)
	f.Add("REDACTED(len=3,sha256:ba7816bf) REDACTED(user=a) Basic REDACTED(user=a%20b)", "REDACTED", "(")
	f.Fuzz(func(t *testing.T, s, a, b string) {
		idempotent(t, "Text", Text, s)
		if strings.Contains(a, plant) || strings.Contains(b, plant) {
			return
		}
		enc := base64.RawURLEncoding.EncodeToString
		for _, in := range []string{
			a + ` Get "https://u:` + plant + `@h/x?X-Amz-Signature=` + plant + `": ` + b,
			a + " https://h/x?n=1&Signature=" + url.QueryEscape(b+plant) + " " + b,
			a + " Authorization: Bearer " + plant + "\n" + b,
			a + " Bearer " + plant + " " + b,
			a + ` {"refresh_token": "` + plant + `"} ` + b,
			a + ` {\"access_token\":\"` + plant + `\"} ` + b,
			a + " password=" + plant + " " + b,
			a + " " + enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"sub":"x"}`)) + "." + plant + " " + b,
			a + " ghp_" + plant + "0123456789abcdefghij " + b,
			a + " Bearer REDACTED" + plant + " " + b,
			a + " Bearer REDACTED(" + plant + ") " + b,
			a + ` "PUT /v2/r/blobs/uploads/u?_state=` + plant + `&digest=sha256:ab HTTP/1.1" ` + b,
		} {
			noPlant(t, "Text", in, idempotent(t, "Text", Text, in))
		}
		// Inputs that already carry the planted secret in base64 are not
		// Basic credentials Text has to find.
		if _, ok := base64Hides(a+" "+b, plant); ok {
			return
		}
		for _, user := range []string{"alice", a} {
			in := a + " " + basic(user, b+plant) + " " + b
			got := idempotent(t, "Text", Text, in)
			noPlant(t, "Text", in, got)
			noBasicPassword(t, "Text", in, got, user, b+plant)
		}
	})
}

// FuzzJSONScan: the fast reading of a JSON body edits it exactly as the
// decoder's reading does, for any input either takes.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{"token":"abc","n":1}`, `{"a":[{"Password":12}],"b":"https://h/x?sig=1"}`, `[1,"two",{"3":null}]`,
		`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"a/b","Action":"pull"}]}]}`,
		` {"access_token" : "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" , "x":[true,false,null,-1.5e3]} `, `"a\"b\\c\u00e9\ud83d\ude00"`,
		`{"auth":{"password":["p",{"q":1}],"u":"v"},"refresh_token":7}`, `1 2`, `{"a":1}{"b":2}`, `{"a":`, `{"a" 1}`, ``, `  `, `[]`, `{}`,
		`{"\u0074oken":"x"}`, `{"log":"{\"access_token\":\"x\"}"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		slow, okSlow := jsonEdits(body, false)
		fast, okFast := jsonEdits(body, true)
		if okSlow != okFast || !slices.Equal(slow, fast) {
			t.Fatalf("%q:\n fast %v %+v\n decoder %v %+v", body, okFast, fast, okSlow, slow)
		}
	})
}

// indexFoldByScan is indexFold as a plain scan: the oracle.
func indexFoldByScan(s, sub string, pos int) int {
	for i := pos; i+len(sub) <= len(s); i++ {
		if asciiLower(s[i:i+len(sub)]) == sub {
			return i
		}
	}
	return len(s)
}

func TestIndexFold(t *testing.T) {
	subs := []string{"authorization", "cookie", "basic", "bearer", "set-", "a", "zz"}
	for _, s := range []string{"", "x", "Authorization: Bearer x", "AUTHORIZATIONAUTHORIZATIOn", "authorizatio", "basibasic BASIC bAsIc",
		"may require authorization: server message", "Set-Cookie: a=b; cookie", "aaaaz zZ", "bearerbearer", "bbasic", "xbBearer", "cookiEcOoKiE", "\xffbasic\u00e9Bearer"} {
		// A long text is searched otherwise than a short one.
		for _, s := range []string{s, strings.Repeat("b-", 40) + s + strings.Repeat("Z", 70)} {
			for _, sub := range subs {
				for pos := 0; pos <= len(s)+1; pos++ {
					if got, want := indexFold(s, sub, pos), indexFoldByScan(s, sub, pos); got != want {
						t.Errorf("indexFold(%q, %q, %d) = %d, want %d", s, sub, pos, got, want)
					}
				}
			}
		}
	}
}

func FuzzIndexFold(f *testing.F) {
	f.Add("Authorization: Bearer x; BASIC basic", "bearer", 3)
	f.Add("Set-Cookie: a", "set-", 0)
	f.Fuzz(func(t *testing.T, s, sub string, pos int) {
		sub = asciiLower(sub)
		if sub == "" || pos < 0 || pos > len(s) {
			return
		}
		if got, want := indexFold(s, sub, pos), indexFoldByScan(s, sub, pos); got != want {
			t.Errorf("indexFold(%q, %q, %d) = %d, want %d", s, sub, pos, got, want)
		}
	})
}
