package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrustInstructionsWork runs what `regtrace ca trust --client C` prints,
// as a user would paste it, for every client the suite runs: in the sandbox
// (so /etc/docker, /etc/containers and /etc/systemd are private), with sudo
// and systemctl as shims (the test's dockerd already has the proxy in its
// environment, which is what the systemd drop-in gives), and without
// SSL_CERT_FILE unless the text sets it. Every alternative in the text runs
// (sh -e), and each must pull through the proxy. Before the text runs, the
// same client without trust must fail the handshake with the proxy.
func TestTrustInstructionsWork(t *testing.T) {
	pki := testPKI(t)
	reg := startRegistry(t, pki, "")
	host := fmt.Sprintf("registry.test:%d", reg.Port)
	seedImages(t, pki, host, "any:any", "public/app")
	image := host + "/public/app:1.0"

	caDir := filepath.Join(t.TempDir(), "ca")
	rp := startProxy(t, "--ca-dir", caDir, "--no-color", "--resolve", "registry.test=127.0.0.1", "--upstream-ca", pki.CA)

	shims := t.TempDir()
	// sudo takes VAR=value before the command, as env does.
	os.WriteFile(filepath.Join(shims, "sudo"), []byte("#!/bin/sh\nexec env \"$@\"\n"), 0o755)
	os.WriteFile(filepath.Join(shims, "systemctl"), []byte("#!/bin/sh\necho \"systemctl $* (shim)\"\n"), 0o755)
	home := t.TempDir()
	// podman and skopeo keep their store and settings under the test.
	store := t.TempDir()
	runroot, err := os.MkdirTemp("", "rtt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runroot) })
	os.WriteFile(filepath.Join(store, "storage.conf"), []byte(fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(store, "graph"), runroot)), 0o644)
	os.WriteFile(filepath.Join(store, "containers.conf"), []byte("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"), 0o644)
	env := []string{
		"PATH=" + shims + ":" + os.Getenv("PATH"), "HOME=" + home,
		"XDG_RUNTIME_DIR=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(store, "storage.conf"),
		"CONTAINERS_CONF=" + filepath.Join(store, "containers.conf"),
	}

	untrusted := map[string][]string{
		"skopeo": {need(t, "skopeo"), "inspect", "--raw", "docker://" + image},
		"oras":   {need(t, "oras"), "manifest", "fetch", image},
		"crane":  {need(t, "crane"), "manifest", image},
		"regctl": {need(t, "regctl"), "manifest", "get", image},
		"curl":   {need(t, "curl"), "-sS", "-x", rp.URL, "https://" + host + "/v2/"},
		"docker": {need(t, "docker"), "pull", image},
		"podman": {need(t, "podman"), "pull", image},
		// ctr fetches in its own process through the hosts directory;
		// crictl asks the daemon, whose CRI plugin reads the same one.
		"containerd": {need(t, "ctr"), "images", "pull", "--hosts-dir", containerdHostsDir, image},
		"crictl":     {need(t, "crictl"), "pull", image},
	}
	for _, c := range []string{"skopeo", "podman", "oras", "crane", "regctl", "docker", "containerd", "crictl", "curl"} {
		t.Run(c, func(t *testing.T) {
			// A sandbox each: skopeo's certs.d must not make podman pass.
			sb := newSandbox(t)
			env := env
			if c == "docker" {
				// dockerd with the proxy in its environment and nothing in certs.d.
				d := startDockerdWithCerts(t, &clientWorld{pki: pki, sb: sb, rec: &recorder{URL: rp.URL}}, nil)
				env = append(env, "DOCKER_HOST=unix://"+d.sock)
			}
			var cd *containerdDaemon
			if c == "containerd" || c == "crictl" {
				// containerd with the proxy in its environment, its
				// config_path on the sandbox's /etc/containerd/certs.d,
				// nothing in it.
				cd = startContainerd(t, sb, rp.URL, "")
				env = append(env, cd.criEnv()...)
			}
			run := func(argv ...string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				e := append(append([]string{}, env...), "HTTPS_PROXY="+rp.URL, "https_proxy="+rp.URL)
				out, err := sb.command(ctx, e, argv...).CombinedOutput()
				return string(out), err
			}
			before := len(rp.Stdout.String())
			if out, err := run(untrusted[c]...); err == nil {
				t.Fatalf("%s succeeded without trusting the CA:\n%s", c, out)
			}
			if trace := rp.Stdout.String()[before:]; !strings.Contains(trace, "does not trust the regtrace CA") {
				t.Errorf("untrusted %s: the proxy did not record a refused handshake:\n%s", c, trace)
			}

			var text, errb strings.Builder
			if code := run2(&text, &errb, "ca", "trust", "--ca-dir", caDir, "--client", c, "--proxy", rp.URL, "--registry", host, "--image", image); code != 0 {
				t.Fatalf("ca trust exit %d: %s", code, errb.String())
			}
			script := filepath.Join(t.TempDir(), "trust.sh")
			os.WriteFile(script, []byte(text.String()), 0o644)
			before = len(rp.Stdout.String())
			out, err := run("sh", "-ex", script)
			if err != nil {
				t.Fatalf("the instructions failed: %v\n%s\n--- script:\n%s", err, out, text.String())
			}
			if cd != nil {
				hostsOK(t, out+cd.logs.String())
			}
			trace := rp.Stdout.String()[before:]
			if c != "curl" && !strings.Contains(trace, "/v2/public/app/manifests/1.0  200") {
				t.Errorf("no manifest pulled through the proxy:\n%s\n--- client output:\n%s", trace, out)
			}
			if strings.Contains(trace, "does not trust") {
				t.Errorf("a handshake was refused while following the instructions:\n%s", trace)
			}
		})
	}
}

// run2 runs the CLI in-process.
func run2(stdout, stderr *strings.Builder, args ...string) int {
	return run(context.Background(), append([]string{"regtrace"}, args...), stdout, stderr)
}
