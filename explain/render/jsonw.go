package render

import (
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/regtrace/regtrace/decode/flow"
)

// jsonWriter writes a report's JSON as encoding/json's Encoder with
// SetIndent("", "  ") does, byte for byte, in one pass: a long log's report
// holds hundreds of thousands of findings, and Marshal followed by Indent
// handles every byte twice. TestJSONWriterMatchesEncodingJSON holds it to
// encoding/json's output.
type jsonWriter struct {
	w     io.Writer
	b     []byte
	depth int
	first bool // no member written yet in the innermost object or array
	err   error
}

func (j *jsonWriter) flush() {
	if j.err == nil && len(j.b) > 0 {
		_, j.err = j.w.Write(j.b)
	}
	j.b = j.b[:0]
}

// next starts a member: a comma after the one before, then a new line at
// the current depth.
func (j *jsonWriter) next() {
	if !j.first {
		j.b = append(j.b, ',')
	}
	j.first = false
	j.newline()
	if len(j.b) >= 64<<10 {
		j.flush()
	}
}

func (j *jsonWriter) newline() {
	j.b = append(j.b, '\n')
	for range j.depth {
		j.b = append(j.b, ' ', ' ')
	}
}

func (j *jsonWriter) open(c byte) {
	j.b = append(j.b, c)
	j.depth++
	j.first = true
}

func (j *jsonWriter) close(c byte) {
	j.depth--
	if !j.first {
		j.newline()
	}
	j.first = false
	j.b = append(j.b, c)
}

func (j *jsonWriter) key(k string) {
	j.next()
	j.b = appendJSONString(j.b, k)
	j.b = append(j.b, ':', ' ')
}

func (j *jsonWriter) str(k, v string) {
	j.key(k)
	j.b = appendJSONString(j.b, v)
}

func (j *jsonWriter) boolean(k string, v bool) {
	j.key(k)
	j.b = strconv.AppendBool(j.b, v)
}

func (j *jsonWriter) integer(k string, v int64) {
	j.key(k)
	j.b = strconv.AppendInt(j.b, v, 10)
}

func (j *jsonWriter) id(k string, v flow.ID) {
	j.key(k)
	j.b = strconv.AppendUint(j.b, uint64(v), 10)
}

func (j *jsonWriter) ids(k string, v []flow.ID) {
	j.key(k)
	if v == nil {
		j.b = append(j.b, "null"...)
		return
	}
	j.open('[')
	for _, id := range v {
		j.next()
		j.b = strconv.AppendUint(j.b, uint64(id), 10)
	}
	j.close(']')
}

func (j *jsonWriter) strs(k string, v []string) {
	j.key(k)
	if v == nil {
		j.b = append(j.b, "null"...)
		return
	}
	j.open('[')
	for _, s := range v {
		j.next()
		j.b = appendJSONString(j.b, s)
	}
	j.close(']')
}

func (j *jsonWriter) report(r *jsonReport) error {
	j.open('{')
	j.integer("version", int64(r.Version))
	j.boolean("failed", r.Failed)
	j.key("primary")
	if r.Primary == nil {
		j.b = append(j.b, "null"...)
	} else {
		j.finding(r.Primary)
	}
	j.key("findings")
	if r.Findings == nil {
		j.b = append(j.b, "null"...)
	} else {
		j.open('[')
		for i := range r.Findings {
			j.next()
			j.finding(&r.Findings[i])
		}
		j.close(']')
	}
	j.key("operations")
	if r.Operations == nil {
		j.b = append(j.b, "null"...)
	} else {
		j.open('[')
		for i := range r.Operations {
			j.next()
			j.operation(&r.Operations[i])
		}
		j.close(']')
	}
	if s := r.Source; s != nil {
		j.key("source")
		j.open('{')
		j.str("name", s.Name)
		if s.Lacks != "" {
			j.str("lacks", s.Lacks)
		}
		if s.Capture != "" {
			j.str("capture", s.Capture)
		}
		j.close('}')
	}
	j.close('}')
	j.b = append(j.b, '\n')
	j.flush()
	return j.err
}

func (j *jsonWriter) finding(f *jsonFinding) {
	j.open('{')
	j.str("rule", f.Rule)
	j.str("verdict", f.Verdict)
	j.boolean("primary", f.Primary)
	if f.Peer != "" {
		j.str("peer", f.Peer)
	}
	if f.Client != "" {
		j.str("client", f.Client)
	}
	if f.Registry != "" {
		j.str("registry", f.Registry)
	}
	if f.Repo != "" {
		j.str("repo", f.Repo)
	}
	j.ids("evidence", f.Evidence)
	j.str("why", f.Why)
	j.str("fix", f.Fix)
	if f.CannotProve != "" {
		j.str("cannotProve", f.CannotProve)
	}
	if f.Suspected {
		j.boolean("suspected", f.Suspected)
	}
	if len(f.Candidates) > 0 {
		j.strs("candidates", f.Candidates)
	}
	j.close('}')
}

func (j *jsonWriter) operation(o *jsonOperation) {
	j.open('{')
	if o.Peer != "" {
		j.str("peer", o.Peer)
	}
	j.str("client", o.Client)
	j.str("registry", o.Registry)
	j.strs("repos", o.Repos)
	j.ids("flows", o.Flows)
	j.str("goal", o.Goal)
	j.boolean("reached", o.Reached)
	if o.StoppedAt != 0 {
		j.id("stoppedAt", o.StoppedAt)
	}
	if o.Stage != "" {
		j.str("stage", o.Stage)
	}
	if o.RecoveredBy != 0 {
		j.id("recoveredBy", o.RecoveredBy)
	}
	if len(o.Probes) > 0 {
		j.ids("probes", o.Probes)
	}
	j.close('}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does with HTML escaping (its
// default): <, > and & as \u003c, \u003e, \u0026, U+2028 and U+2029
// escaped, invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
