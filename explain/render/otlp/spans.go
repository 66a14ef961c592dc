// Package otlp turns what regtrace saw into OpenTelemetry traces: each
// exchange an HTTP client span (the stable HTTP semantic conventions), each
// operation (one client's pull or push against one registry) its parent
// span, each finding an event on it; registry meaning goes in the
// regtrace.* namespace. Nothing secret leaves: no Authorization, cookie,
// token or signed URL parameter reaches an attribute.
package otlp

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
	"github.com/regtrace/regtrace/explain"
)

// Attribute keys of regtrace's own namespace. One place: the README's
// table and the tests read them from here.
const (
	AttrKind            = attribute.Key("regtrace.kind")
	AttrFlow            = attribute.Key("regtrace.flow_id")
	AttrPeer            = attribute.Key("regtrace.peer")
	AttrClient          = attribute.Key("regtrace.client")
	AttrRegistry        = attribute.Key("regtrace.registry")
	AttrRepository      = attribute.Key("regtrace.repository")
	AttrRepositories    = attribute.Key("regtrace.repositories")
	AttrReference       = attribute.Key("regtrace.reference")
	AttrAuthScheme      = attribute.Key("regtrace.auth.scheme")
	AttrAuthUser        = attribute.Key("regtrace.auth.user")
	AttrChallenge       = attribute.Key("regtrace.challenge")
	AttrScopesNeeded    = attribute.Key("regtrace.scopes.needed")
	AttrScopesRequested = attribute.Key("regtrace.scopes.requested")
	AttrScopesGranted   = attribute.Key("regtrace.scopes.granted")
	AttrScopesMissing   = attribute.Key("regtrace.scopes.missing")
	AttrTokenIssuedBy   = attribute.Key("regtrace.token.issued_by_flow")
	AttrErrorCodes      = attribute.Key("regtrace.registry.error_codes")
	AttrRedirectFrom    = attribute.Key("regtrace.redirect_from_flow")
	AttrGoal            = attribute.Key("regtrace.operation.goal")
	AttrReached         = attribute.Key("regtrace.operation.reached")
	AttrStage           = attribute.Key("regtrace.operation.stage")
	AttrStoppedAt       = attribute.Key("regtrace.operation.stopped_at_flow")
	AttrVerdict         = attribute.Key("regtrace.verdict")
	AttrRule            = attribute.Key("regtrace.rule")
	AttrPrimary         = attribute.Key("regtrace.primary")
	AttrSuspected       = attribute.Key("regtrace.suspected")
	AttrWhy             = attribute.Key("regtrace.why")
	AttrFix             = attribute.Key("regtrace.fix")
	AttrCannotProve     = attribute.Key("regtrace.cannot_prove")
	AttrEvidence        = attribute.Key("regtrace.evidence")
	AttrTLSTarget       = attribute.Key("regtrace.tls.target")
)

// FindingEvent is the name of a finding's span event.
const FindingEvent = "regtrace.finding"

// emit writes one batch of a peer's exchanges as spans: explain groups
// them into operations exactly as `regtrace explain` would, and each
// operation becomes a parent span over its exchanges, with the findings
// about it as events. Spans carry the recorded times, not the export's.
func emit(tr trace.Tracer, peer string, in explain.Input) {
	rep := explain.Explain(in)
	opOf := map[flow.ID]int{}
	for i, op := range rep.Operations {
		for _, x := range op.Exchanges {
			opOf[x.Flow.ID] = i
		}
	}
	findings := make([][]explain.Finding, len(rep.Operations))
	var loose []explain.Finding // no operation to hang on
	for _, f := range rep.Findings {
		i, ok := -1, false
		for _, id := range f.Evidence {
			if i, ok = opOf[id]; ok {
				break
			}
		}
		switch {
		case ok:
			findings[i] = append(findings[i], f)
		case len(rep.Operations) > 0:
			findings[0] = append(findings[0], f)
		default:
			loose = append(loose, f)
		}
	}
	for i, op := range rep.Operations {
		emitOperation(tr, peer, op, findings[i])
	}
	for _, h := range in.Handshakes {
		emitHandshake(tr, peer, h)
	}
	if len(loose) > 0 {
		at := time.Now()
		if len(in.Handshakes) > 0 {
			at = in.Handshakes[len(in.Handshakes)-1].Time
		}
		_, span := tr.Start(context.Background(), "regtrace findings", trace.WithTimestamp(at), trace.WithAttributes(peerAttrs(peer)...))
		for _, f := range loose {
			addFinding(span, f, at)
		}
		span.SetStatus(codes.Error, string(loose[0].Verdict))
		span.End(trace.WithTimestamp(at))
	}
}

func peerAttrs(peer string) []attribute.KeyValue {
	if peer == "" {
		return nil
	}
	return []attribute.KeyValue{AttrPeer.String(peer)}
}

// end is when a flow ended, as far as its timings say.
func end(f *flow.Flow) time.Time { return f.Start.Add(f.Timings.Total()) }

// remoteParent is the span context a request's traceparent names, if any
// (W3C Trace Context): the client's own span for that request.
func remoteParent(h http.Header) trace.SpanContext {
	if h.Get("Traceparent") == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h))
	return trace.SpanContextFromContext(ctx)
}

func emitOperation(tr trace.Tracer, peer string, op *explain.Operation, fs []explain.Finding) {
	if len(op.Exchanges) == 0 {
		return
	}
	start, stop := op.Exchanges[0].Flow.Start, time.Time{}
	for _, x := range op.Exchanges {
		start = minTime(start, x.Flow.Start)
		if e := end(x.Flow); e.After(stop) {
			stop = e
		}
	}
	// A client that traces its requests (containerd's resolver does) gets
	// the operation in its own trace, under the first request it traced.
	parent := context.Background()
	for _, x := range op.Exchanges {
		if sc := remoteParent(x.Flow.Request.Header); sc.IsValid() {
			parent = trace.ContextWithRemoteSpanContext(parent, sc)
			break
		}
	}
	o := op.Outcome()
	attrs := append(peerAttrs(peer),
		AttrGoal.String(string(o.Goal)),
		AttrRegistry.String(op.Registry),
		AttrClient.String(op.Client.UserAgent),
		AttrReached.Bool(o.Reached || o.RecoveredBy != nil),
	)
	if len(op.Repos) > 0 {
		attrs = append(attrs, AttrRepositories.StringSlice(op.Repos))
	}
	if o.Stop != nil {
		attrs = append(attrs, AttrStoppedAt.Int64(int64(o.Stop.Flow.ID)), AttrStage.String(string(o.Stage)))
	}
	name := string(o.Goal) + " " + op.Registry
	if len(op.Repos) == 1 {
		name += "/" + op.Repos[0]
	}
	ctx, span := tr.Start(parent, name, trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	sent := map[string]int{} // method and URL -> times sent before
	for _, x := range op.Exchanges {
		key := x.Flow.Request.Method + " " + x.Flow.Request.URL.String()
		emitExchange(ctx, tr, peer, x, sent[key])
		sent[key]++
	}
	for _, f := range fs {
		addFinding(span, f, stop)
		if f.Primary {
			span.SetAttributes(AttrVerdict.String(string(f.Verdict)))
		}
	}
	if !o.Reached && o.RecoveredBy == nil {
		desc := "did not reach its goal"
		if len(fs) > 0 {
			desc = string(fs[0].Verdict)
			for _, f := range fs {
				if f.Primary {
					desc = string(f.Verdict)
				}
			}
		}
		span.SetStatus(codes.Error, desc)
	}
	span.End(trace.WithTimestamp(stop))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// templates are the url.template of each registry request kind (OCI
// distribution spec endpoints), which keeps span names low in cardinality.
var templates = map[decode.Kind]string{
	decode.KindPing:           "/v2/",
	decode.KindManifestGet:    "/v2/{name}/manifests/{reference}",
	decode.KindManifestHead:   "/v2/{name}/manifests/{reference}",
	decode.KindManifestPut:    "/v2/{name}/manifests/{reference}",
	decode.KindManifestDelete: "/v2/{name}/manifests/{reference}",
	decode.KindBlobGet:        "/v2/{name}/blobs/{digest}",
	decode.KindBlobHead:       "/v2/{name}/blobs/{digest}",
	decode.KindBlobDelete:     "/v2/{name}/blobs/{digest}",
	decode.KindUploadStart:    "/v2/{name}/blobs/uploads/",
	decode.KindBlobMount:      "/v2/{name}/blobs/uploads/",
	decode.KindUploadChunk:    "/v2/{name}/blobs/uploads/{reference}",
	decode.KindUploadFinish:   "/v2/{name}/blobs/uploads/{reference}",
	decode.KindUploadStatus:   "/v2/{name}/blobs/uploads/{reference}",
	decode.KindUploadCancel:   "/v2/{name}/blobs/uploads/{reference}",
	decode.KindTagsList:       "/v2/{name}/tags/list",
	decode.KindCatalog:        "/v2/_catalog",
	decode.KindReferrers:      "/v2/{name}/referrers/{digest}",
}

// knownMethods are the methods semantic conventions name; others are
// reported as _OTHER with the original beside.
var knownMethods = map[string]bool{"CONNECT": true, "DELETE": true, "GET": true, "HEAD": true, "OPTIONS": true, "PATCH": true, "POST": true, "PUT": true, "TRACE": true}

func emitExchange(ctx context.Context, tr trace.Tracer, peer string, x *decode.Exchange, resent int) {
	f := x.Flow
	req := f.Request
	attrs := peerAttrs(peer)
	method := req.Method
	if knownMethods[method] {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method))
	} else {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String("_OTHER"), semconv.HTTPRequestMethodOriginal(method))
		method = "HTTP"
	}
	name := method
	if t, ok := templates[x.Kind]; ok {
		attrs = append(attrs, semconv.URLTemplate(t))
		name += " " + t
	}
	if u := req.URL; u != nil {
		attrs = append(attrs, semconv.URLFull(redact.URL(u).String()), semconv.ServerAddress(u.Hostname()))
		if p := port(u.Scheme, u.Port()); p > 0 {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	}
	if v, ok := strings.CutPrefix(req.Proto, "HTTP/"); ok {
		attrs = append(attrs, semconv.NetworkProtocolVersion(strings.TrimSuffix(v, ".0")))
	}
	if ua := req.Header.Get("User-Agent"); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if resent > 0 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(resent))
	}
	attrs = append(attrs, registryAttrs(x)...)
	var errType string
	status := 0
	switch {
	case f.Err != nil:
		errType = string(f.Err.Kind)
	case f.Response == nil:
		errType = "no_response"
	default:
		status = f.Response.Status
		if status >= 400 {
			errType = strconv.Itoa(status)
		}
	}
	if status > 0 && (f.Response == nil || !f.Response.Synthetic) {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(f.Start), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if sc := remoteParent(req.Header); sc.IsValid() {
		// The client's span for this very request.
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	_, span := tr.Start(ctx, name, opts...)
	if errType != "" {
		desc := ""
		if f.Err != nil {
			desc = redact.Text(f.Err.Message)
		}
		span.SetStatus(codes.Error, desc)
	}
	span.End(trace.WithTimestamp(end(f)))
}

// port is the server port, the scheme's default when the URL names none.
func port(scheme, p string) int {
	if p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	switch scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 0
}

// registryAttrs is what the exchange meant in registry terms; no value here
// is a secret (a token is named by the flow that issued it, never shown).
func registryAttrs(x *decode.Exchange) []attribute.KeyValue {
	a := []attribute.KeyValue{AttrKind.String(x.Kind.String()), AttrFlow.Int64(int64(x.Flow.ID))}
	add := func(k attribute.Key, v string) {
		if v != "" {
			a = append(a, k.String(v))
		}
	}
	add(AttrClient, x.Client.UserAgent)
	add(AttrRegistry, x.Registry)
	add(AttrRepository, x.Repo)
	add(AttrReference, x.Ref)
	add(AttrAuthScheme, x.Auth.Scheme)
	add(AttrAuthUser, x.Auth.User)
	if len(x.Challenges) > 0 {
		a = append(a, AttrChallenge.StringSlice(challengeTexts(x.Challenges)))
	}
	scopes := func(k attribute.Key, ss []decode.Scope) {
		if len(ss) > 0 {
			t := make([]string, len(ss))
			for i, s := range ss {
				t[i] = s.String()
			}
			a = append(a, k.StringSlice(t))
		}
	}
	scopes(AttrScopesNeeded, x.Need)
	scopes(AttrScopesMissing, x.Missing)
	if r := x.TokenRequest; r != nil {
		scopes(AttrScopesRequested, r.Scopes)
	}
	if r := x.TokenResponse; r != nil {
		for _, t := range []*decode.Token{r.Token, r.AccessToken} {
			if t != nil && t.Claims != nil {
				scopes(AttrScopesGranted, t.Claims.Access)
				break
			}
		}
	}
	if x.TokenFrom != 0 {
		a = append(a, AttrTokenIssuedBy.Int64(int64(x.TokenFrom)))
	}
	if x.RedirectFrom != 0 {
		a = append(a, AttrRedirectFrom.Int64(int64(x.RedirectFrom)))
	}
	if len(x.Errors.Errors) > 0 {
		codes := make([]string, len(x.Errors.Errors))
		for i, e := range x.Errors.Errors {
			codes[i] = e.Code
		}
		a = append(a, AttrErrorCodes.StringSlice(codes))
	}
	return a
}

// challengeTexts writes challenges back as text: scheme and parameters,
// which name a realm, a service, scopes and an error, nothing secret (a
// token68 form is not shown).
func challengeTexts(cs []decode.Challenge) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		var parts []string
		for _, k := range []string{"realm", "service", "scope", "error"} {
			if v, ok := c.Params[k]; ok {
				parts = append(parts, k+"="+strconv.Quote(redact.URLString(v)))
			}
		}
		out = append(out, strings.TrimSpace(c.Scheme+" "+strings.Join(parts, ",")))
	}
	return out
}

func addFinding(span trace.Span, f explain.Finding, at time.Time) {
	attrs := []attribute.KeyValue{
		AttrRule.String(string(f.Rule)), AttrVerdict.String(string(f.Verdict)), AttrPrimary.Bool(f.Primary),
		AttrWhy.String(redact.Text(f.Why)), AttrFix.String(redact.Text(f.Fix)),
	}
	if f.CannotProve != "" {
		attrs = append(attrs, AttrCannotProve.String(redact.Text(f.CannotProve)))
	}
	if f.Suspected {
		attrs = append(attrs, AttrSuspected.Bool(true))
	}
	if f.Repo != "" {
		attrs = append(attrs, AttrRepository.String(f.Repo))
	}
	if len(f.Evidence) > 0 {
		ids := make([]int64, len(f.Evidence))
		for i, id := range f.Evidence {
			ids[i] = int64(id)
		}
		attrs = append(attrs, AttrEvidence.Int64Slice(ids))
	}
	span.AddEvent(FindingEvent, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
}

// emitHandshake is a client that could not finish its TLS handshake with
// the proxy: most often it does not trust regtrace's CA.
func emitHandshake(tr trace.Tracer, peer string, h flow.HandshakeFailure) {
	h = redact.HandshakeFailure(h)
	attrs := append(peerAttrs(peer), AttrTLSTarget.String(h.Target), semconv.ErrorTypeKey.String("tls_handshake"))
	if host, p, err := net.SplitHostPort(h.Target); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, semconv.ServerPort(n))
		}
	}
	_, span := tr.Start(context.Background(), "TLS handshake", trace.WithTimestamp(h.Time), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	desc := h.Reason
	if desc == "" {
		desc = h.Message
	}
	span.SetStatus(codes.Error, redact.Text(desc))
	span.End(trace.WithTimestamp(h.Time))
}
