package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

const planted = "PLANTED-s3cr3t"

func sampleFlows() []*flow.Flow {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImFjY2VzcyI6W119." + planted
	fs := flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA("skopeo/1.9.3").Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
		flowtest.Post("https://auth.test/token").Form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {planted}, "scope": {"repository:a:pull"}}).
			Status(200).JSON(`{"access_token":"`+jwt+`","refresh_token":"`+planted+`","expires_in":300}`),
		flowtest.Get("https://registry.test/v2/a/manifests/1").Bearer(jwt).Header("Cookie", "session="+planted).Status(200).
			RespHeader("Set-Cookie", "sid="+planted+"; Path=/; HttpOnly").JSON(`{"schemaVersion":2}`),
		flowtest.Get("https://registry.test/v2/a/blobs/sha256:ab").Basic("alice", planted).Status(307).
			Location("https://s3.test/blob?X-Amz-Signature="+planted+"&X-Amz-Credential="+planted),
		flowtest.Get("https://s3.test/blob?X-Amz-Signature="+planted+"&X-Amz-Credential="+planted).Status(200).Blob(1<<30),
		flowtest.Get("https://down.test/v2/").Err(flow.ErrRefused, "upstream down.test:443 refused the connection"),
	)
	fs[2].Upstream = &flow.TLSInfo{Version: "TLS 1.3", ALPN: "h2", ServerIP: "127.0.0.1", Chain: []flow.CertSummary{{Issuer: "CN=test CA"}}}
	fs[2].Response.Body.SHA256 = "abc"
	fs[0].Response.Body.Truncated = false
	return fs
}

func writeSample(t *testing.T, opts Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trace.har")
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sampleFlows() {
		if err := w.Add(f, Annotation{Kind: "kind-of-" + f.Request.Method}); err != nil {
			t.Fatal(err)
		}
	}
	w.AddHandshakeFailure(flow.HandshakeFailure{Time: flowtest.Epoch, Target: "registry.test:443", Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRoundTripWithoutRedaction(t *testing.T) {
	path := writeSample(t, Options{NoRedact: true})
	h, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, hs, err := h.Flows()
	if err != nil {
		t.Fatal(err)
	}
	want := sampleFlows()
	if len(got) != len(want) || len(hs) != 1 || hs[0].Target != "registry.test:443" {
		t.Fatalf("read %d flows, %d handshakes", len(got), len(hs))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || !g.Start.Equal(w.Start) || g.Request.Method != w.Request.Method || g.Request.URL.String() != w.Request.URL.String() {
			t.Errorf("flow %d: %v %v %s %s, want %v %v %s %s", i, g.ID, g.Start, g.Request.Method, g.Request.URL, w.ID, w.Start, w.Request.Method, w.Request.URL)
		}
		if !equalHeader(g.Request.Header, w.Request.Header) || string(g.Request.Body.Captured) != string(w.Request.Body.Captured) {
			t.Errorf("flow %d request differs: %v %q / %v %q", i, g.Request.Header, g.Request.Body.Captured, w.Request.Header, w.Request.Body.Captured)
		}
		if (g.Response == nil) != (w.Response == nil) {
			t.Fatalf("flow %d response presence differs", i)
		}
		if w.Response != nil {
			gr, wr := g.Response, w.Response
			if gr.Status != wr.Status || gr.Synthetic != wr.Synthetic || !equalHeader(gr.Header, wr.Header) ||
				string(gr.Body.Captured) != string(wr.Body.Captured) || gr.Body.Size != wr.Body.Size || gr.Body.Truncated != wr.Body.Truncated || gr.Body.SHA256 != wr.Body.SHA256 {
				t.Errorf("flow %d response: got %+v\nwant %+v", i, gr, wr)
			}
		}
		if (g.Err == nil) != (w.Err == nil) || g.Err != nil && (*g.Err != *w.Err) {
			t.Errorf("flow %d err %v, want %v", i, g.Err, w.Err)
		}
		if g.Timings.Send != w.Timings.Send || g.Timings.Wait != w.Timings.Wait || g.Timings.DNS != w.Timings.DNS {
			t.Errorf("flow %d timings %+v, want %+v", i, g.Timings, w.Timings)
		}
	}
	if got[2].Upstream == nil || got[2].Upstream.ServerIP != "127.0.0.1" || got[2].Upstream.ALPN != "h2" {
		t.Errorf("upstream %+v", got[2].Upstream)
	}
}

func equalHeader(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func TestPlantedSecretsNeverWritten(t *testing.T) {
	path := writeSample(t, Options{})
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(planted)) {
		i := bytes.Index(b, []byte(planted))
		t.Fatalf("a planted secret survived: …%s…", b[max(0, i-80):min(len(b), i+40)])
	}
	for _, want := range []string{"user=alice", "eyJzdWIiOiJhbGljZSIsImFjY2VzcyI6W119", `Bearer realm=\"https://auth.test/token\"`, "secrets redacted by regtrace", "repository:a:pull"} {
		if !bytes.Contains(b, []byte(want)) && !strings.Contains(string(b), strings.ReplaceAll(want, `\"`, `"`)) {
			t.Errorf("redacted HAR lost %q", want)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("HAR mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatalf("redacted HAR unreadable: %v", err)
	}
}

func TestNoRedactSaysSo(t *testing.T) {
	h, _ := ReadFile(writeSample(t, Options{NoRedact: true}))
	if !strings.Contains(h.Log.Comment, "CONTAINS SECRETS") || h.Log.Regtrace.Redacted {
		t.Errorf("comment %q, ext %+v", h.Log.Comment, h.Log.Regtrace)
	}
}

// After every Add the file is a complete HAR; cut anywhere mid-entry, Read
// recovers every whole entry before the cut.
func TestValidAfterEveryEntryAndRecoverableWhenCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.har")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if h, err := ReadFile(path); err != nil || len(h.Log.Entries) != 0 {
		t.Fatalf("empty HAR: %v", err)
	}
	var sizes []int
	for i, f := range sampleFlows() {
		w.Add(f, Annotation{})
		b, _ := os.ReadFile(path)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON after entry %d", i)
		}
		sizes = append(sizes, len(b))
	}
	full, _ := os.ReadFile(path)
	// Cut inside the 4th entry line: three entries survive.
	lines := bytes.Split(full, []byte("\n"))
	cut := len(bytes.Join(lines[:4], []byte("\n"))) + 1 + len(lines[4])/2
	h, err := Read(bytes.NewReader(full[:cut]))
	if err != nil {
		t.Fatalf("cut HAR: %v", err)
	}
	if len(h.Log.Entries) != 3 {
		t.Errorf("recovered %d entries, want 3", len(h.Log.Entries))
	}
}

func TestReaderErrorsNameEntryAndPath(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"not JSON", "hello", "invalid JSON at byte"},
		{"not a HAR", `{"foo":1}`, "log.entries"},
		{"status is a string", `{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://a/"},"response":{"status":"x"}}]}}`, "entry 0: log.entries[0].response.status"},
		{"relative URL", `{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"/v2/"},"response":{"status":200}}]}}`, "log.entries[0].request.url"},
		{"bad time", `{"log":{"entries":[{"startedDateTime":"yesterday","request":{"method":"GET","url":"https://a/"},"response":{"status":200}}]}}`, "log.entries[0].startedDateTime"},
	} {
		h, err := Read(strings.NewReader(c.in))
		if err == nil {
			_, _, err = h.Flows()
		}
		var fe *FormatError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want a FormatError containing %q", c.name, err, c.want)
		}
	}
}

// A Chrome-style HAR: HTTP/2 pseudo-headers, lower-case names, -1 sizes,
// base64 content, _-prefixed extras, a BOM, serverIPAddress with brackets,
// no Authorization (Chrome's sanitized export).
func TestReadsChromeStyleHAR(t *testing.T) {
	in := "\xef\xbb\xbf" + `{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],"entries":[
{"_initiator":{"type":"other"},"_priority":"High","startedDateTime":"2026-03-01T10:00:00.123Z","time":12.5,
 "request":{"method":"GET","url":"https://registry.test/v2/a/manifests/1","httpVersion":"http/2.0",
  "headers":[{"name":":authority","value":"registry.test"},{"name":":method","value":"GET"},{"name":"accept","value":"application/json"}],
  "queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
 "response":{"status":401,"statusText":"","httpVersion":"http/2.0",
  "headers":[{"name":"www-authenticate","value":"Bearer realm=\"https://auth.test/token\""},{"name":"content-type","value":"application/json"}],
  "cookies":[],"content":{"size":-1,"mimeType":"application/json","text":"eyJlcnJvcnMiOltdfQ==","encoding":"base64"},
  "redirectURL":"","headersSize":-1,"bodySize":-1,"_transferSize":300,"_error":null},
 "cache":{},"timings":{"blocked":-1,"dns":-1,"ssl":-1,"connect":-1,"send":0.1,"wait":10,"receive":2.4},
 "serverIPAddress":"[::1]","_connectionId":"1"}]}}`
	h, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := h.Flows()
	if err != nil {
		t.Fatal(err)
	}
	f := fs[0]
	if f.Request.Header.Get(":authority") != "" || f.Request.Header.Get("Accept") != "application/json" ||
		f.Response.Header.Get("Www-Authenticate") == "" || string(f.Response.Body.Captured) != `{"errors":[]}` ||
		f.Upstream.ServerIP != "::1" || f.Timings.Wait != 10*time.Millisecond {
		t.Errorf("chrome flow = %+v / %+v", f.Request, f.Response)
	}
	if !h.Sanitized() {
		t.Error("a browser HAR without Authorization should count as sanitized")
	}
}

// FuzzRead: garbage never panics the reader; every error is a
// FormatError; what reads converts to one flow per entry or a FormatError,
// and no flow has a status outside 100–599 (0 only beside headers).
// Seeds: the foreign fixtures and a regtrace HAR, whole and cut.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"log":{"entries":[]}}`))
	f.Add([]byte(`{"log":{"version":"1.2","creator":{"name":"regtrace","version":"x"},"pages":[],"entries":[` + "\n" + `{"startedDateTime":"2026-01-01T00:00:00Z"`))
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://a/"},"response":{"status":200,"content":{"text":"!!","encoding":"base64"}}}]}}`))
	paths, _ := filepath.Glob("testdata/*.har")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed := filepath.Join(f.TempDir(), "seed.har")
	w, err := Create(seed, Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, fl := range sampleFlows() {
		w.Add(fl, Annotation{Kind: "k", Findings: []string{"r"}})
	}
	w.AddHandshakeFailure(flow.HandshakeFailure{Time: flowtest.Epoch, Target: "a:443", Message: "bad certificate"})
	w.Close()
	b, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)*2/3])
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, trErr := parseTrace(b)
		var fe *FormatError
		h, err := Read(bytes.NewReader(b))
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("untyped error %T %v", err, err)
			}
			if trErr == nil || trErr.Error() != err.Error() {
				t.Fatalf("ReadTrace says %v where Read says %v", trErr, err)
			}
			return
		}
		fs, hs, err := h.Flows()
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("untyped flows error %T %v", err, err)
		}
		if err == nil && len(fs) != len(h.Log.Entries) {
			t.Fatalf("%d entries became %d flows", len(h.Log.Entries), len(fs))
		}
		for _, fl := range fs {
			if r := fl.Response; r != nil && r.Status != 0 && (r.Status < 100 || r.Status > 599) {
				t.Fatalf("flow %d has status %d, which is no HTTP status", fl.ID, r.Status)
			}
		}
		checkTrace(t, tr, trErr, fs, hs, err, h)
	})
}

// checkTrace: ReadTrace's one pass gives what Read, Flows and Sanitized
// give.
func checkTrace(t *testing.T, tr *Trace, trErr error, fs []*flow.Flow, hs []flow.HandshakeFailure, err error, h *File) {
	t.Helper()
	if err != nil {
		if trErr == nil || trErr.Error() != err.Error() {
			t.Fatalf("ReadTrace says %v where Flows says %v", trErr, err)
		}
		return
	}
	if trErr != nil {
		t.Fatalf("ReadTrace: %v", trErr)
	}
	if !reflect.DeepEqual(tr.Flows, fs) || !reflect.DeepEqual(tr.Handshakes, hs) || tr.Sanitized != h.Sanitized() || tr.Creator != h.Log.Creator {
		t.Fatalf("ReadTrace differs from Read+Flows: %d/%d flows, sanitized %v/%v", len(tr.Flows), len(fs), tr.Sanitized, h.Sanitized())
	}
}

func TestReadTraceIsReadFileFlowsSanitized(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.har")
	paths = append(paths, writeSample(t, Options{}), writeSample(t, Options{NoRedact: true}), redactThirdParty(t))
	for _, p := range paths {
		tr, trErr := ReadTrace(p)
		h, err := ReadFile(p)
		if err != nil || trErr != nil {
			t.Fatalf("%s: %v, %v", p, err, trErr)
		}
		fs, hs, err := h.Flows()
		checkTrace(t, tr, trErr, fs, hs, err, h)
	}
	// Errors: a decoding error comes before an earlier entry's bad URL, as
	// ReadFile's comes before Flows'.
	doc := entries(strings.Replace(okEntry, "https://a/v2/", "/x", 1), okEntry, `{"time":"x"}`)
	if _, err := parseTrace([]byte(doc)); err == nil || !strings.Contains(err.Error(), "entry 2: log.entries[2].time") {
		t.Errorf("err %v", err)
	}
	doc = entries(okEntry, strings.Replace(okEntry, "https://a/v2/", "/x", 1), strings.Replace(okEntry, "https://a/v2/", "/y", 1))
	if _, err := parseTrace([]byte(doc)); err == nil || !strings.Contains(err.Error(), "entry 1: log.entries[1].request.url") {
		t.Errorf("err %v", err)
	}
}

// redactThirdParty sanitizes a HAR written with secrets (ours with
// --no-redact, standing in for any tool's) plus browser-style cookie arrays
// and extension fields.
func redactThirdParty(t *testing.T) string {
	t.Helper()
	h, err := ReadFile(writeSample(t, Options{NoRedact: true}))
	if err != nil {
		t.Fatal(err)
	}
	h.Log.Creator = Creator{Name: "mitmproxy", Version: "12"}
	h.Log.Entries[2].Request.Cookies = []Cookie{{Name: "session", Value: planted}}
	h.Log.Entries[1].Request.PostData.Params = append(h.Log.Entries[1].Request.PostData.Params, NameValue{Name: "refresh_token", Value: planted})
	out := filepath.Join(t.TempDir(), "redacted.har")
	if err := WriteFile(out, Redact(h)); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRedactSanitizesAnyHAR(t *testing.T) {
	path := redactThirdParty(t)
	b, _ := os.ReadFile(path)
	if i := bytes.Index(b, []byte(planted)); i >= 0 {
		t.Fatalf("a planted secret survived redact: …%s…", b[max(0, i-80):min(len(b), i+40)])
	}
	for _, want := range []string{"user=alice", "eyJzdWIiOiJhbGljZSIsImFjY2VzcyI6W119", "repository:a:pull", "secrets redacted"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("redact lost %q", want)
		}
	}
	h, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fs, _, err := h.Flows(); err != nil || len(fs) != len(sampleFlows()) {
		t.Errorf("redacted HAR reads back as %d flows, %v", len(fs), err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}
