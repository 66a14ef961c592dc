package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// diffPairs are pairs of runs the client suite recorded
// (REGTRACE_DIFF_PAIRS=DIR go test -run TestClients), kept under
// testdata/diff with regtrace diff's answer for each as a golden file.
var diffPairs = []struct {
	name, a, b string
	exit       int
	// first: what the first divergence must say ("" for none).
	first string
}{
	{"credentials", "skopeo-good-pull.har", "skopeo-anonymous-pull-of-a-private-repository.har", exitFound,
		"B never sent credentials to the token server"},
	{"library", "crane-anonymous-pull-of-a-public-image.har", "crane-name-without-its-library-namespace.har", exitFound,
		"B asked the realm for `repository:nginx:pull`"},
	{"expiry", "skopeo-good-pull.har", "skopeo-token-server-clock-10-minutes-behind.har", exitFound,
		"before it was issued"},
	{"ping200", "oras-private-repository-behind-a-200-ping-credentials-given.har", "skopeo-private-repository-behind-a-200-ping-credentials-given.har", exitFound,
		"B never asked the token server; A asked it (scope repository:team/app:pull, Basic for user alice)"},
	{"clients", "docker-good-pull.har", "regctl-good-pull.har", 0, ""},
	{"har-log", "skopeo-good-pull.har", "skopeo-anonymous-pull-of-a-private-repository.log", exitFound,
		"skopeo-anonymous-pull-of-a-private-repository.log is a skopeo debug log"},
	{"same-run", "crane-wrong-password.har", "crane-wrong-password.log", 0, ""},
}

func TestDiffRecordedPairs(t *testing.T) {
	for _, p := range diffPairs {
		t.Run(p.name, func(t *testing.T) {
			for _, format := range []string{"text", "markdown", "json"} {
				var out, errb bytes.Buffer
				a, b := filepath.Join("testdata", "diff", p.a), filepath.Join("testdata", "diff", p.b)
				code := run(context.Background(), []string{"regtrace", "diff", "--no-color", "--format", format, a, b}, &out, &errb)
				if code != p.exit {
					t.Errorf("%s: exit %d, want %d; %s\n%s", format, code, p.exit, errb.String(), out.String())
				}
				ext := map[string]string{"text": "txt", "markdown": "md", "json": "json"}[format]
				goldenFile(t, filepath.Join("diff", p.name+"."+ext+".golden"), out.String())
				if format == "text" && p.first != "" && !strings.Contains(out.String(), p.first) {
					t.Errorf("the diff does not say %q:\n%s", p.first, out.String())
				}
				if format == "text" && p.first == "" && strings.Contains(out.String(), "DIVERGENCE") {
					t.Errorf("a divergence between runs with one outcome:\n%s", out.String())
				}
			}
		})
	}
}

func TestDiffUsage(t *testing.T) {
	dir := t.TempDir()
	notHAR := filepath.Join(dir, "x.txt")
	os.WriteFile(notHAR, []byte("hello\n"), 0o644)
	good := filepath.Join("testdata", "diff", "skopeo-good-pull.har")
	for _, tc := range []struct {
		args []string
		exit int
		want string
	}{
		{[]string{"diff", good}, exitUsage, "want two files"},
		{[]string{"diff", "-", "-"}, exitUsage, "only one of the two sides"},
		{[]string{"diff", "--format", "yaml", good, good}, exitUsage, `--format "yaml"`},
		{[]string{"diff", good, filepath.Join(dir, "missing.har")}, exitFailure, "side B"},
		{[]string{"diff", notHAR, good}, exitFailure, "side A"},
		{[]string{"diff", good, good}, 0, ""},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"regtrace"}, tc.args...), &out, &errb)
		if code != tc.exit || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("regtrace %v: exit %d, want %d with %q; stderr %s", tc.args, code, tc.exit, tc.want, errb.String())
		}
	}
}
