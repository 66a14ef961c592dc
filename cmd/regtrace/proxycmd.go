package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
	"github.com/regtrace/regtrace/proxy"
)

const defaultListen = "127.0.0.1:8080"

func proxyCommand() *cli.Command {
	return &cli.Command{
		Name:  "proxy",
		Usage: "run the proxy and print each exchange as it completes",
		Description: `Listens on 127.0.0.1:8080 by default. Point a client at it and reproduce the problem:

   regtrace proxy
   export HTTPS_PROXY=http://127.0.0.1:8080
   SSL_CERT_FILE=$(regtrace ca bundle) skopeo inspect docker://registry.example.com/team/app:1.0

Each line: flow number, method, host, path, status, time, size, and the challenge of a 401.
Secrets (Authorization, cookies, tokens, signed URL parameters) are redacted.

Test registries on loopback: clients never send localhost through a proxy, so give the
registry a name only regtrace resolves:
   regtrace proxy --resolve registry.test:5000=127.0.0.1 --upstream-ca registry-ca.crt`,
		Flags: append(append(caFlags(), upstreamFlags()...),
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: defaultListen,
				Usage: "address to listen on; a non-loopback address needs --proxy-auth (or --insecure-listen)"},
			&cli.StringFlag{Name: "proxy-auth", Usage: "htpasswd file of bcrypt entries (htpasswd -B): clients must authenticate (HTTPS_PROXY=http://USER:PASSWORD@host:port)"},
			&cli.BoolFlag{Name: "insecure-listen", Usage: "allow a non-loopback --listen without --proxy-auth: anyone who reaches it can use the MITM proxy"},
			&cli.IntFlag{Name: "capture-limit", Value: proxy.DefaultCaptureLimit, Usage: "bytes kept of each text/JSON body (0: none)"},
			&cli.BoolFlag{Name: "no-color", EnvVars: []string{"REGTRACE_NO_COLOR"}, Usage: "no colors (also NO_COLOR, or when not a terminal)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print headers too (secrets redacted)"},
			&cli.BoolFlag{Name: "no-redact", Usage: "print secrets as they are (dangerous: never paste such output into a ticket)"},
			&cli.BoolFlag{Name: "explain", Usage: "explain failures as they happen (after a second of quiet) and in a summary on exit"},
			&cli.StringFlag{Name: "har", Usage: "also write every exchange to this HAR file (mode 0600, secrets redacted unless --no-redact; readable after a crash); each entry names its client"},
			&cli.StringFlag{Name: "har-dir", Usage: "also write one HAR per client (its proxy user, else its IP address) in this directory"},
			&cli.StringFlag{Name: "har-max-size", Usage: "rotate a HAR file when it grows past this size (e.g. 100MB): it is renamed with the time and a new one started"},
			&cli.IntFlag{Name: "har-keep", Value: 5, Usage: "rotated files kept per HAR (older ones are removed; 0 keeps none)"},
			&cli.IntFlag{Name: "explain-keep", Usage: "exchanges kept in memory per client for --explain, oldest dropped (default: all; 20000 when the proxy is shared)"},
			&cli.StringFlag{Name: "otlp-endpoint", Usage: "export each exchange as an OpenTelemetry span to this collector (http://host:4318; with --otlp-protocol grpc, http://host:4317); also OTEL_EXPORTER_OTLP_ENDPOINT"},
			&cli.StringFlag{Name: "otlp-protocol", Usage: "OTLP transport: http/protobuf (default) or grpc; also OTEL_EXPORTER_OTLP_PROTOCOL"},
			// For cmd/regtrace-bench: profile the proxy as users run it.
			&cli.StringFlag{Name: "cpuprofile", Hidden: true, Usage: "write a CPU profile to this file until the proxy stops"},
		),
		Action: runProxy,
	}
}

// upstreamFlags are how regtrace reaches registries, shared by the proxy
// and the probe (proxyConfig reads them).
func upstreamFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "upstream-ca", Usage: "PEM file of extra roots to trust upstream (repeatable)"},
		&cli.BoolFlag{Name: "insecure-upstream", Usage: "do not verify upstream certificates (flows are marked)"},
		&cli.StringFlag{Name: "upstream-proxy", Usage: "send upstream requests through this proxy URL (the proxy never reads HTTPS_PROXY; the probe does unless this is set)"},
		&cli.StringSliceFlag{Name: "resolve", Usage: "host:port=addr: map a name for regtrace's own dials, like curl --resolve (repeatable)"},
	}
}

// proxyConfig turns flags into proxy.Options (less the callbacks).
func proxyConfig(c *cli.Context) (proxy.Options, error) {
	var o proxy.Options
	if c.IsSet("capture-limit") {
		o.CaptureLimit = c.Int("capture-limit")
		if o.CaptureLimit == 0 {
			o.CaptureLimit = -1
		} else if o.CaptureLimit < 0 {
			return o, usagef("--capture-limit %d: must be 0 or more", o.CaptureLimit)
		}
	}
	if files := c.StringSlice("upstream-ca"); len(files) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return o, fmt.Errorf("--upstream-ca: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("--upstream-ca %s: no PEM certificate in it", f)
			}
		}
		o.UpstreamRoots = pool
	}
	o.InsecureUpstream = c.Bool("insecure-upstream")
	if s := c.String("upstream-proxy"); s != "" {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
			return o, usagef("--upstream-proxy %q: want a URL such as http://proxy.example:3128", s)
		}
		o.UpstreamProxy = u
	}
	for _, r := range c.StringSlice("resolve") {
		k, a, err := proxy.ParseResolve(r)
		if err != nil {
			return o, usageError{fmt.Errorf("--resolve: %w", err)}
		}
		if o.Resolve == nil {
			o.Resolve = map[string]string{}
		}
		o.Resolve[k] = a
	}
	return o, nil
}

// colorWanted applies --no-color, NO_COLOR (https://no-color.org) and
// whether w is a terminal.
func colorWanted(c *cli.Context, w io.Writer) bool {
	if c.Bool("no-color") {
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runProxy(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("proxy takes no arguments, got %q", c.Args().Slice())
	}
	stderr := c.App.ErrWriter
	opts, err := proxyConfig(c)
	if err != nil {
		return err
	}
	ca, _, err := loadCA(c)
	if err != nil {
		return err
	}
	listen := c.String("listen")
	if path := c.String("proxy-auth"); path != "" {
		users, err := readHtpasswd(path)
		if err != nil {
			return usageError{err}
		}
		opts.Authenticate = users.Authenticate
	}
	switch {
	case isLoopback(listen):
	case opts.Authenticate == nil && !c.Bool("insecure-listen"):
		return usagef("--listen %s is not loopback: a MITM proxy open to the network reads everything that passes; add --proxy-auth FILE (htpasswd -B), or --insecure-listen to do it on purpose", listen)
	case opts.Authenticate == nil:
		fmt.Fprintf(stderr, "regtrace: warning: listening on %s, not loopback, without --proxy-auth: anyone who can reach it can use this MITM proxy and read what passes through it\n", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	ses, err := newSession(c, c.App.Writer, c.Bool("explain"), false)
	if err != nil {
		ln.Close()
		return err
	}
	if err := ses.startExport(c.Context); err != nil {
		ln.Close()
		return err
	}
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			ln.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	p, err := ses.newProxy(opts, ca.GetCertificate)
	if err != nil {
		ln.Close()
		return err
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stderr, "regtrace %s: proxy listening on http://%s (CA %s)\n", buildVersion(), addr, ca.CertFile())
	fmt.Fprintf(stderr, "  export HTTPS_PROXY=http://%s HTTP_PROXY=http://%s\n", addr, addr)
	fmt.Fprintf(stderr, "  trust the CA: SSL_CERT_FILE=$(regtrace ca bundle) for Go clients; regtrace ca trust for the others\n")
	if ses.otlp != nil {
		fmt.Fprintf(stderr, "  exporting spans to %s\n", ses.otlp.Endpoint())
	}

	served := make(chan error, 1)
	go func() { served <- p.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("proxy stopped: %w", err)
	case <-c.Context.Done():
	}
	fmt.Fprintln(stderr, "regtrace: stopping; waiting up to 3s for exchanges in progress")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "regtrace: shutdown: %v\n", err)
	}
	p.Close()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	ses.finish()
	if un := p.UnrecordedRefusals(); len(un) > 0 {
		var parts []string
		for _, ip := range slices.Sorted(maps.Keys(un)) {
			parts = append(parts, fmt.Sprintf("%s %d", ip, un[ip]))
		}
		fmt.Fprintf(stderr, "regtrace: 407 refusals answered but not recorded (past %d a minute per address, a client failing proxy authentication in a loop): %s\n",
			proxy.RefusalsRecorded, strings.Join(parts, ", "))
	}
	return nil
}

// liveExplainer runs explain over what the proxy has seen so far whenever
// traffic pauses for a second (an operation has ended: clients retry within
// milliseconds), prints findings not printed before, and the whole report on
// exit. It shares the session's lock so lines never interleave.
type liveExplainer struct {
	on bool
	// summary: print the whole report at finish (regtrace run prints its
	// own, in the format asked for).
	summary bool
	c       *cli.Context
	w       io.Writer
	mu      *sync.Mutex
	in      func() explain.Input // the session's, read under mu
	live    explain.Live
	timer   *time.Timer
}

const quietBeforeExplain = time.Second

func newLiveExplainer(c *cli.Context, w io.Writer, mu *sync.Mutex, in func() explain.Input, on bool) *liveExplainer {
	l := &liveExplainer{on: on, summary: true, c: c, w: w, mu: mu, in: in}
	if l.on {
		l.timer = time.AfterFunc(time.Hour, l.quiet)
		l.timer.Stop()
	}
	return l
}

// touch restarts the quiet timer after new traffic; the caller holds mu.
func (l *liveExplainer) touch() {
	if l.on {
		l.timer.Reset(quietBeforeExplain)
	}
}

func (l *liveExplainer) quiet() {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := l.live.Update(l.in())
	if len(rep.Findings) == 0 {
		return
	}
	fmt.Fprintln(l.w)
	render.Text(l.w, rep, render.ReportOptions{Color: colorWanted(l.c, l.w), NoRedact: l.c.Bool("no-redact"), Live: true})
	fmt.Fprintln(l.w)
}

// finish stops the timer and prints the whole report.
func (l *liveExplainer) finish() {
	if !l.on {
		return
	}
	l.timer.Stop()
	if !l.summary {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, "\n== regtrace explain: summary ==")
	render.Text(l.w, explain.Explain(l.in()), render.ReportOptions{Color: colorWanted(l.c, l.w), NoRedact: l.c.Bool("no-redact")})
}
