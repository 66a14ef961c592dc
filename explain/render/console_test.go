package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

const planted = "s3cr3t-PLANTED"

func consoleFlows() []*flow.Flow {
	return flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA("skopeo/1.9.3").Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
		flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test&password="+planted).
			Basic("alice", planted).Status(200).JSON(`{"token":"opaque-`+planted+`"}`),
		flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").Bearer("opaque-"+planted).Status(200).
			RespHeader("Content-Length", "1234"),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:abc").Status(307).
			Location("https://s3.test/blob?X-Amz-Signature="+planted+"&X-Amz-Expires=300"),
		flowtest.Get("https://s3.test/blob?X-Amz-Signature="+planted+"&X-Amz-Expires=300").Status(200).Blob(3<<20),
		flowtest.Get("https://down.test:5000/v2/").Err(flow.ErrRefused, "upstream down.test:5000 refused the connection"),
	)
}

func render(opts ConsoleOptions) string {
	var b strings.Builder
	c := NewConsole(&b, opts)
	for _, f := range consoleFlows() {
		c.Flow(f)
	}
	c.HandshakeFailure(flow.HandshakeFailure{Time: flowtest.Epoch, ClientAddr: "127.0.0.1:4000", Target: "registry.test:443",
		ServerName: "registry.test", Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"})
	return b.String()
}

func TestConsolePlain(t *testing.T) {
	got := render(ConsoleOptions{})
	golden(t, "console.golden", got)
	if strings.Contains(got, planted) {
		t.Errorf("a planted secret was printed:\n%s", got)
	}
	if strings.Contains(got, "\x1b[") {
		t.Error("escape codes without Color")
	}
}

func TestConsoleVerboseColor(t *testing.T) {
	got := render(ConsoleOptions{Color: true, Verbose: true})
	golden(t, "console-verbose-color.golden", strings.ReplaceAll(got, "\x1b", `\e`))
	if strings.Contains(got, planted) {
		t.Errorf("a planted secret was printed:\n%s", got)
	}
	if !strings.Contains(got, "\x1b[") {
		t.Error("no escape codes with Color")
	}
}

func TestConsoleNoRedact(t *testing.T) {
	if got := render(ConsoleOptions{NoRedact: true, Verbose: true}); !strings.Contains(got, planted) {
		t.Error("NoRedact still redacted")
	}
}

func TestConsoleExchanges(t *testing.T) {
	flows := append(consoleFlows(), flowtest.Seq(
		flowtest.Get("https://registry-1.docker.io/v2/nginx/manifests/latest").UA("docker/24.0.5").Status(401).
			Challenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:nginx:pull"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"nginx","Action":"pull"}]}]}`),
		flowtest.Get("https://auth.docker.io/token?scope=repository%3Anginx%3Apull&service=registry.docker.io").Status(200).
			JSON(`{"token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOltdLCJzdWIiOiIifQ.`+planted+`"}`),
		flowtest.Get("https://registry-1.docker.io/v2/nginx/manifests/latest").
			Bearer("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2Nlc3MiOltdLCJzdWIiOiIifQ."+planted).Status(401).
			Challenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:nginx:pull",error="insufficient_scope"`),
	)...)
	var b strings.Builder
	c := NewConsole(&b, ConsoleOptions{})
	s := decode.NewSession()
	for i, f := range flows {
		f.ID = flow.ID(i + 1)
		c.Exchange(s.Decode(f))
	}
	got := b.String()
	golden(t, "console-exchanges.golden", got)
	if strings.Contains(got, planted) {
		t.Errorf("a planted secret was printed:\n%s", got)
	}
	for _, want := range []string{"granted nothing", "token lacks repository:nginx:pull", "(registry name library/nginx)", "token from #8"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestDurationAndSize(t *testing.T) {
	for d, want := range map[time.Duration]string{-1: "-", 500 * time.Microsecond: "500µs", 12 * time.Millisecond: "12ms", 12 * time.Second: "12.0s"} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1.0KiB", 3 << 20: "3.0MiB", 5 << 30: "5.0GiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConsolePeers(t *testing.T) {
	got := render(ConsoleOptions{Peers: true})
	lines := 0
	for _, l := range strings.Split(got, "\n") {
		if l == "" || strings.HasPrefix(l, " ") {
			continue // a line's continuation (its meaning)
		}
		lines++
		if !strings.HasPrefix(l, "[localhost] ") {
			t.Errorf("line without its client: %q", l)
		}
	}
	if lines == 0 {
		t.Fatal("nothing printed")
	}
	if plain := render(ConsoleOptions{}); strings.Contains(plain, "[localhost]") {
		t.Error("a peer label without Peers")
	}
}
