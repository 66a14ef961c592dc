package certs

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// maxFileSize bounds what is read from a certificate or key file: a CA
// certificate or key is a few KiB, a chain a few tens.
const maxFileSize = 1 << 20

// LoadOrCreate loads the CA in dir (ca.crt and ca.key), or creates it when
// neither file exists; created says which. dir is made with mode 0700 when
// missing. The key is written 0600 and the certificate 0644.
//
// An existing CA is never replaced: when only one of the files exists, or
// either is unreadable, corrupt, not a CA or not a pair, the error (a
// *FileError) names the file and what is wrong, and the user decides.
func LoadOrCreate(dir string, opts Options) (ca *CA, created bool, err error) {
	if dir == "" {
		return nil, false, errors.New("certs: empty CA directory")
	}
	o, err := opts.resolve()
	if err != nil {
		return nil, false, err
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	certPath := filepath.Join(dir, CertFileName)
	keyPath := filepath.Join(dir, KeyFileName)

	certExists, err := exists(certPath)
	if err != nil {
		return nil, false, err
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, false, err
	}
	switch {
	case certExists && keyExists:
		ca, err := load(certPath, keyPath, o)
		if err != nil {
			return nil, false, err
		}
		ca.fromDir = true
		return ca, false, nil
	case certExists:
		return nil, false, partial(keyPath, certPath)
	case keyExists:
		return nil, false, partial(certPath, keyPath)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fileError(dir, err)
	}
	cert, key, err := generate(o)
	if err != nil {
		return nil, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("certs: encoding CA key: %w", err)
	}
	// The key first: if we die between the two, the user is left with a key
	// and no certificate, which reveals nothing and is reported next time.
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return nil, false, err
	}
	ca = newCA(cert, key, o)
	if err := writeNew(certPath, ca.certPEM, 0o644); err != nil {
		return nil, false, err
	}
	syncDir(dir)
	ca.certFile, ca.keyFile, ca.fromDir = certPath, keyPath, true
	return ca, true, nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fileError(path, err)
	}
}

func partial(missing, present string) error {
	return &FileError{Path: missing, Err: fmt.Errorf(
		"%w (%s); refusing to generate a new CA beside it: restore the missing file, or remove %s to have a new CA generated",
		ErrPartialCA, present, present)}
}

// LoadFiles loads an existing CA, for example a company's, from a PEM
// certificate and a PEM private key (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1
// "RSA PRIVATE KEY"). The certificate must be a CA and the key its own; a key
// file readable by group or others is refused.
func LoadFiles(certFile, keyFile string, opts Options) (*CA, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(certFile); err == nil {
		certFile = abs
	}
	if abs, err := filepath.Abs(keyFile); err == nil {
		keyFile = abs
	}
	return load(certFile, keyFile, o)
}

func load(certPath, keyPath string, o options) (*CA, error) {
	cert, err := readCert(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, &FileError{Path: keyPath, Err: fmt.Errorf("%w %s", ErrKeyMismatch, certPath)}
	}
	ca := newCA(cert, key, o)
	ca.certFile, ca.keyFile = certPath, keyPath
	return ca, nil
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	block := findPEM(data, "CERTIFICATE")
	if block == nil {
		return nil, &FileError{Path: path, Err: errors.New("no PEM CERTIFICATE block")}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("parsing certificate: %w", err)}
	}
	// x509.ParseCertificate sets KeyUsage to zero when the extension is absent.
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: basic constraints do not say CA:TRUE", ErrNotCA)}
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: key usage lacks certificate signing", ErrNotCA)}
	}
	return cert, nil
}

func readKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileError(path, err)
	}
	// File modes mean nothing on Windows, whose ACLs are not checked here.
	if mode := fi.Mode().Perm(); runtime.GOOS != "windows" && mode&0o077 != 0 {
		return nil, &FileError{Path: path, Err: fmt.Errorf("mode %04o: %w; run: chmod 600 %s",
			mode, ErrInsecureKey, shellQuote(path))}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize))
	if err != nil {
		return nil, fileError(path, err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return key, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize))
	if err != nil {
		return nil, fileError(path, err)
	}
	return data, nil
}

// findPEM returns the first block of the given type in data, or nil.
func findPEM(data []byte, typ string) *pem.Block {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		if block.Type == typ {
			return block
		}
	}
}

func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
		}
		if _, ok := block.Headers["Proc-Type"]; ok || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted private keys are not supported; decrypt it (openssl pkey) into a file only you can read")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		// ECDSA, RSA and Ed25519 keys sign; X25519 (ecdh) keys do not.
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// writeNew writes data to path, which must not exist, with the given mode.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	return installNoClobber(tmp, path)
}

// writeTemp writes data to a new temporary file beside path and returns its
// name. os.CreateTemp opens it with O_EXCL and mode 0600, so no other user
// can ever read a partial key; the mode is set before anything is visible
// under path.
func writeTemp(path string, data []byte, mode fs.FileMode) (name string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fileError(path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return "", fileError(path, err)
	}
	if err := f.Chmod(mode); err != nil {
		return "", fileError(path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fileError(path, err)
	}
	if err := f.Close(); err != nil {
		return "", fileError(path, err)
	}
	return f.Name(), nil
}

// installNoClobber moves tmp to dst unless dst exists (another regtrace
// created the CA at the same moment): a hard link fails on an existing
// name where a rename would replace it.
func installNoClobber(tmp, dst string) error {
	err := os.Link(tmp, dst)
	switch {
	case err == nil:
		os.Remove(tmp)
		return nil
	case errors.Is(err, fs.ErrExist):
		os.Remove(tmp)
		return &FileError{Path: dst, Err: errors.New("created by someone else meanwhile; run again to load it")}
	}
	// Some file systems have no hard links: rename, after a last check.
	if _, serr := os.Lstat(dst); serr == nil {
		os.Remove(tmp)
		return &FileError{Path: dst, Err: errors.New("created by someone else meanwhile; run again to load it")}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fileError(dst, err)
	}
	return nil
}

// syncDir makes the new directory entries durable; failure is harmless.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
