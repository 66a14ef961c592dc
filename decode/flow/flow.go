// Package flow is regtrace's recording of one HTTP exchange as the proxy saw it.
//
// A Flow is faithful data, not interpretation: the decode package adds registry
// meaning on top. Live recording (package proxy) and offline reading (package
// decode/har) both produce Flows, so every consumer sees the same thing.
//
// flow imports nothing of regtrace's own; everything else imports it.
package flow

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ID numbers flows 1, 2, 3… in the order their requests arrived at the proxy.
// Zero means "no flow".
type ID uint64

// String formats the ID the way the trace prints it: "#3".
func (id ID) String() string { return fmt.Sprintf("#%d", uint64(id)) }

// Flow is one request/response exchange. A transport failure is still a Flow:
// Err says what happened and Response is the answer the client was given, if any.
type Flow struct {
	ID ID
	// Start is when the proxy received the request headers.
	Start time.Time
	// ClientAddr is the client's address as seen by the proxy (ip:port).
	ClientAddr string
	// ProxyUser is the user the client authenticated to the proxy as,
	// when the proxy asks for credentials (--proxy-auth).
	ProxyUser string
	Request   Request
	// Response is what the upstream answered; nil when it never answered.
	// When Err is set and the proxy synthesised an answer (a 502), Synthetic is true.
	Response *Response
	Timings  Timings
	// Upstream describes the TLS connection to the upstream, nil for plain HTTP
	// or when no connection was made.
	Upstream *TLSInfo
	// Err is set when the exchange did not complete normally.
	Err *Error
	// Origin is set for a flow read from a log rather than recorded on the
	// wire: where in the log it comes from ("line 14"). Such a flow holds
	// only what the log shows: see Response.Inferred.
	Origin string
}

// Request is the request as the proxy forwarded it (the client's headers, with
// hop-by-hop proxy headers removed).
type Request struct {
	Method string
	// URL is absolute: scheme, host (with port when not the default) and path.
	URL *url.URL
	// Proto is the client's protocol, e.g. "HTTP/1.1".
	Proto string
	// Header holds every value of every header, repeated values kept. Wire
	// order is not preserved: net/http and goproxy hold headers in maps.
	Header http.Header
	// Host is the Host header when it differs from URL.Host, else empty.
	Host string
	Body Body
}

// Response is the upstream's answer.
type Response struct {
	Status int
	// Proto is the upstream's protocol, e.g. "HTTP/1.1" or "HTTP/2.0".
	Proto   string
	Header  http.Header
	Trailer http.Header
	Body    Body
	// Synthetic is true when the proxy made this response up (e.g. a 502
	// after an upstream failure); the upstream never sent it.
	Synthetic bool
	// Inferred is true for a response a log did not show but implies: a
	// status of 0 means the client went on (so the answer did not stop
	// it), any other status and body were read back from the client's
	// error ("manifest unknown" is 404 MANIFEST_UNKNOWN).
	Inferred bool
}

// Body describes a message body that was streamed through the proxy. Only a
// bounded prefix is ever kept: registry blobs are gigabytes.
type Body struct {
	// Captured is the first bytes of the body, at most the capture limit, and
	// only for bodies whose content type is textual (JSON, text, XML, forms).
	Captured []byte
	// Size is the number of body bytes that passed through the proxy. For a
	// body cut short (see Complete) it is what was seen before the cut.
	Size int64
	// Truncated is true when Size > len(Captured) for a body that was captured,
	// or when a body was not captured at all (binary content).
	Truncated bool
	// Complete is true when the body was read to its end.
	Complete bool
	// SHA256 is the hex sha256 of the whole body, set only when it was cheap to
	// compute (the whole body was seen); empty otherwise.
	SHA256 string
}

// Text returns the captured prefix as a string.
func (b Body) Text() string { return string(b.Captured) }

// Timings of the upstream leg. A negative duration means "does not apply"
// (e.g. DNS and Connect on a reused connection).
type Timings struct {
	// Blocked is time waiting for a connection (from request start to GotConn,
	// less DNS, Connect and TLS).
	Blocked time.Duration
	DNS     time.Duration
	// Connect is the TCP connect time; TLS is separate (HAR folds it into
	// connect when it writes).
	Connect time.Duration
	TLS     time.Duration
	// Send is from having a connection to having written the request.
	Send time.Duration
	// Wait is from the request written to the first response byte.
	Wait time.Duration
	// Receive is from the first response byte to the end of the body.
	Receive time.Duration
	// Reused is true when the request went over a kept-alive connection.
	Reused bool
}

// Total is the sum of the timings that apply.
func (t Timings) Total() time.Duration {
	var d time.Duration
	for _, x := range []time.Duration{t.Blocked, t.DNS, t.Connect, t.TLS, t.Send, t.Wait, t.Receive} {
		if x > 0 {
			d += x
		}
	}
	return d
}

// TLSInfo is what the proxy learned about the upstream TLS connection.
type TLSInfo struct {
	Version     string // "TLS 1.3"
	CipherSuite string
	ALPN        string
	ServerName  string
	// ServerIP is the upstream's address without port or brackets, if known.
	ServerIP string
	// Chain summarises the certificates the upstream presented, leaf first.
	Chain []CertSummary
	// Insecure is true when the certificate was not verified
	// (--insecure-upstream).
	Insecure bool
}

// CertSummary is the part of an X.509 certificate that explains a TLS failure.
type CertSummary struct {
	Subject   string
	Issuer    string
	DNSNames  []string
	NotBefore time.Time
	NotAfter  time.Time
}

// ErrKind classifies a transport failure so later stages can branch on it
// without parsing messages.
type ErrKind string

const (
	ErrDNS              ErrKind = "dns"                // upstream name did not resolve
	ErrRefused          ErrKind = "connection-refused" // nothing listening upstream
	ErrTimeout          ErrKind = "timeout"            // dial, TLS or response header timeout
	ErrUnknownAuthority ErrKind = "tls-unknown-authority"
	ErrCertificate      ErrKind = "tls-certificate" // expired, wrong name, …
	ErrTLS              ErrKind = "tls"             // other upstream TLS failure
	ErrUpstreamClosed   ErrKind = "upstream-closed" // upstream reset or closed mid-exchange
	ErrClientClosed     ErrKind = "client-closed"   // client hung up mid-body
	ErrProxy            ErrKind = "proxy"           // regtrace's own failure (incl. a recovered panic)
	ErrProxyRefused     ErrKind = "proxy-refused"   // a proxy on the way answered CONNECT 502: it could not reach the host (seen in clients' logs)
	ErrProxyAuth        ErrKind = "proxy-auth"      // regtrace's shared proxy refused the client: no or wrong proxy credentials (407)
	ErrOther            ErrKind = "other"
)

// Error is a transport failure recorded on a flow.
type Error struct {
	Kind ErrKind
	// Message says what happened in words; it names hosts but never secrets.
	Message string
}

func (e *Error) Error() string { return string(e.Kind) + ": " + e.Message }

// Peer names the client a flow came from, for a proxy many clients share:
// its proxy user, else its IP address ("localhost" for any loopback
// address, so that one machine's clients are one peer); empty when
// neither is known (a log, a browser's HAR).
func (f *Flow) Peer() string { return Peer(f.ProxyUser, f.ClientAddr) }

// Peer is Flow.Peer for a user and a client address (ip:port).
func Peer(user, addr string) string {
	if user != "" || addr == "" { // a log's flows have neither
		return user
	}
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "localhost"
	}
	return host
}

// HandshakeFailure records a client that failed the TLS handshake with the
// proxy, most often because it does not trust the regtrace CA. It has no HTTP
// exchange, so it is not a Flow.
type HandshakeFailure struct {
	Time       time.Time
	ClientAddr string
	ProxyUser  string
	// Target is the host:port of the CONNECT request.
	Target string
	// ServerName is the SNI the client sent, if any.
	ServerName string
	// Message is the handshake error as Go reported it.
	Message string
	// Reason is a plain-words reading of Message, e.g. "the client does not
	// trust the regtrace CA".
	Reason string
}

// KindOfMessage classifies a transport failure from its text, as tools other
// than the proxy report it: Chrome's net::ERR_ codes, mitmproxy's (Python's
// ssl and socket errors), and Go's (clients' logs: "dial tcp: lookup x: no
// such host", "x509: certificate signed by unknown authority").
func KindOfMessage(msg string) ErrKind { return KindOfLowerMessage(strings.ToLower(msg)) }

// KindOfLowerMessage is KindOfMessage of a message already lower-cased
// (a reader asks several questions of each error line).
func KindOfLowerMessage(m string) ErrKind {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("err_cert_authority_invalid", "unable to get local issuer", "self-signed certificate", "self signed certificate", "unknown authority"):
		return ErrUnknownAuthority
	case has("err_cert_", "certificate verify failed", "x509: "):
		return ErrCertificate
	case has("err_ssl_", "tls"):
		return ErrTLS
	case has("err_connection_refused", "connection refused"):
		return ErrRefused
	case has("err_name_not_resolved", "name or service not known", "nodename nor servname", "no such host", "server misbehaving",
		"temporary failure in name resolution") || strings.Contains(m, "lookup ") && strings.Contains(m, "try again"):
		// "lookup HOST: Try again" is the resolver's EAI_AGAIN.
		return ErrDNS
	case has("timed_out", "timed out", "timeout", "deadline exceeded"):
		return ErrTimeout
	case has("connection reset", "broken pipe", "unexpected eof", ": eof", "err_connection_closed", "err_empty_response"):
		return ErrUpstreamClosed
	}
	return ErrOther
}
