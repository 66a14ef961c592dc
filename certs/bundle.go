package certs

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
)

// systemBundles are the system root bundles of the Linux distributions, in
// the order Go's crypto/x509 tries them (root_linux.go). SSL_CERT_FILE is
// deliberately not among them: it may point at a bundle of ours.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine
}

// Bundle returns, in PEM, the system roots followed by this CA: the file to
// point SSL_CERT_FILE at. SSL_CERT_FILE replaces a Go program's roots, so the
// bare CA would break every TLS connection that does not go through
// regtrace. Without a system bundle, the result is this CA alone.
func Bundle(ca *CA) ([]byte, error) {
	return bundleFrom(systemBundles, ca)
}

// bundleFrom builds the bundle from the first of files that exists,
// leaving out copies of this CA.
func bundleFrom(files []string, ca *CA) ([]byte, error) {
	var buf bytes.Buffer
	for _, path := range files {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fileError(path, err)
		}
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" || bytes.Equal(block.Bytes, ca.cert.Raw) {
				continue
			}
			pem.Encode(&buf, &pem.Block{Type: block.Type, Bytes: block.Bytes})
		}
		break
	}
	buf.Write(ca.certPEM)
	return buf.Bytes(), nil
}

// WriteBundle writes Bundle(ca) to path, mode 0644, atomically: readers see
// the old file or the new one, never a part.
func WriteBundle(path string, ca *CA) error {
	data, err := Bundle(ca)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, 0o644)
}

// writeAtomic replaces path with data through a temporary file in the same
// directory and a rename.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := writeTemp(path, data, mode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fileError(path, err)
	}
	return nil
}
