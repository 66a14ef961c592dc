package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSharedProxySessions: alice and bob share one authenticated proxy and
// run the same client (skopeo) on the same repository. Bob's inspect of a
// tag that does not exist yet fails; alice then pushes it and inspects it.
// Through one trace, alice's later success would look like bob's client
// recovering: per client, bob's failure stands. Each client gets its own
// HAR (--har-dir), the shared HAR names each entry's client, and the live
// trace labels each line.
func TestSharedProxySessions(t *testing.T) {
	skopeo := need(t, "skopeo")
	reg := startRegistry(t, testPKI(t), "")
	dir := t.TempDir()
	harPath, harDir := filepath.Join(dir, "all.har"), filepath.Join(dir, "clients")
	rp := startProxy(t, "--ca-dir", filepath.Join(dir, "ca"), "--no-color", "--proxy-auth", htpasswdFile(t, "alice", "bob"), "--explain",
		"--har", harPath, "--har-dir", harDir,
		"--resolve", fmt.Sprintf("registry.test:%d=127.0.0.1", reg.Port), "--upstream-ca", reg.Certs.CA)
	bundle := caBundle(t, filepath.Join(dir, "ca"))
	layout := t.TempDir()
	ociImage(t, layout, "1.0", "one proxy, two clients\n")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644)
	repo := fmt.Sprintf("docker://registry.test:%d/team/app", reg.Port)
	skopeoAs := func(user string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, skopeo, append([]string{"--policy", policy}, args...)...)
		cmd.Env = clientEnv(t, rp.as(user), bundle)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := skopeoAs("alice", "copy", "--retry-times", "0", "--dest-no-creds", "oci:"+layout+":1.0", repo+":1.0"); err != nil {
		t.Fatalf("alice's push: %v\n%s", err, out)
	}
	if out, err := skopeoAs("bob", "inspect", "--raw", "--retry-times", "0", "--no-creds", repo+":2.0"); err == nil {
		t.Fatalf("bob's inspect of a missing tag worked:\n%s", out)
	}
	if out, err := skopeoAs("alice", "copy", "--retry-times", "0", "--dest-no-creds", "oci:"+layout+":1.0", repo+":2.0"); err != nil {
		t.Fatalf("alice's second push: %v\n%s", err, out)
	}
	if out, err := skopeoAs("alice", "inspect", "--raw", "--retry-times", "0", "--no-creds", repo+":2.0"); err != nil {
		t.Fatalf("alice's inspect: %v\n%s", err, out)
	}
	if code := rp.Stop(t); code != 0 {
		t.Errorf("proxy exited %d; stderr:\n%s", code, rp.Stderr)
	}

	// The live trace labels every exchange line with its client.
	labelled := map[string]int{}
	for _, l := range lines(rp.Stdout.String()) {
		if strings.HasPrefix(l, "[alice] #") || strings.HasPrefix(l, "[bob] #") {
			labelled[l[1:strings.IndexByte(l, ']')]]++
		} else if strings.HasPrefix(l, "#") {
			t.Errorf("an exchange line without its client: %q", l)
		}
	}
	if labelled["alice"] == 0 || labelled["bob"] == 0 {
		t.Errorf("labelled lines: %v\n%s", labelled, rp.Stdout)
	}
	summary := rp.Stdout.String()[strings.Index(rp.Stdout.String(), "== regtrace explain: summary =="):]
	if !strings.Contains(summary, "[bob]") || !strings.Contains(summary, "WHY IT FAILED") {
		t.Errorf("the live summary does not say bob's pull failed:\n%s", summary)
	}

	explainJSON := func(path string) (int, report) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"regtrace", "explain", "--format", "json", path}, &out, &errb)
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("explain %s: %v\n%s%s", path, err, out.String(), errb.String())
		}
		return code, r
	}
	// The shared HAR: bob's failure is the answer, and nothing is said
	// against alice.
	code, all := explainJSON(harPath)
	if code != exitFound || all.Primary == nil || all.Primary.Peer != "bob" || all.Primary.Verdict != "not-found" {
		t.Errorf("explain of the shared HAR: exit %d, primary %+v", code, all.Primary)
	}
	for _, f := range all.Findings {
		if f.Peer == "alice" && f.Verdict != "ok" {
			t.Errorf("a finding against alice, whose runs worked: %+v", f)
		}
		if f.Peer == "" {
			t.Errorf("a finding without its client: %+v", f)
		}
	}
	// One HAR per client, holding only its exchanges.
	for user, wantCode := range map[string]int{"alice": 0, "bob": exitFound} {
		path := filepath.Join(harDir, user+".har")
		users := harProxyUsers(t, path)
		if len(users) == 0 {
			t.Fatalf("%s: no entries", path)
		}
		for _, u := range users {
			if u != user {
				t.Errorf("%s holds an exchange of %q", path, u)
			}
		}
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(proxyPassword(user))) {
			t.Errorf("%s holds the proxy password", path)
		}
		if code, r := explainJSON(path); code != wantCode {
			t.Errorf("explain %s: exit %d, want %d; primary %+v", path, code, wantCode, r.Primary)
		}
	}
}

// report is the part of explain's JSON the session tests read.
type report struct {
	Primary  *reportFinding  `json:"primary"`
	Findings []reportFinding `json:"findings"`
}

type reportFinding struct {
	Rule    string `json:"rule"`
	Verdict string `json:"verdict"`
	Peer    string `json:"peer"`
}
