package main

import (
	"cmp"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/explain/render"
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

// decodeFormat chooses the renderer's format from --json.
func decodeFormat(c *cli.Context) string {
	if c.Bool("json") {
		return "json"
	}
	return "text"
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
	if err := render.Challenges(c.App.Writer, chs, problems, decodeFormat(c)); err != nil {
		return err
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
	if len(fields) == 1 {
		s, err := decode.ParseScope(fields[0])
		if err != nil {
			return err
		}
		return render.Scope(c.App.Writer, s, decodeFormat(c))
	}
	var scopes []decode.Scope
	var problems []error
	for _, f := range fields {
		s, err := decode.ParseScope(f)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		scopes = append(scopes, s)
	}
	var perr error
	switch {
	case len(problems) == 1:
		perr = problems[0]
	case len(problems) > 1:
		perr = fmt.Errorf("%w (and %d more scopes that do not parse)", problems[0], len(problems)-1)
	}
	return cmp.Or(render.Scopes(c.App.Writer, scopes, problems, decodeFormat(c)), perr)
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
	return render.Token(c.App.Writer, tok, time.Now(), decodeFormat(c))
}
