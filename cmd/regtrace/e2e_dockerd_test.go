package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerDaemon is a dockerd started for a test, in the sandbox, with its
// own data root and socket, no networking of its own, vfs storage, the
// proxy in its environment and the regtrace CA in its certs.d. It logs at
// debug level (the log a ticket carries: issue 13), into logs.
type dockerDaemon struct {
	sock string
	logs *lockedBuffer
}

func startDockerd(t *testing.T, w *clientWorld) *dockerDaemon {
	t.Helper()
	return startDockerdWithCerts(t, w, []string{w.reg, w.front, w.hub, w.basic, w.basicFront, w.deadRealm, w.gate, "registry.invalid"})
}

// startDockerdWithCerts starts dockerd trusting w.rec's CA for hosts (none:
// trust is left to the test).
func startDockerdWithCerts(t *testing.T, w *clientWorld, hosts []string) *dockerDaemon {
	t.Helper()
	bin := need(t, "dockerd")
	need(t, "docker")
	// Sockets live under exec-root: keep it short.
	execRoot, err := os.MkdirTemp("", "rtd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(execRoot) })
	data := t.TempDir()
	d := &dockerDaemon{sock: filepath.Join(execRoot, "docker.sock"), logs: &lockedBuffer{}}
	// The trust dockerd reads on every pull: /etc/docker/certs.d/<host:port>/ca.crt.
	for _, h := range hosts {
		ca, err := os.ReadFile(w.rec.CACert)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(w.sb.etc("docker"), "certs.d", h)
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"HTTPS_PROXY=" + w.rec.URL, "HTTP_PROXY=" + w.rec.URL, "https_proxy=" + w.rec.URL, "http_proxy=" + w.rec.URL,
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := w.sb.command(ctx, env, bin,
		"--data-root", data, "--exec-root", execRoot, "--pidfile", filepath.Join(execRoot, "docker.pid"),
		"-H", "unix://"+d.sock, "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--storage-driver=vfs", "--debug")
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	// SIGTERM is dockerd's clean shutdown; the sandbox kills the group on
	// timeout.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a managed containerd left behind
		if t.Failed() {
			t.Logf("dockerd log:\n%s", d.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := d.cli(t, w, "", "", "version", "--format", "{{.Server.Version}}")
		if err == nil {
			t.Logf("dockerd %s", strings.TrimSpace(out))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not come up: %v\n%s\n%s", err, out, d.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return d
}

// cli runs the docker CLI against the daemon, with creds for host in its
// config (the CLI hands them to the daemon in X-Registry-Auth).
func (d *dockerDaemon) cli(t *testing.T, w *clientWorld, host, creds string, args ...string) (string, error) {
	t.Helper()
	env := w.env(t, host, creds, "DOCKER_HOST=unix://"+d.sock)
	return w.run(t, env, append([]string{need(t, "docker")}, args...)...)
}

// logged runs the docker CLI as cli does and returns what dockerd logged
// while it ran, then the CLI's own output (which ends with its final
// error): the log of one docker command, as a ticket would carry it.
func (d *dockerDaemon) logged(t *testing.T, w *clientWorld, host, creds string, args ...string) (string, error) {
	t.Helper()
	mark := len(d.logs.String())
	out, err := d.cli(t, w, host, creds, args...)
	// dockerd logs the API call's end after it answered: let it land.
	time.Sleep(100 * time.Millisecond)
	return d.logs.String()[mark:] + out, err
}
