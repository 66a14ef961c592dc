package logs

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRegclientGoldens reads real `regctl -v trace` logs, recorded by the
// client suite (TestClients, REGTRACE_CLIENT_LOGS), and one with
// `--logopt json`, and compares what the reader made of each with its
// golden file.
func TestRegclientGoldens(t *testing.T) {
	checkGoldens(t, "regclient", FormatRegclient, 14, summary)
}

// What the goldens rest on, said plainly.
func TestRegclientWhatTheLogShows(t *testing.T) {
	tr := read(t, fixture(t, "regclient", "regctl-push-without-push-permission.log"))
	if tr.Name != "regctl trace log" || tr.HidesAuth || tr.Lacks == "" || !strings.Contains(tr.Command, "regctl image copy") ||
		len(tr.CredentialsFor) != 1 || len(tr.Errors) != 1 {
		t.Errorf("trace: %+v", tr)
	}
	last := tr.Flows[len(tr.Flows)-1]
	if last.Request.Method != "PUT" || last.Response.Status != 401 || last.Response.Inferred ||
		!strings.Contains(last.Response.Header.Get("Www-Authenticate"), "insufficient_scope") ||
		last.Request.Header.Get("Authorization") != "Bearer REDACTED-token-not-in-the-log-6" {
		t.Errorf("the refused PUT: %+v %+v", last.Request, last.Response)
	}
	for _, f := range tr.Flows {
		if strings.HasPrefix(f.Request.URL.Path, "/token") && f.Request.Header.Get("Authorization") != "Basic REDACTED(user=alice)" {
			t.Errorf("%s: token request with %q, want alice's Basic (regclient's tryGet)", f.ID, f.Request.Header.Get("Authorization"))
		}
	}
	// An anonymous token request is shown as such: no Authorization logged.
	tr = read(t, fixture(t, "regclient", "regctl-anonymous-pull-of-a-missing-repository.log"))
	if a := tr.Flows[1].Request.Header.Get("Authorization"); a != "" {
		t.Errorf("anonymous token request with %q", a)
	}
	// The registry's 404 body, quoted in regctl's error, is put back
	// without touching the logged status.
	tr = read(t, fixture(t, "regclient", "regctl-missing-tag-with-good-credentials.log"))
	f := tr.Flows[2]
	if f.Response.Status != 404 || f.Response.Inferred || !strings.Contains(string(f.Response.Body.Captured), "MANIFEST_UNKNOWN") {
		t.Errorf("404: %+v", f.Response)
	}
	// A transport error stays one, on every retry.
	tr = read(t, fixture(t, "regclient", "regctl-registry-name-that-does-not-resolve.log"))
	for _, f := range tr.Flows {
		if f.Err == nil || f.Err.Kind != "proxy-refused" {
			t.Errorf("%s: %+v", f.ID, f.Err)
		}
	}
}

// The same log, however it was copied — CRLF line ends, colour, a CI's
// timestamp on every line, a journal's prefix, its fields in another
// order, slog's JSON handler — gives the same flows.
func TestRegclientCopiesOfOneLog(t *testing.T) {
	for _, name := range []string{"regctl-push-without-push-permission.log", "regctl-wrong-password-on-a-Basic-auth-registry.log",
		"regctl-missing-tag-with-good-credentials.log", "regctl-token-realm-on-a-closed-port.log", "regctl-good-pull.log"} {
		raw := fixture(t, "regclient", name)
		base := flowsOnly(summary(read(t, raw)))
		variants := map[string]func(string) string{
			"CRLF line ends":    func(l string) string { return l + "\r" },
			"ANSI colour":       func(l string) string { return "\x1b[2m" + l + "\x1b[0m" },
			"CI timestamp":      func(l string) string { return "2026-12-04T17:12:15.1234567Z " + l },
			"journald prefix":   func(l string) string { return "Dec 04 17:12:15 ci-7 regctl[4242]: " + l },
			"fields reversed":   reverseFields,
			"JSON slog handler": toSlogJSON,
		}
		for vname, v := range variants {
			t.Run(name+"/"+vname, func(t *testing.T) {
				var ls []string
				for _, l := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
					ls = append(ls, v(l))
				}
				tr := read(t, strings.Join(ls, "\n"))
				if tr.Format != FormatRegclient {
					t.Fatalf("format %s", tr.Format)
				}
				if got := flowsOnly(summary(tr)); got != base {
					t.Errorf("flows differ from the plain log\n--- got\n%s\n--- want\n%s", got, base)
				}
			})
		}
	}
}

// rcFields splits a logfmt record into its fields as they are written.
func rcFields(l string) []string {
	var out []string
	for i := 0; i < len(l); {
		j := strings.IndexByte(l[i:], '=')
		if j < 0 {
			return nil
		}
		_, next := rcValue(l, i+j+1)
		out = append(out, l[i:next])
		i = next
		for i < len(l) && l[i] == ' ' {
			i++
		}
	}
	return out
}

func reverseFields(l string) string {
	if !strings.HasPrefix(l, "time=") {
		return l
	}
	fs := rcFields(l)
	for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
		fs[i], fs[j] = fs[j], fs[i]
	}
	return strings.Join(fs, " ")
}

// toSlogJSON writes a logfmt record as slog's JSON handler does: headers
// as objects of string arrays.
func toSlogJSON(l string) string {
	r := rcParse(l, 0)
	if r == nil || !strings.HasPrefix(l, "time=") {
		return l
	}
	m := map[string]any{}
	for k, v := range r.f {
		m[k] = v
	}
	if r.reqH != nil {
		m["req-headers"] = r.reqH
	}
	if r.respH != nil {
		m["resp-headers"] = r.respH
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Hand-written logs of what real ones do less often.
func TestRegclientHandWritten(t *testing.T) {
	const challenge = `time=2026-12-04T17:35:03.276Z level=DEBUG-4 msg="reg http request" req-method=GET req-url=https://reg.example/v2/team/app/manifests/1.0 req-headers="map[User-Agent:[regclient/regctl (v0.11.7)]]" resp-status="401 Unauthorized" resp-headers="map[Content-Length:[151] Content-Type:[application/json] Www-Authenticate:[Bearer realm=\"https://auth.example/token\",service=\"reg.example\",scope=\"repository:team/app:pull\"]]"
`
	cases := []struct {
		name, log string
		check     func(t *testing.T, tr *Trace)
	}{
		{"a log cut in the middle of a record", challenge +
			`time=2026-12-04T17:35:03.287Z level=DEBUG-4 msg="reg http request" req-method=GET req-url="https://auth.example/token?account=bob&scope=repository%3Ateam%2Fapp%3Apull&service=reg.example" req-headers="map[Authorization:[[censored]] User-Ag`,
			func(t *testing.T, tr *Trace) {
				if len(tr.Flows) != 2 {
					t.Fatalf("%s", summary(tr))
				}
				f := tr.Flows[1]
				if f.Response.Status != 0 || !f.Response.Inferred || f.Request.Header.Get("Authorization") != "Basic REDACTED(user=bob)" {
					t.Errorf("the cut request: %s", summary(tr))
				}
			}},
		{"a log cut before the answer, with regctl's error read back onto it", challenge +
			`time=2026-12-04T17:35:03.287Z level=DEBUG-4 msg="reg http request" req-method=GET req-url="https://auth.example/token?scope=repository%3Ateam%2Fapp%3Apull&service=reg.example"
failed to get manifest reg.example/team/app:1.0: request failed: not found [http 404]: {"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}
`, func(t *testing.T, tr *Trace) {
			if tr.Flows[0].Response.Status != 401 || tr.Flows[0].Response.Inferred {
				t.Errorf("the logged 401 was overwritten: %+v", tr.Flows[0].Response)
			}
			if r := tr.Flows[1].Response; r == nil || r.Status != 404 || !r.Inferred {
				t.Errorf("the unanswered request: %s", summary(tr))
			}
			if !tr.HidesAuth {
				t.Error("a request without its headers hides Authorization")
			}
		}},
		{"a POST for a token (an identity token in the docker config)", challenge +
			`time=2026-12-04T17:35:03.287Z level=DEBUG-4 msg="reg http request" req-method=POST req-url=https://auth.example/token req-headers="map[Content-Type:[application/x-www-form-urlencoded; charset=utf-8] User-Agent:[regclient/regctl (v0.11.7)]]" resp-status="200 OK" resp-headers="map[Content-Type:[application/json]]"
time=2026-12-04T17:35:03.307Z level=DEBUG-4 msg="reg http request" req-method=GET req-url=https://reg.example/v2/team/app/manifests/1.0 req-headers="map[Authorization:[[censored]] User-Agent:[regclient/regctl (v0.11.7)]]" resp-status="200 OK" resp-headers="map[Content-Type:[application/vnd.oci.image.manifest.v1+json]]"
`, func(t *testing.T, tr *Trace) {
			f := tr.Flows[1]
			if f.Request.Header.Get("Authorization") != "" || !strings.HasPrefix(string(f.Request.Body.Captured), "grant_type=refresh_token") || !f.Request.Body.Truncated {
				t.Errorf("POST: %+v", f.Request)
			}
			if a := tr.Flows[2].Request.Header.Get("Authorization"); a != "Bearer REDACTED-token-not-in-the-log-2" {
				t.Errorf("registry request: %q", a)
			}
		}},
		{"two challenges in one header, regctl's output after a success", `time=t level=DEBUG-4 msg="reg http request" req-method=GET req-url=https://reg.example/v2/a/manifests/1 req-headers="map[User-Agent:[x]]" resp-status="401 Unauthorized" resp-headers="map[Www-Authenticate:[Basic realm=\"r\" Bearer realm=\"https://auth.example/token\",service=\"s\"]]"
sha256:0000000000000000000000000000000000000000000000000000000000000000
`, func(t *testing.T, tr *Trace) {
			if vs := tr.Flows[0].Response.Header.Values("Www-Authenticate"); len(vs) != 2 || vs[0] != `Basic realm="r"` {
				t.Errorf("challenges %q", vs)
			}
			if len(tr.Errors) != 0 {
				t.Errorf("output read as an error: %q", tr.Errors)
			}
		}},
		{"only the final warning, stderr not captured", `time=t level=DEBUG msg="regclient initialized" VCSTag=v0.11.7
time=t level=WARN msg="Failed to get manifest" ref=reg.example/a:1 err="failed to get manifest reg.example/a:1: unauthorized"
`, func(t *testing.T, tr *Trace) {
			if len(tr.Errors) != 1 || len(tr.Flows) != 1 || tr.Flows[0].Err == nil {
				t.Errorf("%s", summary(tr))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := read(t, c.log)
			if tr.Format != FormatRegclient {
				t.Fatalf("format %s", tr.Format)
			}
			checkFlows(t, tr)
			c.check(t, tr)
		})
	}
}

// FuzzReadRegclient: reading is total — any input gives a Trace or
// ErrUnknownFormat, never a panic — and every flow has a method and an
// absolute URL, IDs counting from 1.
func FuzzReadRegclient(f *testing.F) {
	fuzzReader(f, "regclient",
		`level=DEBUG-4 msg="reg http request" req-method=GET req-url=https://r/v2/x/manifests/1 req-headers="map[Authorization:[[censored]]" resp-status="401" resp-headers="map[Www-Authenticate:[Bearer realm=\"/t\" Basic]]"`+"\nx [http 404]: {",
		`{"msg":"reg http request","req-method":"POST","req-url":"http://r/t","req-headers":{"Authorization":["[censored]"]},"resp-status":"200 OK"}`)
}
