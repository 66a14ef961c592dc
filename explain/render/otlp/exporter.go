package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/explain"
)

// Protocols are the OTLP transports an Exporter speaks.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Options configure an Exporter. The zero value exports over OTLP/HTTP to
// where the standard OTEL_EXPORTER_OTLP_* variables say.
type Options struct {
	// Endpoint is the collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT
	// is: "http://collector:4318" (OTLP/HTTP posts to /v1/traces under it)
	// or "http://collector:4317" for gRPC. Empty: the variables decide.
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP; empty: OTEL_EXPORTER_OTLP_
	// TRACES_PROTOCOL, then OTEL_EXPORTER_OTLP_PROTOCOL, then OTLP/HTTP (the
	// specification's default).
	Protocol string
	// ServiceVersion is the resource's service.version.
	ServiceVersion string
	// Quiet is how long a client's traffic pauses before its operations
	// are exported (default 2s): an operation is whole when it ends, and
	// clients retry within milliseconds.
	Quiet time.Duration
	// MaxWait bounds how long a busy client's exchanges wait (default 5
	// minutes); an operation cut there continues in a second span.
	MaxWait time.Duration
	// MaxBatch bounds the exchanges of one client held for export
	// (default 5000): past it they are exported at once.
	MaxBatch int
	// Queue bounds the exchanges waiting to be turned into spans (default
	// 8192), SpanQueue the spans waiting for the collector (default 8192).
	// Past either, what comes is dropped and counted: export never slows
	// the proxy.
	Queue, SpanQueue int
	// Warn is called once, the first time the collector cannot be
	// reached or refuses spans.
	Warn func(string)
	// SpanExporter, when set, replaces OTLP (tests, other backends).
	SpanExporter sdktrace.SpanExporter
}

// Stats count what happened to the spans, for the report at exit.
type Stats struct {
	// Spans were made; Exported reached the collector; Failed were sent
	// but refused or lost on the way; Dropped never left (queue full, or
	// still queued when the exporter closed).
	Spans, Exported, Failed, Dropped int64
	// DroppedExchanges never became spans: the exchange queue was full.
	DroppedExchanges int64
}

// Exporter turns a proxy's exchanges into spans in the background.
type Exporter struct {
	opts     Options
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	counter  *countingExporter
	ended    atomic.Int64
	in       chan item
	done     chan struct{}
	closing  sync.Once
	dropped  atomic.Int64
	endpoint string
}

type item struct {
	x *decode.Exchange
	h *flow.HandshakeFailure
	// start: a request of peer, flow id, is under way.
	start bool
	id    flow.ID
	peer  string
}

// Enabled says whether export was asked for through the environment
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and
// neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none).
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// New starts an Exporter. Nothing is dialled yet: an unreachable collector
// shows when the first spans are sent (Warn, once). The SDK also reports
// each failed export to OpenTelemetry's global error handler, which logs
// by default: a program that wants Warn alone replaces that handler.
func New(ctx context.Context, opts Options) (*Exporter, error) {
	if opts.Quiet <= 0 {
		opts.Quiet = 2 * time.Second
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 5 * time.Minute
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 5000
	}
	if opts.Queue <= 0 {
		opts.Queue = 8192
	}
	if opts.SpanQueue <= 0 {
		opts.SpanQueue = 8192
	}
	e := &Exporter{opts: opts, in: make(chan item, opts.Queue), done: make(chan struct{})}
	inner := opts.SpanExporter
	if inner == nil {
		var err error
		inner, e.endpoint, err = newOTLP(ctx, opts)
		if err != nil {
			return nil, err
		}
	}
	e.counter = &countingExporter{inner: inner, warn: opts.Warn}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("regtrace"), semconv.ServiceVersion(opts.ServiceVersion))
	e.provider = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		// Every exchange: a client's traceparent that says "not sampled"
		// does not switch off what the operator asked regtrace for.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(endCounter{&e.ended}),
		sdktrace.WithBatcher(e.counter, sdktrace.WithMaxQueueSize(opts.SpanQueue), sdktrace.WithBatchTimeout(time.Second)),
	)
	e.tracer = e.provider.Tracer("github.com/regtrace/regtrace/explain/render/otlp")
	go e.run()
	return e, nil
}

// Endpoint says where spans go, for the startup line (no credentials: a
// URL's user information and query are left out).
func (e *Exporter) Endpoint() string { return e.endpoint }

func newOTLP(ctx context.Context, opts Options) (sdktrace.SpanExporter, string, error) {
	proto := opts.Protocol
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if proto == "" {
			proto = os.Getenv(v)
		}
	}
	if proto == "" {
		proto = ProtocolHTTP
	}
	shown := opts.Endpoint
	if shown == "" {
		shown = os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	}
	if shown == "" {
		shown = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	var u *url.URL
	if opts.Endpoint != "" {
		var err error
		u, err = url.Parse(opts.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("OTLP endpoint %q: want http://host:port or https://host:port", opts.Endpoint)
		}
	}
	if p, err := url.Parse(shown); err == nil && p.Host != "" {
		shown = (&url.URL{Scheme: p.Scheme, Host: p.Host, Path: p.Path}).String()
	}
	switch proto {
	case ProtocolHTTP:
		o := []otlptracehttp.Option{otlptracehttp.WithRetry(retry)}
		if u != nil {
			v := *u
			v.Path = strings.TrimSuffix(v.Path, "/") + "/v1/traces"
			o = append(o, otlptracehttp.WithEndpointURL(v.String()))
		}
		exp, err := otlptracehttp.New(ctx, o...)
		return exp, shown + " (OTLP/HTTP)", err
	case ProtocolGRPC:
		o := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig(retry))}
		if u != nil {
			o = append(o, otlptracegrpc.WithEndpointURL(u.String()))
		}
		exp, err := otlptracegrpc.New(ctx, o...)
		return exp, shown + " (OTLP/gRPC)", err
	}
	return nil, "", fmt.Errorf("OTLP protocol %q: want %s or %s", proto, ProtocolGRPC, ProtocolHTTP)
}

// retry gives up on a collector after 10 s (the SDK's default is a
// minute): an unreachable collector is reported sooner, and the queue
// behind it drops rather than waits.
var retry = otlptracehttp.RetryConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 5 * time.Second, MaxElapsedTime: 10 * time.Second}

// Exchange queues x for export; it never blocks (a full queue drops x and
// counts it).
func (e *Exporter) Exchange(x *decode.Exchange) { e.put(item{x: x}) }

// Start says a request is under way (proxy.Options.OnStart): its client's
// operations wait for it, so a long download does not split one.
func (e *Exporter) Start(id flow.ID, peer string) { e.put(item{start: true, id: id, peer: peer}) }

// HandshakeFailure queues a failed client handshake, like Exchange.
func (e *Exporter) HandshakeFailure(h flow.HandshakeFailure) { e.put(item{h: &h}) }

func (e *Exporter) put(it item) {
	select {
	case <-e.done:
		e.dropped.Add(1)
		return
	default:
	}
	select {
	case e.in <- it:
	default:
		e.dropped.Add(1)
	}
}

// batch is one client's exchanges waiting for its traffic to pause.
type batch struct {
	in          explain.Input
	first, last time.Time // arrival (wall clock)
	inflight    map[flow.ID]bool
}

func (e *Exporter) run() {
	batches := map[string]*batch{}
	var order []string
	flush := func(peer string) {
		b := batches[peer]
		if b == nil {
			return
		}
		if len(b.in.Exchanges) > 0 || len(b.in.Handshakes) > 0 {
			emit(e.tracer, peer, b.in)
		}
		b.in = explain.Input{}
		b.first = time.Now()
		if len(b.inflight) == 0 {
			delete(batches, peer)
		}
	}
	tick := time.NewTicker(min(e.opts.Quiet/2, 500*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case it, ok := <-e.in:
			if !ok {
				for _, p := range order {
					flush(p)
				}
				close(e.done)
				return
			}
			peer := it.peer
			switch {
			case it.x != nil:
				peer = it.x.Flow.Peer()
			case it.h != nil:
				peer = flow.Peer(it.h.ProxyUser, it.h.ClientAddr)
			}
			b := batches[peer]
			now := time.Now()
			if b == nil {
				b = &batch{first: now, inflight: map[flow.ID]bool{}}
				batches[peer] = b
				if !slices.Contains(order, peer) {
					order = append(order, peer)
				}
			}
			b.last = now
			switch {
			case it.start:
				b.inflight[it.id] = true
				continue
			case it.x != nil:
				delete(b.inflight, it.x.Flow.ID)
				b.in.Exchanges = append(b.in.Exchanges, it.x)
			default:
				b.in.Handshakes = append(b.in.Handshakes, *it.h)
			}
			if len(b.in.Exchanges)+len(b.in.Handshakes) >= e.opts.MaxBatch {
				flush(peer)
			}
		case now := <-tick.C:
			kept := order[:0]
			for _, p := range order {
				b := batches[p]
				if b != nil && ((len(b.inflight) == 0 && now.Sub(b.last) >= e.opts.Quiet) || now.Sub(b.first) >= e.opts.MaxWait) {
					if len(b.inflight) > 0 && now.Sub(b.last) >= e.opts.MaxWait {
						// A request that never ended (its flow lost):
						// forget it rather than hold the client forever.
						clear(b.inflight)
					}
					flush(p)
				}
				if batches[p] != nil {
					kept = append(kept, p)
				}
			}
			order = kept
		}
	}
}

// Close exports what is still held, waits for the collector up to ctx's
// deadline, and says what happened to the spans.
func (e *Exporter) Close(ctx context.Context) (Stats, error) {
	e.closing.Do(func() { close(e.in) })
	select {
	case <-e.done:
	case <-ctx.Done():
	}
	err := e.provider.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = fmt.Errorf("the collector did not take every span in time: %w", err)
	}
	s := Stats{Spans: e.ended.Load(), Exported: e.counter.exported.Load(), Failed: e.counter.failed.Load(), DroppedExchanges: e.dropped.Load()}
	s.Dropped = max(s.Spans-s.Exported-s.Failed, 0)
	return s, err
}

// endCounter counts spans as they end, to tell at exit how many never
// reached the exporter.
type endCounter struct{ n *atomic.Int64 }

func (c endCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c endCounter) OnEnd(sdktrace.ReadOnlySpan)                     { c.n.Add(1) }
func (c endCounter) Shutdown(context.Context) error                  { return nil }
func (c endCounter) ForceFlush(context.Context) error                { return nil }

// countingExporter counts what the collector took and refused, and warns
// once when it cannot be reached.
type countingExporter struct {
	inner            sdktrace.SpanExporter
	warn             func(string)
	warned           atomic.Bool
	exported, failed atomic.Int64
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.inner.ExportSpans(ctx, spans)
	if err != nil {
		c.failed.Add(int64(len(spans)))
		if c.warn != nil && !c.warned.Swap(true) {
			c.warn(fmt.Sprintf("OTLP export failed (%v); spans are dropped while the collector cannot take them (said once; counted at exit)", err))
		}
		return err
	}
	c.exported.Add(int64(len(spans)))
	return nil
}

func (c *countingExporter) Shutdown(ctx context.Context) error { return c.inner.Shutdown(ctx) }
