package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/regtrace/regtrace/decode"
)

// clientRun is one client's run of one scenario: its flows, its own output
// (a debug log for clients that have one), and whether it failed.
type clientRun struct {
	xs     []*decode.Exchange
	log    string
	logs   bool
	failed bool
}

// clientRuns: client -> scenario -> run.
type clientRuns map[string]map[string]clientRun

var clientRunsMu sync.Mutex

func (r clientRuns) add(client, scenario string, run clientRun) {
	clientRunsMu.Lock()
	defer clientRunsMu.Unlock()
	if r[client] == nil {
		r[client] = map[string]clientRun{}
	}
	r[client][scenario] = run
}

// diffOut is the JSON regtrace diff prints, as far as the checks read it.
type diffOut struct {
	Same  bool `json:"same"`
	First *struct {
		Step, What, Text string
	} `json:"first"`
	A, B struct {
		Failed  bool `json:"failed"`
		Primary *struct {
			Rule string `json:"rule"`
		} `json:"primary"`
	}
}

// regtraceDiff runs `regtrace diff --format json A B` in-process and
// returns its result and exit status.
func regtraceDiff(t *testing.T, a, b string) (diffOut, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"regtrace", "diff", "--format", "json", a, b}, &out, &errb)
	var d diffOut
	if code != 0 && code != exitFound {
		t.Fatalf("regtrace diff %s %s: exit %d: %s", a, b, code, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("regtrace diff %s %s: %v\n%s", a, b, err, out.String())
	}
	if (code == 0) != d.Same {
		t.Errorf("regtrace diff %s %s: exit %d with same=%v", a, b, code, d.Same)
	}
	return d, code
}

// checkDiffPairs runs regtrace diff on pairs of runs the client suite
// recorded (issue 17): the same image by each client, with and without
// the library/ prefix, with and without credentials, before and after a
// token expiry, a client against another where one fails, and each
// client's log against the HAR of the same run.
// REGTRACE_DIFF_PAIRS=DIR keeps each pair's files: how the goldens under
// testdata/diff were recorded.
func checkDiffPairs(t *testing.T, runs clientRuns) {
	dir := os.Getenv("REGTRACE_DIFF_PAIRS")
	if dir == "" {
		dir = t.TempDir()
	}
	file := func(client, scenario string, asLog bool) string {
		r, ok := runs[client][scenario]
		if !ok {
			t.Fatalf("no run of %q by %s", scenario, client)
		}
		base := filepath.Join(dir, client+"-"+strings.NewReplacer(" ", "-", "/", "", ",", "").Replace(scenario))
		if asLog {
			p := base + ".log"
			if err := os.WriteFile(p, []byte(r.log), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		p := base + ".har"
		if _, err := os.Stat(p); err != nil {
			writeHAR(t, p, r.xs)
		}
		return p
	}
	// A client whose tool is not installed here has no runs: the pairs
	// that name it are left out (make test installs every one).
	ran := func(c string) bool { return len(runs[c]) > 0 }
	clients := make([]string, 0, len(runs))
	for c := range runs {
		clients = append(clients, c)
	}
	sort.Strings(clients)
	var table strings.Builder
	record := func(pair string, d diffOut, code int) {
		first := "-"
		if d.First != nil {
			first = d.First.Step + "/" + d.First.What + ": " + d.First.Text
		}
		fmt.Fprintf(&table, "%s: exit %d, first %s\n", pair, code, first)
	}

	const good, anonPrivate, public, noLibrary, behind = "good pull", "anonymous pull of a private repository",
		"anonymous pull of a public image", "name without its library/ namespace", "token server clock 10 minutes behind"
	for _, c := range clients {
		// The same image by each client: the same outcome.
		if c != "skopeo" && ran("skopeo") {
			for _, sc := range []string{good, anonPrivate} {
				d, code := regtraceDiff(t, file("skopeo", sc, false), file(c, sc, false))
				record("skopeo/"+c+" "+sc, d, code)
				if !d.Same {
					t.Errorf("%s by skopeo and by %s: not the same outcome: %+v", sc, c, d.First)
				}
			}
		}
		// With and without credentials: the token server's grant parts them.
		d, code := regtraceDiff(t, file(c, good, false), file(c, anonPrivate, false))
		record(c+" with/without credentials", d, code)
		if d.Same || d.First == nil {
			t.Errorf("%s with and without credentials: no divergence named", c)
		} else if d.First.What != "credentials" {
			t.Errorf("%s with and without credentials: first divergence %s/%s, want the credentials: %s", c, d.First.Step, d.First.What, d.First.Text)
		}
		// With and without library/ on Docker Hub.
		d, code = regtraceDiff(t, file(c, public, false), file(c, noLibrary, false))
		record(c+" with/without library/", d, code)
		if normalisesHubHost[c] {
			if !d.Same {
				t.Errorf("%s adds library/ itself: the runs must not diverge: %+v", c, d.First)
			}
		} else if d.Same || d.First == nil || d.First.What != "scopes" {
			t.Errorf("%s with and without library/: want the scopes asked of the realm as the first divergence, got %+v", c, d.First)
		}
		// Each client's log against the HAR of the same run: one outcome.
		for sc, r := range runs[c] {
			if !r.logs {
				continue
			}
			d, code := regtraceDiff(t, file(c, sc, false), file(c, sc, true))
			if !d.Same {
				record(c+" HAR/log "+sc, d, code)
				t.Errorf("%s %q: its HAR and its log give different outcomes: %+v", c, sc, d)
			}
		}
	}
	// Before and after a token expiry.
	if ran("skopeo") {
		d, code := regtraceDiff(t, file("skopeo", good, false), file("skopeo", behind, false))
		record("skopeo before/after token expiry", d, code)
		if d.Same || d.First == nil || d.First.What != "expiry" {
			t.Errorf("before and after a token expiry: want the token's expiry as the first divergence, got %+v", d.First)
		}
	}
	// One client that follows a repository's challenge after a 200 ping,
	// one that does not.
	if ran("oras") && ran("skopeo") {
		const ping200 = "private repository behind a 200 ping, credentials given"
		d, code := regtraceDiff(t, file("oras", ping200, false), file("skopeo", ping200, false))
		record("oras/skopeo "+ping200, d, code)
		if d.Same || d.First == nil || !slices.Contains([]string{"credentials", "token"}, d.First.What) {
			t.Errorf("oras and skopeo behind a 200 ping: want what was sent to the token server as the first divergence, got %+v", d.First)
		}
	}
	t.Logf("regtrace diff of recorded pairs:\n%s", table.String())
}
