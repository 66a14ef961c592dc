package explain

import "github.com/regtrace/regtrace/decode/flow/flowtest"

const (
	challengeSkopeo = "skopeo/1.13.3"
	challengeCrane  = "crane/0.19.0 go-containerregistry/0.19.0"
	challengeOras   = "oras/1.1.0+Homebrew"
	challengeZot    = `Bearer realm="https://zot.test/auth/token",service="zot",scope="repository:foo:pull"`
)

func challengeTraces() []ruleTrace {
	return []ruleTrace{
		// 7. per-repo-challenge-ignored-after-200-ping
		{
			name: "skopeo sees a 200 ping and never answers the repository's Bearer challenge",
			flows: []*flowtest.Builder{
				flowtest.Get("https://zot.test/v2/").UA(challengeSkopeo).Status(200).
					RespHeader("Docker-Distribution-Api-Version", "registry/2.0").JSON(`{}`),
				flowtest.Get("https://zot.test/v2/foo/manifests/latest").UA(challengeSkopeo).Status(401).
					Challenge(challengeZot).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":{}}]}`),
			},
			want:    []Rule{RulePerRepoChallengeIgnored},
			primary: RulePerRepoChallengeIgnored,
		},
		{
			name: "crane sends Basic after a 200 ping and never exchanges it for the Bearer token the repository asks for",
			flows: []*flowtest.Builder{
				flowtest.Get("https://zot.test/v2/").UA(challengeCrane).Status(200).JSON(`{}`),
				flowtest.Get("https://zot.test/v2/foo/manifests/latest").UA(challengeCrane).Basic("alice", "pw").Status(401).
					Challenge(challengeZot).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":{}}]}`),
			},
			want:    []Rule{RulePerRepoChallengeIgnored},
			primary: RulePerRepoChallengeIgnored,
		},
		{
			name: "oras answers a per-repository challenge after a 200 ping and pulls",
			flows: []*flowtest.Builder{
				flowtest.Get("https://zot.test/v2/").UA(challengeOras).Status(200).JSON(`{}`),
				flowtest.Get("https://zot.test/v2/foo/manifests/latest").UA(challengeOras).Status(401).Challenge(challengeZot),
				flowtest.Get("https://zot.test/auth/token?scope=repository%3Afoo%3Apull&service=zot").UA(challengeOras).Basic("alice", "pw").
					Status(200).JSON(`{"token":"opaque-zot-token"}`),
				flowtest.Get("https://zot.test/v2/foo/manifests/latest").UA(challengeOras).Bearer("opaque-zot-token").Status(200).
					RespBody("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2}`),
			},
		},
		{
			name: "a 401 ping is not a 200 ping whose per-repository challenge was ignored",
			flows: []*flowtest.Builder{
				flowtest.Get("https://zot.test/v2/").UA(challengeSkopeo).Status(401).Challenge(`Bearer realm="https://zot.test/auth/token",service="zot"`),
				flowtest.Get("https://zot.test/auth/token?scope=repository%3Afoo%3Apull&service=zot").UA(challengeSkopeo).
					Status(200).JSON(`{"token":"opaque-zot-anon"}`),
				flowtest.Get("https://zot.test/v2/foo/manifests/latest").UA(challengeSkopeo).Bearer("opaque-zot-anon").Status(200).
					RespBody("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2}`),
			},
		},

		// 8. auth-required-but-not-challenged
		{
			name: "a registry answers 401 without any WWW-Authenticate",
			flows: []*flowtest.Builder{
				flowtest.Get("https://gcr.test/v2/team/app/manifests/v1").UA(challengeOras).Status(401).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"You don't have the needed permissions to perform this operation"}]}`),
			},
			want:    []Rule{RuleAuthRequiredNotChallenge},
			primary: RuleAuthRequiredNotChallenge,
		},
		{
			name: "an anonymous request gets name unknown and the same request with a token succeeds",
			flows: []*flowtest.Builder{
				flowtest.Get("https://docker.pkg.github.test/v2/owner/repo/pkg/manifests/1.0").UA(challengeOras).Status(404).
					JSON(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`),
				flowtest.Get("https://docker.pkg.github.test/v2/owner/repo/pkg/manifests/1.0").UA(challengeOras).Bearer("opaque-pat-token").Status(200).
					RespBody("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2}`),
			},
			want: []Rule{RuleAuthRequiredNotChallenge},
		},
		{
			name: "an anonymous name unknown on a public registry with no retry is not an unchallenged auth need",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(challengeOras).Status(200),
				flowtest.Get("https://registry.test/v2/team/nosuch/manifests/1.0").UA(challengeOras).Status(404).
					JSON(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"team/nosuch"}}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},

		// 9. unsupported-or-malformed-challenge
		{
			name: "a Kerberos gateway challenges with Negotiate and NTLM only",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.corp.test/v2/").UA(challengeSkopeo).Status(401).
					Challenge("Negotiate").Challenge("NTLM").RespHeader("Server", "Microsoft-IIS/10.0").
					RespBody("text/plain", "401 - Unauthorized: Access is denied due to invalid credentials."),
				flowtest.Get("https://registry.corp.test/v2/team/app/manifests/1.0").UA(challengeSkopeo).Status(401).
					Challenge("Negotiate").Challenge("NTLM").RespHeader("Server", "Microsoft-IIS/10.0").
					RespBody("text/plain", "401 - Unauthorized: Access is denied due to invalid credentials."),
			},
			want:    []Rule{RuleMalformedChallenge},
			primary: RuleMalformedChallenge,
		},
		{
			name: "a Bearer challenge without a realm",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(challengeCrane).Status(401).Challenge(`Bearer service="registry.test"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleMalformedChallenge},
			primary: RuleMalformedChallenge,
		},
		{
			name: "a Bearer challenge whose realm is a relative path",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(challengeCrane).Status(401).Challenge(`Bearer realm="/token",service="registry.test"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleMalformedChallenge},
			primary: RuleMalformedChallenge,
		},
		{
			name: "a gateway offering Negotiate next to a usable Bearer challenge is fine when the pull succeeds",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.corp.test/v2/").UA(challengeOras).Status(401).
					Challenge("Negotiate").Challenge(`Bearer realm="https://registry.corp.test/auth",service="registry.corp.test"`),
				flowtest.Get("https://registry.corp.test/auth?scope=repository%3Ateam%2Fapp%3Apull&service=registry.corp.test").UA(challengeOras).
					Basic("alice", "pw").Status(200).JSON(`{"token":"opaque-corp-token-2"}`),
				flowtest.Get("https://registry.corp.test/v2/team/app/manifests/1.0").UA(challengeOras).Bearer("opaque-corp-token-2").Status(200).
					RespBody("application/vnd.oci.image.manifest.v1+json", `{"schemaVersion":2}`),
			},
		},
	}
}
