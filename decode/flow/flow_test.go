package flow

import "testing"

// KindOfMessage reads the failure texts of every source regtrace reads:
// browsers, mitmproxy, and Go clients' logs.
func TestKindOfMessage(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want ErrKind
	}{
		{"net::ERR_CERT_AUTHORITY_INVALID", ErrUnknownAuthority},
		{`Get "https://r/v2/": x509: certificate signed by unknown authority`, ErrUnknownAuthority},
		{"x509: certificate has expired or is not yet valid", ErrCertificate},
		{"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate", ErrUnknownAuthority},
		{"remote error: tls: handshake failure", ErrTLS},
		{"dial tcp 10.0.0.5:443: connect: connection refused", ErrRefused},
		{"net::ERR_NAME_NOT_RESOLVED", ErrDNS},
		{"dial tcp: lookup auth.example: no such host", ErrDNS},
		{"dial tcp: lookup registry.corp on 10.96.0.10:53: server misbehaving", ErrDNS},
		{"dial tcp: lookup registry.corp: Try again", ErrDNS},
		{"[Errno -3] Temporary failure in name resolution", ErrDNS},
		{"dial tcp 1.2.3.4:443: i/o timeout", ErrTimeout},
		{"context deadline exceeded (Client.Timeout exceeded while awaiting headers)", ErrTimeout},
		{"read tcp 10.0.0.2:50000->1.2.3.4:443: read: connection reset by peer", ErrUpstreamClosed},
		{`Get "https://r/v2/": EOF`, ErrUpstreamClosed},
		{"the registry said no", ErrOther},
	} {
		if got := KindOfMessage(c.msg); got != c.want {
			t.Errorf("KindOfMessage(%q) = %s, want %s", c.msg, got, c.want)
		}
	}
}

func TestPeer(t *testing.T) {
	for _, c := range []struct{ user, addr, want string }{
		{"alice", "10.0.0.5:4000", "alice"},
		{"", "10.0.0.5:4000", "10.0.0.5"},
		{"", "[2001:db8::1]:4000", "2001:db8::1"},
		{"", "127.0.0.1:4000", "localhost"},
		{"", "127.0.0.2:4000", "localhost"},
		{"", "[::1]:4000", "localhost"},
		{"", "", ""},
		{"", "pipe", "pipe"},
	} {
		if got := Peer(c.user, c.addr); got != c.want {
			t.Errorf("Peer(%q, %q) = %q, want %q", c.user, c.addr, got, c.want)
		}
	}
}
