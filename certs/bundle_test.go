package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// certsIn returns the DER of each certificate in a PEM bundle.
func certsIn(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var ders [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			t.Errorf("bundle holds a %s block", block.Type)
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("bundle holds a bad certificate: %v", err)
		}
		ders = append(ders, block.Bytes)
	}
	return ders
}

func TestBundle(t *testing.T) {
	ca := mustNew(t, Options{})
	root1, root2 := mustNew(t, Options{}).Certificate().Raw, mustNew(t, Options{}).Certificate().Raw
	dir := t.TempDir()

	// A system bundle as distributions write it: comments, and here a copy
	// of our CA from an earlier `update-ca-certificates` and a key block.
	system := filepath.Join(dir, "ca-certificates.crt")
	var sys bytes.Buffer
	sys.WriteString("# Mozilla roots\n")
	sys.Write(pemBlock("CERTIFICATE", root1))
	sys.WriteString("\n# regtrace\n")
	sys.Write(ca.CertPEM())
	sys.Write(pemBlock("PRIVATE KEY", []byte("not ours to copy")))
	sys.Write(pemBlock("CERTIFICATE", root2))
	writeFile(t, system, sys.Bytes(), 0o644)

	// Only the first existing file counts.
	later := filepath.Join(dir, "later.pem")
	writeFile(t, later, pemBlock("CERTIFICATE", mustNew(t, Options{}).Certificate().Raw), 0o644)
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name  string
		files []string
		want  [][]byte
	}{
		{name: "system roots, then ours once", files: []string{missing, system, later}, want: [][]byte{root1, root2, ca.Certificate().Raw}},
		{name: "no system bundle", files: []string{missing}, want: [][]byte{ca.Certificate().Raw}},
		{name: "no candidates", files: nil, want: [][]byte{ca.Certificate().Raw}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := bundleFrom(tt.files, ca)
			if err != nil {
				t.Fatal(err)
			}
			if got := certsIn(t, data); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("bundle holds %d certificates, want %d in order", len(got), len(tt.want))
			}
		})
	}

	t.Run("unreadable system bundle", func(t *testing.T) {
		if _, err := bundleFrom([]string{dir}, ca); err == nil {
			t.Error("bundleFrom(a directory) succeeded, want an error")
		}
	})
}

func TestWriteBundle(t *testing.T) {
	ca := mustNew(t, Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "bundle.pem")
	writeFile(t, path, []byte("old"), 0o600)

	if err := WriteBundle(path, ca); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Bundle(ca)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the file differs from Bundle()")
	}
	if ders := certsIn(t, got); len(ders) == 0 || !bytes.Equal(ders[len(ders)-1], ca.Certificate().Raw) {
		t.Error("the bundle does not end with the CA")
	}
	if m := mode(t, path); m != 0o644 {
		t.Errorf("mode = %04o, want 0644", m)
	}
	if files := names(snapshot(t, dir)); !reflect.DeepEqual(files, []string{"bundle.pem"}) {
		t.Errorf("files = %q, want only bundle.pem", files)
	}
	if err := WriteBundle(filepath.Join(dir, "missing", "bundle.pem"), ca); err == nil {
		t.Error("WriteBundle into a missing directory succeeded")
	}
}
