package explain

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/regtrace/regtrace/decode"
)

// A log shows less than the wire. When a failed operation read from one is
// explained by no rule, what the log does show of where it stopped (stage,
// status, the challenge's error=, whether credentials went out) leaves a
// set of rules that a wire trace of the run could give. One rule left is
// named, marked Suspected, with what would prove it; several are listed as
// the finding's Candidates, with what would tell them apart. A rule the
// visible evidence rules out is never named, and a wire trace is never
// suspected: there a rule that did not fire did not fit.

// tri is what a log shows of a yes/no fact: yes, no, or not shown.
type tri int

const (
	unknown tri = iota
	yes
	no
)

// suspicion is the rules a log's failure fits and what would decide.
type suspicion struct {
	rules []Rule
	lack  string
}

// suspect reads where op stopped, in a log, and returns the rules it
// fits, most likely first.
func suspect(in *Input, op *Operation) suspicion {
	x := op.Outcome().Stop
	if in.Source == nil || x == nil {
		return suspicion{}
	}
	if !in.mirrorMasked(op) {
		return answerSuspicion(in, op, x)
	}
	// The error is the mirror's; the registry's own answer, which may be
	// the real reason, is not in the log.
	s := suspicion{
		rules: append([]Rule{RuleEndpointFallbackMasks}, in.demoted[op]...),
		lack: fmt.Sprintf("what %s itself answered after its mirror %s: runtimes ask the mirrors first and the registry last, "+
			"and containerd reports the first host's error", x.Upstream, x.Host),
	}
	a := answerSuspicion(in, op, x)
	for _, r := range a.rules {
		if !slices.Contains(s.rules, r) {
			s.rules = append(s.rules, r)
		}
	}
	if a.lack != "" {
		s.lack += "; and " + a.lack
	}
	return s
}

// answerSuspicion is the rules the answer x, where op stopped, fits by
// what the log shows of it.
func answerSuspicion(in *Input, op *Operation, x *decode.Exchange) suspicion {
	if x.Flow.Err != nil {
		return suspicion{}
	}
	creds := credsShown(in, op, x)
	bearer, basic := schemeShown(op, x)
	var s suspicion
	add := func(r Rule, ok bool) {
		if ok {
			s.rules = append(s.rules, r)
		}
	}
	switch st := StageOf(x); {
	case st == StageRegistry && status(x) == http.StatusUnauthorized && tokChallengeError(x) == "invalid_token":
		if tokClaims(x) != nil {
			return suspicion{} // the token is there: the token rules have read it
		}
		add(RuleTokenRejectedAudIssKey, true)
		add(RuleTokenExpired, true)
		add(RuleClockSkew, true)
		s.lack = "the token the request carried (its exp, nbf, aud and iss): the registry refused the token itself (error=\"invalid_token\")"
	case st == StageRegistry && status(x) == http.StatusUnauthorized && x.Repo != "":
		if tokClaims(x) != nil {
			return suspicion{}
		}
		add(RuleInsufficientScope, basic != yes)
		add(RuleAccessEmptyAuthed, basic != yes && bearer != no && creds != no)
		add(RuleCredentialsRejectedAtToken, bearer != yes && creds != no)
		// containerd 1.6 words a Basic challenge it had no credentials for
		// as the bare 401; dockerd says "no basic auth credentials".
		add(RuleBasicChallengeNoCredentials, bearer != yes && creds != yes && x.Client.Family != "docker")
		add(RulePerRepoChallengeIgnored, bearer != yes && basic != yes && creds != yes && !pingRefused(op))
		// A token issued for credentials and then refused without a
		// challenge the log shows: the registry may have refused the token
		// itself (error="invalid_token"), which logs word the same way.
		unseen := len(x.Challenges) == 0 && tokChallengeError(x) == ""
		add(RuleTokenExpired, unseen && bearer == yes && creds == yes)
		add(RuleTokenRejectedAudIssKey, unseen && bearer == yes && creds == yes)
		s.lack = "the challenges, whether the request carried credentials or a token, and what the token granted"
	case st == StageRegistry && status(x) == http.StatusForbidden:
		add(RuleDeniedAuthenticated, creds != no)
		add(RuleInsufficientScope, creds != yes && bearer != no)
		s.lack = "which identity the request carried: a 403 to an account the registry knows means it lacks the permission, a 403 to an anonymous request that the registry wants a login first"
	case st == StageRegistry && status(x) == http.StatusNotFound:
		add(RuleNotFoundIsReal, true)
		add(RuleInsufficientScope, bearer == yes && tokClaims(x) == nil)
		s.lack = "what the token granted: a registry that hides repositories from tokens without their scope (GHCR and others) also answers 404"
		if bearer == no {
			s.lack = "whether the registry let the request read the repository: one that hides repositories from requests it will not serve also answers 404"
		}
	case st == StageToken && (status(x) == http.StatusUnauthorized || status(x) == http.StatusForbidden):
		add(RuleCredentialsRejectedAtToken, creds != no)
		add(RuleInsufficientScope, creds != yes)
		s.lack = "which credentials reached the token server, and its answer body: a token server refuses wrong credentials, and an anonymous request for a private (or missing) repository, the same way"
	}
	return s
}

// mirrorMasked: op, read from a log, stopped at a mirror (a request naming
// the registry it stands for, containerd's ns=), and the log shows nothing
// the registry itself answered for the repository. Its error is then the
// mirror's answer, which need not be why the pull failed.
func (in *Input) mirrorMasked(op *Operation) bool {
	if in.Source == nil || op == nil || !op.Failed() {
		return false
	}
	x := op.Outcome().Stop
	if x == nil || x.Upstream == "" {
		return false
	}
	ix := in.index()
	ix.reposOnce.Do(func() {
		ix.repos = map[[2]string]bool{}
		for _, y := range in.Exchanges {
			if y.Repo != "" {
				ix.repos[[2]string{y.Registry, y.Repo}] = true
			}
		}
	})
	return !ix.repos[[2]string{x.Upstream, x.Repo}]
}

// credsShown says whether the log shows the request that failed (or the
// token request before it) carried credentials.
func credsShown(in *Input, op *Operation, x *decode.Exchange) tri {
	tx := x
	if x.Kind != decode.KindTokenRequest {
		tx = tokenBefore(op, x)
	}
	switch {
	case tx != nil && tokCredsSent(tx):
		return yes
	case strings.EqualFold(x.Auth.Scheme, "basic") && !x.Auth.Empty:
		return yes
	case credentialsConfigured(in, op):
		return yes
	case !in.authHidden():
		return no
	}
	return unknown
}

// schemeShown says whether the log shows Bearer (a token request or a
// Bearer challenge or header) or Basic (a Basic challenge or header) in
// the operation up to x.
func schemeShown(op *Operation, x *decode.Exchange) (bearer, basic tri) {
	bearer, basic = unknown, unknown
	for _, y := range op.Exchanges {
		if y.Kind == decode.KindTokenRequest || bearerChallenge(y) != nil || strings.EqualFold(y.Auth.Scheme, "bearer") {
			bearer = yes
		}
		if strings.EqualFold(y.Auth.Scheme, "basic") && y.Kind != decode.KindTokenRequest || basicChallengeShown(y) {
			basic = yes
		}
		if y == x {
			break
		}
	}
	if bearer == yes && basic == unknown {
		basic = no
	}
	if basic == yes && bearer == unknown {
		bearer = no
	}
	return bearer, basic
}

func basicChallengeShown(y *decode.Exchange) bool {
	for _, c := range y.Challenges {
		if strings.EqualFold(c.Scheme, "basic") {
			return true
		}
	}
	return false
}

// pingRefused: the log shows the operation's /v2/ answered 401, so the
// client was challenged from the start.
func pingRefused(op *Operation) bool {
	for _, y := range op.Exchanges {
		if y.Kind == decode.KindPing && status(y) == http.StatusUnauthorized {
			return true
		}
	}
	return false
}

// credentialsConfigured: the log shows the client had credentials for
// the operation's registry.
func credentialsConfigured(in *Input, op *Operation) bool {
	return in.index().credForName[credHostname(op.Registry)]
}

// tokenBefore returns the last token request before x in op.
func tokenBefore(op *Operation, x *decode.Exchange) *decode.Exchange {
	var out *decode.Exchange
	for _, y := range op.Exchanges {
		if y == x {
			break
		}
		if y.Kind == decode.KindTokenRequest {
			out = y
		}
	}
	return out
}

// suspectFinding returns, for a failed operation read from a log, the
// finding for the one rule its stop fits (Suspected), or false with the
// rules it fits when they are several or none.
func suspectFinding(in *Input, op *Operation) (Finding, suspicion, bool) {
	s := suspect(in, op)
	if len(s.rules) != 1 {
		return Finding{}, s, false
	}
	x := op.Outcome().Stop
	d := ruleDoc()[s.rules[0]]
	why := fmt.Sprintf("The %s failed: %s. Of the rules it could be, the evidence in the %s leaves only this one (%s), but cannot prove it.",
		goalWords(op.Outcome().Goal), describeStop(x), in.Source.Name, lowerFirst(d.Title))
	return Finding{
		Rule:        s.rules[0],
		Verdict:     d.Verdicts[0],
		Suspected:   true,
		Evidence:    ids(x),
		Why:         why,
		Fix:         d.Fix,
		CannotProve: "Suspected, not proven: not in the " + in.Source.Name + ": " + s.lack + ".",
	}, s, true
}

// candidatesText says which rules a log's failure fits, for a finding
// that cannot name one.
func candidatesText(in *Input, s suspicion) string {
	docs := ruleDoc()
	var parts []string
	for _, r := range s.rules {
		parts = append(parts, fmt.Sprintf("%s (%s)", r, lowerFirst(docs[r].Title)))
	}
	return fmt.Sprintf(" What regtrace read from the %s fits %d rules, and only the wire can tell them apart: %s. Not in the %s: %s.",
		in.Source.Name, len(s.rules), strings.Join(parts, "; "), in.Source.Name, s.lack)
}

// ruleDoc indexes the rule texts by rule, built once: callers only read
// it.
var ruleDoc = sync.OnceValue(func() map[Rule]*RuleDoc {
	ds := ruleDocs()
	m := make(map[Rule]*RuleDoc, len(ds))
	for i := range ds {
		m[ds[i].ID] = &ds[i]
	}
	return m
})

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
