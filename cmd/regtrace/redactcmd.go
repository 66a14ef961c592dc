package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/decode/redact"
)

func redactCommand() *cli.Command {
	return &cli.Command{
		Name:      "redact",
		Usage:     "sanitize a HAR file made by any tool (a browser, mitmproxy, regtrace --no-redact), or a client's log, before it goes into a ticket",
		ArgsUsage: "IN OUT",
		Description: `Applies regtrace's redaction policy to every entry: Authorization keeps its scheme and the
Basic user name, JWTs keep header and claims, cookies, passwords, refresh tokens, token fields
and signed URL parameters are replaced. WWW-Authenticate is kept: it is the evidence. Other
tools' extension fields (_initiator, _webSocketMessages, …) are dropped. OUT is written
atomically with mode 0600.

A file that is not JSON is taken for a log (a client's debug output, a journal, shell
history) and redacted line by line: Authorization headers, tokens, signed URLs, and passwords
given as flags (--creds user:password, --password, login -p) are replaced.

Examples:
   regtrace redact chrome-export.har ticket.har
   regtrace redact podman-debug.log ticket.log`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("redact: want IN OUT (a HAR file or a log)")
			}
			in, out := c.Args().Get(0), c.Args().Get(1)
			if a, b := filepath.Clean(in), filepath.Clean(out); a == b {
				return usagef("redact: OUT must differ from IN (the original stays untouched)")
			}
			if isLog, err := notJSON(in); err != nil {
				return err
			} else if isLog {
				n, err := redactLog(in, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.ErrWriter, "regtrace: wrote %s (%d lines, redacted)\n", out, n)
				return nil
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

// notJSON reports whether path starts with something other than '{': a log.
func notJSON(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	t := bytes.TrimLeft(head[:n], " \t\r\n\ufeff")
	return len(t) > 0 && t[0] != '{', nil
}

// redactLog writes in to out line by line through the redaction policy,
// atomically and with mode 0600, as HAR files are.
func redactLog(in, out string) (int, error) {
	src, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".regtrace-redact-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return 0, err
	}
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	w := bufio.NewWriter(tmp)
	n := 0
	for sc.Scan() {
		n++
		w.WriteString(redact.Text(sc.Text()))
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		tmp.Close()
		return n, fmt.Errorf("reading %s at line %d: %w", in, n+1, err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), out)
}
