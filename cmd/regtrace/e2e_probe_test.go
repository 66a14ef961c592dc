package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbe probes every kind of registry and repository of the client
// world — public, private, missing, forbidden, rate limited, a dead realm,
// Basic auth, a ping that answers 200 while the repository challenges —
// and checks the code, the exit status and that the JSON report is one.
func TestProbe(t *testing.T) {
	if os.Getenv("REGTRACE_E2E") != "1" && testing.Short() {
		t.Skip("end-to-end")
	}
	w := startClientWorld(t)
	cases := []struct {
		name, image, creds string
		extra              []string
		code               string
		exit               int
		says               string // in the conclusion
	}{
		{"hub official image by short name", "nginx:1.0", "", nil, "PULLABLE", 0, "pullable anonymously"},
		{"hub public with credentials", "nginx:1.0", "admin:admin-pw", nil, "PULLABLE", 0, "public and pullable"},
		{"hub missing tag", "docker.io/library/nginx:nope", "", nil, "MANIFEST_UNKNOWN", 4, "repository exists"},
		{"private anonymously", w.reg + "/team/app:1.0", "", nil, "TOKEN_SCOPE_EMPTY", 3, "grants nothing"},
		{"private with credentials", w.reg + "/team/app:1.0", alice, nil, "PULLABLE", 0, "exists and is private"},
		{"wrong password", w.reg + "/team/app:1.0", aliceWrong, nil, "CREDENTIALS_REJECTED", 3, "refused the credential"},
		{"missing repository proven", w.reg + "/team/gone:1.0", alice, nil, "NAME_UNKNOWN", 4, "does not exist"},
		{"missing or private", w.reg + "/team/nope:1.0", alice, nil, "TOKEN_SCOPE_EMPTY", 3, "grants nothing"},
		{"ping 200 repository challenges", w.front + "/team/app:1.0", alice, nil, "PULLABLE", 0, "exists and is private"},
		{"ping 200 anonymous", w.front + "/team/app:1.0", "", nil, "TOKEN_SCOPE_EMPTY", 3, "grants nothing"},
		{"denied by policy", w.gate + "/team/denied:1.0", alice, nil, "DENIED", 6, "DENIED"},
		{"rate limited", w.gate + "/limited/app:1.0", "", nil, "RATE_LIMITED", 5, "429"},
		{"dead realm", w.deadRealm + "/team/app:1.0", "", nil, "REALM_UNREACHABLE", 1, "token request failed"},
		{"basic without credentials", w.basic + "/team/app:1.0", "", nil, "CREDENTIALS_REQUIRED", 3, "Basic"},
		{"basic with credentials", w.basic + "/team/app:1.0", alice, nil, "PULLABLE", 0, "exists and is private"},
		{"basic missing tag", w.basicFront + "/team/app:nope", alice, nil, "MANIFEST_UNKNOWN", 4, "repository exists"},
		{"open registry missing repository", w.open + "/team/nope:1.0", "", nil, "NAME_UNKNOWN", 4, "does not exist"},
		{"push with a pull-only account", w.reg + "/team/app:1.0", alice, []string{"--push"}, "PUSH_DENIED", 6, "no push"},
		{"push as admin", w.reg + "/team/app:1.0", "admin:admin-pw", []string{"--push"}, "PUSHABLE", 0, "grants [pull,push]"},
		{"mount from a repository it may read", w.reg + "/team/app:1.0", "admin:admin-pw", []string{"--push", "--mount-from", "team/other"}, "PUSHABLE", 0, "pull on team/other"},
		{"mount from a repository it may not read", w.reg + "/team/app:1.0", "admin:admin-pw", []string{"--push", "--mount-from", "team/denied"}, "PUSH_DENIED", 6, "mount"},
		{"anonymous push", w.reg + "/team/app:1.0", "", []string{"--push"}, "TOKEN_SCOPE_EMPTY", 3, "grants nothing"},
		{"untrusted certificate", w.reg + "/team/app:1.0", "", []string{"--no-ca"}, "TLS_UNTRUSTED", 1, "certificate"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			args := []string{"regtrace", "probe", "--format", "json", "--timeout", "10s"}
			for k, v := range w.resolve {
				args = append(args, "--resolve", k+"="+v)
			}
			if !strings.Contains(strings.Join(tc.extra, " "), "--no-ca") {
				args = append(args, "--upstream-ca", w.pki.CA)
			}
			for _, e := range tc.extra {
				if e != "--no-ca" {
					args = append(args, e)
				}
			}
			if tc.creds != "" {
				args = append(args, "--creds-stdin")
			}
			har := filepath.Join(t.TempDir(), "probe.har")
			args = append(args, "--har", har, tc.image)
			var out, errb bytes.Buffer
			app := newApp(&out, &errb)
			app.Reader = strings.NewReader(tc.creds + "\n")
			code := runApp(context.Background(), app, args)
			var rep struct {
				Failed bool `json:"failed"`
				Probe  struct {
					Code, Conclusion string
					Steps            []struct{ Phase, Name string }
				} `json:"probe"`
				Findings []struct{ Rule string }
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("the JSON report does not parse: %v\n%s\nstderr: %s", err, out.String(), errb.String())
			}
			if rep.Probe.Code != tc.code || code != tc.exit || !strings.Contains(rep.Probe.Conclusion, tc.says) {
				t.Errorf("code %s exit %d, want %s exit %d with %q in:\n%s\nstderr: %s", rep.Probe.Code, code, tc.code, tc.exit, tc.says, out.String(), errb.String())
			}
			if strings.Contains(out.String(), "alice-pw") || strings.Contains(out.String(), "admin-pw") {
				t.Errorf("a password is in the report:\n%s", out.String())
			}
			b, err := os.ReadFile(har)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "alice-pw") || strings.Contains(string(b), "admin-pw") || !json.Valid(b) {
				t.Errorf("the HAR holds a password or is not JSON")
			}
			// The HAR explains to the same failure or success.
			var eo, ee bytes.Buffer
			ecode := run(context.Background(), []string{"regtrace", "explain", "--format", "json", har}, &eo, &ee)
			if (ecode == exitFound) != rep.Failed {
				t.Errorf("explain of the probe's HAR exits %d, the probe's report says failed=%v\n%s", ecode, rep.Failed, ee.String())
			}
		})
	}
}
