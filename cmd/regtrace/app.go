package main

import (
	"io"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build info.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// newApp builds the CLI around the given stdio, so tests run it in-process.
// It never exits the process and relies on no urfave/cli globals.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "regtrace",
		Usage: "see and explain what a container registry client really did",
		Description: `regtrace is a debugging HTTPS proxy for registry traffic (docker, podman, skopeo,
oras, crane, regctl, containerd). Point a client at it with HTTPS_PROXY and every exchange
with registries, token servers and blob stores is shown as it happens, secrets redacted.

Quick start:
   regtrace proxy                                  # terminal 1
   export HTTPS_PROXY=http://127.0.0.1:8080        # terminal 2
   SSL_CERT_FILE=$(regtrace ca bundle) skopeo inspect docker://registry.example.com/team/app:1.0`,
		Version:              buildVersion(),
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: false,
		HideHelpCommand:      true,
		// Errors go back to run, which prints them and picks the exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{
			proxyCommand(),
			runCommand(),
			caCommand(),
			decodeCommand(),
			explainCommand(),
			redactCommand(),
			probeCommand(),
			diffCommand(),
		},
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usagef("no command %q; see regtrace --help", c.Args().First())
		}
		return cli.ShowAppHelp(c)
	}
	// Usage mistakes exit 2 without a page of help, at every level.
	var setUsage func([]*cli.Command)
	setUsage = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.OnUsageError = app.OnUsageError
			setUsage(cmd.Subcommands)
		}
	}
	setUsage(app.Commands)
	return app
}
