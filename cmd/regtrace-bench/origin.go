package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// originName is the registry name clients use; only the bench client's
// dialer and regtrace's --resolve know it is on loopback.
const originName = "registry.bench.test"

// origin is a TLS server on loopback that answers like a registry: a ping,
// a small manifest (HEAD and GET) and one large blob made on the fly.
type origin struct {
	srv      *http.Server
	ln       net.Listener
	port     int
	caPEM    []byte
	caPool   *x509.CertPool
	size     int64
	chunk    []byte // repeated to make the blob: never the whole blob in memory
	blobPath string
	// fleetPath is a second blob, of fleetSize, for the fleet modes.
	fleetPath string
	fleetSize int64
	manifest  []byte
	mdigest   string
}

func newOrigin(size, fleetSize int64, h2 bool) (*origin, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "regtrace-bench origin CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: originName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// The IP is for mitmdump, which cannot resolve originName.
		DNSNames:    []string{originName},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	o := &origin{size: size, fleetSize: fleetSize, caPool: x509.NewCertPool()}
	o.caPool.AddCert(caCert)
	o.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	// 1 MiB of pseudo-random bytes (incompressible, though nothing here
	// compresses), repeated.
	o.chunk = make([]byte, 1<<20)
	r := mrand.NewChaCha8([32]byte{'r', 'e', 'g', 't', 'r', 'a', 'c', 'e'})
	r.Read(o.chunk)
	o.blobPath = "/v2/bench/app/blobs/sha256:" + o.digest(size)
	o.fleetPath = "/v2/bench/app/blobs/sha256:" + o.digest(fleetSize)
	o.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064x","size":1469},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}`,
		1, o.blobPath[len("/v2/bench/app/blobs/sha256:"):], size))
	sum := sha256.Sum256(o.manifest)
	o.mdigest = "sha256:" + hex.EncodeToString(sum[:])

	protos := []string{"http/1.1"}
	if h2 {
		protos = []string{"h2", "http/1.1"}
	}
	o.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o.port = o.ln.Addr().(*net.TCPAddr).Port
	o.srv = &http.Server{
		Handler:  o,
		ErrorLog: log.New(discard{}, "", 0),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}},
			NextProtos:   protos,
		},
	}
	if !h2 {
		o.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go o.srv.ServeTLS(o.ln, "", "")
	return o, nil
}

// digest is the sha256 of a blob of size bytes, computed once the way a
// registry would know it.
func (o *origin) digest(size int64) string {
	h := sha256.New()
	for n := size; n > 0; n -= int64(len(o.chunk)) {
		h.Write(o.chunk[:min(n, int64(len(o.chunk)))])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (o *origin) Close() { o.srv.Close() }

func (o *origin) writeCA(path string) error { return os.WriteFile(path, o.caPEM, 0o644) }

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	switch {
	case r.URL.Path == "/v2/" && r.Method == http.MethodGet:
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", "2")
		w.Write([]byte("{}"))
	case r.URL.Path == "/v2/bench/app/manifests/latest" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		h.Set("Docker-Content-Digest", o.mdigest)
		h.Set("Content-Length", strconv.Itoa(len(o.manifest)))
		if r.Method == http.MethodGet {
			w.Write(o.manifest)
		}
	case (r.URL.Path == o.blobPath || r.URL.Path == o.fleetPath) && r.Method == http.MethodGet:
		size := o.size
		if r.URL.Path == o.fleetPath {
			size = o.fleetSize
		}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Docker-Content-Digest", "sha256:"+r.URL.Path[len("/v2/bench/app/blobs/sha256:"):])
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		for n := size; n > 0; {
			k := min(n, int64(len(o.chunk)))
			if _, err := w.Write(o.chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	default:
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
