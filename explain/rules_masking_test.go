package explain

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// maskingJWT builds an unsigned-looking registry JWT whose access claim is
// accessJSON (e.g. `[{"type":"repository","name":"library/postgres","actions":["pull"]}]`).
func maskingJWT(iss, aud, accessJSON string) string {
	enc := base64.RawURLEncoding.EncodeToString
	h := enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"ABCD:EFGH"}`))
	c := enc([]byte(fmt.Sprintf(`{"iss":%q,"sub":"","aud":%q,"exp":1893456000,"nbf":1767322945,"iat":1767322945,"jti":"j1","access":%s}`, iss, aud, accessJSON)))
	return h + "." + c + "." + enc([]byte("not-a-real-signature"))
}

// Docker Hub as the traces use it.
const (
	maskingHubRealm  = `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`
	maskingDocker17  = "docker/17.03.2-ce go/go1.7.5 git-commit/f5ec1e2 kernel/4.9.0-8-amd64 os/linux arch/amd64 UpstreamClient(Docker-Client/17.03.2-ce \\(linux\\))"
	maskingContainer = "containerd/1.7.13+unknown"
	maskingBuildkit  = "buildkit/v0.12.5"
)

// containerd, docker and a token-auth registry for the mirror traces.
const (
	maskingCtrd2UA  = "containerd/v2.0.4"
	maskingCtr16    = "containerd/1.6.20~ds1" // ctr from Debian's containerd package
	maskingDocker24 = "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0-13-amd64 os/linux arch/amd64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))"
	maskingRegRealm = `Bearer realm="https://auth.test/token",service="registry.test"`
)

// The mirror traces' names, for TestEndpointFallbackFollowsTheClient.
const (
	maskingCtrd17MirrorNoCreds   = "containerd 1.7 reports a mirror's missing Basic credentials ahead of Docker Hub's not found"
	maskingCtrd2MirrorNoCreds    = "containerd 2 reports Docker Hub's not found and hides a mirror's missing Basic credentials"
	maskingBuildkitMirrorNoCreds = "buildkit's containerd ranks Docker Hub's not found above a mirror's missing Basic credentials"
	maskingCtr16Mirror401        = "ctr 1.6 reports a mirror's 401 to its credentials and hides the upstream's 404"
	maskingCtr16Mirror404        = "ctr 1.6 skips a mirror's 404 and reports the upstream's insufficient scope"
	maskingDockerMirrorNoCreds   = "docker reports Docker Hub's manifest unknown, the last endpoint's, after a mirror refuses"
	maskingCtrd2ThreeHosts       = "containerd 2 reports the first mirror's 404 over the second mirror's insufficient scope and the upstream's 404"
	maskingCtrd2Mirror403        = "containerd 2 reports a mirror's 403 and hides the upstream's 404"
	maskingCtr16MirrorDown404    = "ctr 1.6 reports a mirror that is down and hides the upstream's 404"
)

// maskingMirrorNoCredsHub404: a mirror answers 401 with a Basic challenge
// the client has no credentials for, then Docker Hub, with a token that
// grants pull, has no such tag.
func maskingMirrorNoCredsHub404(ua string) []*flowtest.Builder {
	pgTok := maskingHubToken("library/postgres", `"pull"`)
	return []*flowtest.Builder{
		flowtest.Head("https://mirror.corp.test/v2/library/postgres/manifests/14.2-corp?ns=docker.io").UA(ua).Status(401).
			Challenge(`Basic realm="Registry Realm"`),
		flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2-corp").UA(ua).Status(401).
			Challenge(maskingHubRealm + `,scope="repository:library/postgres:pull"`),
		flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fpostgres%3Apull&service=registry.docker.io").UA(ua).
			Status(200).JSON(maskingHubTokenBody(pgTok)),
		flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2-corp").UA(ua).Bearer(pgTok).Status(404),
	}
}

func maskingHubToken(repo string, actions string) string {
	access := "[]"
	if actions != "" {
		access = fmt.Sprintf(`[{"type":"repository","name":%q,"actions":[%s]}]`, repo, actions)
	}
	return maskingJWT("auth.docker.io", "registry.docker.io", access)
}

func maskingHubTokenBody(tok string) string {
	return fmt.Sprintf(`{"token":%q,"access_token":%q,"expires_in":300,"issued_at":"2026-01-02T03:04:05Z"}`, tok, tok)
}

func maskingTraces() []ruleTrace {
	privTok := "opaque-hub-token-anonymous"
	pgTok := maskingHubToken("library/postgres", `"pull"`)
	localTok := maskingHubToken("library/coscupweb-base", "")
	myappTok := maskingHubToken("library/myapp", `"pull"`)
	appTok := maskingJWT("auth.test", "registry.test", `[{"type":"repository","name":"team/app","actions":["pull"]}]`)
	emptyRegTok := maskingJWT("auth.test", "registry.test", `[]`)
	anonTok := maskingJWT("auth.test", "registry.test", `[]`)
	ghcrTok := "djE6YWNtZS90b29sOjE3NjczMjI5NDU="
	s3URL := "https://corp-registry.s3.amazonaws.com/docker/registry/v2/blobs/sha256/4f/4f1a0000/data?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=1200&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeef"
	ghcrBlobURL := "https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:9b2c0000?se=2026-01-02T03%3A10%3A00Z&sig=abc&sp=r&spr=https&sr=b&sv=2019-12-12"
	return []ruleTrace{
		// 1. v1-fallback-masked-unauthorized
		{
			name: "an old docker falls back to V1 after a V2 401 and reports image not found",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry-1.docker.io/v2/").UA(maskingDocker17).Status(401).
					Header("Accept", "*/*").Challenge(maskingHubRealm).
					RespHeader("Docker-Distribution-Api-Version", "registry/2.0").
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Aalice%2Fprivate-app%3Apull&service=registry.docker.io").UA(maskingDocker17).
					Status(200).JSON(`{"token":"` + privTok + `"}`),
				flowtest.Get("https://registry-1.docker.io/v2/alice/private-app/manifests/latest").UA(maskingDocker17).Bearer(privTok).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:alice/private-app:pull",error="insufficient_scope"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"alice/private-app","Action":"pull"}]}]}`),
				flowtest.Get("https://index.docker.io/v1/repositories/alice/private-app/images").UA(maskingDocker17).
					Header("X-Docker-Token", "true").Status(404).RespBody("text/plain", "Resource not found"),
			},
			want:    []Rule{RuleV1FallbackMasked, RuleInsufficientScope},
			primary: RuleV1FallbackMasked,
		},
		{
			name: "a registry without V2 served over V1 alone is not a masked V2 error",
			flows: []*flowtest.Builder{
				flowtest.Get("https://legacy.registry.test/v2/").UA(maskingDocker17).Status(404).RespBody("text/plain", "404 page not found"),
				flowtest.Get("https://legacy.registry.test/v1/_ping").UA(maskingDocker17).Status(200).JSON(`true`),
				flowtest.Get("https://legacy.registry.test/v1/repositories/team/app/images").UA(maskingDocker17).
					Header("X-Docker-Token", "true").Status(404).RespBody("text/plain", "Resource not found"),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},
		{
			name: "a genuine V2 manifest unknown before the V1 fallback is not masked",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(maskingDocker17).Status(200),
				flowtest.Get("https://registry.test/v2/team/app/manifests/2.0").UA(maskingDocker17).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"2.0"}}]}`),
				flowtest.Get("https://registry.test/v1/repositories/team/app/images").UA(maskingDocker17).
					Header("X-Docker-Token", "true").Status(404).RespBody("text/plain", "Resource not found"),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},

		// 3. head-error-without-body
		{
			name: "containerd resolves with HEAD and gets a bodiless 401 insufficient_scope from ghcr",
			flows: []*flowtest.Builder{
				flowtest.Head("https://ghcr.io/v2/acme/tool/manifests/v1").UA(maskingContainer).Status(401).
					Challenge(`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/tool:pull"`),
				flowtest.Get("https://ghcr.io/token?scope=repository%3Aacme%2Ftool%3Apull&service=ghcr.io").UA(maskingContainer).
					Status(200).JSON(`{"token":"` + ghcrTok + `"}`),
				flowtest.Head("https://ghcr.io/v2/acme/tool/manifests/v1").UA(maskingContainer).Bearer(ghcrTok).Status(401).
					Challenge(`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/tool:pull",error="insufficient_scope"`),
			},
			want:    []Rule{RuleHeadErrorWithoutBody, RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "a HEAD 404 followed by a GET that shows MANIFEST_UNKNOWN needs no HEAD hint",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(maskingContainer).Status(200),
				flowtest.Head("https://registry.test/v2/team/app/manifests/3.0").UA(maskingContainer).Status(404),
				flowtest.Get("https://registry.test/v2/team/app/manifests/3.0").UA(maskingContainer).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"3.0"}}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
		{
			name: "a HEAD 404 with a token that grants pull is a real not found and gets no HEAD hint",
			flows: []*flowtest.Builder{
				flowtest.Head("https://registry-1.docker.io/v2/library/myapp/manifests/nosuchtag").UA(maskingContainer).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/myapp:pull"`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fmyapp%3Apull&service=registry.docker.io").UA(maskingContainer).
					Status(200).JSON(maskingHubTokenBody(myappTok)),
				flowtest.Head("https://registry-1.docker.io/v2/library/myapp/manifests/nosuchtag").UA(maskingContainer).Bearer(myappTok).Status(404),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},

		// 4. endpoint-fallback-masks-real-error: each client's own ranking
		// of its registries' answers (maskingPickFor).
		{
			name:  maskingCtrd17MirrorNoCreds,
			flows: maskingMirrorNoCredsHub404(maskingContainer),
			want:  []Rule{RuleEndpointFallbackMasks, RuleHeadErrorWithoutBody},
			// containerd 1.x reports the mirror's "no basic auth
			// credentials" (its first error that is not a 404).
			primary: RuleEndpointFallbackMasks,
		},
		{
			name:    maskingCtrd2MirrorNoCreds,
			flows:   maskingMirrorNoCredsHub404(maskingCtrd2UA),
			want:    []Rule{RuleEndpointFallbackMasks, RuleNotFoundIsReal},
			primary: RuleEndpointFallbackMasks,
		},
		{
			name:    maskingBuildkitMirrorNoCreds,
			flows:   maskingMirrorNoCredsHub404(maskingBuildkit),
			want:    []Rule{RuleEndpointFallbackMasks, RuleNotFoundIsReal},
			primary: RuleEndpointFallbackMasks,
		},
		{
			// Measured with ctr 1.6 --user (issue 14): the mirror refuses
			// the credentials (Basic, containerd retries), the upstream
			// lets them read and has no such tag; ctr prints the mirror's
			// "401 Unauthorized".
			name: maskingCtr16Mirror401,
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/9.9?ns=registry.test").UA(maskingCtr16).Status(401).
					Challenge(`Basic realm="mirror"`),
				flowtest.Head("https://mirror.test/v2/team/app/manifests/9.9?ns=registry.test").UA(maskingCtr16).Basic("alice", "s3cret").Status(401).
					Challenge(`Basic realm="mirror"`),
				flowtest.Head("https://mirror.test/v2/team/app/manifests/9.9?ns=registry.test").UA(maskingCtr16).Basic("alice", "s3cret").Status(401).
					Challenge(`Basic realm="mirror"`),
				flowtest.Head("https://registry.test/v2/team/app/manifests/9.9").UA(maskingCtr16).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtr16).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/9.9").UA(maskingCtr16).Bearer(appTok).Status(404),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleCredentialsRejectedAtToken, RuleHeadErrorWithoutBody},
			primary: RuleEndpointFallbackMasks,
		},
		{
			// The other order: containerd skips the mirror's 404 and reports
			// the upstream's auth error, which is no masking.
			name: maskingCtr16Mirror404,
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtr16).Status(404),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtr16).
					Status(200).JSON(maskingHubTokenBody(anonTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Bearer(anonTok).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull",error="insufficient_scope"`),
			},
			want:    []Rule{RuleHeadErrorWithoutBody, RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: maskingDockerMirrorNoCreds,
			flows: []*flowtest.Builder{
				flowtest.Get("https://mirror.corp.test/v2/").UA(maskingDocker24).Status(401).Challenge(`Basic realm="Registry Realm"`),
				flowtest.Head("https://mirror.corp.test/v2/library/postgres/manifests/14.2-corp").UA(maskingDocker24).Status(401).
					Challenge(`Basic realm="Registry Realm"`),
				flowtest.Get("https://registry-1.docker.io/v2/").UA(maskingDocker24).Status(401).Challenge(maskingHubRealm),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fpostgres%3Apull&service=registry.docker.io").UA(maskingDocker24).
					Status(200).JSON(maskingHubTokenBody(pgTok)),
				flowtest.Get("https://registry-1.docker.io/v2/library/postgres/manifests/14.2-corp").UA(maskingDocker24).Bearer(pgTok).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"14.2-corp"}}]}`),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleNotFoundIsReal},
			primary: RuleEndpointFallbackMasks,
		},
		{
			// Three hosts: containerd 2 reports the first 404, a mirror's,
			// above the second mirror's insufficient_scope (raised by its
			// own authorizer) — neither the last answer nor the first error.
			name: maskingCtrd2ThreeHosts,
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror-a.test/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtrd2UA).Status(404),
				flowtest.Head("https://mirror-b.test/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtrd2UA).Status(401).
					Challenge(`Bearer realm="https://mirror-b.test/token",service="mirror-b.test",scope="repository:team/app:pull"`),
				flowtest.Get("https://mirror-b.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=mirror-b.test").UA(maskingCtrd2UA).
					Status(200).JSON(`{"token":"opaque-mirror-b"}`),
				flowtest.Head("https://mirror-b.test/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtrd2UA).Bearer("opaque-mirror-b").Status(401).
					Challenge(`Bearer realm="https://mirror-b.test/token",service="mirror-b.test",scope="repository:team/app:pull",error="insufficient_scope"`),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtrd2UA).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtrd2UA).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtrd2UA).Bearer(appTok).Status(404),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleHeadErrorWithoutBody},
			primary: RuleEndpointFallbackMasks,
		},
		{
			// A mirror's 403 is a status: containerd 2 ranks it above the
			// upstream's 404 and reports it.
			name: maskingCtrd2Mirror403,
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.test/v2/team/app/manifests/2.0?ns=registry.test").UA(maskingCtrd2UA).Basic("alice", "s3cret").Status(403),
				flowtest.Head("https://registry.test/v2/team/app/manifests/2.0").UA(maskingCtrd2UA).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtrd2UA).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/2.0").UA(maskingCtrd2UA).Bearer(appTok).Status(404),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleDeniedAuthenticated, RuleHeadErrorWithoutBody},
			primary: RuleEndpointFallbackMasks,
		},
		{
			name: "a mirror refuses but Docker Hub then serves the image",
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.corp.test/v2/library/postgres/manifests/14.2?ns=docker.io").UA(maskingContainer).Status(401).
					Challenge(`Basic realm="Registry Realm"`),
				flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2").UA(maskingContainer).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/postgres:pull"`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fpostgres%3Apull&service=registry.docker.io").UA(maskingContainer).
					Status(200).JSON(maskingHubTokenBody(pgTok)),
				flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2").UA(maskingContainer).Bearer(pgTok).Status(200).
					RespHeader("Docker-Content-Digest", "sha256:1111111111111111111111111111111111111111111111111111111111111111"),
			},
			want: []Rule{RuleMirrorFellBack},
		},

		{
			// A mirror that is down: the proxy's 502 to the CONNECT is a
			// transport error to containerd, which then asks the upstream.
			name: "ctr 1.6 falls back from a mirror that is down to the upstream, which serves the image",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://mirror.test:5000").UA("Go-http-client/1.1").Err(flow.ErrRefused, "dial tcp 10.0.0.7:5000: connect: connection refused"),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Post("https://auth.test/token").UA(maskingCtr16).Form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"s3cret"},
					"scope": {"repository:team/app:pull"}, "service": {"registry.test"}, "client_id": {"containerd-client"}}).Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Bearer(appTok).Status(200).
					RespHeader("Docker-Content-Digest", "sha256:2222222222222222222222222222222222222222222222222222222222222222"),
			},
			want: []Rule{RuleMirrorFellBack},
		},
		{
			name: maskingCtr16MirrorDown404,
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://mirror.test:5000").UA("Go-http-client/1.1").Err(flow.ErrRefused, "dial tcp 10.0.0.7:5000: connect: connection refused"),
				flowtest.Head("https://registry.test/v2/team/app/manifests/9.9").UA(maskingCtr16).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtr16).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/9.9").UA(maskingCtr16).Bearer(appTok).Status(404),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleNotFoundIsReal},
			primary: RuleEndpointFallbackMasks,
		},
		{
			// containerd 2 ranks the upstream's 404 above a transport error:
			// what it reports is the truth, and the mirror is a side note.
			name: "containerd 2 reports the upstream's not found over a mirror that is down",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://mirror.test:5000").UA("Go-http-client/1.1").Err(flow.ErrRefused, "dial tcp 10.0.0.7:5000: connect: connection refused"),
				flowtest.Head("https://registry.test/v2/team/app/manifests/9.9").UA(maskingCtrd2UA).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtrd2UA).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/9.9").UA(maskingCtrd2UA).Bearer(appTok).Status(404),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
		{
			// A mirror with capabilities ["pull"] only: the server resolves
			// the tag, then containerd fetches by digest from the mirror
			// first, which is down, and from the server.
			name: "containerd 2 fetches from the server after a pull-only mirror that is down",
			flows: []*flowtest.Builder{
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtrd2UA).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtrd2UA).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtrd2UA).Bearer(appTok).Status(200).
					RespHeader("Docker-Content-Digest", "sha256:2222222222222222222222222222222222222222222222222222222222222222"),
				flowtest.New("CONNECT", "https://mirror.test:5000").UA("Go-http-client/1.1").Err(flow.ErrRefused, "dial tcp 10.0.0.7:5000: connect: connection refused"),
				flowtest.Get("https://registry.test/v2/team/app/manifests/sha256:2222222222222222222222222222222222222222222222222222222222222222").
					UA(maskingCtrd2UA).Bearer(appTok).Status(200).JSON(`{"schemaVersion":2}`),
			},
			want: []Rule{RuleMirrorFellBack},
		},
		{
			// A second later is another run, not containerd moving on.
			name: "a tunnel that failed a second before containerd's next pull is not its fallback",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://gone.test:443").UA("Go-http-client/1.1").Err(flow.ErrDNS, "dial tcp: lookup gone.test: no such host"),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Status(401).After(time.Second).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtr16).
					Basic("alice", "s3cret").Status(200).JSON(maskingHubTokenBody(appTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Bearer(appTok).Status(200).
					RespHeader("Docker-Content-Digest", "sha256:2222222222222222222222222222222222222222222222222222222222222222"),
			},
			want:    []Rule{RuleRegistryUnreachable},
			primary: RuleRegistryUnreachable,
		},
		{
			// crane has no mirrors: a failed tunnel just before its pull is
			// another client's, and stays that client's failure.
			name: "a tunnel that could not be opened is not taken for crane's fallback",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://gone.test:443").UA("Go-http-client/1.1").Err(flow.ErrDNS, "dial tcp: lookup gone.test: no such host"),
				flowtest.Get("https://registry.test/v2/").UA("go-containerregistry/v0.20.2").Status(200),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA("go-containerregistry/v0.20.2").Status(200).
					RespHeader("Docker-Content-Digest", "sha256:2222222222222222222222222222222222222222222222222222222222222222"),
			},
			want:    []Rule{RuleRegistryUnreachable},
			primary: RuleRegistryUnreachable,
		},

		{
			// A direct anonymous pull refused, then the same through a
			// pull-through cache with its own upstream account: served.
			name: "a pull-through cache serves anonymously what the upstream refuses anonymously",
			flows: []*flowtest.Builder{
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtr16).
					Status(200).JSON(maskingHubTokenBody(emptyRegTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Bearer(emptyRegTok).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull",error="insufficient_scope"`),
				flowtest.Head("https://cache.test:5000/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtr16).Status(200).
					RespHeader("Docker-Content-Digest", "sha256:3333333333333333333333333333333333333333333333333333333333333333"),
			},
			want: []Rule{RuleInsufficientScope, RuleLaterRunSucceeded, RuleMirrorServesRefused},
		},
		{
			// A public image: Docker Hub's 401 only starts the anonymous
			// token handshake, and a mirror serving it too leaks nothing.
			name: "a mirror serving a public image anonymously is not taken for a leaking cache",
			flows: []*flowtest.Builder{
				flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2").UA(maskingCtr16).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/postgres:pull"`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fpostgres%3Apull&service=registry.docker.io").UA(maskingCtr16).
					Status(200).JSON(maskingHubTokenBody(pgTok)),
				flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2").UA(maskingCtr16).Bearer(pgTok).Status(200).
					RespHeader("Docker-Content-Digest", "sha256:1111111111111111111111111111111111111111111111111111111111111111"),
				flowtest.Head("https://cache.test:5000/v2/library/postgres/manifests/14.2?ns=docker.io").UA(maskingCtr16).Status(200).After(time.Second).
					RespHeader("Docker-Content-Digest", "sha256:1111111111111111111111111111111111111111111111111111111111111111"),
			},
		},
		{
			// The mirror asked for credentials and got them: not a leak.
			name: "a mirror that serves to credentials is not taken for a leaking cache",
			flows: []*flowtest.Builder{
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull"`),
				flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(maskingCtr16).
					Status(200).JSON(maskingHubTokenBody(emptyRegTok)),
				flowtest.Head("https://registry.test/v2/team/app/manifests/1.0").UA(maskingCtr16).Bearer(emptyRegTok).Status(401).
					Challenge(maskingRegRealm + `,scope="repository:team/app:pull",error="insufficient_scope"`),
				flowtest.Head("https://cache.test:5000/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtr16).Status(401).
					Challenge(`Basic realm="cache"`),
				flowtest.Head("https://cache.test:5000/v2/team/app/manifests/1.0?ns=registry.test").UA(maskingCtr16).Basic("alice", "s3cret").Status(200).
					RespHeader("Docker-Content-Digest", "sha256:3333333333333333333333333333333333333333333333333333333333333333"),
			},
			want: []Rule{RuleInsufficientScope, RuleLaterRunSucceeded},
		},

		// 6. local-only-image-resolved-remotely
		{
			name: "buildkit resolves a locally built base image on Docker Hub and gets insufficient_scope",
			flows: []*flowtest.Builder{
				flowtest.Head("https://registry-1.docker.io/v2/library/coscupweb-base/manifests/latest").UA(maskingBuildkit).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/coscupweb-base:pull"`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fcoscupweb-base%3Apull&service=registry.docker.io").UA(maskingBuildkit).
					Status(200).JSON(maskingHubTokenBody(localTok)),
				flowtest.Head("https://registry-1.docker.io/v2/library/coscupweb-base/manifests/latest").UA(maskingBuildkit).Bearer(localTok).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/coscupweb-base:pull",error="insufficient_scope"`),
			},
			want:    []Rule{RuleLocalOnlyImageRemote, RuleHeadErrorWithoutBody, RuleInsufficientScope},
			primary: RuleLocalOnlyImageRemote,
		},
		{
			name: "skopeo copying a short name that Docker Hub refuses is not blamed on a local image",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry-1.docker.io/v2/").UA("skopeo/1.13.3").Status(401).Challenge(maskingHubRealm),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Ftagless%3Apull&service=registry.docker.io").UA("skopeo/1.13.3").
					Status(200).JSON(maskingHubTokenBody(maskingHubToken("library/tagless", ""))),
				flowtest.Get("https://registry-1.docker.io/v2/library/tagless/manifests/test").UA("skopeo/1.13.3").
					Bearer(maskingHubToken("library/tagless", "")).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/tagless:pull",error="insufficient_scope"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"library/tagless","Action":"pull"}]}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "buildkit finds the repository but not the tag and that is not a local-only image",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry-1.docker.io/v2/library/myapp/manifests/9.9").UA(maskingBuildkit).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/myapp:pull"`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fmyapp%3Apull&service=registry.docker.io").UA(maskingBuildkit).
					Status(200).JSON(maskingHubTokenBody(myappTok)),
				flowtest.Get("https://registry-1.docker.io/v2/library/myapp/manifests/9.9").UA(maskingBuildkit).Bearer(myappTok).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"9.9"}}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},

		// 30. blob-redirect-auth-conflict
		{
			name: "a client forwards its Bearer token to the S3 presigned URL and S3 answers only one auth mechanism allowed",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.corp.test/v2/").UA("renovate/37.0.0").Status(401).
					Challenge(`Bearer realm="https://registry.corp.test/auth",service="registry.corp.test"`),
				flowtest.Get("https://registry.corp.test/auth?scope=repository%3Ateam%2Fapp%3Apull&service=registry.corp.test").UA("renovate/37.0.0").
					Basic("bot", "s3cret").Status(200).JSON(`{"token":"opaque-corp-token"}`),
				flowtest.Get("https://registry.corp.test/v2/team/app/blobs/sha256:4f1a0000").UA("renovate/37.0.0").Bearer("opaque-corp-token").
					Status(307).Location(s3URL),
				flowtest.Get(s3URL).UA("renovate/37.0.0").Bearer("opaque-corp-token").Status(400).
					RespBody("application/xml", `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message><ArgumentName>Authorization</ArgumentName><RequestId>4442587FB7D0A2F9</RequestId></Error>`),
			},
			want:    []Rule{RuleBlobRedirectAuthConflict},
			primary: RuleBlobRedirectAuthConflict,
		},
		{
			name: "a HEAD on ghcr's blob redirect gets 403 from the storage host",
			flows: []*flowtest.Builder{
				flowtest.Head("https://ghcr.io/v2/acme/tool/blobs/sha256:9b2c0000").UA(maskingContainer).Bearer(ghcrTok).Status(307).Location(ghcrBlobURL),
				flowtest.Head(ghcrBlobURL).UA(maskingContainer).Status(403),
			},
			want:    []Rule{RuleBlobRedirectAuthConflict},
			primary: RuleBlobRedirectAuthConflict,
		},
		{
			name: "a blob redirect to S3 without Authorization downloads fine",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.corp.test/v2/team/app/blobs/sha256:4f1a0000").UA(maskingContainer).Bearer("opaque-corp-token").
					Status(307).Location(s3URL),
				flowtest.Get(s3URL).UA(maskingContainer).Status(200).Blob(1 << 20),
			},
		},

		// 31. proxy-or-mitm-interference
		{
			name: "the registry's certificate is signed by an unknown authority",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.corp.test/v2/").UA(maskingContainer).
					Err(flow.ErrUnknownAuthority, `tls: failed to verify certificate: x509: certificate signed by unknown authority`),
			},
			want:    []Rule{RuleProxyOrMITM},
			primary: RuleProxyOrMITM,
		},
		{
			name: "a web filter answers a manifest request with an HTML page",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(maskingContainer).Status(200),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(maskingContainer).Status(403).
					RespHeader("Via", "1.1 webfilter.corp.test").
					RespBody("text/html", `<html><head><title>Access Denied</title></head><body><h1>Blocked by corporate web filter</h1></body></html>`),
			},
			want:    []Rule{RuleProxyOrMITM},
			primary: RuleProxyOrMITM,
		},
		{
			name: "an upstream proxy asks for proxy authentication",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(maskingContainer).Status(407).
					RespHeader("Proxy-Authenticate", `Basic realm="corp-proxy"`).RespBody("text/plain", "Proxy Authentication Required"),
			},
			want:    []Rule{RuleProxyOrMITM},
			primary: RuleProxyOrMITM,
		},
		{
			name: "a refused connection to the registry is not proxy interference",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(maskingContainer).Err(flow.ErrRefused, "dial tcp 10.0.0.5:443: connect: connection refused"),
			},
			want:    []Rule{RuleRegistryUnreachable},
			primary: RuleRegistryUnreachable,
		},
	}
}

// TestEndpointFallbackFollowsTheClient: the finding names the answer each
// client reports by its own ranking (docker the last endpoint's, containerd
// 1.x the first error that is not a 404, containerd 2 the most relevant),
// with the verdict of what it hides.
func TestEndpointFallbackFollowsTheClient(t *testing.T) {
	byName := map[string]ruleTrace{}
	for _, tr := range maskingTraces() {
		byName[tr.name] = tr
	}
	tests := []struct {
		trace    string
		verdict  Verdict // "" when the rule must not fire
		reported string
		also     []string
	}{
		{maskingCtrd17MirrorNoCreds, VerdictNotFound, "reported #1 ", []string{"no basic auth credentials", "containerd 1.x", "answered #4 "}},
		{maskingCtrd2MirrorNoCreds, VerdictUnauthorized, "reported #4 ", []string{"containerd 2", "refused it: #1 "}},
		{maskingBuildkitMirrorNoCreds, VerdictUnauthorized, "reported #4 ", []string{"With containerd 1.x inside", "it reports #1 "}},
		{maskingCtr16Mirror401, VerdictNotFound, "reported #3 ", []string{"401 Unauthorized", "answered #6 "}},
		{maskingCtr16Mirror404, "", "", nil},
		{maskingDockerMirrorNoCreds, VerdictUnauthorized, "reported the last answer, #5 ", []string{"docker reports the last endpoint's error", "refused it: #2 "}},
		{maskingCtrd2ThreeHosts, VerdictUnauthorized, "reported #1 ", []string{"mirror-b.test, refused it: #4 "}},
		{maskingCtrd2Mirror403, VerdictNotFound, "reported #1 ", []string{"403 Forbidden", "answered #4 ", "once mirror.test lets the request through"}},
	}
	for _, tt := range tests {
		t.Run(tt.trace, func(t *testing.T) {
			tr, ok := byName[tt.trace]
			if !ok {
				t.Fatalf("no trace %q", tt.trace)
			}
			var got *Finding
			rep := Explain(tr.input())
			for i, f := range rep.Findings {
				if f.Rule == RuleEndpointFallbackMasks {
					got = &rep.Findings[i]
				}
			}
			if tt.verdict == "" {
				if got != nil {
					t.Fatalf("%s fired: %s", RuleEndpointFallbackMasks, got.Why)
				}
				return
			}
			if got == nil {
				t.Fatalf("%s did not fire\n%s", RuleEndpointFallbackMasks, dump(rep))
			}
			if got.Verdict != tt.verdict {
				t.Errorf("verdict = %s, want %s", got.Verdict, tt.verdict)
			}
			for _, w := range append(tt.also, tt.reported) {
				if !strings.Contains(got.Why, w) {
					t.Errorf("why lacks %q:\n%s", w, got.Why)
				}
			}
			if tt.trace != maskingDockerMirrorNoCreds && strings.Contains(got.Why, "the last answer") {
				t.Errorf("a containerd finding says the client reported the last answer:\n%s", got.Why)
			}
		})
	}
}

func TestMaskingPickFor(t *testing.T) {
	tests := []struct {
		ua, method, ref string
		want            *maskingPick
		other           bool
	}{
		{ua: maskingCtr16, want: &maskingContainerd1},
		{ua: maskingContainer, want: &maskingContainerd1},
		{ua: "containerd/v1.6.24", want: &maskingContainerd1},
		{ua: maskingCtrd2UA, want: &maskingContainerd2},
		{ua: "containerd/2.1.0", want: &maskingContainerd2},
		{ua: maskingBuildkit, want: &maskingContainerd2, other: true},
		{ua: "nerdctl/1.7.6", want: &maskingContainerd2, other: true},
		{ua: maskingCtrd2UA, method: http.MethodGet, ref: "sha256:1111111111111111111111111111111111111111111111111111111111111111", want: &maskingContainerdFetch},
		{ua: maskingCtr16, method: http.MethodHead, ref: "sha256:1111111111111111111111111111111111111111111111111111111111111111", want: &maskingContainerd1},
		{ua: maskingDocker24},
		{ua: "skopeo/1.13.3"},
	}
	for _, tt := range tests {
		method := tt.method
		if method == "" {
			method = http.MethodHead
		}
		ref := tt.ref
		if ref == "" {
			ref = "1.0"
		}
		b := flowtest.New(method, "https://registry.test/v2/team/app/manifests/"+ref).UA(tt.ua).Status(404)
		x := decode.NewSession().Decode(b.Build(1, time.Time{}))
		got := maskingPickFor(x)
		switch {
		case tt.want == nil && got.containerd:
			t.Errorf("maskingPickFor(%s %q) = containerd's ranking, want the last answer", method, tt.ua)
		case tt.want != nil && got.lead != tt.want.lead:
			t.Errorf("maskingPickFor(%s %q) = %q, want %q", method, tt.ua, got.lead, tt.want.lead)
		case (got.other != nil) != tt.other:
			t.Errorf("maskingPickFor(%s %q) has another ranking = %v, want %v", method, tt.ua, got.other != nil, tt.other)
		}
	}
}

// TestContainerd1Words: which containerd 1.x words its errors as 1.6.20
// does, as 1.7.0 does, or as 2.0 does (1.6.25 and 1.7.8 took 2.0's texts).
func TestContainerd1Words(t *testing.T) {
	for rest, want := range map[string]string{
		"6.20~ds1": "1.6", "6.24": "1.6", "6.25": "2", "6.38": "2", "5.18": "1.6", "6": "1.6",
		"7.0": "1.7", "7.7": "1.7", "7.8": "2", "7.13+unknown": "2", "7.27-1": "2", "x": "1.7",
	} {
		if got := maskingContainerd1Words(rest); got != want {
			t.Errorf("containerd 1.%s: %q, want %q", rest, got, want)
		}
	}
}
