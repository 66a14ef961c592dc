package har

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// fastEntry decodes one entry (RFC 8259 JSON) without reflection: encoding/
// json spends most of a 100,000-entry explain in reflection and validation.
// It takes only the plain shapes HAR writers produce: every value of the
// expected type or null, exact member names without escapes, no
// duplicates. Anything else — including any error — reports
// false, and the caller decodes the entry with encoding/json, which stays
// the reference for results and error messages. FuzzFastEntry checks that
// both agree whenever fastEntry accepts.
func fastEntry(data []byte, e *Entry) bool {
	p := &fdec{d: data}
	if p.peek() != '{' || !p.entry(e) {
		return false
	}
	p.ws()
	return p.i == len(p.d)
}

type fdec struct {
	d []byte
	i int
}

func (p *fdec) ws() {
	for p.i < len(p.d) {
		switch p.d[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fdec) peek() byte {
	p.ws()
	if p.i < len(p.d) {
		return p.d[p.i]
	}
	return 0
}

func (p *fdec) lit(s string) bool {
	if len(p.d)-p.i >= len(s) && string(p.d[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// null consumes a null; encoding/json leaves a non-pointer field as it was.
func (p *fdec) null() bool { return p.peek() == 'n' && p.lit("null") }

// more consumes the separator after an element: true for ',', false for the
// closing delimiter (ok reports which of the two was there).
func (p *fdec) more(closing byte) (more, ok bool) {
	switch p.peek() {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, false
}

// object decodes an object whose known members are names: field(i) decodes
// the value of names[i]. Unknown members are skipped (checked to be valid
// JSON), unless encoding/json would match them to a field case-
// insensitively.
func (p *fdec) object(names []string, field func(i int) bool) bool {
	if p.peek() != '{' {
		return false
	}
	p.i++
	if p.peek() == '}' {
		p.i++
		return true
	}
	var seen uint32
	for {
		key, ok := p.key()
		if !ok || p.peek() != ':' {
			return false
		}
		p.i++
		i := -1
		for j, n := range names {
			if string(key) == n {
				i = j
				break
			}
		}
		switch {
		case i >= 0:
			if seen&(1<<i) != 0 || !field(i) {
				return false
			}
			seen |= 1 << i
		case foldsToAny(key, names) || !p.skip(0):
			return false
		}
		if more, ok := p.more('}'); !ok {
			return false
		} else if !more {
			return true
		}
	}
}

// key returns a member name without escapes or non-ASCII bytes.
func (p *fdec) key() ([]byte, bool) {
	if p.peek() != '"' {
		return nil, false
	}
	for j := p.i + 1; j < len(p.d); j++ {
		switch c := p.d[j]; {
		case c == '"':
			k := p.d[p.i+1 : j]
			p.i = j + 1
			return k, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// foldsToAny reports whether an ASCII key equals a name ignoring case (it
// differs exactly, so encoding/json might still pick that field).
func foldsToAny(key []byte, names []string) bool {
	for _, n := range names {
		if len(n) != len(key) {
			continue
		}
		eq := true
		for i := range key {
			a, b := key[i], n[i]
			if 'A' <= a && a <= 'Z' {
				a += 'a' - 'A'
			}
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if a != b {
				eq = false
				break
			}
		}
		if eq {
			return true
		}
	}
	return false
}

// str decodes a string (null leaves dst), unquoting as encoding/json does:
// invalid UTF-8 bytes and unpaired surrogates become U+FFFD.
func (p *fdec) str(dst *string) bool {
	c := p.peek()
	if c == 'n' {
		return p.lit("null")
	}
	if c != '"' {
		return false
	}
	start := p.i + 1
	for j := start; j < len(p.d); j++ {
		c := p.d[j]
		if c == '"' {
			*dst = string(p.d[start:j])
			p.i = j + 1
			return true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return p.slowStr(dst, start)
		}
	}
	return false
}

func (p *fdec) slowStr(dst *string, start int) bool {
	end, ok := p.stringEnd(start)
	if !ok {
		return false
	}
	raw := p.d[start:end]
	p.i = end + 1
	var b strings.Builder
	b.Grow(len(raw))
	for k := 0; k < len(raw); {
		c := raw[k]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(raw[k:])
			if r == utf8.RuneError && n == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.Write(raw[k : k+n])
			}
			k += n
			continue
		case c != '\\':
			b.WriteByte(c)
			k++
			continue
		}
		// stringEnd checked every escape.
		e := raw[k+1]
		k += 2
		switch e {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(raw[k:])
			k += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if k+6 <= len(raw) && raw[k] == '\\' && raw[k+1] == 'u' {
					r2 = hex4(raw[k+2:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					b.WriteRune(d)
					k += 6
					continue
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(e)
		}
	}
	*dst = b.String()
	return true
}

// stringEnd finds the closing quote of a string whose text starts at
// start, checking its escapes and that it has no control bytes.
func (p *fdec) stringEnd(start int) (end int, ok bool) {
	for j := start; j < len(p.d); j++ {
		switch c := p.d[j]; {
		case c == '"':
			return j, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			j++
			if j >= len(p.d) {
				return 0, false
			}
			switch p.d[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(p.d) || !isHex(p.d[j+1]) || !isHex(p.d[j+2]) || !isHex(p.d[j+3]) || !isHex(p.d[j+4]) {
					return 0, false
				}
				j += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

// hex4 reads the four hex digits stringEnd checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number returns the text of a JSON number (RFC 8259 §6) and whether it is
// an integer (no fraction or exponent).
func (p *fdec) number() (num []byte, integer, ok bool) {
	p.ws()
	d, j := p.d, p.i
	if j < len(d) && d[j] == '-' {
		j++
	}
	switch {
	case j < len(d) && d[j] == '0':
		j++
	case j < len(d) && '1' <= d[j] && d[j] <= '9':
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	default:
		return nil, false, false
	}
	integer = true
	if j < len(d) && d[j] == '.' {
		integer = false
		j++
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			return nil, false, false
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		integer = false
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			return nil, false, false
		}
	}
	num = d[p.i:j]
	p.i = j
	return num, integer, true
}

// small parses an integer of at most 18 digits (no overflow possible).
func small(num []byte) (int64, bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	if len(num) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range num {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

func (p *fdec) f64(dst *float64) bool {
	if p.null() {
		return true
	}
	num, integer, ok := p.number()
	if !ok {
		return false
	}
	if integer {
		if v, ok := small(num); ok && v < 1<<53 && v > -(1<<53) {
			*dst = float64(v)
			return true
		}
	} else if v, ok := decimal(num); ok {
		*dst = v
		return true
	}
	v, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

// decimal converts d.ddd (no exponent, at most 15 digits) exactly: both the
// digits and the power of ten are exact float64s, so one division rounds
// correctly, as strconv.ParseFloat does.
func decimal(num []byte) (float64, bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	var m int64
	digits, frac, dot := 0, 0, false
	for _, c := range num {
		switch {
		case c == '.':
			dot = true
		case c >= '0' && c <= '9':
			m = m*10 + int64(c-'0')
			digits++
			if dot {
				frac++
			}
		default:
			return 0, false // an exponent
		}
	}
	if digits > 15 || frac >= len(pow10) {
		return 0, false
	}
	v := float64(m) / pow10[frac]
	if neg {
		v = -v
	}
	return v, true
}

func (p *fdec) i64(dst *int64) bool {
	if p.null() {
		return true
	}
	num, integer, ok := p.number()
	if !ok || !integer {
		return false
	}
	if v, ok := small(num); ok {
		*dst = v
		return true
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

func (p *fdec) int(dst *int) bool {
	var v int64
	if p.null() {
		return true
	}
	if !p.i64(&v) || int64(int(v)) != v {
		return false
	}
	*dst = int(v)
	return true
}

func (p *fdec) u64(dst *uint64) bool {
	if p.null() {
		return true
	}
	num, integer, ok := p.number()
	if !ok || !integer || num[0] == '-' {
		return false
	}
	v, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

func (p *fdec) bool(dst *bool) bool {
	switch {
	case p.null():
	case p.lit("true"):
		*dst = true
	case p.lit("false"):
		*dst = false
	default:
		return false
	}
	return true
}

// skip consumes any valid JSON value; nesting deeper than encoding/json
// would need care about goes to it instead.
func (p *fdec) skip(depth int) bool {
	if depth > 200 {
		return false
	}
	switch p.peek() {
	case '{':
		p.i++
		if p.peek() == '}' {
			p.i++
			return true
		}
		for {
			if p.peek() != '"' {
				return false
			}
			end, ok := p.stringEnd(p.i + 1)
			if !ok {
				return false
			}
			p.i = end + 1
			if p.peek() != ':' {
				return false
			}
			p.i++
			if !p.skip(depth + 1) {
				return false
			}
			if more, ok := p.more('}'); !ok {
				return false
			} else if !more {
				return true
			}
		}
	case '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			return true
		}
		for {
			if !p.skip(depth + 1) {
				return false
			}
			if more, ok := p.more(']'); !ok {
				return false
			} else if !more {
				return true
			}
		}
	case '"':
		end, ok := p.stringEnd(p.i + 1)
		p.i = end + 1
		return ok
	case 't':
		return p.lit("true")
	case 'f':
		return p.lit("false")
	case 'n':
		return p.lit("null")
	}
	_, _, ok := p.number()
	return ok
}

// array decodes an array; elem appends one element. An empty array is a
// non-nil empty slice and null a nil one, as with encoding/json.
func (p *fdec) array(isNull func(), empty func(), elem func() bool) bool {
	if p.null() {
		isNull()
		return true
	}
	if p.peek() != '[' {
		return false
	}
	p.i++
	empty()
	if p.peek() == ']' {
		p.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		if more, ok := p.more(']'); !ok {
			return false
		} else if !more {
			return true
		}
	}
}

// nvs decodes name/value pairs into a slice of exactly their number (most
// lists hold a few headers; 100,000 entries make spare capacity add up).
func (p *fdec) nvs(dst *[]NameValue) bool {
	if p.null() {
		*dst = nil
		return true
	}
	if p.peek() != '[' {
		return false
	}
	p.i++
	var buf [16]NameValue
	list := buf[:0]
	if p.peek() == ']' {
		p.i++
		*dst = []NameValue{}
		return true
	}
	for {
		list = append(list, NameValue{})
		if !p.nameValue(&list[len(list)-1]) {
			return false
		}
		if more, ok := p.more(']'); !ok {
			return false
		} else if !more {
			*dst = append([]NameValue(nil), list...)
			return true
		}
	}
}

func (p *fdec) nameValue(nv *NameValue) bool {
	return p.null() || p.object(nameValueNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.str(&nv.Name)
		case 1:
			return p.str(&nv.Value)
		}
		return p.str(&nv.Comment)
	})
}

var (
	nameValueNames = [...]string{"name", "value", "comment"}
	cookieNames    = [...]string{"name", "value", "path", "domain", "expires", "httpOnly", "secure"}
	entryNames     = [...]string{"pageref", "startedDateTime", "time", "request", "response", "cache", "timings", "serverIPAddress", "connection", "comment", "_error", "_regtrace"}
	requestNames   = [...]string{"method", "url", "httpVersion", "cookies", "headers", "queryString", "postData", "headersSize", "bodySize", "comment"}
	responseNames  = [...]string{"status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL", "headersSize", "bodySize", "comment", "_error"}
	postDataNames  = [...]string{"mimeType", "params", "text", "comment"}
	contentNames   = [...]string{"size", "compression", "mimeType", "text", "encoding", "comment"}
	timingsNames   = [...]string{"blocked", "dns", "connect", "send", "wait", "receive", "ssl"}
	entryExtNames  = [...]string{"id", "kind", "findings", "errorKind", "synthetic", "requestBody", "responseBody", "clientAddr", "upstreamTLS", "host", "proxyUser"}
	bodyExtNames   = [...]string{"size", "captured", "truncated", "complete", "sha256", "base64"}
	tlsExtNames    = [...]string{"version", "cipherSuite", "alpn", "serverName", "insecure", "issuer"}
)

func (p *fdec) cookies(dst *[]Cookie) bool {
	return p.array(func() { *dst = nil }, func() { *dst = []Cookie{} }, func() bool {
		*dst = append(*dst, Cookie{})
		c := &(*dst)[len(*dst)-1]
		if p.null() {
			return true
		}
		return p.object(cookieNames[:], func(i int) bool {
			switch i {
			case 0:
				return p.str(&c.Name)
			case 1:
				return p.str(&c.Value)
			case 2:
				return p.str(&c.Path)
			case 3:
				return p.str(&c.Domain)
			case 4:
				return p.str(&c.Expires)
			case 5:
				return p.bool(&c.HTTPOnly)
			}
			return p.bool(&c.Secure)
		})
	})
}

func (p *fdec) entry(e *Entry) bool {
	return p.object(entryNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.str(&e.Pageref)
		case 1:
			return p.str(&e.StartedDateTime)
		case 2:
			return p.f64(&e.Time)
		case 3:
			return p.request(&e.Request)
		case 4:
			return p.response(&e.Response)
		case 5:
			// struct{}: any object (its members match nothing) or null.
			return p.null() || p.peek() == '{' && p.skip(0)
		case 6:
			return p.timings(&e.Timings)
		case 7:
			return p.str(&e.ServerIPAddress)
		case 8:
			return p.str(&e.Connection)
		case 9:
			return p.str(&e.Comment)
		case 10:
			return p.str(&e.Error)
		}
		return p.entryExt(&e.Regtrace)
	})
}

func (p *fdec) request(r *Request) bool {
	if p.null() {
		return true
	}
	return p.object(requestNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.str(&r.Method)
		case 1:
			return p.str(&r.URL)
		case 2:
			return p.str(&r.HTTPVersion)
		case 3:
			return p.cookies(&r.Cookies)
		case 4:
			return p.nvs(&r.Headers)
		case 5:
			return p.nvs(&r.QueryString)
		case 6:
			return p.postData(&r.PostData)
		case 7:
			return p.i64(&r.HeadersSize)
		case 8:
			return p.i64(&r.BodySize)
		}
		return p.str(&r.Comment)
	})
}

func (p *fdec) postData(dst **PostData) bool {
	if p.null() {
		*dst = nil
		return true
	}
	pd := &PostData{}
	*dst = pd
	return p.object(postDataNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.str(&pd.MimeType)
		case 1:
			return p.nvs(&pd.Params)
		case 2:
			return p.str(&pd.Text)
		}
		return p.str(&pd.Comment)
	})
}

func (p *fdec) response(r *Response) bool {
	if p.null() {
		return true
	}
	return p.object(responseNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.int(&r.Status)
		case 1:
			return p.str(&r.StatusText)
		case 2:
			return p.str(&r.HTTPVersion)
		case 3:
			return p.cookies(&r.Cookies)
		case 4:
			return p.nvs(&r.Headers)
		case 5:
			return p.content(&r.Content)
		case 6:
			return p.str(&r.RedirectURL)
		case 7:
			return p.i64(&r.HeadersSize)
		case 8:
			return p.i64(&r.BodySize)
		case 9:
			return p.str(&r.Comment)
		}
		return p.str(&r.Error)
	})
}

func (p *fdec) content(c *Content) bool {
	if p.null() {
		return true
	}
	return p.object(contentNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.i64(&c.Size)
		case 1:
			return p.i64(&c.Compression)
		case 2:
			return p.str(&c.MimeType)
		case 3:
			return p.str(&c.Text)
		case 4:
			return p.str(&c.Encoding)
		}
		return p.str(&c.Comment)
	})
}

func (p *fdec) timings(t *Timings) bool {
	if p.null() {
		return true
	}
	return p.object(timingsNames[:], func(i int) bool {
		return p.f64([...]*float64{&t.Blocked, &t.DNS, &t.Connect, &t.Send, &t.Wait, &t.Receive, &t.SSL}[i])
	})
}

func (p *fdec) entryExt(dst **EntryExt) bool {
	if p.null() {
		*dst = nil
		return true
	}
	x := &EntryExt{}
	*dst = x
	return p.object(entryExtNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.u64(&x.ID)
		case 1:
			return p.str(&x.Kind)
		case 2:
			return p.array(func() { x.Findings = nil }, func() { x.Findings = []string{} }, func() bool {
				x.Findings = append(x.Findings, "")
				return p.str(&x.Findings[len(x.Findings)-1])
			})
		case 3:
			return p.str(&x.ErrorKind)
		case 4:
			return p.bool(&x.Synthetic)
		case 5:
			return p.bodyExt(&x.RequestBody)
		case 6:
			return p.bodyExt(&x.ResponseBody)
		case 7:
			return p.str(&x.ClientAddr)
		case 8:
			return p.tlsExt(&x.Upstream)
		case 9:
			return p.str(&x.Host)
		}
		return p.str(&x.ProxyUser)
	})
}

func (p *fdec) bodyExt(dst **BodyExt) bool {
	if p.null() {
		*dst = nil
		return true
	}
	b := &BodyExt{}
	*dst = b
	return p.object(bodyExtNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.i64(&b.Size)
		case 1:
			return p.int(&b.Captured)
		case 2:
			return p.bool(&b.Truncated)
		case 3:
			return p.bool(&b.Complete)
		case 4:
			return p.str(&b.SHA256)
		}
		return p.str(&b.Base64)
	})
}

func (p *fdec) tlsExt(dst **TLSExt) bool {
	if p.null() {
		*dst = nil
		return true
	}
	t := &TLSExt{}
	*dst = t
	return p.object(tlsExtNames[:], func(i int) bool {
		switch i {
		case 0:
			return p.str(&t.Version)
		case 1:
			return p.str(&t.CipherSuite)
		case 2:
			return p.str(&t.ALPN)
		case 3:
			return p.str(&t.ServerName)
		case 4:
			return p.bool(&t.Insecure)
		}
		return p.str(&t.Issuer)
	})
}
