package certs

import (
	"container/list"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Leaf returns a certificate for host, a DNS name or an IP literal (IPv6
// with or without brackets), without a port. The chain is the leaf and the
// CA, and Leaf is set. Certificates are cached; concurrent calls for one host
// make one certificate, and a cached one with less than an hour left is
// replaced.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	name, ip, err := canonicalHost(host)
	if err != nil {
		return nil, err
	}
	return ca.cache.get(name, ca.fresh, func() (*tls.Certificate, error) {
		return ca.issue(name, ip)
	})
}

// GetCertificate issues a certificate for the server name the client sent
// (SNI), for tls.Config.GetCertificate. Clients send no SNI for IP
// addresses: the proxy fills in the CONNECT host before calling it.
func (ca *CA) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello == nil || hello.ServerName == "" {
		return nil, errors.New("certs: client sent no server name (SNI)")
	}
	return ca.Leaf(hello.ServerName)
}

// canonicalHost checks host and returns its cache key: the address in
// canonical form for an IP literal (with ip set), else the lower-cased name
// without a trailing dot.
func canonicalHost(host string) (string, net.IP, error) {
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" {
		return "", nil, errors.New("certs: empty host")
	}
	if addr, err := netip.ParseAddr(h); err == nil {
		// A zone (fe80::1%eth0) names an interface of ours: no certificate
		// can carry it.
		addr = addr.WithZone("")
		return addr.String(), net.IP(addr.AsSlice()), nil
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return "", nil, fmt.Errorf("certs: host %q has a port", host)
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if len(h) == 0 || len(h) > 253 {
		return "", nil, fmt.Errorf("certs: invalid host name %q", host)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "", nil, fmt.Errorf("certs: invalid host name %q", host)
		}
		for _, c := range label {
			// Underscores are not valid in host names but occur in
			// internal ones; Go's verifier accepts them.
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", nil, fmt.Errorf("certs: invalid host name %q: character %q", host, c)
			}
		}
	}
	return h, nil, nil
}

// fresh reports whether a cached leaf may still be served: it has at least
// an hour left, or it ends with the CA and so cannot be made to last longer.
func (ca *CA) fresh(c *tls.Certificate) bool {
	now := ca.now()
	end := c.Leaf.NotAfter
	if now.Before(c.Leaf.NotBefore) {
		return false
	}
	return end.Sub(now) >= leafRefresh || end.Equal(ca.cert.NotAfter) && now.Before(end)
}

// issue makes a leaf certificate for name (or ip), signed by the CA, with the
// CA's one leaf key.
func (ca *CA) issue(name string, ip net.IP) (*tls.Certificate, error) {
	if ca.testHookIssue != nil {
		ca.testHookIssue(name)
	}
	ca.issued.Add(1)
	now := ca.now()
	notAfter := now.Add(leafValidity)
	if caEnd := ca.cert.NotAfter; notAfter.After(caEnd) {
		notAfter = caEnd
	}
	if !now.Before(notAfter) {
		return nil, fmt.Errorf("certs: CA %q expired on %s; cannot issue for %s",
			ca.cert.Subject.CommonName, ca.cert.NotAfter.UTC().Format(time.DateOnly), name)
	}
	key, err := ca.leafKey()
	if err != nil {
		return nil, fmt.Errorf("certs: generating leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// Clients match the SAN, never the CN (Go ignores it since 1.15);
		// the CN only helps a human reading the certificate.
		Subject:               pkix.Name{CommonName: name, Organization: []string{organization}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: issuing certificate for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parsing certificate for %s: %w", name, err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// leafCache is a bounded LRU of leaf certificates by host, in which one
// caller makes a missing certificate while the others for the same host
// wait for it.
type leafCache struct {
	size    int
	mu      sync.Mutex
	entries map[string]*entry
	order   *list.List // of *entry, most recently used first

	// waits counts callers that waited for another's issuance; tests read it.
	waits atomic.Int64
}

type entry struct {
	host string
	elem *list.Element // nil once evicted or replaced
	done chan struct{} // closed when cert and err are set
	cert *tls.Certificate
	err  error
}

func newLeafCache(size int) *leafCache {
	return &leafCache{size: size, entries: make(map[string]*entry), order: list.New()}
}

// get returns the cached certificate for host if fresh, waits for the one
// being made, or makes it with issue. Errors are not cached.
func (c *leafCache) get(host string, fresh func(*tls.Certificate) bool, issue func() (*tls.Certificate, error)) (*tls.Certificate, error) {
	c.mu.Lock()
	if e, ok := c.entries[host]; ok {
		select {
		case <-e.done:
			if e.err == nil && fresh(e.cert) {
				c.order.MoveToFront(e.elem)
				c.mu.Unlock()
				return e.cert, nil
			}
			c.remove(e)
		default:
			c.mu.Unlock()
			c.waits.Add(1)
			<-e.done
			return e.cert, e.err
		}
	}
	e := &entry{host: host, done: make(chan struct{})}
	e.elem = c.order.PushFront(e)
	c.entries[host] = e
	for c.order.Len() > c.size {
		c.remove(c.order.Back().Value.(*entry))
	}
	c.mu.Unlock()

	// Waiters must be released even if issue panics.
	e.err = errors.New("certs: issuing a certificate for " + host + " panicked")
	defer func() {
		c.mu.Lock()
		if e.err != nil {
			c.remove(e)
		}
		c.mu.Unlock()
		close(e.done)
	}()
	e.cert, e.err = issue()
	return e.cert, e.err
}

// remove drops e from the cache; those waiting on it still get its result.
func (c *leafCache) remove(e *entry) {
	if e.elem == nil {
		return
	}
	c.order.Remove(e.elem)
	e.elem = nil
	if c.entries[e.host] == e {
		delete(c.entries, e.host)
	}
}

func (c *leafCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
