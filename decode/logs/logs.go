// Package logs reads what a support ticket carries instead of a HAR — a
// client's debug log, a daemon's journal, Kubernetes pull events — and
// turns it into the flows it shows, so decode and explain give a log the
// same verdict as a recording of the same run.
//
// A log shows less than the wire: clients log Authorization at most as
// "<redacted>" and never token contents, and most log a status only for
// some requests. A reader
// builds a flow for every request the log names, marks each response it
// did not see as flow.Response.Inferred, and says in Trace what the whole
// log cannot show. Readers are total: a line they do not understand is
// context, never an error.
//
// logs imports decode/flow and decode/redact only.
package logs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
)

// Format names a kind of log.
type Format string

// Trace is what a log shows.
type Trace struct {
	Format Format
	// Name says what was read, for people: "skopeo debug log".
	Name string
	// Flows are the HTTP exchanges the log shows, in order.
	Flows []*flow.Flow
	// HidesAuth: the log never shows Authorization headers.
	HidesAuth bool
	// Lacks says what the log does not show, in words.
	Lacks string
	// Command is the client's command line when the log shows it
	// (redacted), and Image the image reference it worked on.
	Command string
	Image   string
	// Errors are the client's own final error messages (redacted).
	Errors []string
	// CredentialsFor are the registries the client had credentials for,
	// when the log shows its credential lookup: sorted, each once.
	CredentialsFor []string
	// CredentialsHint says where the client takes credentials from, when
	// that is not a login on the machine the command ran on (a node's
	// kubelet takes them from the pod's imagePullSecrets).
	CredentialsHint string
}

// reader is one log format.
type reader struct {
	format Format
	// sniff reports whether the first lines are this format.
	sniff func(head []string) bool
	read  func(lines []line) *Trace
}

// line is one log line, with its number (from 1) and its text without
// journald prefixes, ANSI colour or a trailing carriage return.
type line struct {
	n    int
	text string
}

// readers are tried in order; the first whose sniff matches reads.
func readers() []reader {
	return []reader{
		// containerd's resolver logs first: its records are logrus, as
		// skopeo's and dockerd's are, but only it logs "do request".
		{format: FormatCtr, sniff: sniffCtr, read: readCtr},
		{format: FormatContainerd, sniff: sniffContainerd, read: readContainerd},
		{format: FormatContainersImage, sniff: sniffContainersImage, read: readContainersImage},
		{format: FormatGGCR, sniff: sniffGGCR, read: readGGCR},
		{format: FormatRegclient, sniff: sniffRegclient, read: readRegclient},
		{format: FormatKubernetesEvents, sniff: sniffKubernetes, read: readKubernetes},
		{format: FormatDockerd, sniff: sniffDockerd, read: readDockerd},
		{format: FormatOras, sniff: sniffOras, read: readOras},
	}
}

// Formats lists the formats regtrace reads, for messages.
func Formats() []Format {
	var out []Format
	for _, r := range readers() {
		out = append(out, r.format)
	}
	return out
}

// ErrUnknownFormat is returned for input no reader recognises.
var ErrUnknownFormat = errors.New("not a log regtrace knows")

// maxLine bounds one log line: a dump of a large JSON body can be long,
// but a log is read line by line and never held whole beyond its lines.
const maxLine = 1 << 20

// sniffLines is how many lines are looked at to recognise a format.
const sniffLines = 400

// Read reads a log, recognising its format by content. A line longer than
// maxLine keeps its first maxLine bytes: reading is total.
//
// The log is held once, as one string its lines are cut from: readers
// look back and ahead, and a line of its own per allocation cost more
// time than the reading (a 100 MB log is millions of lines).
func Read(r io.Reader) (*Trace, error) {
	var sb strings.Builder
	if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			sb.Grow(int(fi.Size()) + 1)
		}
	}
	if _, err := io.Copy(&sb, r); err != nil {
		n := strings.Count(sb.String(), "\n")
		return nil, fmt.Errorf("reading the log at line %d: %w", n+1, err)
	}
	ls := splitLines(sb.String())
	if rd := sniff(ls); rd != nil {
		t := rd.read(ls)
		// Readers add a registry each time the log shows its credentials.
		slices.Sort(t.CredentialsFor)
		t.CredentialsFor = slices.Compact(t.CredentialsFor)
		return t, nil
	}
	var names []string
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return nil, fmt.Errorf("%w: it reads HAR files and these logs: %s", ErrUnknownFormat, strings.Join(names, ", "))
}

// sniffWindows bounds how many stretches of a long log past its head are
// looked at to recognise it.
const sniffWindows = 256

// sniff returns the reader for ls, recognised from its first sniffLines
// lines or, when those say nothing (a daemon's journal can open with hours
// of its own chatter), from windows around the next lines that speak of
// pulls, pushes, registries or tokens.
func sniff(ls []line) *reader {
	rds := readers()
	try := func(lo int) *reader {
		head := make([]string, 0, min(len(ls)-lo, sniffLines))
		for _, l := range ls[lo:min(len(ls), lo+sniffLines)] {
			head = append(head, l.text)
		}
		for i := range rds {
			if rds[i].sniff(head) {
				return &rds[i]
			}
		}
		return nil
	}
	if rd := try(0); rd != nil {
		return rd
	}
	for next, n := sniffLines, 0; next < len(ls) && n < sniffWindows; n++ {
		i := next
		for i < len(ls) && !sniffHint(ls[i].text) {
			i++
		}
		if i == len(ls) {
			break
		}
		lo := max(i-sniffLines/8, 0)
		if rd := try(lo); rd != nil {
			return rd
		}
		next = lo + sniffLines
	}
	return nil
}

// sniffHint: a line that may belong to a pull, a push or a login.
func sniffHint(s string) bool {
	// Not "image": daemons speak of images all day (ImageFsInfo, events).
	for _, w := range []string{"/v2/", "ull", "egistry", "oken", "ush"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// splitLines cuts s into cleaned lines, each at most maxLine bytes (the
// rest of a longer line is dropped). A last line without a newline counts.
func splitLines(s string) []line {
	ls := make([]line, 0, strings.Count(s, "\n")+1)
	for n := 1; s != ""; n++ {
		text := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			text, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if len(text) > maxLine {
			text = text[:maxLine]
		}
		ls = append(ls, line{n: n, text: clean(text)})
	}
	return ls
}

// clean strips what varies between copies of one log: ANSI colour, a
// trailing CR, and a journald prefix ("Dec 04 10:00:00 host crio[123]: ").
func clean(s string) string {
	s = strings.TrimRight(s, "\r")
	if strings.Contains(s, "\x1b[") {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
				j := i + 2
				for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';') {
					j++
				}
				if j < len(s) {
					i = j
					continue
				}
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	return stripJournal(s)
}

// stripJournal drops a journald or syslog prefix: a timestamp ("Dec 04
// 10:00:00" or ISO 8601), a host, and "unit[pid]: ".
func stripJournal(s string) string {
	var rest string
	switch {
	case len(s) > 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' && s[12] == ':':
		rest = s[15:]
	case len(s) > 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T':
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return s
		}
		rest = s[i:]
	default:
		return s
	}
	i := strings.Index(rest, ": ")
	if i < 0 || i > 120 {
		return s
	}
	f := strings.Fields(rest[:i])
	if len(f) != 2 {
		return s
	}
	return rest[i+2:]
}
