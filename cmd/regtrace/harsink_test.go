package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/explain"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "100MB": 100 << 20, "64k": 64 << 10, "1GiB": 1 << 30, " 2 mib ": 2 << 20, "10b": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "1.5GB", "12 parsecs", "99999999999999999999", "9000000000GB"} {
		if _, err := parseSize(in); err == nil || !strings.Contains(err.Error(), "want a size") {
			t.Errorf("parseSize(%q): %v, want an error saying what a size is", in, err)
		}
	}
}

func TestPeerFileNames(t *testing.T) {
	for peer, want := range map[string]string{
		"alice": "alice", "10.0.0.5": "10.0.0.5", "2001:db8::1": "2001_db8__1", "../../etc/passwd": "_.._etc_passwd",
		"ci/runner 3": "ci_runner_3", "": "unknown", "...": "_", "zoë": "zo_",
	} {
		if got := peerFileName(peer); got != want {
			t.Errorf("peerFileName(%q) = %q, want %q", peer, got, want)
		}
	}
}

// sinkFlows are n exchanges of peer, each with a body that makes the HAR
// grow by about 2 KiB.
func sinkFlows(peer string, n int) []*flow.Flow {
	var bs []*flowtest.Builder
	for range n {
		bs = append(bs, flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("skopeo/1.9.3").From(peer, "10.0.0.5:4000").
			Status(200).JSON(`{"schemaVersion":2,"annotations":{"pad":"`+strings.Repeat("x", 2000)+`"}}`))
	}
	return flowtest.Seq(bs...)
}

var rotatedName = regexp.MustCompile(`-\d{8}T\d{6}\.\d{3}Z(-\d+)?\.har$`)

func TestHARSinkPerPeerAndRotation(t *testing.T) {
	dir := t.TempDir()
	all := filepath.Join(dir, "all.har")
	var stderr bytes.Buffer
	s, err := newHARSink(all, filepath.Join(dir, "clients"), minHARSize, 2, har.Options{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	// Two peers whose names make one file name get a file each.
	peers := []string{"ci/a", "ci_a", "bob"}
	n := 0
	for i := range 100 {
		for _, p := range peers {
			f := sinkFlows(p, 1)[0]
			n++
			f.ID = flow.ID(n)
			s.add(f, har.Annotation{})
		}
		if i == 0 {
			s.addHandshakeFailure(flow.HandshakeFailure{ProxyUser: "bob", Target: "registry.test:443", Message: "bad certificate"})
		}
	}
	s.close(func(*harFile) *explain.Report { return nil })
	names, _ := filepath.Glob(filepath.Join(dir, "clients", "*.har"))
	var current, rotated []string
	for _, p := range names {
		if !rotatedName.MatchString(filepath.Base(p)) {
			current = append(current, filepath.Base(p))
		} else {
			rotated = append(rotated, p)
		}
	}
	slices.Sort(current)
	if want := []string{"bob.har", "ci_a-2.har", "ci_a.har"}; !slices.Equal(current, want) {
		t.Errorf("current files %v, want %v", current, want)
	}
	// 100 exchanges of 2 KiB each rotate a 64 KiB file about 3 times: two
	// rotated files are kept of each.
	for _, base := range []string{"bob", "ci_a", "ci_a-2"} {
		got, _ := filepath.Glob(filepath.Join(dir, "clients", base+"-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T*.har"))
		if len(got) != 2 {
			t.Errorf("%s: rotated files %v, want the 2 newest", base, got)
		}
	}
	// Every file, rotated or not, is a HAR of one peer's exchanges, none
	// larger than the limit by more than one exchange.
	seen := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "clients", "*.har"))
	for _, p := range files {
		tr, err := har.ReadTrace(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fi, _ := os.Stat(p)
		if fi.Size() > minHARSize+4096 {
			t.Errorf("%s: %d bytes, past the limit", p, fi.Size())
		}
		for _, f := range tr.Flows {
			seen[f.ProxyUser]++
			if !strings.HasPrefix(filepath.Base(p), peerFileName(f.ProxyUser)) {
				t.Errorf("%s holds an exchange of %q", p, f.ProxyUser)
			}
		}
	}
	for _, p := range peers {
		if seen[p] == 0 || seen[p] > 100 {
			t.Errorf("%s: %d exchanges kept", p, seen[p])
		}
	}
	if tr, err := har.ReadTrace(all); err != nil || len(tr.Flows) == 0 {
		t.Errorf("the HAR for all: %v", err)
	}
	if stderr.Len() > 0 && !strings.Contains(stderr.String(), "wrote") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// A HAR that cannot be started again after rotating (its directory gone)
// is said once; the proxy goes on and the other HARs are still written.
func TestHARSinkRotationFailureGoesOn(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	s, err := newHARSink(filepath.Join(dir, "all.har"), filepath.Join(dir, "clients"), minHARSize, 1, har.Options{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	s.add(sinkFlows("bob", 1)[0], har.Annotation{})
	os.RemoveAll(filepath.Join(dir, "clients"))
	for i, f := range sinkFlows("bob", 80) {
		f.ID = flow.ID(i + 2)
		s.add(f, har.Annotation{})
		s.addHandshakeFailure(flow.HandshakeFailure{ProxyUser: "bob", Target: "registry.test:443", Message: "bad certificate"})
	}
	s.close(func(*harFile) *explain.Report { return nil })
	if n := strings.Count(stderr.String(), "no more exchanges are written"); n != 1 {
		t.Errorf("the failed restart said %d times:\n%s", n, stderr.String())
	}
	if tr, err := har.ReadTrace(filepath.Join(dir, "all.har")); err != nil || len(tr.Flows) == 0 {
		t.Errorf("the HAR for all stopped too: %v", err)
	}
}
