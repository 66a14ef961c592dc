package logs

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// ggcrSummary is what the reader made of a go-containerregistry log, one
// line per flow: method, URL, status (or error), whether the answer was
// seen, the Authorization put back, the challenge, the body.
func ggcrSummary(t *Trace) string {
	var b strings.Builder
	fmt.Fprintf(&b, "format=%s name=%q hidesAuth=%v image=%q command=%q\n", t.Format, t.Name, t.HidesAuth, t.Image, t.Command)
	for _, e := range t.Errors {
		fmt.Fprintf(&b, "error: %s\n", clipTest(strings.ReplaceAll(e, "\n", `\n`)))
	}
	for _, f := range t.Flows {
		st := "no response"
		if r := f.Response; r != nil {
			st = fmt.Sprint(r.Status)
			if r.Inferred {
				st += " inferred"
			}
			if len(r.Body.Captured) > 0 {
				st += " body=" + clipTest(strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(string(r.Body.Captured)))
			}
			if r.Body.Truncated {
				st += fmt.Sprintf(" size=%d truncated", r.Body.Size)
			}
		}
		if f.Err != nil {
			st = fmt.Sprintf("err %s: %s", f.Err.Kind, f.Err.Message)
		}
		fmt.Fprintf(&b, "%s %s %s (%s) auth=%q challenge=%q\n", f.ID, f.Request.Method, f.Request.URL, st,
			f.Request.Header.Get("Authorization"), respHeader(f, "Www-Authenticate"))
	}
	return b.String()
}

func clipTest(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// TestGGCRGoldens reads real `crane -v` logs, recorded by the client
// suite (TestClients, REGTRACE_CLIENT_LOGS; durations set to 1ms), and
// compares what the reader made of each with its golden file.
func TestGGCRGoldens(t *testing.T) {
	checkGoldens(t, "ggcr", FormatGGCR, 10, ggcrSummary)
}

// What the goldens rest on, said plainly.
func TestGGCRWhatTheLogShows(t *testing.T) {
	tr := read(t, fixture(t, "ggcr", "crane-push-without-push-permission.log"))
	if tr.Name != "crane debug log" || tr.HidesAuth || tr.Image == "" || !strings.Contains(tr.Command, "crane push") {
		t.Errorf("trace: %+v", tr)
	}
	puts := 0
	for _, f := range tr.Flows {
		if f.Request.Method == "" || f.Request.URL == nil || !f.Request.URL.IsAbs() {
			t.Errorf("%s: no method or absolute URL", f.ID)
		}
		if strings.Contains(f.Request.URL.Path, "/manifests/pushed") && f.Request.Method == "PUT" {
			// The first PUT is dumped, the second failed to dump: both
			// carried the Bearer token ggcr sends after a Bearer challenge.
			if !strings.HasPrefix(f.Request.Header.Get("Authorization"), "Bearer ") {
				t.Errorf("%s: Authorization %q", f.ID, f.Request.Header.Get("Authorization"))
			}
			if f.Response == nil || f.Response.Status != 401 || f.Response.Inferred ||
				!strings.Contains(f.Response.Header.Get("Www-Authenticate"), "insufficient_scope") ||
				!strings.Contains(string(f.Response.Body.Captured), `"UNAUTHORIZED"`) {
				t.Errorf("%s: response %+v", f.ID, f.Response)
			}
			puts++
			if dumped := f.Request.Header.Get("Content-Type") != ""; dumped != (puts == 1) {
				t.Errorf("%s: PUT %d dumped=%v", f.ID, puts, dumped)
			}
		}
		if strings.HasPrefix(f.Request.URL.Path, "/token") && f.Request.Header.Get("Authorization") != redactedNoUser {
			t.Errorf("%s: token request with Authorization %q, want Basic from <redacted>", f.ID, f.Request.Header.Get("Authorization"))
		}
	}
	if puts != 2 {
		t.Errorf("%d refused manifest PUTs, want 2 (before and after the new token)", puts)
	}
	// Interleaved HEADs: both answered 200 with their own digests.
	for _, f := range tr.Flows {
		if f.Request.Method == "HEAD" && strings.Contains(f.Request.URL.Path, "/blobs/") {
			if d := f.Response.Header.Get("Docker-Content-Digest"); !strings.HasSuffix(f.Request.URL.Path, d) {
				t.Errorf("%s: %s got the answer for %s", f.ID, f.Request.URL.Path, d)
			}
		}
	}
	// An anonymous request is shown as such: the dump has no Authorization.
	tr = read(t, fixture(t, "ggcr", "crane-anonymous-pull-from-a-Basic-auth-registry.log"))
	for _, f := range tr.Flows {
		if a := f.Request.Header.Get("Authorization"); a != "" {
			t.Errorf("%s: anonymous run, Authorization %q", f.ID, a)
		}
	}
}

var goStamp = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} `)

// The same log, however it was copied — CRLF line ends, colour, a CI's
// timestamp on every line, a journal's prefix, a logger without
// timestamps — gives the same flows.
func TestGGCRCopiesOfOneLog(t *testing.T) {
	for _, name := range []string{"crane-push-without-push-permission.log", "crane-wrong-password-through-nginx-auth_basic.log", "crane-missing-tag-with-good-credentials.log"} {
		raw := fixture(t, "ggcr", name)
		base := flowsOnly(ggcrSummary(read(t, raw)))
		variants := map[string]func(string) string{
			"CRLF line ends":     func(l string) string { return strings.TrimSuffix(l, "\r") + "\r" },
			"ANSI colour":        func(l string) string { return "\x1b[2m" + l + "\x1b[0m" },
			"CI timestamp":       func(l string) string { return "2026-12-04T17:12:15.1234567Z " + l },
			"bracketed stamp":    func(l string) string { return "[2026-12-04 17:12:15] " + l },
			"journald prefix":    func(l string) string { return "Dec 04 17:12:15 ci-7 crane[4242]: " + l },
			"no log timestamps":  func(l string) string { return goStamp.ReplaceAllString(l, "") },
			"microsecond stamps": func(l string) string { return goStamp.ReplaceAllString(l, "2026/12/04 17:12:15.123456 ") },
		}
		for vname, v := range variants {
			t.Run(name+"/"+vname, func(t *testing.T) {
				var ls []string
				for _, l := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
					ls = append(ls, v(l))
				}
				got := flowsOnly(ggcrSummary(read(t, strings.Join(ls, "\n"))))
				if got != base {
					t.Errorf("flows differ from the plain log\n--- got\n%s\n--- want\n%s", got, base)
				}
			})
		}
	}
}

const ggcrPing = `2026/12/04 17:12:15 --> GET https://reg.example/v2/
2026/12/04 17:12:15 GET /v2/ HTTP/1.1
Host: reg.example
User-Agent: ko/v0.15.4 go-containerregistry/v0.22.1
Accept-Encoding: gzip


2026/12/04 17:12:15 <-- 401 https://reg.example/v2/ (35ms)
2026/12/04 17:12:15 HTTP/1.1 401 Unauthorized
Content-Length: 87
Content-Type: application/json
Www-Authenticate: Bearer realm="https://auth.example/token",service="reg.example"

{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}

2026/12/04 17:12:15 --> GET https://auth.example/token?scope=repository%3Ateam%2Fapp%3Apull&service=reg.example [body redacted: basic token response contains credentials]
2026/12/04 17:12:15 GET /token?scope=repository%3Ateam%2Fapp%3Apull&service=reg.example HTTP/1.1
Host: auth.example
User-Agent: ko/v0.15.4 go-containerregistry/v0.22.1
Authorization: <redacted>
Accept-Encoding: gzip


2026/12/04 17:12:15 <-- 200 https://auth.example/token?scope=repository%3Ateam%2Fapp%3Apull&service=reg.example (7ms) [body redacted: basic token response contains credentials]
2026/12/04 17:12:15 HTTP/1.1 200 OK
Content-Length: 4041
Content-Type: application/json


2026/12/04 17:12:15 --> GET https://reg.example/v2/team/app/manifests/1.0
2026/12/04 17:12:15 GET /v2/team/app/manifests/1.0 HTTP/1.1
Host: reg.example
User-Agent: ko/v0.15.4 go-containerregistry/v0.22.1
Authorization: <redacted>
Accept-Encoding: gzip

`

// Hand-written logs of what real ones do less often.
func TestGGCRHandWritten(t *testing.T) {
	big := `{"errors":[{"code":"DENIED","message":"` + strings.Repeat("x", 200<<10) + `"}]}`
	cases := []struct {
		name, log string
		check     func(t *testing.T, tr *Trace)
	}{
		{"a large body on one line is captured up to 64 KiB", ggcrPing + `
2026/12/04 17:12:15 <-- 403 https://reg.example/v2/team/app/manifests/1.0 (6ms)
2026/12/04 17:12:15 HTTP/1.1 403 Forbidden
Content-Length: ` + fmt.Sprint(len(big)+1) + `
Content-Type: application/json

` + big + `

Error: GET https://reg.example/v2/team/app/manifests/1.0: DENIED: xxxx
`, func(t *testing.T, tr *Trace) {
			f := tr.Flows[2]
			b := f.Response.Body
			if f.Response.Status != 403 || len(b.Captured) != maxCapture || b.Size != int64(len(big)+1) || !b.Truncated {
				t.Errorf("status %d captured %d size %d truncated %v", f.Response.Status, len(b.Captured), b.Size, b.Truncated)
			}
			if tr.Name != "ko debug log" {
				t.Errorf("name %q", tr.Name)
			}
		}},
		{"a large body over many lines", ggcrPing + `
2026/12/04 17:12:15 <-- 200 https://reg.example/v2/team/app/manifests/1.0 (6ms)
2026/12/04 17:12:15 HTTP/1.1 200 OK
Content-Type: application/vnd.oci.image.index.v1+json

{
` + strings.Repeat(`  {"digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000"},`+"\n", 5000) + `}
`, func(t *testing.T, tr *Trace) {
			b := tr.Flows[2].Response.Body
			if len(b.Captured) > maxCapture || b.Size < 400000 || !b.Truncated || tr.Flows[2].Response.Status != 200 {
				t.Errorf("captured %d size %d truncated %v", len(b.Captured), b.Size, b.Truncated)
			}
		}},
		{"a log cut in the middle of a dump", ggcrPing + `
2026/12/04 17:12:15 <-- 404 https://reg.example/v2/team/app/manifests/1.0 (6ms)
2026/12/04 17:12:15 HTTP/1.1 404 Not Found
Content-Length: 96
Content-Type: application/json
Docker-Distri`, func(t *testing.T, tr *Trace) {
			f := tr.Flows[2]
			if f.Response.Status != 404 || f.Response.Inferred || f.Response.Header.Get("Content-Type") != "application/json" {
				t.Errorf("response %+v", f.Response)
			}
		}},
		{"a log cut before the answer, with the client's error", ggcrPing + `Error: GET https://reg.example/v2/team/app/manifests/1.0: MANIFEST_UNKNOWN: manifest unknown; map[Tag:1.0]
`, func(t *testing.T, tr *Trace) {
			f := tr.Flows[2]
			if f.Response.Status != 404 || !f.Response.Inferred || !strings.Contains(string(f.Response.Body.Captured), "MANIFEST_UNKNOWN") {
				t.Errorf("response %+v", f.Response)
			}
			if tr.Flows[1].Response.Status != 200 || tr.Flows[1].Response.Inferred {
				t.Errorf("the token's logged answer was overwritten: %+v", tr.Flows[1].Response)
			}
		}},
		{"a <-- line without its -->", `2026/12/04 17:12:16 <-- 401 https://reg.example/v2/team/app/manifests/1.0 (2ms)
2026/12/04 17:12:16 HTTP/1.1 401 Unauthorized
Content-Length: 151
Content-Type: application/json; charset=utf-8
Www-Authenticate: Basic realm="reg"

{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}

Error: GET https://reg.example/v2/team/app/manifests/1.0: UNAUTHORIZED: authentication required
`, func(t *testing.T, tr *Trace) {
			if len(tr.Flows) != 1 {
				t.Fatalf("%d flows", len(tr.Flows))
			}
			f := tr.Flows[0]
			if f.Request.Method != "GET" || f.Response.Status != 401 || f.Response.Header.Get("Www-Authenticate") != `Basic realm="reg"` {
				t.Errorf("flow %+v %+v", f.Request, f.Response)
			}
			if !tr.HidesAuth {
				t.Error("a request whose dump is not in the log shows nothing of Authorization")
			}
		}},
		{"a chunked response", ggcrPing + `
2026/12/04 17:12:15 <-- 401 https://reg.example/v2/team/app/manifests/1.0 (6ms)
2026/12/04 17:12:15 HTTP/1.1 401 Unauthorized
Transfer-Encoding: chunked
Content-Type: application/json
Www-Authenticate: Bearer realm="https://auth.example/token",service="reg.example",scope="repository:team/app:pull",error="insufficient_scope"

2e
{"errors":[{"code":"DENIED","message":"no"}]}
0


Error: GET https://reg.example/v2/team/app/manifests/1.0: DENIED: no
`, func(t *testing.T, tr *Trace) {
			if b := string(tr.Flows[2].Response.Body.Captured); b != `{"errors":[{"code":"DENIED","message":"no"}]}` {
				t.Errorf("body %q", b)
			}
			if a := tr.Flows[2].Request.Header.Get("Authorization"); a != "Bearer REDACTED-token-not-in-the-log-2" {
				t.Errorf("Authorization %q", a)
			}
		}},
		{"a plain-text body that reads like the client's error", ggcrPing + `
2026/12/04 17:12:15 <-- 500 https://reg.example/v2/team/app/manifests/1.0 (6ms)
2026/12/04 17:12:15 HTTP/1.1 500 Internal Server Error
Content-Type: text/plain

Error: storage backend unavailable
2026/12/04 17:12:16 --> GET https://reg.example/v2/team/app/manifests/1.0
2026/12/04 17:12:16 <-- 200 https://reg.example/v2/team/app/manifests/1.0 (6ms)
`, func(t *testing.T, tr *Trace) {
			if len(tr.Errors) != 0 || len(tr.Flows) != 4 {
				t.Fatalf("errors %q, %d flows", tr.Errors, len(tr.Flows))
			}
			if b := string(tr.Flows[2].Response.Body.Captured); b != "Error: storage backend unavailable" {
				t.Errorf("body %q", b)
			}
			if r := tr.Flows[3].Response; r.Status != 200 || !r.Inferred {
				t.Errorf("the retry: %+v (a status without its dump has unknown headers)", r)
			}
			if tr.Flows[3].Request.Header.Get("Authorization") != "Bearer REDACTED-token-not-in-the-log-2" {
				t.Errorf("the retry's Authorization %q: ggcr sends its token to the registry", tr.Flows[3].Request.Header.Get("Authorization"))
			}
		}},
		{"a transport error", `2026/12/04 17:12:16 --> GET https://reg.example/v2/
2026/12/04 17:12:16 GET /v2/ HTTP/1.1
Host: reg.example


2026/12/04 17:12:16 <-- dial tcp 10.0.0.1:443: connect: connection refused GET https://reg.example/v2/ (3ms)
Error: Get "https://reg.example/v2/": dial tcp 10.0.0.1:443: connect: connection refused
`, func(t *testing.T, tr *Trace) {
			if len(tr.Flows) != 1 || tr.Flows[0].Err == nil || tr.Flows[0].Err.Kind != "connection-refused" {
				t.Errorf("flows %+v", tr.Flows[0])
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := read(t, c.log)
			if tr.Format != FormatGGCR {
				t.Fatalf("format %s", tr.Format)
			}
			checkFlows(t, tr)
			c.check(t, tr)
		})
	}
}

func checkFlows(t *testing.T, tr *Trace) {
	t.Helper()
	for i, f := range tr.Flows {
		if f.Request.Method == "" || f.Request.URL == nil || !f.Request.URL.IsAbs() || f.Request.URL.Host == "" {
			t.Errorf("flow %d: method %q URL %v", i, f.Request.Method, f.Request.URL)
		}
		if int(f.ID) != i+1 {
			t.Errorf("flow %d has ID %s", i, f.ID)
		}
		if f.Response != nil && len(f.Response.Body.Captured) > maxCapture+1024 {
			t.Errorf("flow %d: %d bytes captured", i, len(f.Response.Body.Captured))
		}
	}
}

// FuzzReadGGCR: reading is total — any input gives a Trace or
// ErrUnknownFormat, never a panic — and every flow has a method and an
// absolute URL.
func FuzzReadGGCR(f *testing.F) {
	fuzzReader(f, "ggcr",
		ggcrPing,
		"--> GET https://r/v2/\n<-- 200 https://r/v2/ (1ms)\nHTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nzz\n",
		"<-- 401 https://r/v2/x/manifests/1 (1ms)\nGET /v2/x/manifests/1 HTTP/1.1\nHost: r\nAuthorization: <redacted>\n\nError: GET https://r/v2/x/manifests/1: x")
}

// A challenge's parameters are found by name without case, and read from
// the challenge as it is, whatever letters come before them.
func TestChallengeParam(t *testing.T) {
	for _, c := range []struct{ ch, name, want string }{
		{`Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`, "service", "reg"},
		{`Bearer REALM="https://a/token",Service=reg,scope="repository:x:pull"`, "service", "reg"},
		{`Bearer İİİİ,realm="https://a/token",service="x"`, "service", "x"},
		{`Bearer ſervice="no",service="yes"`, "service", "yes"},
		{`Bearer realm="https://a/token",myservice="no"`, "service", ""},
		{`Bearer realm="https://a/token",service="unterminated`, "service", "unterminated"},
	} {
		if got := challengeParam(c.ch, c.name); got != c.want {
			t.Errorf("challengeParam(%q, %q) = %q, want %q", c.ch, c.name, got, c.want)
		}
	}
}
