package explain

import (
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// suspectTraces: failures read from logs that lack what the rules need.
// One rule left by what the log shows is named, suspected; several are
// listed as candidates of an unexplained failure; the same stop on the
// wire is judged by the rules alone.
func suspectTraces() []ruleTrace {
	events := func(creds ...string) *Source {
		return &Source{Name: "Kubernetes events", HidesAuth: true, Lacks: "the requests", Capture: "crictl pull x", CredentialsFor: creds}
	}
	ctrdLog := &Source{Name: "containerd debug log", Lacks: "the token's claims", Capture: "regtrace proxy"}
	dockerdLog := &Source{Name: "dockerd debug log", HidesAuth: true, Lacks: "every HTTP status", Capture: "regtrace proxy"}
	reg := "https://registry.test"
	manifest := reg + "/v2/shop/cart/manifests/1.8.0"
	realm := "https://auth.test/token?scope=repository%3Ashop%2Fcart%3Apull&service=registry.test"
	bearer := `Bearer realm="https://auth.test/token",service="registry.test"`
	basicPing := flowtest.Get(reg + "/v2/").UA(credCraneUA).Status(401).Challenge(`Basic realm="Registry"`)
	// A mirror's request names the registry it stands for (containerd's ns=).
	mirrored := "https://mirror.test/v2/shop/cart/manifests/1.8.0?ns=registry.test"
	return []ruleTrace{
		{
			name:   "an event's 401 from a mirror may hide the registry's own answer",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(mirrored).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			candidates: []Rule{RuleEndpointFallbackMasks, RuleInsufficientScope, RuleAccessEmptyAuthed, RuleCredentialsRejectedAtToken,
				RuleBasicChallengeNoCredentials, RulePerRepoChallengeIgnored},
		},
		{
			name:   "a log's mirror that could not be reached is not why the pull failed when the registry's answer is not shown",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(mirrored).UA(outCtrdUA).Err(flow.ErrRefused, "connection refused"),
			},
			want:       []Rule{RuleRegistryUnreachable, RuleUnexplainedFailure},
			primary:    RuleUnexplainedFailure,
			candidates: []Rule{RuleEndpointFallbackMasks, RuleRegistryUnreachable},
		},
		{
			name:   "a log that shows the registry's 404 after its mirror failed proves the masking",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(mirrored).UA(outCtrdUA).Err(flow.ErrRefused, "connection refused"),
				flowtest.Head(manifest).UA(outCtrdUA).Status(404),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleRegistryUnreachable},
			primary: RuleEndpointFallbackMasks,
		},
		{
			name:   "a log's 404 with its code, after Basic credentials whose user it hides, is proven",
			source: &Source{Name: "crane debug log", Lacks: "credentials"},
			flows: []*flowtest.Builder{
				basicPing,
				flowtest.Get(manifest).UA(credCraneUA).Header("Authorization", "Basic REDACTED(user=)").Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`),
			},
			want: []Rule{RuleNotFoundIsReal}, primary: RuleNotFoundIsReal,
		},
		{
			name:   "a log's 404 without a code, after a Basic challenge, is suspected not found",
			source: &Source{Name: "crane debug log", Lacks: "credentials"},
			flows: []*flowtest.Builder{
				basicPing,
				flowtest.Get(manifest).UA(credCraneUA).Header("Authorization", "Basic REDACTED(user=)").Status(404).
					RespBody("text/plain", "404 page not found"),
			},
			want: []Rule{RuleNotFoundIsReal}, primary: RuleNotFoundIsReal, suspected: true,
		},
		{
			name:   "containerd's HEAD 401 from an event fits every rule of a refused request",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			candidates: []Rule{RuleInsufficientScope, RuleAccessEmptyAuthed, RuleCredentialsRejectedAtToken, RuleBasicChallengeNoCredentials, RulePerRepoChallengeIgnored},
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
			name:   "dockerd's 401 after a Basic challenge, credentials not shown, leaves only refused credentials",
			source: dockerdLog,
			flows: []*flowtest.Builder{
				flowtest.Get(reg + "/v2/").UA("docker/20.10").Status(401).Inferred().Challenge(`Basic realm="Registry"`),
				flowtest.Get(manifest).UA("docker/20.10").Status(401).Inferred(),
			},
			want: []Rule{RuleCredentialsRejectedAtToken}, primary: RuleCredentialsRejectedAtToken, suspected: true,
		},
		{
			name:   "a log's 401 invalid_token with the token not shown fits the three token rules",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Get(manifest).UA(outCtrdUA).Status(401).Inferred().Challenge(bearer + `,error="invalid_token"`),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			candidates: []Rule{RuleTokenRejectedAudIssKey, RuleTokenExpired, RuleClockSkew},
		},
		{
			name:   "a log that shows credentials at the token server, then a 401, fits an empty grant or a missing scope",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().Challenge(bearer),
				flowtest.Get(realm).UA(outCtrdUA).Basic("alice", "pw").Status(200).Inferred(),
				flowtest.Get(manifest).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			// or a token the registry refused itself: the log shows no
			// challenge on the second 401 (skopeo's "unauthorized:
			// authentication required" for an expired token).
			candidates: []Rule{RuleInsufficientScope, RuleAccessEmptyAuthed, RuleTokenExpired, RuleTokenRejectedAudIssKey},
		},
		{
			name:   "a log that shows the second 401's insufficient_scope challenge leaves the token's validity out",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().Challenge(bearer),
				flowtest.Get(realm).UA(outCtrdUA).Basic("alice", "pw").Status(200).Inferred(),
				flowtest.Get(manifest).UA(outCtrdUA).Status(401).Inferred().
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:shop/cart:pull",error="insufficient_scope"`),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			candidates: []Rule{RuleInsufficientScope, RuleAccessEmptyAuthed},
		},
		{
			name:   "an event's token 403 with a pull secret for the registry leaves only refused credentials",
			source: events("registry.test"),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().Challenge(bearer),
				flowtest.Get(realm).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleCredentialsRejectedAtToken}, primary: RuleCredentialsRejectedAtToken, suspected: true,
		},
		{
			name:   "an event's token 401 with no sign of credentials either way fits refused credentials or a private repository",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().Challenge(bearer),
				flowtest.Get(realm).UA(outCtrdUA).Status(401).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			candidates: []Rule{RuleCredentialsRejectedAtToken, RuleInsufficientScope},
		},
		{
			name:   "a log that shows an anonymous token request refused proves the ambiguous denial, not suspected",
			source: ctrdLog,
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(401).Inferred().Challenge(bearer),
				flowtest.Get(realm).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleInsufficientScope}, primary: RuleInsufficientScope,
		},
		{
			name:   "an event's registry 403 with a pull secret for the registry leaves only a denied account",
			source: events("registry.test"),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleDeniedAuthenticated}, primary: RuleDeniedAuthenticated, suspected: true,
		},
		{
			name:   "an event's registry 403 with no sign of an identity fits a denied account or a login wanted",
			source: events(),
			flows: []*flowtest.Builder{
				flowtest.Head(manifest).UA(outCtrdUA).Status(403).Inferred(),
			},
			want: []Rule{RuleUnexplainedFailure}, primary: RuleUnexplainedFailure,
			candidates: []Rule{RuleDeniedAuthenticated, RuleInsufficientScope},
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

// A log's 404 is told apart by what it shows: behind Basic credentials the
// question is whether the registry hides repositories, behind a token what
// the token granted; and the user a log hides is never called unreadable.
func TestNotFoundFromALogSaysWhatItLacks(t *testing.T) {
	byName := map[string]ruleTrace{}
	for _, tr := range suspectTraces() {
		byName[tr.name] = tr
	}
	proven := Explain(byName["a log's 404 with its code, after Basic credentials whose user it hides, is proven"].input()).Primary()
	if proven == nil || !strings.Contains(proven.Why, "Basic credentials (the crane debug log does not show whose), which the registry accepted") {
		t.Errorf("proven not found: %+v", proven)
	}
	suspected := Explain(byName["a log's 404 without a code, after a Basic challenge, is suspected not found"].input()).Primary()
	if suspected == nil || !suspected.Suspected || strings.Contains(suspected.Why+suspected.CannotProve, "token") ||
		!strings.Contains(suspected.CannotProve, "hides repositories") {
		t.Errorf("a 404 behind Basic credentials speaks of tokens: %+v", suspected)
	}
	bearer := Explain(ruleTrace{
		source: &Source{Name: "crane debug log", Lacks: "credentials"},
		flows: []*flowtest.Builder{
			tokPing("https://registry.test", tokRealm),
			flowtest.Get(base()+"/manifests/1").UA(tokUA).Bearer("opaque").Status(404).
				RespBody("text/plain", "404 page not found"),
		},
	}.input()).Primary()
	if bearer == nil || !strings.Contains(bearer.Why+bearer.CannotProve, "what the token granted") {
		t.Errorf("a 404 behind a token does not ask what it granted: %+v", bearer)
	}
}
