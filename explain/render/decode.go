package render

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/regtrace/regtrace/decode"
)

// The decode renderers print `regtrace decode challenge|scope|jwt`; format
// is "text" or "json", as --format is for explain. JSON field names are
// stable: scripts depend on them.

func decodeJSON(format string) (bool, error) {
	switch format {
	case "text":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("render: unknown format %q (want text or json)", format)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type jsonScope struct {
	Type    string   `json:"type"`
	Class   string   `json:"class,omitempty"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// jsonScopes is never nil: no scopes is [] in JSON, not null.
func jsonScopes(ss []decode.Scope) []jsonScope {
	out := make([]jsonScope, 0, len(ss))
	for _, s := range ss {
		out = append(out, jsonScope{s.Type, s.Class, s.Name, s.Actions})
	}
	return out
}

type jsonChallenge struct {
	Scheme  string            `json:"scheme"`
	Params  map[string]string `json:"params,omitempty"`
	Token68 string            `json:"token68,omitempty"`
	Scopes  []jsonScope       `json:"scopes,omitempty"`
	Issues  []string          `json:"issues,omitempty"`
}

// knownParams come first, in this order: what a reader looks for.
var knownParams = []string{"realm", "service", "scope", "error", "error_description"}

// Challenges writes the challenges of one WWW-Authenticate value and the
// problems found in it (decode.ParseChallenges). A malformed header still
// shows what could be read, as clients keep it. The JSON is an array of
// challenges; problems are the caller's error, so JSON leaves them out.
func Challenges(w io.Writer, chs []decode.Challenge, problems []decode.Issue, format string) error {
	asJSON, err := decodeJSON(format)
	if err != nil {
		return err
	}
	var out []jsonChallenge // null when nothing could be read
	for _, ch := range chs {
		scopes, issues := ch.Scopes()
		j := jsonChallenge{Scheme: ch.Scheme, Params: ch.Params, Token68: ch.Token68, Scopes: jsonScopes(scopes)}
		for _, is := range issues {
			j.Issues = append(j.Issues, is.What+": "+is.Raw)
		}
		out = append(out, j)
	}
	if asJSON {
		return writeJSON(w, out)
	}
	var b strings.Builder
	if len(chs) == 0 && len(problems) > 0 {
		b.WriteString("no challenge could be read\n")
	}
	for i, ch := range chs {
		fmt.Fprintf(&b, "challenge %d: %s\n", i+1, ch.Scheme)
		if ch.Token68 != "" {
			fmt.Fprintf(&b, "  token68: %s\n", ch.Token68)
		}
		for _, name := range knownParams {
			if v, ok := ch.Params[name]; ok {
				fmt.Fprintf(&b, "  %-18s %s\n", name+":", v)
			}
		}
		var others []string
		for name := range ch.Params {
			if !slices.Contains(knownParams, name) {
				others = append(others, name)
			}
		}
		slices.Sort(others) // map order would make the output vary run to run
		for _, name := range others {
			fmt.Fprintf(&b, "  %-18s %s\n", name+":", ch.Params[name])
		}
		hub := false
		if u, err := url.Parse(ch.Realm()); err == nil && u.Hostname() == "auth.docker.io" {
			hub = true
		}
		for _, s := range out[i].Scopes {
			fmt.Fprintf(&b, "  scope: type %s, name %s, actions %s\n", s.Type, s.Name, strings.Join(s.Actions, ","))
			// Docker Hub names official images library/NAME; a token for
			// the short name is the classic "pull access denied".
			if hub && s.Type == "repository" && !strings.Contains(s.Name, "/") {
				fmt.Fprintf(&b, "  note: on Docker Hub the repository is %s; a token for %q grants nothing\n",
					decode.NormalizeRepo("docker.io", s.Name), s.Name)
			}
		}
		for _, is := range out[i].Issues {
			fmt.Fprintf(&b, "  problem: %s\n", is)
		}
		if ch.IsBearer() && ch.Realm() != "" {
			fmt.Fprintf(&b, "  meaning: get a token from %s for service %q", ch.Realm(), ch.Service())
			if e := ch.ErrorCode(); e != "" {
				fmt.Fprintf(&b, "; the token sent was refused: %s", e)
			}
			b.WriteByte('\n')
		}
	}
	for _, is := range problems {
		fmt.Fprintf(&b, "problem: %s\n", is.What)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// Scope writes one scope: a JSON object, or its fields one a line.
func Scope(w io.Writer, s decode.Scope, format string) error {
	asJSON, err := decodeJSON(format)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, jsonScopes([]decode.Scope{s})[0])
	}
	var b strings.Builder
	scopeFields(&b, s)
	_, err = io.WriteString(w, b.String())
	return err
}

// Scopes writes a list of scopes (a challenge's scope parameter, a token
// request's scope field) and why the others did not parse: each scope
// headed by its number in text, an array in JSON (which, like Challenges,
// leaves the problems to the caller's error). A list of which only one scope
// parsed is still a list: that is what the reader gave.
func Scopes(w io.Writer, scopes []decode.Scope, problems []error, format string) error {
	asJSON, err := decodeJSON(format)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(w, jsonScopes(scopes))
	}
	var b strings.Builder
	for i, s := range scopes {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "scope %d: %s\n", i+1, s)
		scopeFields(&b, s)
	}
	for _, p := range problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func scopeFields(b *strings.Builder, s decode.Scope) {
	fmt.Fprintf(b, "type:    %s\n", s.Type)
	if s.Class != "" {
		fmt.Fprintf(b, "class:   %s\n", s.Class)
	}
	fmt.Fprintf(b, "name:    %s\n", s.Name)
	fmt.Fprintf(b, "actions: %s\n", strings.Join(s.Actions, ", "))
}

type jsonToken struct {
	Alg       string      `json:"alg"`
	Kid       string      `json:"kid,omitempty"`
	Typ       string      `json:"typ,omitempty"`
	X5C       bool        `json:"x5c"`
	Issuer    string      `json:"iss,omitempty"`
	Subject   string      `json:"sub,omitempty"`
	Audience  []string    `json:"aud,omitempty"`
	ExpiresAt *time.Time  `json:"exp,omitempty"`
	NotBefore *time.Time  `json:"nbf,omitempty"`
	IssuedAt  *time.Time  `json:"iat,omitempty"`
	JTI       string      `json:"jti,omitempty"`
	Access    []jsonScope `json:"access"`
	HasAccess bool        `json:"hasAccess"`
	// AccessMalformed: the claim is there but not an array of objects;
	// access then lists only what could be read.
	AccessMalformed bool     `json:"accessMalformed,omitempty"`
	Issues          []string `json:"issues,omitempty"`
	// Verified is always false: saying so keeps a script from assuming.
	Verified bool `json:"signatureVerified"`
}

// Token writes a JWT's header and claims; the signature is neither verified
// nor printed. Claim times are shown against now (a parameter, so the
// output can be tested). An opaque token has nothing to show: an error.
func Token(w io.Writer, tok *decode.Token, now time.Time, format string) error {
	asJSON, err := decodeJSON(format)
	if err != nil {
		return err
	}
	if tok == nil || !tok.JWT || tok.Header == nil || tok.Claims == nil {
		return fmt.Errorf("render: Token: not a JWT, no header or claims to show")
	}
	h, cl := tok.Header, tok.Claims
	if asJSON {
		tp := func(t time.Time) *time.Time {
			if t.IsZero() {
				return nil
			}
			return &t
		}
		return writeJSON(w, jsonToken{
			Alg: h.Alg, Kid: h.Kid, Typ: h.Typ, X5C: h.X5C,
			Issuer: cl.Issuer, Subject: cl.Subject, Audience: cl.Audience,
			ExpiresAt: tp(cl.ExpiresAt), NotBefore: tp(cl.NotBefore), IssuedAt: tp(cl.IssuedAt),
			JTI: cl.JTI, Access: jsonScopes(cl.Access), HasAccess: cl.HasAccess,
			AccessMalformed: cl.AccessMalformed, Issues: issueTexts(cl.Issues),
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "header:  alg %s", h.Alg)
	if h.Kid != "" {
		fmt.Fprintf(&b, ", kid %s", h.Kid)
	}
	if h.X5C {
		b.WriteString(", x5c chain present")
	}
	b.WriteByte('\n')
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-8s %s\n", k+":", v)
		}
	}
	line("iss", cl.Issuer)
	line("sub", cl.Subject)
	line("aud", strings.Join(cl.Audience, ", "))
	line("exp", claimTime(cl.ExpiresAt, now))
	line("nbf", claimTime(cl.NotBefore, now))
	line("iat", claimTime(cl.IssuedAt, now))
	line("jti", cl.JTI)
	// Malformed, absent and empty are three different answers (see
	// decode.Claims): only an empty well-formed claim grants nothing.
	switch {
	case cl.AccessMalformed:
		b.WriteString("access:  malformed (see the problems below): cannot tell what this token grants\n")
		for _, a := range cl.Access {
			fmt.Fprintf(&b, "  readable entry: %s\n", a)
		}
	case !cl.HasAccess:
		b.WriteString("access:  (no access claim)\n")
	case len(cl.Access) == 0:
		b.WriteString("access:  [] — this token grants nothing\n")
	default:
		b.WriteString("access:\n")
		for _, a := range cl.Access {
			fmt.Fprintf(&b, "  %s\n", a)
		}
	}
	for _, is := range issueTexts(cl.Issues) {
		fmt.Fprintf(&b, "problem: %s\n", is)
	}
	b.WriteString("(signature not verified)\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// issueTexts lists what each Issue says (claim Issues quote their value).
func issueTexts(issues []decode.Issue) []string {
	var out []string
	for _, is := range issues {
		out = append(out, is.What)
	}
	return out
}

// claimTime formats a claim time with how far it is from now.
func claimTime(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return fmt.Sprintf("%s (in %s)", t.UTC().Format(time.RFC3339), d)
	case d < 0:
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), -d)
	}
	return t.UTC().Format(time.RFC3339) + " (now)"
}
