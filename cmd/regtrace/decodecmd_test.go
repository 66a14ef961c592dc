package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func runStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	app := newApp(&out, &errb)
	app.Reader = strings.NewReader(stdin)
	code := runApp(context.Background(), app, append([]string{"regtrace"}, args...))
	return code, out.String(), errb.String()
}

func TestDecodeChallenge(t *testing.T) {
	h := `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull",error="insufficient_scope"`
	code, out, _ := runCLI(t, "decode", "challenge", h)
	for _, want := range []string{"challenge 1: Bearer", "realm:", "https://auth.docker.io/token", "name library/nginx, actions pull", "insufficient_scope"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("decode challenge: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = runCLI(t, "decode", "challenge", "--json", "WWW-Authenticate: "+h+`, Basic realm="r"`)
	var got []struct {
		Scheme string
		Params map[string]string
		Scopes []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got) != 2 || got[0].Params["service"] != "registry.docker.io" || got[1].Scheme != "Basic" || got[0].Scopes[0].Name != "library/nginx" {
		t.Errorf("decode challenge --json: exit %d err %v: %s", code, err, out)
	}
	code, _, errb := runCLI(t, "decode", "challenge", `Bearer realm="unterminated`)
	if code != 1 || !strings.Contains(errb, "WWW-Authenticate") || !strings.Contains(errb, "at byte") {
		t.Errorf("malformed challenge: exit %d, %q", code, errb)
	}
	if code, _, _ := runCLI(t, "decode", "challenge"); code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}

// A broken header still shows what could be read, with every problem, and
// exits 1 with the first problem.
func TestDecodeChallengeShowsWhatParsedBeforeTheBreak(t *testing.T) {
	for _, c := range []struct {
		name, in string
		out      []string
		errb     string
	}{
		{
			name: "unterminated service",
			in:   `Bearer realm="https://a/token",service="reg`,
			out:  []string{"challenge 1: Bearer", "realm:             https://a/token", `problem: at byte 39: quoted-string not terminated: the value of auth-param "service"`},
			errb: "at byte 39: quoted-string not terminated",
		},
		{
			name: "empty service, then a second challenge",
			in:   `Bearer realm="https://auth.example/token",service=, Basic realm="r"`,
			out:  []string{"challenge 1: Bearer", "https://auth.example/token", "challenge 2: Basic", `problem: at byte 50: auth-param "service" has no value`},
			errb: `at byte 50: auth-param "service" has no value`,
		},
		{
			name: "two problems",
			in:   `Bearer realm="r",service=,scope="x`,
			out:  []string{"challenge 1: Bearer", `problem: at byte 25: auth-param "service"`, `problem: at byte 32: quoted-string not terminated`},
			errb: "(and 1 more problems)",
		},
		{
			name: "nothing readable",
			in:   `"""`,
			out:  []string{"no challenge could be read", `problem: at byte 0:`},
			errb: "at byte 0",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errb := runCLI(t, "decode", "challenge", c.in)
			for _, want := range c.out {
				if !strings.Contains(out, want) {
					t.Errorf("decode challenge %q: output lacks %q:\n%s", c.in, want, out)
				}
			}
			if code != 1 || !strings.Contains(errb, c.errb) {
				t.Errorf("decode challenge %q: exit %d, stderr %q; want 1 and %q", c.in, code, errb, c.errb)
			}
		})
	}
	code, out, _ := runCLI(t, "decode", "challenge", "--json", `Bearer realm="https://a/token",service="reg`)
	var got []struct {
		Scheme string
		Params map[string]string
	}
	if err := json.Unmarshal([]byte(out), &got); code != 1 || err != nil || len(got) != 1 || got[0].Params["realm"] != "https://a/token" {
		t.Errorf("decode challenge --json of a broken header: exit %d, err %v, output %s; want exit 1 and the realm", code, err, out)
	}
}

func TestDecodeScope(t *testing.T) {
	code, out, _ := runCLI(t, "decode", "scope", "repository:registry.test:5000/team/app:pull,push")
	if code != 0 || !strings.Contains(out, "name:    registry.test:5000/team/app") || !strings.Contains(out, "actions: pull, push") {
		t.Errorf("decode scope: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "decode", "scope", "--json", "repository(plugin):a/b:pull")
	if code != 0 || !strings.Contains(out, `"class": "plugin"`) {
		t.Errorf("decode scope --json: %d\n%s", code, out)
	}
	code, _, errb := runCLI(t, "decode", "scope", "nginx:pull")
	if code != 1 || !strings.Contains(errb, "scope") {
		t.Errorf("bad scope: exit %d %q", code, errb)
	}
}

func TestDecodeScopeList(t *testing.T) {
	for _, c := range []struct {
		name, in string
		code     int
		out      []string
	}{
		{
			name: "OAuth2 form field",
			in:   "scope=repository:a:pull repository:b:pull,push",
			out:  []string{"scope 1: repository:a:pull", "name:    a", "scope 2: repository:b:pull,push", "actions: pull, push"},
		},
		{
			name: "form-encoded body",
			in:   "scope=repository%3Aa%3Apull+repository%3A%5B%3A%3A1%5D%3A5000%2Fb%3Apush",
			out:  []string{"scope 1: repository:a:pull", "scope 2: repository:[::1]:5000/b:push", "name:    [::1]:5000/b"},
		},
		{
			name: "IPv6 host",
			in:   "repository:[::1]:5000/foo:pull",
			out:  []string{"name:    [::1]:5000/foo", "actions: pull"},
		},
		{
			name: "a bad scope in a list",
			in:   "repository:a:pull bogus repository:b:push",
			code: 1,
			out:  []string{"scope 1: repository:a:pull", "scope 2: repository:b:push", `problem: scope "bogus": want type:name:actions`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runCLI(t, "decode", "scope", c.in)
			if code != c.code {
				t.Errorf("decode scope %q: exit %d, want %d", c.in, code, c.code)
			}
			for _, want := range c.out {
				if !strings.Contains(out, want) {
					t.Errorf("decode scope %q: output lacks %q:\n%s", c.in, want, out)
				}
			}
		})
	}
	code, out, _ := runCLI(t, "decode", "scope", "--json", "repository:a:pull repository:[::1]:5000/b:push")
	var got []struct{ Name string }
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got) != 2 || got[1].Name != "[::1]:5000/b" {
		t.Errorf("decode scope --json of a list: exit %d, err %v, output %s; want an array of two", code, err, out)
	}
	if code, _, _ := runCLI(t, "decode", "scope", " "); code != 2 {
		t.Errorf("decode scope of white space: exit %d, want 2", code)
	}
}

func TestDecodeJWT(t *testing.T) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "auth.test", "sub": "alice", "aud": "registry.test",
		"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(),
		"access": []map[string]any{{"type": "repository", "name": "team/app", "actions": []string{"pull"}}},
	}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	code, out, _ := runStdin(t, "Bearer "+tok+"\n", "decode", "jwt", "-")
	for _, want := range []string{"alg HS256", "sub:     alice", "ago)", "repository:team/app:pull", "signature not verified"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("decode jwt -: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, sig) {
		t.Error("the signature was printed")
	}
	code, out, _ = runCLI(t, "decode", "jwt", "--json", tok)
	var got struct {
		Sub      string
		Access   []struct{ Name string }
		Verified bool `json:"signatureVerified"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Sub != "alice" || len(got.Access) != 1 || got.Verified {
		t.Errorf("decode jwt --json: %d %v\n%s", code, err, out)
	}
	code, _, errb := runCLI(t, "decode", "jwt", "ghp_0123456789abcdef0123456789abcdef0123")
	if code != 1 || !strings.Contains(errb, "not a JWT") || strings.Contains(errb, "ghp_0123") {
		t.Errorf("opaque token: exit %d %q", code, errb)
	}
	// Claims of the wrong type are shown as problems; a malformed access
	// claim is not "no access claim" nor "grants nothing".
	bad, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "aud": 42, "exp": "soon",
		"access": map[string]any{"type": "repository", "name": "team/app", "actions": []string{"pull"}},
	}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "decode", "jwt", bad)
	for _, want := range []string{
		"access:  malformed (see the problems below): cannot tell what this token grants",
		`problem: claim "aud" is a JSON number (42), not a string or an array of strings`,
		`problem: claim "exp" is a JSON string ("soon"), not a NumericDate`,
		`problem: claim "access" is a JSON object, not an array`,
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("decode jwt of wrong claim types: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "grants nothing") || strings.Contains(out, "no access claim") {
		t.Errorf("decode jwt of a malformed access claim reads it as absent or empty:\n%s", out)
	}
	code, out, _ = runCLI(t, "decode", "jwt", "--json", bad)
	var badGot struct {
		HasAccess       bool
		AccessMalformed bool
		Issues          []string
	}
	if err := json.Unmarshal([]byte(out), &badGot); code != 0 || err != nil || badGot.HasAccess || !badGot.AccessMalformed || len(badGot.Issues) != 3 {
		t.Errorf("decode jwt --json of wrong claim types: exit %d, err %v, %+v; want accessMalformed and 3 issues\n%s", code, err, badGot, out)
	}
	code, _, errb = runCLI(t, "decode", "jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi.sig")
	if code != 1 || !strings.Contains(errb, "JWT") {
		t.Errorf("corrupt JWT: exit %d %q", code, errb)
	}
}
