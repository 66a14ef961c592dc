package logs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDockerdGoldens reads real dockerd debug logs, recorded by the client
// suite (TestClients, REGTRACE_CLIENT_LOGS: the daemon's lines written
// during one docker command, then the CLI's output), and hand-written ones
// in the wording of other versions (1.7's info-level API call, 17.03's V1
// fallback and "does not exist or no pull access", 25+'s error= fields,
// JSON, journald prefixes, the CLI's output alone), and compares what the
// reader made of each with its golden file.
func TestDockerdGoldens(t *testing.T) {
	checkGoldens(t, "dockerd", FormatDockerd, 20, summary)
}

// The same dockerd log, however it was copied — from journalctl with its
// prefixes, with CRLF line ends, with colour, on a terminal (DEBU[0000] and
// padded fields), or written as JSON (--log-format=json) — gives the same
// flows, for every recorded log.
func TestDockerdCopiesOfOneLog(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "dockerd", "*.log"))
	logrusLine := regexp.MustCompile(`^time="([^"]*)" level=(\w+) msg=("(?:[^"\\]|\\.)*")(.*)$`)
	field := regexp.MustCompile(`([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)`)
	unquote := func(s string) string {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s
	}
	variants := map[string]func(string) string{
		"CRLF line ends":      func(l string) string { return l + "\r" },
		"journald prefix":     func(l string) string { return "Dec 04 18:25:00 node-7 dockerd[1234]: " + l },
		"journald ISO prefix": func(l string) string { return "2026-12-04T18:25:00+0000 node-7 dockerd[1234]: " + l },
		"ANSI colour":         func(l string) string { return "\x1b[37m" + l + "\x1b[0m" },
		"terminal format": func(l string) string {
			m := logrusLine.FindStringSubmatch(l)
			if m == nil {
				return l
			}
			msg := unquote(m[3])
			if f := strings.TrimSpace(m[4]); f != "" {
				msg = msg + strings.Repeat(" ", max(1, 44-len(msg))) + " " + f
			}
			return "\x1b[37m" + strings.ToUpper(m[2][:4]) + "\x1b[0m[0000] " + msg
		},
		"JSON format": func(l string) string {
			m := logrusLine.FindStringSubmatch(l)
			if m == nil {
				return l
			}
			o := map[string]any{"time": m[1], "level": m[2], "msg": unquote(m[3])}
			for _, f := range field.FindAllStringSubmatch(m[4], -1) {
				o[f[1]] = unquote(f[2])
			}
			b, _ := json.Marshal(o)
			return string(b)
		},
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !logrusLine.MatchString(strings.SplitN(string(raw), "\n", 2)[0]) {
			continue // not logrus text: the hand-written other formats
		}
		base := flowsOnly(summary(read(t, string(raw))))
		for name, v := range variants {
			t.Run(filepath.Base(file)+"/"+name, func(t *testing.T) {
				var ls []string
				for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
					ls = append(ls, v(l))
				}
				got := read(t, strings.Join(ls, "\n"))
				if got.Format != FormatDockerd {
					t.Fatalf("read as %s", got.Format)
				}
				if a := flowsOnly(summary(got)); a != base {
					t.Errorf("flows differ from the plain log\n--- got\n%s\n--- want\n%s", a, base)
				}
			})
		}
	}
}

// Hand-written logs of the classes dockerd's errors fall in.
func TestDockerdCases(t *testing.T) {
	const (
		call = `time="t" level=debug msg="Calling POST /v1.41/images/create?fromImage=reg.example%2Fteam%2Fapp&tag=1"` + "\n"
		try  = `time="t" level=debug msg="Trying to pull reg.example/team/app from https://reg.example v2"` + "\n"
	)
	for _, c := range []struct {
		name, log string
		want      []string // substrings of the summary
		not       []string
	}{
		{"a mirror that fails, then the registry that answers: one ping each, the error on the mirror's",
			`time="t" level=debug msg="Calling POST /v1.41/images/create?fromImage=library%2Fbusybox&tag=1.36"
time="t" level=debug msg="Trying to pull busybox from https://mirror.example v2"
time="t" level=info msg="Attempting next endpoint for pull after error: Get \"https://mirror.example/v2/\": dial tcp 10.0.0.9:443: i/o timeout"
time="t" level=debug msg="Trying to pull busybox from https://registry-1.docker.io v2"
time="t" level=debug msg="Pulling ref from V2 registry: busybox:1.36"
time="t" level=debug msg="pulling blob \"sha256:aa\""
Status: Downloaded newer image for busybox:1.36`,
			[]string{"#1 GET https://mirror.example/v2/ (err timeout", "#2 GET https://registry-1.docker.io/v2/ (0 inferred)",
				"#3 HEAD https://registry-1.docker.io/v2/library/busybox/manifests/1.36 (200 inferred)",
				"#4 GET https://registry-1.docker.io/v2/library/busybox/blobs/sha256:aa (200 inferred)"}, nil},
		{"the token server refuses a password: the token request, with credentials, refused",
			call + try + `time="t" level=error msg="Handler for POST /v1.41/images/create returned error: Head \"https://reg.example/v2/team/app/manifests/1\": unauthorized: incorrect username or password"`,
			[]string{"#2 GET https://token-server.not-in-the-log/token?scope=repository%3Ateam%2Fapp%3Apull (401 inferred", `auth="Basic REDACTED(user=)"`, "credentialsFor=[reg.example]"},
			[]string{"#3"}},
		{"a Basic challenge and no credentials: the request was never sent",
			call + try + `time="t" level=info msg="Attempting next endpoint for pull after error: Head \"https://reg.example/v2/team/app/manifests/1\": no basic auth credentials"`,
			[]string{`#1 GET https://reg.example/v2/ (401 inferred) auth="" challenge="Basic"`, "hidesAuth=false"}, []string{"#2"}},
		{"the realm unreachable: its URL names it, account= says credentials went",
			call + try + `time="t" level=info msg="Attempting next endpoint for pull after error: Head \"https://reg.example/v2/team/app/manifests/1\": Get \"https://auth.example/token?account=bob&scope=repository%3Ateam%2Fapp%3Apull&service=reg\": dial tcp: lookup auth.example: no such host"`,
			[]string{`#1 GET https://reg.example/v2/ (401 inferred) auth="" challenge="Bearer realm=\"https://auth.example/token\",service=\"reg\""`,
				`#2 GET https://auth.example/token?account=bob&scope=repository%3Ateam%2Fapp%3Apull&service=reg (err dns`, `auth="Basic REDACTED(user=)"`}, nil},
		{"a blob download that fails: the manifest was fetched, the blob failed",
			call + try + `time="t" level=debug msg="Pulling ref from V2 registry: reg.example/team/app:1"
time="t" level=debug msg="pulling blob \"sha256:bb\""
time="t" level=error msg="Not continuing with pull after error: Get \"https://reg.example/v2/team/app/blobs/sha256:bb\": net/http: TLS handshake timeout"`,
			[]string{"#2 HEAD https://reg.example/v2/team/app/manifests/1 (200 inferred)", "#3 GET https://reg.example/v2/team/app/blobs/sha256:bb (err tls: net/http: TLS handshake timeout"}, nil},
		{"a log with no pull in it and the CLI's error only: the manifest carries it",
			"Error response from daemon: manifest for reg.example/team/app:2 not found: manifest unknown: manifest unknown",
			[]string{`#3 GET https://reg.example/v2/team/app/manifests/2 (404 inferred body={"errors":[{"code":"MANIFEST_UNKNOWN"`}, nil},
		{"two pulls in one journal: each its own requests, the first one's success kept",
			`Dec 04 10:00:00 h dockerd[1]: time="t" level=debug msg="Calling POST /v1.41/images/create?fromImage=reg.example%2Fteam%2Fa&tag=1"
Dec 04 10:00:00 h dockerd[1]: time="t" level=debug msg="Trying to pull reg.example/team/a from https://reg.example v2"
Dec 04 10:00:00 h dockerd[1]: time="t" level=debug msg="Pulling ref from V2 registry: reg.example/team/a:1"
Dec 04 10:00:01 h dockerd[1]: time="t" level=debug msg="Calling POST /v1.41/images/create?fromImage=reg.example%2Fteam%2Fb&tag=2"
Dec 04 10:00:01 h dockerd[1]: time="t" level=debug msg="Trying to pull reg.example/team/b from https://reg.example v2"
Dec 04 10:00:01 h dockerd[1]: time="t" level=info msg="Attempting next endpoint for pull after error: manifest unknown: manifest unknown"`,
			[]string{"#2 HEAD https://reg.example/v2/team/a/manifests/1 (200 inferred)", "#5 GET https://reg.example/v2/team/b/manifests/2 (404 inferred"},
			[]string{"team/a/manifests/1 (0", "team/a/manifests/1 (404"}},
		{"a push that mounts one layer and uploads another, then tags",
			`time="t" level=debug msg="Calling POST /v1.41/images/reg.example/team/b/push?tag=3"
time="t" level=debug msg="Trying to push reg.example/team/b to https://reg.example v2"
time="t" level=debug msg="Pushing repository: reg.example/team/b:3"
time="t" level=debug msg="Checking for presence of layer sha256:d1 (sha256:b1) in reg.example/team/b"
time="t" level=debug msg="attempting to mount layer sha256:d1 (sha256:b1) from reg.example/team/a"
time="t" level=debug msg="Checking for presence of layer sha256:d2 (sha256:b2) in reg.example/team/b"
time="t" level=debug msg="Pushing layer: sha256:d2"
time="t" level=debug msg="uploaded layer sha256:d2 (sha256:b2), 42 bytes"
3: digest: sha256:0000000000000000000000000000000000000000000000000000000000000000 size: 1`,
			[]string{"POST https://reg.example/v2/team/b/blobs/uploads/?mount=sha256%3Ab1&from=team%2Fa", "PUT https://reg.example/v2/team/b/blobs/uploads/?digest=sha256%3Ab2 (201 inferred)",
				"PUT https://reg.example/v2/team/b/manifests/3 (201 inferred)"}, nil},
		{"an error dockerd words its own way still fails somewhere",
			call + try + `time="t" level=error msg="Not continuing with pull after error: something odd happened"`,
			[]string{"err other: the client failed here: something odd happened"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := read(t, c.log)
			if tr.Format != FormatDockerd {
				t.Fatalf("read as %s", tr.Format)
			}
			checkFlows(t, tr)
			got := summary(tr)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary lacks %s\n%s", w, got)
				}
			}
			for _, w := range c.not {
				if strings.Contains(got, w) {
					t.Errorf("summary has %s\n%s", w, got)
				}
			}
		})
	}
}

// What dockerd logs that is secret never reaches what regtrace prints:
// form data of an API call that dockerd does not mask (identitytoken), a
// signed blob URL in an error, a registry token quoted in an error, a
// password given on a pasted command line.
func TestDockerdRedactsWhatItPrints(t *testing.T) {
	const log = `$ docker login -u alice --password hunter2-SECRET0 reg.example
time="t" level=debug msg="Calling POST /v1.41/auth"
time="t" level=debug msg="form data: {\"identitytoken\":\"SECRET1\",\"password\":\"*****\",\"serveraddress\":\"reg.example\",\"username\":\"alice\"}"
time="t" level=debug msg="Calling POST /v1.41/images/create?fromImage=reg.example%2Fteam%2Fapp&tag=1"
time="t" level=debug msg="Trying to pull reg.example/team/app from https://reg.example v2"
time="t" level=debug msg="Pulling ref from V2 registry: reg.example/team/app:1"
time="t" level=debug msg="pulling blob \"sha256:cc\""
time="t" level=error msg="Not continuing with pull after error: Get \"https://blobs.example/data?X-Amz-Signature=SECRET2&X-Amz-Credential=SECRET3\": dial tcp: i/o timeout"
Error response from daemon: Get "https://blobs.example/data?X-Amz-Signature=SECRET2&X-Amz-Credential=SECRET3": dial tcp: i/o timeout (Authorization: Bearer SECRET4)`
	tr := read(t, log)
	var out []string
	out = append(out, tr.Errors...)
	out = append(out, tr.Command, tr.Image)
	for _, f := range tr.Flows {
		if f.Err != nil {
			out = append(out, f.Err.Message)
		}
	}
	all := strings.Join(out, "\n")
	for _, s := range []string{"SECRET0", "SECRET1", "SECRET2", "SECRET3", "SECRET4"} {
		if strings.Contains(all, s) {
			t.Errorf("%s survives in what the reader keeps:\n%s", s, all)
		}
	}
	if !strings.Contains(summary(tr), "blobs.example") {
		t.Errorf("the failing blob request is lost:\n%s", summary(tr))
	}
}

// FuzzDockerdRead: reading a dockerd log is total (fuzzReader's property),
// seeded with the fixtures and fragments of each message the reader keys on.
func FuzzDockerdRead(f *testing.F) {
	fuzzReader(f, "dockerd",
		"Error response from daemon: Head \"https://a/v2/b/manifests/c\": Get \"http://%zz\": x",
		"DEBU[0000] Trying to push a to https://b v1\nERRO[0000] Not continuing with push after error: errors:\nx\ny",
		`{"level":"debug","msg":"handling POST request","request-url":"/v1.47/images/x/push?tag=@"}`+"\n"+`{"level":"info","msg":"Attempting next endpoint for pull after error"}`,
		`time="t" level=debug msg="Calling POST /v1.41/auth"`+"\n"+`time="t" level=debug msg="form data: {\"serveraddress\":\"::\"}"`+"\n"+"Error response from daemon: login attempt to http://%zz failed with status: 999",
		`time="t" level=debug msg="Checking for presence of layer sha256:a (sha256:b) in c"`+"\n"+`time="t" level=debug msg="attempting to mount layer sha256:a (sha256:b) from :::"`+"\n"+"a: Mounted from x\nerrors:",
	)
}
