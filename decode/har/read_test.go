package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const okEntry = `{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://a/v2/"},"response":{"status":200}}`

func entries(es ...string) string {
	return `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[` + strings.Join(es, ",") + `]}}`
}

// Every malformed document is a FormatError naming the entry (or the log)
// and the JSON path, never a panic or a silently shorter trace.
func TestReaderStructureErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "(document): invalid JSON at byte 0: unexpected end of input"},
		{"array document", `[]`, `(document): invalid JSON at byte 0: want '{'`},
		{"trailing comma in entries", `{"log":{"entries":[` + okEntry + `,]}}`, "entry 1: log.entries[1]: invalid JSON"},
		{"cut in entries", `{"log":{"entries":[` + okEntry + `,{"startedDateTime":"2026`, "entry 1: log.entries[1]: invalid JSON at byte"},
		{"missing comma", `{"log":{"entries":[` + okEntry + okEntry + `]}}`, "entry 1: log.entries[1]: invalid JSON"},
		{"entry is a number", entries(okEntry, `7`), "entry 1: log.entries[1]: json: cannot unmarshal number"},
		{"bad JSON inside an entry", entries(okEntry, `{"request":{"method":GET}}`), "entry 1: log.entries[1]: invalid JSON at byte"},
		{"bad JSON in an unknown entry field", entries(`{"_initiator":{"a":[1,}]},"startedDateTime":"x"}`), "entry 0: log.entries[0]: invalid JSON"},
		{"wrong type deep", entries(okEntry, `{"response":{"content":{"size":"big"}}}`), "entry 1: log.entries[1].response.content.size"},
		{"entries is an object", `{"log":{"entries":{}}}`, `log.entries: invalid JSON at byte 18: want '['`},
		{"log is a string", `{"log":"x"}`, `log: invalid JSON at byte 7: want '{'`},
		{"bad creator", `{"log":{"creator":[],"entries":[]}}`, "log.creator: json: cannot unmarshal array"},
		{"bad unknown log member", `{"log":{"_x":{"a":},"entries":[]}}`, "log._x: invalid JSON at byte"},
		{"bad unknown top member", `{"x":tru,"log":{"entries":[]}}`, "x: invalid JSON at byte"},
		{"data after", `{"log":{"entries":[]}} {}`, "(document): invalid JSON at byte 23: data after the document"},
		{"member name not a string", `{"log":{entries:[]}}`, "log: invalid JSON at byte 8: want a member name"},
		{"no colon", `{"log" {"entries":[]}}`, `(document): invalid JSON at byte 7: want ':'`},
		{"unterminated string", `{"log":{"entries":[{"a":"b`, "unexpected end of input"},
		{"escaped quote does not end a string", `{"log":{"entries":[{"a":"b\"}]}}`, "unexpected end of input"},
		{"no entries", `{"log":{"version":"1.2"}}`, "log.entries: not a HAR file"},
	} {
		_, err := Read(strings.NewReader(c.in))
		var fe *FormatError
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want a FormatError containing %q", c.name, err, c.want)
		}
	}
}

// A response status outside 100–599 is a FormatError naming the entry and
// response.status, from Flows and from ReadTrace alike; status 0 stays a
// flow without a response (with _error, a failed exchange).
func TestFlowsResponseStatusRange(t *testing.T) {
	entry := func(resp string) string {
		return `{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://a/v2/"},"response":` + resp + `}`
	}
	for _, c := range []struct {
		name, resp string
		want       int    // the flow's status, -1 for no response
		errKind    string // the flow's Err kind, "" for none
		err        string // the FormatError, "" for none
	}{
		{name: "200", resp: `{"status":200}`, want: 200},
		{name: "100, the lowest", resp: `{"status":100}`, want: 100},
		{name: "599, the highest", resp: `{"status":599}`, want: 599},
		{name: "0 with Chrome's _error is a failed exchange", resp: `{"status":0,"headers":[],"_error":"net::ERR_CERT_AUTHORITY_INVALID"}`, want: -1, errKind: "tls-unknown-authority"},
		{name: "0 without _error is no response", resp: `{"status":0,"headers":[]}`, want: -1},
		{name: "no status at all is no response", resp: `{}`, want: -1},
		{name: "42", resp: `{"status":42}`, err: "entry 1: log.entries[1].response.status: 42 is not an HTTP status (100–599, RFC 9110 §15; 0 for no response)"},
		{name: "99", resp: `{"status":99}`, err: "log.entries[1].response.status: 99 is not an HTTP status"},
		{name: "600", resp: `{"status":600,"headers":[{"name":"a","value":"b"}]}`, err: "log.entries[1].response.status: 600 is not an HTTP status"},
		{name: "99999", resp: `{"status":99999}`, err: "log.entries[1].response.status: 99999 is not an HTTP status"},
		{name: "negative", resp: `{"status":-1}`, err: "log.entries[1].response.status: -1 is not an HTTP status"},
		{name: "negative with _error", resp: `{"status":-200,"_error":"net::ERR_FAILED"}`, err: "log.entries[1].response.status: -200 is not an HTTP status"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := entries(okEntry, entry(c.resp))
			h, err := Read(strings.NewReader(doc))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			fs, _, err := h.Flows()
			path := filepath.Join(t.TempDir(), "t.har")
			if werr := os.WriteFile(path, []byte(doc), 0o600); werr != nil {
				t.Fatal(werr)
			}
			tr, trErr := ReadTrace(path)
			if c.err != "" {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Entry != 1 || fe.Path != "log.entries[1].response.status" || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Flows() error = %v, want a FormatError for entry 1 at response.status saying %q", err, c.err)
				}
				if !errors.As(trErr, &fe) || fe.Path != "log.entries[1].response.status" {
					t.Errorf("ReadTrace error = %v, want the same FormatError", trErr)
				}
				return
			}
			if err != nil || trErr != nil {
				t.Fatalf("Flows() error = %v, ReadTrace error = %v, want nil", err, trErr)
			}
			f := fs[1]
			got := -1
			if f.Response != nil {
				got = f.Response.Status
			}
			gotKind := ""
			if f.Err != nil {
				gotKind = string(f.Err.Kind)
			}
			if got != c.want || gotKind != c.errKind {
				t.Errorf("flow status = %d, error kind %q; want %d, %q", got, gotKind, c.want, c.errKind)
			}
			if len(tr.Flows) != 2 || !reflect.DeepEqual(tr.Flows[1], f) {
				t.Errorf("ReadTrace flow = %+v, want %+v", tr.Flows[1], f)
			}
		})
	}
}

// Entries decode in parallel, but the error reported is always that of the
// first bad entry, as a sequential reader would report it.
func TestParallelReportsFirstBadEntry(t *testing.T) {
	es := make([]string, 5000)
	for i := range es {
		es[i] = okEntry
	}
	es[4321] = `{"time":"slow"}`
	es[3000] = `{"response":{"status":"ok"}}`
	es[3999] = `{"request":{"method":GET}}`
	for range 20 {
		_, err := Read(strings.NewReader(entries(es...)))
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Entry != 3000 || fe.Path != "log.entries[3000].response.status" {
			t.Fatalf("err %v, want entry 3000 at response.status", err)
		}
	}
	// And flows: the first entry whose URL is bad.
	es[4321], es[3000], es[3999] = okEntry, okEntry, okEntry
	es[4000] = strings.Replace(okEntry, "https://a/v2/", "/relative", 1)
	es[2500] = strings.Replace(okEntry, "2026-01-01T00:00:00Z", "soon", 1)
	h, err := Read(strings.NewReader(entries(es...)))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = h.Flows()
	if err == nil || !strings.Contains(err.Error(), "entry 2500: log.entries[2500].startedDateTime") {
		t.Errorf("flows err %v", err)
	}
}

// Literal values of every JSON kind at the document levels the scanner
// walks itself.
func TestReaderSkipsUnknownMembersOfAnyKind(t *testing.T) {
	in := `{"a":1,"b":-2.5e3,"c":true,"d":null,"e":"x\"}","f":[{"]":"["}],"log":{"_n":0,"_s":"}","entries":[ ` + okEntry + ` ],"_t":false},"z":{}}`
	h, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Log.Entries) != 1 || h.Log.Entries[0].Request.URL != "https://a/v2/" {
		t.Errorf("entries %+v", h.Log.Entries)
	}
}

// Absent optional timings are -1 ("does not apply"), as HAR 1.2 says.
func TestAbsentOptionalTimingsAreMinusOne(t *testing.T) {
	h, err := Read(strings.NewReader(entries(`{"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://a/"},"response":{"status":200},"timings":{"send":1,"wait":2,"receive":3}}`)))
	if err != nil {
		t.Fatal(err)
	}
	got := h.Log.Entries[0].Timings
	if got != (Timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1, Send: 1, Wait: 2, Receive: 3}) {
		t.Errorf("timings %+v", got)
	}
}

// fastEntry decodes what it accepts exactly as encoding/json does.
func checkFastEntry(t *testing.T, b []byte) (accepted bool) {
	t.Helper()
	fast, ref := newEntry(), newEntry()
	if !fastEntry(b, &fast) {
		return false
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("fastEntry accepted what encoding/json rejects (%v):\n%s", err, b)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("fastEntry and encoding/json differ on\n%s\nfast %+v\njson %+v", b, fast, ref)
	}
	return true
}

func TestFastEntryAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range []struct {
		in     string
		accept bool
	}{
		{okEntry, true},
		{`{}`, true},
		{` { "time" : 1.25 , "timings" : { "wait" : 0.1 , "send" : -1 } } `, true},
		{`{"time":1e3}`, true},
		{`{"time":12345678901234567890}`, true},
		{`{"time":0.1234567890123456789}`, true},
		{`{"request":{"headers":[{"name":"a","value":"b\"c\\d\/e\n\t\r\b\f"}]}}`, true},
		{`{"request":{"headers":[],"cookies":[],"queryString":null}}`, true},
		{`{"request":{"headers":[null,{"name":"x"}]}}`, true},
		{`{"response":{"content":{"text":"h\u00e9","size":-1}}}`, true},
		{"{\"response\":{\"content\":{\"text\":\"bad \xff utf8\"}}}", true},
		{"{\"response\":{\"content\":{\"text\":\"caf\xc3\xa9 \\\"x\\\"\"}}}", true},
		{`{"request":{"url":"https://a/t?scope=x\u0026service=y"}}`, true},
		{`{"comment":"\ud83d\ude00 \uD800 \udc00x \ud800\u0041 \u00e9\u20AC"}`, true},
		{"{\"comment\":\"\\u0041\xff\xc3\xa9\\n\xe2\x82\"}", true},
		{`{"_regtrace":{"id":3,"findings":["a",null],"requestBody":null,"upstreamTLS":{"insecure":true}}}`, true},
		{`{"cache":{"beforeRequest":{"x":[1,{"y":null}]}}}`, true},
		{`{"cache":null,"pageref":null}`, true},
		{`{"_initiator":{"stack":{"callFrames":[{"lineNumber":3,"url":"https://x/"}]}},"_priority":"High"}`, true},
		{`{"Request":{"method":"GET"}}`, false},          // case-folded name: encoding/json's rules
		{`{"time":1,"time":2}`, false},                   // duplicate
		{`{"response":{"status":200.0}}`, false},         // float into int
		{`{"response":{"status":"200"}}`, false},         // type error
		{`{"_regtrace":{"id":-1}}`, false},               // negative into uint
		{`{"time":01}`, false},                           // not JSON
		{`{"time":1.}`, false},                           // not JSON
		{`{"time":-}`, false},                            // not JSON
		{`{"request":{"url":"a` + "\x01" + `"}}`, false}, // control byte
		{`{"x":"\q"}`, false},                            // bad escape
		{`{"x":[1,]}`, false},                            // trailing comma
		{`{"x":tru}`, false},                             // bad literal
		{`{"time":1}x`, false},                           // trailing data
		{`{"\u0074ime":1}`, false},                       // escaped member name
		{`null`, false},
	} {
		if got := checkFastEntry(t, []byte(c.in)); got != c.accept {
			t.Errorf("fastEntry(%s) accepted=%v, want %v", c.in, got, c.accept)
		}
	}
}

// FuzzFastEntry: whatever fastEntry accepts, encoding/json decodes to the
// same Entry.
func FuzzFastEntry(f *testing.F) {
	f.Add([]byte(okEntry))
	f.Add([]byte(`{"time":1.5,"timings":{"wait":0.25},"request":{"headers":[{"name":"a","value":"b\"c"}]},"cache":{}}`))
	f.Add([]byte(`{"_regtrace":{"id":3,"findings":["a"],"requestBody":{"size":1,"captured":1}},"response":{"cookies":[{"name":"a","httpOnly":true}]}}`))
	for _, b := range fixtureEntries(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFastEntry(t, b) })
}

// fixtureEntries returns every entry of the hand-written foreign HARs.
func fixtureEntries(tb testing.TB) [][]byte {
	paths, _ := filepath.Glob("testdata/*.har")
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var doc struct {
			Log struct {
				Entries []json.RawMessage `json:"entries"`
			} `json:"log"`
		}
		if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &doc); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		for _, e := range doc.Log.Entries {
			out = append(out, e)
		}
	}
	return out
}

func TestFastEntryTakesTheForeignFixtures(t *testing.T) {
	es := fixtureEntries(t)
	if len(es) == 0 {
		t.Fatal("no fixtures")
	}
	for i, e := range es {
		if !checkFastEntry(t, e) {
			t.Errorf("fixture entry %d falls back to encoding/json:\n%s", i, e)
		}
	}
}

func ExampleFormatError() {
	_, err := Read(strings.NewReader(entries(okEntry, `{"response":{"status":"200"}}`)))
	fmt.Println(err)
	// Output: entry 1: log.entries[1].response.status: json: cannot unmarshal string into Go struct field Response.response.status of type int
}

// A file large enough for the huge-page buffer reads as the same entries
// as through Read, and nothing decoded points into the released buffer.
func TestReadFileLargeMatchesRead(t *testing.T) {
	pad := strings.Repeat("x", 4096)
	es := make([]string, 2500) // ~10 MiB
	for i := range es {
		es[i] = fmt.Sprintf(`{"startedDateTime":"2026-01-01T00:00:00Z","comment":"%d %s","request":{"method":"GET","url":"https://a/v2/r%d/manifests/1","headers":[{"name":"User-Agent","value":"u\u0026%d"}]},"response":{"status":200,"content":{"size":1,"text":"%s"}}}`, i, pad, i, i, pad)
	}
	doc := entries(es...)
	path := filepath.Join(t.TempDir(), "big.har")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Read(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	// Reuse the address space the buffer had: a string left pointing
	// into it would now read garbage or fault.
	junk := make([][]byte, 64)
	for i := range junk {
		junk[i] = bytes.Repeat([]byte{0xAA}, 256<<10)
	}
	if !reflect.DeepEqual(got, want) || got.Log.Entries[2499].Request.Headers[0].Value != "u&2499" {
		t.Errorf("ReadFile and Read differ")
	}
}
