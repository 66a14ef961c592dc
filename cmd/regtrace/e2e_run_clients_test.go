package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/explain"
)

// TestRunWithEachClient runs every client that honours SSL_CERT_FILE under
// `regtrace run` in the sandbox, as the README shows: a good pull exits 0
// with nothing to explain, and an anonymous pull of a private image exits
// with the client's own status (the same as without regtrace) after naming
// the rule.
func TestRunWithEachClient(t *testing.T) {
	w := startClientWorld(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range suiteClients() {
		if c.name == "docker" || c.name == "crictl" {
			continue // the daemon pulls: see TestRunDaemonClientsSayWhatToDo
		}
		t.Run(c.name, func(t *testing.T) {
			if c.prepare != nil {
				c.prepare(t, w)
			}
			// The client's own status, through the suite's proxy.
			_, err := c.pull(t, w, w.reg+"/team/app:1.0", "")
			want := exitCode(err)
			if want == 0 {
				t.Fatalf("%s pulled a private image anonymously", c.name)
			}
			har := filepath.Join(t.TempDir(), "run.har")
			w.via = []string{self, "run", "--no-color", "--har", har,
				"--resolve", "registry.test=127.0.0.1", "--resolve", "auth.test=127.0.0.1", "--upstream-ca", w.pki.CA, "--"}
			defer func() { w.via = nil }()

			out, err := c.pull(t, w, w.reg+"/team/app:1.0", "")
			if got := exitCode(err); got != want {
				t.Errorf("regtrace run exit %d, want %s's own %d:\n%s", got, c.name, want, out)
			}
			t.Logf("%s exits %d, and so does regtrace run: %s", c.name, want, firstLines(out, 2))
			if !strings.Contains(out, string(explain.RuleInsufficientScope)) {
				t.Errorf("regtrace run did not name %s:\n%s", explain.RuleInsufficientScope, out)
			}
			if h, err := os.ReadFile(har); err != nil || !strings.Contains(string(h), "/v2/team/app/manifests/1.0") {
				t.Errorf("--har: %v", err)
			}

			out, err = c.pull(t, w, w.reg+"/team/app:1.0", alice)
			if err != nil || !strings.Contains(out, "nothing to explain") {
				t.Errorf("good pull under regtrace run: %v\n%s", err, out)
			}
		})
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestRunDaemonClientsSayWhatToDo: the docker CLI and crictl do not pull,
// so regtrace run says how to give the daemon the proxy and the CA, and
// still runs them.
func TestRunDaemonClientsSayWhatToDo(t *testing.T) {
	for _, c := range []struct {
		prog, version string
		want          []string
	}{
		{"docker", "Docker version", []string{"the daemon does", "/etc/docker/certs.d/<host:port>/ca.crt", "regtrace ca trust --client docker"}},
		{"crictl", "crictl version", []string{"the container runtime (containerd, CRI-O) does", "hosts.toml", "regtrace ca trust --client crictl"}},
	} {
		t.Run(c.prog, func(t *testing.T) {
			bin := need(t, c.prog)
			var out, errb strings.Builder
			code := run2(&out, &errb, "run", "--no-color", "--", bin, "--version")
			if code != 0 || !strings.Contains(out.String(), c.version) {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
			}
			for _, want := range c.want {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errb.String())
				}
			}
		})
	}
}
