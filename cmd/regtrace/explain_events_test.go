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
		// suspected: the events point to the rule but cannot prove it.
		suspected bool
	}{
		{"describe-insufficient-scope-private.log", "insufficient-scope-ambiguous-denied", false},
		// A one-component name on Docker Hub: a locally built image.
		{"describe-insufficient-scope.log", "local-only-image-resolved-remotely", false},
		// A HEAD's 401 or 403 says refused and nothing about why: the
		// finding lists the rules it fits.
		{"describe-head-401.log", "unexplained-failure", false},
		{"describe-head-401-old-wrapped.log", "unexplained-failure", false},
		{"get-events-head-403.log", "unexplained-failure", false},
		// A HEAD 404 has no code, and the events do not show whether the
		// request was authorised.
		{"describe-not-found.log", "not-found-is-real", false},
		{"describe-no-such-host.log", "registry-unreachable", false},
		{"journal-connect-timeout.log", "registry-unreachable", false},
		{"journal-json-connect-timeout.log", "registry-unreachable", false},
		{"describe-x509.log", "proxy-or-mitm-interference", false},
		{"describe-rate-limit-wrapped.log", "rate-limited-toomanyrequests", false},
		{"get-events-rate-limit-crio.log", "rate-limited-toomanyrequests", false},
		{"describe-anonymous-token-401.log", "insufficient-scope-ambiguous-denied", false},
		{"journal-anonymous-token-timeout.log", "realm-unreachable-untrusted-or-rejected", false},
		// containerd asks for an OAuth token only with credentials.
		{"get-events-wide-oauth-token-403.log", "credentials-rejected-at-token-endpoint", true},
		{"describe-no-basic-auth-credentials.log", "basic-challenge-no-credentials", false},
		{"describe-crio-manifest-unknown.log", "not-found-is-real", false},
		{"get-events-backoff-only.log", "unexplained-failure", false},
		// kubectl's -o yaml and -o json, and events.k8s.io's JSON lines:
		// the same messages as their text forms above, the same rules.
		{"get-events-yaml-anonymous-token-401.log", "insufficient-scope-ambiguous-denied", false},
		{"get-events-json-not-found.log", "not-found-is-real", false},
		{"events-k8s-io-jsonl-insufficient-scope.log", "insufficient-scope-ambiguous-denied", false},
		{"describe-pulled-after-failure.log", "", false},
		{"describe-pulled.log", "", false},
	} {
		// An unexplained failure whose stop fits several rules lists them.
		wantCandidates := map[string]int{"describe-head-401.log": 5, "describe-head-401-old-wrapped.log": 5, "get-events-head-403.log": 2}[c.file]
		t.Run(c.file, func(t *testing.T) {
			code, out, errOut := runCLI(t, "explain", "--format", "json", filepath.Join(dir, c.file))
			var rep struct {
				Findings []struct {
					Rule        string   `json:"rule"`
					Primary     bool     `json:"primary"`
					Suspected   bool     `json:"suspected"`
					Candidates  []string `json:"candidates"`
					Verdict     string   `json:"verdict"`
					CannotProve string   `json:"cannotProve"`
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
					if f.Suspected != c.suspected {
						t.Errorf("%s suspected=%v, want %v", f.Rule, f.Suspected, c.suspected)
					}
					if len(f.Candidates) != wantCandidates {
						t.Errorf("%s candidates %v, want %d of them", f.Rule, f.Candidates, wantCandidates)
					}
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
