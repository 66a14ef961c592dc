package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proxyProc is a proxy under test running as its own process, so that its
// memory and CPU are its own.
type proxyProc struct {
	name   string
	cmd    *exec.Cmd
	url    *url.URL
	roots  *x509.CertPool // trust for the proxy's leaves
	stderr *bytes.Buffer
	exited chan struct{}
	// drained is closed when all of stderr is in the buffer.
	drained chan struct{}
}

// stderrText is what the proxy wrote to stderr; call it after stop.
func (p *proxyProc) stderrText() string {
	if p.drained != nil {
		<-p.drained
	}
	return p.stderr.String()
}

// buildRegtrace builds ./cmd/regtrace of the module this program is run from.
func buildRegtrace(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: %w (or give --regtrace BIN)", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the regtrace module: give --regtrace BIN")
	}
	bin := filepath.Join(dir, "regtrace")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/regtrace")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/regtrace: %w\n%s", err, out)
	}
	return bin, nil
}

var listeningRE = regexp.MustCompile(`proxy listening on (http://\S+)`)

// startRegtrace runs `regtrace proxy` on a free loopback port with a fresh
// CA in dir, resolving originName to the origin and trusting its CA.
func startRegtrace(ctx context.Context, bin, dir string, o *origin, extra ...string) (*proxyProc, error) {
	caDir := filepath.Join(dir, "ca")
	originCA := filepath.Join(dir, "origin-ca.crt")
	if err := o.writeCA(originCA); err != nil {
		return nil, err
	}
	args := append([]string{"proxy", "--listen", "127.0.0.1:0", "--ca-dir", caDir,
		"--resolve", originName + "=127.0.0.1", "--upstream-ca", originCA, "--no-color"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout = nil // the live trace goes to /dev/null
	pr, pw := io.Pipe()
	p := &proxyProc{name: "regtrace", cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{}), drained: make(chan struct{})}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); pw.Close(); close(p.exited) }()
	found := make(chan string, 1)
	go func() {
		defer close(p.drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.WriteString(line + "\n")
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	var addr string
	select {
	case a, ok := <-found:
		if !ok {
			return nil, fmt.Errorf("regtrace proxy exited: %s", p.stderr)
		}
		addr = a
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("regtrace proxy did not say where it listens within 30s")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	u, err := url.Parse(addr)
	if err != nil {
		p.stop()
		return nil, err
	}
	p.url = u
	pem, err := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		p.stop()
		return nil, err
	}
	p.roots = x509.NewCertPool()
	p.roots.AppendCertsFromPEM(pem)
	return p, nil
}

// startMitmdump runs mitmdump with streaming on, verifying the origin with
// its CA. Its confdir is fresh, so it makes its own CA there.
func startMitmdump(ctx context.Context, bin, dir string, o *origin) (*proxyProc, error) {
	originCA := filepath.Join(dir, "origin-ca.crt")
	if err := o.writeCA(originCA); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	confdir := filepath.Join(dir, "mitmproxy")
	cmd := exec.Command(bin, "--listen-host", "127.0.0.1", "-p", strconv.Itoa(port), "-q",
		"--set", "confdir="+confdir,
		"--set", "stream_large_bodies=1m",
		"--set", "ssl_verify_upstream_trusted_ca="+originCA)
	p := &proxyProc{name: "mitmdump", cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.exited) }()
	p.url = &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.url.Host, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("mitmdump exited: %s", p.stderr)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("mitmdump did not listen within 60s")
		}
	}
	pem, err := os.ReadFile(filepath.Join(confdir, "mitmproxy-ca-cert.pem"))
	if err != nil {
		p.stop()
		return nil, err
	}
	p.roots = x509.NewCertPool()
	p.roots.AppendCertsFromPEM(pem)
	return p, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// peakRSS is the process's high-water resident set (VmHWM) in bytes.
func (p *proxyProc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// cpu is the process's user+system CPU time so far.
func (p *proxyProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces: count from its ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// stop interrupts the proxy (regtrace then closes its HAR) and waits.
func (p *proxyProc) stop() {
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func numCPU() int { return runtime.NumCPU() }

// ioCounts is the process's read and write syscalls so far (/proc/PID/io),
// which says how many records the proxy gathers per syscall.
func (p *proxyProc) ioCounts() (reads, writes int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.cmd.Process.Pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// selfCPU is this process's CPU time: the client and the origin.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
