package explain

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// tokClaimSet describes a test JWT.
type tokClaimSet struct {
	iss, sub, aud, jti string
	exp, nbf, iat      time.Time
	access             []map[string]any // nil: an empty list
}

// tokJWT makes a registry token shaped like Docker Hub's / distribution's.
func tokJWT(c tokClaimSet) string {
	if c.iss == "" {
		c.iss = "auth.test"
	}
	if c.aud == "" {
		c.aud = "registry.test"
	}
	if c.jti == "" {
		c.jti = "j1"
	}
	if c.iat.IsZero() {
		c.iat = flowtest.Epoch
	}
	if c.nbf.IsZero() {
		c.nbf = c.iat
	}
	if c.exp.IsZero() {
		c.exp = c.iat.Add(5 * time.Minute)
	}
	access := c.access
	if access == nil {
		access = []map[string]any{}
	}
	mc := jwt.MapClaims{
		"iss": c.iss, "aud": c.aud, "jti": c.jti,
		"exp": c.exp.Unix(), "nbf": c.nbf.Unix(), "iat": c.iat.Unix(),
		"access": access,
	}
	if c.sub != "" {
		mc["sub"] = c.sub
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, mc)
	tok.Header["kid"] = "test-kid"
	s, err := tok.SignedString([]byte("test-key"))
	if err != nil {
		panic(err)
	}
	return s
}

func tokAccess(name string, actions ...string) map[string]any {
	return map[string]any{"type": "repository", "name": name, "actions": actions}
}

func tokBody(tok string) string {
	return fmt.Sprintf(`{"token":%q,"access_token":%q,"expires_in":300,"issued_at":"2026-01-02T03:04:05Z"}`, tok, tok)
}

func tokDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

const (
	tokUA       = "docker/24.0.5 go/go1.20.6"
	tokHubRealm = `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`
	tokRealm    = `Bearer realm="https://auth.test/token",service="registry.test"`
)

// tokPing is a /v2/ ping answered with a Bearer challenge.
func tokPing(base, challenge string) *flowtest.Builder {
	return flowtest.Get(base + "/v2/").UA(tokUA).Status(401).Challenge(challenge).
		JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
}

// tokTokenReq is a GET token request with Basic credentials and scopes.
func tokTokenReq(realm, service, user string, scopes ...string) *flowtest.Builder {
	q := url.Values{"service": {service}, "account": {user}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	return flowtest.Get(realm+"?"+q.Encode()).UA(tokUA).Basic(user, "s3cret")
}

// tokInsufficient is a registry 401 insufficient_scope answer.
func tokInsufficient(b *flowtest.Builder, realm, service, scope, name, action string) *flowtest.Builder {
	return b.Status(401).
		Challenge(fmt.Sprintf(`Bearer realm=%q,service=%q,scope=%q,error="insufficient_scope"`, realm, service, scope)).
		JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"` + name + `","Action":"` + action + `"}]}]}`)
}

// tokInvalid is a registry 401 invalid_token answer dated at.
func tokInvalid(b *flowtest.Builder, at time.Time) *flowtest.Builder {
	return b.Status(401).RespHeader("Date", tokDate(at)).
		Challenge(`Bearer realm="https://auth.test/token",service="registry.test",error="invalid_token"`).
		JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
}

func tokenTraces() []ruleTrace {
	E := flowtest.Epoch
	hub := "https://registry-1.docker.io"

	nginxTok := tokJWT(tokClaimSet{iss: "auth.docker.io", aud: "registry.docker.io", sub: "alice"})
	libTok := tokJWT(tokClaimSet{iss: "auth.docker.io", aud: "registry.docker.io", sub: "alice",
		access: []map[string]any{tokAccess("library/nginx", "pull")}})

	teamAppTok := tokJWT(tokClaimSet{sub: "bob", jti: "t1", access: []map[string]any{tokAccess("team/app", "pull")}})
	emptyBob := tokJWT(tokClaimSet{sub: "bob", jti: "t2"})

	mountTok := tokJWT(tokClaimSet{sub: "bob", access: []map[string]any{tokAccess("team/app", "pull", "push")}})
	mountTok2 := tokJWT(tokClaimSet{sub: "bob", jti: "j2", access: []map[string]any{tokAccess("team/app", "pull", "push")}})
	gitlabTok := tokJWT(tokClaimSet{sub: "bob", access: []map[string]any{tokAccess("a/y", "pull", "push")}})
	copyTok := tokJWT(tokClaimSet{sub: "bob", access: []map[string]any{tokAccess("a/y", "pull")}})

	pushTok := tokJWT(tokClaimSet{sub: "bob", access: []map[string]any{tokAccess("alice/app", "pull")}})
	secretTok := tokJWT(tokClaimSet{sub: "alice"})

	longTok := tokJWT(tokClaimSet{sub: "bob", access: []map[string]any{tokAccess("team/app", "pull", "push")}})
	longTok2 := tokJWT(tokClaimSet{sub: "bob", jti: "j2", iat: E.Add(10 * time.Minute), access: []map[string]any{tokAccess("team/app", "pull", "push")}})
	aheadTok := tokJWT(tokClaimSet{sub: "bob", iat: E.Add(10 * time.Minute), access: []map[string]any{tokAccess("team/app", "pull")}})
	slightlyAhead := tokJWT(tokClaimSet{sub: "bob", iat: E.Add(30 * time.Second), access: []map[string]any{tokAccess("team/app", "pull")}})
	otherAud := tokJWT(tokClaimSet{sub: "bob", aud: "registry.other", access: []map[string]any{tokAccess("team/app", "pull")}})
	goodTok := tokJWT(tokClaimSet{sub: "bob", access: []map[string]any{tokAccess("team/app", "pull")}})

	realm, svc := "https://auth.test/token", "registry.test"
	reg := "https://registry.test"
	upload := reg + "/v2/team/app/blobs/uploads/"
	mount := upload + "?mount=sha256:aa&from=other/lib"

	return []ruleTrace{
		{
			name: "docker pulls nginx through Docker Hub without the library prefix and the token grants nothing",
			flows: []*flowtest.Builder{
				tokPing(hub, tokHubRealm),
				tokTokenReq("https://auth.docker.io/token", "registry.docker.io", "alice", "repository:nginx:pull").Status(200).JSON(tokBody(nginxTok)),
				tokInsufficient(flowtest.Get(hub+"/v2/nginx/manifests/latest").UA(tokUA).Bearer(nginxTok),
					"https://auth.docker.io/token", "registry.docker.io", "repository:nginx:pull", "nginx", "pull"),
			},
			want:    []Rule{RuleLibraryPrefixMissing, RuleInsufficientScope},
			primary: RuleLibraryPrefixMissing,
		},
		{
			name: "a pull of library/nginx with a token that covers it explains nothing",
			flows: []*flowtest.Builder{
				tokPing(hub, tokHubRealm),
				tokTokenReq("https://auth.docker.io/token", "registry.docker.io", "alice", "repository:library/nginx:pull").Status(200).JSON(tokBody(libTok)),
				flowtest.Get(hub + "/v2/library/nginx/manifests/latest").UA(tokUA).Bearer(libTok).Status(200).JSON(`{}`),
			},
		},
		{
			name: "a script drops the team namespace that the same registry just served",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull").Status(200).JSON(tokBody(teamAppTok)),
				flowtest.Get(reg + "/v2/team/app/manifests/1.0").UA(tokUA).Bearer(teamAppTok).Status(200).JSON(`{}`),
				tokTokenReq(realm, svc, "bob", "repository:app:pull").Status(200).JSON(tokBody(emptyBob)),
				tokInsufficient(flowtest.Get(reg+"/v2/app/manifests/1.0").UA(tokUA).Bearer(emptyBob), realm, svc, "repository:app:pull", "app", "pull"),
			},
			want:    []Rule{RuleLibraryPrefixMissing, RuleInsufficientScope},
			primary: RuleLibraryPrefixMissing,
		},
		{
			name: "a one-component name on a private registry is simply not granted to the logged-in user",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:app:pull").Status(200).JSON(tokBody(emptyBob)),
				tokInsufficient(flowtest.Get(reg+"/v2/app/manifests/1.0").UA(tokUA).Bearer(emptyBob), realm, svc, "repository:app:pull", "app", "pull"),
			},
			want:    []Rule{RuleAccessEmptyAuthed, RuleInsufficientScope},
			primary: RuleAccessEmptyAuthed,
		},
		{
			name: "a cross-repository mount is refused because the token cannot pull the source",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(mountTok)),
				tokInsufficient(flowtest.Post(mount).UA(tokUA).Bearer(mountTok), realm, svc,
					"repository:team/app:pull,push repository:other/lib:pull", "other/lib", "pull"),
			},
			want:    []Rule{RuleCrossRepoMountScope, RuleInsufficientScope},
			primary: RuleCrossRepoMountScope,
		},
		{
			name: "a refused mount followed by a plain upload that works explains nothing",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(mountTok)),
				tokInsufficient(flowtest.Post(mount).UA(tokUA).Bearer(mountTok), realm, svc,
					"repository:team/app:pull,push repository:other/lib:pull", "other/lib", "pull"),
				flowtest.Post(upload).UA(tokUA).Bearer(mountTok).Status(202).Location("/v2/team/app/blobs/uploads/u1"),
				flowtest.Put(reg + "/v2/team/app/blobs/uploads/u1?digest=sha256:aa").UA(tokUA).Bearer(mountTok).Status(201),
			},
			want: []Rule{RuleMountRefused},
		},
		{
			name: "the client asks for one scope although the mount challenge names two",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(mountTok)),
				tokInsufficient(flowtest.Post(mount).UA(tokUA).Bearer(mountTok), realm, svc,
					"repository:team/app:pull,push repository:other/lib:pull", "other/lib", "pull"),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(mountTok2)),
				tokInsufficient(flowtest.Post(mount).UA(tokUA).Bearer(mountTok2), realm, svc,
					"repository:team/app:pull,push repository:other/lib:pull", "other/lib", "pull"),
			},
			want:    []Rule{RuleCrossRepoMountScope, RuleMultipleScopes, RuleInsufficientScope},
			primary: RuleCrossRepoMountScope,
		},
		{
			name: "an old token server keeps only the last of two scopes for a mount",
			flows: []*flowtest.Builder{
				tokPing("https://gitlab.test", `Bearer realm="https://gitlab.test/jwt/auth",service="container_registry"`),
				tokTokenReq("https://gitlab.test/jwt/auth", "container_registry", "bob", "repository:a/x:pull", "repository:a/y:push,pull").
					Status(200).JSON(tokBody(gitlabTok)),
				tokInsufficient(flowtest.Post("https://gitlab.test/v2/a/y/blobs/uploads/?mount=sha256:bb&from=a/x").UA(tokUA).Bearer(gitlabTok),
					"https://gitlab.test/jwt/auth", "container_registry", "repository:a/y:pull,push repository:a/x:pull", "a/x", "pull"),
			},
			want:    []Rule{RuleCrossRepoMountScope, RuleMultipleScopes, RuleInsufficientScope},
			primary: RuleCrossRepoMountScope,
		},
		{
			name: "a copy between two repositories gets a token for only one of them",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:a/x:pull", "repository:a/y:pull").Status(200).JSON(tokBody(copyTok)),
				tokInsufficient(flowtest.Get(reg+"/v2/a/x/manifests/1.0").UA(tokUA).Bearer(copyTok), realm, svc, "repository:a/x:pull", "a/x", "pull"),
			},
			want:    []Rule{RuleMultipleScopes, RuleInsufficientScope},
			primary: RuleMultipleScopes,
		},
		{
			name: "bob pushes into alice's namespace with a pull-only token",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:alice/app:pull,push").Status(200).JSON(tokBody(pushTok)),
				flowtest.Head(reg + "/v2/alice/app/blobs/sha256:cc").UA(tokUA).Bearer(pushTok).Status(404),
				tokInsufficient(flowtest.Post(reg+"/v2/alice/app/blobs/uploads/").UA(tokUA).Bearer(pushTok), realm, svc,
					"repository:alice/app:pull,push", "alice/app", "push"),
			},
			want:    []Rule{RulePushScopeMissing, RuleInsufficientScope},
			primary: RulePushScopeMissing,
		},
		{
			// oras cancels its context when a concurrent upload fails: its
			// debug log then prints "Error reading response body" for a
			// token request still in flight.
			name: "a push refused for its scope, then a token answer whose body the trace does not hold",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:alice/app:pull,push").Status(200).JSON(tokBody(pushTok)),
				tokInsufficient(flowtest.Post(reg+"/v2/alice/app/blobs/uploads/").UA(tokUA).Bearer(pushTok), realm, svc,
					"repository:alice/app:pull,push", "alice/app", "push"),
				tokTokenReq(realm, svc, "bob", "repository:alice/app:pull,push").Status(200).Blob(4041).RespHeader("Content-Type", "application/json"),
			},
			want:    []Rule{RulePushScopeMissing, RuleInsufficientScope},
			primary: RulePushScopeMissing,
		},
		{
			name: "a push with a logged-in token that grants nothing at all",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:corp/app:pull,push").Status(200).JSON(tokBody(emptyBob)),
				tokInsufficient(flowtest.Put(reg+"/v2/corp/app/manifests/1.0").UA(tokUA).Bearer(emptyBob), realm, svc,
					"repository:corp/app:pull,push", "corp/app", "push"),
			},
			want:    []Rule{RulePushScopeMissing, RuleAccessEmptyAuthed, RuleInsufficientScope},
			primary: RulePushScopeMissing,
		},
		{
			name: "an anonymous manifest inspect asks for push and the token server refuses outright",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				flowtest.Get(reg + "/v2/docker/image/manifests/tag").UA(tokUA).Status(401).
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:docker/image:pull"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
				flowtest.Get(realm + "?scope=repository:docker/image:push,pull&service=registry.test").UA(tokUA).Status(403).
					JSON(`{"details":"Write permission required to access 'docker' repository"}`),
			},
			want:    []Rule{RuleOverScopedRejected},
			primary: RuleOverScopedRejected,
		},
		{
			name: "a logged-in user gets a token with an empty access list for a private repository",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "alice", "repository:corp/secret:pull").Status(200).JSON(tokBody(secretTok)),
				tokInsufficient(flowtest.Head(reg+"/v2/corp/secret/manifests/latest").UA(tokUA).Bearer(secretTok), realm, svc,
					"repository:corp/secret:pull", "corp/secret", "pull"),
				tokInsufficient(flowtest.Get(reg+"/v2/corp/secret/manifests/latest").UA(tokUA).Bearer(secretTok), realm, svc,
					"repository:corp/secret:pull", "corp/secret", "pull"),
			},
			want:    []Rule{RuleAccessEmptyAuthed, RuleInsufficientScope},
			primary: RuleAccessEmptyAuthed,
		},
		{
			name: "an opaque token is refused with insufficient scope and the registry will not say why",
			flows: []*flowtest.Builder{
				tokPing("https://ghcr.test", `Bearer realm="https://ghcr.test/token",service="ghcr.test"`),
				tokTokenReq("https://ghcr.test/token", "ghcr.test", "alice", "repository:org/tool:pull").Status(200).
					JSON(`{"token":"djE6b3JnL3Rvb2w6MTIzNA=="}`),
				tokInsufficient(flowtest.Head("https://ghcr.test/v2/org/tool/manifests/1.2").UA(tokUA).Bearer("djE6b3JnL3Rvb2w6MTIzNA=="),
					"https://ghcr.test/token", "ghcr.test", "repository:org/tool:pull", "org/tool", "pull"),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "a chunked push outlives its five-minute token",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(longTok)),
				flowtest.Post(upload).UA(tokUA).Bearer(longTok).Status(202).Location("/v2/team/app/blobs/uploads/u1"),
				flowtest.Patch(reg+"/v2/team/app/blobs/uploads/u1").UA(tokUA).Bearer(longTok).Status(202).RespHeader("Date", tokDate(E.Add(2*time.Minute))),
				tokInvalid(flowtest.Put(reg+"/v2/team/app/blobs/uploads/u1?digest=sha256:dd").UA(tokUA).Bearer(longTok), E.Add(10*time.Minute)),
			},
			want:    []Rule{RuleTokenExpired},
			primary: RuleTokenExpired,
		},
		{
			name: "a client that refreshes its expired token finishes the push",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(longTok)),
				flowtest.Post(upload).UA(tokUA).Bearer(longTok).Status(202).Location("/v2/team/app/blobs/uploads/u1"),
				tokInvalid(flowtest.Put(reg+"/v2/team/app/blobs/uploads/u1?digest=sha256:dd").UA(tokUA).Bearer(longTok), E.Add(10*time.Minute)),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull,push").Status(200).JSON(tokBody(longTok2)),
				flowtest.Put(reg + "/v2/team/app/blobs/uploads/u1?digest=sha256:dd").UA(tokUA).Bearer(longTok2).Status(201),
			},
		},
		{
			name: "a token server ten minutes ahead issues a token the registry finds not yet valid",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull").Status(200).JSON(tokBody(aheadTok)),
				tokInvalid(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(tokUA).Bearer(aheadTok), E),
			},
			want:    []Rule{RuleClockSkew},
			primary: RuleClockSkew,
		},
		{
			name: "a token thirty seconds ahead is within the leeway so its refusal has another cause",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull").Status(200).JSON(tokBody(slightlyAhead)),
				tokInvalid(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(tokUA).Bearer(slightlyAhead), E),
			},
			want:    []Rule{RuleTokenRejectedAudIssKey},
			primary: RuleTokenRejectedAudIssKey,
		},
		{
			name: "a token issued for another service is refused as invalid",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, "registry.other", "bob", "repository:team/app:pull").Status(200).JSON(tokBody(otherAud)),
				tokInvalid(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(tokUA).Bearer(otherAud), E),
			},
			want:    []Rule{RuleTokenRejectedAudIssKey},
			primary: RuleTokenRejectedAudIssKey,
		},
		{
			name: "a token signed with an untrusted key is refused with a challenge but no error code",
			flows: []*flowtest.Builder{
				tokPing(reg, tokRealm),
				tokTokenReq(realm, svc, "bob", "repository:team/app:pull").Status(200).JSON(tokBody(goodTok)),
				flowtest.Get(reg + "/v2/team/app/manifests/1.0").UA(tokUA).Bearer(goodTok).Status(401).Challenge(tokRealm),
				flowtest.Get(reg + "/v2/team/app/manifests/1.0").UA(tokUA).Bearer(goodTok).Status(401).Challenge(tokRealm),
			},
			want:    []Rule{RuleTokenRejectedAudIssKey},
			primary: RuleTokenRejectedAudIssKey,
		},
	}
}
