package decode

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// ch builds a challenge with parameters given as name, value pairs.
func ch(scheme string, kv ...string) Challenge {
	c := Challenge{Scheme: scheme}
	for i := 0; i+1 < len(kv); i += 2 {
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params[kv[i]] = kv[i+1]
	}
	return c
}

func t68(scheme, token string) Challenge { return Challenge{Scheme: scheme, Token68: token} }

func challengeEqual(a, b Challenge) bool {
	return a.Scheme == b.Scheme && a.Token68 == b.Token68 && maps.Equal(a.Params, b.Params)
}

func challengesEqual(a, b []Challenge) bool {
	return slices.EqualFunc(a, b, challengeEqual)
}

// showChallenges prints challenges with their fields, for failure messages
// (String would hide a token68 next to parameters).
func showChallenges(cs []Challenge) string {
	var parts []string
	for _, c := range cs {
		keys := slices.Sorted(maps.Keys(c.Params))
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("%s=%q", k, c.Params[k]))
		}
		s := fmt.Sprintf("{Scheme:%q", c.Scheme)
		if c.Token68 != "" {
			s += fmt.Sprintf(" Token68:%q", c.Token68)
		}
		if len(kv) > 0 {
			s += " " + strings.Join(kv, " ")
		}
		parts = append(parts, s+"}")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func issueWhats(issues []Issue) []string {
	var w []string
	for _, is := range issues {
		w = append(w, is.What)
	}
	return w
}

var challengeTests = []struct {
	name string
	in   []string
	want []Challenge
	// issues are the Whats of the Issues, in order, each matched as a
	// prefix (so a case pins the offset and the gist, not every word).
	issues []string
}{
	// Real registries.
	{
		name: "Docker Hub",
		in:   []string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.docker.io/token", "service", "registry.docker.io", "scope", "repository:library/nginx:pull")},
	},
	{
		name: "GHCR",
		in:   []string{`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"`},
		want: []Challenge{ch("Bearer", "realm", "https://ghcr.io/token", "service", "ghcr.io", "scope", "repository:user/image:pull")},
	},
	{
		name: "ECR asks for Basic",
		in:   []string{`Basic realm="https://123.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"`},
		want: []Challenge{ch("Basic", "realm", "https://123.dkr.ecr.us-east-1.amazonaws.com/", "service", "ecr.amazonaws.com")},
	},
	{
		name: "Harbor",
		in:   []string{`Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:library/nginx:pull,push"`},
		want: []Challenge{ch("Bearer", "realm", "https://harbor.example.com/service/token", "service", "harbor-registry", "scope", "repository:library/nginx:pull,push")},
	},
	{
		name: "Quay ping",
		in:   []string{`Bearer realm="https://quay.io/v2/auth",service="quay.io"`},
		want: []Challenge{ch("Bearer", "realm", "https://quay.io/v2/auth", "service", "quay.io")},
	},
	{
		name: "GitLab",
		in:   []string{`Bearer realm="https://gitlab.example.com/jwt/auth",service="container_registry",scope="repository:group/project:push,pull"`},
		want: []Challenge{ch("Bearer", "realm", "https://gitlab.example.com/jwt/auth", "service", "container_registry", "scope", "repository:group/project:push,pull")},
	},
	{
		name: "Nexus shouts BASIC",
		in:   []string{`BASIC realm="Sonatype Nexus Repository Manager"`},
		want: []Challenge{ch("BASIC", "realm", "Sonatype Nexus Repository Manager")},
	},
	{
		name: "distribution insufficient_scope",
		in:   []string{`Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:foo/bar:pull,push",error="insufficient_scope"`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.example.com/token", "service", "registry.example.com", "scope", "repository:foo/bar:pull,push", "error", "insufficient_scope")},
	},
	{
		name: "distribution invalid_token",
		in:   []string{`Bearer realm="https://auth.example.com/token",service="registry.example.com",error="invalid_token"`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.example.com/token", "service", "registry.example.com", "error", "invalid_token")},
	},
	{
		name: "RFC 6750 error_description",
		in:   []string{`Bearer realm="example", error="invalid_token", error_description="The access token expired"`},
		want: []Challenge{ch("Bearer", "realm", "example", "error", "invalid_token", "error_description", "The access token expired")},
	},
	{
		name: "RFC 9110 example with two challenges and an escaped quote",
		in:   []string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
		want: []Challenge{ch("Newauth", "realm", "apps", "type", "1", "title", `Login to "apps"`), ch("Basic", "realm", "simple")},
	},

	// Lists of challenges.
	{
		name: "several challenges in one header",
		in:   []string{`Basic realm="x", Bearer realm="y",service="z"`},
		want: []Challenge{ch("Basic", "realm", "x"), ch("Bearer", "realm", "y", "service", "z")},
	},
	{
		name: "challenges across header lines",
		in:   []string{`Basic realm="x"`, `Bearer realm="y",service="z"`, `Negotiate`},
		want: []Challenge{ch("Basic", "realm", "x"), ch("Bearer", "realm", "y", "service", "z"), ch("Negotiate")},
	},
	{
		name: "a parameter on the next line does not join the last challenge",
		in:   []string{`Bearer realm="y"`, `service="z"`},
		want: []Challenge{ch("Bearer", "realm", "y")},
		issues: []string{
			`at byte 0: auth-param "service" has no auth-scheme before it`,
		},
	},
	{
		name: "schemes without parameters",
		in:   []string{`Negotiate, NTLM`},
		want: []Challenge{ch("Negotiate"), ch("NTLM")},
	},
	{
		name: "empty header",
		in:   []string{``},
	},
	{
		name: "no header lines at all",
	},
	{
		name: "only commas and spaces",
		in:   []string{` ,, , `},
	},
	{
		name: "empty list elements between and inside challenges",
		in:   []string{`,Basic realm="x",,, Bearer ,realm="y",, service="z",`},
		want: []Challenge{ch("Basic", "realm", "x"), ch("Bearer", "realm", "y", "service", "z")},
	},

	// Quoted strings.
	{
		name: "comma inside a quoted scope",
		in:   []string{`Bearer scope="repository:a:pull,push",service="s"`},
		want: []Challenge{ch("Bearer", "scope", "repository:a:pull,push", "service", "s")},
	},
	{
		name: "realm with = and , inside quotes",
		in:   []string{`Bearer realm="https://auth.example.com/token?a=b,c=d",service="s"`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.example.com/token?a=b,c=d", "service", "s")},
	},
	{
		name: "escaped quotes and backslashes",
		in:   []string{`Bearer realm="a\"b\\c\d",service="\\"`},
		want: []Challenge{ch("Bearer", "realm", `a"b\cd`, "service", `\`)},
	},
	{
		name: "empty quoted value",
		in:   []string{`Bearer realm="",service=""`},
		want: []Challenge{ch("Bearer", "realm", "", "service", "")},
	},
	{
		name: "unterminated quoted string keeps what parsed",
		in:   []string{`Bearer service="s",realm="https://auth`},
		want: []Challenge{ch("Bearer", "service", "s")},
		issues: []string{
			`at byte 25: quoted-string not terminated`,
		},
	},
	{
		name: "quoted string ending in a lone backslash",
		in:   []string{`Bearer realm="x\`},
		want: []Challenge{ch("Bearer")},
		issues: []string{
			`at byte 13: quoted-string not terminated: the value of auth-param "realm" ends in a lone backslash`,
		},
	},
	{
		name: "empty last value keeps the realm",
		in:   []string{`Bearer realm="https://auth.example/token",service=`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.example/token")},
		issues: []string{
			`at byte 50: auth-param "service" has no value`,
		},
	},
	{
		name: "empty value between parameters keeps both neighbours",
		in:   []string{`Bearer realm="r", service = , scope="repository:a:pull"`},
		want: []Challenge{ch("Bearer", "realm", "r", "scope", "repository:a:pull")},
		issues: []string{
			`at byte 28: auth-param "service" has no value`,
		},
	},
	{
		name: "empty value then a second challenge",
		in:   []string{`Bearer realm="x",service=, Basic realm="y"`},
		want: []Challenge{ch("Bearer", "realm", "x"), ch("Basic", "realm", "y")},
		issues: []string{
			`at byte 25: auth-param "service" has no value`,
		},
	},
	{
		name: "unterminated last value keeps the realm",
		in:   []string{`Bearer realm="https://a/token",service="reg`},
		want: []Challenge{ch("Bearer", "realm", "https://a/token")},
		issues: []string{
			`at byte 39: quoted-string not terminated: the value of auth-param "service" has no closing quote in the 4 bytes to the end`,
		},
	},
	{
		name: "unterminated value in a second challenge keeps the first whole",
		in:   []string{`Basic realm="b", Bearer realm="https://a/token",scope="repository:a:pull`},
		want: []Challenge{ch("Basic", "realm", "b"), ch("Bearer", "realm", "https://a/token")},
		issues: []string{
			`at byte 54: quoted-string not terminated: the value of auth-param "scope"`,
		},
	},
	{
		name: "trailing backslash after an escape keeps the parameters before",
		in:   []string{`Bearer realm="r",service="s",scope="a\"b\`},
		want: []Challenge{ch("Bearer", "realm", "r", "service", "s")},
		issues: []string{
			`at byte 35: quoted-string not terminated: the value of auth-param "scope" ends in a lone backslash`,
		},
	},
	{
		name: "escaped backslash before the closing quote is no lone backslash",
		in:   []string{`Bearer realm="r\\",service="s"`},
		want: []Challenge{ch("Bearer", "realm", `r\`, "service", "s")},
	},
	{
		name: "NUL in an unterminated value",
		in:   []string{"Bearer realm=\"r\",service=\"s\x00"},
		want: []Challenge{ch("Bearer", "realm", "r")},
		issues: []string{
			`at byte 27: control byte "\x00" in quoted-string, the value of auth-param "service"`,
			`at byte 25: quoted-string not terminated: the value of auth-param "service"`,
		},
	},
	{
		name: "NUL in an unquoted value is kept and reported",
		in:   []string{"Bearer realm=r\x00,service=s"},
		want: []Challenge{ch("Bearer", "realm", "r\x00", "service", "s")},
		issues: []string{
			`at byte 14: "\x00" in the unquoted value of auth-param "realm"`,
		},
	},
	{
		name: "NUL as a parameter separator",
		in:   []string{"Bearer realm=\"r\"\x00service=\"s\""},
		want: []Challenge{ch("Bearer", "realm", "r")},
		issues: []string{
			`at byte 16: "\x00" after the value of auth-param "realm"`,
		},
	},
	{
		name: "value cut at the opening quote",
		in:   []string{`Bearer realm="r",service="`},
		want: []Challenge{ch("Bearer", "realm", "r")},
		issues: []string{
			`at byte 25: quoted-string not terminated: the value of auth-param "service" has no closing quote in the 1 bytes`,
		},
	},
	{
		name: "unterminated quote swallows the next challenge",
		in:   []string{`Basic realm="x, Bearer realm="y"`},
		want: []Challenge{ch("Basic", "realm", "x, Bearer realm=")},
		issues: []string{
			`at byte 30: "y" after the value of auth-param "realm"`,
		},
	},

	// Parameters.
	{
		name: "unquoted token values",
		in:   []string{`Bearer realm=example,service=registry.example.com,error=invalid_token`},
		want: []Challenge{ch("Bearer", "realm", "example", "service", "registry.example.com", "error", "invalid_token")},
	},
	{
		name: "unquoted URL is kept whole",
		in:   []string{`Bearer realm=https://auth.example.com/token,service=s`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.example.com/token", "service", "s")},
		issues: []string{
			`at byte 18: ":" in the unquoted value of auth-param "realm"`,
		},
	},
	{
		name: "BWS around =",
		in:   []string{`Bearer realm = "x" , service	=	y`},
		want: []Challenge{ch("Bearer", "realm", "x", "service", "y")},
	},
	{
		name: "tabs as OWS between parameters",
		in:   []string{"Bearer realm=\"x\",\tservice=\"y\"\t,\tscope=\"z\"\t"},
		want: []Challenge{ch("Bearer", "realm", "x", "service", "y", "scope", "z")},
	},
	{
		name: "tab after the scheme",
		in:   []string{"Bearer\trealm=\"x\""},
		want: []Challenge{ch("Bearer", "realm", "x")},
		issues: []string{
			`at byte 6: HTAB after auth-scheme "Bearer"`,
		},
	},
	{
		name: "tab after a bare scheme is OWS",
		in:   []string{"Negotiate\t,\tNTLM\t"},
		want: []Challenge{ch("Negotiate"), ch("NTLM")},
	},
	{
		name: "case-insensitive scheme and parameter names",
		in:   []string{`bearer REALM="https://r",Service="s"`},
		want: []Challenge{ch("bearer", "realm", "https://r", "service", "s")},
	},
	{
		name: "duplicate parameter keeps the first",
		in:   []string{`Bearer realm="first",service="s",Realm="second"`},
		want: []Challenge{ch("Bearer", "realm", "first", "service", "s")},
		issues: []string{
			`at byte 33: auth-param "realm" repeated; the first value is kept`,
		},
	},
	{
		name: "same parameter in two challenges is no duplicate",
		in:   []string{`Basic realm="a", Bearer realm="b"`},
		want: []Challenge{ch("Basic", "realm", "a"), ch("Bearer", "realm", "b")},
	},
	{
		name: "missing = after the first parameter name",
		in:   []string{`Bearer realm "x",service="s"`},
		want: []Challenge{ch("Bearer", "service", "s")},
		issues: []string{
			`at byte 13: missing "=" after auth-param name "realm"`,
		},
	},
	{
		name: "missing = inside quotes does not stop at the quoted comma",
		in:   []string{`Bearer realm"x,y",service="s"`},
		want: []Challenge{ch("Bearer", "service", "s")},
		issues: []string{
			`at byte 12: missing "=" after auth-param name "realm"`,
		},
	},
	{
		name: "missing comma between parameters",
		in:   []string{`Bearer realm="x" service="s",scope="a:b:c"`},
		want: []Challenge{ch("Bearer", "realm", "x", "scope", "a:b:c")},
		issues: []string{
			`at byte 17: "s" after the value of auth-param "realm"`,
		},
	},
	{
		name: "parameter without a value",
		in:   []string{`Bearer service="s",realm=,scope="x"`},
		want: []Challenge{ch("Bearer", "service", "s", "scope", "x")},
		issues: []string{
			`at byte 25: auth-param "realm" has no value`,
		},
	},
	{
		name: "parameter without a scheme",
		in:   []string{`realm="x", Bearer service="s"`},
		want: []Challenge{ch("Bearer", "service", "s")},
		issues: []string{
			`at byte 0: auth-param "realm" has no auth-scheme before it`,
		},
	},
	{
		name: "a bare word after a comma is a new challenge",
		in:   []string{`Bearer realm="x", service`},
		want: []Challenge{ch("Bearer", "realm", "x"), ch("service")},
	},

	// token68.
	{
		name: "Negotiate token68",
		in:   []string{`Negotiate abc==`},
		want: []Challenge{t68("Negotiate", "abc==")},
	},
	{
		name: "token68 with every allowed byte",
		in:   []string{`Negotiate aZ09-._~+/=`},
		want: []Challenge{t68("Negotiate", "aZ09-._~+/=")},
	},
	{
		name: "Bearer takes no token68: abc= is an empty auth-param",
		in:   []string{`Bearer abc=`},
		want: []Challenge{ch("Bearer")},
		issues: []string{
			`at byte 11: auth-param "abc" has no value`,
		},
	},
	{
		name: "Basic takes no token68 either",
		in:   []string{`Basic realm=`},
		want: []Challenge{ch("Basic")},
		issues: []string{
			`at byte 12: auth-param "realm" has no value`,
		},
	},
	{
		name: "another scheme's abc= is a token68",
		in:   []string{`Newauth abc=`},
		want: []Challenge{t68("Newauth", "abc=")},
	},
	{
		name: "Bearer realm=x is a parameter",
		in:   []string{`Bearer realm=x`},
		want: []Challenge{ch("Bearer", "realm", "x")},
	},
	{
		name: "token68 then another challenge",
		in:   []string{`Negotiate YII= , Basic realm="r"`},
		want: []Challenge{t68("Negotiate", "YII="), ch("Basic", "realm", "r")},
	},
	{
		name: "a first Bearer parameter without a value is dropped, the next kept",
		in:   []string{`Bearer realm=,service="s"`},
		want: []Challenge{ch("Bearer", "service", "s")},
		issues: []string{
			`at byte 13: auth-param "realm" has no value`,
		},
	},
	{
		name: "a first parameter without a value reads as a token68 in other schemes",
		in:   []string{`Newauth realm=,service="s"`},
		want: []Challenge{t68("Newauth", "realm=")},
		issues: []string{
			`at byte 15: auth-param "service" follows the token68 of "Newauth"`,
		},
	},
	{
		name: "parameter after a token68",
		in:   []string{`Negotiate abc=, realm="r"`},
		want: []Challenge{t68("Negotiate", "abc=")},
		issues: []string{
			`at byte 16: auth-param "realm" follows the token68 of "Negotiate"`,
		},
	},

	// Garbage.
	{
		name: "element that cannot start a challenge",
		in:   []string{`=x, Basic realm="r"`},
		want: []Challenge{ch("Basic", "realm", "r")},
		issues: []string{
			`at byte 0: "=" cannot start a challenge or an auth-param`,
		},
	},
	{
		name: "scheme glued to a slash is dropped, its parameters join the last challenge",
		in:   []string{`Bearer realm="x", serv/ice="y", scope="a:b:c"`},
		want: []Challenge{ch("Bearer", "realm", "x", "scope", "a:b:c")},
		issues: []string{
			`at byte 22: "/" after "serv": an auth-scheme is followed by SP, a comma or the end`,
		},
	},
	{
		name: "non-ASCII scheme",
		in:   []string{"Béarer realm=\"x\""},
		issues: []string{
			`at byte 1: "\xc3" after "B"`,
		},
	},
	{
		name: "non-ASCII and invalid UTF-8 inside quotes are obs-text",
		in:   []string{"Bearer realm=\"réalm\xff\""},
		want: []Challenge{ch("Bearer", "realm", "réalm\xff")},
	},
	{
		name: "control byte in a quoted string is kept and reported",
		in:   []string{"Bearer realm=\"a\x00b\""},
		want: []Challenge{ch("Bearer", "realm", "a\x00b")},
		issues: []string{
			`at byte 15: control byte "\x00" in quoted-string`,
		},
	},
	{
		name: "garbage after the scheme",
		in:   []string{`Bearer ""`},
		want: []Challenge{ch("Bearer")},
		issues: []string{
			`at byte 7: "\"" after auth-scheme "Bearer": want a token68 or an auth-param`,
		},
	},
	{
		name: "only quotes",
		in:   []string{`"""`},
		issues: []string{
			`at byte 0: "\"" cannot start a challenge or an auth-param`,
		},
	},
}

func TestParseChallenges(t *testing.T) {
	for _, tt := range challengeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, issues := ParseChallenges(tt.in...)
			if !challengesEqual(got, tt.want) {
				t.Errorf("ParseChallenges(%q) = %s, want %s", tt.in, showChallenges(got), showChallenges(tt.want))
			}
			whats := issueWhats(issues)
			ok := len(whats) == len(tt.issues)
			for i := 0; ok && i < len(whats); i++ {
				ok = strings.HasPrefix(whats[i], tt.issues[i])
			}
			if !ok {
				t.Errorf("ParseChallenges(%q) issues = %q, want %q", tt.in, whats, tt.issues)
			}
			for _, is := range issues {
				if is.Where != "WWW-Authenticate" || !slices.Contains(tt.in, is.Raw) {
					t.Errorf("ParseChallenges(%q) issue %+v: want Where WWW-Authenticate and Raw one of the values", tt.in, is)
				}
			}
		})
	}
}

func TestChallengeStringRoundTrips(t *testing.T) {
	for _, tt := range challengeTests {
		got, _ := ParseChallenges(tt.in...)
		for _, c := range got {
			s := c.String()
			again, issues := ParseChallenges(s)
			if len(again) != 1 || !challengeEqual(again[0], c) {
				t.Errorf("%s: ParseChallenges(%q) = %s, want %s", tt.name, s, showChallenges(again), showChallenges([]Challenge{c}))
			}
			if len(issues) > 0 && !strings.Contains(s, "\x00") {
				t.Errorf("%s: ParseChallenges(%q) issues = %q, want none", tt.name, s, issueWhats(issues))
			}
		}
	}
}

func TestChallengeString(t *testing.T) {
	tests := []struct {
		name string
		in   Challenge
		want string
	}{
		{"scheme only", ch("Negotiate"), "Negotiate"},
		{"token68", t68("Negotiate", "abc=="), "Negotiate abc=="},
		{
			"well-known parameters first, the rest sorted",
			ch("Bearer", "zeta", "1", "error_description", "d", "alpha", "2", "error", "e", "scope", "s", "service", "v", "realm", "r"),
			`Bearer realm="r",service="v",scope="s",error="e",error_description="d",alpha="2",zeta="1"`,
		},
		{"quotes and backslashes escaped", ch("Basic", "realm", `say "hi" \o/`), `Basic realm="say \"hi\" \\o/"`},
		{"empty value", ch("Basic", "realm", ""), `Basic realm=""`},
		{"token68 wins over parameters", Challenge{Scheme: "X", Token68: "t", Params: map[string]string{"a": "b"}}, "X t"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%s: String() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseChallengeStrict(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []Challenge
		offset int // -1: no error
		msg    string
	}{
		{"valid", `Bearer realm="r",service="s"`, []Challenge{ch("Bearer", "realm", "r", "service", "s")}, -1, ""},
		{"empty", ``, nil, -1, ""},
		{"first problem is reported", `Bearer realm="r",realm="again",x"`, []Challenge{ch("Bearer", "realm", "r")}, 17, `auth-param "realm" repeated`},
		{"unterminated quote", `Bearer realm="r`, []Challenge{ch("Bearer")}, 13, "quoted-string not terminated"},
		{"parameter without a scheme", `realm="r"`, nil, 0, `auth-param "realm" has no auth-scheme before it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChallenge(tt.in)
			if !challengesEqual(got, tt.want) {
				t.Errorf("ParseChallenge(%q) = %s, want %s", tt.in, showChallenges(got), showChallenges(tt.want))
			}
			if tt.offset < 0 {
				if err != nil {
					t.Errorf("ParseChallenge(%q) error = %v, want nil", tt.in, err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseChallenge(%q) error = %v, want a *ParseError", tt.in, err)
			}
			if pe.Field != "WWW-Authenticate" || pe.Input != tt.in || pe.Offset != tt.offset || !strings.HasPrefix(pe.Err.Error(), tt.msg) {
				t.Errorf("ParseChallenge(%q) error = %+v (%v), want Field WWW-Authenticate, Offset %d, message %q…", tt.in, pe, pe.Err, tt.offset, tt.msg)
			}
		})
	}
}

func TestParseChallengeClipsInput(t *testing.T) {
	in := `Bearer realm="` + strings.Repeat("a", 500)
	_, err := ParseChallenge(in)
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Input) > 125 {
		t.Fatalf("ParseChallenge(long unterminated) error = %v, want a *ParseError with a clipped input", err)
	}
	_, issues := ParseChallenges(in)
	if len(issues) != 1 || len(issues[0].Raw) > 125 {
		t.Errorf("ParseChallenges(long unterminated) issues = %+v, want one with a clipped Raw", issues)
	}
}

// An unterminated 100 KB value: the parameters before it are kept, the one
// Issue quotes a clipped value and names the parameter.
func TestParseChallengesUnterminatedHundredKB(t *testing.T) {
	in := `Bearer realm="https://a/token",service="` + strings.Repeat("x", 100<<10)
	got, issues := ParseChallenges(in)
	if want := []Challenge{ch("Bearer", "realm", "https://a/token")}; !challengesEqual(got, want) {
		t.Errorf("ParseChallenges(100 KB unterminated) = %s, want %s", showChallenges(got), showChallenges(want))
	}
	want := fmt.Sprintf(`at byte 39: quoted-string not terminated: the value of auth-param "service" has no closing quote in the %d bytes to the end`, len(in)-39)
	if len(issues) != 1 || !strings.HasPrefix(issues[0].What, want) || len(issues[0].Raw) > 125 {
		t.Errorf("ParseChallenges(100 KB unterminated) issues = %q, want one %q… with a clipped Raw", issueWhats(issues), want)
	}
}

func TestParseChallengesBoundsIssues(t *testing.T) {
	in := strings.Repeat("=,", 100)
	got, issues := ParseChallenges(in)
	if len(got) != 0 || len(issues) != maxChallengeIssues {
		t.Fatalf("ParseChallenges(%q) = %d challenges, %d issues, want 0 and %d", in, len(got), len(issues), maxChallengeIssues)
	}
	if last := issues[len(issues)-1].What; !strings.HasSuffix(last, "; and 92 more problems") {
		t.Errorf("last issue = %q, want it to count the 92 problems not listed", last)
	}
}

func TestChallengeAccessors(t *testing.T) {
	cs, issues := ParseChallenges(`bearer Realm="https://auth.example.com/token",SERVICE="registry.example.com",scope="repository:foo/bar:pull,push repository:host:5000/x:pull bogus",error="insufficient_scope",error_description="need push"`)
	if len(cs) != 1 || len(issues) != 0 {
		t.Fatalf("parse = %s, %q, want one challenge, no issues", showChallenges(cs), issueWhats(issues))
	}
	c := cs[0]
	for _, tc := range []struct{ name, got, want string }{
		{"Realm()", c.Realm(), "https://auth.example.com/token"},
		{"Service()", c.Service(), "registry.example.com"},
		{"ErrorCode()", c.ErrorCode(), "insufficient_scope"},
		{"ErrorDescription()", c.ErrorDescription(), "need push"},
		{`Param("SCOPE")`, c.Param("SCOPE"), "repository:foo/bar:pull,push repository:host:5000/x:pull bogus"},
		{`Param("absent")`, c.Param("absent"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if !c.IsBearer() || c.IsBasic() {
		t.Errorf("IsBearer, IsBasic = %v, %v, want true, false", c.IsBearer(), c.IsBasic())
	}
	if b := ch("BASIC"); !b.IsBasic() || b.IsBearer() {
		t.Errorf("BASIC: IsBasic, IsBearer = %v, %v, want true, false", b.IsBasic(), b.IsBearer())
	}
	scopes, sissues := c.Scopes()
	var got []string
	for _, s := range scopes {
		got = append(got, s.String())
	}
	want := []string{"repository:foo/bar:pull,push", "repository:host:5000/x:pull"}
	if !slices.Equal(got, want) || len(sissues) != 1 || sissues[0].Raw != "bogus" || sissues[0].Where != "scope" {
		t.Errorf("Scopes() = %q, %+v, want %q and one issue for \"bogus\"", got, sissues, want)
	}
	if s, is := ch("Basic").Scopes(); s != nil || is != nil {
		t.Errorf("Scopes() of a challenge without scope = %v, %v, want nil, nil", s, is)
	}
	var zero Challenge
	if zero.Realm() != "" || zero.String() != "" {
		t.Errorf("zero Challenge: Realm() = %q, String() = %q, want empty", zero.Realm(), zero.String())
	}
}

func BenchmarkParseChallenges(b *testing.B) {
	v := `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`
	for b.Loop() {
		ParseChallenges(v)
	}
}

// An 8 KiB header: a registry that lists many scopes in one challenge (a
// multi-repository push), and 8 KiB of garbage. Both parse in full, the
// garbage with a bounded number of Issues.
func TestParseChallengesEightKiB(t *testing.T) {
	var scopes []string
	for i := 0; len(strings.Join(scopes, " ")) < 8<<10; i++ {
		scopes = append(scopes, fmt.Sprintf("repository:team/app-%03d:pull,push", i))
	}
	h := `Bearer realm="https://auth.test:5001/token",service="registry.test:5000",scope="` + strings.Join(scopes, " ") + `"`
	chs, issues := ParseChallenges(h)
	if len(chs) != 1 || len(issues) != 0 {
		t.Fatalf("8 KiB challenge: %d challenges, issues %v", len(chs), issues)
	}
	got, bad := chs[0].Scopes()
	if len(got) != len(scopes) || len(bad) != 0 || chs[0].Realm() != "https://auth.test:5001/token" {
		t.Errorf("8 KiB challenge: %d scopes of %d, issues %v, realm %q", len(got), len(scopes), bad, chs[0].Realm())
	}
	garbage := strings.Repeat(`a="b" ,=,"\`, 8<<10/10)
	_, issues = ParseChallenges(garbage)
	if len(issues) == 0 || len(issues) > 8 {
		t.Errorf("8 KiB of garbage: %d issues, want 1..8", len(issues))
	}
}
