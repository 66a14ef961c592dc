package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/explain"
)

// harSink writes a session's HAR files: one for every client (--har FILE)
// and one per peer (--har-dir DIR), each rotated when it grows past
// --har-max-size. The caller serialises calls (the session's lock).
type harSink struct {
	opts    har.Options
	maxSize int64 // 0: never rotate
	keep    int   // rotated files kept per HAR; older ones are removed
	stderr  io.Writer

	all   *harFile // --har, nil without it
	dir   string   // --har-dir, "" without it
	peers map[string]*harFile
	names map[string]bool // file names taken in dir
}

// harFile is one HAR being written and the files it rotated out.
type harFile struct {
	path    string
	peer    string
	w       *har.Writer
	rotated []string // oldest first
	failed  bool     // a write failure was reported
}

// harSizeSuffixes: --har-max-size takes bytes or these (powers of 1024).
var harSizeSuffixes = []struct {
	s string
	n int64
}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}}

// parseSize reads "100MB", "64k", "1GiB" or a number of bytes.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, x := range harSizeSuffixes {
		if strings.HasSuffix(t, x.s) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, x.s)), x.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a size such as 100MB, 512KiB or 1048576", s)
	}
	return n * mult, nil
}

// minHARSize is the smallest --har-max-size: a HAR's own frame and one
// large exchange must fit.
const minHARSize = 64 << 10

func newHARSink(path, dir string, maxSize int64, keep int, opts har.Options, stderr io.Writer) (*harSink, error) {
	s := &harSink{opts: opts, maxSize: maxSize, keep: keep, stderr: stderr, dir: dir, peers: map[string]*harFile{}, names: map[string]bool{}}
	if path != "" {
		f, err := s.open(path, "")
		if err != nil {
			return nil, fmt.Errorf("--har: %w", err)
		}
		s.all = f
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("--har-dir: %w", err)
		}
	}
	return s, nil
}

func (s *harSink) open(path, peer string) (*harFile, error) {
	w, err := har.Create(path, s.opts)
	if err != nil {
		return nil, err
	}
	return &harFile{path: path, peer: peer, w: w}, nil
}

// peerFileName makes a file name of a peer (a proxy user or an IP
// address): letters, digits, '.', '-' and '_' kept, anything else '_'.
func peerFileName(peer string) string {
	if peer == "" {
		peer = "unknown"
	}
	var b strings.Builder
	for _, r := range peer {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := strings.TrimLeft(b.String(), ".")
	if name == "" {
		name = "_"
	}
	return name
}

// forPeer is the peer's own HAR in --har-dir, made on its first exchange.
func (s *harSink) forPeer(peer string) *harFile {
	if s.dir == "" {
		return nil
	}
	if f, ok := s.peers[peer]; ok {
		return f // nil when it could not be made
	}
	base := peerFileName(peer)
	name := base + ".har"
	for i := 2; s.names[name]; i++ {
		name = fmt.Sprintf("%s-%d.har", base, i) // two peers with one file name
	}
	s.names[name] = true
	f, err := s.open(filepath.Join(s.dir, name), peer)
	if err != nil {
		fmt.Fprintf(s.stderr, "regtrace: --har-dir: %v (the exchanges of %s are in no HAR of their own)\n", err, peer)
	}
	s.peers[peer] = f
	return f
}

// add writes f to the HAR for all and to its peer's.
func (s *harSink) add(f *flow.Flow, ann har.Annotation) {
	for _, hf := range []*harFile{s.all, s.forPeer(f.Peer())} {
		if hf != nil && hf.w != nil {
			s.report(hf, hf.w.Add(f, ann))
			s.rotate(hf)
		}
	}
}

func (s *harSink) addHandshakeFailure(h flow.HandshakeFailure) {
	for _, hf := range []*harFile{s.all, s.forPeer(flow.Peer(h.ProxyUser, h.ClientAddr))} {
		if hf != nil && hf.w != nil {
			s.report(hf, hf.w.AddHandshakeFailure(h))
		}
	}
}

// report says a file's first write failure: a full disk fails every later
// write too, and Close says how many were lost.
func (s *harSink) report(hf *harFile, err error) {
	if err == nil || hf.failed {
		return
	}
	var ue *har.UnwrittenError
	if errors.As(err, &ue) && ue.N > 1 {
		return
	}
	hf.failed = true
	fmt.Fprintf(s.stderr, "regtrace: writing %s: %v (the proxy goes on; the count comes at exit)\n", hf.path, err)
}

// rotate closes a HAR past the size limit under a name with the time,
// starts a new one at its path, and removes the oldest rotated files past
// the number kept.
func (s *harSink) rotate(hf *harFile) {
	if s.maxSize == 0 || hf.w.Size() < s.maxSize {
		return
	}
	if err := hf.w.Close(); err != nil {
		fmt.Fprintf(s.stderr, "regtrace: closing %s to rotate it: %v\n", hf.path, err)
	}
	ext := filepath.Ext(hf.path)
	stem := strings.TrimSuffix(hf.path, ext)
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	old := stem + "-" + stamp + ext
	for i := 2; fileExists(old); i++ {
		old = fmt.Sprintf("%s-%s-%d%s", stem, stamp, i, ext)
	}
	if err := os.Rename(hf.path, old); err != nil {
		fmt.Fprintf(s.stderr, "regtrace: rotating %s: %v\n", hf.path, err)
	} else {
		hf.rotated = append(hf.rotated, old)
	}
	for len(hf.rotated) > s.keep {
		if err := os.Remove(hf.rotated[0]); err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(s.stderr, "regtrace: removing the rotated %s: %v\n", hf.rotated[0], err)
		}
		hf.rotated = hf.rotated[1:]
	}
	w, err := har.Create(hf.path, s.opts)
	if err != nil {
		// Nothing more can be written there: say it once, as a full disk.
		fmt.Fprintf(s.stderr, "regtrace: starting a new %s after rotating: %v (no more exchanges are written to it)\n", hf.path, err)
		hf.w = nil
		return
	}
	hf.w, hf.failed = w, false
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// files are the HARs being written, the one for all first.
func (s *harSink) files() []*harFile {
	var fs []*harFile
	if s.all != nil {
		fs = append(fs, s.all)
	}
	peers := make([]string, 0, len(s.peers))
	for p, f := range s.peers {
		if f != nil {
			peers = append(peers, p)
		}
	}
	slices.Sort(peers)
	for _, p := range peers {
		fs = append(fs, s.peers[p])
	}
	return fs
}

// close writes each HAR's findings (explain's, of the file itself: the
// rotated files and what was dropped from memory are not in rep) and
// closes it.
func (s *harSink) close(rep func(hf *harFile) *explain.Report) {
	for _, hf := range s.files() {
		if hf.w == nil {
			continue
		}
		if r := rep(hf); r != nil {
			var notes []string
			for _, f := range r.Findings {
				notes = append(notes, fmt.Sprintf("%s %s %v", f.Rule, f.Verdict, f.Evidence))
			}
			hf.w.SetFindings(notes)
		}
		if err := hf.w.Close(); err != nil {
			fmt.Fprintf(s.stderr, "regtrace: closing %s: %v\n", hf.path, err)
		}
	}
	if s.all != nil && s.all.w != nil {
		fmt.Fprintf(s.stderr, "regtrace: wrote %s (regtrace explain %s)\n", s.all.path, s.all.path)
	}
	if n := len(s.files()) - btoi(s.all != nil); n > 0 {
		fmt.Fprintf(s.stderr, "regtrace: wrote %d HAR files in %s, one per client (regtrace explain %s)\n", n, s.dir, filepath.Join(s.dir, "CLIENT.har"))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
