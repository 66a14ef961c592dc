package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
	"github.com/regtrace/regtrace/proxy"
)

// session is what `regtrace proxy` and `regtrace run` do with each flow:
// decode it in order, print it, keep it for explain, write it to the HAR.
type session struct {
	c      *cli.Context
	out    io.Writer // the trace and explanations
	stderr io.Writer
	con    *render.Console
	live   *liveExplainer

	mu     sync.Mutex // one flow at a time: decoding is sequential, lines must not interleave
	dec    *decode.Session
	keep   bool          // keep exchanges for a final explain
	all    explain.Input // kept exchanges
	hw     *har.Writer
	nFlows int
	nTLS   int
}

// newSession prints to out. liveExplain prints findings as traffic pauses
// and a summary at the end; keep keeps every exchange for Explain.
func newSession(c *cli.Context, out io.Writer, liveExplain, keep bool) (*session, error) {
	s := &session{c: c, out: out, stderr: c.App.ErrWriter, dec: decode.NewSession(), keep: keep}
	s.con = render.NewConsole(out, render.ConsoleOptions{
		Color: colorWanted(c, out), Verbose: c.Bool("verbose"), NoRedact: c.Bool("no-redact"),
	})
	s.keep = s.keep || liveExplain
	s.live = newLiveExplainer(c, out, &s.mu, &s.all, liveExplain)
	if path := c.String("har"); path != "" {
		hw, err := har.Create(path, har.Options{NoRedact: c.Bool("no-redact"), CreatorVersion: buildVersion()})
		if err != nil {
			return nil, fmt.Errorf("--har: %w", err)
		}
		// The findings written into the HAR at the end are worked out from
		// the file itself: nothing is kept in memory for them.
		s.hw = hw
	}
	return s, nil
}

// hook installs the session's callbacks. Flows end in completion order,
// which is also causal order for what decoding links (a challenge before
// its token request, a token before its use, a redirect before its target).
func (s *session) hook(o *proxy.Options) {
	o.OnFlow = func(f *flow.Flow) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.nFlows++
		x := s.dec.Decode(f)
		s.con.Exchange(x)
		if s.keep {
			s.all.Exchanges = append(s.all.Exchanges, x)
		}
		s.live.touch()
		if s.hw != nil {
			if err := s.hw.Add(f, har.Annotation{Kind: x.Kind.String()}); err != nil {
				// Once: a full disk fails every later write too; Close
				// says how many were lost.
				if ue, ok := err.(*har.UnwrittenError); !ok || ue.N == 1 {
					fmt.Fprintf(s.stderr, "regtrace: writing the HAR: %v (the proxy goes on; the count comes at exit)\n", err)
				}
			}
		}
	}
	o.OnHandshakeFailure = func(h flow.HandshakeFailure) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.nTLS++
		s.con.HandshakeFailure(h)
		if s.keep {
			s.all.Handshakes = append(s.all.Handshakes, h)
		}
		s.live.touch()
		if s.hw != nil {
			s.hw.AddHandshakeFailure(h)
		}
	}
}

// newProxy warns about the flags that weaken the defaults, and builds the
// proxy with the session's callbacks and the given certificates.
func (s *session) newProxy(opts proxy.Options, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*proxy.Proxy, error) {
	if opts.InsecureUpstream {
		fmt.Fprintln(s.stderr, "regtrace: warning: --insecure-upstream: upstream certificates are not verified; flows are marked insecure")
	}
	if s.c.Bool("no-redact") {
		fmt.Fprintln(s.stderr, "regtrace: warning: --no-redact: passwords and tokens are printed as they are")
	}
	opts.GetCertificate = getCert
	s.hook(&opts)
	opts.Logger = slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return proxy.New(opts)
}

// report explains everything kept (nil when nothing was kept).
func (s *session) report() *explain.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keep {
		return nil
	}
	return explain.Explain(s.all)
}

// finish prints the live summary, closes the HAR and says what was seen.
// Call it after the proxy has stopped.
func (s *session) finish() {
	s.live.finish()
	if s.hw != nil {
		rep := s.report()
		if rep == nil {
			// The file is valid after every entry: explain it as it is.
			if in, err := readHARInput(s.c.String("har")); err != nil {
				fmt.Fprintf(s.stderr, "regtrace: explaining the HAR for its findings: %v\n", err)
			} else {
				rep = explain.Explain(in)
			}
		}
		var notes []string
		if rep != nil {
			for _, f := range rep.Findings {
				notes = append(notes, fmt.Sprintf("%s %s %v", f.Rule, f.Verdict, f.Evidence))
			}
		}
		s.hw.SetFindings(notes)
		if err := s.hw.Close(); err != nil {
			fmt.Fprintf(s.stderr, "regtrace: closing the HAR: %v\n", err)
		} else {
			fmt.Fprintf(s.stderr, "regtrace: wrote %s (regtrace explain %s)\n", s.c.String("har"), s.c.String("har"))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	summary := fmt.Sprintf("regtrace: %d exchanges", s.nFlows)
	if s.nTLS > 0 {
		summary += fmt.Sprintf(", %d failed client TLS handshakes (clients that do not trust the CA: regtrace ca trust)", s.nTLS)
	}
	fmt.Fprintln(s.stderr, summary)
	if s.nFlows == 0 && s.nTLS == 0 {
		fmt.Fprintln(s.stderr, "regtrace: no request came through the proxy: clients skip proxies for localhost and loopback IPs and for NO_PROXY hosts; docker pulls are made by the daemon, which needs the proxy in its own environment")
	}
}
