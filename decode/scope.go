package decode

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ParseScope parses one scope (distribution docs/spec/auth/scope.md):
//
//	scope             := resourcetype ":" resourcename ":" action [ "," action ]*
//	resourcetype      := resourcetypevalue [ "(" resourcetypevalue ")" ]
//	resourcetypevalue := /[a-z0-9]+/
//	resourcename      := [ hostname "/" ] component [ "/" component ]*
//	action            := /[a-z]*/
//
// The name may itself contain ":" (a "host:port" prefix), so the type is cut
// at the first colon and the actions at the last. A hostname may be an IPv6
// address in brackets, as in distribution's reference grammar
// (host := domain-name | IPv4address | "[" IPv6address "]", RFC 3986
// appendix A): "repository:[::1]:5000/foo:pull" names "[::1]:5000/foo".
// Actions are also accepted as "*" and with digits, "_" or "-" (registries in
// the wild use them).
//
// ParseScope reads one scope; a space-separated list of them (a challenge's
// scope parameter, the OAuth2 form's scope field) is for ParseScopes.
func ParseScope(s string) (Scope, error) {
	fail := func(off int, format string, a ...any) (Scope, error) {
		return Scope{}, &ParseError{Field: "scope", Input: clip(s), Offset: off, Err: fmt.Errorf(format, a...)}
	}
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first < 0 || first == last {
		return fail(-1, "want type:name:actions")
	}
	typ, name, acts := s[:first], s[first+1:last], s[last+1:]
	var sc Scope
	if open := strings.IndexByte(typ, '('); open >= 0 {
		if !strings.HasSuffix(typ, ")") {
			return fail(open, "unclosed ( in resource type")
		}
		sc.Class = typ[open+1 : len(typ)-1]
		typ = typ[:open]
		if !isTypeValue(sc.Class) {
			return fail(open+1, "resource class %q is not [a-z0-9]+", sc.Class)
		}
	}
	if !isTypeValue(typ) {
		return fail(0, "resource type %q is not [a-z0-9]+", typ)
	}
	sc.Type = typ
	if name == "" {
		return fail(first+1, "empty resource name")
	}
	rest, off := name, first+1
	if strings.HasPrefix(name, "[") {
		n, err := bracketHost(name)
		if err != nil {
			return fail(off, "%v", err)
		}
		rest, off = name[n:], off+n
	}
	for i, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/:", r)) {
			if r == ' ' || r == '\t' {
				return fail(off+i, "character %q not allowed in a resource name: white space separates the scopes of a list (RFC 6749 §3.3), which ParseScopes reads", r)
			}
			return fail(off+i, "character %q not allowed in a resource name", r)
		}
	}
	sc.Name = name
	if acts == "" {
		return fail(last+1, "no actions")
	}
	for a := range strings.SplitSeq(acts, ",") {
		if a == "" {
			return fail(last+1, "empty action in %q", acts)
		}
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '*' || r == '_' || r == '-') {
				return fail(last+1, "action %q may hold only a-z, 0-9, _, - or *", a)
			}
		}
		if !slices.Contains(sc.Actions, a) {
			sc.Actions = append(sc.Actions, a)
		}
	}
	return sc, nil
}

// bracketHost checks the "[IPv6address]" or "[IPv6address]:port" host at
// the start of name, which must be followed by "/" and a path: a bare
// bracketed host names no repository. It returns the length of the host.
func bracketHost(name string) (int, error) {
	end := strings.IndexByte(name, ']')
	if end < 0 {
		return 0, errors.New(`"[" opens an IPv6 host that no "]" closes`)
	}
	if a, err := netip.ParseAddr(name[1:end]); err != nil || !a.Is6() || a.Zone() != "" {
		return 0, fmt.Errorf("%q in brackets is not an IPv6 address", name[1:end])
	}
	n := end + 1
	if n < len(name) && name[n] == ':' {
		p := n + 1
		for p < len(name) && name[p] >= '0' && name[p] <= '9' {
			p++
		}
		if p == n+1 {
			return 0, fmt.Errorf("no port after the host %q and its colon", name[:n])
		}
		n = p
	}
	if n == len(name) || name[n] != '/' || n+1 == len(name) {
		return 0, fmt.Errorf("the host %q must be followed by \"/\" and a repository path", name[:n])
	}
	return n, nil
}

func isTypeValue(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ParseScopes parses a space-separated list of scopes: the challenge's
// scope parameter (RFC 6750 §3: "space-delimited") and the OAuth2 POST
// form's scope field (RFC 6749 §3.3: scope = scope-token *( SP scope-token )).
// Tabs and other white space separate too. It is total: each unparsable
// scope becomes an Issue and the rest are kept.
func ParseScopes(s string) ([]Scope, []Issue) {
	var out []Scope
	var issues []Issue
	for f := range strings.FieldsSeq(s) {
		sc, err := ParseScope(f)
		if err != nil {
			issues = append(issues, Issue{Where: "scope", What: errText(err), Raw: clip(f)})
			continue
		}
		out = append(out, sc)
	}
	return out, issues
}

// errText is the message of a ParseError without the quoted input (the Issue
// carries it in Raw).
func errText(err error) string {
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.Offset >= 0 {
			return fmt.Sprintf("at byte %d: %v", pe.Offset, pe.Err)
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// String formats the scope as it goes on the wire.
func (s Scope) String() string {
	t := s.Type
	if s.Class != "" {
		t += "(" + s.Class + ")"
	}
	return t + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// Allows reports whether the scope grants action ("*" grants every action).
func (s Scope) Allows(action string) bool {
	return slices.Contains(s.Actions, action) || slices.Contains(s.Actions, "*")
}

// sameResource reports whether a and b name the same resource. Types and
// classes compare exactly; names too (registries treat them as exact).
func sameResource(a, b Scope) bool {
	return a.Type == b.Type && a.Class == b.Class && a.Name == b.Name
}

// Missing returns the actions of need that no entry of granted allows for
// the same resource, in need's order. Nil means need is covered.
func Missing(granted []Scope, need Scope) []string {
	var missing []string
	for _, a := range need.Actions {
		ok := false
		for _, g := range granted {
			if sameResource(g, need) && g.Allows(a) {
				ok = true
				break
			}
		}
		if !ok {
			missing = append(missing, a)
		}
	}
	return missing
}
