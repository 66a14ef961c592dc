package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/har"
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
		Flags: append(caFlags(),
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: defaultListen,
				Usage: "address to listen on; a non-loopback address exposes a MITM proxy to the network"},
			&cli.StringSliceFlag{Name: "upstream-ca", Usage: "PEM file of extra roots to trust upstream (repeatable)"},
			&cli.BoolFlag{Name: "insecure-upstream", Usage: "do not verify upstream certificates (flows are marked)"},
			&cli.StringFlag{Name: "upstream-proxy", Usage: "send upstream requests through this proxy URL (HTTPS_PROXY is never read)"},
			&cli.StringSliceFlag{Name: "resolve", Usage: "host:port=addr: map a name for the proxy's own dials, like curl --resolve (repeatable)"},
			&cli.IntFlag{Name: "capture-limit", Value: proxy.DefaultCaptureLimit, Usage: "bytes kept of each text/JSON body (0: none)"},
			&cli.BoolFlag{Name: "no-color", EnvVars: []string{"REGTRACE_NO_COLOR"}, Usage: "no colors (also NO_COLOR, or when not a terminal)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print headers too (secrets redacted)"},
			&cli.BoolFlag{Name: "no-redact", Usage: "print secrets as they are (dangerous: never paste such output into a ticket)"},
			&cli.BoolFlag{Name: "explain", Usage: "explain failures as they happen (after a second of quiet) and in a summary on exit"},
			&cli.StringFlag{Name: "har", Usage: "also write every exchange to this HAR file (mode 0600, secrets redacted unless --no-redact; readable after a crash)"},
		),
		Action: runProxy,
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
	if !isLoopback(listen) {
		fmt.Fprintf(stderr, "regtrace: warning: listening on %s, not loopback: anyone who can reach it can use this MITM proxy and read what passes through it\n", listen)
	}
	if opts.InsecureUpstream {
		fmt.Fprintln(stderr, "regtrace: warning: --insecure-upstream: upstream certificates are not verified; flows are marked insecure")
	}
	if c.Bool("no-redact") {
		fmt.Fprintln(stderr, "regtrace: warning: --no-redact: passwords and tokens are printed as they are")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	con := render.NewConsole(c.App.Writer, render.ConsoleOptions{
		Color:    colorWanted(c, c.App.Writer),
		Verbose:  c.Bool("verbose"),
		NoRedact: c.Bool("no-redact"),
	})
	var nFlows, nHandshakes atomic.Int64
	opts.GetCertificate = ca.GetCertificate
	// Flows end in completion order, which is also causal order for what
	// decoding links (a challenge before its token request, a token before
	// its use, a redirect before its target).
	var hw *har.Writer
	if path := c.String("har"); path != "" {
		hw, err = har.Create(path, har.Options{NoRedact: c.Bool("no-redact"), CreatorVersion: buildVersion()})
		if err != nil {
			ln.Close()
			return fmt.Errorf("--har: %w", err)
		}
	}
	var mu sync.Mutex
	sess := decode.NewSession()
	live := newLiveExplainer(c, &mu)
	var all explain.Input // for the HAR's findings annotation
	opts.OnFlow = func(f *flow.Flow) {
		nFlows.Add(1)
		mu.Lock()
		defer mu.Unlock()
		x := sess.Decode(f)
		con.Exchange(x)
		live.add(x, nil)
		if hw != nil {
			all.Exchanges = append(all.Exchanges, x)
			if err := hw.Add(f, har.Annotation{Kind: x.Kind.String()}); err != nil {
				fmt.Fprintf(stderr, "regtrace: writing the HAR: %v\n", err)
			}
		}
	}
	opts.OnHandshakeFailure = func(h flow.HandshakeFailure) {
		nHandshakes.Add(1)
		mu.Lock()
		defer mu.Unlock()
		con.HandshakeFailure(h)
		live.add(nil, &h)
		if hw != nil {
			all.Handshakes = append(all.Handshakes, h)
			hw.AddHandshakeFailure(h)
		}
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := proxy.New(opts)
	if err != nil {
		ln.Close()
		return err
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stderr, "regtrace %s: proxy listening on http://%s (CA %s)\n", buildVersion(), addr, ca.CertFile())
	fmt.Fprintf(stderr, "  export HTTPS_PROXY=http://%s HTTP_PROXY=http://%s\n", addr, addr)
	fmt.Fprintf(stderr, "  trust the CA: SSL_CERT_FILE=$(regtrace ca bundle) for Go clients; regtrace ca trust for the others\n")

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
	live.finish()
	if hw != nil {
		mu.Lock()
		var notes []string
		for _, f := range explain.Explain(all).Findings {
			notes = append(notes, fmt.Sprintf("%s %s %v", f.Rule, f.Verdict, f.Evidence))
		}
		hw.SetFindings(notes)
		mu.Unlock()
		if err := hw.Close(); err != nil {
			fmt.Fprintf(stderr, "regtrace: closing the HAR: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "regtrace: wrote %s (regtrace explain %s)\n", c.String("har"), c.String("har"))
		}
	}
	summary := fmt.Sprintf("regtrace: %d exchanges", nFlows.Load())
	if n := nHandshakes.Load(); n > 0 {
		summary += fmt.Sprintf(", %d failed client TLS handshakes (clients that do not trust the CA: regtrace ca trust)", n)
	}
	fmt.Fprintln(stderr, summary)
	if nFlows.Load() == 0 && nHandshakes.Load() == 0 {
		fmt.Fprintln(stderr, "regtrace: no request came through the proxy: clients skip proxies for localhost and loopback IPs and for NO_PROXY hosts; docker pulls are made by the daemon, which needs the proxy in its own environment")
	}
	return nil
}

// liveExplainer runs explain over what the proxy has seen so far whenever
// traffic pauses for a second (an operation has ended: clients retry within
// milliseconds), prints findings not printed before, and the whole report on
// exit. It shares the console's lock so lines never interleave.
type liveExplainer struct {
	on      bool
	c       *cli.Context
	mu      *sync.Mutex
	in      explain.Input
	printed map[string]bool
	timer   *time.Timer
}

const quietBeforeExplain = time.Second

func newLiveExplainer(c *cli.Context, mu *sync.Mutex) *liveExplainer {
	l := &liveExplainer{on: c.Bool("explain"), c: c, mu: mu, printed: map[string]bool{}}
	if l.on {
		l.timer = time.AfterFunc(time.Hour, l.quiet)
		l.timer.Stop()
	}
	return l
}

// add records one exchange or handshake failure; the caller holds mu.
func (l *liveExplainer) add(x *decode.Exchange, h *flow.HandshakeFailure) {
	if !l.on {
		return
	}
	if x != nil {
		l.in.Exchanges = append(l.in.Exchanges, x)
	}
	if h != nil {
		l.in.Handshakes = append(l.in.Handshakes, *h)
	}
	l.timer.Reset(quietBeforeExplain)
}

func (l *liveExplainer) quiet() {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := explain.Explain(l.in)
	var fresh []explain.Finding
	for _, f := range rep.Findings {
		key := fmt.Sprint(f.Rule, f.Registry, f.Repo, f.Evidence)
		if !l.printed[key] {
			l.printed[key] = true
			f.Primary = false // "why it failed" is the exit summary's to say
			fresh = append(fresh, f)
		}
	}
	if len(fresh) == 0 {
		return
	}
	w := l.c.App.Writer
	fmt.Fprintln(w)
	render.Text(w, &explain.Report{Operations: rep.Operations, Findings: fresh}, render.ReportOptions{
		Color: colorWanted(l.c, w), NoRedact: l.c.Bool("no-redact"),
	})
	fmt.Fprintln(w)
}

// finish stops the timer and prints the whole report.
func (l *liveExplainer) finish() {
	if !l.on {
		return
	}
	l.timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.c.App.Writer
	fmt.Fprintln(w, "\n== regtrace explain: summary ==")
	render.Text(w, explain.Explain(l.in), render.ReportOptions{Color: colorWanted(l.c, w), NoRedact: l.c.Bool("no-redact")})
}
