package explain

import (
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// suspectTraces: failures read from logs that lack what the rule needs.
// Each names the rule the visible stop points to, marked suspected; the
// same stop on the wire, or one that fits no rule, stays unexplained.
func suspectTraces() []ruleTrace {
	events := func(creds ...string) *Source {
		return &Source{Name: "Kubernetes events", HidesAuth: true, Lacks: "the requests", Capture: "crictl pull x", CredentialsFor: creds}
	}
	ctrdLog := &Source{Name: "containerd debug log", Lacks: "the token's claims", Capture: "regtrace proxy"}
	reg := "https://registry.test"
	manifest := reg + "/v2/shop/cart/manifests/1.8.0"
	realm := "https://auth.test/token?scope=repository%3Ashop%2Fcart%3Apull&service=registry.test"
	return []ruleTrace{
		{
			name:   "containerd's HEAD 401 from an event points to a token without the repository's scope",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleInsufficientScope}, primary: RuleInsufficientScope, suspected: true,
		},
		{
			name: "the same HEAD 401 on the wire proves the challenge missing, not suspected",
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401),
			},
			want:    []Rule{RuleAuthRequiredNotChallenge, RuleHeadErrorWithoutBody},
			primary: RuleAuthRequiredNotChallenge,
		},
		{
			name:   "a log's 401 invalid_token with the token not shown points to the token itself",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Get(manifest).UA(outCtrdUA).Status(401).Inferred().
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test",error="invalid_token"`),
			},
			want: []Rule{RuleTokenRejectedAudIssKey}, primary: RuleTokenRejectedAudIssKey, suspected: true,
		},
		{
			name:   "a log that shows credentials at the token server, then a 401 from the registry, points to an empty grant",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.Get(realm).UA(outCtrdUA).Basic("alice", "pw").Status(200).Inferred(),
				flowtest.Get(manifest).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleAccessEmptyAuthed}, primary: RuleAccessEmptyAuthed, suspected: true,
		},
		{
			name:   "an event's token 403 with a pull secret for the registry points to refused credentials",
			source: events("registry.test"),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.Get(realm).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleCredentialsRejectedAtToken}, primary: RuleCredentialsRejectedAtToken, suspected: true,
		},
		{
			name:   "an event's token 401 with no sign of credentials either way stays unexplained",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.Get(realm).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
		},
		{
			name:   "a log that shows an anonymous token request refused proves the ambiguous denial, not suspected",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.Get(realm).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleInsufficientScope}, primary: RuleInsufficientScope,
		},
		{
			name:   "an event's registry 403 points to an account without the permission",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleDeniedAuthenticated}, primary: RuleDeniedAuthenticated, suspected: true,
		},
		{
			name:   "a log's 500 from the registry fits no rule and stays unexplained",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Get(manifest).UA(outCtrdUA).Status(500).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
		},
	}
}
