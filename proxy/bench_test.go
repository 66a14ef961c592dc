package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// The MITM benchmarks run origin, proxy and client in one process, so CPU
// per byte or per request (cpu-s/GiB, cpu-µs/req from getrusage) is the
// number to compare between changes: it moves less than wall-clock
// throughput when other work shares the machine. "direct" is the same
// client and origin without the proxy.

const benchManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2a1d3b3c5e6f7081929aabbccddeeff00112233445566778899aabbccddeeff0","size":1073741824}]}`

type benchEnv struct {
	origin   *httptest.Server
	base     string
	direct   *http.Client
	mitm     *http.Client
	flows    atomic.Int64
	proxy    *Proxy
	proxyURL *url.URL
	mitmCA   *testCA
	upCA     *testCA
}

func newBenchEnv(b *testing.B, blobSize int64) *benchEnv {
	return newBenchEnvRecorder(b, blobSize, nil)
}

// newBenchEnvRecorder gives OnFlow work to do, as regtrace's session does
// (decode, print, HAR: tens of µs per flow under one lock).
func newBenchEnvRecorder(b *testing.B, blobSize int64, work func(*flow.Flow)) *benchEnv {
	mitmCA := newTestCA(b, "regtrace bench CA")
	upCA := newTestCA(b, "upstream bench CA")
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	e := &benchEnv{}
	e.origin = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/bench/app/blobs/sha256:aa":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(blobSize, 10))
			for n := blobSize; n > 0; n -= int64(len(chunk)) {
				if _, err := w.Write(chunk[:min(n, int64(len(chunk)))]); err != nil {
					return
				}
			}
		default:
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", "sha256:0f5c2a0a2b2c5c9a0b1d6e8f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b")
			w.Header().Set("Content-Length", strconv.Itoa(len(benchManifest)))
			if r.Method != http.MethodHead {
				io.WriteString(w, benchManifest)
			}
		}
	}))
	oc, err := upCA.issue("registry.test")
	if err != nil {
		b.Fatal(err)
	}
	e.origin.TLS = &tls.Config{Certificates: []tls.Certificate{*oc}}
	e.origin.EnableHTTP2 = false
	e.origin.StartTLS()
	b.Cleanup(e.origin.Close)
	_, port, _ := net.SplitHostPort(e.origin.Listener.Addr().String())
	e.base = "https://registry.test:" + port

	p, err := New(Options{
		GetCertificate: mitmCA.GetCertificate,
		OnFlow: func(f *flow.Flow) {
			e.flows.Add(1)
			if work != nil {
				work(f)
			}
		},
		UpstreamRoots: upCA.pool,
		Resolve:       map[string]string{"registry.test": "127.0.0.1"},
	})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(ln)
	b.Cleanup(func() { p.Close() })

	e.proxy, e.mitmCA, e.upCA = p, mitmCA, upCA
	e.proxyURL = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	e.mitm = benchClient(b, mitmCA, e.proxyURL, "")
	e.direct = benchClient(b, upCA, nil, e.origin.Listener.Addr().String())
	return e
}

func benchClient(b *testing.B, ca *testCA, proxyURL *url.URL, dialTo string) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: ca.pool},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	}
	if proxyURL != nil {
		tr.Proxy = http.ProxyURL(proxyURL)
	}
	if dialTo != "" {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, dialTo)
		}
	}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMITMBlob downloads a 64 MiB blob per op, reading and discarding
// it as a registry client does.
func BenchmarkMITMBlob(b *testing.B) {
	const size = 64 << 20
	e := newBenchEnv(b, size)
	for _, mode := range []string{"direct", "mitm"} {
		b.Run(mode, func(b *testing.B) {
			c := e.direct
			if mode == "mitm" {
				c = e.mitm
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(size)
			cpu0, start := processCPU(), time.Now()
			for b.Loop() {
				resp, err := c.Get(e.base + "/v2/bench/app/blobs/sha256:aa")
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for {
					k, err := resp.Body.Read(buf)
					n += int64(k)
					if err != nil {
						break
					}
				}
				resp.Body.Close()
				if n != size {
					b.Fatalf("got %d bytes, want %d", n, size)
				}
			}
			total := float64(b.N) * size
			b.ReportMetric(total/time.Since(start).Seconds(), "bytes/s")
			b.ReportMetric((processCPU()-cpu0).Seconds()/(total/(1<<30)), "cpu-s/GiB")
		})
	}
}

// BenchmarkMITMSmallRequests sends manifest HEAD and GET in turn from four
// keep-alive connections.
func BenchmarkMITMSmallRequests(b *testing.B) {
	e := newBenchEnv(b, 0)
	// recorder: OnFlow hashes 32 KiB under a lock, about what decoding,
	// printing and a HAR entry cost regtrace per manifest request.
	var mu sync.Mutex
	scratch := make([]byte, 32<<10)
	r := newBenchEnvRecorder(b, 0, func(*flow.Flow) {
		mu.Lock()
		sha256.Sum256(scratch)
		mu.Unlock()
	})
	for _, mode := range []string{"direct", "mitm", "mitm-recorder"} {
		b.Run(mode, func(b *testing.B) {
			c, base := e.direct, e.base
			switch mode {
			case "mitm":
				c = e.mitm
			case "mitm-recorder":
				c, base = r.mitm, r.base
			}
			var i atomic.Int64
			b.SetParallelism(2) // 2 × GOMAXPROCS (2 here) = 4 connections
			cpu0, start := processCPU(), time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					method := http.MethodGet
					if i.Add(1)%2 == 0 {
						method = http.MethodHead
					}
					req, _ := http.NewRequest(method, base+"/v2/bench/app/manifests/latest", nil)
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/req")
		})
	}
}

// BenchmarkFreshTunnel is what a client pays for a new tunnel: CONNECT,
// TLS with the proxy, and a manifest GET, one connection per op (docker
// and containerd open several per pull). "warm" is the proxy holding an
// idle upstream connection to the host, "cold" is not (its first contact
// with a host: upstream TCP and TLS too); "direct" is TCP, TLS and the GET
// without the proxy.
func BenchmarkFreshTunnel(b *testing.B) {
	e := newBenchEnv(b, 0)
	for _, mode := range []string{"direct", "warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			c := benchClient(b, e.mitmCA, e.proxyURL, "")
			if mode == "direct" {
				c = benchClient(b, e.upCA, nil, e.origin.Listener.Addr().String())
			}
			for b.Loop() {
				if mode == "cold" {
					e.proxy.tr.CloseIdleConnections()
				}
				resp, err := c.Get(e.base + "/v2/bench/app/manifests/latest")
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				c.Transport.(*http.Transport).CloseIdleConnections() // the next op opens a new one
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkCapture is the per-read recording cost: a blob (sized only) and
// a manifest (kept, hashed) in 16 KiB reads, as TLS delivers them.
func BenchmarkCapture(b *testing.B) {
	chunk := make([]byte, 16<<10)
	for _, c := range []struct{ name, contentType string }{
		{"blob", "application/octet-stream"},
		{"json", "application/vnd.oci.image.manifest.v1+json"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(chunk)) * 4)
			for b.Loop() {
				cp := newCapture(c.contentType, DefaultCaptureLimit)
				for range 4 {
					cp.write(chunk)
				}
				cp.end(true, nil)
				cp.body()
			}
		})
	}
}
