package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// DefaultCaptureLimit bounds the captured prefix of each textual body. 64 KiB
// holds any manifest, index or registry error body seen in practice (oras
// caps its debug bodies at 16 KiB) while a thousand concurrent flows still
// fit in 64 MiB.
const DefaultCaptureLimit = 64 << 10

// Options configure a Proxy. The zero value of every field is the safe
// default; only GetCertificate is required.
type Options struct {
	// GetCertificate returns the certificate the proxy shows a client for a
	// host (certs.CA.GetCertificate satisfies it). When the client sent no
	// SNI (IP literals), ServerName is set to the CONNECT host before the call.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	// OnFlow is called once per exchange when it ends (body fully relayed,
	// failed, or abandoned by the client); in a CONNECT tunnel, after the
	// response has been written to the client. It is called from the
	// goroutine serving that connection, so concurrently; the Flow is not
	// touched by the proxy afterwards. Nil: flows are dropped.
	OnFlow func(*flow.Flow)

	// OnStart, when set, is called as a request starts, with the ID its
	// flow will have and its client (flow.Flow.Peer): a caller waiting for
	// a client's traffic to pause then knows a download is under way.
	OnStart func(id flow.ID, peer string)

	// OnHandshakeFailure is called when a client fails the TLS handshake with
	// the proxy (most often: it does not trust the regtrace CA). Nil: dropped.
	OnHandshakeFailure func(flow.HandshakeFailure)

	// CaptureLimit is the most bytes kept of each textual body; zero means
	// DefaultCaptureLimit, negative means capture none (sizes still recorded).
	CaptureLimit int

	// UpstreamRoots verify upstream certificates; nil means the system roots.
	UpstreamRoots *x509.CertPool

	// InsecureUpstream turns off upstream certificate verification. Flows
	// then carry TLSInfo.Insecure so nobody mistakes them for verified.
	InsecureUpstream bool

	// UpstreamProxy, when set, is the proxy for every upstream request. Nil
	// means direct: the proxy never reads HTTPS_PROXY from its environment,
	// which may well point at itself.
	UpstreamProxy *url.URL

	// Resolve maps "host:port" (or "host" for any port) to an address ("ip"
	// or "ip:port") for the proxy's own dials, like curl --resolve. Test
	// registries use it: Go clients never proxy loopback names.
	Resolve map[string]string

	// ResponseHeaderTimeout bounds the wait for an upstream's response
	// headers; zero means 5 minutes (a registry may take that long to verify
	// a large upload's digest before it answers).
	ResponseHeaderTimeout time.Duration

	// ClientHeaderTimeout bounds how long a client may take to send a
	// request's headers to the proxy (a slow or stuck client on a shared
	// listener holds a connection no longer); zero means 30 seconds.
	ClientHeaderTimeout time.Duration

	// DialTimeout bounds TCP connects upstream; zero means 30 seconds.
	DialTimeout time.Duration

	// Authenticate, when set, checks the Proxy-Authorization value of
	// every request a client sends the proxy (a CONNECT or a plain HTTP
	// request) and returns the proxy user. A request it refuses gets 407
	// Proxy Authentication Required with Proxy-Authenticate, is recorded
	// as a flow (Err kind proxy-auth) and reaches no upstream. The header
	// is never forwarded. It is called concurrently. Nil: no
	// authentication (a proxy on loopback).
	Authenticate func(proxyAuthorization string) (user string, ok bool)

	// AuthRealm is the realm of the 407's Basic challenge; empty means
	// "regtrace".
	AuthRealm string

	// Logger receives the proxy's own diagnostics; nil discards them.
	Logger *slog.Logger

	// resolver, set by tests only, resolves upstream names: a name that
	// does not resolve, without the network. Nil: net.DefaultResolver.
	resolver *net.Resolver
}

// ParseResolve parses one --resolve entry, "host:port=addr" or "host=addr",
// where addr is an IP, optionally with a port.
func ParseResolve(s string) (key, addr string, err error) {
	k, a, ok := strings.Cut(s, "=")
	if !ok || k == "" || a == "" {
		return "", "", fmt.Errorf("resolve %q: want host:port=addr", s)
	}
	host := k
	if h, p, err := net.SplitHostPort(k); err == nil {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return "", "", fmt.Errorf("resolve %q: bad port %q", s, p)
		}
		host = h
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return "", "", fmt.Errorf("resolve %q: bad host %q", s, host)
	}
	ip := a
	if h, _, err := net.SplitHostPort(a); err == nil {
		ip = h
	}
	if net.ParseIP(strings.Trim(ip, "[]")) == nil {
		return "", "", fmt.Errorf("resolve %q: %q is not an IP address", s, a)
	}
	return strings.ToLower(k), a, nil
}
