package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/decode/logs"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "explain a recorded trace (a HAR file from regtrace, a browser or mitmproxy) or a client's debug log",
		ArgsUsage: "FILE|-",
		Description: `Decodes every exchange and says why the operation failed, with the evidence, the fix and
what the trace cannot prove — the same answer the live proxy gives.

Examples:
   regtrace explain trace.har
   regtrace explain --format markdown trace.har > report.md     # for a support ticket (with a diagram)
   regtrace explain --format html trace.har > report.html       # one self-contained page to attach
   regtrace explain --flow 3 trace.har                          # one exchange in full, decoded
   regtrace explain --rules                                     # every rule: what it means, the fix

Exit status: 0 when every operation reached its goal (or a later run of the same client did),
3 when one did not (explained or not), 1 when the file cannot be read, 2 for a usage mistake.`,
		Flags: append(reportFlags(),
			&cli.IntFlag{Name: "flow", Usage: "show one exchange (by flow number) in full, decoded"},
			&cli.BoolFlag{Name: "rules", Usage: "list every rule with what it means and its fix (no FILE); --format markdown gives RULES.md"},
		),
		Action: runExplain,
	}
}

// reportFlags are the flags of every command that writes a report.
func reportFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "text", Usage: "text, markdown, html or json"},
		&cli.BoolFlag{Name: "no-color", EnvVars: []string{"REGTRACE_NO_COLOR"}, Usage: "no colors"},
		&cli.BoolFlag{Name: "no-redact", Usage: "print secrets found in the input as they are"},
	}
}

// reportFormat reads reportFlags: the format, checked, and the options.
func reportFormat(c *cli.Context) (string, render.ReportOptions, error) {
	format := c.String("format")
	if format != "text" && format != "markdown" && format != "json" && format != "html" {
		return "", render.ReportOptions{}, usagef("--format %q: want text, markdown, html or json", format)
	}
	return format, render.ReportOptions{Color: format == "text" && !c.Bool("no-color") && colorWanted(c, c.App.Writer), NoRedact: c.Bool("no-redact")}, nil
}

func runExplain(c *cli.Context) error {
	format, opts, err := reportFormat(c)
	if err != nil {
		return err
	}
	if c.Bool("rules") {
		if format == "html" {
			return usagef("explain --rules: --format text, markdown or json")
		}
		if c.NArg() != 0 {
			return usagef("explain --rules takes no file")
		}
		switch format {
		case "markdown":
			return render.RulesMarkdown(c.App.Writer, explain.Rules())
		case "json":
			return render.RulesJSON(c.App.Writer, explain.Rules())
		}
		return render.RulesText(c.App.Writer, explain.Rules())
	}
	if c.NArg() != 1 {
		return usagef("explain: want one file (a HAR or a client's log; - for standard input)")
	}
	// Reading a large HAR is allocation-bound; a trace is read once and
	// dropped, so fewer collections trade a little peak memory for speed.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	in, err := readInput(c.Args().First(), c.App.Reader)
	if err != nil {
		return err
	}
	if n := c.Int("flow"); n > 0 {
		for _, x := range in.Exchanges {
			if int(x.Flow.ID) == n {
				con := render.NewConsole(c.App.Writer, render.ConsoleOptions{Color: opts.Color, Verbose: true, NoRedact: opts.NoRedact})
				con.Exchange(x)
				return nil
			}
		}
		return fmt.Errorf("no flow %s in %s", strconv.Itoa(n), c.Args().First())
	}
	rep := explain.Explain(in)
	switch format {
	case "markdown":
		err = render.Markdown(c.App.Writer, rep, opts)
	case "json":
		err = render.JSON(c.App.Writer, rep, opts)
	case "html":
		err = render.HTML(c.App.Writer, rep, opts)
	default:
		if in.Sanitized {
			fmt.Fprintln(c.App.ErrWriter, "regtrace: note: this HAR was exported without credentials (a browser's sanitized export): whether credentials were sent cannot be proven from it")
		}
		err = render.Text(c.App.Writer, rep, opts)
	}
	if err == nil && rep.Failed() {
		return cli.Exit("", exitFound)
	}
	return err
}

// readInput reads what it is given — a HAR file, or a log regtrace knows —
// recognising it by content; "-" is standard input.
func readInput(path string, stdin io.Reader) (explain.Input, error) {
	var r io.Reader
	var file *os.File
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return explain.Input{}, err
		}
		defer f.Close()
		r, file = f, f
	}
	br := bufio.NewReaderSize(r, 64*1024)
	head, _ := br.Peek(4096)
	if isHAR(head) {
		if path != "-" {
			return readHARInput(path)
		}
		// The HAR reader maps a file: give it one.
		tmp, err := os.CreateTemp("", "regtrace-stdin-*.har")
		if err != nil {
			return explain.Input{}, err
		}
		defer os.Remove(tmp.Name())
		_, err = io.Copy(tmp, br)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return explain.Input{}, fmt.Errorf("reading standard input: %w", err)
		}
		return readHARInput(tmp.Name())
	}
	// logs.Read sizes its buffer from a file it is given.
	var lr io.Reader = br
	if file != nil {
		if _, err := file.Seek(0, io.SeekStart); err == nil {
			lr = file
		}
	}
	t, err := logs.Read(lr)
	if err != nil {
		return explain.Input{}, fmt.Errorf("%s: %w", path, err)
	}
	in := explain.Input{Exchanges: decode.NewSession().DecodeAll(t.Flows), Source: &explain.Source{Name: t.Name, HidesAuth: t.HidesAuth, Lacks: t.Lacks, Capture: t.Command,
		CredentialsFor: t.CredentialsFor, CredentialsHint: t.CredentialsHint}}
	return in, nil
}

// isHAR: JSON whose first key is "log". A JSON log (slog, regctl's
// --logopt json) is one object per line with other keys.
func isHAR(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	t = bytes.TrimLeft(t[1:], " \t\r\n")
	return bytes.HasPrefix(t, []byte(`"log"`)) || len(t) == 0
}

// readHARInput reads a HAR file and decodes its flows in order, as live.
func readHARInput(path string) (explain.Input, error) {
	tr, err := har.ReadTrace(path)
	if err != nil {
		return explain.Input{}, err
	}
	return explain.Input{Handshakes: tr.Handshakes, Sanitized: tr.Sanitized, Exchanges: decode.NewSession().DecodeAll(tr.Flows)}, nil
}
