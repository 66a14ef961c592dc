package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/diff"
	"github.com/regtrace/regtrace/explain/render"
)

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two runs of the same job and name where they diverge",
		ArgsUsage: "A B",
		Description: `Reads two traces — HAR files or client logs, in any mix — explains each, pairs their
operations by registry and repository, and names the first point where they part in registry
terms (a scope asked of the token server, credentials one never sent, a V1 fallback, a token
expired before its request), what followed, and each side's verdict.

Examples:
   regtrace diff works-with-docker.har fails-with-skopeo.har
   regtrace diff yesterday.har today.har
   regtrace diff laptop.har node-containerd.log       # a HAR against a daemon's log
   regtrace diff --format markdown a.har b.har > diff.md

Exit status: 0 when both runs reached the same outcome, 3 when they diverge, 1 when a file
cannot be read, 2 for a usage mistake.`,
		Flags:  reportFlags(),
		Action: runDiff,
	}
}

func runDiff(c *cli.Context) error {
	format, opts, err := reportFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() != 2 {
		return usagef("diff: want two files, A and B (a HAR or a client's log each; - for standard input, once)")
	}
	a, b := c.Args().Get(0), c.Args().Get(1)
	if a == "-" && b == "-" {
		return usagef("diff: standard input can be only one of the two sides")
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var sides [2]diff.Side
	for i, path := range []string{a, b} {
		in, err := readInput(path, c.App.Reader)
		if err != nil {
			return fmt.Errorf("side %c: %w", 'A'+i, err)
		}
		name := path
		if path == "-" {
			name = "standard input"
		}
		sides[i] = diff.Side{Name: name, Report: explain.Explain(in)}
	}
	r := diff.Compare(sides[0], sides[1])
	switch format {
	case "markdown":
		err = render.DiffMarkdown(c.App.Writer, r, opts)
	case "json":
		err = render.DiffJSON(c.App.Writer, r, opts)
	case "html":
		err = render.DiffHTML(c.App.Writer, r, opts)
	default:
		err = render.DiffText(c.App.Writer, r, opts)
	}
	if err == nil && !r.Same {
		return cli.Exit("", exitFound)
	}
	return err
}
