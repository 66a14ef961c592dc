package main

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/regtrace/regtrace/certs"
	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/proxy"
)

// recorder is the regtrace proxy run in-process with an ephemeral CA, keeping
// every flow so tests can decode what real clients sent.
type recorder struct {
	URL    string
	Bundle string // SSL_CERT_FILE for clients
	CACert string // the bare CA, for --cert-dir style trust
	p      *proxy.Proxy
	mu     sync.Mutex
	flows  []*flow.Flow
	hs     []flow.HandshakeFailure
	// Handshakes are the failed TLS handshakes with clients up to the
	// last Take (a client that does not trust the CA for some host).
	Handshakes []flow.HandshakeFailure
}

func startRecorder(t *testing.T, upstream pemFiles, resolve map[string]string) *recorder {
	t.Helper()
	ca, err := certs.New(certs.Options{Name: "regtrace e2e CA"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec := &recorder{Bundle: filepath.Join(dir, "bundle.pem"), CACert: filepath.Join(dir, "ca.crt")}
	if err := certs.WriteBundle(rec.Bundle, ca); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(rec.CACert, ca.CertPEM(), 0o644)
	roots, _ := x509.SystemCertPool()
	if roots == nil {
		roots = x509.NewCertPool()
	}
	pemBytes, _ := os.ReadFile(upstream.CA)
	roots.AppendCertsFromPEM(pemBytes)
	p, err := proxy.New(proxy.Options{
		GetCertificate: ca.GetCertificate,
		UpstreamRoots:  roots,
		Resolve:        resolve,
		OnFlow: func(f *flow.Flow) {
			rec.mu.Lock()
			rec.flows = append(rec.flows, f)
			rec.mu.Unlock()
		},
		OnHandshakeFailure: func(h flow.HandshakeFailure) {
			rec.mu.Lock()
			rec.hs = append(rec.hs, h)
			rec.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	t.Cleanup(func() { p.Close() })
	rec.p = p
	rec.URL = "http://" + ln.Addr().String()
	return rec
}

// Take returns the flows recorded since the last Take, in arrival (ID) order,
// decoded by one session, once every request begun so far has been
// delivered (a client that exited may still have flows on their way).
func (r *recorder) Take(t *testing.T) []*decode.Exchange {
	t.Helper()
	// A bound on a wait for the proxy, not a delay.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.p.Settle(ctx); err != nil {
		t.Fatalf("proxy did not deliver its flows: %v", err)
	}
	return r.take()
}

func (r *recorder) take() []*decode.Exchange {
	r.mu.Lock()
	flows := r.flows
	r.flows = nil
	r.Handshakes, r.hs = r.hs, nil
	r.mu.Unlock()
	sort.Slice(flows, func(i, j int) bool { return flows[i].ID < flows[j].ID })
	s := decode.NewSession()
	out := make([]*decode.Exchange, len(flows))
	for i, f := range flows {
		out[i] = s.Decode(f)
	}
	return out
}

// Stop shuts the proxy down and returns what it recorded since the last
// Take, every flow included. Take alone, once a client has exited, can miss
// its last flows: a tunnel's flow reaches OnFlow when the connection goes
// idle or closes, which is after the client already has the response.
// Shutdown waits for those deliveries.
func (r *recorder) Stop(t *testing.T) []*decode.Exchange {
	t.Helper()
	// A bound on a wait for the proxy, not a delay: Shutdown returns as
	// soon as the last flow is delivered.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.p.Shutdown(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("proxy shutdown: %v (context: %v): flows may be missing", err, ctx.Err())
	}
	return r.take()
}
