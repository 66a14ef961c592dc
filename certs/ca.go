package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/user"
	"sync"
	"sync/atomic"
	"time"
)

// File names of the CA inside the directory given to LoadOrCreate.
const (
	CertFileName = "ca.crt"
	KeyFileName  = "ca.key"
)

const (
	// maxCAValidity is both the default and the upper bound of a new CA's
	// validity. It is shorter than the 10 years of mitmproxy or mkcert
	// because the trust a MITM CA is given is broad: a CA forgotten in a
	// trust store stops being a risk on its own.
	maxCAValidity = 2 * 365 * 24 * time.Hour

	// backdate is subtracted from NotBefore of every certificate, so that a
	// client whose clock is a little behind ours still accepts it.
	backdate = time.Hour

	// leafValidity is short: leaves live in memory and are reissued.
	leafValidity = 7 * 24 * time.Hour

	// leafRefresh: a cached leaf with less validity left than this is
	// reissued (mockttp refreshes its CA the same way).
	leafRefresh = time.Hour

	// expiryWarning is how long before the CA expires ExpiryWarning speaks.
	expiryWarning = 30 * 24 * time.Hour

	defaultCacheSize = 1024

	organization = "regtrace"
)

// Options configure New, LoadOrCreate and LoadFiles. The zero value is the
// safe default.
type Options struct {
	// Name is the subject common name of a new CA, which is how a user finds
	// it in a trust store. Empty means "regtrace CA (user@host, 2026-11-25)",
	// computed from the current user, the host name and the date. Ignored
	// when a CA is loaded.
	Name string

	// Validity of a new CA. Zero means 2 years, which is also the maximum:
	// a larger value is clamped. Ignored when a CA is loaded.
	Validity time.Duration

	// Now returns the current time; nil means time.Now. Leaves, the CA's
	// validity and ExpiryWarning use it.
	Now func() time.Time

	// CacheSize bounds the number of leaf certificates kept; zero means 1024.
	CacheSize int
}

// CA is a certificate authority that issues leaf certificates for the hosts
// regtrace intercepts. It is safe for concurrent use.
type CA struct {
	cert     *x509.Certificate
	certPEM  []byte
	key      crypto.Signer
	certFile string // "" for an ephemeral CA
	keyFile  string
	fromDir  bool // the files are ours (LoadOrCreate), not a CA the user brought
	now      func() time.Time

	// leafKey is the one key of every leaf this CA issues, made on first use.
	leafKey func() (*ecdsa.PrivateKey, error)
	cache   *leafCache

	// issued counts leaf certificates made; tests read it.
	issued atomic.Int64
	// testHookIssue, when set (by tests, before any use), runs before a leaf
	// is made.
	testHookIssue func(host string)
}

// Sentinel errors, found with errors.Is inside a *FileError.
var (
	// ErrNotCA: the certificate cannot sign others.
	ErrNotCA = errors.New("certificate is not a CA")
	// ErrKeyMismatch: the private key is not the certificate's.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrInsecureKey: the private key file is readable by group or others.
	ErrInsecureKey = errors.New("private key is readable by group or others")
	// ErrPartialCA: one of the two CA files exists without the other.
	ErrPartialCA = errors.New("file is missing while the other CA file exists")
)

// FileError is an error about one file of a CA: its path and what is wrong.
type FileError struct {
	Path string
	Err  error
}

var _ error = (*FileError)(nil)

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

// fileError wraps err for path, dropping the path an *fs.PathError already
// carries so that it is not printed twice.
func fileError(path string, err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok && pe.Path == path {
		err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return &FileError{Path: path, Err: err}
}

type options struct {
	name      string
	validity  time.Duration
	now       func() time.Time
	cacheSize int
}

func (o Options) resolve() (options, error) {
	r := options{name: o.Name, validity: o.Validity, now: o.Now, cacheSize: o.CacheSize}
	if r.now == nil {
		r.now = time.Now
	}
	switch {
	case r.validity < 0:
		return r, fmt.Errorf("certs: negative CA validity %v", r.validity)
	case r.validity == 0, r.validity > maxCAValidity:
		r.validity = maxCAValidity
	}
	switch {
	case r.cacheSize < 0:
		return r, fmt.Errorf("certs: negative cache size %d", r.cacheSize)
	case r.cacheSize == 0:
		r.cacheSize = defaultCacheSize
	}
	return r, nil
}

// New returns a CA held in memory only: its key never touches the disk and
// dies with the process. `regtrace run` uses it.
func New(opts Options) (*CA, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	cert, key, err := generate(o)
	if err != nil {
		return nil, err
	}
	return newCA(cert, key, o), nil
}

func newCA(cert *x509.Certificate, key crypto.Signer, o options) *CA {
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		key:     key,
		now:     o.now,
		leafKey: sync.OnceValues(func() (*ecdsa.PrivateKey, error) {
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}),
		cache: newLeafCache(o.cacheSize),
	}
}

// generate makes a new self-signed CA certificate and its key.
func generate(o options) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generating CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := o.now()
	name := o.name
	if name == "" {
		name = defaultName(now)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{organization}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(o.validity),
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		// Path length zero: the CA signs leaves only, never another CA.
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		// SubjectKeyId is left empty: for a CA, x509.CreateCertificate
		// computes it from the public key.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: parsing new CA certificate: %w", err)
	}
	return cert, key, nil
}

// defaultName names the CA after the user, host and day it was made, like
// mkcert's "user@host", so that it can be found and removed from a trust
// store.
func defaultName(now time.Time) string {
	who := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	} else if v := os.Getenv("USER"); v != "" {
		who = v
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("regtrace CA (%s@%s, %s)", who, host, now.Format(time.DateOnly))
}

// randomSerial returns a positive 128-bit serial number from crypto/rand.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("certs: generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// Certificate returns the CA certificate. It is shared: do not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// CertFile returns the path of the CA certificate on disk, or "" for an
// ephemeral CA.
func (ca *CA) CertFile() string { return ca.certFile }

// Pool returns a new pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ExpiryWarning returns "" or a sentence saying that the CA expires within
// 30 days or has expired, with the date and what to do.
func (ca *CA) ExpiryWarning() string {
	now := ca.now()
	end := ca.cert.NotAfter
	left := end.Sub(now)
	if left > expiryWarning {
		return ""
	}
	var when string
	if left <= 0 {
		when = "expired on " + end.UTC().Format(time.DateOnly)
	} else {
		days := int(left / (24 * time.Hour))
		in := "in less than a day"
		switch {
		case days == 1:
			in = "in 1 day"
		case days > 1:
			in = fmt.Sprintf("in %d days", days)
		}
		when = fmt.Sprintf("expires on %s (%s)", end.UTC().Format(time.DateOnly), in)
	}
	var todo string
	switch {
	case ca.certFile == "":
		todo = "a new one is made on the next run"
	case ca.fromDir:
		todo = fmt.Sprintf("remove %s and %s to have regtrace generate a new CA, then trust the new one where you trusted this one",
			ca.certFile, ca.keyFile)
	default:
		todo = fmt.Sprintf("replace %s and %s with a renewed CA", ca.certFile, ca.keyFile)
	}
	return fmt.Sprintf("The regtrace CA %q %s: %s.", ca.cert.Subject.CommonName, when, todo)
}
