package explain

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// ruleTrace is one test trace and exactly the rules that must fire on it.
// Every trace of every group runs against every rule, so a rule firing on a
// trace it should not is caught ("fires on its traces and on nothing else").
type ruleTrace struct {
	name       string
	flows      []*flowtest.Builder
	handshakes []flow.HandshakeFailure
	sanitized  bool
	source     *Source // a trace read from a log
	// want: every rule that must fire; primary: the one marked primary
	// ("" when none may be).
	want    []Rule
	primary Rule
	// suspected: the primary finding is a rule the log points to but
	// cannot prove (Finding.Suspected).
	suspected bool
	// candidates: the primary (unexplained) finding lists these rules as
	// what a log's failure fits.
	candidates []Rule
}

// allTraces collects every group's traces.
func allTraces() []ruleTrace {
	var ts []ruleTrace
	ts = append(ts, globalTraces()...)
	ts = append(ts, maskingTraces()...)
	ts = append(ts, challengeTraces()...)
	ts = append(ts, credentialTraces()...)
	ts = append(ts, tokenTraces()...)
	ts = append(ts, verdictTraces()...)
	ts = append(ts, outcomeTraces()...)
	ts = append(ts, vendorTraces()...)
	ts = append(ts, suspectTraces()...)
	return ts
}

func (tr ruleTrace) input() Input {
	s := decode.NewSession()
	in := Input{Handshakes: tr.handshakes, Sanitized: tr.sanitized, Source: tr.source}
	for _, f := range flowtest.Seq(tr.flows...) {
		in.Exchanges = append(in.Exchanges, s.Decode(f))
	}
	return in
}

func TestRulesFireOnTheirTracesAndNothingElse(t *testing.T) {
	names := map[string]bool{}
	for _, tr := range allTraces() {
		if names[tr.name] {
			t.Errorf("duplicate trace name %q", tr.name)
		}
		names[tr.name] = true
		t.Run(tr.name, func(t *testing.T) {
			rep := Explain(tr.input())
			var got []string
			var primary Rule
			for _, f := range rep.Findings {
				got = append(got, string(f.Rule))
				if f.Primary {
					if primary != "" {
						t.Errorf("two primary findings: %s and %s", primary, f.Rule)
					}
					primary = f.Rule
				}
				if f.Why == "" || f.Fix == "" {
					t.Errorf("%s: finding without why or fix: %+v", f.Rule, f)
				}
			}
			var want []string
			for _, r := range tr.want {
				want = append(want, string(r))
			}
			sort.Strings(got)
			sort.Strings(want)
			got = slices.Compact(got)
			if !slices.Equal(got, want) {
				t.Errorf("rules fired %v, want %v\n%s", got, want, dump(rep))
			}
			if primary != tr.primary {
				t.Errorf("primary %q, want %q\n%s", primary, tr.primary, dump(rep))
			}
			if len(rep.Findings) > 0 && tr.primary != "" && !rep.Findings[0].Primary {
				t.Error("the primary finding is not first")
			}
			for _, f := range rep.Findings {
				if f.Suspected && (tr.source == nil || !strings.HasPrefix(f.CannotProve, "Suspected, not proven: ")) {
					t.Errorf("%s is suspected in a wire trace or without saying what would prove it: %q", f.Rule, f.CannotProve)
				}
				if f.Primary && f.Suspected != tr.suspected {
					t.Errorf("primary %s suspected=%v, want %v", f.Rule, f.Suspected, tr.suspected)
				}
				if f.Primary && !slices.Equal(f.Candidates, tr.candidates) {
					t.Errorf("primary %s candidates %v, want %v", f.Rule, f.Candidates, tr.candidates)
				}
				if len(f.Candidates) > 0 && (tr.source == nil || f.Rule != RuleUnexplainedFailure) {
					t.Errorf("%s lists candidates %v outside an unexplained failure read from a log", f.Rule, f.Candidates)
				}
			}
		})
	}
}

// Every rule the engine knows has at least one trace.
func TestEveryRuleHasATrace(t *testing.T) {
	covered := map[Rule]bool{}
	for _, tr := range allTraces() {
		for _, r := range tr.want {
			covered[r] = true
		}
	}
	for _, r := range allRules() {
		if !covered[r.id] {
			t.Errorf("rule %s has no trace", r.id)
		}
	}
}

func dump(rep *Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "  %s primary=%v verdict=%s evidence=%v\n    why: %s\n", f.Rule, f.Primary, f.Verdict, f.Evidence, f.Why)
	}
	return b.String()
}

func globalTraces() []ruleTrace {
	return []ruleTrace{
		{
			name: "client does not trust the CA",
			handshakes: []flow.HandshakeFailure{{Target: "registry.test:443", ServerName: "registry.test",
				Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"}},
			want:    []Rule{RuleClientDistrustsCA},
			primary: RuleClientDistrustsCA,
		},
		{
			// The issue-14 measurement: hosts.toml gave the mirror a ca
			// line and the server none; ctr reported the mirror's 401.
			name: "ctr reports a mirror's 401 and the server it tried next does not trust the CA",
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/1.0?ns=registry.test").UA("containerd/1.6.20~ds1").Status(401).
					Challenge(`Basic realm="mirror"`),
			},
			handshakes: []flow.HandshakeFailure{{Time: flowtest.Epoch.Add(time.Second), Target: "registry.test:443", ServerName: "registry.test",
				Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"}},
			want:    []Rule{RuleClientDistrustsCA, RuleBasicChallengeNoCredentials, RuleHeadErrorWithoutBody},
			primary: RuleBasicChallengeNoCredentials,
		},
		{
			// The same run as containerd's debug log shows it: the server's
			// request failed on x509 after the mirror's 401, which ctr
			// reported ("pulling from host mirror.test failed with status
			// code … 401").
			name: "ctr's log: a mirror's 401, then the server fails on the CA, reported second",
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/1.0?ns=registry.test").UA("containerd/1.6.20~ds1").Status(401).
					Challenge(`Basic realm="mirror"`),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA("containerd/1.6.20~ds1").
					Err(flow.ErrUnknownAuthority, "x509: certificate signed by unknown authority"),
			},
			want:    []Rule{RuleProxyOrMITM, RuleBasicChallengeNoCredentials, RuleHeadErrorWithoutBody},
			primary: RuleBasicChallengeNoCredentials,
		},
		{
			// containerd 2 ranks a 404 above a transport error: with the
			// mirror's 404 first, the x509 failure is what 1.x reports.
			name: "ctr 1.6 skips a mirror's 404 and reports the server's CA failure",
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/1.0?ns=registry.test").UA("containerd/1.6.20~ds1").Status(404),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA("containerd/1.6.20~ds1").
					Err(flow.ErrUnknownAuthority, "x509: certificate signed by unknown authority"),
			},
			want:    []Rule{RuleProxyOrMITM},
			primary: RuleProxyOrMITM,
		},
		{
			// Not a mirror's fallback: the handshake came first.
			name: "a handshake that failed before a mirror answered is what the client reported",
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/1.0?ns=registry.test").UA("containerd/1.6.20~ds1").Status(401).
					Challenge(`Basic realm="mirror"`),
			},
			handshakes: []flow.HandshakeFailure{{Time: flowtest.Epoch.Add(-time.Second), Target: "registry.test:443", ServerName: "registry.test",
				Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"}},
			want:    []Rule{RuleClientDistrustsCA, RuleBasicChallengeNoCredentials, RuleHeadErrorWithoutBody},
			primary: RuleClientDistrustsCA,
		},
		{
			name:    "nothing went through the proxy",
			want:    []Rule{RuleNoRegistryTraffic},
			primary: RuleNoRegistryTraffic,
		},
		{
			name:    "only non-registry traffic",
			flows:   []*flowtest.Builder{flowtest.Get("https://example.test/index.html").Status(200)},
			want:    []Rule{RuleNoRegistryTraffic},
			primary: RuleNoRegistryTraffic,
		},
		{
			// Seen live: an authenticated push, then an anonymous pull by
			// another run of the same program, read as one operation, gave
			// credentials-not-sent.
			name: "two runs of one client are two operations",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA("skopeo/1.9.3").Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.Get("https://auth.test/token?account=admin&scope=repository:team/app:pull,push&service=registry.test").UA("skopeo/1.9.3").Basic("admin", "pw").Status(200).JSON(`{"token":"opaque-1"}`),
				flowtest.Put("https://registry.test/v2/team/app/manifests/1.0").UA("skopeo/1.9.3").Bearer("opaque-1").Status(201),
				flowtest.Get("https://registry.test/v2/").UA("skopeo/1.9.3").Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA("skopeo/1.9.3").Status(200).JSON(`{"token":"opaque-2"}`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("skopeo/1.9.3").Bearer("opaque-2").Status(401).
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull",error="insufficient_scope"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "a good anonymous pull explains nothing",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").Status(200),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").Status(200).JSON(`{}`),
			},
		},
	}
}

// Every rule has its documentation and every documentation entry a rule,
// in the order the rules run, with a title and a fix.
func TestEveryRuleIsDocumented(t *testing.T) {
	var ids []Rule
	for _, r := range allRules() {
		ids = append(ids, r.id)
	}
	var docIDs []Rule
	for _, d := range Rules() {
		docIDs = append(docIDs, d.ID)
		if d.Title == "" || d.Fix == "" || d.Signature == "" || len(d.Verdicts) == 0 {
			t.Errorf("%s: documentation lacks a title, signature, verdict or fix", d.ID)
		}
	}
	if !slices.Equal(ids, docIDs) {
		t.Errorf("rules %v\ndocumented %v", ids, docIDs)
	}
}
