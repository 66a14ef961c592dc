package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainKubernetesEvents: regtrace explain reads what a ticket about
// a pod stuck in ImagePullBackOff carries, and gives each class of failure
// the rule the events can support, always with how to record the pull on
// the node (regtrace run cannot wrap the kubelet).
func TestExplainKubernetesEvents(t *testing.T) {
	dir := filepath.Join("..", "..", "decode", "logs", "testdata", "kubernetes")
	for _, c := range []struct {
		file, rule string // rule "" : nothing failed
	}{
		{"describe-insufficient-scope-private.log", "insufficient-scope-ambiguous-denied"},
		// A one-component name on Docker Hub: a locally built image.
		{"describe-insufficient-scope.log", "local-only-image-resolved-remotely"},
		// A HEAD's 401 says unauthorized and nothing about why.
		{"describe-head-401.log", "unexplained-failure"},
		{"describe-head-401-old-wrapped.log", "unexplained-failure"},
		{"get-events-head-403.log", "unexplained-failure"},
		// A HEAD 404 has no code, and the events do not show whether the
		// request was authorised.
		{"describe-not-found.log", "not-found-is-real"},
		{"describe-no-such-host.log", "registry-unreachable"},
		{"journal-connect-timeout.log", "registry-unreachable"},
		{"describe-x509.log", "proxy-or-mitm-interference"},
		{"describe-rate-limit-wrapped.log", "rate-limited-toomanyrequests"},
		{"get-events-rate-limit-crio.log", "rate-limited-toomanyrequests"},
		{"describe-anonymous-token-401.log", "insufficient-scope-ambiguous-denied"},
		{"journal-anonymous-token-timeout.log", "realm-unreachable-untrusted-or-rejected"},
		{"get-events-wide-oauth-token-403.log", "unexplained-failure"},
		{"describe-no-basic-auth-credentials.log", "basic-challenge-no-credentials"},
		{"describe-crio-manifest-unknown.log", "not-found-is-real"},
		{"get-events-backoff-only.log", "unexplained-failure"},
		{"describe-pulled-after-failure.log", ""},
		{"describe-pulled.log", ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			code, out, errOut := runCLI(t, "explain", "--format", "json", filepath.Join(dir, c.file))
			var rep struct {
				Findings []struct {
					Rule        string `json:"rule"`
					Primary     bool   `json:"primary"`
					Verdict     string `json:"verdict"`
					CannotProve string `json:"cannotProve"`
				} `json:"findings"`
				Source struct {
					Name    string `json:"name"`
					Capture string `json:"capture"`
				} `json:"source"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("exit %d, %v\n%s%s", code, err, out, errOut)
			}
			primary := ""
			for _, f := range rep.Findings {
				if f.Primary {
					primary = f.Rule
				}
				if f.Verdict != "ok" && !strings.Contains(f.CannotProve, "regtrace proxy --har trace.har") {
					t.Errorf("%s does not say how to record the pull: %q", f.Rule, f.CannotProve)
				}
				if f.Verdict != "ok" && !strings.Contains(f.CannotProve, "crictl pull ") {
					t.Errorf("%s does not name the pull to record: %q", f.Rule, f.CannotProve)
				}
			}
			if primary != c.rule {
				t.Errorf("primary rule %q, want %q\n%s", primary, c.rule, out)
			}
			if want := map[bool]int{true: exitFound, false: 0}[c.rule != ""]; code != want {
				t.Errorf("exit %d, want %d", code, want)
			}
			if rep.Source.Name != "Kubernetes events" || c.rule != "" && !strings.Contains(rep.Source.Capture, "crictl pull") {
				t.Errorf("source %+v", rep.Source)
			}
		})
	}
}
