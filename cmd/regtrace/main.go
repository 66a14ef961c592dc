// Command regtrace is a debugging HTTPS proxy for container registries: it
// shows every exchange between a registry client and its registries, token
// servers and blob stores, and explains why a pull or push failed.
//
// This package owns flags, environment, files, stdio and exit codes, and
// wires the other packages together; they never print or exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes: 0 ok, 1 failure, 2 usage.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitFound: regtrace explain found an operation that did not reach
	// its goal (explained or not), so a script or CI job can act on it.
	exitFound = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// run executes the CLI and maps its error to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runApp(ctx, newApp(stdout, stderr), args)
}

// runApp runs a built app (tests set its Reader) and maps errors to exit codes.
func runApp(ctx context.Context, app *cli.App, args []string) int {
	stderr := app.ErrWriter
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "regtrace: %v\n", err)
		return exitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintf(stderr, "regtrace: %s\n", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintf(stderr, "regtrace: %v\n", err)
	return exitFailure
}

// usageError marks a mistake in how regtrace was invoked.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }
