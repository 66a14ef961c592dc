package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode/har"
)

func redactCommand() *cli.Command {
	return &cli.Command{
		Name:      "redact",
		Usage:     "sanitize a HAR file made by any tool (a browser, mitmproxy, regtrace --no-redact) before it goes into a ticket",
		ArgsUsage: "IN.har OUT.har",
		Description: `Applies regtrace's redaction policy to every entry: Authorization keeps its scheme and the
Basic user name, JWTs keep header and claims, cookies, passwords, refresh tokens, token fields
and signed URL parameters are replaced. WWW-Authenticate is kept: it is the evidence. Other
tools' extension fields (_initiator, _webSocketMessages, …) are dropped. OUT is written
atomically with mode 0600.

Example:
   regtrace redact chrome-export.har ticket.har`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("redact: want IN.har OUT.har")
			}
			in, out := c.Args().Get(0), c.Args().Get(1)
			if a, b := filepath.Clean(in), filepath.Clean(out); a == b {
				return usagef("redact: OUT must differ from IN (the original stays untouched)")
			}
			h, err := har.ReadFile(in)
			if err != nil {
				return err
			}
			if err := har.WriteFile(out, har.Redact(h)); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(c.App.ErrWriter, "regtrace: wrote %s (%d entries, redacted)\n", out, len(h.Log.Entries))
			return nil
		},
	}
}
