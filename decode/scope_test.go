package decode

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func scopeEqual(a, b Scope) bool {
	return a.Type == b.Type && a.Class == b.Class && a.Name == b.Name && slices.Equal(a.Actions, b.Actions)
}

func sc(typ, name string, actions ...string) Scope {
	return Scope{Type: typ, Name: name, Actions: actions}
}

var scopeTests = []struct {
	name string
	in   string
	want Scope
	// offset and msg describe the *ParseError when msg is not empty.
	offset int
	msg    string
}{
	{name: "pull", in: "repository:library/nginx:pull", want: sc("repository", "library/nginx", "pull")},
	{name: "pull and push", in: "repository:foo/bar:pull,push", want: sc("repository", "foo/bar", "pull", "push")},
	{name: "catalog with a wildcard", in: "registry:catalog:*", want: sc("registry", "catalog", "*")},
	{name: "delete", in: "repository:foo:delete", want: sc("repository", "foo", "delete")},
	{name: "name with host:port", in: "repository:localhost:5000/foo/bar:pull", want: sc("repository", "localhost:5000/foo/bar", "pull")},
	{name: "name with host:port and several actions", in: "repository:registry.example.com:443/a/b:push,pull", want: sc("repository", "registry.example.com:443/a/b", "push", "pull")},
	{name: "resource class", in: "repository(plugin):vieux/sshfs:pull", want: Scope{Type: "repository", Class: "plugin", Name: "vieux/sshfs", Actions: []string{"pull"}}},
	{name: "repeated action kept once", in: "repository:foo:pull,push,pull", want: sc("repository", "foo", "pull", "push")},
	{name: "name with dots, dashes, underscores and capitals", in: "repository:My.Org/my-image_1:pull", want: sc("repository", "My.Org/my-image_1", "pull")},
	{name: "actions with digits, _ and - as seen in the wild", in: "repository:foo:metadata_read,x-1", want: sc("repository", "foo", "metadata_read", "x-1")},
	{name: "digits in the type", in: "v2:foo:pull", want: sc("v2", "foo", "pull")},
	{name: "name with an IPv6 host and port", in: "repository:[::1]:5000/foo:pull", want: sc("repository", "[::1]:5000/foo", "pull")},
	{name: "name with an IPv6 host without port", in: "repository:[fe80::1]/a/b:push,pull", want: sc("repository", "[fe80::1]/a/b", "push", "pull")},
	{name: "name with a full IPv6 address", in: "repository:[2001:db8:0:0:0:0:0:1]:443/team/app:*", want: sc("repository", "[2001:db8:0:0:0:0:0:1]:443/team/app", "*")},
	{name: "name with an IPv4-mapped IPv6 host", in: "repository:[::ffff:192.0.2.1]:5000/x:pull", want: sc("repository", "[::ffff:192.0.2.1]:5000/x", "pull")},

	{name: "empty", in: "", offset: -1, msg: "want type:name:actions"},
	{name: "no colon", in: "repository", offset: -1, msg: "want type:name:actions"},
	{name: "one colon", in: "repository:foo", offset: -1, msg: "want type:name:actions"},
	{name: "empty type", in: ":foo:pull", offset: 0, msg: `resource type "" is not`},
	{name: "upper-case type", in: "Repository:foo:pull", offset: 0, msg: `resource type "Repository" is not`},
	{name: "empty name", in: "repository::pull", offset: 11, msg: "empty resource name"},
	{name: "space in the name", in: "repository:foo bar:pull", offset: 14, msg: `character ' ' not allowed`},
	{name: "non-ASCII in the name", in: "repository:fé:pull", offset: 12, msg: `character 'é' not allowed`},
	{name: "no actions", in: "repository:foo:", offset: 15, msg: "no actions"},
	{name: "empty action", in: "repository:foo:pull,", offset: 15, msg: `empty action in "pull,"`},
	{name: "upper-case action", in: "repository:foo:PULL", offset: 15, msg: `action "PULL" may hold only`},
	{name: "unclosed class", in: "repository(plugin:foo:pull", offset: 10, msg: "unclosed ( in resource type"},
	{name: "empty class", in: "repository():foo:pull", offset: 11, msg: `resource class "" is not`},
	{name: "nested class", in: "repository(a(b)):foo:pull", offset: 11, msg: `resource class "a(b)" is not`},
	{name: "a list is not one scope", in: "repository:a:pull repository:b:pull,push", offset: 17, msg: `character ' ' not allowed in a resource name: white space separates the scopes of a list`},
	{name: "IPv6 host without a repository", in: "repository:[::1]:5000:pull", offset: 11, msg: `the host "[::1]:5000" must be followed by "/"`},
	{name: "IPv6 host and a slash only", in: "repository:[::1]/:pull", offset: 11, msg: `the host "[::1]" must be followed by "/" and a repository path`},
	{name: "unclosed IPv6 bracket", in: "repository:[::1:5000/foo:pull", offset: 11, msg: `"[" opens an IPv6 host that no "]" closes`},
	{name: "a name in brackets", in: "repository:[registry.test]:5000/foo:pull", offset: 11, msg: `"registry.test" in brackets is not an IPv6 address`},
	{name: "IPv4 in brackets", in: "repository:[192.0.2.1]/foo:pull", offset: 11, msg: `"192.0.2.1" in brackets is not an IPv6 address`},
	{name: "IPv6 zone", in: "repository:[fe80::1%eth0]/foo:pull", offset: 11, msg: `"fe80::1%eth0" in brackets is not an IPv6 address`},
	{name: "colon without a port after the IPv6 host", in: "repository:[::1]:/foo:pull", offset: 11, msg: `no port after the host "[::1]"`},
	{name: "bracket after the host", in: "repository:a/[::1]/b:pull", offset: 13, msg: `character '[' not allowed`},
}

func TestParseScope(t *testing.T) {
	for _, tt := range scopeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if tt.msg == "" {
				if err != nil || !scopeEqual(got, tt.want) {
					t.Errorf("ParseScope(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
				}
				if s := got.String(); err == nil && s != tt.in && !strings.Contains(tt.name, "repeated") {
					t.Errorf("ParseScope(%q).String() = %q, want the input back", tt.in, s)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseScope(%q) = %+v, %v, want a *ParseError", tt.in, got, err)
			}
			if pe.Field != "scope" || pe.Input != tt.in || pe.Offset != tt.offset || !strings.HasPrefix(pe.Err.Error(), tt.msg) {
				t.Errorf("ParseScope(%q) error = %+v (%v), want Field scope, Offset %d, message %q…", tt.in, pe, pe.Err, tt.offset, tt.msg)
			}
		})
	}
}

func TestParseScopes(t *testing.T) {
	in := " repository:a:pull  registry:catalog:*\trepository:Bad:PULL repository:localhost:5000/b:push,pull "
	got, issues := ParseScopes(in)
	want := []Scope{sc("repository", "a", "pull"), sc("registry", "catalog", "*"), sc("repository", "localhost:5000/b", "push", "pull")}
	if !slices.EqualFunc(got, want, scopeEqual) {
		t.Errorf("ParseScopes(%q) = %+v, want %+v", in, got, want)
	}
	if len(issues) != 1 || issues[0].Where != "scope" || issues[0].Raw != "repository:Bad:PULL" || !strings.HasPrefix(issues[0].What, "at byte 15: ") {
		t.Errorf("ParseScopes(%q) issues = %+v, want one for repository:Bad:PULL at byte 15", in, issues)
	}
	for _, c := range []struct {
		name, in string
		want     []Scope
		issues   []string // Raw of each Issue
	}{
		{
			name: "OAuth2 POST form field",
			in:   "repository:a:pull repository:b:pull,push",
			want: []Scope{sc("repository", "a", "pull"), sc("repository", "b", "pull", "push")},
		},
		{
			name: "names with host:port and an IPv6 host",
			in:   "repository:[::1]:5000/foo:pull repository:registry.test:5000/a/b:push",
			want: []Scope{sc("repository", "[::1]:5000/foo", "pull"), sc("repository", "registry.test:5000/a/b", "push")},
		},
		{
			name: "tabs and newlines separate too",
			in:   "repository:a:pull\trepository:b:push\nregistry:catalog:*",
			want: []Scope{sc("repository", "a", "pull"), sc("repository", "b", "push"), sc("registry", "catalog", "*")},
		},
		{
			name:   "a bad scope between good ones",
			in:     "repository:a:pull repository:[::1]:pull repository:b:push",
			want:   []Scope{sc("repository", "a", "pull"), sc("repository", "b", "push")},
			issues: []string{"repository:[::1]:pull"},
		},
	} {
		got, issues := ParseScopes(c.in)
		var raws []string
		for _, is := range issues {
			raws = append(raws, is.Raw)
		}
		if !slices.EqualFunc(got, c.want, scopeEqual) || !slices.Equal(raws, c.issues) {
			t.Errorf("%s: ParseScopes(%q) = %+v, issues for %q; want %+v, issues for %q", c.name, c.in, got, raws, c.want, c.issues)
		}
	}
	if got, issues := ParseScopes(""); got != nil || issues != nil {
		t.Errorf("ParseScopes(\"\") = %v, %v, want nil, nil", got, issues)
	}
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		in   Scope
		want string
	}{
		{sc("repository", "library/nginx", "pull", "push"), "repository:library/nginx:pull,push"},
		{Scope{Type: "repository", Class: "plugin", Name: "a/b", Actions: []string{"pull"}}, "repository(plugin):a/b:pull"},
		{sc("repository", "localhost:5000/x", "*"), "repository:localhost:5000/x:*"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	tests := []struct {
		scope  Scope
		action string
		want   bool
	}{
		{sc("repository", "a", "pull", "push"), "push", true},
		{sc("repository", "a", "pull"), "push", false},
		{sc("registry", "catalog", "*"), "anything", true},
		{sc("repository", "a"), "pull", false},
	}
	for _, tt := range tests {
		if got := tt.scope.Allows(tt.action); got != tt.want {
			t.Errorf("%s.Allows(%q) = %v, want %v", tt.scope, tt.action, got, tt.want)
		}
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		name    string
		granted []Scope
		need    Scope
		want    []string
	}{
		{"granted exactly", []Scope{sc("repository", "a", "pull")}, sc("repository", "a", "pull"), nil},
		{"nothing granted", nil, sc("repository", "a", "pull", "push"), []string{"pull", "push"}},
		{"push missing", []Scope{sc("repository", "a", "pull")}, sc("repository", "a", "pull", "push"), []string{"push"}},
		{"actions spread over entries", []Scope{sc("repository", "a", "pull"), sc("repository", "a", "push")}, sc("repository", "a", "pull", "push"), nil},
		{"another repository grants nothing", []Scope{sc("repository", "b", "pull", "push")}, sc("repository", "a", "pull"), []string{"pull"}},
		{"wildcard grants all", []Scope{sc("repository", "a", "*")}, sc("repository", "a", "pull", "push", "delete"), nil},
		{"class must match", []Scope{sc("repository", "a", "pull")}, Scope{Type: "repository", Class: "plugin", Name: "a", Actions: []string{"pull"}}, []string{"pull"}},
		{"type must match", []Scope{sc("registry", "a", "*")}, sc("repository", "a", "pull"), []string{"pull"}},
	}
	for _, tt := range tests {
		if got := Missing(tt.granted, tt.need); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Missing(%v, %s) = %q, want %q", tt.name, tt.granted, tt.need, got, tt.want)
		}
	}
}
