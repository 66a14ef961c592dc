package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
)

func decodeCommand() *cli.Command {
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	return &cli.Command{
		Name:  "decode",
		Usage: "decode one piece of registry auth: a WWW-Authenticate challenge, a scope, a JWT",
		Subcommands: []*cli.Command{
			{
				Name:      "challenge",
				Usage:     "parse a WWW-Authenticate header value",
				ArgsUsage: "'HEADER'",
				Description: `Example:
   regtrace decode challenge 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'`,
				Flags:  []cli.Flag{jsonFlag},
				Action: decodeChallenge,
			},
			{
				Name:      "scope",
				Usage:     "parse a token scope (type:name:actions), or a space-separated list of them",
				ArgsUsage: "'SCOPE [SCOPE…]'",
				Description: `A list is split at white space, as a challenge's scope parameter and the OAuth2
form's scope field are; a leading "scope=" and %-escapes (a pasted form body) are
undone. --json prints an object for one scope, an array for several.

Examples:
   regtrace decode scope 'repository:registry.test:5000/team/app:pull,push'
   regtrace decode scope 'scope=repository:a:pull repository:[::1]:5000/b:pull,push'`,
				Flags:  []cli.Flag{jsonFlag},
				Action: decodeScope,
			},
			{
				Name:      "jwt",
				Usage:     "show a token's header and claims (the signature is NOT verified)",
				ArgsUsage: "TOKEN|-",
				Description: `Reads the token from the argument, or from standard input with "-" (keeps it out of
shell history). The signature is neither verified nor printed.

Example:
   regtrace decode jwt - <<< "$TOKEN"`,
				Flags:  []cli.Flag{jsonFlag},
				Action: decodeJWT,
			},
		},
	}
}

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s: want exactly one argument, the %s (quote it)", c.Command.FullName(), what)
	}
	return c.Args().First(), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type scopeJSON struct {
	Type    string   `json:"type"`
	Class   string   `json:"class,omitempty"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func scopesJSON(ss []decode.Scope) []scopeJSON {
	out := make([]scopeJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, scopeJSON{s.Type, s.Class, s.Name, s.Actions})
	}
	return out
}

func decodeChallenge(c *cli.Context) error {
	arg, err := oneArg(c, "header value")
	if err != nil {
		return err
	}
	arg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(arg), "WWW-Authenticate:"))
	// A malformed header still shows what could be read (clients keep the
	// scheme and the parameters before the break): the challenges and every
	// problem go to standard output, and the first problem is the error
	// (exit 1).
	chs, perr := decode.ParseChallenge(arg)
	_, problems := decode.ParseChallenges(arg)
	if perr != nil && len(problems) > 1 {
		perr = fmt.Errorf("%w (and %d more problems)", perr, len(problems)-1)
	}
	type chJSON struct {
		Scheme  string            `json:"scheme"`
		Params  map[string]string `json:"params,omitempty"`
		Token68 string            `json:"token68,omitempty"`
		Scopes  []scopeJSON       `json:"scopes,omitempty"`
		Issues  []string          `json:"issues,omitempty"`
	}
	var out []chJSON
	for _, ch := range chs {
		scopes, issues := ch.Scopes()
		j := chJSON{Scheme: ch.Scheme, Params: ch.Params, Token68: ch.Token68, Scopes: scopesJSON(scopes)}
		for _, is := range issues {
			j.Issues = append(j.Issues, is.What+": "+is.Raw)
		}
		out = append(out, j)
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, out); err != nil {
			return err
		}
		return perr
	}
	w := c.App.Writer
	if len(chs) == 0 && perr != nil {
		fmt.Fprintln(w, "no challenge could be read")
	}
	for i, ch := range chs {
		fmt.Fprintf(w, "challenge %d: %s\n", i+1, ch.Scheme)
		if ch.Token68 != "" {
			fmt.Fprintf(w, "  token68: %s\n", ch.Token68)
		}
		for _, name := range []string{"realm", "service", "scope", "error", "error_description"} {
			if v, ok := ch.Params[name]; ok {
				fmt.Fprintf(w, "  %-18s %s\n", name+":", v)
			}
		}
		for name, v := range ch.Params {
			switch name {
			case "realm", "service", "scope", "error", "error_description":
			default:
				fmt.Fprintf(w, "  %-18s %s\n", name+":", v)
			}
		}
		hub := false
		if u, err := url.Parse(ch.Realm()); err == nil && u.Hostname() == "auth.docker.io" {
			hub = true
		}
		for _, s := range out[i].Scopes {
			fmt.Fprintf(w, "  scope: type %s, name %s, actions %s\n", s.Type, s.Name, strings.Join(s.Actions, ","))
			if hub && s.Type == "repository" && !strings.Contains(s.Name, "/") {
				fmt.Fprintf(w, "  note: on Docker Hub the repository is %s; a token for %q grants nothing\n",
					decode.NormalizeRepo("docker.io", s.Name), s.Name)
			}
		}
		for _, is := range out[i].Issues {
			fmt.Fprintf(w, "  problem: %s\n", is)
		}
		if ch.IsBearer() && ch.Realm() != "" {
			fmt.Fprintf(w, "  meaning: get a token from %s for service %q", ch.Realm(), ch.Service())
			if e := ch.ErrorCode(); e != "" {
				fmt.Fprintf(w, "; the token sent was refused: %s", e)
			}
			fmt.Fprintln(w)
		}
	}
	if len(problems) > 0 {
		for _, is := range problems {
			fmt.Fprintf(w, "problem: %s\n", is.What)
		}
	}
	return perr
}

func decodeScope(c *cli.Context) error {
	arg, err := oneArg(c, "scope")
	if err != nil {
		return err
	}
	arg = strings.TrimSpace(arg)
	if v, ok := strings.CutPrefix(arg, "scope="); ok {
		arg = v
		if u, err := url.QueryUnescape(v); err == nil {
			arg = u // a form body: "+" is a space, %3A a colon
		}
	}
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return usagef("%s: the scope is empty", c.Command.FullName())
	}
	// One scope keeps the strict parser's error (with its byte offset);
	// a list reads every scope it can and lists the ones it cannot.
	var scopes []decode.Scope
	var problems []string
	var perr error
	for _, f := range fields {
		s, err := decode.ParseScope(f)
		if err != nil {
			problems = append(problems, err.Error())
			perr = cmp.Or(perr, err)
			continue
		}
		scopes = append(scopes, s)
	}
	if perr != nil && len(problems) > 1 {
		perr = fmt.Errorf("%w (and %d more scopes that do not parse)", perr, len(problems)-1)
	}
	if len(fields) == 1 && perr != nil {
		return perr
	}
	if c.Bool("json") {
		var err error
		if len(fields) == 1 {
			err = printJSON(c.App.Writer, scopesJSON(scopes)[0])
		} else {
			err = printJSON(c.App.Writer, scopesJSON(scopes))
		}
		return cmp.Or(err, perr)
	}
	w := c.App.Writer
	for i, s := range scopes {
		if len(fields) > 1 {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "scope %d: %s\n", i+1, s)
		}
		fmt.Fprintf(w, "type:    %s\n", s.Type)
		if s.Class != "" {
			fmt.Fprintf(w, "class:   %s\n", s.Class)
		}
		fmt.Fprintf(w, "name:    %s\n", s.Name)
		fmt.Fprintf(w, "actions: %s\n", strings.Join(s.Actions, ", "))
	}
	for _, p := range problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	return perr
}

func decodeJWT(c *cli.Context) error {
	arg, err := oneArg(c, "token (or - for standard input)")
	if err != nil {
		return err
	}
	if arg == "-" {
		b, err := io.ReadAll(io.LimitReader(c.App.Reader, 1<<20))
		if err != nil {
			return fmt.Errorf("reading the token from standard input: %w", err)
		}
		arg = string(b)
	}
	arg = strings.TrimSpace(arg)
	arg = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(arg, "Bearer "), "bearer "))
	tok, err := decode.ParseToken(arg)
	if err != nil {
		return err
	}
	if !tok.JWT {
		return fmt.Errorf("not a JWT: an opaque token (%s) carries no readable claims; registries such as GHCR and ECR issue these", tok.ID)
	}
	now := time.Now()
	if c.Bool("json") {
		type claimsJSON struct {
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
			Access    []scopeJSON `json:"access"`
			HasAccess bool        `json:"hasAccess"`
			// AccessMalformed: the claim is there but not an array of
			// objects; access then lists only what could be read.
			AccessMalformed bool     `json:"accessMalformed,omitempty"`
			Issues          []string `json:"issues,omitempty"`
			Verified        bool     `json:"signatureVerified"`
		}
		tp := func(t time.Time) *time.Time {
			if t.IsZero() {
				return nil
			}
			return &t
		}
		cl := tok.Claims
		return printJSON(c.App.Writer, claimsJSON{
			Alg: tok.Header.Alg, Kid: tok.Header.Kid, Typ: tok.Header.Typ, X5C: tok.Header.X5C,
			Issuer: cl.Issuer, Subject: cl.Subject, Audience: cl.Audience,
			ExpiresAt: tp(cl.ExpiresAt), NotBefore: tp(cl.NotBefore), IssuedAt: tp(cl.IssuedAt),
			JTI: cl.JTI, Access: scopesJSON(cl.Access), HasAccess: cl.HasAccess,
			AccessMalformed: cl.AccessMalformed, Issues: issueTexts(cl.Issues),
		})
	}
	w := c.App.Writer
	h, cl := tok.Header, tok.Claims
	fmt.Fprintf(w, "header:  alg %s", h.Alg)
	if h.Kid != "" {
		fmt.Fprintf(w, ", kid %s", h.Kid)
	}
	if h.X5C {
		fmt.Fprint(w, ", x5c chain present")
	}
	fmt.Fprintln(w)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-8s %s\n", k+":", v)
		}
	}
	line("iss", cl.Issuer)
	line("sub", cl.Subject)
	line("aud", strings.Join(cl.Audience, ", "))
	line("exp", when(cl.ExpiresAt, now))
	line("nbf", when(cl.NotBefore, now))
	line("iat", when(cl.IssuedAt, now))
	line("jti", cl.JTI)
	switch {
	case cl.AccessMalformed:
		fmt.Fprintln(w, "access:  malformed (see the problems below): cannot tell what this token grants")
		for _, a := range cl.Access {
			fmt.Fprintf(w, "  readable entry: %s\n", a)
		}
	case !cl.HasAccess:
		fmt.Fprintln(w, "access:  (no access claim)")
	case len(cl.Access) == 0:
		fmt.Fprintln(w, "access:  [] — this token grants nothing")
	default:
		fmt.Fprintln(w, "access:")
		for _, a := range cl.Access {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	for _, is := range issueTexts(cl.Issues) {
		fmt.Fprintf(w, "problem: %s\n", is)
	}
	fmt.Fprintln(w, "(signature not verified)")
	return nil
}

// issueTexts lists what each Issue says (claim Issues quote their value).
func issueTexts(issues []decode.Issue) []string {
	var out []string
	for _, is := range issues {
		out = append(out, is.What)
	}
	return out
}

// when formats a claim time with how far it is from now.
func when(t, now time.Time) string {
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
