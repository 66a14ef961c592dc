package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/har"
)

// explainReport is the part of `regtrace explain --format json` the tests
// read.
type explainReport struct {
	Primary  *explainFinding  `json:"primary"`
	Findings []explainFinding `json:"findings"`
	Failed   bool             `json:"failed"`
}

type explainFinding struct {
	Rule        string `json:"rule"`
	Verdict     string `json:"verdict"`
	Repo        string `json:"repo"`
	Why         string `json:"why"`
	CannotProve string `json:"cannotProve"`
}

func explainHAR(t *testing.T, path string) (explainReport, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"regtrace", "explain", "--format", "json", path}, &out, &errb)
	if code != exitOK && code != exitFound {
		t.Fatalf("explain %s: exit %d: %s", path, code, errb.String())
	}
	var rep explainReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("explain %s: %v\n%s", path, err, out.String())
	}
	if rep.Failed != (code == exitFound) || rep.Failed != (rep.Primary != nil) {
		t.Errorf("explain %s: exit %d, failed %v, primary %v: they must agree", path, code, rep.Failed, rep.Primary)
	}
	return rep, errb.String()
}

// finding returns the finding of rule about repo ("" for any).
func (r explainReport) finding(rule, repo string) *explainFinding {
	for i, f := range r.Findings {
		if f.Rule == rule && (repo == "" || f.Repo == repo) {
			return &r.Findings[i]
		}
	}
	return nil
}

func (r explainReport) String() string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s %s: %s\n", f.Rule, f.Verdict, f.Repo, f.Why)
	}
	return b.String()
}

// TestExplainForeignFixtures explains the hand-written HARs of other tools
// (decode/har/testdata): each has its own failure, and a sanitized browser
// export says what it cannot prove instead of "credentials not sent".
func TestExplainForeignFixtures(t *testing.T) {
	for _, c := range []struct{ file, rule, verdict, repo string }{
		{"chrome-131-sanitized.har", "insufficient-scope-ambiguous-denied", "unauthorized-ambiguous", "team/app"},
		{"firefox-128.har", "not-found-is-real", "not-found", "team/app"},
		{"mitmproxy-10-savehar.har", "credentials-rejected-at-token-endpoint", "credentials-rejected", "team/app"},
		{"httptoolkit-1.19.har", "rate-limited-toomanyrequests", "rate-limited", "library/busybox"},
	} {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "decode", "har", "testdata", c.file)
			rep, _ := explainHAR(t, path)
			p := rep.Primary
			if p == nil || p.Rule != c.rule || p.Verdict != c.verdict || p.Repo != c.repo {
				t.Errorf("primary %+v, want %s/%s on %s; findings:\n%s", p, c.rule, c.verdict, c.repo, rep)
			}
			var text, stderr bytes.Buffer
			if code := run(context.Background(), []string{"regtrace", "explain", "--no-color", path}, &text, &stderr); code != exitFound {
				t.Fatalf("explain: exit %d: %s", code, stderr.String())
			}
			sanitized := strings.Contains(stderr.String(), "exported without credentials")
			if sanitized != strings.HasPrefix(c.file, "chrome") {
				t.Errorf("sanitized note: %q", stderr.String())
			}
			if sanitized {
				if rep.finding("credentials-not-sent", "") != nil || rep.finding("basic-challenge-no-credentials", "") != nil {
					t.Errorf("a sanitized HAR proves no credentials were sent:\n%s", rep)
				}
				if !strings.Contains(p.CannotProve, "removed Authorization") || strings.Contains(p.Why, "anonymously") {
					t.Errorf("the finding claims what the HAR cannot show: %+v", p)
				}
			}
		})
	}
}

// mitmdump is mitmproxy's mitmdump with the HAR addon, started for a test.
type mitmdump struct {
	URL    string // proxy URL
	CACert string // mitmproxy's CA, generated in its confdir
	HAR    string
	cmd    *exec.Cmd
	logs   *lockedBuffer
}

func startMitmdump(t *testing.T, upstreamCA string, names ...string) *mitmdump {
	t.Helper()
	bin := need(t, "mitmdump")
	addon, err := filepath.Abs(filepath.Join("testdata", "mitmproxy", "har_addon.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	m := &mitmdump{
		URL: fmt.Sprintf("http://127.0.0.1:%d", port), CACert: filepath.Join(dir, "conf", "mitmproxy-ca-cert.pem"),
		HAR: filepath.Join(dir, "trace.har"), logs: &lockedBuffer{},
	}
	m.cmd = exec.Command(bin, "--listen-host", "127.0.0.1", "--listen-port", fmt.Sprint(port),
		"--set", "confdir="+filepath.Join(dir, "conf"), "--set", "ssl_verify_upstream_trusted_ca="+upstreamCA,
		"-s", addon, "--set", "regtrace_har="+m.HAR, "--set", "regtrace_resolve="+strings.Join(names, ","), "--flow-detail", "0")
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			if _, err := os.Stat(m.CACert); err == nil {
				return m
			}
		}
		select {
		case <-done:
			t.Fatalf("mitmdump exited: %s", m.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mitmdump did not start: %s", m.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMitmproxyHARExplained records real skopeo runs against distribution
// under token auth through mitmdump (mitmproxy's HAR, written by the test
// addon in savehar's format), then reads the HAR and explains it: wrong
// password, a missing tag with good credentials, and an anonymous pull of
// a private repository each get their rule.
func TestMitmproxyHARExplained(t *testing.T) {
	skopeo := need(t, "skopeo")
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	ts.Users = map[string]string{"admin": "admin-pw", "alice": "alice-pw"}
	ts.ACL = map[string]map[string][]string{"team/app": {"alice": {"pull"}, "admin": {"*"}}}
	authPort := startTLS(t, pki, ts)
	reg := startRegistry(t, pki, ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	host := fmt.Sprintf("registry.test:%d", reg.Port)
	seedImages(t, pki, host, "admin:admin-pw", "team/app")

	m := startMitmdump(t, pki.CA, "registry.test", "auth.test")
	env := clientEnv(t, m.URL, m.CACert)
	inspect := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, skopeo, append([]string{"inspect", "--raw"}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("skopeo %v succeeded: %s", args, out)
		}
	}
	inspect("--creds", "alice:wrong", "docker://"+host+"/team/app:1.0")
	inspect("--creds", "alice:alice-pw", "docker://"+host+"/team/app:nope")
	inspect("--no-creds", "docker://"+host+"/team/app:1.0")
	// A registry that is down: mitmproxy (connecting upstream when the
	// client sends CONNECT) answers the CONNECT with its own 502, and that
	// is the entry in its HAR.
	down := fmt.Sprintf("registry.test:%d", freePort(t))
	curl := exec.Command(need(t, "curl"), "-sS", "-o", "/dev/null", "--cacert", m.CACert, "-x", m.URL, "https://"+down+"/v2/")
	curl.Env = env
	if out, err := curl.CombinedOutput(); err == nil || !strings.Contains(string(out), "502") {
		t.Errorf("curl to a closed port: %v %s", err, out)
	}

	// The addon rewrites the file after each exchange; the last one is in
	// when the client has exited, but give mitmdump a moment to write it.
	var h *har.File
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		h, err = har.ReadFile(m.HAR)
		if err == nil && len(h.Log.Entries) >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAR %v (%v entries); mitmdump:\n%s", err, h, m.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if h.Log.Creator.Name != "mitmproxy" || h.Sanitized() {
		t.Errorf("creator %+v, sanitized %v", h.Log.Creator, h.Sanitized())
	}
	in, err := readHARInput(m.HAR)
	if err != nil {
		t.Fatal(err)
	}
	xs := in.Exchanges
	kinds := map[decode.Kind]int{}
	for _, x := range xs {
		kinds[x.Kind]++
		if x.Host == down {
			if r := x.Flow.Response; x.Flow.Request.Method != "CONNECT" || r == nil || r.Status != 502 || !strings.Contains(string(r.Body.Captured), "Cannot connect") {
				t.Errorf("the CONNECT to the down registry: %+v", x.Flow)
			}
			continue
		}
		if x.Flow.Upstream == nil || x.Flow.Upstream.ServerIP != "127.0.0.1" || x.Client.Program != "skopeo" {
			t.Errorf("flow %d: upstream %+v, client %+v", x.Flow.ID, x.Flow.Upstream, x.Client)
		}
	}
	if kinds[decode.KindPing] != 3 || kinds[decode.KindTokenRequest] < 3 || kinds[decode.KindManifestGet] < 2 {
		t.Errorf("kinds %v:\n%s", kinds, summarize(host, xs))
	}
	if tok := find(xs, decode.KindTokenRequest, ""); tok == nil || tok.TokenResponse == nil || tok.Registry != host {
		t.Errorf("token request not tied to the registry:\n%s", summarize(host, xs))
	}

	rep, _ := explainHAR(t, m.HAR)
	for _, want := range []struct{ rule, verdict string }{
		{"credentials-rejected-at-token-endpoint", "credentials-rejected"},
		{"not-found-is-real", "not-found"},
		{"insufficient-scope-ambiguous-denied", "unauthorized-ambiguous"},
	} {
		if f := rep.finding(want.rule, "team/app"); f == nil || f.Verdict != want.verdict {
			t.Errorf("no %s (%s) finding; findings:\n%s", want.rule, want.verdict, rep)
		}
	}
	if rep.finding("credentials-not-sent", "") != nil {
		t.Errorf("credentials-not-sent from a HAR that shows every Authorization:\n%s", rep)
	}
	// mitmproxy's own 502 to the CONNECT is where curl's run stopped.
	if f := rep.finding("registry-unreachable", ""); f == nil || f.Verdict != "transport-failure" {
		t.Errorf("no registry-unreachable finding for the down registry; findings:\n%s", rep)
	}
	t.Logf("mitmproxy HAR findings:\n%s", rep)
}

// nodeModules returns <repo>/.tools/node_modules holding every package
// named; under REGTRACE_E2E=1 a missing one fails the test (make test
// installs them).
func nodeModules(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", ".tools", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
			if os.Getenv("REGTRACE_E2E") == "1" {
				t.Fatalf("npm package %s is not in %s (make test installs it)", p, dir)
			}
			t.Skipf("npm package %s is not in %s; run make test", p, dir)
		}
	}
	return dir
}

// TestChromiumHARExplained drives headless Chromium through the DevTools
// protocol against distribution under token auth — the /v2/ ping, a token
// with Basic credentials, then a fetch() of a missing tag with the token —
// converts the Network events to a HAR with chrome-har, and checks what
// the reader and explain make of a real browser HAR: HTTP/2 with
// pseudo-headers, -1 sizes and timings, _initiator/_priority/_resourceType
// extensions, and the rule for a tag that really is not there.
func TestChromiumHARExplained(t *testing.T) {
	chromium := need(t, "chromium")
	node := need(t, "node")
	modules := nodeModules(t, "chrome-har")
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	ts.Users = map[string]string{"admin": "admin-pw", "alice": "alice-pw"}
	ts.ACL = map[string]map[string][]string{"team/app": {"alice": {"pull"}, "admin": {"*"}}}
	authPort := startTLS(t, pki, ts)
	reg := startRegistry(t, pki, ts.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))
	host := fmt.Sprintf("registry.test:%d", reg.Port)
	seedImages(t, pki, host, "admin:admin-pw", "team/app")

	dir := t.TempDir()
	harPath := filepath.Join(dir, "chromium.har")
	plan, _ := json.Marshal(map[string]string{
		"chromium": chromium, "modules": modules, "out": harPath,
		"hostRules": "MAP registry.test 127.0.0.1, MAP auth.test 127.0.0.1",
		"registry":  "https://" + host,
		"tokenURL":  fmt.Sprintf("https://auth.test:%d/token?account=alice&scope=repository:team/app:pull&service=registry.test", authPort),
		"basic":     "YWxpY2U6YWxpY2UtcHc=", // alice:alice-pw
		"manifest":  "/v2/team/app/manifests/nope",
	})
	planPath := filepath.Join(dir, "plan.json")
	os.WriteFile(planPath, plan, 0o600)
	script, _ := filepath.Abs(filepath.Join("testdata", "chromium", "capture_har.mjs"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, planPath)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("capture: %v\n%s", err, out)
	}
	t.Logf("capture: %s", bytes.TrimSpace(out))

	h, err := har.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	if h.Log.Creator.Name != "chrome-har" || h.Sanitized() {
		t.Errorf("creator %+v, sanitized %v (Authorization is in this HAR)", h.Log.Creator, h.Sanitized())
	}
	in, err := readHARInput(harPath)
	if err != nil {
		t.Fatal(err)
	}
	xs := in.Exchanges
	ping, tok, man := find(xs, decode.KindPing, ""), find(xs, decode.KindTokenRequest, ""), find(xs, decode.KindManifestGet, "team/app")
	if ping == nil || tok == nil || man == nil {
		t.Fatalf("decoded as:\n%s", summarize(host, xs))
	}
	if len(ping.Challenges) != 1 || tok.TokenRequest.Auth.User != "alice" || tok.TokenResponse == nil ||
		man.TokenFrom != tok.Flow.ID || status(man) != 404 || man.Errors.Errors[0].Code != "MANIFEST_UNKNOWN" {
		t.Errorf("decoded as:\n%s", summarize(host, xs))
	}
	for _, x := range xs {
		for k := range x.Flow.Request.Header {
			if strings.HasPrefix(k, ":") {
				t.Errorf("flow %d keeps pseudo-header %s", x.Flow.ID, k)
			}
		}
	}
	rep, _ := explainHAR(t, harPath)
	if f := rep.finding("not-found-is-real", "team/app"); f == nil || rep.Primary == nil || rep.Primary.Rule != "not-found-is-real" {
		t.Errorf("want not-found-is-real as the answer; findings:\n%s", rep)
	}
}
