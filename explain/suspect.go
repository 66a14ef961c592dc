package explain

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/regtrace/regtrace/decode"
)

// A log shows less than the wire. When a failed operation read from one is
// explained by no rule, what the log does show of where it stopped (stage,
// status, the challenge's error=, whether credentials went to the token
// server) often points at one rule whose proof needs what the log lacks
// (the Authorization, the token's grants, the challenge). That rule is
// named, marked Suspected, with what would prove it: never a rule the
// visible evidence contradicts, and never on a wire trace, where a rule
// that did not fire did not fit.

// suspect is one rule's visible signature at the stop of a failed
// operation. match returns what the log would have to show to prove the
// rule, "" when the stop does not fit.
type suspect struct {
	rule  Rule
	match func(in *Input, op *Operation, x *decode.Exchange) string
}

func suspects() []suspect {
	return []suspect{
		{RuleTokenRejectedAudIssKey, func(in *Input, op *Operation, x *decode.Exchange) string {
			if StageOf(x) != StageRegistry || status(x) != http.StatusUnauthorized || tokChallengeError(x) != "invalid_token" || tokClaims(x) != nil {
				return ""
			}
			return fmt.Sprintf("the token the request carried (its exp, nbf, aud and iss): the registry refused the token itself (error=\"invalid_token\"), "+
				"which an expired token (%s) or a token server whose clock runs ahead (%s) also causes", RuleTokenExpired, RuleClockSkew)
		}},
		{RuleAccessEmptyAuthed, func(in *Input, op *Operation, x *decode.Exchange) string {
			if !refusedAtRegistry(x) || tokClaims(x) != nil {
				return ""
			}
			if tx := tokenBefore(op, x); tx == nil || !tokCredsSent(tx) {
				return ""
			}
			return "what the token granted (its access claim): the client authenticated at the token server, and the registry still refused; " +
				"an empty grant means this account may not read the repository or it does not exist"
		}},
		{RuleInsufficientScope, func(in *Input, op *Operation, x *decode.Exchange) string {
			if refusedAtRegistry(x) && tokClaims(x) == nil {
				return fmt.Sprintf("whether the request carried a token and what it granted, and the registry's challenge: a token without the repository's scope "+
					"(a private or missing repository, or no credentials used) is the usual cause; a token the registry rejects itself is %s", RuleTokenRejectedAudIssKey)
			}
			if StageOf(x) == StageToken && tokRefused(x) && tokVisiblyAnonymous(in, x) {
				return "the token server's answer body and whether the registry hides missing repositories: an anonymous token request refused is what a private (or missing) repository gets"
			}
			return ""
		}},
		{RuleCredentialsRejectedAtToken, func(in *Input, op *Operation, x *decode.Exchange) string {
			if StageOf(x) != StageToken || !tokRefused(x) || tokVisiblyAnonymous(in, x) {
				return ""
			}
			if !tokCredsSent(x) && !credentialsConfigured(in, op) {
				return ""
			}
			return "which credentials reached the token server and its answer body: a refused user name or password (or an expired one) is the usual cause; " +
				"a token server that refuses a valid account access to a private or missing repository answers the same"
		}},
		{RuleDeniedAuthenticated, func(in *Input, op *Operation, x *decode.Exchange) string {
			if StageOf(x) != StageRegistry || status(x) != http.StatusForbidden || x.Auth.Scheme != "" && !in.authHidden() {
				return ""
			}
			return fmt.Sprintf("which identity the request carried: a 403 to an account the registry knows means it lacks the permission; "+
				"a 403 to an anonymous request means the registry wants a login first (%s)", RuleInsufficientScope)
		}},
		{RuleNotFoundIsReal, func(in *Input, op *Operation, x *decode.Exchange) string {
			if StageOf(x) != StageRegistry || status(x) != http.StatusNotFound {
				return ""
			}
			return "what the token granted: a registry that hides repositories from tokens without their scope (GHCR and others) also answers 404"
		}},
	}
}

// refusedAtRegistry: a repository request refused with 401 (not for the
// token itself) or 403 to a bearer request.
func refusedAtRegistry(x *decode.Exchange) bool {
	if StageOf(x) != StageRegistry || x.Repo == "" {
		return false
	}
	switch status(x) {
	case http.StatusUnauthorized:
		return tokChallengeError(x) != "invalid_token"
	case http.StatusForbidden:
		return tokBearer(x)
	}
	return false
}

func tokRefused(x *decode.Exchange) bool {
	s := status(x)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// tokVisiblyAnonymous: the log says the token request carried nothing
// (containerd's "failed to fetch anonymous token"), not merely that it
// does not show it.
func tokVisiblyAnonymous(in *Input, x *decode.Exchange) bool {
	return !in.authHidden() && !tokCredsSent(x) && x.Auth.Scheme == ""
}

// credentialsConfigured: the log shows the client had credentials for
// the operation's registry.
func credentialsConfigured(in *Input, op *Operation) bool {
	if in.Source == nil {
		return false
	}
	for _, r := range in.Source.CredentialsFor {
		if credHostname(r) == credHostname(op.Registry) {
			return true
		}
	}
	return false
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

// suspectFinding returns the finding for the first rule whose visible
// signature fits where op stopped, when the input is a log.
func suspectFinding(in *Input, op *Operation) (Finding, bool) {
	if in.Source == nil {
		return Finding{}, false
	}
	x := op.Outcome().Stop
	if x == nil || x.Flow.Err != nil {
		return Finding{}, false
	}
	docs := ruleDoc()
	for _, s := range suspects() {
		lack := s.match(in, op, x)
		if lack == "" {
			continue
		}
		d := docs[s.rule]
		why := fmt.Sprintf("The %s failed: %s. The evidence in the %s fits this rule (%s), but cannot prove it.",
			goalWords(op.Outcome().Goal), describeStop(x), in.Source.Name, strings.TrimSuffix(lowerFirst(d.Title), "."))
		return Finding{
			Rule:        s.rule,
			Verdict:     d.Verdicts[0],
			Suspected:   true,
			Evidence:    ids(x),
			Why:         why,
			Fix:         d.Fix,
			CannotProve: "Suspected, not proven: not in the " + in.Source.Name + ": " + lack + ".",
		}, true
	}
	return Finding{}, false
}

// ruleDoc indexes the rule texts by rule.
func ruleDoc() map[Rule]*RuleDoc {
	ds := ruleDocs()
	m := make(map[Rule]*RuleDoc, len(ds))
	for i := range ds {
		m[ds[i].ID] = &ds[i]
	}
	return m
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
