package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestLeafIsTrustedForItsHost(t *testing.T) {
	tests := []struct {
		host    string
		verify  string // the name a client verifies
		wantDNS []string
		wantIP  string
	}{
		{host: "registry.test", verify: "registry.test", wantDNS: []string{"registry.test"}},
		{host: "Registry.Example.COM.", verify: "registry.example.com", wantDNS: []string{"registry.example.com"}},
		{host: "my_registry.internal", verify: "my_registry.internal", wantDNS: []string{"my_registry.internal"}},
		{host: "192.0.2.7", verify: "192.0.2.7", wantIP: "192.0.2.7"},
		{host: "::1", verify: "::1", wantIP: "::1"},
		{host: "[2001:db8::1]", verify: "2001:db8::1", wantIP: "2001:db8::1"},
		{host: "2001:DB8:0::1", verify: "[2001:db8::1]", wantIP: "2001:db8::1"},
	}
	clk := newClock()
	ca := mustNew(t, Options{Now: clk.Now})
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			c, err := ca.Leaf(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf == nil {
				t.Fatal("Leaf field not set")
			}
			if len(c.Certificate) != 2 || !reflect.DeepEqual(c.Certificate[1], ca.Certificate().Raw) {
				t.Error("chain is not [leaf, CA]")
			}
			if !reflect.DeepEqual(c.Certificate[0], c.Leaf.Raw) {
				t.Error("Certificate[0] is not Leaf")
			}
			if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: tt.verify, CurrentTime: start}); err != nil {
				t.Errorf("Verify(%q): %v", tt.verify, err)
			}
			if !reflect.DeepEqual(c.Leaf.DNSNames, tt.wantDNS) {
				t.Errorf("DNSNames = %q, want %q", c.Leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range c.Leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if want := []string{tt.wantIP}; tt.wantIP != "" && !reflect.DeepEqual(ips, want) || tt.wantIP == "" && ips != nil {
				t.Errorf("IPAddresses = %q, want %q", ips, tt.wantIP)
			}
			if got := c.Leaf.ExtKeyUsage; !reflect.DeepEqual(got, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("ExtKeyUsage = %v, want [ServerAuth]", got)
			}
			if c.Leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("KeyUsage = %b, want DigitalSignature", c.Leaf.KeyUsage)
			}
			if c.Leaf.IsCA {
				t.Error("leaf is a CA")
			}
			if n := c.Leaf.SerialNumber; n.Sign() <= 0 || n.BitLen() > 128 {
				t.Errorf("serial %v: want positive, at most 128 bits", n)
			}
		})
	}
}

func TestLeavesShareOneKeyThatIsNotTheCAs(t *testing.T) {
	ca := mustNew(t, Options{})
	a, err := ca.Leaf("a.test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.Leaf("b.test")
	if err != nil {
		t.Fatal(err)
	}
	key, ok := a.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Fatalf("leaf key = %T, want ECDSA P-256", a.PrivateKey)
	}
	if b.PrivateKey != a.PrivateKey {
		t.Error("two leaves of one CA have different keys")
	}
	if key.PublicKey.Equal(ca.Certificate().PublicKey) {
		t.Error("the leaf key is the CA key")
	}
	if a.Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) == 0 {
		t.Error("two leaves share a serial number")
	}
	other := mustNew(t, Options{})
	c, err := other.Leaf("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if c.PrivateKey.(*ecdsa.PrivateKey).Equal(key) {
		t.Error("two CAs share a leaf key")
	}
}

func TestLeafRejectsBadHosts(t *testing.T) {
	ca := mustNew(t, Options{})
	for _, host := range []string{"", "[]", "registry.test:443", "[::1]:443", "a b.test", "a..test", ".", "x/y", "a@b"} {
		if c, err := ca.Leaf(host); err == nil {
			t.Errorf("Leaf(%q) = %v, want an error", host, c.Leaf.DNSNames)
		}
	}
}

func TestLeafValidity(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name          string
		caValidity    time.Duration
		wantNotBefore time.Time
		wantNotAfter  time.Time
	}{
		{name: "seven days, backdated an hour", wantNotBefore: start.Add(-time.Hour), wantNotAfter: start.Add(7 * day)},
		{name: "never after the CA", caValidity: 3 * day, wantNotBefore: start.Add(-time.Hour), wantNotAfter: start.Add(3 * day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := mustNew(t, Options{Validity: tt.caValidity, Now: newClock().Now})
			c, err := ca.Leaf("registry.test")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Leaf.NotBefore; !got.Equal(tt.wantNotBefore) {
				t.Errorf("NotBefore = %v, want %v", got, tt.wantNotBefore)
			}
			if got := c.Leaf.NotAfter; !got.Equal(tt.wantNotAfter) {
				t.Errorf("NotAfter = %v, want %v", got, tt.wantNotAfter)
			}
			// A client whose clock is half an hour behind still accepts it.
			if _, err := c.Leaf.Verify(x509.VerifyOptions{
				Roots: ca.Pool(), DNSName: "registry.test", CurrentTime: start.Add(-30 * time.Minute),
			}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestConcurrentLeafCallsMakeOneCertificate(t *testing.T) {
	const n = 64
	ca := mustNew(t, Options{})
	release := make(chan struct{})
	ca.testHookIssue = func(string) { <-release }

	results := make([]*tls.Certificate, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = ca.Leaf("same.host") })
	}
	// Hold the issuance until every other caller waits for it.
	for ca.cache.waits.Load() < n-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()

	if got := ca.issued.Load(); got != 1 {
		t.Errorf("%d certificates made, want 1", got)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("caller %d got a different certificate", i)
		}
	}
}

func TestLeafCacheEvictsTheLeastRecentlyUsed(t *testing.T) {
	ca := mustNew(t, Options{CacheSize: 2})
	steps := []struct {
		host       string
		wantIssued int64
	}{
		{"a.test", 1},
		{"b.test", 2},
		{"A.test", 2}, // a hit, case does not matter; a is now the most recent
		{"c.test", 3}, // evicts b
		{"a.test", 3},
		{"c.test", 3},
		{"b.test", 4}, // made again; evicts a
		{"a.test", 5},
	}
	for i, s := range steps {
		if _, err := ca.Leaf(s.host); err != nil {
			t.Fatal(err)
		}
		if got := ca.issued.Load(); got != s.wantIssued {
			t.Errorf("step %d, Leaf(%q): %d certificates made, want %d", i, s.host, got, s.wantIssued)
		}
		if got := ca.cache.len(); got > 2 {
			t.Errorf("step %d: cache holds %d, want at most 2", i, got)
		}
	}
}

func TestLeafCacheRenewsNearExpiry(t *testing.T) {
	const day = 24 * time.Hour
	clk := newClock()
	ca := mustNew(t, Options{Now: clk.Now})
	first, err := ca.Leaf("registry.test")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		wantNew bool
	}{
		{advance: 6 * day, wantNew: false},
		{advance: 23 * time.Hour, wantNew: false},        // 1 h left
		{advance: 30 * time.Minute, wantNew: true},       // 30 min left
		{advance: 7*day + time.Hour, wantNew: true},      // expired
		{advance: time.Minute, wantNew: false},           // the renewed one is cached
		{advance: -(7*day + 2*time.Hour), wantNew: true}, // clock went back before NotBefore
	}
	prev := first
	for i, s := range steps {
		clk.Add(s.advance)
		c, err := ca.Leaf("registry.test")
		if err != nil {
			t.Fatal(err)
		}
		if isNew := c != prev; isNew != s.wantNew {
			t.Errorf("step %d (now %v): new certificate = %v, want %v", i, clk.Now(), isNew, s.wantNew)
		}
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "registry.test", CurrentTime: clk.Now()}); err != nil {
			t.Errorf("step %d: %v", i, err)
		}
		prev = c
	}
}

func TestLeafNearAndAfterCAExpiry(t *testing.T) {
	clk := newClock()
	ca := mustNew(t, Options{Validity: 2 * time.Hour, Now: clk.Now})
	clk.Add(90 * time.Minute) // 30 min left: leaves end with the CA and are still cached
	a, err := ca.Leaf("registry.test")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Leaf.NotAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("leaf NotAfter = %v, want the CA's %v", a.Leaf.NotAfter, ca.Certificate().NotAfter)
	}
	if b, err := ca.Leaf("registry.test"); err != nil || b != a {
		t.Errorf("second Leaf = %p, %v, want the cached %p", b, err, a)
	}
	clk.Add(time.Hour)
	if _, err := ca.Leaf("registry.test"); err == nil {
		t.Error("Leaf succeeded with an expired CA")
	}
	if _, err := ca.Leaf("registry.test"); err == nil {
		t.Error("Leaf succeeded with an expired CA (errors must not be cached as successes)")
	}
}

func TestGetCertificate(t *testing.T) {
	ca := mustNew(t, Options{})
	for _, hello := range []*tls.ClientHelloInfo{nil, {}} {
		if _, err := ca.GetCertificate(hello); err == nil {
			t.Errorf("GetCertificate(%v) succeeded, want an error for a missing SNI", hello)
		}
	}
	c, err := ca.GetCertificate(&tls.ClientHelloInfo{ServerName: "registry.test"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Leaf.DNSNames, []string{"registry.test"}) {
		t.Errorf("DNSNames = %q", c.Leaf.DNSNames)
	}
}

// TestHandshake runs a real TLS handshake: a server using GetCertificate and
// a client trusting only Pool().
func TestHandshake(t *testing.T) {
	ca := mustNew(t, Options{})
	for _, name := range []string{"registry.test", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			server := tls.Server(sc, &tls.Config{
				GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
					if hello.ServerName == "" {
						// No SNI for IP addresses: the proxy fills in the CONNECT host.
						hello.ServerName = name
					}
					return ca.GetCertificate(hello)
				},
			})
			client := tls.Client(cc, &tls.Config{RootCAs: ca.Pool(), ServerName: name})
			errc := make(chan error, 1)
			go func() { errc <- server.Handshake() }()
			if err := client.Handshake(); err != nil {
				t.Fatalf("client handshake: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("server handshake: %v", err)
			}
		})
	}
}

func BenchmarkLeafCached(b *testing.B) {
	ca := mustNew(b, Options{})
	if _, err := ca.Leaf("registry.test"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ca.Leaf("registry.test"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafNew(b *testing.B) {
	ca := mustNew(b, Options{CacheSize: 16})
	i := 0
	for b.Loop() {
		i++
		if _, err := ca.Leaf(fmt.Sprintf("host%d.test", i)); err != nil {
			b.Fatal(err)
		}
	}
}
