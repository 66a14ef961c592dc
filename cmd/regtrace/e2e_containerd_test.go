package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtrace/regtrace/certs"
)

// containerdDaemon is containerd started for a test, in the sandbox, as a
// node runs it: its own root, state and socket, the CRI plugin on (with the
// native snapshotter: no overlay mounts needed), registry hosts read from
// /etc/containerd/certs.d (the sandbox's private /etc/containerd), the
// proxy in its environment, and its debug log (what a node's journal
// holds: issue 13) in logs.
type containerdDaemon struct {
	sock string
	logs *lockedBuffer
	// lastOwn is what the last command run by logged printed itself.
	lastOwn string
}

// containerdHostsDir is the hosts directory the daemon's config names and
// ctr is given: where regtrace ca trust --client containerd puts hosts.toml.
const containerdHostsDir = "/etc/containerd/certs.d"

func startContainerd(t *testing.T, sb *sandbox, proxyURL, extraConfig string) *containerdDaemon {
	t.Helper()
	bin := need(t, "containerd")
	need(t, "ctr")
	// The socket path must stay short.
	run, err := os.MkdirTemp("", "rtc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	d := &containerdDaemon{sock: filepath.Join(run, "c.sock"), logs: &lockedBuffer{}}
	// The default config path, inside the sandbox: `containerd config dump`
	// in the trust instructions reads the same file.
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  level = "debug"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.invalid/pause:3.6"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
%s`, t.TempDir(), filepath.Join(run, "state"), d.sock, d.sock+".ttrpc", containerdHostsDir, extraConfig)
	if err := os.WriteFile(filepath.Join(sb.etc("containerd"), "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"HTTPS_PROXY=" + proxyURL, "HTTP_PROXY=" + proxyURL, "https_proxy=" + proxyURL, "http_proxy=" + proxyURL,
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := sb.command(ctx, env, bin)
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("containerd log:\n%s", d.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := sb.command(context.Background(), nil, need(t, "ctr"), "--address", d.sock, "version").CombinedOutput()
		if err == nil && strings.Contains(d.logs.String(), "io.containerd.grpc.v1.cri") {
			t.Logf("containerd: %s", strings.Join(strings.Fields(string(out)), " "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not come up: %v\n%s\n%s", err, out, d.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return d
}

// criEnv points crictl and ctr at the daemon.
func (d *containerdDaemon) criEnv() []string {
	return []string{"CONTAINER_RUNTIME_ENDPOINT=unix://" + d.sock, "IMAGE_SERVICE_ENDPOINT=unix://" + d.sock, "CONTAINERD_ADDRESS=" + d.sock}
}

// trustHosts runs what `regtrace ca trust --client CLIENT` (containerd:
// ctr; crictl: the kubelet's path) prints for each registry, as a node's
// admin pastes it (sudo and systemctl are shims: the daemon already has the
// proxy in its environment, which the systemd drop-in gives), so every
// hosts.toml the suite's containerd reads is the one the instructions
// write. The instructions end with a pull of image, which must succeed.
func (d *containerdDaemon) trustHosts(t *testing.T, w *clientWorld, client, image string, hosts ...string) {
	t.Helper()
	need(t, "crictl")
	shims := t.TempDir()
	// sudo takes VAR=value before the command, as env does.
	os.WriteFile(filepath.Join(shims, "sudo"), []byte("#!/bin/sh\nexec env \"$@\"\n"), 0o755)
	os.WriteFile(filepath.Join(shims, "systemctl"), []byte("#!/bin/sh\necho \"systemctl $* (shim)\"\n"), 0o755)
	env := append([]string{"PATH=" + shims + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, d.criEnv()...)
	for _, h := range hosts {
		text, err := certs.Trust(client, certs.TrustParams{CACert: w.rec.CACert, Bundle: w.rec.Bundle, Proxy: w.rec.URL, Registry: h, Image: image})
		if err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(t.TempDir(), "trust.sh")
		os.WriteFile(script, []byte(text), 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := w.sb.command(ctx, env, "sh", "-e", script).CombinedOutput()
		cancel()
		hostsOK(t, string(out))
		if err != nil {
			t.Fatalf("the containerd trust instructions for %s failed: %v\n%s\n--- script:\n%s", h, err, out, text)
		}
	}
}

// logged runs argv (a containerd client) and returns what the daemon
// logged while it ran, then the client's own output: the node's journal
// of one pull, as a ticket would carry it.
func (d *containerdDaemon) logged(t *testing.T, w *clientWorld, env []string, argv ...string) (string, error) {
	t.Helper()
	mark := len(d.logs.String())
	out, err := w.run(t, env, argv...)
	time.Sleep(100 * time.Millisecond)
	d.lastOwn = out
	return d.logs.String()[mark:] + out, err
}

// hostsOK fails the test when containerd could not read a hosts.toml:
// containerd 1.6 then falls back to the directory's *.crt files (docker's
// certs.d layout), which would hide a broken file the instructions wrote.
func hostsOK(t *testing.T, out string) {
	t.Helper()
	for _, l := range lines(out) {
		if strings.Contains(l, "failed to decode hosts.toml") {
			t.Errorf("containerd could not read the hosts.toml the trust instructions wrote: %s", l)
			return
		}
	}
}

// containerdClients are ctr (pulling in its own process, through the
// hosts directory, with its --debug log) and crictl (the kubelet's path:
// the daemon's CRI plugin pulls, with the credentials a pull secret would
// give, and the daemon's debug log is what explains it).
func containerdClients() []*client {
	// Each client gets a daemon of its own: a daemon stops with the test
	// that started it.
	prepare := func(d **containerdDaemon, client string) func(t *testing.T, w *clientWorld) {
		return func(t *testing.T, w *clientWorld) {
			extra := ""
			if client == "crictl" {
				// A node's own credentials for one registry (the CRI
				// plugin's registry.configs auth, deprecated but read by
				// 1.6 to 2.x): used for that host name only.
				extra = fmt.Sprintf("  [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.%q.auth]\n    username = \"alice\"\n    password = \"alice-pw\"\n", w.keyed)
			}
			*d = startContainerd(t, w.sb, w.rec.URL, extra)
			// Docker Hub's stand-in first: the instructions' own pull of
			// library/nginx goes there.
			(*d).trustHosts(t, w, client, w.hub+"/library/nginx:1.0", w.hub, w.reg, w.front, w.basic, w.basicFront, w.deadRealm, w.keyed, w.gate)
			w.rec.Take(t)
		}
	}
	var forCtr, forCrictl *containerdDaemon
	ctr := func(t *testing.T, w *clientWorld, args ...string) (string, error) {
		// Trust comes from hosts.toml alone, as on a node: no SSL_CERT_FILE.
		env := slices.DeleteFunc(w.env(t, "", "", "CONTAINERD_SNAPSHOTTER=native"), func(kv string) bool {
			return strings.HasPrefix(kv, "SSL_CERT_FILE=")
		})
		out, err := w.run(t, env, append([]string{need(t, "ctr"), "--address", forCtr.sock, "--debug"}, args...)...)
		hostsOK(t, out)
		return out, err
	}
	ctrClient := &client{name: "ctr", logs: true, hostsDir: true, prepare: prepare(&forCtr, "containerd"),
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			args := []string{"images", "pull", "--hosts-dir", containerdHostsDir}
			if creds != "" {
				args = append(args, "--user", creds)
			}
			return ctr(t, w, append(args, ref)...)
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			src := w.reg + "/team/app:1.0"
			if out, err := ctr(t, w, "images", "pull", "--hosts-dir", containerdHostsDir, "--user", alice, src); err != nil {
				t.Fatalf("ctr pull before push: %v\n%s", err, out)
			}
			if out, err := ctr(t, w, "images", "tag", "--force", src, ref); err != nil {
				t.Fatalf("ctr tag: %v\n%s", err, out)
			}
			w.rec.Take(t) // only the push is the scenario
			return ctr(t, w, "images", "push", "--hosts-dir", containerdHostsDir, "--user", creds, ref)
		},
	}
	// crictl hands the credentials to the CRI plugin as the kubelet does
	// with a pull secret: --creds (username and password) or --auth (the
	// base64 "user:password" a docker config's auth field holds), in turn.
	// It cannot push.
	pulls := 0
	var crictlSaid string // crictl's own output of its last pull
	crictl := &client{name: "crictl", logs: true, hostsDir: true, prepare: prepare(&forCrictl, "crictl"),
		own: func() string { return crictlSaid },
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			args := []string{need(t, "crictl"), "pull"}
			if creds != "" {
				if pulls++; pulls%2 == 0 {
					args = append(args, "--auth", base64.StdEncoding.EncodeToString([]byte(creds)))
				} else {
					args = append(args, "--creds", creds)
				}
			}
			out, err := forCrictl.logged(t, w, append(w.env(t, "", ""), forCrictl.criEnv()...), append(args, ref)...)
			hostsOK(t, out)
			crictlSaid = forCrictl.lastOwn
			return out, err
		},
	}
	return []*client{ctrClient, crictl}
}
