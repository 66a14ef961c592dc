package har

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

func readFixture(t *testing.T, name string) (*File, []*flow.Flow) {
	t.Helper()
	h, err := ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := h.Flows()
	if err != nil {
		t.Fatal(err)
	}
	return h, fs
}

func TestReadsChrome131SanitizedExport(t *testing.T) {
	h, fs := readFixture(t, "chrome-131-sanitized.har")
	if len(fs) != 4 || !h.Sanitized() {
		t.Fatalf("%d flows, sanitized %v", len(fs), h.Sanitized())
	}
	// Sorted by start: the cached script came first.
	if fs[0].Request.URL.Path != "/ui/app.js" || fs[1].Request.URL.Path != "/v2/" {
		t.Errorf("order: %s, %s", fs[0].Request.URL, fs[1].Request.URL)
	}
	ping := fs[1]
	if ping.Request.Header.Get(":authority") != "" || len(ping.Request.Header) != 5 || ping.Request.Header.Get("User-Agent") == "" ||
		ping.Response.Header.Get("Www-Authenticate") == "" || ping.Upstream == nil || ping.Upstream.ServerIP != "::1" ||
		ping.Request.Proto != "http/2.0" || ping.Timings.DNS != -1 || ping.Timings.Wait != 1902*time.Microsecond {
		t.Errorf("ping: %+v %+v %+v", ping.Request, ping.Response, ping.Timings)
	}
	tok := fs[2]
	if string(tok.Response.Body.Captured[:10]) != `{"token":"` || tok.Response.Body.Size != 594 || tok.Request.URL.Query().Get("scope") != "repository:team/app:pull" {
		t.Errorf("token response %q size %d", tok.Response.Body.Captured, tok.Response.Body.Size)
	}
	// The body Chrome left out (a disk-cache hit) is not there, and says so.
	if js := fs[0]; len(js.Response.Body.Captured) != 0 || js.Response.Body.Size != 1840 || !js.Response.Body.Truncated || js.Upstream != nil {
		t.Errorf("cached script body %+v upstream %+v", js.Response.Body, js.Upstream)
	}
}

func TestReadsFirefox128(t *testing.T) {
	h, fs := readFixture(t, "firefox-128.har")
	if len(fs) != 2 || h.Sanitized() || h.Log.Browser == nil || h.Log.Browser.Name != "Firefox" {
		t.Fatalf("%d flows, sanitized %v, browser %+v", len(fs), h.Sanitized(), h.Log.Browser)
	}
	want := time.Date(2026, 3, 1, 10, 45, 10, 10e6, time.UTC)
	if !fs[0].Start.Equal(want) || fs[0].Request.Header.Get("Authorization") != "Basic YWxpY2U6YWxpY2UtcHc=" {
		t.Errorf("start %v (want %v), auth %q", fs[0].Start, want, fs[0].Request.Header.Get("Authorization"))
	}
	// content.size 0 beside a text: the text is the body.
	if b := fs[0].Response.Body; b.Size != 404 || b.Truncated {
		t.Errorf("token body %+v", b)
	}
	if fs[1].Response.Status != 404 || fs[1].Response.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("manifest %+v", fs[1].Response)
	}
}

func TestReadsMitmproxy10Savehar(t *testing.T) {
	h, fs := readFixture(t, "mitmproxy-10-savehar.har")
	if len(fs) != 2 || h.Sanitized() {
		t.Fatalf("%d flows, sanitized %v", len(fs), h.Sanitized())
	}
	f := fs[1]
	if string(f.Response.Body.Captured) != "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"invalid username or password\"}]}\n" ||
		f.Upstream.ServerIP != "::1" || f.Timings.DNS != -1 || f.Timings.Blocked != -1 || f.Timings.TLS != 4900*time.Microsecond ||
		f.Timings.Connect != 1800*time.Microsecond { // mitmproxy's connect leaves ssl out
		t.Errorf("token flow %+v %+v %+v", f.Response, f.Upstream, f.Timings)
	}
	if fs[0].Start.Nanosecond() != 1853000 {
		t.Errorf("microseconds lost: %v", fs[0].Start)
	}
}

func TestReadsHTTPToolkit119(t *testing.T) {
	h, fs := readFixture(t, "httptoolkit-1.19.har")
	if len(fs) != 3 || h.Sanitized() {
		t.Fatalf("%d flows, sanitized %v", len(fs), h.Sanitized())
	}
	head := fs[2]
	if head.Request.Method != http.MethodHead || head.Request.Header.Get(":method") != "" || head.Request.Header.Get("Authorization") != "Bearer dckr-opaque-anonymous" ||
		head.Response.Status != 429 || head.Response.Header.Get("Ratelimit-Remaining") != "0;w=21600" || head.Response.Body.Size != 0 || head.Upstream != nil {
		t.Errorf("HEAD 429 %+v %+v", head.Request, head.Response)
	}
}

// Chrome records a request that never got an answer with status 0 and
// response._error; it is a failed exchange, not a response.
func TestReadsChromeFailedRequest(t *testing.T) {
	h, err := Read(strings.NewReader(entries(`{"startedDateTime":"2026-03-01T10:45:10.003Z","request":{"method":"GET","url":"https://registry.test/v2/","httpVersion":"","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
"response":{"status":0,"statusText":"","httpVersion":"","headers":[],"cookies":[],"content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":-1,"_transferSize":0,"_error":"net::ERR_CERT_AUTHORITY_INVALID"},
"cache":{},"timings":{"blocked":-1,"dns":-1,"ssl":-1,"connect":-1,"send":0,"wait":0,"receive":0},"time":0}`)))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := h.Flows()
	if err != nil {
		t.Fatal(err)
	}
	if f := fs[0]; f.Response != nil || f.Err == nil || f.Err.Kind != flow.ErrUnknownAuthority || f.Err.Message != "net::ERR_CERT_AUTHORITY_INVALID" {
		t.Errorf("flow %+v err %+v", f.Response, f.Err)
	}
}

// chrome-har 1.3 merges the headers the page asked for with those Chrome
// sent: the same header twice, in two cases, beside pseudo-headers.
func TestChromeHarDuplicateHeadersCountOnce(t *testing.T) {
	h, err := Read(strings.NewReader(entries(`{"startedDateTime":"2026-03-01T10:45:10.003Z","request":{"method":"GET","url":"https://registry.test/v2/a/manifests/1","httpVersion":"h2",
"headers":[{"name":"Authorization","value":"Bearer t"},{"name":"User-Agent","value":"HeadlessChrome"},{"name":":authority","value":"registry.test"},{"name":"accept","value":"a"},{"name":"authorization","value":"Bearer t"},{"name":"user-agent","value":"HeadlessChrome"},{"name":"Accept","value":"b"}]},
"response":{"status":404,"httpVersion":"h2","headers":[]}}`)))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := h.Flows()
	if err != nil {
		t.Fatal(err)
	}
	hd := fs[0].Request.Header
	if len(hd["Authorization"]) != 1 || len(hd["User-Agent"]) != 1 || len(hd["Accept"]) != 2 || len(hd) != 3 {
		t.Errorf("headers %v", hd)
	}
}

// Sanitized: an exporter's own redaction proves nothing about what was
// sent; regtrace's redaction keeps the scheme, so presence still counts.
func TestSanitizedTellsExportersFromRegtraceRedact(t *testing.T) {
	h, _ := readFixture(t, "mitmproxy-10-savehar.har")
	if r := Redact(h); r.Sanitized() || !strings.Contains(r.Log.Entries[1].Request.Headers[2].Value, "REDACTED(user=alice)") {
		t.Errorf("regtrace redact of a mitmproxy HAR counts as sanitized: %+v", r.Log.Entries[1].Request.Headers)
	}
	// Google's HAR sanitizer style: the value replaced by a marker.
	h.Log.Entries[1].Request.Headers[2].Value = "[authorization redacted]"
	if !h.Sanitized() {
		t.Error("a sanitizer's marker does not count as sanitized")
	}
}

// mitmproxy 8 records a tunnel it could not open as the CONNECT itself,
// its URL in authority form, answered by its own 502.
func TestReadsMitmproxyFailedConnect(t *testing.T) {
	h, err := Read(strings.NewReader(entries(`{"startedDateTime":"2026-03-01T10:45:10.5+00:00","request":{"method":"CONNECT","url":"registry.test:41597","httpVersion":"HTTP/1.1","headers":[{"name":"Host","value":"registry.test:41597"}]},
"response":{"status":502,"statusText":"Bad Gateway","httpVersion":"HTTP/1.1","headers":[{"name":"content-length","value":"87"}],"content":{"size":87,"mimeType":"","text":"Cannot connect to 127.0.0.1:41597: [Errno 111] Connect call failed ('127.0.0.1', 41597)"}},"timings":{"send":-1,"wait":-1,"receive":2.787}}`)))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := h.Flows()
	if err != nil {
		t.Fatal(err)
	}
	if u := fs[0].Request.URL; u.Host != "registry.test:41597" || u.Scheme != "https" || fs[0].Response.Status != 502 {
		t.Errorf("CONNECT read as %v %+v", u, fs[0].Response)
	}
}

// regtrace records a CONNECT it could not open the same way (issue 12),
// its URL made absolute with https: it reads back as the same flow, and as
// mitmproxy's entry does.
func TestFailedConnectRoundTrips(t *testing.T) {
	const msg = "upstream registry.test:41597 refused the connection (127.0.0.1:41597): nothing is listening there"
	want := flowtest.Seq(flowtest.New(http.MethodConnect, "https://registry.test:41597").Header("Host", "registry.test:41597").
		Err(flow.ErrRefused, msg).RespHeader("X-Regtrace-Error", "connection-refused: "+msg).RespBody("text/plain; charset=utf-8", "regtrace: "+msg+"\n"))[0]
	want.Timings = flow.Timings{Blocked: -1, DNS: -1, Connect: 80 * time.Microsecond, TLS: -1, Send: -1, Wait: -1, Receive: -1}
	for _, opts := range []Options{{}, {NoRedact: true}} {
		path := filepath.Join(t.TempDir(), "connect.har")
		w, err := Create(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(want, Annotation{}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		tr, err := ReadTrace(path)
		if err != nil || len(tr.Flows) != 1 {
			t.Fatalf("ReadTrace: %v, %d flows", err, len(tr.Flows))
		}
		h, _ := ReadFile(path)
		if u := h.Log.Entries[0].Request.URL; u != "https://registry.test:41597" {
			t.Errorf("written URL %q, want https://registry.test:41597", u)
		}
		got := tr.Flows[0]
		if got.Request.Method != http.MethodConnect || got.Request.URL.String() != want.Request.URL.String() || got.Request.URL.Host != "registry.test:41597" {
			t.Errorf("read as %s %v", got.Request.Method, got.Request.URL)
		}
		if got.Err == nil || *got.Err != *want.Err {
			t.Errorf("err %v, want %v", got.Err, want.Err)
		}
		if r := got.Response; r == nil || r.Status != 502 || !r.Synthetic || r.Body.Text() != want.Response.Body.Text() ||
			r.Header.Get("X-Regtrace-Error") != want.Response.Header.Get("X-Regtrace-Error") {
			t.Errorf("response %+v", r)
		}
		// HAR has no "does not apply" for send, wait and receive: 0.
		if got.Timings.Connect != want.Timings.Connect || got.Timings.DNS >= 0 || got.Timings.Send != 0 || got.Timings.Wait != 0 {
			t.Errorf("timings %+v, want connect 80µs, no DNS, send and wait 0", got.Timings)
		}
	}
}
