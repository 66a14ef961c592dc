package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHARSurvivesKill9 runs `regtrace proxy --har` in a child process (this
// test binary re-executed), sends exchanges through it, kills it with
// SIGKILL, and explains the file it left: every completed exchange is there.
func TestHARSurvivesKill9(t *testing.T) {
	if os.Getenv("REGTRACE_CRASH_CHILD") == "1" {
		os.Exit(run(context.Background(), strings.Split(os.Getenv("REGTRACE_CRASH_ARGS"), "\x1f"), os.Stdout, os.Stderr))
	}
	origin := newPlainOrigin(t)
	dir := t.TempDir()
	harPath := filepath.Join(dir, "crash.har")
	args := []string{"regtrace", "proxy", "--listen", "127.0.0.1:0", "--ca-dir", filepath.Join(dir, "ca"), "--no-color",
		"--har", harPath, "--resolve", "plain.test=" + origin.addr}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHARSurvivesKill9$")
	cmd.Env = append(os.Environ(), "REGTRACE_CRASH_CHILD=1", "REGTRACE_CRASH_ARGS="+strings.Join(args, "\x1f"))
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	m := waitFor(t, "the child proxy", &stderr, regexp.MustCompile(`proxy listening on (http://\S+)`), 20*time.Second)
	pu, _ := url.Parse(m[1])
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	const n = 5
	for i := range n {
		resp, err := client.Get(fmt.Sprintf("http://plain.test:%s/v2/team/app/manifests/%d", origin.port, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// The flow is written after the body is relayed: wait until the file has them all.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(harPath)
		if strings.Count(string(b), `"startedDateTime"`) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"regtrace", "explain", "--format", "json", harPath}, &out, &errb); code != exitOK && code != exitFound {
		t.Fatalf("explain after kill -9: exit %d: %s", code, errb.String())
	}
	var rep struct {
		Operations []struct{ Flows []int }
	}
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("explain --format json: %v\n%s", err, out.String())
	}
	var got []int
	for _, op := range rep.Operations {
		got = append(got, op.Flows...)
	}
	if len(got) != n {
		t.Errorf("after kill -9 the HAR holds flows %v, want %d of them", got, n)
	}
}
