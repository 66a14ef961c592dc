package otlp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

const planted = "s3cr3t-PLANTED"

// jwtFor is an unsigned-looking JWT granting access (the signature is the
// planted secret: it must never leave).
func jwtFor(access string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc([]byte(`{"iss":"auth.test","sub":"alice","aud":"registry.test","exp":4102444800,"access":`+access+`}`)) + "." + enc([]byte(planted))
}

const parentTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// deniedPull: a skopeo pull whose token grants nothing for team/app, the
// client retrying the manifest once with it.
func deniedPull() []*flow.Flow {
	tok := jwtFor(`[]`)
	chal := `Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`
	return flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA("skopeo/1.9.3").Header("Traceparent", parentTP).Status(401).Challenge(chal).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
		flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test&password="+planted).UA("skopeo/1.9.3").
			Basic("alice", planted).Header("Cookie", "session="+planted).Status(200).JSON(`{"token":"`+tok+`","refresh_token":"`+planted+`"}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("skopeo/1.9.3").Bearer(tok).Status(401).
			Challenge(chal+`,error="insufficient_scope"`).JSON(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("skopeo/1.9.3").Bearer(tok).Status(401).
			Challenge(chal+`,error="insufficient_scope"`).JSON(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`),
	)
}

func record(t *testing.T, peer string, fs []*flow.Flow) []sdktrace.ReadOnlySpan {
	t.Helper()
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	emit(tp.Tracer("test"), peer, explain.Input{Exchanges: decode.NewSession().DecodeAll(fs)})
	// Not Shutdown: the in-memory exporter forgets its spans then.
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []sdktrace.ReadOnlySpan
	for _, s := range mem.GetSpans() {
		out = append(out, s.Snapshot())
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// everything is every name, attribute and event text of spans, to look
// for secrets in.
func everything(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintln(&b, s.Name(), s.Status().Description)
		for _, kv := range s.Attributes() {
			fmt.Fprintln(&b, kv.Key, kv.Value.Emit())
		}
		for _, e := range s.Events() {
			fmt.Fprintln(&b, e.Name)
			for _, kv := range e.Attributes {
				fmt.Fprintln(&b, kv.Key, kv.Value.Emit())
			}
		}
		for _, r := range s.Resource().Attributes() {
			fmt.Fprintln(&b, r.Key, r.Value.Emit())
		}
	}
	return b.String()
}

func TestOperationSpanOverExchangeSpans(t *testing.T) {
	fs := deniedPull()
	spans := record(t, "", fs)
	if len(spans) != len(fs)+1 {
		t.Fatalf("%d spans, want one per exchange and the operation's", len(spans))
	}
	var op sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindInternal {
			op = s
		}
	}
	if op == nil || op.Name() != "pull registry.test/team/app" {
		t.Fatalf("no operation span named for its goal and repository: %v", op)
	}
	if op.Status().Code != codes.Error {
		t.Errorf("the failed pull's span status is %v, want Error", op.Status())
	}
	oa := attrs(op.Attributes())
	if oa[AttrReached].AsBool() || oa[AttrGoal].AsString() != "pull" || oa[AttrVerdict].AsString() == "" {
		t.Errorf("operation attributes: %v", op.Attributes())
	}
	// The first request carried the client's traceparent: the operation
	// joins the client's trace under that span.
	if got := op.Parent(); got.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || got.SpanID().String() != "00f067aa0ba902b7" || !got.IsRemote() {
		t.Errorf("operation parent = %v, want the client's span from its traceparent", got)
	}
	var rules []string
	for _, e := range op.Events() {
		if e.Name == FindingEvent {
			a := attrs(e.Attributes)
			rules = append(rules, a[AttrRule].AsString())
			if a[AttrPrimary].AsBool() && a[AttrVerdict].AsString() != oa[AttrVerdict].AsString() {
				t.Errorf("primary finding's verdict %v, the span says %v", a[AttrVerdict], oa[AttrVerdict])
			}
			if a[AttrFix].AsString() == "" || len(a[AttrEvidence].AsInt64Slice()) == 0 {
				t.Errorf("a finding event without fix or evidence: %v", e.Attributes)
			}
		}
	}
	if len(rules) == 0 {
		t.Errorf("no finding event on the operation span")
	}

	byFlow := map[int64]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		if s.Parent().SpanID() != op.SpanContext().SpanID() || s.SpanContext().TraceID() != op.SpanContext().TraceID() {
			t.Errorf("exchange span %q is not the operation's child", s.Name())
		}
		byFlow[attrs(s.Attributes())[AttrFlow].AsInt64()] = s
	}
	for id, want := range map[int64]struct {
		name, kind string
		status     int64
		resend     int64
	}{
		1: {"GET /v2/", "ping", 401, 0},
		2: {"GET", "token-request", 200, 0},
		3: {"GET /v2/{name}/manifests/{reference}", "manifest-get", 401, 0},
		4: {"GET /v2/{name}/manifests/{reference}", "manifest-get", 401, 1},
	} {
		s := byFlow[id]
		if s == nil {
			t.Errorf("no span for flow %d", id)
			continue
		}
		a := attrs(s.Attributes())
		if s.Name() != want.name || a[AttrKind].AsString() != want.kind || a["http.response.status_code"].AsInt64() != want.status ||
			a["http.request.resend_count"].AsInt64() != want.resend || a["http.request.method"].AsString() != "GET" || a["server.port"].AsInt64() != 443 {
			t.Errorf("flow %d: %q %v, want %+v", id, s.Name(), s.Attributes(), want)
		}
		if want.status >= 400 && (a["error.type"].AsString() != fmt.Sprint(want.status) || s.Status().Code != codes.Error) {
			t.Errorf("flow %d: error.type %v status %v, want %d and Error", id, a["error.type"], s.Status(), want.status)
		}
		if s.StartTime().IsZero() || s.EndTime().Before(s.StartTime()) {
			t.Errorf("flow %d: times %v..%v", id, s.StartTime(), s.EndTime())
		}
	}
	if tok := byFlow[2]; tok != nil {
		a := attrs(tok.Attributes())
		if got := a[AttrScopesRequested].AsStringSlice(); len(got) != 1 || got[0] != "repository:team/app:pull" {
			t.Errorf("token request scopes %v", got)
		}
		if a[AttrAuthScheme].AsString() != "Basic" || a[AttrAuthUser].AsString() != "alice" {
			t.Errorf("token request credentials: %v %v", a[AttrAuthScheme], a[AttrAuthUser])
		}
	}
	if m := byFlow[3]; m != nil {
		a := attrs(m.Attributes())
		if a[AttrTokenIssuedBy].AsInt64() != 2 || a[AttrRepository].AsString() != "team/app" {
			t.Errorf("manifest: issued by %v, repository %v", a[AttrTokenIssuedBy], a[AttrRepository])
		}
		if got := a[AttrScopesMissing].AsStringSlice(); len(got) == 0 {
			t.Errorf("manifest: the token's missing scopes are not said")
		}
	}
	if p := byFlow[1]; p != nil && len(p.Links()) != 1 {
		t.Errorf("the traced request's span has %d links, want one to the client's span", len(p.Links()))
	}
	if all := everything(spans); strings.Contains(all, planted) {
		t.Errorf("a planted secret left in a span:\n%s", all)
	}
}

func TestPeersAreOperationsApart(t *testing.T) {
	var fs []*flow.Flow
	for i, who := range []string{"alice", "bob"} {
		for _, f := range deniedPull() {
			f.ProxyUser = who
			f.ID += flow.ID(10 * i)
			f.Request.Header.Del("Traceparent")
			fs = append(fs, f)
		}
	}
	for _, peer := range []string{"alice", "bob"} {
		var mine []*flow.Flow
		for _, f := range fs {
			if f.Peer() == peer {
				mine = append(mine, f)
			}
		}
		spans := record(t, peer, mine)
		for _, s := range spans {
			if got := attrs(s.Attributes())[AttrPeer].AsString(); got != peer {
				t.Errorf("%s's span %q says peer %q", peer, s.Name(), got)
			}
			if s.Parent().IsValid() && s.Parent().IsRemote() {
				t.Errorf("%s's span %q has a remote parent with no traceparent sent", peer, s.Name())
			}
		}
	}
}

func TestHandshakeFailureSpanAndFinding(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(mem))
	h := flow.HandshakeFailure{Time: flowtest.Epoch, ClientAddr: "10.0.0.7:4000", Target: "registry.test:443", ServerName: "registry.test",
		Message: "remote error: tls: unknown certificate authority", Reason: "the client does not trust the regtrace CA"}
	emit(tp.Tracer("test"), "10.0.0.7", explain.Input{Handshakes: []flow.HandshakeFailure{h}})
	var names []string
	found := false
	for _, s := range mem.GetSpans() {
		names = append(names, s.Name)
		for _, e := range s.Events {
			if e.Name == FindingEvent && attrs(e.Attributes)[AttrRule].AsString() == string(explain.RuleClientDistrustsCA) {
				found = true
			}
		}
	}
	if !found || !strings.Contains(strings.Join(names, ","), "TLS handshake") {
		t.Errorf("spans %v: want the handshake and a %s finding", names, explain.RuleClientDistrustsCA)
	}
}

// failing refuses every export, like a collector that is down.
type failing struct {
	mu sync.Mutex
	n  int
}

func (f *failing) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	return errors.New("connection refused")
}
func (f *failing) Shutdown(context.Context) error { return nil }

func TestExporterBatchesByPauseAndCounts(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	e, err := New(context.Background(), Options{SpanExporter: mem, Quiet: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range decode.NewSession().DecodeAll(deniedPull()) {
		e.Exchange(x)
	}
	// The pause exports the operation before Close.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.provider.ForceFlush(context.Background())
		if len(mem.GetSpans()) == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(mem.GetSpans()); n != 5 {
		t.Fatalf("%d spans after the pause, want 5", n)
	}
	st, err := e.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{Spans: 5, Exported: 5}) {
		t.Errorf("stats %+v", st)
	}
	e.Exchange(decode.NewSession().DecodeAll(deniedPull())[0])
	if st, _ := e.Close(context.Background()); st.DroppedExchanges != 1 {
		t.Errorf("an exchange after Close: stats %+v, want it counted as dropped", st)
	}
}

func TestExporterWarnsOnceWhenTheCollectorIsDown(t *testing.T) {
	var warnings []string
	var mu sync.Mutex
	down := &failing{}
	e, err := New(context.Background(), Options{SpanExporter: down, Quiet: time.Hour, MaxBatch: 4, Warn: func(s string) {
		mu.Lock()
		warnings = append(warnings, s)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		for _, x := range decode.NewSession().DecodeAll(deniedPull()) {
			e.Exchange(x)
		}
		time.Sleep(10 * time.Millisecond)
		e.provider.ForceFlush(context.Background())
	}
	st, _ := e.Close(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "connection refused") {
		t.Errorf("warnings %q, want one naming the error", warnings)
	}
	if down.n < 2 || st.Failed != st.Spans || st.Exported != 0 || st.Spans != 15 {
		t.Errorf("%d export attempts, stats %+v: want every span counted as failed", down.n, st)
	}
}

func TestEnabledByEnvironment(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		if got := Enabled(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("Enabled(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}

func TestBadEndpointsAreRefused(t *testing.T) {
	for _, ep := range []string{"collector:4318", "ftp://c:21", "http://", "::"} {
		if _, err := New(context.Background(), Options{Endpoint: ep}); err == nil || !strings.Contains(err.Error(), "want http://") {
			t.Errorf("endpoint %q: err %v, want a clear refusal", ep, err)
		}
	}
	if _, err := New(context.Background(), Options{Endpoint: "http://c:4318", Protocol: "thrift"}); err == nil || !strings.Contains(err.Error(), "thrift") {
		t.Errorf("protocol thrift: err %v", err)
	}
}

// TestADownloadUnderWayKeepsItsOperationWhole: a blob that takes longer
// than the pause is still part of the pull the manifest began.
func TestADownloadUnderWayKeepsItsOperationWhole(t *testing.T) {
	mem := &keeping{}
	e, err := New(context.Background(), Options{SpanExporter: mem, Quiet: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	xs := decode.NewSession().DecodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA("crane/0.20").Status(200).JSON(`{}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("crane/0.20").Status(200).
			RespHeader("Content-Type", "application/vnd.oci.image.manifest.v1+json").JSON(`{"schemaVersion":2}`),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:"+strings.Repeat("a", 64)).UA("crane/0.20").Status(200).Blob(1<<30),
	))
	for _, x := range xs {
		e.Start(x.Flow.ID, x.Flow.Peer())
	}
	e.Exchange(xs[0])
	e.Exchange(xs[1])
	time.Sleep(300 * time.Millisecond) // ten pauses, the blob still under way
	e.provider.ForceFlush(context.Background())
	if n := len(mem.names()); n != 0 {
		t.Fatalf("%d spans exported while the blob was under way", n)
	}
	e.Exchange(xs[2])
	time.Sleep(300 * time.Millisecond) // the pause after it exports the operation
	e.provider.ForceFlush(context.Background())
	got := mem.names()
	if want := "GET /v2/,GET /v2/{name}/blobs/{digest},GET /v2/{name}/manifests/{reference},pull registry.test/team/app"; strings.Join(got, ",") != want {
		t.Errorf("spans %v, want one operation over its three exchanges", got)
	}
	if _, err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// keeping is an exporter that keeps what it was given, also past Shutdown.
type keeping struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (k *keeping) ExportSpans(_ context.Context, ss []sdktrace.ReadOnlySpan) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.spans = append(k.spans, ss...)
	return nil
}

func (k *keeping) Shutdown(context.Context) error { return nil }

func (k *keeping) names() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, s := range k.spans {
		out = append(out, s.Name())
	}
	slices.Sort(out)
	return out
}
