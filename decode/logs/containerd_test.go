package logs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCtrGoldens reads real `ctr --debug images pull` output, with and
// without --http-dump (containerd 1.6.20, recorded through the regtrace
// proxy against the client suite's registries; the HAR of each run is
// beside it), and compares what the reader made of each with its golden.
func TestCtrGoldens(t *testing.T) {
	checkGoldens(t, "ctr", FormatCtr, 20, summary)
}

// TestContainerdGoldens reads containerd daemon logs: real ones of CRI
// pulls (crictl against containerd 1.6.20 at debug level, text and JSON,
// through the regtrace proxy, the HAR of each text run beside it:
// containerd-cri-*), and the recorded ctr runs' resolver lines as the
// daemon writes them, hand-varied (journald-prefixed, at info level with
// only the errors, containerd 2.x's wordings).
func TestContainerdGoldens(t *testing.T) {
	checkGoldens(t, "containerd", FormatContainerd, 8, summary)
}

// The same log, however it was copied: with CRLF, ANSI colour, journald
// prefixes, logrus's terminal form, fields in another order, or as JSON,
// gives the same flows.
func TestContainerdCopiesOfOneLog(t *testing.T) {
	for _, name := range []string{"ctr/ctr-wrong-password.log", "ctr/ctr-nodump-wrong-password.log", "ctr/ctr-good-pull.log",
		"ctr/ctr-nodump-anonymous-pull-of-a-missing-repository.log", "containerd/containerd-cri-text-wrong-password.log", "containerd/containerd-cri-text-good-pull.log",
		"containerd/dockerd-29-containerd-store-private-repository-without-credentials.log"} {
		dir, file, _ := strings.Cut(name, "/")
		raw := fixture(t, dir, file)
		base := read(t, raw)
		variants := map[string]func(string) string{
			"CRLF line ends":  func(l string) string { return l + "\r" },
			"journald prefix": func(l string) string { return "Dec 04 16:58:45 node-7 ctr[1234]: " + l },
			"ANSI colour":     func(l string) string { return "\x1b[36m" + l + "\x1b[0m" },
			"fields reversed": reverseLogrus,
			"JSON":            logrusToJSON,
			"terminal form":   logrusTerminal,
		}
		for vn, v := range variants {
			t.Run(name+"/"+vn, func(t *testing.T) {
				var ls []string
				for _, l := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
					ls = append(ls, v(l))
				}
				got := read(t, strings.Join(ls, "\n"))
				if got.Format != base.Format {
					t.Fatalf("format %s, want %s", got.Format, base.Format)
				}
				if a, b := flowsOnly(summary(got)), flowsOnly(summary(base)); a != b {
					t.Errorf("flows differ from the plain log\n--- got\n%s\n--- want\n%s", a, b)
				}
			})
		}
	}
}

var logrusRec = regexp.MustCompile(`^time=`)

// logrusFields splits a logfmt record into its key=value fields.
func logrusFields(l string) []string {
	r := rcParse(l, 0)
	if r == nil {
		return nil
	}
	var out []string
	for i := 0; i < len(l); {
		for i < len(l) && l[i] == ' ' {
			i++
		}
		j := strings.IndexByte(l[i:], '=')
		if j < 0 {
			break
		}
		_, next := rcValue(l, i+j+1)
		out = append(out, l[i:next])
		i = next
	}
	return out
}

func reverseLogrus(l string) string {
	if !logrusRec.MatchString(l) {
		return l
	}
	f := logrusFields(l)
	if f == nil {
		return l
	}
	slices.Reverse(f)
	return strings.Join(f, " ")
}

func logrusToJSON(l string) string {
	if !logrusRec.MatchString(l) {
		return l
	}
	r := rcParse(l, 0)
	if r == nil {
		lv, _ := logfmtValue(l, "level")
		return `{"level":"` + lv + `","msg":"","time":"2026-12-04T18:41:55Z"}`
	}
	b, _ := json.Marshal(r.f)
	return string(b)
}

func logrusTerminal(l string) string {
	if !logrusRec.MatchString(l) {
		return l
	}
	r := rcParse(l, 0)
	lv, _ := logfmtValue(l, "level")
	abbr := strings.ToUpper(lv)
	if len(abbr) > 4 {
		abbr = abbr[:4]
	}
	if r == nil {
		return abbr + "[0000] "
	}
	s := abbr + "[0000] " + r.f["msg"]
	if len(r.f["msg"]) < 44 {
		s += strings.Repeat(" ", 44-len(r.f["msg"]))
	}
	var keys []string
	for k := range r.f {
		if k != "msg" && k != "time" && k != "level" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := r.f[k]
		if strings.ContainsAny(v, " \"=") || v == "" {
			v = strconv.Quote(v)
		}
		s += "  " + k + "=" + v
	}
	return s
}

// What the reader makes of a log, case by case.
func TestContainerdWhatTheLogShows(t *testing.T) {
	t.Run("http-dump: token requests, forms and Authorization, redacted", func(t *testing.T) {
		tr := read(t, fixture(t, "ctr", "ctr-wrong-password.log"))
		if tr.HidesAuth {
			t.Error("a full dump hides no Authorization")
		}
		var post, get bool
		for _, f := range tr.Flows {
			if f.Request.Method == "POST" && strings.HasSuffix(f.Request.URL.Path, "/token") {
				post = true
				body := string(f.Request.Body.Captured)
				if !strings.Contains(body, "grant_type=password") || !strings.Contains(body, "username=alice") || strings.Contains(body, "not-the-password") {
					t.Errorf("POST form %q", body)
				}
				if f.Response == nil || f.Response.Status != 401 || f.Response.Inferred {
					t.Errorf("POST answer %+v", f.Response)
				}
			}
			if f.Request.Method == "GET" && strings.HasSuffix(f.Request.URL.Path, "/token") {
				get = true
				if a := f.Request.Header.Get("Authorization"); a != "Basic REDACTED(user=alice)" {
					t.Errorf("GET fallback Authorization %q", a)
				}
			}
		}
		if !post || !get {
			t.Errorf("token requests: POST %v, GET with Basic %v", post, get)
		}
	})
	t.Run("http-dump without --debug: the dumps alone", func(t *testing.T) {
		var ls []string
		for _, l := range strings.Split(fixture(t, "ctr", "ctr-wrong-password.log"), "\n") {
			if !strings.Contains(l, "level=debug") {
				ls = append(ls, l)
			}
		}
		tr := read(t, strings.Join(ls, "\n"))
		s := summary(tr)
		if tr.Format != FormatCtr || tr.HidesAuth || !strings.Contains(s, "POST https://auth.test") ||
			!strings.Contains(s, `(401) auth="Basic REDACTED(user=alice)"`) || !strings.Contains(s, "HEAD https://registry.test") {
			t.Errorf("%s", s)
		}
	})
	t.Run("debug log only: a token obtained is put back, its credentials unknown", func(t *testing.T) {
		tr := read(t, fixture(t, "ctr", "ctr-nodump-anonymous-pull-of-a-missing-repository.log"))
		if !tr.HidesAuth {
			t.Error("whether the token was asked for with credentials is not in the log")
		}
		fl := tr.Flows
		if len(fl) < 3 || fl[1].Request.URL.Path != "/token" || fl[1].Response.Status != 200 || !fl[1].Response.Inferred ||
			fl[2].Request.Header.Get("Authorization") != tokenFromLog {
			t.Fatalf("want HEAD 401, implied token, HEAD with it:\n%s", summary(tr))
		}
	})
	t.Run("debug log only: a Basic challenge not answered proves no credentials", func(t *testing.T) {
		tr := read(t, fixture(t, "ctr", "ctr-nodump-anonymous-pull-from-a-Basic-auth-registry.log"))
		if tr.HidesAuth {
			t.Errorf("containerd sends nothing unasked and did not answer the Basic challenge:\n%s", summary(tr))
		}
	})
	t.Run("debug log only: an oauth token refused", func(t *testing.T) {
		tr := read(t, fixture(t, "ctr", "ctr-nodump-wrong-password.log"))
		s := summary(tr)
		if !strings.Contains(s, "POST https://auth.test") || !strings.Contains(s, `(401 inferred) auth="Basic REDACTED(user=)"`) {
			t.Errorf("want the POST and its GET fallback refused:\n%s", s)
		}
		if !slices.Contains(tr.CredentialsFor, "registry.test:"+strings.Split(strings.Split(tr.Image, ":")[1], "/")[0]) {
			t.Errorf("credentials for %v", tr.CredentialsFor)
		}
	})
	// containerd asks for the challenge's scopes and its operation's own
	// (GetTokenScopes): a push adds pull,push on the repository pushed.
	t.Run("debug log only: a push's token asks for push", func(t *testing.T) {
		tr := read(t, fixture(t, "ctr", "ctr-nodump-push-without-push-permission.log"))
		if got := tokenScopes(tr); !slices.Equal(got, []string{"repository:team/app:pull", "repository:team/app:pull,push"}) {
			t.Errorf("token scopes %q\n%s", got, summary(tr))
		}
		if !strings.Contains(tr.Command, "ctr --debug images push ") {
			t.Errorf("capture %q", tr.Command)
		}
	})
	scopeLog := func(challenge string) string {
		return `time="2026-12-05T10:00:00Z" level=debug msg=fetching image="reg.example:5000/acme/tools/cli:2.1"
time="2026-12-05T10:00:00Z" level=debug msg="do request" host="reg.example:5000" request.header.user-agent="containerd/2.0.4" request.method=HEAD url="https://reg.example:5000/v2/acme/tools/cli/manifests/2.1"
time="2026-12-05T10:00:00Z" level=debug msg="fetch response received" host="reg.example:5000" response.header.www-authenticate=` + strconv.Quote(challenge) + ` response.status="401 Unauthorized" url="https://reg.example:5000/v2/acme/tools/cli/manifests/2.1"
time="2026-12-05T10:00:00Z" level=debug msg="do request" host="reg.example:5000" request.header.user-agent="containerd/2.0.4" request.method=HEAD url="https://reg.example:5000/v2/acme/tools/cli/manifests/2.1"
time="2026-12-05T10:00:00Z" level=debug msg="fetch response received" host="reg.example:5000" response.status="200 OK" url="https://reg.example:5000/v2/acme/tools/cli/manifests/2.1"
`
	}
	t.Run("debug log only: a challenge without a scope leaves the pull's own", func(t *testing.T) {
		tr := read(t, scopeLog(`Bearer realm="https://login.example/oauth2/token",service="reg.example:5000"`))
		if got := tokenScopes(tr); !slices.Equal(got, []string{"repository:acme/tools/cli:pull"}) {
			t.Errorf("token scopes %q\n%s", got, summary(tr))
		}
	})
	t.Run("debug log only: a challenge's scopes, one parameter each", func(t *testing.T) {
		tr := read(t, scopeLog(`Bearer realm="https://login.example/oauth2/token",service="reg.example:5000",scope="repository:acme/base:pull repository:acme/tools/cli:pull"`))
		if got := tokenScopes(tr); !slices.Equal(got, []string{"repository:acme/base:pull", "repository:acme/tools/cli:pull"}) {
			t.Errorf("token scopes %q\n%s", got, summary(tr))
		}
		for _, f := range tr.Flows {
			if ua := f.Request.Header.Get("User-Agent"); ua != "containerd/2.0.4" {
				t.Errorf("%s %s: User-Agent %q, want the process's own", f.Request.Method, f.Request.URL, ua)
			}
		}
	})
	t.Run("info-level daemon log: read as the events reader reads the error", func(t *testing.T) {
		tr := read(t, fixture(t, "containerd", "containerd-info-level-wrong-password.log"))
		if tr.Format != FormatContainerd || len(tr.Flows) == 0 || !strings.Contains(tr.Lacks, "info level") {
			t.Fatalf("%s\n%s", tr.Lacks, summary(tr))
		}
	})
	t.Run("dump lines of two hosts interleaved", func(t *testing.T) {
		// ctr gives each host's client a pipe of its own: a response's
		// last headers can come after the next host's request dump. The
		// resolver's record has them all.
		tr := read(t, fixture(t, "ctr", "ctr-private-repository-without-credentials.log"))
		for _, f := range tr.Flows {
			if f.Response != nil && f.Response.Status == 401 && f.Response.Header.Get("Www-Authenticate") == "" {
				t.Errorf("%s: a 401 without its challenge\n%s", f.ID, summary(tr))
			}
		}
	})
}

// tokenScopes are the scope parameters of the trace's token requests.
func tokenScopes(tr *Trace) []string {
	var out []string
	for _, f := range tr.Flows {
		if strings.Contains(f.Request.URL.Path, "token") {
			out = append(out, f.Request.URL.Query()["scope"]...)
		}
	}
	return out
}

// Secrets a dump prints are not in anything the reader keeps.
func TestCtrDumpSecretsRedacted(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "ctr", "*.log"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		tr := read(t, string(raw))
		var all strings.Builder
		all.WriteString(strings.Join(tr.Errors, "\n") + tr.Command)
		for _, f := range tr.Flows {
			for k, vs := range f.Request.Header {
				all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
			}
			all.Write(f.Request.Body.Captured)
			if f.Response != nil {
				all.Write(f.Response.Body.Captured)
			}
		}
		got := all.String()
		for _, secret := range []string{"alice-pw", "not-the-password", "YWxpY2U6"} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: %q kept", filepath.Base(p), secret)
			}
		}
		// JWTs keep header and claims, never the signature.
		for _, m := range regexp.MustCompile(`eyJ[\w-]+\.eyJ[\w-]+\.([\w-]+)`).FindAllStringSubmatch(got, -1) {
			if m[1] != "REDACTED" {
				t.Errorf("%s: a token's signature kept", filepath.Base(p))
				break
			}
		}
	}
}

func FuzzReadContainerd(f *testing.F) {
	fuzzReader(f, "containerd",
		`{"level":"debug","msg":"do request","request.method":"HEAD","url":"https://r/v2/a/manifests/1"}`,
		`time="x" level=info msg="trying next host" error="failed to authorize: failed to fetch anonymous token: unexpected status: 403 Forbidden" host=r`,
		`time="x" level=error msg="PullImage \"r/a:1\" failed" error="failed to resolve reference \"r/a:1\": r/a:1: not found"`)
}

func FuzzReadCtr(f *testing.F) {
	fuzzReader(f, "ctr",
		"time=\"x\" level=info msg=\"GET /token HTTP/1.1\"\ntime=\"x\" level=info msg=\"Host: a\"\ntime=\"x\" level=info\ntime=\"x\" level=info msg=\"{}HTTP/1.1 200 OK\"",
		"INFO[0000] HEAD /v2/a/manifests/1 HTTP/1.1\nINFO[0000] Host: r\nINFO[0000]\nINFO[0000] HTTP/1.1 401 Unauthorized\nctr: failed to resolve reference \"r/a:1\": r/a:1: not found")
}

// flatJSON reads what encoding/json reads, or says it cannot.
func TestFlatJSON(t *testing.T) {
	lines := strings.Split(fixture(t, "containerd", "containerd-cri-json-wrong-password.log"), "\n")
	lines = append(lines, strings.Split(fixture(t, "dockerd", "dockerd-json-docker-hub-rate-limit.log"), "\n")...)
	lines = append(lines, `{"a":"x\"y\\u00e9\n","b":1.5,"c":true,"d":null}`, `{}`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"a":"b"} x`,
		`{"a" : "b" , "c":2 }`, `{"a":"b",}`, `{"a":}`, `{"a":{},"b":[ ],"c":{ "d":1}}`, `{"a":"\ud83d\ude00 \ud83d x \ude00 \u00E9\/\b\f\r\t"}`,
		`{"a":"\x"}`, `{"a":"\u00zz"}`, `{"a":"\u00e"}`, `{"a":"tab\there"}`, `{"a":tru}`, `{"a":01}`, `{"a":-1.5e+3,"b":0,"c":-0.0E1}`,
		`{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a\"b":"c"}`, "{\"a\":\"raw\ttab\"}", `{"a":"b" "c":"d"}`, `{"a":{]}`, `{	"a":	"b"	}`)
	for _, l := range lines {
		if l != "" {
			flatJSONAgrees(t, l)
		}
	}
	// The lines above take every path: each of these is read.
	for _, l := range []string{`{"a":{},"b":[ ]}`, `{"a":"\ud83d\ude00 \ud83d"}`, `{"a":-1.5e+3}`} {
		if _, ok := flatJSON(l); !ok {
			t.Errorf("flatJSON(%q) leaves it to encoding/json", l)
		}
	}
}

func FuzzFlatJSON(f *testing.F) {
	for _, s := range []string{`{"a":"x\"y\\u00e9\n","b":1.5,"c":true,"d":null}`, `{"a":{},"b":[]}`, `{"a":"\ud83d\ude00"}`, `{"a":-0.5e3}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, l string) {
		if utf8.ValidString(l) { // encoding/json replaces invalid UTF-8; flatJSON keeps it
			flatJSONAgrees(t, l)
		}
	})
}

// flatJSONAgrees checks that flatJSON reads l as encoding/json does, or
// says it cannot.
func flatJSONAgrees(t *testing.T, l string) {
	t.Helper()
	got, ok := flatJSON(l)
	var m map[string]any
	err := json.Unmarshal([]byte(l), &m)
	if !ok {
		return // encoding/json reads it
	}
	if err != nil {
		t.Errorf("flatJSON read %q, encoding/json: %v", l, err)
		return
	}
	for k, v := range m {
		want := ""
		switch v := v.(type) {
		case string:
			want = v
		case nil:
		case float64:
			if g, err := strconv.ParseFloat(got[k], 64); err != nil || g != v {
				t.Errorf("%q: %s=%q, want %v", l, k, got[k], v)
			}
			continue
		default:
			b, _ := json.Marshal(v)
			want = string(b)
		}
		if got[k] != want {
			t.Errorf("%q: %s=%q, want %q", l, k, got[k], want)
		}
	}
	if len(got) != len(m) {
		t.Errorf("%q: %v, want %v", l, got, m)
	}
}

// TestDockerdContainerdStore: dockerd with the containerd image store logs
// containerd's resolver lines; the trace names dockerd, its credentials
// and how to record docker pull, not crictl.
func TestDockerdContainerdStore(t *testing.T) {
	raw := fixture(t, "containerd", "dockerd-29-containerd-store-private-repository-without-credentials.log")
	for name, text := range map[string]string{
		"as logged": raw,
		// Without the API call, the User-Agent still says dockerd.
		"resolver lines only": strings.Join(slices.DeleteFunc(strings.Split(raw, "\n"), func(l string) bool { return strings.Contains(l, "POST request") }), "\n"),
	} {
		tr := read(t, text)
		if tr.Format != FormatContainerd || !strings.HasPrefix(tr.Name, "dockerd debug log") || tr.CredentialsHint != dockerdCredentials ||
			!strings.HasSuffix(tr.Command, "then docker pull registry.test:44445/team/app:1.0") {
			t.Errorf("%s: %s %q, command %q, hint %q", name, tr.Format, tr.Name, tr.Command, tr.CredentialsHint)
		}
	}
	if tr := read(t, raw); len(tr.Errors) == 0 || !strings.Contains(tr.Errors[len(tr.Errors)-1], "pull access denied for registry.test:44445/team/app") {
		t.Errorf("dockerd's answer to the API call is not the final error: %q", tr.Errors)
	}
	hub := strings.NewReplacer("registry.test:44445", "registry-1.docker.io", "handling POST request", "handling GET request").Replace(raw)
	if tr := read(t, hub); !strings.HasSuffix(tr.Command, "then docker pull docker.io/team/app:1.0") {
		t.Errorf("a Docker Hub image is pulled as docker.io/…: %q", tr.Command)
	}
	// containerd's own log keeps its name.
	if tr := read(t, fixture(t, "ctr", "ctr-nodump-private-repository-without-credentials.log")); strings.Contains(tr.Name, "dockerd") {
		t.Errorf("ctr's log named %q", tr.Name)
	}
}
