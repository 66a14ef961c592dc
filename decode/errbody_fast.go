package decode

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// fastErrorsBody reads the one shape nearly every registry error body
// has, {"errors":[{"code":"…","message":"…","detail":…},…]} with plain
// (escape-free) strings, by hand: the token stream of jsonErrorBody costs
// more than the rest of decoding a long log. ok is false for anything else
// (another member, a repeated or unknown key, an escape, a cut body), which
// jsonErrorBody then reads; FuzzFastErrorsBody holds the two to the same
// answer.
func fastErrorsBody(b []byte) (ErrorBody, bool) {
	p := fastJSON{b: b}
	if !p.lit("{") || p.str() != "errors" || !p.lit(":") || !p.lit("[") {
		return ErrorBody{}, false
	}
	eb := ErrorBody{Format: "errors"}
	if p.lit("]") {
		eb.Errors = nil
	} else {
		for {
			re, ok := p.entry()
			if !ok {
				return ErrorBody{}, false
			}
			eb.Errors = append(eb.Errors, re)
			if p.lit("]") {
				break
			}
			if !p.lit(",") {
				return ErrorBody{}, false
			}
		}
	}
	if !p.lit("}") {
		return ErrorBody{}, false
	}
	p.ws()
	if p.i != len(b) {
		return ErrorBody{}, false
	}
	return eb, true
}

type fastJSON struct {
	b   []byte
	i   int
	bad bool
}

func (p *fastJSON) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// lit consumes the one-byte token t after white space.
func (p *fastJSON) lit(t string) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == t[0] {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes, control bytes or invalid UTF-8;
// "" and bad set otherwise.
func (p *fastJSON) str() string {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		p.bad = true
		return ""
	}
	j := bytes.IndexByte(p.b[p.i+1:], '"')
	if j < 0 {
		p.bad = true
		return ""
	}
	s := p.b[p.i+1 : p.i+1+j]
	ascii := true
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			p.bad = true
			return ""
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !ascii && !utf8.Valid(s) { // encoding/json would put U+FFFD in
		p.bad = true
		return ""
	}
	p.i += j + 2
	return string(s)
}

// entry reads {"code":…,"message":…,"detail":…}, each at most once, code
// and message strings, detail any value.
func (p *fastJSON) entry() (RegistryError, bool) {
	var re RegistryError
	if !p.lit("{") {
		return re, false
	}
	seen := 0
	if p.lit("}") {
		return re, true
	}
	for {
		k := p.str()
		if p.bad || !p.lit(":") {
			return re, false
		}
		bit := 0
		switch k {
		case "code":
			bit = 1
			re.Code = p.str()
		case "message":
			bit = 2
			re.Message = p.str()
		case "detail":
			bit = 4
			v, ok := p.value()
			if !ok {
				return re, false
			}
			var buf bytes.Buffer
			if json.Compact(&buf, v) != nil {
				return re, false // not JSON: jsonErrorBody says how
			}
			if d := buf.String(); d != "null" {
				re.Detail = clipText(d, maxErrorDetail)
			}
		default:
			return re, false
		}
		if p.bad || seen&bit != 0 {
			return re, false
		}
		seen |= bit
		if p.lit("}") {
			return re, true
		}
		if !p.lit(",") {
			return re, false
		}
	}
}

// value returns the extent of one JSON value, found by its brackets and
// strings; whether it is JSON the caller's json.Compact says.
func (p *fastJSON) value() ([]byte, bool) {
	p.ws()
	start, depth := p.i, 0
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			j := p.i + 1
			for j < len(p.b) && p.b[j] != '"' {
				if p.b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(p.b) {
				return nil, false
			}
			p.i = j + 1
			if depth == 0 {
				return p.valid(start)
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return p.valid(start) // the end of the entry: a scalar before it
			}
			depth--
			if depth == 0 {
				p.i++
				return p.valid(start)
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return p.valid(start)
		}
		p.i++
	}
	return nil, false
}

func (p *fastJSON) valid(start int) ([]byte, bool) {
	v := p.b[start:p.i]
	return v, len(v) > 0
}
