package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// explainPrimary runs regtrace explain --format json on path and returns
// its primary rule ("" when nothing failed), whether it is only suspected,
// and the source's capture command.
func explainPrimary(t *testing.T, path string) (rule string, suspected bool, capture string) {
	t.Helper()
	code, out, errOut := runCLI(t, "explain", "--format", "json", path)
	var rep struct {
		Findings []struct {
			Rule      string `json:"rule"`
			Primary   bool   `json:"primary"`
			Suspected bool   `json:"suspected"`
		} `json:"findings"`
		Source struct {
			Capture string `json:"capture"`
		} `json:"source"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%s: exit %d, %v\n%s%s", path, code, err, out, errOut)
	}
	for _, f := range rep.Findings {
		if f.Primary {
			return f.Rule, f.Suspected, rep.Source.Capture
		}
	}
	return "", false, rep.Source.Capture
}

// TestExplainContainerdLogs: a ctr or containerd log and the HAR of the
// same run (recorded by the regtrace proxy; ctr-SCENARIO.har beside the
// logs) give the same primary rule, or the log that rule marked suspected
// where it cannot prove it — never a different one. The daemon logs are
// the recorded runs' resolver lines as containerd writes them for a CRI
// pull, so they are held to the HAR of their run.
func TestExplainContainerdLogs(t *testing.T) {
	dir := filepath.Join("..", "..", "decode", "logs", "testdata")
	// suspected: the log cannot prove the HAR's rule. A HEAD answered 404
	// under a token: whether the token was asked for with credentials, and
	// so whether the 404 hides a repository from it, is not in the debug
	// log.
	suspected := map[string]bool{
		"ctr-nodump-missing-tag-with-good-credentials.log":          true,
		"containerd-journald-missing-tag-with-good-credentials.log": true,
		"containerd-2x-missing-tag-with-good-credentials.log":       true,
		"containerd-cri-text-missing-tag-with-good-credentials.log": true,
		"containerd-cri-json-missing-tag-with-good-credentials.log": true,
	}
	// A log whose run has no HAR of its own: the rule it must give.
	noHAR := map[string]string{
		// hosts.toml without a top-level ca: containerd 1.6 tries the
		// server entry after the host entry, without the CA, and its TLS
		// handshake with the proxy fails before any request (the HAR has
		// nothing of it), and becomes ctr's final error.
		"ctr-nodump-missing-tag-hosts-toml-without-top-level-ca.log": "proxy-or-mitm-interference",
	}
	// The daemon logs derived from ctr's runs (journald, info level, 2.x
	// wordings) are held to the HAR of the run they come from; the CRI
	// pulls' own (containerd-cri-text-*, -json-*) to theirs,
	// containerd-cri-SCENARIO.har, recorded with the text run.
	daemonRun := map[string]string{
		"containerd-2x-json-wrong-password.log":                            "ctr-wrong-password",
		"containerd-anonymous-pull-from-a-Basic-auth-registry.log":         "ctr-anonymous-pull-from-a-Basic-auth-registry",
		"containerd-json-anonymous-pull-of-a-missing-repository.log":       "ctr-anonymous-pull-of-a-missing-repository",
		"containerd-2x-missing-tag-with-good-credentials.log":              "ctr-missing-tag-with-good-credentials",
		"containerd-info-level-private-repository-without-credentials.log": "ctr-private-repository-without-credentials",
		"containerd-info-level-wrong-password.log":                         "ctr-wrong-password",
		"containerd-journald-missing-tag-with-good-credentials.log":        "ctr-missing-tag-with-good-credentials",
		"containerd-journald-token-realm-on-a-closed-port.log":             "ctr-token-realm-on-a-closed-port",
		// dockerd ≥ 29 pulls through containerd's resolver (the containerd
		// image store): the run's resolver lines, as dockerd logs them.
		"dockerd-29-containerd-store-private-repository-without-credentials.log": "ctr-private-repository-without-credentials",
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "ctr", "*.log"))
	daemon, _ := filepath.Glob(filepath.Join(dir, "containerd", "*.log"))
	if len(logs) < 20 || len(daemon) < 8 {
		t.Fatalf("fixtures: %d ctr, %d containerd", len(logs), len(daemon))
	}
	for _, p := range append(logs, daemon...) {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			got, susp, capture := explainPrimary(t, p)
			want, ok := noHAR[name]
			if !ok {
				har := filepath.Join(dir, "ctr", "ctr-"+strings.TrimPrefix(strings.TrimPrefix(name, "ctr-nodump-"), "ctr-"))
				if r, isDaemon := daemonRun[name]; isDaemon {
					har = filepath.Join(dir, "ctr", r+".log")
				} else if cri, ok := strings.CutPrefix(name, "containerd-cri-"); ok {
					_, scenario, _ := strings.Cut(cri, "-") // text-… or json-…
					har = filepath.Join(dir, "containerd", "containerd-cri-"+scenario)
				} else if strings.HasPrefix(name, "containerd-") || strings.HasPrefix(name, "dockerd-") {
					t.Fatalf("a daemon log without its run: add it to daemonRun")
				}
				har = strings.TrimSuffix(har, ".log") + ".har"
				if _, err := os.Stat(har); err != nil {
					t.Fatalf("no HAR of the run: %v", err)
				}
				want, _, _ = explainPrimary(t, har)
			}
			// What the log cannot prove is the HAR's rule suspected, or no
			// rule at all when it fits more than one.
			cannot := suspected[name] && got == "unexplained-failure"
			if !cannot && (got != want || susp != suspected[name]) {
				t.Errorf("log gives %q (suspected %v), the HAR %q (suspected %v)", got, susp, want, suspected[name])
			}
			if got != "" && !strings.Contains(capture, "regtrace proxy --har trace.har") {
				t.Errorf("capture %q", capture)
			}
		})
	}
}

// regtrace redact scrubs what ctr --http-dump prints in clear: the
// Authorization lines (Basic with the password, Bearer tokens), the
// token form's password and the token responses.
func TestRedactCtrHTTPDump(t *testing.T) {
	dir := filepath.Join("..", "..", "decode", "logs", "testdata", "ctr")
	for _, name := range []string{"ctr-good-pull.log", "ctr-wrong-password.log"} {
		out := filepath.Join(t.TempDir(), "ticket.log")
		if code, _, errb := runCLI(t, "redact", filepath.Join(dir, name), out); code != 0 {
			t.Fatalf("exit %d: %s", code, errb)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, secret := range []string{"alice-pw", "not-the-password", "YWxpY2U6"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s: %q kept", name, secret)
			}
		}
		if !strings.Contains(s, `msg="Authorization: Basic REDACTED(user=alice)"`) && name == "ctr-wrong-password.log" ||
			!strings.Contains(s, "password=REDACTED") {
			t.Errorf("%s: the dump's credentials are not redacted in place:\n%s", name, s)
		}
		for _, m := range regexp.MustCompile(`eyJ[\w-]+\.eyJ[\w-]+\.([\w-]+)`).FindAllStringSubmatch(s, -1) {
			if m[1] != "REDACTED" {
				t.Errorf("%s: a token's signature kept", name)
				break
			}
		}
	}
}
