package logs

import (
	"regexp"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
)

// TestOrasGoldens reads real `oras --debug` logs, recorded by the client
// suite (TestClients, REGTRACE_CLIENT_LOGS), and compares what the reader
// made of each with its golden file.
func TestOrasGoldens(t *testing.T) {
	checkGoldens(t, "oras", FormatOras, 10, summary)
}

// What the goldens rest on, said plainly.
func TestOrasWhatTheLogShows(t *testing.T) {
	tr := read(t, fixture(t, "oras", "oras-wrong-password.log"))
	if tr.Name != "oras debug log" || tr.HidesAuth || !strings.Contains(tr.Command, "oras pull ") || tr.Lacks == "" {
		t.Errorf("trace: %+v", tr)
	}
	tok := tr.Flows[1]
	// The token request's query is REDACTED in the log; oras's error quotes
	// it, and Authorization "*****" to a realm is oras-go's SetBasicAuth.
	if q := tok.Request.URL.Query(); q.Get("scope") != "repository:team/app:pull" || q.Get("service") != "registry.test" {
		t.Errorf("token query %q", tok.Request.URL.RawQuery)
	}
	if a := tok.Request.Header.Get("Authorization"); a != redactedNoUser {
		t.Errorf("token request Authorization %q", a)
	}
	if r := tok.Response; r.Status != 401 || r.Inferred || !strings.Contains(string(r.Body.Captured), "invalid username or password") {
		t.Errorf("the token's logged answer: %+v", r)
	}
	// The first request was anonymous: the log shows no Authorization.
	if a := tr.Flows[0].Request.Header.Get("Authorization"); a != "" {
		t.Errorf("first request Authorization %q", a)
	}

	// A push: interleaved requests pair up by number, the token obtained
	// is carried as Bearer, the token response holds a token.
	tr = read(t, fixture(t, "oras", "oras-good-push-to-a-new-repository.log"))
	if !strings.Contains(tr.Command, "oras push ") || !strings.HasSuffix(tr.Image, "/team/other:oras") {
		t.Errorf("command %q image %q", tr.Command, tr.Image)
	}
	for _, f := range tr.Flows {
		switch {
		case strings.HasPrefix(f.Request.URL.Path, "/token"):
			if !strings.Contains(string(f.Response.Body.Captured), `"token"`) {
				t.Errorf("%s: token response %q", f.ID, f.Response.Body.Captured)
			}
		case f.ID > 2 && !strings.HasPrefix(f.Request.Header.Get("Authorization"), "Bearer REDACTED-token-not-in-the-log-"):
			t.Errorf("%s: Authorization %q", f.ID, f.Request.Header.Get("Authorization"))
		}
		if f.Request.Method == "HEAD" && strings.Contains(f.Request.URL.Path, "/blobs/") && (f.Response.Status != 404 || f.Response.Inferred) {
			t.Errorf("%s: %+v", f.ID, f.Response)
		}
	}

	// A Basic challenge: oras-go caches Basic for the host and sends it.
	tr = read(t, fixture(t, "oras", "oras-wrong-password-on-a-Basic-auth-registry.log"))
	if a := tr.Flows[1].Request.Header.Get("Authorization"); a != redactedNoUser {
		t.Errorf("retry after a Basic challenge: Authorization %q", a)
	}

	// A token request oras cancelled when another request failed: the
	// error names that request, and is the client's hang-up.
	tr = read(t, fixture(t, "oras", "oras-push-without-push-permission.log"))
	cancelled := 0
	for _, f := range tr.Flows {
		if f.Err != nil && f.Err.Kind == flow.ErrClientClosed {
			cancelled++
		}
	}
	if cancelled != 1 {
		t.Errorf("%d cancelled requests, want 1", cancelled)
	}
}

var orasStamp = regexp.MustCompile(`^\[\d{4}-\d{2}-\d{2}T[^\]]*\]`)

// The same log, however it was copied — CRLF line ends, colour, a CI's
// timestamp on every line, a journal's prefix — gives the same flows.
func TestOrasCopiesOfOneLog(t *testing.T) {
	for _, name := range []string{"oras-push-without-push-permission.log", "oras-wrong-password-through-nginx-auth_basic.log", "oras-token-realm-on-a-closed-port.log"} {
		raw := fixture(t, "oras", name)
		base := flowsOnly(summary(read(t, raw)))
		variants := map[string]func(string) string{
			"CRLF line ends":  func(l string) string { return l + "\r" },
			"ANSI colour":     func(l string) string { return "\x1b[2m" + l + "\x1b[0m" },
			"CI timestamp":    func(l string) string { return "2026-12-04T17:12:15.1234567Z " + l },
			"journald prefix": func(l string) string { return "Dec 04 17:12:15 ci-7 oras[4242]: " + l },
			"other stamps":    func(l string) string { return orasStamp.ReplaceAllString(l, "[2026-12-04T17:12:15+01:00]") },
		}
		for vname, v := range variants {
			t.Run(name+"/"+vname, func(t *testing.T) {
				var ls []string
				for _, l := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
					ls = append(ls, v(l))
				}
				got := flowsOnly(summary(read(t, strings.Join(ls, "\n"))))
				if got != base {
					t.Errorf("flows differ from the plain log\n--- got\n%s\n--- want\n%s", got, base)
				}
			})
		}
	}
}

const orasChallenged = `[2026-12-04T17:32:39.5135239Z][DEBUG]: --> Request #0
> Request URL: "https://reg.example/v2/team/app/manifests/1.0"
> Request method: "GET"
> Request headers:
   "User-Agent": "oras/1.3.6"


[2026-12-04T17:32:39.550875307Z][DEBUG]: <-- Response #0
< Response Status: "401 Unauthorized"
< Response headers:
   "Content-Type": "application/json"
   "Www-Authenticate": "Bearer realm=\"https://auth.example/token\",service=\"reg.example\",scope=\"repository:team/app:pull\""
< Response body:
{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}



`

const orasToken = `[2026-12-04T17:32:39.551959395Z][DEBUG]: --> Request #1
> Request URL: "https://auth.example/token?scope=REDACTED&service=REDACTED"
> Request method: "GET"
> Request headers:
   "Authorization": "*****"
   "User-Agent": "oras/1.3.6"


[2026-12-04T17:32:39.555515475Z][DEBUG]: <-- Response #1
< Response Status: "200 OK"
< Response headers:
   "Content-Type": "application/json"
< Response body:
   Response body redacted due to potential credentials


`

func orasReq(id, method, u string, auth bool) string {
	h := `   "User-Agent": "oras/1.3.6"` + "\n"
	if auth {
		h += `   "Authorization": "*****"` + "\n"
	}
	return "[2026-12-04T17:32:40Z][DEBUG]: --> Request #" + id + "\n> Request URL: \"" + u + "\"\n> Request method: \"" + method + "\"\n> Request headers:\n" + h + "\n\n"
}

func orasResp(id, status, headers, body string) string {
	return "[2026-12-04T17:32:40Z][DEBUG]: <-- Response #" + id + "\n< Response Status: \"" + status + "\"\n< Response headers:\n" + headers + "\n< Response body:\n" + body + "\n\n\n"
}

// Hand-written logs of what real ones do less often.
func TestOrasHandWritten(t *testing.T) {
	cases := []struct {
		name, log string
		check     func(t *testing.T, tr *Trace)
	}{
		{"a log cut before the answer, with oras's error", orasChallenged + orasToken + orasReq("2", "GET", "https://reg.example/v2/team/app/manifests/1.0", true) +
			"Error response from registry: failed to resolve 1.0: reg.example/team/app:1.0: not found\n",
			func(t *testing.T, tr *Trace) {
				f := tr.Flows[2]
				if f.Response.Status != 404 || !f.Response.Inferred {
					t.Errorf("response %+v", f.Response)
				}
				if f.Request.Header.Get("Authorization") != "Bearer REDACTED-token-not-in-the-log-2" {
					t.Errorf("Authorization %q", f.Request.Header.Get("Authorization"))
				}
				if q := tr.Flows[1].Request.URL.Query(); q.Get("scope") != "repository:team/app:pull" || q.Get("service") != "reg.example" {
					t.Errorf("token query put back from the challenge: %q", tr.Flows[1].Request.URL.RawQuery)
				}
				if r := tr.Flows[0].Response; r.Status != 401 || r.Inferred {
					t.Errorf("the logged answer was overwritten: %+v", r)
				}
			}},
		{"a log cut in the middle of a response", orasChallenged + orasToken + orasReq("2", "GET", "https://reg.example/v2/team/app/manifests/1.0", true) +
			"[2026-12-04T17:32:40Z][DEBUG]: <-- Response #2\n< Response Status: \"403 Forbidden\"\n< Response headers:\n   \"Content-Type\": \"appl",
			func(t *testing.T, tr *Trace) {
				if r := tr.Flows[2].Response; r.Status != 403 || !r.Inferred {
					t.Errorf("response %+v", r)
				}
			}},
		{"a log cut before the challenge", orasReq("7", "GET", "https://reg.example/v2/team/app/blobs/sha256:aa", true) +
			orasResp("7", "200 OK", `   "Content-Type": "application/octet-stream"`, `   Response body of content type "application/octet-stream" is not printed`),
			func(t *testing.T, tr *Trace) {
				f := tr.Flows[0]
				if f.Request.Header.Get("Authorization") != "<redacted>" || !tr.HidesAuth {
					t.Errorf("Authorization %q hidesAuth %v: sent, scheme unknown", f.Request.Header.Get("Authorization"), tr.HidesAuth)
				}
				if f.Response.Status != 200 || f.Response.Inferred || len(f.Response.Body.Captured) != 0 {
					t.Errorf("response %+v", f.Response)
				}
			}},
		{"concurrent requests interleaved, answered out of order", orasChallenged + orasToken +
			orasReq("2", "HEAD", "https://reg.example/v2/team/app/blobs/sha256:aa", true) +
			orasReq("3", "HEAD", "https://reg.example/v2/team/app/blobs/sha256:bb", true) +
			"Uploading aa notes.txt\n" +
			orasResp("3", "404 Not Found", `   "Content-Length": "157"`, "   No response body to print") +
			orasResp("2", "200 OK", `   "Docker-Content-Digest": "sha256:aa"`, "   No response body to print"),
			func(t *testing.T, tr *Trace) {
				if tr.Flows[2].Response.Status != 200 || tr.Flows[3].Response.Status != 404 {
					t.Errorf("statuses %d %d", tr.Flows[2].Response.Status, tr.Flows[3].Response.Status)
				}
				if d := tr.Flows[2].Response.Header.Get("Docker-Content-Digest"); d != "sha256:aa" {
					t.Errorf("digest %q", d)
				}
			}},
		{"a token POST (a refresh token from the credential store)", orasChallenged +
			orasReq("1", "POST", "https://auth.example/token", false) +
			orasResp("1", "400 Bad Request", `   "Content-Type": "application/json"`, `{"error":"unsupported_grant_type"}`) +
			`Error: GET "https://reg.example/v2/team/app/manifests/1.0": POST "https://auth.example/token": response status code 400: unsupported_grant_type` + "\n",
			func(t *testing.T, tr *Trace) {
				f := tr.Flows[1]
				if b := string(f.Request.Body.Captured); !strings.Contains(b, "grant_type=refresh_token") || !strings.Contains(b, "service=reg.example") {
					t.Errorf("form %q", b)
				}
				if f.Request.Header.Get("Authorization") != "" || f.Response.Status != 400 || f.Response.Inferred {
					t.Errorf("flow %+v %+v", f.Request.Header, f.Response)
				}
			}},
		{"a response whose request is not in the log", orasResp("9", "500 Internal Server Error", `   "Content-Type": "text/plain"`, "boom"),
			func(t *testing.T, tr *Trace) {
				if len(tr.Flows) != 0 {
					t.Errorf("%d flows", len(tr.Flows))
				}
			}},
		{"a body with blank lines, then oras's output", orasReq("0", "GET", "https://reg.example/v2/team/app/manifests/1.0", false) +
			orasResp("0", "500 Internal Server Error", `   "Content-Type": "text/plain"`, "line one\n\nline three") +
			"Error: GET \"https://reg.example/v2/team/app/manifests/1.0\": response status code 500: line one\n",
			func(t *testing.T, tr *Trace) {
				if b := string(tr.Flows[0].Response.Body.Captured); b != "line one\n\nline three" {
					t.Errorf("body %q", b)
				}
				if len(tr.Errors) != 1 {
					t.Errorf("errors %q", tr.Errors)
				}
			}},
		{"a transport error", orasReq("0", "GET", "https://reg.example/v2/team/app/manifests/1.0", false) +
			"[2026-12-04T17:32:40Z][ERROR]: <-- Response #0\nError in getting response: dial tcp 10.0.0.1:443: connect: connection refused\n\n\n" +
			`Error: Get "https://reg.example/v2/team/app/manifests/1.0": dial tcp 10.0.0.1:443: connect: connection refused` + "\n",
			func(t *testing.T, tr *Trace) {
				if len(tr.Flows) != 1 || tr.Flows[0].Err == nil || tr.Flows[0].Err.Kind != flow.ErrRefused {
					t.Errorf("flows %+v", tr.Flows)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := read(t, c.log)
			if tr.Format != FormatOras {
				t.Fatalf("format %s", tr.Format)
			}
			checkFlows(t, tr)
			c.check(t, tr)
		})
	}
}

// FuzzReadOras: reading is total — any input gives a Trace or
// ErrUnknownFormat, never a panic — and every flow has a method and an
// absolute URL.
func FuzzReadOras(f *testing.F) {
	fuzzReader(f, "oras",
		orasChallenged+orasToken,
		"[2026-12-04T17:32:40Z][DEBUG]: <-- Response #0\n< Response Status: \"x\"\n[2026-12-04T17:32:40Z][DEBUG]: --> Request #0\n> Request URL: \"https://r/v2/\"\n")
}
