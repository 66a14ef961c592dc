package proxy

import (
	"errors"
	"strings"
	"testing"
)

func TestHandshakeReason(t *testing.T) {
	for _, tt := range []struct{ err, want string }{
		{"remote error: tls: unknown certificate authority", "does not trust the regtrace CA"},
		{"remote error: tls: bad certificate", "does not trust the regtrace CA"},
		{"local error: tls: bad record MAC", "most likely does not trust the regtrace CA"},
		{"EOF", "closed the connection during the handshake"},
		{"tls: first record does not look like a TLS handshake", "plain HTTP"},
		{"tls: client offered only unsupported versions: [300]", "TLS handshake with the client failed"},
	} {
		if got := handshakeReason(errors.New(tt.err)); !strings.Contains(got, tt.want) {
			t.Errorf("handshakeReason(%q) = %q, want it to say %q", tt.err, got, tt.want)
		}
	}
}
