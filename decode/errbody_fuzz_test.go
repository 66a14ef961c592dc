package decode

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseErrorBody checks that ParseErrorBody never panics and keeps its
// bounds: a known Format, Text of at most 200 bytes of valid UTF-8, details of
// at most 300 bytes, Truncated whenever truncated.
func FuzzParseErrorBody(f *testing.F) {
	for _, c := range []struct {
		ct, body string
	}{
		{"application/json", `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"1.0"}}]}`},
		{"application/json", `{"errors":[{"code":"A"},{"code":"B","detail":[1,{"x":null}]},{"code":"C","mess`},
		{"", `{"details":"incorrect username or password"}`},
		{"text/html", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502</h1></center></body></html>"},
		{"application/xml", `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`},
		{"text/plain", "Too Many Requests\n"},
		{"text/plain", `{"errors":{"a":[`},
		{"", "<h3"},
		{"", "<script"},
		{"", "\x00\xff"},
		{"application/json", `"just a string"`},
		{"application/json", `[[[[`},
		{"bogus/;;;", `{"error":"e","error_description":"d"}`},
	} {
		f.Add(c.ct, []byte(c.body), false)
		f.Add(c.ct, []byte(c.body), true)
	}
	formats := map[string]bool{"errors": true, "details": true, "json": true, "html": true, "xml": true, "text": true, "empty": true}
	f.Fuzz(func(t *testing.T, ct string, body []byte, truncated bool) {
		eb := ParseErrorBody(ct, body, truncated)
		if !formats[eb.Format] {
			t.Fatalf("Format %q", eb.Format)
		}
		if len(eb.Text) > 200 || !utf8.ValidString(eb.Text) {
			t.Fatalf("Text %q", eb.Text)
		}
		if truncated && !eb.Truncated {
			t.Fatal("Truncated lost")
		}
		if eb.Format == "empty" && strings.TrimSpace(strings.TrimPrefix(string(body), "\xef\xbb\xbf")) != "" {
			t.Fatalf("body %q taken for empty", body)
		}
		for _, e := range eb.Errors {
			if len(e.Detail) > 300 {
				t.Fatalf("Detail %d bytes", len(e.Detail))
			}
		}
		if len(eb.Errors) > 0 && eb.Format != "errors" && eb.Format != "details" && eb.Format != "xml" {
			t.Fatalf("errors in a %q body", eb.Format)
		}
	})
}

// FuzzFastErrorsBody: wherever the hand-written reader of the common OCI
// error body answers, the general one answers the same.
func FuzzFastErrorsBody(f *testing.F) {
	for _, s := range []string{
		`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"1.0"}}]}`,
		`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"team/app","Action":"pull"}]}]}` + "\n",
		`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`,
		` { "errors" : [ { "code" : "A" , "detail" : null } , { "message" : "m" , "detail" : "x\"y" } ] } `,
		`{"errors":[]}`, `{"errors":[{}]}`, `{"errors":[{"code":"A","code":"B"}]}`, `{"errors":[{"Code":"A"}]}`,
		`{"errors":[{"code":"A","detail":tru}]}`, `{"errors":[{"code":"A","detail":1.5e3}]}`, `{"errors":[{"code":"A\u0041"}]}`,
		`{"errors":[{"code":"A","detail":{"a":[1,2,{"b":"]"}]}}]}`, `{"errors":[{"code":"A"}],"x":1}`, `{"errors":[{"code":"A"}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := fastErrorsBody(b)
		if !ok {
			return
		}
		slow, sok := jsonErrorBody(b)
		if !sok || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, general %+v (ok %v)", b, fast, slow, sok)
		}
	})
}
