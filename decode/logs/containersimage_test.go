package logs

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
)

var update = flag.Bool("update", false, "rewrite golden files")

// summary is what a reader made of a log, one line per flow: what the
// rules will read.
func summary(t *Trace) string {
	var b strings.Builder
	fmt.Fprintf(&b, "format=%s name=%q hidesAuth=%v image=%q command=%q credentialsFor=%v\n", t.Format, t.Name, t.HidesAuth, t.Image, t.Command, t.CredentialsFor)
	for _, e := range t.Errors {
		fmt.Fprintf(&b, "error: %s\n", strings.ReplaceAll(e, "\n", `\n`))
	}
	for _, f := range t.Flows {
		st := "no response"
		if r := f.Response; r != nil {
			st = fmt.Sprint(r.Status)
			if r.Inferred {
				st += " inferred"
			}
			if len(r.Body.Captured) > 0 {
				st += " body=" + string(r.Body.Captured)
			}
		}
		if f.Err != nil {
			st = fmt.Sprintf("err %s: %s", f.Err.Kind, f.Err.Message)
		}
		fmt.Fprintf(&b, "%s %s %s (%s) auth=%q challenge=%q ua=%q\n", f.ID, f.Request.Method, f.Request.URL, st,
			f.Request.Header.Get("Authorization"), respHeader(f, "Www-Authenticate"), f.Request.Header.Get("User-Agent"))
	}
	return b.String()
}

func respHeader(f *flow.Flow, name string) string {
	if f.Response == nil {
		return ""
	}
	return f.Response.Header.Get(name)
}

// Ports and temp paths differ between recordings: goldens compare what
// matters.
var volatile = regexp.MustCompile(`:\d{4,5}\b|/tmp/[A-Za-z0-9_./-]+`)

// TestContainersImageGoldens reads real skopeo and podman debug logs,
// recorded by the client suite (TestClients, REGTRACE_CLIENT_LOGS), and
// compares what the reader made of each with its golden file.
func TestContainersImageGoldens(t *testing.T) {
	checkGoldens(t, "containers-image", FormatContainersImage, 8, summary)
}

// The same log, however it was copied: on a terminal (DEBU[0000]), from a
// journal with its prefixes, with CRLF line ends or colour, gives the same
// flows.
func TestContainersImageCopiesOfOneLog(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "containers-image", "skopeo-anonymous-pull-of-a-missing-repository.log"))
	if err != nil {
		t.Fatal(err)
	}
	base := read(t, string(raw))
	logrusLine := regexp.MustCompile(`^time="[^"]*" level=(\w+) msg=(".*")$`)
	variants := map[string]func(string) string{
		"CRLF line ends": func(l string) string { return l + "\r" },
		"journald prefix": func(l string) string {
			return "Dec 04 16:58:45 node-7 crio[1234]: " + l
		},
		"journald ISO prefix": func(l string) string {
			return "2026-12-04T16:58:45+0000 node-7 skopeo[99]: " + l
		},
		"ANSI colour": func(l string) string { return "\x1b[36m" + l + "\x1b[0m" },
		"terminal format": func(l string) string {
			m := logrusLine.FindStringSubmatch(l)
			if m == nil {
				return l
			}
			msg := m[2]
			if u, err := strconv.Unquote(msg); err == nil {
				msg = u
			}
			return strings.ToUpper(m[1][:4]) + "[0000] " + msg
		},
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			var ls []string
			for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				ls = append(ls, v(l))
			}
			got := read(t, strings.Join(ls, "\n"))
			if a, b := flowsOnly(summary(got)), flowsOnly(summary(base)); a != b {
				t.Errorf("flows differ from the plain log\n--- got\n%s--- want\n%s", a, b)
			}
		})
	}
}

func flowsOnly(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func read(t *testing.T, s string) *Trace {
	t.Helper()
	tr, err := Read(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Hand-written logs of the class, unlike the recorded ones.
func TestContainersImageCases(t *testing.T) {
	for _, c := range []struct {
		name, log string
		want      []string // substrings of the summary
	}{
		{
			name: "a rate limit after the token, with podman's multi-line Error",
			log: `time="2026-01-01T00:00:00Z" level=debug msg="Trying to access \"docker.io/library/busybox:latest\""
time="2026-01-01T00:00:00Z" level=debug msg="No credentials for docker.io found"
time="2026-01-01T00:00:00Z" level=debug msg="GET https://registry-1.docker.io/v2/"
time="2026-01-01T00:00:00Z" level=debug msg="Ping https://registry-1.docker.io/v2/ status 401"
time="2026-01-01T00:00:00Z" level=debug msg="GET https://auth.docker.io/token?scope=repository%3Alibrary%2Fbusybox%3Apull&service=registry.docker.io"
time="2026-01-01T00:00:00Z" level=debug msg="GET https://registry-1.docker.io/v2/library/busybox/manifests/latest"
Error: initializing source docker://busybox:latest: reading manifest latest in docker.io/library/busybox: toomanyrequests: You have reached your pull rate limit.
 You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit`,
			want: []string{`#3 GET https://registry-1.docker.io/v2/library/busybox/manifests/latest (429 inferred body={"errors":[{"code":"TOOMANYREQUESTS"`,
				`#1 GET https://registry-1.docker.io/v2/ (401 inferred) auth="" challenge="Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\""`,
				`name="podman debug log"`, `hidesAuth=false`},
		},
		{
			name: "a ping that fails on TLS",
			log: `DEBU[0000] Trying to access "registry.corp:5000/app:1"
DEBU[0000] GET https://registry.corp:5000/v2/
DEBU[0000] Ping https://registry.corp:5000/v2/ err Get "https://registry.corp:5000/v2/": x509: certificate signed by unknown authority (&url.Error{Op:"Get"})
FATA[0000] Error parsing image name "docker://registry.corp:5000/app:1": pinging container registry registry.corp:5000: Get "https://registry.corp:5000/v2/": x509: certificate signed by unknown authority`,
			want: []string{`#1 GET https://registry.corp:5000/v2/ (err tls-unknown-authority`},
		},
		{
			name: "a token server that refuses the credentials found in a helper",
			log: `time="t" level=debug msg="Found credentials for ghcr.io/acme/app in credential helper containers-auth.json in file /run/user/0/containers/auth.json"
time="t" level=debug msg="GET https://ghcr.io/v2/"
time="t" level=debug msg="Ping https://ghcr.io/v2/ status 401"
time="t" level=debug msg="GET https://ghcr.io/token?account=bot&scope=repository%3Aacme%2Fapp%3Apull&service=ghcr.io"
time="t" level=fatal msg="initializing source docker://ghcr.io/acme/app:1: unable to retrieve auth token: invalid username/password: denied: denied"`,
			want: []string{`#2 GET https://ghcr.io/token?account=bot&scope=repository%3Aacme%2Fapp%3Apull&service=ghcr.io (401 inferred) auth="Basic REDACTED(user=)"`,
				`credentialsFor=[ghcr.io]`},
		},
		{
			name: "a log that shows no request, only the final error, still ends in a failure",
			log: `time="t" level=debug msg="Trying to access \"quay.io/org/app:1\""
time="t" level=fatal msg="Error parsing image name \"docker://quay.io/org/app:1\": something went wrong"`,
			want: []string{`error: Error parsing image name`},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := summary(read(t, c.log))
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary lacks %s\n%s", w, got)
				}
			}
		})
	}
}

func TestUnknownFormatNamesTheKnownOnes(t *testing.T) {
	_, err := Read(strings.NewReader("hello\nworld\n"))
	if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), string(FormatContainersImage)) {
		t.Errorf("Read(text) = %v, want ErrUnknownFormat naming %s", err, FormatContainersImage)
	}
}

// FuzzRead: reading is total. Any input gives a Trace or ErrUnknownFormat,
// never a panic; every flow has a method and an absolute URL, and flow IDs
// count from 1.
func FuzzRead(f *testing.F) {
	fuzzReader(f, "*",
		"DEBU[0000] GET https://a/v2/\nDEBU[0000] Ping https://a/v2/ status 401\nError: x\n y",
		`time="t" level=debug msg="Trying to access \"a/b:c\""`+"\n"+`time="t" level=debug msg="GET http://%zz"`)
}

// A line longer than maxLine is cut, not an error: the lines after it are
// read.
func TestLongLineIsCutNotAnError(t *testing.T) {
	log := `time="t" level=debug msg="Trying to access \"registry.test/a:1\""` + "\n" +
		`time="t" level=debug msg="` + strings.Repeat("x", 3*maxLine) + `"` + "\n" +
		`time="t" level=debug msg="GET https://registry.test/v2/"` + "\n"
	tr := read(t, log)
	if len(tr.Flows) != 1 || tr.Flows[0].Request.URL.Path != "/v2/" {
		t.Errorf("flows after a long line: %s", summary(tr))
	}
}

// checkGoldens reads every testdata/DIR/*.log (at least least files), which
// must be read as format, and compares what the reader made of each, as
// summarize says it, with its .golden file (-update rewrites them). Every
// reader's goldens run through here.
func checkGoldens(t *testing.T, dir string, format Format, least int, summarize func(*Trace) string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
	if err != nil || len(files) < least {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tr := read(t, string(raw))
			if tr.Format != format {
				t.Fatalf("format %s, want %s", tr.Format, format)
			}
			checkFlows(t, tr)
			got := volatile.ReplaceAllString(summarize(tr), ":PORT")
			golden := strings.TrimSuffix(f, ".log") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./decode/logs -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test ./decode/logs -update rewrites it)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// fuzzReader is every reader's fuzz property, seeded with the fixtures of
// testdata/DIR and seeds: Read is total (a Trace, or ErrUnknownFormat for
// what no reader recognises), and every flow has its number, a method, an
// absolute URL with a host, an answer or an error, and a bounded capture.
func fuzzReader(f *testing.F, dir string, seeds ...string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.log"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := Read(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("error %v", err)
			}
			return
		}
		for i, fl := range tr.Flows {
			u := fl.Request.URL
			if fl.ID != flow.ID(i+1) || fl.Request.Method == "" || u == nil || !u.IsAbs() || u.Host == "" || fl.Response == nil && fl.Err == nil {
				t.Fatalf("flow %d: %+v", i, fl)
			}
			if fl.Response != nil && len(fl.Response.Body.Captured) > 2*maxCapture {
				t.Fatalf("flow %d: %d bytes captured", i, len(fl.Response.Body.Captured))
			}
		}
	})
}

// fixture reads testdata/DIR/NAME.
func fixture(t *testing.T, dir, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestCIFlagUser: the user of credentials given in flags, however written;
// a password never, and no user when flags name different ones.
func TestCIFlagUser(t *testing.T) {
	for text, want := range map[string]string{
		`Called pull.PersistentPreRunE(podman --log-level=debug pull --creds alice:pw r.test/a:1)`: "alice",
		`Called pull.PersistentPreRunE(/usr/bin/podman pull --creds=bob:p:w:d r.test/a:1)`:         "bob",
		`Called pull.PersistentPreRunE(podman pull --creds carol r.test/a:1)`:                      "carol",
		`skopeo copy --src-creds dave:x --dest-creds dave:y docker://a docker://b`:                 "dave",
		`skopeo copy --src-creds dave:x --dest-creds erin:y docker://a docker://b`:                 "",
		`Called login.PersistentPreRunE(podman login --username "frank" r.test)`:                   "frank",
		`Called pull.PersistentPreRunE(podman pull --creds)`:                                       "",
		`Called pull.PersistentPreRunE(podman pull --creds --tls-verify=false r.test/a)`:           "",
		`Called pull.PersistentPreRunE(podman pull -creds x:y r.test/a)`:                           "",
		`Called pull.PersistentPreRunE(podman pull --credsfile x r.test/a)`:                        "",
		`Called pull.PersistentPreRunE(podman pull --creds :pw r.test/a)`:                          "",
	} {
		if got := ciFlagUser(text); got != want {
			t.Errorf("%s: user %q, want %q", text, got, want)
		}
	}
}
