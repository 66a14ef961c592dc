package har

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

func benchFlows() []*flow.Flow {
	const jwt = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhdXRoLnRlc3QiLCJzdWIiOiJhbGljZSIsImF1ZCI6InJlZ2lzdHJ5LnRlc3QiLCJleHAiOjE5MDAwMDAwMDAsImFjY2VzcyI6W3sidHlwZSI6InJlcG9zaXRvcnkiLCJuYW1lIjoidGVhbS9hcHAiLCJhY3Rpb25zIjpbInB1bGwiXX1dfQ.c2lnbmF0dXJl"
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2a1d3b3c5e6f7081929aabbccddeeff00112233445566778899aabbccddeeff0","size":1073741824}]}`
	fs := flowtest.Seq(
		flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA("containerd/1.7.2").Bearer(jwt).
			Status(200).RespHeader("Docker-Content-Digest", "sha256:0f5c"),
		flowtest.Get("https://registry.test/v2/team/app/manifests/sha256:0f5c").UA("containerd/1.7.2").Bearer(jwt).
			Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:2a1d").UA("containerd/1.7.2").Bearer(jwt).
			Status(200).Blob(1<<30),
	)
	for _, f := range fs {
		f.Upstream = &flow.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ALPN: "http/1.1",
			ServerName: "registry.test", ServerIP: "127.0.0.1", Chain: []flow.CertSummary{{Subject: "CN=registry.test", Issuer: "CN=test CA"}}}
	}
	return fs
}

// BenchmarkWriterAdd appends manifest HEAD, manifest GET and blob entries
// to a HAR file, redacted, as `regtrace proxy --har` does per exchange.
func BenchmarkWriterAdd(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.har")
	w, err := Create(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	flows := benchFlows()
	i := 0
	start := time.Now()
	for b.Loop() {
		if err := w.Add(flows[i%len(flows)], Annotation{Kind: "manifest-get"}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/elapsed.Seconds(), "bytes/s")
	}
}
