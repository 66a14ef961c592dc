package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Body returns a redacted copy of a captured body of the given Content-Type;
// the input is never modified and nil gives nil.
//
//   - JSON (application/json, */*+json, or a body that starts like JSON
//     whatever its type, since token servers are careless with types): the
//     values of token fields (token, access_token, refresh_token, id_token,
//     identity_token, identitytoken, registrytoken; any case, any depth)
//     lose a JWT signature or become Opaque; those of password fields
//     (password, secret, client_secret, auth) become REDACTED; everything
//     inside such a value too; every other string value goes through Text.
//     The text outside the replaced values is kept byte for byte, so the
//     body still reads as the server sent it.
//   - JSON that does not parse, most often a prefix cut at the capture
//     limit: Text, which finds the same fields textually.
//   - application/x-www-form-urlencoded: password, client_secret, code,
//     code_verifier and secret become REDACTED; refresh_token, access_token,
//     token, id_token, identity_token and client_assertion lose a JWT
//     signature or become Opaque; grant_type, username, scope, service,
//     client_id and the rest are kept.
//   - anything else: Text.
func Body(contentType string, body []byte) []byte {
	if body == nil {
		return nil
	}
	mt := mediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return []byte(scrubForm(string(body)))
	case isJSONType(mt) || looksLikeJSON(body):
		if out, ok := scrubJSON(body); ok {
			return out
		}
	}
	return []byte(Text(string(body)))
}

func mediaType(contentType string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isJSONType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// scrubForm redacts an application/x-www-form-urlencoded body pair by pair,
// keeping the separators, the order and the encoding of what it keeps. ';'
// separates pairs too: a form encoder escapes it, so in a real form it never
// appears in a value.
func scrubForm(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexAny(s, "&;")
		pair := s
		if i >= 0 {
			pair = s[:i]
		}
		if k, v, ok := strings.Cut(pair, "="); ok {
			key, err := url.QueryUnescape(k)
			if err != nil {
				key = k
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(formSecretValue(strings.TrimSpace(key), v))
		} else {
			b.WriteString(pair)
		}
		if i < 0 {
			break
		}
		b.WriteByte(s[i])
		s = s[i+1:]
	}
	return b.String()
}

// jsonFrame is an open object or array: whether it is an object, whether a
// key comes next, and whether its values are secret (it is the value of a
// token field).
type jsonFrame struct {
	object, wantKey bool
	secret          secrecy
}

// jsonEdit replaces body[start:end] by repl.
type jsonEdit struct {
	start, end int
	repl       string
}

// scrubJSON redacts a body of one or more JSON values (a stream, as Docker
// Engine progress output is), editing only the values it must change. It
// reports false when the body is not valid JSON.
func scrubJSON(body []byte) ([]byte, bool) {
	edits, ok := jsonEdits(body, true)
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(body))
	last := 0
	for _, e := range edits {
		out = append(out, body[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, body[last:]...), true
}

// jsonEdits lists the edits that redact body, read by scanJSON when fast
// is set and it can, else by encoding/json's decoder.
func jsonEdits(body []byte, fast bool) ([]jsonEdit, bool) {
	sc := jsonScrub{body: body}
	if fast && scanJSON(body, sc.token) {
		return sc.edits, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	sc = jsonScrub{body: body}
	prev := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF && len(sc.stack) == 0 {
			return sc.edits, true
		}
		if err != nil {
			return nil, false
		}
		end := int(dec.InputOffset())
		start := prev
		for start < end && strings.IndexByte(" \t\r\n,:", body[start]) >= 0 {
			start++
		}
		prev = end
		if !sc.token(tok, start, end) {
			return nil, false
		}
	}
}

// jsonScrub is scrubJSON's state between tokens.
type jsonScrub struct {
	body      []byte
	stack     []jsonFrame
	edits     []jsonEdit
	keySecret secrecy // of the value after the last key
}

// token takes the next token, as json.Decoder.Token gives it with
// UseNumber, found at body[start:end]. It reports false when the body is
// not what it takes for JSON.
func (sc *jsonScrub) token(tok any, start, end int) bool {
	var top *jsonFrame
	if len(sc.stack) > 0 {
		top = &sc.stack[len(sc.stack)-1]
	}
	if top != nil && top.object && top.wantKey {
		if d, ok := tok.(json.Delim); ok && d == '}' {
			sc.stack = sc.stack[:len(sc.stack)-1]
			valueDone(sc.stack)
			return true
		}
		key, ok := tok.(string)
		if !ok {
			return false
		}
		sc.keySecret = max(top.secret, jsonKeySecrecy(key))
		top.wantKey = false
		return true
	}
	secret := public
	switch {
	case top == nil:
	case top.object:
		secret = sc.keySecret
	default:
		secret = top.secret
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{', '[':
			sc.stack = append(sc.stack, jsonFrame{object: v == '{', wantKey: v == '{', secret: secret})
			return true
		default: // ']'; '}' is handled with the keys
			sc.stack = sc.stack[:len(sc.stack)-1]
		}
	case string:
		if start >= end || sc.body[start] != '"' {
			return false
		}
		var r string
		if secret != public {
			r = secret.redact(v)
		} else {
			r = Text(v)
		}
		if r != v {
			sc.edits = append(sc.edits, jsonEdit{start, end, jsonQuote(r)})
		}
	case json.Number:
		if secret != public {
			sc.edits = append(sc.edits, jsonEdit{start, end, jsonQuote(secret.redact(string(v)))})
		}
	}
	valueDone(sc.stack)
	return true
}

// scanJSON feeds the tokens of body, one valid JSON value, to take as
// json.Decoder.Token would give them (numbers as json.Number; true, false
// and null as nil: the scrubber does not read them), without the
// decoder's allocation per token: a registry's error bodies are read by
// the hundred thousand from a long log. It reports false, having fed
// nothing, for anything else (a stream of values, invalid JSON): the
// decoder reads those.
func scanJSON(body []byte, take func(tok any, start, end int) bool) bool {
	if !json.Valid(body) {
		return false
	}
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ':':
			i++
			continue
		case c == '{' || c == '[' || c == '}' || c == ']':
			if !take(json.Delim(c), i, i+1) {
				return false
			}
			i++
			continue
		case c == '"':
			j, escaped := i+1, false
			for body[j] != '"' {
				if body[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			s := string(body[i+1 : j])
			if escaped || !utf8.ValidString(s) {
				// Escapes, and invalid UTF-8 (the decoder makes it U+FFFD).
				_ = json.Unmarshal(body[i:j+1], &s) // valid: it unquotes
			}
			if !take(s, i, j+1) {
				return false
			}
			i = j + 1
			continue
		}
		j := i
		for j < len(body) && strings.IndexByte(" \t\r\n,:]}", body[j]) < 0 {
			j++
		}
		var tok any // true, false and null
		if c == '-' || '0' <= c && c <= '9' {
			tok = json.Number(body[i:j])
		}
		if !take(tok, i, j) {
			return false
		}
		i = j
	}
	return true
}

// valueDone records that the value of the innermost object's last key is
// complete.
func valueDone(stack []jsonFrame) {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
}

// jsonQuote encodes s as a JSON string without HTML escaping.
func jsonQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
