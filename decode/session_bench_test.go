package decode

import (
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// benchPull is one token-authenticated pull as the live proxy hands it to
// Decode: ping challenge, token, manifest HEAD and GET, a blob.
func benchPull() []*flow.Flow {
	const jwt = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhdXRoLnRlc3QiLCJzdWIiOiJhbGljZSIsImF1ZCI6InJlZ2lzdHJ5LnRlc3QiLCJleHAiOjE5MDAwMDAwMDAsImFjY2VzcyI6W3sidHlwZSI6InJlcG9zaXRvcnkiLCJuYW1lIjoidGVhbS9hcHAiLCJhY3Rpb25zIjpbInB1bGwiXX1dfQ.c2lnbmF0dXJl"
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2a1d3b3c5e6f7081929aabbccddeeff00112233445566778899aabbccddeeff0","size":1073741824}]}`
	return flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA("containerd/1.7.2").Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
		flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA("containerd/1.7.2").
			Status(200).JSON(`{"token":"`+jwt+`","expires_in":300}`),
		flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA("containerd/1.7.2").Bearer(jwt).
			Status(200).RespHeader("Docker-Content-Digest", "sha256:0f5c"),
		flowtest.Get("https://registry.test/v2/team/app/manifests/sha256:0f5c").UA("containerd/1.7.2").Bearer(jwt).
			Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:2a1d").UA("containerd/1.7.2").Bearer(jwt).
			Status(200).Blob(1<<30),
	)
}

// BenchmarkSessionDecode decodes a pull, flow by flow, as the live trace
// does for every exchange (ns/op is per flow).
func BenchmarkSessionDecode(b *testing.B) {
	flows := benchPull()
	s := NewSession()
	i := 0
	start := time.Now()
	for b.Loop() {
		s.Decode(flows[i%len(flows)])
		i++
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
}

// BenchmarkSessionDecodeManifest is the small-request hot path: a manifest
// GET with a bearer token.
func BenchmarkSessionDecodeManifest(b *testing.B) {
	flows := benchPull()
	s := NewSession()
	for _, f := range flows[:3] {
		s.Decode(f)
	}
	for b.Loop() {
		s.Decode(flows[3])
	}
}
