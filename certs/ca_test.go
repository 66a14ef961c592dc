package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

func TestNewCAHasTheRightShape(t *testing.T) {
	clk := newClock()
	ca := mustNew(t, Options{Now: clk.Now})
	c := ca.Certificate()

	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA public key = %T, want ECDSA P-256", c.PublicKey)
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		t.Errorf("BasicConstraintsValid, IsCA = %v, %v, want true, true", c.BasicConstraintsValid, c.IsCA)
	}
	if c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("MaxPathLen, MaxPathLenZero = %d, %v, want 0, true", c.MaxPathLen, c.MaxPathLenZero)
	}
	critical := false
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidBasicConstraints) {
			critical = ext.Critical
		}
	}
	if !critical {
		t.Error("basic constraints not critical")
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage&want != want {
		t.Errorf("KeyUsage = %b, want CertSign|CRLSign", c.KeyUsage)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("no SubjectKeyId")
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v: want positive, at most 128 bits", c.SerialNumber)
	}
	if other := mustNew(t, Options{Now: clk.Now}); other.Certificate().SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Error("two CAs share a serial number")
	}
	if got, want := c.NotBefore, start.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", got, want)
	}
	if got, want := c.NotAfter, start.Add(2*365*24*time.Hour); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", got, want)
	}
	if got := c.Subject.Organization; !reflect.DeepEqual(got, []string{"regtrace"}) {
		t.Errorf("Organization = %q, want [regtrace]", got)
	}
	cn := c.Subject.CommonName
	if !strings.HasPrefix(cn, "regtrace CA (") || !strings.Contains(cn, "@") || !strings.HasSuffix(cn, ", 2026-11-25)") {
		t.Errorf("CommonName = %q, want regtrace CA (user@host, 2026-11-25)", cn)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("self-signature: %v", err)
	}
	if ca.CertFile() != "" {
		t.Errorf("CertFile() = %q for an ephemeral CA, want \"\"", ca.CertFile())
	}
	if !bytes.Contains(ca.CertPEM(), []byte("BEGIN CERTIFICATE")) {
		t.Errorf("CertPEM() = %q", ca.CertPEM())
	}
}

func TestOptions(t *testing.T) {
	const year = 365 * 24 * time.Hour
	tests := []struct {
		name         string
		opts         Options
		wantCN       string
		wantValidity time.Duration
		wantErr      bool
	}{
		{name: "zero validity is two years", wantValidity: 2 * year},
		{name: "one year", opts: Options{Validity: year}, wantValidity: year},
		{name: "five years is clamped", opts: Options{Validity: 5 * year}, wantValidity: 2 * year},
		{name: "negative validity", opts: Options{Validity: -time.Hour}, wantErr: true},
		{name: "negative cache size", opts: Options{CacheSize: -1}, wantErr: true},
		{name: "name", opts: Options{Name: "my CA"}, wantCN: "my CA", wantValidity: 2 * year},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Now = newClock().Now
			ca, err := New(tt.opts)
			if tt.wantErr {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ca.Certificate().NotAfter.Sub(start); got != tt.wantValidity {
				t.Errorf("validity = %v, want %v", got, tt.wantValidity)
			}
			if cn := ca.Certificate().Subject.CommonName; tt.wantCN != "" && cn != tt.wantCN {
				t.Errorf("CommonName = %q, want %q", cn, tt.wantCN)
			}
		})
	}
}

func TestLoadOrCreateCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config", "regtrace")
	ca, created, err := LoadOrCreate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a new directory")
	}
	certPath, keyPath := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {keyPath, 0o600}, {certPath, 0o644}} {
		if got := mode(t, tt.path); got != tt.want {
			t.Errorf("mode of %s = %04o, want %04o", tt.path, got, tt.want)
		}
	}
	if got := names(snapshot(t, dir)); !reflect.DeepEqual(got, []string{CertFileName, KeyFileName}) {
		t.Errorf("files in the CA directory = %q, want only ca.crt and ca.key", got)
	}
	if ca.CertFile() != certPath {
		t.Errorf("CertFile() = %q, want %q", ca.CertFile(), certPath)
	}
	onDisk, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, ca.CertPEM()) {
		t.Error("ca.crt differs from CertPEM()")
	}
	key, err := readKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(ca.Certificate().PublicKey) {
		t.Error("ca.key is not the key of ca.crt")
	}
}

func TestLoadOrCreateReusesTheCA(t *testing.T) {
	dir := t.TempDir()
	first, _, err := LoadOrCreate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	second, created, err := LoadOrCreate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true on the second call")
	}
	if a, b := first.Certificate().SerialNumber, second.Certificate().SerialNumber; a.Cmp(b) != 0 {
		t.Errorf("serial %v, then %v: the CA was not reused", a, b)
	}
	if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
		t.Error("the second LoadOrCreate changed the files")
	}
	// A leaf from the reloaded CA is trusted by the first one's pool.
	leaf, err := second.Leaf("registry.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: first.Pool(), DNSName: "registry.test"}); err != nil {
		t.Error(err)
	}
}

func TestLoadOrCreateNeverReplaces(t *testing.T) {
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKeyDER, err := x509.MarshalPKCS8PrivateKey(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, cert, key string)
		wantFile string // CertFileName or KeyFileName
		wantErr  error  // a sentinel, or nil for any
		wantText string
	}{
		{
			name:     "corrupt certificate",
			setup:    func(t *testing.T, cert, key string) { writeFile(t, cert, []byte("not a certificate"), 0o644) },
			wantFile: CertFileName,
			wantText: "no PEM CERTIFICATE block",
		},
		{
			name: "certificate with bad DER",
			setup: func(t *testing.T, cert, key string) {
				writeFile(t, cert, pemBlock("CERTIFICATE", []byte("garbage")), 0o644)
			},
			wantFile: CertFileName,
			wantText: "parsing certificate",
		},
		{
			name:     "corrupt key",
			setup:    func(t *testing.T, cert, key string) { writeFile(t, key, []byte("garbage"), 0o600) },
			wantFile: KeyFileName,
			wantText: "no PEM private key block",
		},
		{
			name:     "key of another CA",
			setup:    func(t *testing.T, cert, key string) { writeFile(t, key, pemBlock("PRIVATE KEY", otherKeyDER), 0o600) },
			wantFile: KeyFileName,
			wantErr:  ErrKeyMismatch,
		},
		{
			name: "certificate is not a CA",
			setup: func(t *testing.T, cert, key string) {
				writeFile(t, cert, selfSigned(t, otherKey, false), 0o644)
				writeFile(t, key, pemBlock("PRIVATE KEY", otherKeyDER), 0o600)
			},
			wantFile: CertFileName,
			wantErr:  ErrNotCA,
		},
		{
			name:     "only the certificate",
			setup:    func(t *testing.T, cert, key string) { os.Remove(key) },
			wantFile: KeyFileName,
			wantErr:  ErrPartialCA,
		},
		{
			name:     "only the key",
			setup:    func(t *testing.T, cert, key string) { os.Remove(cert) },
			wantFile: CertFileName,
			wantErr:  ErrPartialCA,
		},
		{
			name:     "key readable by others",
			setup:    func(t *testing.T, cert, key string) { os.Chmod(key, 0o644) },
			wantFile: KeyFileName,
			wantErr:  ErrInsecureKey,
			wantText: "mode 0644",
		},
		{
			name:     "key readable by the group",
			setup:    func(t *testing.T, cert, key string) { os.Chmod(key, 0o640) },
			wantFile: KeyFileName,
			wantErr:  ErrInsecureKey,
			wantText: "mode 0640",
		},
		{
			name: "certificate is a directory",
			setup: func(t *testing.T, cert, key string) {
				os.Remove(cert)
				os.Mkdir(cert, 0o755)
			},
			wantFile: CertFileName,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreate(dir, Options{}); err != nil {
				t.Fatal(err)
			}
			cert, key := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
			tt.setup(t, cert, key)
			before := snapshotLenient(t, dir)

			ca, created, err := LoadOrCreate(dir, Options{})
			if err == nil {
				t.Fatalf("LoadOrCreate = %v, created %v, want an error", ca, created)
			}
			path := filepath.Join(dir, tt.wantFile)
			if fe, ok := errors.AsType[*FileError](err); !ok || fe.Path != path {
				t.Errorf("error %q: want a *FileError for %s", err, path)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
			if errors.Is(err, ErrInsecureKey) && !strings.Contains(err.Error(), "chmod 600 "+key) {
				t.Errorf("error %q does not give the chmod to run", err)
			}
			if after := snapshotLenient(t, dir); !reflect.DeepEqual(before, after) {
				t.Errorf("files changed: before %q, after %q", names(before), names(after))
			}
		})
	}
}

// snapshotLenient is snapshot that records directories instead of reading them.
func snapshotLenient(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, e := range entries {
		if e.IsDir() {
			m[e.Name()] = "<dir>"
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(data)
	}
	return m
}

func TestLoadFiles(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSEC1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS1 := pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))

	tests := []struct {
		name     string
		cert     []byte
		key      []byte
		keyMode  os.FileMode
		wantErr  error
		wantFile string // "cert" or "key" when an error is wanted
		wantText string
	}{
		{name: "RSA CA with a PKCS#1 key", cert: selfSigned(t, rsaKey, true), key: rsaPKCS1, keyMode: 0o600},
		{name: "ECDSA CA with a SEC1 key", cert: selfSigned(t, ecKey, true), key: pemBlock("EC PRIVATE KEY", ecSEC1), keyMode: 0o400},
		{name: "ECDSA CA with a PKCS#8 key", cert: selfSigned(t, ecKey, true), key: pemBlock("PRIVATE KEY", ecPKCS8), keyMode: 0o600},
		{name: "mismatched key", cert: selfSigned(t, ecKey, true), key: rsaPKCS1, keyMode: 0o600,
			wantErr: ErrKeyMismatch, wantFile: "key"},
		{name: "not a CA", cert: selfSigned(t, rsaKey, false), key: rsaPKCS1, keyMode: 0o600,
			wantErr: ErrNotCA, wantFile: "cert"},
		{name: "world-readable key", cert: selfSigned(t, rsaKey, true), key: rsaPKCS1, keyMode: 0o644,
			wantErr: ErrInsecureKey, wantFile: "key", wantText: "chmod 600"},
		{name: "encrypted key", cert: selfSigned(t, rsaKey, true), key: pemBlock("ENCRYPTED PRIVATE KEY", []byte("x")), keyMode: 0o600,
			wantFile: "key", wantText: "encrypted"},
		{name: "no key block", cert: selfSigned(t, rsaKey, true), key: selfSigned(t, rsaKey, true), keyMode: 0o600,
			wantFile: "key", wantText: "no PEM private key block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certPath, keyPath := filepath.Join(dir, "company.pem"), filepath.Join(dir, "company-key.pem")
			writeFile(t, certPath, tt.cert, 0o644)
			writeFile(t, keyPath, tt.key, tt.keyMode)

			ca, err := LoadFiles(certPath, keyPath, Options{Now: newClock().Now})
			if tt.wantFile != "" {
				if err == nil {
					t.Fatal("LoadFiles succeeded, want an error")
				}
				path := map[string]string{"cert": certPath, "key": keyPath}[tt.wantFile]
				if fe, ok := errors.AsType[*FileError](err); !ok || fe.Path != path {
					t.Errorf("error %q: want a *FileError for %s", err, path)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %q is not %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %q does not say %q", err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ca.CertFile() != certPath {
				t.Errorf("CertFile() = %q, want %q", ca.CertFile(), certPath)
			}
			leaf, err := ca.Leaf("registry.test")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := leaf.Leaf.Verify(x509.VerifyOptions{
				Roots: ca.Pool(), DNSName: "registry.test", CurrentTime: start,
			}); err != nil {
				t.Error(err)
			}
			if _, ok := leaf.PrivateKey.(*ecdsa.PrivateKey); !ok {
				t.Errorf("leaf key = %T, want ECDSA whatever the CA's key", leaf.PrivateKey)
			}
		})
	}
}

func TestExpiryWarning(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name     string
		validity time.Duration
		advance  time.Duration
		want     []string // "" means no warning
	}{
		{name: "fresh", validity: 0, want: nil},
		{name: "31 days left", validity: 31 * day, want: nil},
		{name: "10 days left", validity: 10 * day, want: []string{"expires on 2026-12-05", "in 10 days", "generate a new CA"}},
		{name: "hours left", validity: 5 * time.Hour, want: []string{"expires on 2026-11-25", "in less than a day"}},
		{name: "expired", validity: day, advance: 2 * day, want: []string{"expired on 2026-11-26", "generate a new CA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			dir := t.TempDir()
			ca, _, err := LoadOrCreate(dir, Options{Validity: tt.validity, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(tt.advance)
			got := ca.ExpiryWarning()
			if tt.want == nil {
				if got != "" {
					t.Errorf("ExpiryWarning() = %q, want \"\"", got)
				}
				return
			}
			for _, w := range append(tt.want, filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)) {
				if !strings.Contains(got, w) {
					t.Errorf("ExpiryWarning() = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
