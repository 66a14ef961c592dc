package render

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
)

func TestChallenges(t *testing.T) {
	for _, c := range []struct {
		name     string
		chs      []decode.Challenge
		problems []decode.Issue
		format   string
		want     string
	}{
		{
			name: "a Bearer challenge refusing the token sent",
			chs: []decode.Challenge{{Scheme: "Bearer", Params: map[string]string{
				"realm": "https://auth.test/token", "service": "registry.test",
				"scope": "repository:team/app:pull,push", "error": "insufficient_scope",
			}}},
			format: "text",
			want: `challenge 1: Bearer
  realm:             https://auth.test/token
  service:           registry.test
  scope:             repository:team/app:pull,push
  error:             insufficient_scope
  scope: type repository, name team/app, actions pull,push
  meaning: get a token from https://auth.test/token for service "registry.test"; the token sent was refused: insufficient_scope
`,
		},
		{
			name: "Docker Hub asking for a one-component repository name",
			chs: []decode.Challenge{{Scheme: "Bearer", Params: map[string]string{
				"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:nginx:pull",
			}}},
			format: "text",
			want: `challenge 1: Bearer
  realm:             https://auth.docker.io/token
  service:           registry.docker.io
  scope:             repository:nginx:pull
  scope: type repository, name nginx, actions pull
  note: on Docker Hub the repository is library/nginx; a token for "nginx" grants nothing
  meaning: get a token from https://auth.docker.io/token for service "registry.docker.io"
`,
		},
		{
			name: "a one-component name on another registry has no note",
			chs: []decode.Challenge{{Scheme: "Bearer", Params: map[string]string{
				"realm": "https://auth.test/token", "scope": "repository:nginx:pull",
			}}},
			format: "text",
			want: `challenge 1: Bearer
  realm:             https://auth.test/token
  scope:             repository:nginx:pull
  scope: type repository, name nginx, actions pull
  meaning: get a token from https://auth.test/token for service ""
`,
		},
		{
			name: "a malformed header: what was read, then every problem",
			chs: []decode.Challenge{
				{Scheme: "Bearer", Params: map[string]string{"realm": "https://auth.test/token"}},
				{Scheme: "Basic", Params: map[string]string{"realm": "r"}},
			},
			problems: []decode.Issue{
				{Where: "WWW-Authenticate", What: `at byte 39: auth-param "service" has no value`, Raw: "…"},
				{Where: "WWW-Authenticate", What: "at byte 52: quoted-string not terminated", Raw: "…"},
			},
			format: "text",
			want: `challenge 1: Bearer
  realm:             https://auth.test/token
  meaning: get a token from https://auth.test/token for service ""
challenge 2: Basic
  realm:             r
problem: at byte 39: auth-param "service" has no value
problem: at byte 52: quoted-string not terminated
`,
		},
		{
			name:     "a header of which nothing could be read",
			problems: []decode.Issue{{Where: "WWW-Authenticate", What: `at byte 0: "\"" cannot start a challenge`}},
			format:   "text",
			want: `no challenge could be read
problem: at byte 0: "\"" cannot start a challenge
`,
		},
		{
			name: "a scope parameter with a bad scope, other parameters sorted, a token68",
			chs: []decode.Challenge{
				{Scheme: "Bearer", Params: map[string]string{
					"realm": "https://auth.test/token", "scope": "repository:a:pull bogus", "zeta": "z", "alpha": "a",
				}},
				{Scheme: "Negotiate", Token68: "abc123=="},
			},
			format: "text",
			want: `challenge 1: Bearer
  realm:             https://auth.test/token
  scope:             repository:a:pull bogus
  alpha:             a
  zeta:              z
  scope: type repository, name a, actions pull
  problem: want type:name:actions: bogus
  meaning: get a token from https://auth.test/token for service ""
challenge 2: Negotiate
  token68: abc123==
`,
		},
		{
			name: "JSON: parameters, parsed scopes and scope problems, not the header's problems",
			chs: []decode.Challenge{
				{Scheme: "Bearer", Params: map[string]string{"realm": "https://auth.test/token", "scope": "repository:a:pull bogus"}},
				{Scheme: "Basic", Params: map[string]string{"realm": "r"}},
			},
			problems: []decode.Issue{{Where: "WWW-Authenticate", What: "at byte 9: something"}},
			format:   "json",
			want: `[
  {
    "scheme": "Bearer",
    "params": {
      "realm": "https://auth.test/token",
      "scope": "repository:a:pull bogus"
    },
    "scopes": [
      {
        "type": "repository",
        "name": "a",
        "actions": [
          "pull"
        ]
      }
    ],
    "issues": [
      "want type:name:actions: bogus"
    ]
  },
  {
    "scheme": "Basic",
    "params": {
      "realm": "r"
    }
  }
]
`,
		},
		{
			name:     "JSON of a header of which nothing could be read",
			problems: []decode.Issue{{Where: "WWW-Authenticate", What: "at byte 0: something"}},
			format:   "json",
			want:     "null\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := Challenges(&b, c.chs, c.problems, c.format); err != nil {
				t.Fatalf("Challenges: %v", err)
			}
			if got := b.String(); got != c.want {
				t.Errorf("Challenges(%s):\n--- got\n%s\n--- want\n%s", c.format, got, c.want)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	pull := decode.Scope{Type: "repository", Name: "team/app", Actions: []string{"pull"}}
	plugin := decode.Scope{Type: "repository", Class: "plugin", Name: "registry.test:5000/a", Actions: []string{"pull", "push"}}
	bogus := errors.New(`scope "bogus": want type:name:actions`)
	for _, c := range []struct {
		name     string
		one      *decode.Scope // Scope, not Scopes
		scopes   []decode.Scope
		problems []error
		format   string
		want     string
	}{
		{
			name:   "one scope with a class",
			one:    &plugin,
			format: "text",
			want: `type:    repository
class:   plugin
name:    registry.test:5000/a
actions: pull, push
`,
		},
		{
			name:   "one scope in JSON is an object",
			one:    &plugin,
			format: "json",
			want: `{
  "type": "repository",
  "class": "plugin",
  "name": "registry.test:5000/a",
  "actions": [
    "pull",
    "push"
  ]
}
`,
		},
		{
			name:     "a list: each scope numbered, then the ones that do not parse",
			scopes:   []decode.Scope{pull, plugin},
			problems: []error{bogus},
			format:   "text",
			want: `scope 1: repository:team/app:pull
type:    repository
name:    team/app
actions: pull

scope 2: repository(plugin):registry.test:5000/a:pull,push
type:    repository
class:   plugin
name:    registry.test:5000/a
actions: pull, push
problem: scope "bogus": want type:name:actions
`,
		},
		{
			name:     "a list of which one scope parsed is still a list",
			scopes:   []decode.Scope{pull},
			problems: []error{bogus},
			format:   "text",
			want: `scope 1: repository:team/app:pull
type:    repository
name:    team/app
actions: pull
problem: scope "bogus": want type:name:actions
`,
		},
		{
			name:     "a list in JSON is an array, without the problems",
			scopes:   []decode.Scope{pull},
			problems: []error{bogus},
			format:   "json",
			want: `[
  {
    "type": "repository",
    "name": "team/app",
    "actions": [
      "pull"
    ]
  }
]
`,
		},
		{
			name:     "a list of which nothing parsed is an empty array in JSON",
			problems: []error{bogus, bogus},
			format:   "json",
			want:     "[]\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			var err error
			if c.one != nil {
				err = Scope(&b, *c.one, c.format)
			} else {
				err = Scopes(&b, c.scopes, c.problems, c.format)
			}
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if got := b.String(); got != c.want {
				t.Errorf("%s output:\n--- got\n%s\n--- want\n%s", c.format, got, c.want)
			}
		})
	}
}

func TestToken(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	full := &decode.Token{JWT: true,
		Header: &decode.JWTHeader{Alg: "RS256", Kid: "ABCD:EFGH", Typ: "JWT", X5C: true},
		Claims: &decode.Claims{
			Issuer: "auth.test", Subject: "alice", Audience: []string{"r1", "r2"},
			ExpiresAt: now.Add(5 * time.Minute), NotBefore: now, IssuedAt: now.Add(-90 * time.Second), JTI: "j1",
			Access:    []decode.Scope{{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}}},
			HasAccess: true,
		},
	}
	malformed := &decode.Token{JWT: true,
		Header: &decode.JWTHeader{Alg: "HS256"},
		Claims: &decode.Claims{
			Subject:         "alice",
			Access:          []decode.Scope{{Type: "repository", Name: "a", Actions: []string{"pull"}}},
			AccessMalformed: true,
			Issues: []decode.Issue{{Where: "JWT claims",
				What: `claim "access" entry 1 is a JSON number (7), not an object: what the token grants cannot be told`}},
		},
	}
	bare := func(hasAccess bool) *decode.Token {
		return &decode.Token{JWT: true, Header: &decode.JWTHeader{Alg: "HS256"}, Claims: &decode.Claims{HasAccess: hasAccess}}
	}
	for _, c := range []struct {
		name   string
		tok    *decode.Token
		format string
		want   string
	}{
		{
			name:   "every claim, times against now",
			tok:    full,
			format: "text",
			want: `header:  alg RS256, kid ABCD:EFGH, x5c chain present
iss:     auth.test
sub:     alice
aud:     r1, r2
exp:     2024-05-01T12:05:00Z (in 5m0s)
nbf:     2024-05-01T12:00:00Z (now)
iat:     2024-05-01T11:58:30Z (1m30s ago)
jti:     j1
access:
  repository:team/app:pull,push
(signature not verified)
`,
		},
		{
			name:   "a malformed access claim cannot tell what the token grants",
			tok:    malformed,
			format: "text",
			want: `header:  alg HS256
sub:     alice
access:  malformed (see the problems below): cannot tell what this token grants
  readable entry: repository:a:pull
problem: claim "access" entry 1 is a JSON number (7), not an object: what the token grants cannot be told
(signature not verified)
`,
		},
		{
			name:   "no access claim",
			tok:    bare(false),
			format: "text",
			want: `header:  alg HS256
access:  (no access claim)
(signature not verified)
`,
		},
		{
			name:   "an empty access claim grants nothing",
			tok:    bare(true),
			format: "text",
			want: `header:  alg HS256
access:  [] — this token grants nothing
(signature not verified)
`,
		},
		{
			name:   "JSON of every claim",
			tok:    full,
			format: "json",
			want: `{
  "alg": "RS256",
  "kid": "ABCD:EFGH",
  "typ": "JWT",
  "x5c": true,
  "iss": "auth.test",
  "sub": "alice",
  "aud": [
    "r1",
    "r2"
  ],
  "exp": "2024-05-01T12:05:00Z",
  "nbf": "2024-05-01T12:00:00Z",
  "iat": "2024-05-01T11:58:30Z",
  "jti": "j1",
  "access": [
    {
      "type": "repository",
      "name": "team/app",
      "actions": [
        "pull",
        "push"
      ]
    }
  ],
  "hasAccess": true,
  "signatureVerified": false
}
`,
		},
		{
			name:   "JSON of a malformed access claim",
			tok:    malformed,
			format: "json",
			want: `{
  "alg": "HS256",
  "x5c": false,
  "sub": "alice",
  "access": [
    {
      "type": "repository",
      "name": "a",
      "actions": [
        "pull"
      ]
    }
  ],
  "hasAccess": false,
  "accessMalformed": true,
  "issues": [
    "claim \"access\" entry 1 is a JSON number (7), not an object: what the token grants cannot be told"
  ],
  "signatureVerified": false
}
`,
		},
		{
			name:   "JSON of no access claim: an empty array, and hasAccess false",
			tok:    bare(false),
			format: "json",
			want: `{
  "alg": "HS256",
  "x5c": false,
  "access": [],
  "hasAccess": false,
  "signatureVerified": false
}
`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := Token(&b, c.tok, now, c.format); err != nil {
				t.Fatalf("Token: %v", err)
			}
			if got := b.String(); got != c.want {
				t.Errorf("Token(%s):\n--- got\n%s\n--- want\n%s", c.format, got, c.want)
			}
		})
	}
}

func TestDecodeRenderersRefuse(t *testing.T) {
	opaque := &decode.Token{ID: "len=40,sha256:b16856bc"}
	s := decode.Scope{Type: "repository", Name: "a", Actions: []string{"pull"}}
	for _, c := range []struct {
		name string
		run  func(*strings.Builder) error
	}{
		{"an unknown format for challenges", func(b *strings.Builder) error { return Challenges(b, nil, nil, "markdown") }},
		{"an unknown format for a scope", func(b *strings.Builder) error { return Scope(b, s, "yaml") }},
		{"an unknown format for scopes", func(b *strings.Builder) error { return Scopes(b, nil, nil, "") }},
		{"an unknown format for a token", func(b *strings.Builder) error { return Token(b, nil, time.Time{}, "xml") }},
		{"an opaque token", func(b *strings.Builder) error { return Token(b, opaque, time.Time{}, "text") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			err := c.run(&b)
			if err == nil {
				t.Errorf("got no error, want one")
			}
			if b.Len() != 0 {
				t.Errorf("got output %q, want none", b.String())
			}
		})
	}
}
