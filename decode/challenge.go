package decode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// challengeField names the header in Issues and ParseErrors. The grammar of
// Proxy-Authenticate is the same (RFC 9110 §11.7.1), but registries only
// ever challenge with WWW-Authenticate.
const challengeField = "WWW-Authenticate"

// maxChallengeIssues bounds the Issues one header value produces. A value
// with more problems than this is garbage; listing every one (a 1 MiB header
// of commas and quotes would give thousands) only buries the first.
const maxChallengeIssues = 8

// ParseChallenges parses the values of one or more WWW-Authenticate (or
// Proxy-Authenticate) header lines, per RFC 9110 §11.6.1 with the auth-param
// and token68 rules of §11.2 and the list rule of §5.6.1:
//
//	WWW-Authenticate = #challenge
//	challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-scheme      = token
//	auth-param       = token BWS "=" BWS ( token / quoted-string )
//	token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//	token            = 1*tchar
//	tchar            = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
//	                 / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
//	quoted-string    = DQUOTE *( qdtext / quoted-pair ) DQUOTE
//	qdtext           = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
//	quoted-pair      = "\" ( HTAB / SP / VCHAR / obs-text )
//	#element         = [ element ] *( OWS "," OWS [ element ] )
//	OWS = BWS        = *( SP / HTAB )
//
// The challenge list and each challenge's auth-param list share their
// commas, so after a comma an element of the form `token BWS "="` is one
// more parameter of the current challenge and any other token starts a new
// challenge. Right after an auth-scheme and its spaces, a token68 followed by
// a comma or the end wins over an auth-param ("Negotiate abc=" is a token68,
// "Negotiate realm=x" a parameter), except for Bearer and Basic: RFC 6750 §3
// ("challenge = "Bearer" [ 1*SP 1#auth-param ]") and RFC 7617 §2 define them
// with auth-params only, so "Bearer realm=,service=x" is an empty realm and a
// service, not the token68 "realm=" and a stray parameter.
//
// ParseChallenges is total: it never fails and never panics. Every
// challenge of every value is returned, in order; schemes are kept as sent,
// known or not. Each value is parsed on its own, as clients parse each header
// line: a parameter at the start of a second line does not join the last
// challenge of the first. Parameter names are lower-cased and values
// unquoted with their quoted-pairs resolved. Empty list elements (",,") are
// allowed by the list rule and ignored; so is an empty value.
//
// What breaks the grammar becomes an Issue (Where "WWW-Authenticate", What
// naming the byte offset in that value, Raw the clipped value), and parsing
// resumes at the next comma outside a quoted-string. What did parse is kept:
//
//   - a duplicate parameter keeps its first value;
//   - an unquoted value with bytes a token cannot hold (realm=https://x/token)
//     is kept whole, up to the next comma or white space;
//   - a quoted-string with control bytes is kept as it is;
//   - an unterminated quoted-string (no closing quote, or a lone backslash
//     at the end) drops that parameter only, as does an empty value
//     (service=): the scheme and every parameter before it are kept, as
//     oras-go and containers/image keep them, and the Issue names the
//     parameter;
//   - a parameter with no auth-scheme before it, or after a token68, is
//     dropped;
//   - an element that cannot start a challenge ("a/b", "=x") is dropped;
//   - an auth-scheme followed by HTAB instead of SP is kept.
//
// At most eight Issues are listed per value, the last then saying how many
// more there were.
func ParseChallenges(values ...string) ([]Challenge, []Issue) {
	var out []Challenge
	var issues []Issue
	for _, v := range values {
		cs, problems := parseChallengeValue(v)
		out = append(out, cs...)
		for i, pr := range problems {
			if i == maxChallengeIssues-1 && len(problems) > maxChallengeIssues {
				issues = append(issues, Issue{
					Where: challengeField,
					What:  fmt.Sprintf("%s; and %d more problems", pr, len(problems)-i-1),
					Raw:   clip(v),
				})
				break
			}
			issues = append(issues, Issue{Where: challengeField, What: pr.String(), Raw: clip(v)})
		}
	}
	return out, issues
}

// ParseChallenge is the strict form of ParseChallenges for one header value
// (`regtrace decode challenge 'HEADER'`): the same parse, but the first
// problem is returned as a *ParseError{Field: "WWW-Authenticate"} with the
// byte offset where it is. The challenges that did parse are returned too,
// exactly as ParseChallenges returns them, so a caller may show both.
func ParseChallenge(value string) ([]Challenge, error) {
	cs, problems := parseChallengeValue(value)
	if len(problems) > 0 {
		pr := problems[0]
		return cs, &ParseError{Field: challengeField, Input: clip(value), Offset: pr.off, Err: errors.New(pr.msg)}
	}
	return cs, nil
}

// Param returns the value of the named auth-param ("" when absent). Names
// compare case-insensitively, as RFC 9110 §11.2 says they do.
func (c Challenge) Param(name string) string {
	return c.Params[strings.ToLower(name)]
}

// IsBearer reports whether the scheme is Bearer (RFC 6750), in any case.
func (c Challenge) IsBearer() bool { return strings.EqualFold(c.Scheme, "Bearer") }

// IsBasic reports whether the scheme is Basic (RFC 7617), in any case.
func (c Challenge) IsBasic() bool { return strings.EqualFold(c.Scheme, "Basic") }

// Realm is the realm parameter: for Bearer, the token server's URL.
func (c Challenge) Realm() string { return c.Param("realm") }

// Service is the Bearer service parameter, which the client passes on to the
// token server.
func (c Challenge) Service() string { return c.Param("service") }

// ErrorCode is the Bearer error parameter (RFC 6750 §3.1): distribution
// sends "insufficient_scope" when the token lacks an action and
// "invalid_token" when it cannot be used at all. (Not named Error: that
// would make Challenge an error, and fmt would print it as one.)
func (c Challenge) ErrorCode() string { return c.Param("error") }

// ErrorDescription is the Bearer error_description parameter.
func (c Challenge) ErrorDescription() string { return c.Param("error_description") }

// Scopes parses the scope parameter (Bearer: a space-separated list, RFC
// 6750 §3) with ParseScopes.
func (c Challenge) Scopes() ([]Scope, []Issue) { return ParseScopes(c.Param("scope")) }

// challengeParamOrder is the order String writes the well-known parameters
// in, as registries send them; the rest follow sorted by name.
var challengeParamOrder = []string{"realm", "service", "scope", "error", "error_description"}

// String formats the challenge canonically: the scheme, then either its
// token68 or its parameters as name="value" (quotes and backslashes escaped)
// joined by commas, in the order realm, service, scope, error,
// error_description, then the rest by name. A Challenge has a token68 or
// parameters, not both; String writes only the token68 of one that has both.
// ParseChallenges(c.String()) gives c back.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteByte(' ')
		b.WriteString(c.Token68)
		return b.String()
	}
	names := make([]string, 0, len(c.Params))
	for _, n := range challengeParamOrder {
		if _, ok := c.Params[n]; ok {
			names = append(names, n)
		}
	}
	known := len(names)
	for n := range c.Params {
		if !slices.Contains(challengeParamOrder, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names[known:])
	for i, n := range names {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		v := c.Params[n]
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(v[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// challengeProblem is one grammar violation at a byte offset of a value.
type challengeProblem struct {
	off int
	msg string
}

func (p challengeProblem) String() string { return fmt.Sprintf("at byte %d: %s", p.off, p.msg) }

// challengeParser parses one header value; i is the next byte to read.
type challengeParser struct {
	s        string
	i        int
	out      []Challenge
	problems []challengeProblem
}

func (p *challengeParser) fail(off int, format string, a ...any) {
	p.problems = append(p.problems, challengeProblem{off: off, msg: fmt.Sprintf(format, a...)})
}

func parseChallengeValue(s string) ([]Challenge, []challengeProblem) {
	p := &challengeParser{s: s}
	cur := -1 // index in p.out of the challenge that parameters join
	for {
		// Empty elements and the OWS around commas.
		for p.i < len(s) && (s[p.i] == ',' || s[p.i] == ' ' || s[p.i] == '\t') {
			p.i++
		}
		if p.i == len(s) {
			break
		}
		start := p.i
		name := p.token()
		if name == "" {
			p.fail(start, "%s cannot start a challenge or an auth-param", quoteByte(s[start]))
			p.skipElement()
			continue
		}
		afterName := p.i
		p.ows()
		if p.i < len(s) && s[p.i] == '=' {
			// auth-param = token BWS "=" BWS ( token / quoted-string )
			p.i++
			switch {
			case cur < 0:
				p.fail(start, "auth-param %q has no auth-scheme before it", name)
				p.skipElement()
			case p.out[cur].Token68 != "":
				p.fail(start, "auth-param %q follows the token68 of %q, which takes no auth-params", name, p.out[cur].Scheme)
				p.skipElement()
			default:
				p.param(&p.out[cur], name, start)
			}
			continue
		}

		// challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
		p.i = afterName
		if p.i < len(s) && s[p.i] != ',' && s[p.i] != ' ' && s[p.i] != '\t' {
			p.fail(p.i, "%s after %q: an auth-scheme is followed by SP, a comma or the end", quoteByte(s[p.i]), name)
			p.skipElement()
			continue
		}
		p.out = append(p.out, Challenge{Scheme: name})
		cur = len(p.out) - 1
		if p.i == len(s) || s[p.i] == ',' {
			continue
		}
		tab := -1
		for p.i < len(s) && (s[p.i] == ' ' || s[p.i] == '\t') {
			if s[p.i] == '\t' && tab < 0 {
				tab = p.i
			}
			p.i++
		}
		if p.i == len(s) || s[p.i] == ',' {
			continue // OWS before a comma or the end
		}
		if tab >= 0 {
			// Clients that split the scheme off at the first SP
			// (go-containerregistry) misread such a challenge.
			p.fail(tab, "HTAB after auth-scheme %q, where the grammar has SP", name)
		}
		if !paramsOnly(name) {
			if t, ok := p.token68(); ok {
				p.out[cur].Token68 = t
				continue
			}
		}
		pstart := p.i
		pname := p.token()
		if pname == "" {
			p.fail(pstart, "%s after auth-scheme %q: want a token68 or an auth-param", quoteByte(s[pstart]), name)
			p.skipElement()
			continue
		}
		p.ows()
		if p.i == len(s) || s[p.i] != '=' {
			p.fail(p.i, "missing \"=\" after auth-param name %q", pname)
			p.skipElement()
			continue
		}
		p.i++
		p.param(&p.out[cur], pname, pstart)
	}
	return p.out, p.problems
}

// param reads an auth-param value after its "=" and stores it in c; start is
// the offset of the parameter's name.
func (p *challengeParser) param(c *Challenge, name string, start int) {
	s := p.s
	p.ows()
	var val string
	if p.i < len(s) && s[p.i] == '"' {
		v, ok := p.quotedString(name)
		if !ok {
			return
		}
		val = v
	} else {
		// A token, read leniently up to the next comma or white space: an
		// unquoted URL is more use whole than cut at its ":".
		vs := p.i
		for p.i < len(s) && s[p.i] != ',' && s[p.i] != ' ' && s[p.i] != '\t' {
			p.i++
		}
		val = s[vs:p.i]
		if val == "" {
			p.fail(vs, "auth-param %q has no value (want a token or a quoted-string; \"\" for an empty one); the parameter is dropped", name)
			p.skipElement()
			return
		}
		for k := 0; k < len(val); k++ {
			if !httpTchar(val[k]) {
				p.fail(vs+k, "%s in the unquoted value of auth-param %q, which only a quoted-string can hold", quoteByte(val[k]), name)
				break
			}
		}
	}
	key := strings.ToLower(name)
	if _, dup := c.Params[key]; dup {
		p.fail(start, "auth-param %q repeated; the first value is kept", key)
	} else {
		if c.Params == nil {
			c.Params = make(map[string]string)
		}
		c.Params[key] = val
	}
	// The element ends here: OWS, then a comma or the end.
	p.ows()
	if p.i < len(s) && s[p.i] != ',' {
		p.fail(p.i, "%s after the value of auth-param %q, where a comma or the end must be", quoteByte(s[p.i]), name)
		p.skipElement()
	}
}

// quotedString reads the quoted-string value of auth-param name at p.i and
// returns its unescaped content. It reports false, with p.i at the end, when
// there is no closing quote.
func (p *challengeParser) quotedString(name string) (string, bool) {
	s := p.s
	open := p.i
	p.i++
	// Most values have no quoted-pair; return a substring for them.
	plain := true
	var b []byte
	ctl := false
	for p.i < len(s) {
		c := s[p.i]
		at := p.i
		switch c {
		case '"':
			p.i++
			if plain {
				return s[open+1 : at], true
			}
			return string(b), true
		case '\\':
			if p.i+1 == len(s) {
				p.i = len(s)
				p.fail(open, "quoted-string not terminated: the value of auth-param %q ends in a lone backslash, which escapes nothing; the parameter is dropped", name)
				return "", false
			}
			if plain {
				plain = false
				b = append(b, s[open+1:at]...)
			}
			c = s[p.i+1]
			at = p.i + 1
			p.i += 2
		default:
			p.i++
		}
		if !ctl && (c < 0x20 && c != '\t' || c == 0x7f) {
			ctl = true
			p.fail(at, "control byte %s in quoted-string, the value of auth-param %q (kept as sent)", quoteByte(c), name)
		}
		if !plain {
			b = append(b, c)
		}
	}
	p.fail(open, "quoted-string not terminated: the value of auth-param %q has no closing quote in the %d bytes to the end; the parameter is dropped", name, len(s)-open)
	return "", false
}

// token68 reads a token68 at p.i if one is there and the challenge ends
// after it (OWS, then a comma or the end).
func (p *challengeParser) token68() (string, bool) {
	s := p.s
	j := p.i
	for j < len(s) && httpToken68Char(s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(s) && s[j] == '=' {
		j++
	}
	end := j
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j < len(s) && s[j] != ',' {
		return "", false
	}
	t := s[p.i:end]
	p.i = j
	return t, true
}

// token reads a token at p.i ("" if there is none).
func (p *challengeParser) token() string {
	start := p.i
	for p.i < len(p.s) && httpTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *challengeParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipElement moves p.i to the next comma outside a quoted-string, or to the
// end: where the next challenge or auth-param can start.
func (p *challengeParser) skipElement() {
	s := p.s
	for p.i < len(s) && s[p.i] != ',' {
		if s[p.i] != '"' {
			p.i++
			continue
		}
		for p.i++; p.i < len(s) && s[p.i] != '"'; p.i++ {
			if s[p.i] == '\\' {
				p.i++
			}
		}
		p.i = min(p.i+1, len(s))
	}
}

// paramsOnly reports whether scheme is defined with auth-params and no
// token68: Bearer (RFC 6750 §3) and Basic (RFC 7617 §2).
func paramsOnly(scheme string) bool {
	return strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Basic")
}

// httpTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func httpTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// httpToken68Char reports whether c may appear in a token68 before its
// trailing "="s (RFC 9110 §11.2).
func httpToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// quoteByte quotes one byte for a message: `"="`, `"\x00"`, `"\xff"`.
func quoteByte(c byte) string {
	return fmt.Sprintf("%q", string([]byte{c}))
}
