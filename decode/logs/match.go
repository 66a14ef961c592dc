package logs

import (
	"regexp"
	"strings"
)

// The patterns readers ask of every line or of every failure are written
// out here: the regexp engine spent a third of the reading time of a long
// log on them (the runtime errors a Kubernetes event quotes are hundreds of
// bytes). Each comment gives the regexp it answers as; matchers_test.go
// holds those regexps as the oracle.

// finder is what the readers ask of a pattern: a regexp, or a pattern
// written out.
type finder interface {
	FindStringSubmatch(s string) []string
	MatchString(s string) bool
}

// pattern is a regexp written out: find returns what FindStringSubmatch
// would.
type pattern struct{ find func(string) []string }

func (p *pattern) FindStringSubmatch(s string) []string { return p.find(s) }
func (p *pattern) MatchString(s string) bool            { return p.find(s) != nil }

var (
	// ^failed to pull and unpack image "([^"]+)":
	kUnpack = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, `failed to pull and unpack image "`)
		i := strings.IndexByte(r, '"')
		if !ok || i <= 0 || !strings.HasPrefix(r[i:], `": `) {
			return nil
		}
		return []string{s[:len(s)-len(r)+i+3], r[:i]}
	}}
	// ^failed to resolve (?:reference "([^"]*)"|image)(?: "[^"]*")?: (.*)$
	kResolve = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "failed to resolve ")
		if !ok {
			return nil
		}
		ref := ""
		if q, ok := strings.CutPrefix(r, `reference "`); ok {
			i := strings.IndexByte(q, '"')
			if i < 0 {
				return nil
			}
			ref, r = q[:i], q[i+1:]
		} else if r, ok = strings.CutPrefix(r, "image"); !ok {
			return nil
		}
		if q, ok := strings.CutPrefix(r, ` "`); ok {
			i := strings.IndexByte(q, '"')
			if i < 0 {
				return nil
			}
			r = q[i+1:]
		}
		rest, ok := oneLineAfter(r, ": ")
		if !ok {
			return nil
		}
		return []string{s, ref, rest}
	}}
	// ^failed to copy: httpRead(?:er)?Seeker: failed open: (.*)$
	kCopy = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "failed to copy: httpRead")
		if !ok {
			return nil
		}
		r = strings.TrimPrefix(r, "er")
		if rest, ok := oneLineAfter(r, "Seeker: failed open: "); ok {
			return []string{s, rest}
		}
		return nil
	}}
	// ^pull access denied, repository does not exist or may require authorization: (.*)$
	kDenied = &pattern{func(s string) []string {
		if rest, ok := oneLineAfter(s, "pull access denied, repository does not exist or may require authorization: "); ok {
			return []string{s, rest}
		}
		return nil
	}}
	// ^failed to authorize: failed to fetch (anonymous|oauth) token: (.*)$
	kAuthorize = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "failed to authorize: failed to fetch ")
		if !ok {
			return nil
		}
		for _, kind := range []string{"anonymous", "oauth"} {
			if q, ok := strings.CutPrefix(r, kind); ok {
				if rest, ok := oneLineAfter(q, " token: "); ok {
					return []string{s, kind, rest}
				}
			}
		}
		return nil
	}}
	// ^unexpected status from (HEAD|GET|POST) request to (https?://\S+): (\d{3})\b
	kReqStatus = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "unexpected status from ")
		if !ok {
			return nil
		}
		for _, method := range []string{"HEAD", "GET", "POST"} {
			if q, ok := strings.CutPrefix(r, method+" request to "); ok {
				if u, st, n := urlStatus(q); n > 0 {
					return []string{s[:len(s)-len(q)+n], method, u, st}
				}
			}
		}
		return nil
	}}
	// ^unexpected status code (https?://\S+): (\d{3})\b[^-]*(?:- Server message: (.*))?$
	kCodeURL = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "unexpected status code ")
		if !ok {
			return nil
		}
		u, st, n := urlStatus(r)
		if n == 0 {
			return nil
		}
		r = r[n:]
		i := strings.IndexByte(r, '-')
		if i < 0 {
			return []string{s, u, st, ""}
		}
		if msg, ok := oneLineAfter(r[i:], "- Server message: "); ok {
			return []string{s, u, st, msg}
		}
		return nil
	}}
	// ^(\S+): not found$
	kNotFound = &pattern{func(s string) []string {
		name, ok := strings.CutSuffix(s, ": not found")
		if !ok || name == "" || strings.ContainsAny(name, " \t\n\f\r") {
			return nil
		}
		return []string{s, name}
	}}

	kServerMsg    = regexp.MustCompile(`server message: (\w+): authorization failed`)
	kOldStatus    = regexp.MustCompile(`(?:^unexpected status code|(?:pulling from host (\S+) )?failed with status code) \[manifests ([^\]]+)\]: (\d{3})\b`)
	kBareStatus   = regexp.MustCompile(`^unexpected status: (\d{3})\b`)
	kDoRequest    = regexp.MustCompile(`^(?:failed to do request: )?(Head|Get|Post) "?(https?://[^"\s]+?)"?: (.*)$`)
	kContentNotAt = regexp.MustCompile(`^content at (https?://\S+) not found`)
)

// kStripRPC drops the gRPC status before a runtime's message, as
// regexp `^rpc error: code = \w+ desc = ` replaced by nothing.
func kStripRPC(s string) string {
	r, ok := strings.CutPrefix(s, "rpc error: code = ")
	i := 0
	for ok && i < len(r) && isWordByte(r[i]) {
		i++
	}
	if i == 0 {
		return s
	}
	if rest, ok := strings.CutPrefix(r[i:], " desc = "); ok {
		return rest
	}
	return s
}

// oneLineAfter is regexp `^prefix(.*)$`: s after prefix, when what
// follows holds no newline.
func oneLineAfter(s, prefix string) (string, bool) {
	r, ok := strings.CutPrefix(s, prefix)
	if !ok || strings.IndexByte(r, '\n') >= 0 {
		return "", false
	}
	return r, true
}

// urlStatus matches regexp `^(https?://\S+): (\d{3})\b` at the start of
// s: the URL, the status and the length matched (0: no match). A URL
// holds no space, so its colon is the last byte before the first space.
func urlStatus(s string) (u, status string, n int) {
	r, ok := strings.CutPrefix(s, "http")
	if !ok {
		return "", "", 0
	}
	r = strings.TrimPrefix(r, "s")
	if r, ok = strings.CutPrefix(r, "://"); !ok {
		return "", "", 0
	}
	e := len(s) - len(r)
	for e < len(s) && !reSpace(s[e]) {
		e++
	}
	if e < len(s)-len(r)+2 || s[e-1] != ':' || e+4 > len(s) || s[e] != ' ' || !digits(s[e+1:e+4]) ||
		e+4 < len(s) && isWordByte(s[e+4]) {
		return "", "", 0
	}
	return s[:e-1], s[e+1 : e+4], e + 4
}

var (
	// ^--> (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (https?://\S+)(?: \[body redacted: ([^\]]*)\])?$
	ggcrOut = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "--> ")
		method, r, ok2 := strings.Cut(r, " ")
		if !ok || !ok2 || !ggcrMethod(method) {
			return nil
		}
		u, r := spanURL(r)
		if u == "" {
			return nil
		}
		if r == "" {
			return []string{s, method, u, ""}
		}
		if why, ok := bracketed(r, " [body redacted: "); ok {
			return []string{s, method, u, why}
		}
		return nil
	}}
	// ^<-- (\d{3})(?: (https?://\S+))? \(([^)]*)\)( \[body redacted: [^\]]*\])?$
	ggcrIn = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "<-- ")
		if !ok || len(r) < 3 || !digits(r[:3]) {
			return nil
		}
		st, r := r[:3], r[3:]
		u := ""
		if q, ok := strings.CutPrefix(r, " "); ok {
			if u, q = spanURL(q); u != "" {
				r = q
			}
		}
		r, ok = strings.CutPrefix(r, " (")
		i := strings.IndexByte(r, ')')
		if !ok || i < 0 {
			return nil
		}
		took, r := r[:i], r[i+1:]
		if r == "" {
			return []string{s, st, u, took, ""}
		}
		if _, ok := bracketed(r, " [body redacted: "); ok {
			return []string{s, st, u, took, r}
		}
		return nil
	}}
	// ^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+) HTTP/(\d(?:\.\d)?)$
	ggcrReqLine = &pattern{func(s string) []string {
		method, r, ok := strings.Cut(s, " ")
		if !ok || !ggcrMethod(method) {
			return nil
		}
		e := 0
		for e < len(r) && !reSpace(r[e]) {
			e++
		}
		target := r[:e]
		v, ok := strings.CutPrefix(r[e:], " HTTP/")
		if target == "" || !ok || !httpVersion(v) {
			return nil
		}
		return []string{s, method, target, v}
	}}
	// ^HTTP/(\d(?:\.\d)?) (\d{3})(?: .*)?$
	ggcrRespLine = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "HTTP/")
		v, r, ok2 := strings.Cut(r, " ")
		if !ok || !ok2 || !httpVersion(v) || len(r) < 3 || !digits(r[:3]) {
			return nil
		}
		st, r := r[:3], r[3:]
		if r != "" && (r[0] != ' ' || strings.IndexByte(r, '\n') >= 0) {
			return nil
		}
		return []string{s, v, st}
	}}
)

// ggcrPrefixLen is the length of the log package's prefix at the start of
// s (-1: none), as regexp
// ^(?:\d{4}/\d{2}/\d{2} )?\d{2}:\d{2}:\d{2}(?:\.\d+)? (?:\S+\.go:\d+: )?
func ggcrPrefixLen(s string) int {
	i := 0
	if len(s) >= 11 && digits(s[:4]) && s[4] == '/' && digits(s[5:7]) && s[7] == '/' && digits(s[8:10]) && s[10] == ' ' {
		i = 11
	}
	if len(s) < i+8 || !digits(s[i:i+2]) || s[i+2] != ':' || !digits(s[i+3:i+5]) || s[i+5] != ':' || !digits(s[i+6:i+8]) {
		return -1
	}
	i += 8
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i += 2
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i == len(s) || s[i] != ' ' {
		return -1
	}
	i++
	// file.go:line: — the whole next word, then a space.
	e := i
	for e < len(s) && !reSpace(s[e]) {
		e++
	}
	if e == len(s) || s[e] != ' ' || s[e-1] != ':' {
		return i
	}
	d := e - 1
	for d > i && isDigit(s[d-1]) {
		d--
	}
	if d == e-1 || d-4 <= i || s[d-4:d] != ".go:" {
		return i
	}
	return e + 1
}

func ggcrMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return true
	}
	return false
}

// httpVersion is regexp ^\d(?:\.\d)?$.
func httpVersion(v string) bool {
	return len(v) == 1 && isDigit(v[0]) || len(v) == 3 && isDigit(v[0]) && v[1] == '.' && isDigit(v[2])
}

// spanURL matches regexp https?://\S+ at the start of s: the URL (empty:
// none) and what follows it.
func spanURL(s string) (u, rest string) {
	r, ok := strings.CutPrefix(s, "http")
	if !ok {
		return "", s
	}
	r = strings.TrimPrefix(r, "s")
	if r, ok = strings.CutPrefix(r, "://"); !ok || r == "" || reSpace(r[0]) {
		return "", s
	}
	e := len(s) - len(r)
	for e < len(s) && !reSpace(s[e]) {
		e++
	}
	return s[:e], s[e:]
}

// bracketed is regexp ^prefix([^\]]*)\]$ on s: what the brackets hold.
func bracketed(s, prefix string) (string, bool) {
	r, ok := strings.CutPrefix(s, prefix)
	if !ok || !strings.HasSuffix(r, "]") || strings.IndexByte(r, ']') != len(r)-1 {
		return "", false
	}
	return r[:len(r)-1], true
}

// methodURL is Go's url.Error and its kin, written out: `METHOD "URL"`
// (quoted: the method and scheme in any case) or `METHOD URL: ` (bare:
// upper case); rest adds `: ` and the rest of the text, on one line. An
// error names its URL after hundreds of bytes of other words: the regexps
// scanned them all at every position.
type methodURL struct {
	quoted, rest bool
	// re is the regexp, asked of text holding ſ or K (Kelvin): (?i) folds
	// them to s and k.
	re *regexp.Regexp
}

var (
	// (?i)\b(get|head|post|put|patch|delete) "(https?://[^"]+)": (.*)$
	errURL = &methodURL{quoted: true, rest: true, re: regexp.MustCompile(`(?i)\b(get|head|post|put|patch|delete) "(https?://[^"]+)": (.*)$`)}
	// \b(GET|HEAD|POST|PUT|PATCH|DELETE) (https?://\S+):
	errURLBare = &methodURL{}
	// (?i)\b(get|head|post|put|patch|delete) "(https?://[^"]+)"
	errURLQuoted = &methodURL{quoted: true, re: regexp.MustCompile(`(?i)\b(get|head|post|put|patch|delete) "(https?://[^"]+)"`)}
)

func (p *methodURL) FindStringSubmatch(s string) []string {
	if m := p.FindAllStringSubmatch(s, 1); m != nil {
		return m[0]
	}
	return nil
}

func (p *methodURL) MatchString(s string) bool { return p.FindStringSubmatch(s) != nil }

// FindAllStringSubmatch finds the matches as the regexp would: leftmost
// first, none overlapping; n < 0 for all.
func (p *methodURL) FindAllStringSubmatch(s string, n int) [][]string {
	if p.re != nil && (strings.Contains(s, "ſ") || strings.Contains(s, "\u212a")) {
		return p.re.FindAllStringSubmatch(s, n)
	}
	var out [][]string
	for i, last := 0, 0; n < 0 || len(out) < n; {
		// Every match holds a scheme, its method just before it: the
		// candidates come in the order of their starts.
		h := indexHTTP(s[i:], p.quoted)
		if h < 0 {
			break
		}
		h += i
		i = h + 1
		e := schemeEnd(s, h, p.quoted)
		sep := " "
		if p.quoted {
			sep = ` "`
		}
		if e < 0 || h < len(sep) || s[h-len(sep):h] != sep {
			continue
		}
		start, method := methodBefore(s, h-len(sep), p.quoted)
		if start < last {
			continue
		}
		var m []string
		end := 0
		if p.quoted {
			q := strings.IndexByte(s[e:], '"')
			if q <= 0 {
				continue
			}
			end = e + q + 1
			m = []string{s[start:end], method, s[h : e+q]}
			if p.rest {
				r, ok := oneLineAfter(s[end:], ": ")
				if !ok {
					continue
				}
				m, end = append(m, r), len(s)
				m[0] = s[start:]
			}
		} else {
			w := e
			for w < len(s) && !reSpace(s[w]) {
				w++
			}
			if w-1 <= e || s[w-1] != ':' || w == len(s) || s[w] != ' ' {
				continue
			}
			end = w + 1
			m = []string{s[start:end], method, s[h : w-1]}
		}
		out = append(out, m)
		i, last = end, end
	}
	return out
}

// methods are the request methods an error names.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// methodBefore finds the method that ends at s[end] and starts a word:
// its start and text (start -1: none). fold: in any case.
func methodBefore(s string, end int, fold bool) (int, string) {
	for _, m := range methods {
		start := end - len(m)
		if start < 0 || start > 0 && isWordByte(s[start-1]) {
			continue
		}
		if w := s[start:end]; w == m || fold && strings.EqualFold(w, m) {
			return start, w
		}
	}
	return -1, ""
}

// indexHTTP is the index of the next "http" in s (any case when fold).
func indexHTTP(s string, fold bool) int {
	if !fold {
		return strings.Index(s, "http")
	}
	for i := 0; i+4 <= len(s); i++ {
		if c := s[i]; (c == 'h' || c == 'H') && strings.EqualFold(s[i:i+4], "http") {
			return i
		}
	}
	return -1
}

// schemeEnd: s[h:] opens with http:// or https:// (any case when fold):
// the index after it, else -1.
func schemeEnd(s string, h int, fold bool) int {
	for _, sc := range []string{"https://", "http://"} {
		if r := s[h:]; len(r) >= len(sc) && (r[:len(sc)] == sc || fold && strings.EqualFold(r[:len(sc)], sc)) {
			return h + len(sc)
		}
	}
	return -1
}

// reqURL is dockerd's and the CLI's request in an error, written out:
// \b(Get|Head|Post|Put|Patch|Delete|GET|HEAD|POST|PUT|PATCH|DELETE) "?(https?://[^"\s]+?)"?:
// the method in title or upper case, the URL quoted or not and ending at
// the first `: ` or `": ` that follows.
type reqURL struct{}

var dReqURL reqURL

func (reqURL) FindAllStringSubmatchIndex(s string, n int) [][]int {
	var out [][]int
	for i, last := 0, 0; n < 0 || len(out) < n; {
		h := strings.Index(s[i:], "http")
		if h < 0 {
			break
		}
		h += i
		i = h + 1
		e := schemeEnd(s, h, false)
		if e < 0 || h == 0 {
			continue
		}
		sep := h - 1 // the space before the method, or its quote
		if s[sep] == '"' {
			sep--
		}
		if sep < 0 || s[sep] != ' ' {
			continue
		}
		start, method := methodBefore(s, sep, false)
		if start < 0 {
			if start, method = methodBefore(s, sep, true); start >= 0 && method != titleCase(method) {
				start = -1
			}
		}
		if start < last {
			continue
		}
		// The shortest URL a ": " (or `": `) follows.
		end := -1
		k := e + 1
		for ; k <= len(s) && s[k-1] != '"' && !reSpace(s[k-1]); k++ {
			if strings.HasPrefix(s[k:], `": `) {
				end = k + 3
				break
			}
			if strings.HasPrefix(s[k:], ": ") {
				end = k + 2
				break
			}
		}
		if end < 0 {
			continue
		}
		out = append(out, []int{start, end, start, start + len(method), h, k})
		i, last = end, end
	}
	return out
}

func (p reqURL) FindStringSubmatchIndex(s string) []int {
	if m := p.FindAllStringSubmatchIndex(s, 1); m != nil {
		return m[0]
	}
	return nil
}

func (p reqURL) FindStringSubmatch(s string) []string {
	m := p.FindStringSubmatchIndex(s)
	if m == nil {
		return nil
	}
	return []string{s[m[0]:m[1]], s[m[2]:m[3]], s[m[4]:m[5]]}
}

// titleCase is "Get" for "GET" or "gET".
func titleCase(m string) string { return strings.ToUpper(m[:1]) + strings.ToLower(m[1:]) }

var (
	// ^(?:Calling )?(POST|GET|HEAD|DELETE) (/\S*)$
	dCalling = &pattern{func(s string) []string {
		r := strings.TrimPrefix(s, "Calling ")
		method, path, ok := strings.Cut(r, " ")
		switch method {
		case "POST", "GET", "HEAD", "DELETE":
		default:
			return nil
		}
		if !ok || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\n\f\r") {
			return nil
		}
		return []string{s, method, path}
	}}
	// (?s)^Attempting next endpoint for (pull|push) after error(?:: (.*))?
	dNext = &pattern{func(s string) []string { return afterError(s, "Attempting next endpoint for ") }}
	// (?s)^Not continuing with (pull|push) after error(?:: (.*))?
	dStop = &pattern{func(s string) []string { return afterError(s, "Not continuing with ") }}
	// (?s)^Handler for (?:POST|GET) (/\S*) returned error: (.*)$
	dHandler = &pattern{func(s string) []string {
		r, ok := strings.CutPrefix(s, "Handler for ")
		if !ok {
			return nil
		}
		if r, ok = strings.CutPrefix(r, "POST "); !ok {
			if r, ok = strings.CutPrefix(r, "GET "); !ok {
				return nil
			}
		}
		e := 0
		for e < len(r) && !reSpace(r[e]) {
			e++
		}
		why, ok := strings.CutPrefix(r[e:], " returned error: ")
		if !strings.HasPrefix(r, "/") || !ok {
			return nil
		}
		return []string{s, r[:e], why}
	}}
)

// afterError is regexp (?s)^prefix(pull|push) after error(?:: (.*))?
func afterError(s, prefix string) []string {
	r, ok := strings.CutPrefix(s, prefix)
	what := ""
	for _, w := range []string{"pull", "push"} {
		if strings.HasPrefix(r, w) {
			what = w
		}
	}
	if !ok || what == "" {
		return nil
	}
	r, ok = strings.CutPrefix(r[len(what):], " after error")
	if !ok {
		return nil
	}
	if why, ok := strings.CutPrefix(r, ": "); ok {
		return []string{s, what, why}
	}
	return []string{s[:len(s)-len(r)], what, ""}
}
