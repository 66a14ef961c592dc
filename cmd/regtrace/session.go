package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
	"github.com/regtrace/regtrace/explain/render/otlp"
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

	mu  sync.Mutex // one flow at a time: decoding is sequential, lines must not interleave
	dec *decode.Session
	// keep keeps exchanges for a final explain, at most keepMax per peer
	// (0: all).
	keep    bool
	keepMax int
	kept    map[string]*peerKept
	order   []string       // peers in the order they came
	shared  bool           // many clients share the proxy: label lines and findings with theirs
	hs      *harSink       // nil without --har and --har-dir
	otlp    *otlp.Exporter // nil unless spans are exported
	nFlows  int
	nTLS    int
}

// peerKept is what a session keeps of one peer for explain.
type peerKept struct {
	xs      []*decode.Exchange
	hs      []flow.HandshakeFailure
	dropped int // exchanges dropped from memory, oldest first
}

// defaultExplainKeep bounds the exchanges a session keeps per client for
// explain: a shared proxy runs for days.
const defaultExplainKeep = 20000

// newSession prints to out. liveExplain prints findings as traffic pauses
// and a summary at the end; keep keeps every exchange for Explain.
func newSession(c *cli.Context, out io.Writer, liveExplain, keep bool) (*session, error) {
	s := &session{c: c, out: out, stderr: c.App.ErrWriter, dec: decode.NewSession(), keep: keep, kept: map[string]*peerKept{}}
	s.shared = c.String("proxy-auth") != "" || (c.IsSet("listen") && !isLoopback(c.String("listen")))
	if c.IsSet("explain-keep") {
		s.keepMax = c.Int("explain-keep")
		if s.keepMax < 1 {
			return nil, usagef("--explain-keep %d: want 1 or more", s.keepMax)
		}
	} else if s.shared {
		s.keepMax = defaultExplainKeep
	}
	s.con = render.NewConsole(out, render.ConsoleOptions{
		Color: colorWanted(c, out), Verbose: c.Bool("verbose"), NoRedact: c.Bool("no-redact"), Peers: s.shared,
	})
	s.keep = s.keep || liveExplain
	s.live = newLiveExplainer(c, out, &s.mu, s.input, liveExplain)
	var maxSize int64
	if v := c.String("har-max-size"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			return nil, usagef("--har-max-size %v", err)
		}
		if n < minHARSize {
			return nil, usagef("--har-max-size %s: want at least %d KiB (a HAR's frame and one exchange must fit)", v, minHARSize>>10)
		}
		maxSize = n
	}
	path, dir := c.String("har"), c.String("har-dir")
	if maxSize > 0 && path == "" && dir == "" {
		return nil, usagef("--har-max-size needs --har or --har-dir")
	}
	keepFiles := c.Int("har-keep")
	if keepFiles < 0 {
		return nil, usagef("--har-keep %d: want 0 or more", keepFiles)
	}
	if path != "" || dir != "" {
		hs, err := newHARSink(path, dir, maxSize, keepFiles, har.Options{NoRedact: c.Bool("no-redact"), CreatorVersion: buildVersion()}, s.stderr)
		if err != nil {
			return nil, err
		}
		// The findings written into the HAR at the end are worked out from
		// the file itself: nothing is kept in memory for them.
		s.hs = hs
	}
	return s, nil
}

// peer is what the session keeps of a peer; the caller holds mu.
func (s *session) peer(p string) *peerKept {
	k := s.kept[p]
	if k == nil {
		k = &peerKept{}
		s.kept[p] = k
		s.order = append(s.order, p)
	}
	return k
}

// keepExchange keeps x for explain, dropping the peer's oldest exchanges
// past keepMax (a tenth at a time, so that dropping is not a copy per
// exchange); the caller holds mu.
func (s *session) keepExchange(x *decode.Exchange) {
	k := s.peer(x.Flow.Peer())
	k.xs = append(k.xs, x)
	if s.keepMax == 0 || len(k.xs) <= s.keepMax {
		return
	}
	n := len(k.xs) - s.keepMax + s.keepMax/10
	if k.dropped == 0 {
		name := x.Flow.Peer()
		if name == "" {
			name = "a client"
		}
		fmt.Fprintf(s.stderr, "regtrace: explain keeps the last %d exchanges of %s: older ones are dropped from memory (--explain-keep; the HAR keeps every one)\n", s.keepMax, name)
	}
	k.dropped += n
	k.xs = slices.Delete(k.xs, 0, n)
}

// input is what explain reads of the session; the caller holds mu.
func (s *session) input() explain.Input {
	in := explain.Input{LabelPeers: s.shared}
	for _, p := range s.order {
		k := s.kept[p]
		in.Exchanges = append(in.Exchanges, k.xs...)
		in.Handshakes = append(in.Handshakes, k.hs...)
	}
	// Each peer's exchanges are in completion order (causal: see hook);
	// explain takes peers apart, so their order among peers is moot.
	return in
}

// droppedNote says which peers' exchanges explain no longer had; the
// caller holds mu.
func (s *session) droppedNote() string {
	var parts []string
	for _, p := range s.order {
		if k := s.kept[p]; k.dropped > 0 {
			name := p
			if name == "" {
				name = "unknown"
			}
			parts = append(parts, fmt.Sprintf("%s %d", name, k.dropped))
		}
	}
	if parts == nil {
		return ""
	}
	return "explain saw only the last exchanges of each client; dropped from memory (still in the HAR): " + strings.Join(parts, ", ")
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
			s.keepExchange(x)
		}
		s.live.touch()
		if s.hs != nil {
			s.hs.add(f, har.Annotation{Kind: x.Kind.String()})
		}
		if s.otlp != nil {
			s.otlp.Exchange(x)
		}
	}
	if s.otlp != nil {
		o.OnStart = s.otlp.Start
	}
	o.OnHandshakeFailure = func(h flow.HandshakeFailure) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.nTLS++
		s.con.HandshakeFailure(h)
		if s.keep {
			k := s.peer(flow.Peer(h.ProxyUser, h.ClientAddr))
			if s.keepMax == 0 || len(k.hs) < s.keepMax {
				k.hs = append(k.hs, h)
			}
		}
		s.live.touch()
		if s.hs != nil {
			s.hs.addHandshakeFailure(h)
		}
		if s.otlp != nil {
			s.otlp.HandshakeFailure(h)
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
	return explain.Explain(s.input())
}

// startExport starts OTLP export when --otlp-endpoint or the standard
// OTEL_EXPORTER_OTLP_* variables ask for it.
func (s *session) startExport(ctx context.Context) error {
	ep, proto := s.c.String("otlp-endpoint"), s.c.String("otlp-protocol")
	if ep == "" && !otlp.Enabled(os.Getenv) {
		if proto != "" {
			return usagef("--otlp-protocol needs --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT")
		}
		return nil
	}
	if proto != "" && proto != otlp.ProtocolGRPC && proto != otlp.ProtocolHTTP {
		return usagef("--otlp-protocol %q: want %s or %s", proto, otlp.ProtocolHTTP, otlp.ProtocolGRPC)
	}
	// The SDK reports every failed export to OpenTelemetry's global
	// handler, which logs each: the exporter warns once instead.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	e, err := otlp.New(ctx, otlp.Options{Endpoint: ep, Protocol: proto, ServiceVersion: buildVersion(),
		Warn: func(msg string) { fmt.Fprintln(s.stderr, "regtrace: warning: "+msg) }})
	if err != nil {
		if ep != "" {
			return usagef("--otlp-endpoint: %v", err)
		}
		return fmt.Errorf("OTLP export: %w", err)
	}
	s.otlp = e
	return nil
}

// closeExport sends the spans still held and says what became of them.
func (s *session) closeExport() {
	if s.otlp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), exportGrace)
	defer cancel()
	st, err := s.otlp.Close(ctx)
	msg := fmt.Sprintf("regtrace: OTLP: %d spans exported to %s", st.Exported, s.otlp.Endpoint())
	if st.Failed > 0 {
		msg += fmt.Sprintf(", %d refused or lost by the collector", st.Failed)
	}
	if st.Dropped > 0 || st.DroppedExchanges > 0 {
		msg += fmt.Sprintf(", %d spans and %d exchanges dropped (export queue full or collector too slow)", st.Dropped, st.DroppedExchanges)
	}
	fmt.Fprintln(s.stderr, msg)
	if err != nil {
		fmt.Fprintf(s.stderr, "regtrace: OTLP: %v\n", err)
	}
}

// exportGrace is how long regtrace waits for the collector at exit.
const exportGrace = 5 * time.Second

// finish prints the live summary, closes the HAR files and says what was
// seen. Call it after the proxy has stopped.
func (s *session) finish() {
	s.live.finish()
	s.closeExport()
	if s.hs != nil {
		s.mu.Lock()
		complete := s.keep && s.droppedNote() == ""
		s.mu.Unlock()
		var all *explain.Report
		if complete && s.hs.all != nil && len(s.hs.all.rotated) == 0 {
			all = s.report()
		}
		s.hs.close(func(hf *harFile) *explain.Report {
			if hf == s.hs.all && all != nil {
				return all
			}
			// The file is valid after every entry: explain it as it is.
			in, err := readHARInput(hf.path)
			if err != nil {
				fmt.Fprintf(s.stderr, "regtrace: explaining %s for its findings: %v\n", hf.path, err)
				return nil
			}
			in.LabelPeers = s.shared && hf.peer == ""
			return explain.Explain(in)
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	summary := fmt.Sprintf("regtrace: %d exchanges", s.nFlows)
	if s.nTLS > 0 {
		summary += fmt.Sprintf(", %d failed client TLS handshakes (clients that do not trust the CA: regtrace ca trust)", s.nTLS)
	}
	fmt.Fprintln(s.stderr, summary)
	if note := s.droppedNote(); note != "" {
		fmt.Fprintln(s.stderr, "regtrace: "+note)
	}
	if s.nFlows == 0 && s.nTLS == 0 {
		fmt.Fprintln(s.stderr, "regtrace: no request came through the proxy: clients skip proxies for localhost and loopback IPs and for NO_PROXY hosts; docker pulls are made by the daemon, which needs the proxy in its own environment")
	}
}
