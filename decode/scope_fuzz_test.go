package decode

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseScope checks that ParseScope never panics, that what it accepts
// formats back to a scope that parses equal, and that what it refuses is a
// *ParseError for the field "scope"; ParseScopes must agree with it, field
// by field, and read an accepted scope twice in a list as two equal scopes.
func FuzzParseScope(f *testing.F) {
	for _, tt := range scopeTests {
		f.Add(tt.in)
	}
	f.Add("repository:library/nginx:pull repository:host:5000/x:push,pull bogus")
	f.Add("repository:[::1]:5000/foo:pull\trepository:[fe80::1]/a:push repository:[::1]:pull")
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != "scope" || pe.Input != clip(s) || pe.Offset < -1 || pe.Offset > len(s) {
				t.Fatalf("ParseScope(%q) error = %#v, want a *ParseError for scope with an offset in the input", s, err)
			}
		} else {
			again, err := ParseScope(sc.String())
			if err != nil || !scopeEqual(again, sc) {
				t.Fatalf("ParseScope(%q) = %+v; its String %q re-parses to %+v, %v", s, sc, sc.String(), again, err)
			}
			if slices.Contains(sc.Actions, "") || len(sc.Actions) == 0 {
				t.Fatalf("ParseScope(%q) = %+v, want non-empty actions", s, sc)
			}
			list := sc.String() + " " + sc.String()
			two, issues := ParseScopes(list)
			if len(two) != 2 || len(issues) != 0 || !scopeEqual(two[0], sc) || !scopeEqual(two[1], sc) {
				t.Fatalf("ParseScopes(%q) = %+v, %+v; want %+v twice", list, two, issues, sc)
			}
		}
		scopes, issues := ParseScopes(s)
		if n := len(strings.Fields(s)); len(scopes)+len(issues) != n {
			t.Fatalf("ParseScopes(%q) = %d scopes and %d issues, want %d in all", s, len(scopes), len(issues), n)
		}
		var want []Scope
		for _, field := range strings.Fields(s) {
			if one, err := ParseScope(field); err == nil {
				want = append(want, one)
			}
		}
		if !slices.EqualFunc(scopes, want, scopeEqual) {
			t.Fatalf("ParseScopes(%q) = %+v, ParseScope of each field = %+v, want the same", s, scopes, want)
		}
	})
}
