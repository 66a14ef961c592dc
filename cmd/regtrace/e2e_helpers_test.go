package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// need returns the path of a program the test needs. Under REGTRACE_E2E=1
// (set by make test) a missing program fails the test instead of skipping it.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} { // not on every PATH
		if fi, err := os.Stat(filepath.Join(dir, prog)); err == nil && fi.Mode()&0o111 != 0 {
			return filepath.Join(dir, prog)
		}
	}
	if os.Getenv("REGTRACE_E2E") == "1" {
		t.Fatalf("%s is not installed (make test installs it)", prog)
	}
	t.Skipf("%s is not installed; run make test", prog)
	return ""
}

// pemFiles is a throwaway CA that signs a server certificate, written as files
// for programs that take paths.
type pemFiles struct {
	CA, Cert, Key string
}

func writeServerCert(t *testing.T, dir string, names ...string) pemFiles {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e upstream CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	f := pemFiles{CA: filepath.Join(dir, "upstream-ca.crt"), Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key")}
	write := func(path, typ string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(f.CA, "CERTIFICATE", caDER, 0o644)
	write(f.Cert, "CERTIFICATE", der, 0o644)
	write(f.Key, "PRIVATE KEY", keyDER, 0o600)
	return f
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// registry is a distribution registry (Debian's docker-registry) on loopback
// with TLS, started for one test.
type registry struct {
	Port  int
	Certs pemFiles
	// Data is the filesystem storage root (blobs live under docker/registry/v2).
	Data string
}

// testNames are the names test servers answer to; only the proxy resolves
// them (--resolve), as behind a real proxy.
var testNames = []string{"registry.test", "auth.test", "cdn.test", "front.test", "registry-1.docker.io", "auth.docker.io", "127.0.0.1"}

// testPKI is one throwaway CA and one server certificate for every test name.
func testPKI(t *testing.T) pemFiles {
	return writeServerCert(t, t.TempDir(), testNames...)
}

func tlsKeyPair(p pemFiles) (*tls.Config, error) {
	c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{c}}, nil
}

// startRegistry starts distribution with extraConfig; env, when given, is
// added to its environment (a pull-through cache reaching its upstream
// through the proxy).
func startRegistry(t *testing.T, certs pemFiles, extraConfig string, env ...string) *registry {
	t.Helper()
	bin := need(t, "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
  tls:
    certificate: %s
    key: %s
%s`, filepath.Join(dir, "data"), port, certs.Cert, certs.Key, extraConfig)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfgPath)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(certs.CA)
	pool.AppendCertsFromPEM(caPEM)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
			&tls.Config{RootCAs: pool, ServerName: "registry.test"})
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not come up on port %d: %v\n%s", port, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &registry{Port: port, Certs: certs, Data: filepath.Join(dir, "data")}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls s for a match of re until timeout.
func waitFor(t *testing.T, what string, s interface{ String() string }, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runningProxy is `regtrace proxy` run in-process by a test.
type runningProxy struct {
	URL            string
	Stdout, Stderr *lockedBuffer
	stop           context.CancelFunc
	done           chan int
}

func startProxy(t *testing.T, args ...string) *runningProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningProxy{Stdout: &lockedBuffer{}, Stderr: &lockedBuffer{}, stop: cancel, done: make(chan int, 1)}
	argv := append([]string{"regtrace", "proxy", "--listen", "127.0.0.1:0"}, args...)
	go func() { rp.done <- run(ctx, argv, rp.Stdout, rp.Stderr) }()
	m := waitFor(t, "the proxy to listen", rp.Stderr, regexp.MustCompile(`proxy listening on (http://\S+)`), 20*time.Second)
	rp.URL = m[1]
	t.Cleanup(func() { rp.Stop(t) })
	return rp
}

// Stop interrupts the proxy like Ctrl-C and returns its exit code.
func (rp *runningProxy) Stop(t *testing.T) int {
	rp.stop()
	select {
	case code := <-rp.done:
		rp.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("proxy did not stop after interrupt")
		return -1
	}
}

// ociImage writes a one-layer OCI image layout to dir, tagged tag, and returns
// its manifest digest.
func ociImage(t *testing.T, dir, tag, content string) string {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
	io.WriteString(tw, content)
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		s := sha256.Sum256(b)
		h := hex.EncodeToString(s[:])
		if err := os.WriteFile(filepath.Join(blobs, h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h
	}
	diffID := sha256.Sum256(tarBuf.Bytes())
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	layer := gz.Bytes()
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(layer), "size": len(layer)}},
	})
	md := put(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(manifest),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": tag},
		}},
	})
	os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return md
}

// clientEnv is the environment for a client run through the proxy: proxy
// variables, the trust bundle, and a private HOME so no user config leaks in.
func clientEnv(t *testing.T, proxyURL, bundle string) []string {
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_RUNTIME_DIR=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"HTTPS_PROXY=" + proxyURL, "https_proxy=" + proxyURL,
		"HTTP_PROXY=" + proxyURL, "http_proxy=" + proxyURL,
		"SSL_CERT_FILE=" + bundle,
	}
	return env
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

type plainOrigin struct{ addr, port string }

// newPlainOrigin is a plain-HTTP registry stand-in answering /v2/ with 200.
func newPlainOrigin(t *testing.T) plainOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	return plainOrigin{addr: host, port: port}
}

// startNginx runs nginx (Debian's) in the foreground with the http{} block
// given; {{PREFIX}} in it is replaced by a private temp dir. Returns the dir.
func startNginx(t *testing.T, httpBlock string) string {
	t.Helper()
	bin := need(t, "nginx")
	prefix := t.TempDir()
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		os.MkdirAll(filepath.Join(prefix, d), 0o777)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;\n"
	}
	conf := user + `worker_processes 1;
daemon off;
pid {{PREFIX}}/nginx.pid;
error_log {{PREFIX}}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path {{PREFIX}}/body;
  proxy_temp_path {{PREFIX}}/proxy;
  fastcgi_temp_path {{PREFIX}}/fastcgi;
  uwsgi_temp_path {{PREFIX}}/uwsgi;
  scgi_temp_path {{PREFIX}}/scgi;
` + httpBlock + "\n}\n"
	conf = strings.ReplaceAll(conf, "{{PREFIX}}", prefix)
	path := filepath.Join(prefix, "nginx.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	// Logs go to files, not pipes: a worker outliving its master would hold
	// a pipe open and hang Wait.
	logFile, err := os.Create(filepath.Join(prefix, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "-p", prefix, "-c", path)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM is nginx's fast shutdown; the group kill catches a worker
		// left behind.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	logs := logFile
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(prefix, "nginx.pid")); err == nil {
			return prefix
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			out, _ := os.ReadFile(logs.Name())
			t.Fatalf("nginx did not start: %s\n%s", out, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedImages pushes a one-layer image as repo:1.0 for each repo, with skopeo
// through its own recorder so the test's traced session stays clean.
func seedImages(t *testing.T, pki pemFiles, host, creds string, repos ...string) {
	t.Helper()
	skopeo := need(t, "skopeo")
	rec := startRecorder(t, pki, map[string]string{"registry.test": "127.0.0.1", "auth.test": "127.0.0.1"})
	layout := t.TempDir()
	ociImage(t, layout, "1.0", "seeded\n")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	for _, repo := range repos {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cp := exec.CommandContext(ctx, skopeo, "--policy", policy, "copy", "--dest-creds", creds, "oci:"+layout+":1.0", "docker://"+host+"/"+repo+":1.0")
		cp.Env = clientEnv(t, rec.URL, rec.Bundle)
		out, err := cp.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("seeding %s: %v\n%s", repo, err, out)
		}
	}
}

// caBundle is the path of the trust bundle (`regtrace ca bundle`) of the
// CA in caDir.
func caBundle(t *testing.T, caDir string) string {
	t.Helper()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"regtrace", "ca", "bundle", "--ca-dir", caDir}, &out, &errb); code != 0 {
		t.Fatalf("ca bundle exited %d: %s", code, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// proxyPassword is a test proxy user's password; "PLANTED" so that tests
// can look for it where it must never be.
func proxyPassword(user string) string { return user + "-PLANTED-proxy-pw" }

// htpasswdFile writes an htpasswd file (bcrypt, the cheapest cost) of
// users, each with proxyPassword, and returns its path.
func htpasswdFile(t *testing.T, users ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# the test's proxy users\n")
	for _, u := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(proxyPassword(u)), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, hash)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// as is the proxy's URL with user's credentials in it, as a client of a
// shared proxy sets HTTPS_PROXY.
func (rp *runningProxy) as(user string) string {
	return strings.Replace(rp.URL, "http://", "http://"+user+":"+proxyPassword(user)+"@", 1)
}

// harProxyUsers reads a HAR and returns the proxy user of each entry.
func harProxyUsers(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Log struct {
			Entries []struct {
				Ext struct {
					ProxyUser string `json:"proxyUser"`
				} `json:"_regtrace"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	users := make([]string, len(doc.Log.Entries))
	for i, e := range doc.Log.Entries {
		users[i] = e.Ext.ProxyUser
	}
	return users
}
