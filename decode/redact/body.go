package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/url"
	"strings"
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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		stack     []jsonFrame
		edits     []jsonEdit
		keySecret secrecy // of the value after the last key
		prev      int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF && len(stack) == 0 {
			break
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

		var top *jsonFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			key, ok := tok.(string)
			if !ok {
				return nil, false
			}
			keySecret = max(top.secret, jsonKeySecrecy(key))
			top.wantKey = false
			continue
		}
		secret := public
		switch {
		case top == nil:
		case top.object:
			secret = keySecret
		default:
			secret = top.secret
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				stack = append(stack, jsonFrame{object: v == '{', wantKey: v == '{', secret: secret})
				continue
			default: // ']'; '}' is handled with the keys
				stack = stack[:len(stack)-1]
			}
		case string:
			if start >= end || body[start] != '"' {
				return nil, false
			}
			var r string
			if secret != public {
				r = secret.redact(v)
			} else {
				r = Text(v)
			}
			if r != v {
				edits = append(edits, jsonEdit{start, end, jsonQuote(r)})
			}
		case json.Number:
			if secret != public {
				edits = append(edits, jsonEdit{start, end, jsonQuote(secret.redact(string(v)))})
			}
		}
		valueDone(stack)
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
