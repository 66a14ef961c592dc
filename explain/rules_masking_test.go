package explain

import (
	"encoding/base64"
	"fmt"

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

		// 4. endpoint-fallback-masks-real-error
		{
			name: "a mirror refuses with a Basic challenge and Docker Hub's not found is what the client reports",
			flows: []*flowtest.Builder{
				flowtest.Head("https://mirror.corp.test/v2/library/postgres/manifests/14.2-corp?ns=docker.io").UA(maskingContainer).Status(401).
					Challenge(`Basic realm="Registry Realm"`),
				flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2-corp").UA(maskingContainer).Status(401).
					Challenge(maskingHubRealm + `,scope="repository:library/postgres:pull"`),
				flowtest.Get("https://auth.docker.io/token?scope=repository%3Alibrary%2Fpostgres%3Apull&service=registry.docker.io").UA(maskingContainer).
					Status(200).JSON(maskingHubTokenBody(pgTok)),
				flowtest.Head("https://registry-1.docker.io/v2/library/postgres/manifests/14.2-corp").UA(maskingContainer).Bearer(pgTok).Status(404),
			},
			want:    []Rule{RuleEndpointFallbackMasks, RuleNotFoundIsReal},
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
			want: []Rule{RuleLaterRunSucceeded},
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
