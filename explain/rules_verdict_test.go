package explain

import (
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

func verdictTraces() []ruleTrace {
	ghcrRealm := `Bearer realm="https://ghcr.test/token",service="ghcr.test"`
	readTok := tokJWT(tokClaimSet{iss: "ghcr.test", aud: "ghcr.test", sub: "alice",
		access: []map[string]any{tokAccess("kedacore/op", "pull")}})
	emptyTok := tokJWT(tokClaimSet{iss: "ghcr.test", aud: "ghcr.test", sub: "alice"})
	libTok := tokJWT(tokClaimSet{iss: "auth.docker.io", aud: "registry.docker.io", sub: "alice",
		access: []map[string]any{tokAccess("library/nginx", "pull")}})
	hub := "https://registry-1.docker.io"
	hubAuth := "https://auth.docker.io/token"
	reg := "https://registry.test"

	return []ruleTrace{
		{
			name: "a logged-in user without read_package is refused with 403 DENIED",
			flows: []*flowtest.Builder{
				tokPing("https://ghcr.test", ghcrRealm),
				tokTokenReq("https://ghcr.test/token", "ghcr.test", "alice", "repository:kedacore/op:pull").Status(200).JSON(tokBody(readTok)),
				flowtest.Get("https://ghcr.test/v2/kedacore/op/manifests/0.1").UA(tokUA).Bearer(readTok).Status(403).
					JSON(`{"errors":[{"code":"DENIED","message":"permission_denied: read_package"}]}`),
			},
			want:    []Rule{RuleDeniedAuthenticated},
			primary: RuleDeniedAuthenticated,
		},
		{
			name: "a registry answers 403 to a logged-in token that grants nothing",
			flows: []*flowtest.Builder{
				tokPing("https://ghcr.test", ghcrRealm),
				tokTokenReq("https://ghcr.test/token", "ghcr.test", "alice", "repository:kedacore/op:pull").Status(200).JSON(tokBody(emptyTok)),
				flowtest.Get("https://ghcr.test/v2/kedacore/op/manifests/0.1").UA(tokUA).Bearer(emptyTok).Status(403).
					JSON(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`),
			},
			want:    []Rule{RuleAccessEmptyAuthed, RuleInsufficientScope, RuleDeniedAuthenticated},
			primary: RuleAccessEmptyAuthed,
		},
		{
			name: "a tag that does not exist on Docker Hub after a token that covers the repository",
			flows: []*flowtest.Builder{
				tokPing(hub, tokHubRealm),
				tokTokenReq(hubAuth, "registry.docker.io", "alice", "repository:library/nginx:pull").Status(200).JSON(tokBody(libTok)),
				flowtest.Get(hub + "/v2/library/nginx/manifests/no-such-tag").UA(tokUA).Bearer(libTok).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"no-such-tag"}}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
		{
			name: "a registry without authentication says the repository is unknown",
			flows: []*flowtest.Builder{
				flowtest.Get(reg + "/v2/").UA(tokUA).Status(200),
				flowtest.Get(reg + "/v2/team/gone/manifests/1.0").UA(tokUA).Status(404).
					JSON(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
		{
			name: "a 404 to a token that lacks the scope is not called not found",
			flows: []*flowtest.Builder{
				tokPing("https://ghcr.test", ghcrRealm),
				tokTokenReq("https://ghcr.test/token", "ghcr.test", "alice", "repository:kedacore/op:pull").Status(200).JSON(tokBody(emptyTok)),
				flowtest.Get("https://ghcr.test/v2/kedacore/op/manifests/0.1").UA(tokUA).Bearer(emptyTok).Status(404).
					JSON(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "an insufficient-scope answer that also says manifest unknown is never called not found",
			flows: []*flowtest.Builder{
				tokPing("https://ghcr.test", ghcrRealm),
				tokTokenReq("https://ghcr.test/token", "ghcr.test", "alice", "repository:kedacore/op:pull").Status(200).JSON(tokBody(emptyTok)),
				flowtest.Get("https://ghcr.test/v2/kedacore/op/manifests/0.1").UA(tokUA).Bearer(emptyTok).Status(401).
					Challenge(`Bearer realm="https://ghcr.test/token",service="ghcr.test",scope="repository:kedacore/op:pull",error="insufficient_scope"`).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`),
			},
			want:    []Rule{RuleAccessEmptyAuthed, RuleInsufficientScope},
			primary: RuleAccessEmptyAuthed,
		},
		{
			name: "Docker Hub rate-limits a logged-in pull and says when to retry",
			flows: []*flowtest.Builder{
				tokPing(hub, tokHubRealm),
				tokTokenReq(hubAuth, "registry.docker.io", "alice", "repository:library/nginx:pull").Status(200).JSON(tokBody(libTok)),
				flowtest.Head(hub+"/v2/library/nginx/manifests/latest").UA(tokUA).Bearer(libTok).Status(200).
					RespHeader("RateLimit-Limit", "100;w=21600").RespHeader("RateLimit-Remaining", "0;w=21600").
					RespHeader("Docker-RateLimit-Source", "203.0.113.7"),
				flowtest.Get(hub+"/v2/library/nginx/manifests/latest").UA(tokUA).Bearer(libTok).Status(429).
					RespHeader("Retry-After", "3600").
					JSON(`{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}`),
			},
			want:    []Rule{RuleRateLimited},
			primary: RuleRateLimited,
		},
		{
			name: "an open registry throttles with a bare 429",
			flows: []*flowtest.Builder{
				flowtest.Get(reg + "/v2/").UA(tokUA).Status(200),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(tokUA).Status(429).RespHeader("Retry-After", "30").
					RespBody("text/plain", "Too Many Requests"),
			},
			want:    []Rule{RuleRateLimited},
			primary: RuleRateLimited,
		},
		{
			name: "a 429 retried after Retry-After succeeds and explains nothing",
			flows: []*flowtest.Builder{
				flowtest.Get(reg + "/v2/").UA(tokUA).Status(200),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(tokUA).Status(429).RespHeader("Retry-After", "1").
					RespBody("text/plain", "Too Many Requests"),
				flowtest.Get(reg + "/v2/team/app/manifests/1.0").UA(tokUA).Status(200).JSON(`{}`),
			},
		},
	}
}
