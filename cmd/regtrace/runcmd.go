package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/certs"
	"github.com/regtrace/regtrace/explain/render"
	"github.com/regtrace/regtrace/proxy"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a command through a private proxy and explain what it did",
		ArgsUsage: "[--har FILE] -- CMD [ARGS…]",
		Description: `Starts a proxy on a free loopback port with a CA made for this run only (its key never
touches the disk), runs CMD with HTTPS_PROXY/HTTP_PROXY (both cases) pointing at it, NO_PROXY
cleared and SSL_CERT_FILE set to a bundle of the system roots and that CA, prints each exchange
on standard error, explains the result when CMD ends, and exits with CMD's status.

Examples:
   regtrace run -- skopeo inspect docker://registry.example.com/team/app:1.0
   regtrace run --har trace.har -- crane manifest registry.example.com/team/app:1.0
   regtrace run --resolve registry.test:5000=127.0.0.1 --upstream-ca reg-ca.crt -- oras pull registry.test:5000/a:1

SSL_CERT_FILE is honoured by Go programs on Linux. The docker CLI does not pull: the daemon
does, so 'regtrace run -- docker pull' sees nothing (regtrace says what to do instead).`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "upstream-ca", Usage: "PEM file of extra roots to trust upstream (repeatable)"},
			&cli.BoolFlag{Name: "insecure-upstream", Usage: "do not verify upstream certificates"},
			&cli.StringFlag{Name: "upstream-proxy", Usage: "send upstream requests through this proxy URL"},
			&cli.StringSliceFlag{Name: "resolve", Usage: "host:port=addr for the proxy's own dials (repeatable)"},
			&cli.IntFlag{Name: "capture-limit", Value: proxy.DefaultCaptureLimit, Usage: "bytes kept of each text/JSON body (0: none)"},
			&cli.StringFlag{Name: "har", Usage: "write every exchange to this HAR file"},
			&cli.BoolFlag{Name: "explain", Usage: "also explain failures while CMD runs (after a second of quiet), not only when it ends"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "the final explanation: text, markdown or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no line per exchange, only the explanation"},
			&cli.BoolFlag{Name: "no-color", EnvVars: []string{"REGTRACE_NO_COLOR"}, Usage: "no colors"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print headers too (secrets redacted)"},
			&cli.BoolFlag{Name: "no-redact", Usage: "print secrets as they are"},
		},
		Action: runRun,
	}
}

// childEnv is the command's environment: proxy variables for this run only,
// NO_PROXY and ALL_PROXY dropped (they would route around the proxy), the
// trust bundle, and a marker against nesting.
func childEnv(base []string, proxyURL, bundle string) []string {
	drop := map[string]bool{"HTTPS_PROXY": true, "HTTP_PROXY": true, "NO_PROXY": true, "ALL_PROXY": true, "SSL_CERT_FILE": true, "REGTRACE_ACTIVE": true}
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if drop[strings.ToUpper(k)] {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HTTPS_PROXY="+proxyURL, "https_proxy="+proxyURL, "HTTP_PROXY="+proxyURL, "http_proxy="+proxyURL,
		"SSL_CERT_FILE="+bundle, "REGTRACE_ACTIVE=1")
}

func runRun(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return usagef("run: want a command after --, e.g. regtrace run -- skopeo inspect docker://…")
	}
	format := c.String("format")
	if format != "text" && format != "markdown" && format != "json" {
		return usagef("--format %q: want text, markdown or json", format)
	}
	stderr := c.App.ErrWriter
	if os.Getenv("REGTRACE_ACTIVE") == "1" {
		fmt.Fprintln(stderr, "regtrace: note: already inside regtrace run: this run's proxy goes direct, not through the outer one")
	}
	switch filepath.Base(args[0]) {
	case "docker":
		fmt.Fprintln(stderr, "regtrace: note: the docker CLI does not pull or push itself; the daemon does, and it does not use this proxy. "+
			"Give the daemon the proxy (systemd drop-in Environment=HTTPS_PROXY=… or daemon.json \"proxies\") and the CA "+
			"(/etc/docker/certs.d/<host:port>/ca.crt), then use regtrace proxy; see regtrace ca trust --client docker.")
	case "crictl":
		fmt.Fprintln(stderr, "regtrace: note: crictl does not pull itself; the container runtime (containerd, CRI-O) does, as for the kubelet, "+
			"and it does not use this proxy. Give the runtime the proxy (systemd drop-in Environment=HTTPS_PROXY=…) and the CA "+
			"(containerd: a hosts.toml under its config_path), then use regtrace proxy; see regtrace ca trust --client crictl.")
	}
	opts, err := proxyConfig(c)
	if err != nil {
		return err
	}
	ca, err := certs.New(certs.Options{Name: "regtrace run CA (ephemeral)"})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "regtrace-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bundle := filepath.Join(dir, "bundle.pem")
	if err := certs.WriteBundle(bundle, ca); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The trace and CMD's standard error share one writer: serialise them
	// unless it is a file, which CMD gets as its own descriptor.
	errw := &lockedWriter{w: c.App.ErrWriter}
	var childErr io.Writer = errw
	if f, ok := c.App.ErrWriter.(*os.File); ok {
		childErr = f
	}
	var trace io.Writer = errw
	if c.Bool("quiet") {
		trace = discard{}
	}
	ses, err := newSession(c, trace, c.Bool("explain"), true)
	if err != nil {
		ln.Close()
		return err
	}
	ses.live.summary = false // the report below is the summary
	p, err := ses.newProxy(opts, ca.GetCertificate)
	if err != nil {
		ln.Close()
		return err
	}
	go p.Serve(ln)
	proxyURL := "http://" + ln.Addr().String()

	cmd := exec.CommandContext(c.Context, args[0], args[1:]...)
	cmd.Env = childEnv(os.Environ(), proxyURL, bundle)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.App.Reader, c.App.Writer, childErr
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.Shutdown(ctx)
	p.Close()
	ses.finish()

	rep := ses.report()
	w := errw
	fmt.Fprintln(w, "\n== regtrace explain ==")
	ropts := render.ReportOptions{Color: format == "text" && colorWanted(c, w), NoRedact: c.Bool("no-redact")}
	switch format {
	case "markdown":
		render.Markdown(w, rep, ropts)
	case "json":
		render.JSON(w, rep, ropts)
	default:
		render.Text(w, rep, ropts)
	}

	var ee *exec.ExitError
	switch {
	case runErr == nil:
		return nil
	case errors.As(runErr, &ee):
		code := ee.ExitCode()
		if code < 0 {
			code = exitFailure
		}
		return cli.Exit("", code)
	}
	return fmt.Errorf("running %s: %w", args[0], runErr)
}

// lockedWriter makes one writer safe for the proxy's trace and a child's
// output copied by os/exec.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
