package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// jaeger is Jaeger (built from its module into .tools/bin) on loopback
// ports of its own, keeping traces in memory.
type jaeger struct {
	OTLPHTTP, OTLPGRPC string // collector base URLs
	Query              string // the query API's base URL
}

func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := need(t, "jaeger")
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	cfg := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`, ports[0], ports[1], ports[2], ports[3])
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", "file:"+path)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("jaeger's log:\n%s", logs.String())
		}
	})
	j := &jaeger{OTLPHTTP: fmt.Sprintf("http://127.0.0.1:%d", ports[3]), OTLPGRPC: fmt.Sprintf("http://127.0.0.1:%d", ports[2]), Query: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get(j.Query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return j
			}
		}
		select {
		case <-exited:
			t.Fatalf("jaeger exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger's query API did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jaegerSpan is a span as Jaeger's query API (v1 JSON) gives it.
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []jaegerTag `json:"tags"`
	Logs []struct {
		Fields []jaegerTag `json:"fields"`
	} `json:"logs"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func (s jaegerSpan) tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// traces reads every trace of service regtrace, raw and as spans, waiting
// until at least min spans are there and their number stops growing.
func (j *jaeger) traces(t *testing.T, min int) (string, []jaegerSpan) {
	t.Helper()
	var raw string
	var spans []jaegerSpan
	last := -1
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(j.Query + "/api/traces?service=regtrace&limit=1000&lookback=1h")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var doc struct {
			Data []struct {
				Spans []jaegerSpan `json:"spans"`
			} `json:"data"`
		}
		spans = nil
		if json.Unmarshal(b, &doc) == nil {
			for _, tr := range doc.Data {
				spans = append(spans, tr.Spans...)
			}
		}
		raw = string(b)
		if len(spans) >= min && len(spans) == last {
			return raw, spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger holds %d spans, want at least %d:\n%s", len(spans), min, raw)
		}
		last = len(spans)
		time.Sleep(500 * time.Millisecond)
	}
}

// TestOTLPExportToJaeger: two users share one authenticated proxy that
// exports to Jaeger. Alice pulls a private image with credentials, bob
// anonymously and fails; curl sends a traceparent. Jaeger's API shows each
// pull as an operation span over its exchanges, bob's with the finding
// that explains it, curl's request inside curl's trace, and no secret.
func TestOTLPExportToJaeger(t *testing.T) {
	skopeo := need(t, "skopeo")
	curl := need(t, "curl")
	j := startJaeger(t)
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	const adminPW = "admin-PLANTED-pw"
	ts.Users = map[string]string{"admin": adminPW}
	ts.ACL = map[string]map[string][]string{"team/app": {"admin": {"*"}}}
	authPort := startTLS(t, pki, ts)
	reg := startRegistry(t, pki, ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	host := fmt.Sprintf("registry.test:%d", reg.Port)
	seedImages(t, pki, host, "admin:"+adminPW, "team/app")

	dir := t.TempDir()
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--proxy-auth", htpasswdFile(t, "alice", "bob"), "--otlp-endpoint", j.OTLPHTTP,
		"--resolve", "registry.test=127.0.0.1", "--resolve", "auth.test=127.0.0.1", "--upstream-ca", pki.CA)
	bundle := caBundle(t, filepath.Join(dir, "ca"))
	inspect := func(user string, creds ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		args := append([]string{"inspect", "--raw", "--retry-times", "0"}, creds...)
		cmd := exec.CommandContext(ctx, skopeo, append(args, "docker://"+host+"/team/app:1.0")...)
		cmd.Env = clientEnv(t, rp.as(user), bundle)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("%s's skopeo: %v\n%s", user, err, out)
		}
		return err
	}
	if err := inspect("alice", "--creds", "admin:"+adminPW); err != nil {
		t.Fatalf("alice's pull with credentials failed")
	}
	if err := inspect("bob", "--no-creds"); err == nil {
		t.Fatalf("bob's anonymous pull of a private image worked")
	}
	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, curl, "-sS", "--cacert", bundle, "-x", rp.as("alice"),
		"-H", "traceparent: 00-"+traceID+"-"+clientSpan+"-01", "https://"+host+"/v2/")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("proxy exit %d: %s", code, rp.Stderr)
	}
	if m := regexp.MustCompile(`OTLP: (\d+) spans exported to (\S+)`).FindStringSubmatch(rp.Stderr.String()); m == nil || m[1] == "0" ||
		strings.Contains(rp.Stderr.String(), "dropped") || !strings.Contains(rp.Stderr.String(), "exporting spans to "+j.OTLPHTTP) {
		t.Errorf("the proxy does not say where its spans went, or lost some:\n%s", rp.Stderr)
	}

	raw, spans := j.traces(t, 8)
	byID := map[string]jaegerSpan{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	ops := map[string]jaegerSpan{} // peer -> its pull of team/app
	for _, s := range spans {
		if s.tag("regtrace.operation.goal") == "pull" && strings.HasSuffix(s.OperationName, "/team/app") {
			ops[s.tag("regtrace.peer")] = s
		}
	}
	alice, bob := ops["alice"], ops["bob"]
	if alice.SpanID == "" || bob.SpanID == "" {
		t.Fatalf("no pull span for alice or bob: %v\n%s", ops, raw)
	}
	if alice.tag("error") == "true" || alice.tag("regtrace.operation.reached") != "true" {
		t.Errorf("alice's pull worked, its span says otherwise: %+v", alice.Tags)
	}
	if bob.tag("error") != "true" || bob.tag("regtrace.operation.reached") != "false" {
		t.Errorf("bob's pull failed, its span says otherwise: %+v", bob.Tags)
	}
	var rules []string
	for _, l := range bob.Logs {
		for _, f := range l.Fields {
			if f.Key == "regtrace.rule" {
				rules = append(rules, fmt.Sprint(f.Value))
			}
		}
	}
	if !slices.Contains(rules, "insufficient-scope-ambiguous-denied") {
		t.Errorf("bob's pull span carries findings %v, want insufficient-scope-ambiguous-denied", rules)
	}
	// Each exchange is a client span under its operation, with the HTTP
	// semantic conventions and its registry meaning.
	kinds := map[string]map[string]bool{"alice": {}, "bob": {}}
	for _, s := range spans {
		if s.tag("span.kind") != "client" {
			continue
		}
		p := byID[s.parent()]
		if s.TraceID == traceID {
			continue // curl's, checked below
		}
		if p.tag("regtrace.operation.goal") == "" {
			t.Errorf("exchange span %q has no operation span as parent", s.OperationName)
			continue
		}
		for _, k := range []string{"http.request.method", "url.full", "server.address", "server.port", "regtrace.kind", "regtrace.flow_id"} {
			if s.tag(k) == "" {
				t.Errorf("exchange span %q lacks %s: %+v", s.OperationName, k, s.Tags)
			}
		}
		if peer := s.tag("regtrace.peer"); kinds[peer] != nil && p.tag("regtrace.peer") == peer {
			kinds[peer][s.tag("regtrace.kind")] = true
		}
	}
	for peer, want := range map[string][]string{"alice": {"ping", "token-request", "manifest-get"}, "bob": {"ping", "token-request", "manifest-get"}} {
		for _, k := range want {
			if !kinds[peer][k] {
				t.Errorf("%s's operation has no %s span (has %v)", peer, k, kinds[peer])
			}
		}
	}
	// curl's traceparent: regtrace's spans join curl's trace.
	joined := false
	for _, s := range spans {
		if s.TraceID == traceID && s.tag("regtrace.kind") == "ping" {
			joined = true
		}
	}
	if !joined {
		t.Errorf("no regtrace span in the trace curl's traceparent named")
	}
	// Nothing secret reached Jaeger.
	for _, secret := range []string{adminPW, proxyPassword("alice"), proxyPassword("bob")} {
		if strings.Contains(raw, secret) {
			t.Errorf("Jaeger holds %q", secret)
		}
	}
	if m := regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{8,}`).FindString(raw); m != "" {
		t.Errorf("Jaeger holds a signed token: %s", m)
	}
}

// TestOTLPOverGRPC: the same export over OTLP/gRPC, chosen by the
// standard variable.
func TestOTLPOverGRPC(t *testing.T) {
	j := startJaeger(t)
	origin := newPlainOrigin(t)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", j.OTLPGRPC)
	rp := startProxy(t, "--ca-dir", filepath.Join(t.TempDir(), "ca"), "--no-color", "--resolve", "registry.test="+origin.addr)
	proxyURL, _ := url.Parse(rp.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := client.Get("http://registry.test:" + origin.port + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := rp.Stop(t); code != 0 {
		t.Fatalf("proxy exit %d: %s", code, rp.Stderr)
	}
	if !strings.Contains(rp.Stderr.String(), "(OTLP/gRPC)") {
		t.Errorf("the proxy does not say it exports over gRPC:\n%s", rp.Stderr)
	}
	_, spans := j.traces(t, 2)
	kinds := map[string]bool{}
	for _, s := range spans {
		kinds[s.tag("regtrace.kind")] = true
	}
	if !kinds["ping"] {
		t.Errorf("no ping span arrived over gRPC: %v", spans)
	}
}
