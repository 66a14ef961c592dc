package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sandbox runs clients as a real proxy user would see the world: in a
// private mount namespace whose /etc/hosts lacks the test names and whose
// resolv.conf points at 127.0.0.1, so a client cannot resolve a test name
// (only the proxy can, via --resolve) and no DNS query leaves the machine.
// When a client can resolve a registry to loopback, dockerd treats it as
// insecure and oras refuses its realm; behind a real proxy neither happens.
// /etc/docker, /etc/containers, /etc/containerd and /etc/systemd are private
// directories too, so trust set up by a test (certs.d, hosts.toml) never
// touches the host.
type sandbox struct {
	unshare string
	dir     string
}

// sandboxedDirs are the /etc directories replaced by private ones.
var sandboxedDirs = []string{"docker", "containers", "containerd", "systemd"}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	sb := &sandbox{unshare: need(t, "unshare"), dir: t.TempDir()}
	write := func(name, content string) {
		p := filepath.Join(sb.dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts", "127.0.0.1 localhost\n::1 localhost\n")
	write("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
	for _, d := range sandboxedDirs {
		os.MkdirAll(sb.etc(d), 0o755)
	}
	write("etc/containers/policy.json", `{"default":[{"type":"insecureAcceptAnything"}]}`)
	write("etc/containers/registries.conf", "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n")
	// Probe once: without CAP_SYS_ADMIN there is no sandbox, and the
	// suite's guarantees would not hold.
	if out, err := sb.command(context.Background(), nil, "true").CombinedOutput(); err != nil {
		t.Fatalf("cannot make a private mount namespace (unshare -m): %v\n%s", err, out)
	}
	return sb
}

// etc is the private directory mounted on /etc/<name>.
func (sb *sandbox) etc(name string) string { return filepath.Join(sb.dir, "etc", name) }

var sandboxScript = `set -e
mount --bind "$SB/hosts" /etc/hosts
mount --bind "$SB/resolv.conf" /etc/resolv.conf
for d in ` + strings.Join(sandboxedDirs, " ") + `; do
	mkdir -p "/etc/$d" # an empty mount point; what goes in it stays private
	mount --bind "$SB/etc/$d" "/etc/$d"
done
exec "$@"
`

// command runs argv inside the sandbox with env (plus SB, which the script
// needs). The process leads its own group so a daemon's children die with it.
func (sb *sandbox) command(ctx context.Context, env []string, argv ...string) *exec.Cmd {
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", sandboxScript, "sandbox"}, argv...)
	cmd := exec.CommandContext(ctx, sb.unshare, args...)
	cmd.Env = append(append([]string{}, env...), "SB="+sb.dir)
	if len(env) == 0 {
		cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TestSandboxHidesTestNames checks the premise of the client suite: inside
// the sandbox a test name does not resolve, and /etc/docker is private.
func TestSandboxHidesTestNames(t *testing.T) {
	if os.Getenv("REGTRACE_E2E") != "1" {
		t.Skip("end-to-end (REGTRACE_E2E=1)")
	}
	sb := newSandbox(t)
	os.WriteFile(filepath.Join(sb.etc("docker"), "marker"), []byte("x"), 0o644)
	out, err := sb.command(context.Background(), nil, "sh", "-c",
		"cat /etc/docker/marker; getent hosts registry.test && echo RESOLVED; getent hosts localhost").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "127.0.0.1") {
		t.Fatalf("%v\n%s", err, out)
	}
	if s := string(out); !strings.HasPrefix(s, "x") || strings.Contains(s, "RESOLVED") || !strings.Contains(s, "localhost") {
		t.Errorf("sandbox output:\n%s", s)
	}
	if _, err := os.Stat("/etc/docker/marker"); err == nil {
		t.Error("the marker leaked into the host's /etc/docker")
	}
}
