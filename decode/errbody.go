package decode

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of the texts an ErrorBody keeps.
const (
	maxErrorText   = 200 // ErrorBody.Text
	maxErrorDetail = 300 // RegistryError.Detail
)

// ParseErrorBody reads the body of a non-2xx response: an OCI error body
// {"errors":[{"code","message","detail"}]} (Format "errors"; detail, which may
// be any JSON, kept as compact text of at most 300 bytes), a legacy
// {"details":"…"} (Format "details", one RegistryError with that Message),
// other JSON (Format "json", Text a summary), an HTML page from a front proxy
// (Format "html", Text its <title> or first heading), XML such as S3's
// <Error><Code>AccessDenied</Code>… (Format "xml", Errors from each <Error>),
// plain text (Format "text", Text its first line), or nothing (Format "empty",
// as for every HEAD response).
//
// The content type decides first; a body that contradicts it (JSON declared,
// markup sent) is sniffed. body may be a prefix of the real body (truncated
// true): the complete error entries it holds are still returned. Truncated is
// set when truncated is, and when a JSON body ends in the middle of a value.
// ParseErrorBody is total: garbage becomes Format "text".
func ParseErrorBody(contentType string, body []byte, truncated bool) ErrorBody {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) == 0 {
		return ErrorBody{Format: "empty", Truncated: truncated}
	}
	kind := errBodyKind(contentType)
	switch kind {
	case "json":
		if b[0] != '{' && b[0] != '[' && b[0] != '"' {
			kind = sniffErrBody(b)
		}
	case "html", "xml":
		if b[0] != '<' {
			kind = sniffErrBody(b)
		}
	case "text":
		if b[0] == '{' || b[0] == '[' { // Go's http.Error and some proxies label JSON text/plain
			kind = "json"
		}
	default:
		kind = sniffErrBody(b)
	}
	var eb ErrorBody
	switch kind {
	case "json":
		var ok bool
		if eb, ok = fastErrorsBody(b); ok {
			break
		}
		if eb, ok = jsonErrorBody(b); !ok {
			eb = textErrorBody(b, truncated)
		}
	case "html":
		eb = htmlErrorBody(b)
	case "xml":
		eb = xmlErrorBody(b)
	default:
		eb = textErrorBody(b, truncated)
	}
	eb.Truncated = eb.Truncated || truncated
	return eb
}

// errBodyKind maps a Content-Type to "json", "html", "xml", "text" or "".
func errBodyKind(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return "json"
	case mt == "text/html" || mt == "application/xhtml+xml":
		return "html"
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return "xml"
	case mt == "text/plain":
		return "text"
	}
	return ""
}

// sniffErrBody guesses the kind of a body from its first bytes.
func sniffErrBody(b []byte) string {
	switch b[0] {
	case '{', '[':
		return "json"
	case '<':
		head := asciiLowerBytes(b[:min(len(b), 512)])
		for _, m := range []string{"<!doctype html", "<html", "<head", "<body", "<title", "<h1", "<center", "<p>"} {
			if bytes.Contains(head, []byte(m)) {
				return "html"
			}
		}
		return "xml"
	}
	return "text"
}

// asciiLowerBytes lower-cases ASCII letters only, so byte offsets stay valid.
func asciiLowerBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// isCut reports whether a JSON decoding error means the input ended early.
func isCut(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// jsonErrorBody reads a JSON body with a token stream, so that a prefix still
// yields its complete members. ok is false when b is not JSON at all.
func jsonErrorBody(b []byte) (eb ErrorBody, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	first, err := dec.Token()
	if err != nil {
		return ErrorBody{}, false
	}
	if d, isDelim := first.(json.Delim); !isDelim || d != '{' {
		// An array or a scalar: summarise it.
		eb.Format = "json"
		eb.Text = clipText(oneLine(string(b)), maxErrorText)
		if isDelim {
			err := skipJSONValue(dec, 1)
			eb.Truncated = err != nil && isCut(err)
		}
		return eb, true
	}
	var (
		hasErrors bool
		fields    = map[string]json.RawMessage{}
		keys      []string
		failed    error
	)
walk:
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			failed = err
			break
		}
		key, _ := kt.(string)
		keys = append(keys, key)
		if !strings.EqualFold(key, "errors") {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				failed = err
				break
			}
			fields[strings.ToLower(key)] = raw
			continue
		}
		t, err := dec.Token()
		if err != nil {
			failed = err
			break
		}
		d, isDelim := t.(json.Delim)
		if !isDelim || d != '[' {
			if isDelim { // an object: skip it
				if err := skipJSONValue(dec, 1); err != nil {
					failed = err
					break
				}
			}
			continue
		}
		hasErrors = true
		eb.Errors = nil // a repeated member replaces the earlier one, as in encoding/json
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				failed = err
				break walk
			}
			if re, ok := registryError(raw); ok {
				eb.Errors = append(eb.Errors, re)
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			failed = err
			break
		}
	}
	if failed == nil {
		if _, err := dec.Token(); err != nil { // '}'
			failed = err
		}
	}
	if failed != nil && !isCut(failed) && len(keys) == 0 {
		return ErrorBody{}, false // "{" then garbage
	}
	eb.Truncated = failed != nil && isCut(failed)
	switch {
	case hasErrors:
		eb.Format = "errors"
	case fields["details"] != nil:
		eb.Format = "details"
		eb.Errors = []RegistryError{{Message: jsonText(fields["details"])}}
	default:
		eb.Format = "json"
		eb.Text = jsonSummary(fields, keys)
	}
	return eb, true
}

// skipJSONValue consumes tokens until depth open delimiters are closed.
func skipJSONValue(dec *json.Decoder, depth int) error {
	for depth > 0 {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// registryError reads one entry of an "errors" array. Member names match
// case-insensitively, as they do for the clients (encoding/json).
func registryError(raw json.RawMessage) (RegistryError, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return RegistryError{Message: s}, true
		}
		return RegistryError{}, false
	}
	var re RegistryError
	for k, v := range m {
		switch strings.ToLower(k) {
		case "code":
			re.Code = jsonText(v)
		case "message":
			re.Message = jsonText(v)
		case "detail":
			if d := compactJSON(v); d != "null" {
				re.Detail = clipText(d, maxErrorDetail)
			}
		}
	}
	return re, true
}

// jsonText returns a JSON string's value, or other JSON as compact text;
// "" for null.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if t := compactJSON(raw); t != "null" {
		return t
	}
	return ""
}

// jsonSummary summarises a JSON object that is not an OCI error body: its
// message-like member, else its member names.
func jsonSummary(fields map[string]json.RawMessage, keys []string) string {
	str := func(k string) string {
		var s string
		if raw, ok := fields[k]; ok && json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s)
		}
		return ""
	}
	if e, d := str("error"), str("error_description"); e != "" && d != "" {
		return clipText(oneLine(e+": "+d), maxErrorText)
	}
	for _, k := range []string{"message", "error_description", "error", "msg", "detail", "description", "title", "status"} {
		if s := str(k); s != "" {
			return clipText(oneLine(s), maxErrorText)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	ks := append([]string(nil), keys...)
	sort.Strings(ks)
	return clipText(oneLine("JSON object with keys "+strings.Join(ks, ", ")), maxErrorText)
}

// htmlErrorBody summarises an HTML page by its title, its first heading, or
// failing both its first text.
func htmlErrorBody(b []byte) ErrorBody {
	eb := ErrorBody{Format: "html"}
	lower := asciiLowerBytes(b)
	if t := htmlElementText(b, lower, "<title"); t != "" {
		eb.Text = t
		return eb
	}
	best := -1
	for h := '1'; h <= '6'; h++ {
		if i := bytes.Index(lower, []byte{'<', 'h', byte(h)}); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best >= 0 {
		if t := htmlElementText(b[best:], lower[best:], string(lower[best:best+3])); t != "" {
			eb.Text = t
			return eb
		}
	}
	eb.Text = clipText(oneLine(html.UnescapeString(stripTags(b, lower))), maxErrorText)
	return eb
}

// htmlElementText returns the text of the first element opened by open
// ("<title"), up to its end tag or the end of the body.
func htmlElementText(b, lower []byte, open string) string {
	i := bytes.Index(lower, []byte(open))
	if i < 0 {
		return ""
	}
	// The tag name must end here: "<title>" or "<title lang=…>", not "<titles>".
	if j := i + len(open); j < len(lower) && lower[j] != '>' && lower[j] != ' ' && lower[j] != '\t' && lower[j] != '\r' && lower[j] != '\n' {
		return ""
	}
	gt := bytes.IndexByte(lower[i:], '>')
	if gt < 0 {
		return ""
	}
	start := i + gt + 1
	end := len(b)
	if k := bytes.Index(lower[start:], []byte("</"+open[1:])); k >= 0 {
		end = start + k
	}
	return clipText(oneLine(html.UnescapeString(stripTags(b[start:end], lower[start:end]))), maxErrorText)
}

// stripTags removes tags, and the content of script and style elements.
func stripTags(b, lower []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); {
		if b[i] != '<' {
			out.WriteByte(b[i])
			i++
			continue
		}
		for _, skip := range []string{"script", "style"} {
			if bytes.HasPrefix(lower[i+1:], []byte(skip)) {
				if k := bytes.Index(lower[i:], []byte("</"+skip)); k >= 0 {
					i += k
				} else {
					i = len(b)
				}
				break
			}
		}
		if i >= len(b) {
			break
		}
		gt := bytes.IndexByte(b[i:], '>')
		if gt < 0 {
			break
		}
		i += gt + 1
		out.WriteByte(' ')
	}
	return out.String()
}

// xmlErrorBody reads XML error documents such as S3's and GCS's
// <Error><Code>…</Code><Message>…</Message></Error>. An entry cut short by
// the end of the body is kept if its Code is complete.
func xmlErrorBody(b []byte) ErrorBody {
	eb := ErrorBody{Format: "xml"}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var (
		root     string
		stack    []string
		cur      *RegistryError
		codeDone bool
		text     strings.Builder
		firstTxt string
	)
	for {
		t, err := d.Token()
		if err != nil {
			break
		}
		switch t := t.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if root == "" {
				root = name
			}
			stack = append(stack, name)
			text.Reset()
			if name == "Error" {
				cur, codeDone = &RegistryError{}, false
			}
		case xml.CharData:
			text.Write(t)
			if firstTxt == "" {
				firstTxt = strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			name := t.Name.Local
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if cur == nil {
				continue
			}
			switch name {
			case "Code":
				cur.Code, codeDone = strings.TrimSpace(text.String()), true
			case "Message":
				cur.Message = strings.TrimSpace(text.String())
			case "Error":
				eb.Errors = append(eb.Errors, *cur)
				cur = nil
			}
			text.Reset()
		}
	}
	if cur != nil && codeDone {
		eb.Errors = append(eb.Errors, *cur)
	}
	switch {
	case len(eb.Errors) > 0:
		e := eb.Errors[0]
		s := e.Code
		if e.Message != "" {
			if s != "" {
				s += ": "
			}
			s += e.Message
		}
		eb.Text = clipText(oneLine(s), maxErrorText)
	case root != "":
		s := "<" + root + ">"
		if firstTxt != "" {
			s += " " + firstTxt
		}
		eb.Text = clipText(oneLine(s), maxErrorText)
	default:
		eb.Text = clipText(oneLine(string(b)), maxErrorText)
	}
	return eb
}

// textErrorBody keeps the first non-empty line of a text body; binary data
// is only described.
func textErrorBody(b []byte, truncated bool) ErrorBody {
	eb := ErrorBody{Format: "text"}
	valid := b
	if truncated {
		// A prefix may end inside a multi-byte character.
		for k := 0; k < utf8.UTFMax-1 && len(valid) > 0 && !utf8.Valid(valid); k++ {
			valid = valid[:len(valid)-1]
		}
	}
	if bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(valid) {
		eb.Text = fmt.Sprintf("%d bytes of binary data", len(b))
		return eb
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if s := oneLine(line); s != "" {
			eb.Text = clipText(s, maxErrorText)
			break
		}
	}
	return eb
}

// oneLine makes s printable on one line: invalid UTF-8 and control
// characters become spaces, runs of spaces one space.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, " ")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// clipText bounds s to n bytes, "…" included, cutting at a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
