// Package certs owns regtrace's certificate authority: it creates or loads
// the CA, issues short-lived leaf certificates for the hosts a client
// connects to (with a bounded cache, one issuance per host at a time), writes
// the trust bundle for SSL_CERT_FILE and prints how each registry client is
// made to trust the CA.
//
// The CA is the most dangerous thing regtrace creates: anyone holding its key
// can impersonate any site to a client that trusts it. So the CA is made per
// install (never shipped), is valid for at most two years, has path length
// zero, and its key is written 0600 and refused when group- or
// world-readable, like ssh does. `regtrace run` uses an ephemeral CA whose key
// never touches the disk.
//
// certs imports nothing of regtrace's: the proxy takes the standard
// GetCertificate signature, which (*CA).GetCertificate satisfies.
package certs
