package explain

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

const (
	outOrasUA   = "oras/1.3.6+Homebrew"
	outCosignUA = "cosign/v2.4.1 (linux; amd64) go-containerregistry/v0.20.2"
	outCtrdUA   = "containerd/1.7.24+unknown"
	outGhcr     = `Bearer realm="https://ghcr.test/token",service="ghcr.test"`
	outDigest   = "sha256:4b4e1e2b0b8c2f1d5c6a7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
	outSchema   = "sha256-4b4e1e2b0b8c2f1d5c6a7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"
)

// outAnonToken is an anonymous GET token request.
func outAnonToken(realm, service, scope, ua string) *flowtest.Builder {
	return flowtest.Get(realm + "?" + url.Values{"service": {service}, "scope": {scope}}.Encode()).UA(ua)
}

func outcomeTraces() []ruleTrace {
	pullTok := tokJWT(tokClaimSet{sub: "alice", access: []map[string]any{tokAccess("team/app", "pull")}})
	pushTok := tokJWT(tokClaimSet{sub: "alice", access: []map[string]any{tokAccess("team/app", "pull", "push")}})
	emptyTok := tokJWT(tokClaimSet{jti: "anon"})
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`
	base := "https://registry.test/v2/team/app"
	return []ruleTrace{
		// Class 1: a failed run is never called a success.
		{
			name: "an anonymous token request refused with 401 ends the run and is not a success",
			flows: []*flowtest.Builder{
				flowtest.Get("https://ghcr.test/v2/").UA(credCraneUA).Status(401).Challenge(outGhcr),
				outAnonToken("https://ghcr.test/token", "ghcr.test", "repository:acme/private:pull", credCraneUA).Status(401).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "a login whose anonymous token request is refused without a repository scope stays unexplained",
			flows: []*flowtest.Builder{
				flowtest.Get("https://ghcr.test/v2/").UA(credCraneUA).Status(401).Challenge(outGhcr),
				outAnonToken("https://ghcr.test/token", "ghcr.test", "", credCraneUA).Status(403).RespBody("text/plain", "forbidden"),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},
		{
			name: "containerd's anonymous HEAD and GET answered 404 MANIFEST_UNKNOWN without any challenge is not found",
			flows: []*flowtest.Builder{
				flowtest.Head(base + "/manifests/9.9").UA(outCtrdUA).Status(404),
				flowtest.Get(base + "/manifests/9.9").UA(outCtrdUA).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"9.9"}}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
		{
			name: "a realm whose name does not resolve, recorded by a browser as _error, is the realm being unreachable",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(`Bearer realm="https://auth.example/token",service="registry.test"`),
				outAnonToken("https://auth.example/token", "registry.test", "repository:team/app:pull", credSkopeoUA).
					Err(flow.ErrDNS, "dial tcp: lookup auth.example: no such host"),
			},
			want:    []Rule{RuleRealmUnreachable},
			primary: RuleRealmUnreachable,
		},
		{
			name: "a tunnel to the realm the proxy could not open is the realm being unreachable",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credCraneUA).Status(401).Challenge(`Bearer realm="https://auth.test:8443/token",service="registry.test"`),
				flowtest.New("CONNECT", "https://auth.test:8443").Status(502).RespBody("text/plain", "Cannot connect to auth.test:8443: connection refused"),
			},
			want:    []Rule{RuleRealmUnreachable},
			primary: RuleRealmUnreachable,
		},
		{
			name: "a realm tunnel whose CONNECT carries Go's default User-Agent joins the client's operation",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
				flowtest.New("CONNECT", "https://auth.test:443").UA("Go-http-client/1.1").Err(flow.ErrTimeout, "dial tcp 10.1.2.3:443: i/o timeout"),
			},
			want:    []Rule{RuleRealmUnreachable},
			primary: RuleRealmUnreachable,
		},
		{
			name: "a tunnel to the registry the proxy could not open is the registry being unreachable",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://registry.test:5000").Err(flow.ErrDNS, "lookup registry.test: no such host"),
			},
			want:    []Rule{RuleRegistryUnreachable},
			primary: RuleRegistryUnreachable,
		},
		{
			name: "a CONNECT regtrace's shared proxy refused (no proxy credentials) is the proxy's refusal, not an unreachable registry",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://registry.test:443").UA(credSkopeoUA).
					Err(flow.ErrProxyAuth, "no proxy credentials: the client must send Proxy-Authorization (a user and password in its proxy URL)").Status(407),
			},
			want:    []Rule{RuleProxyAuthRefused},
			primary: RuleProxyAuthRefused,
		},
		{
			name: "plain-HTTP requests refused 407 with wrong proxy credentials, V1 fallback included, are the proxy's refusal",
			flows: []*flowtest.Builder{
				flowtest.Get("http://registry.test:5055/v2/").UA(credSkopeoUA).Err(flow.ErrProxyAuth, "the proxy credentials were refused").Status(407),
				flowtest.Get("http://registry.test:5055/v1/_ping").UA(credSkopeoUA).Err(flow.ErrProxyAuth, "the proxy credentials were refused").Status(407),
			},
			want:    []Rule{RuleProxyAuthRefused},
			primary: RuleProxyAuthRefused,
		},
		{
			name: "a 407 followed by a run with the right proxy credentials that pulls is no failure",
			flows: []*flowtest.Builder{
				flowtest.New("CONNECT", "https://registry.test:443").UA(credSkopeoUA).Err(flow.ErrProxyAuth, "no proxy credentials").Status(407),
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(200).JSON(`{}`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credSkopeoUA).Status(200).
					RespHeader("Content-Type", "application/vnd.oci.image.manifest.v1+json").JSON(`{"schemaVersion":2,"layers":[]}`),
			},
			want: nil, // one operation that reached its goal
		},
		{
			name: "a registry that times out mid-pull after the manifest is unreachable, not a success",
			flows: []*flowtest.Builder{
				flowtest.Get(base + "/manifests/1.0").UA(outCtrdUA).Status(200).JSON(manifest),
				flowtest.Get(base+"/blobs/"+outDigest).UA(outCtrdUA).Err(flow.ErrTimeout, "read tcp: i/o timeout"),
			},
			want:    []Rule{RuleRegistryUnreachable},
			primary: RuleRegistryUnreachable,
		},
		{
			name: "a layer answered 500 is a failed pull even when other layers finish after it",
			flows: []*flowtest.Builder{
				flowtest.Get(base + "/manifests/1.0").UA(outCtrdUA).Status(200).JSON(manifest),
				flowtest.Get(base + "/blobs/sha256:aaaa").UA(outCtrdUA).Status(500).
					JSON(`{"errors":[{"code":"UNKNOWN","message":"storage backend unavailable"}]}`),
				flowtest.Get(base + "/blobs/sha256:bbbb").UA(outCtrdUA).Status(200).Blob(1 << 20),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},
		{
			name: "a 400 with an unterminated challenge and an odd body is named where it stopped",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/" + strings.Repeat("a", 10000) + "/manifests/x").UA(credSkopeoUA).Status(400).
					Challenge(`Bearer realm="https://auth.test/token",service="` + strings.Repeat("x", 100000)).
					JSON(strings.Repeat(`{"errors":[`, 500)),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},
		{
			name: "a client that stops after the ping's challenge stopped there",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(tokRealm),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},

		// Class 2: a good operation is never called a failure.
		{
			name: "oras copies with referrers: the referrers API and the tag-schema fallback answer 404",
			flows: []*flowtest.Builder{
				flowtest.Get(base + "/manifests/1.0").UA(outOrasUA).Status(200).JSON(manifest),
				flowtest.Get(base + "/referrers/" + outDigest).UA(outOrasUA).Status(404).
					JSON(`{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`),
				flowtest.Get(base + "/manifests/" + outSchema).UA(outOrasUA).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`),
			},
		},
		{
			name: "cosign probes .sig and .att tags and finds none, after pulling the image",
			flows: []*flowtest.Builder{
				flowtest.Head(base + "/manifests/1.0").UA(outCosignUA).Status(200),
				flowtest.Get(base + "/manifests/" + outSchema + ".sig").UA(outCosignUA).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`),
				flowtest.Head(base + "/manifests/" + outSchema + ".att").UA(outCosignUA).Status(404),
			},
		},
		{
			name: "a push checks blobs and the manifest with HEAD, gets 404, and uploads",
			flows: []*flowtest.Builder{
				tokPing("https://registry.test", tokRealm),
				tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull,push").Status(200).JSON(tokBody(pushTok)),
				flowtest.Head(base + "/blobs/sha256:cccc").UA(tokUA).Bearer(pushTok).Status(404),
				flowtest.Post(base + "/blobs/uploads/").UA(tokUA).Bearer(pushTok).Status(202).Location("/v2/team/app/blobs/uploads/u1"),
				flowtest.Put(base + "/blobs/uploads/u1?digest=sha256:cccc").UA(tokUA).Bearer(pushTok).Status(201),
				flowtest.Head(base + "/manifests/1.0").UA(tokUA).Bearer(pushTok).Status(404),
				flowtest.Put(base + "/manifests/1.0").UA(tokUA).Bearer(pushTok).Status(201),
			},
		},
		{
			name: "oras pushes after a manifest HEAD refused 401, then answered 404 with the token",
			flows: []*flowtest.Builder{
				flowtest.Head(base + "/manifests/" + outDigest).UA(outOrasUA).Status(401).
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`),
				outAnonToken("https://auth.test/token", "registry.test", "repository:team/app:pull,push", outOrasUA).Basic("alice", "s3cret").Status(200).JSON(tokBody(pushTok)),
				flowtest.Head(base + "/manifests/" + outDigest).UA(outOrasUA).Bearer(pushTok).Status(404),
				flowtest.Post(base + "/blobs/uploads/").UA(outOrasUA).Bearer(pushTok).Status(202).Location("/v2/team/app/blobs/uploads/u3"),
				flowtest.Put(base + "/blobs/uploads/u3?digest=sha256:eeee").UA(outOrasUA).Bearer(pushTok).Status(201),
				flowtest.Put(base + "/manifests/1.0").UA(outOrasUA).Bearer(pushTok).Status(201),
			},
		},
		{
			name: "a cross-repository mount refused with 403 and followed by an upload is noted, not a failure",
			flows: []*flowtest.Builder{
				tokPing("https://registry.test", tokRealm),
				tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull,push", "repository:base/img:pull").Status(200).JSON(tokBody(pushTok)),
				flowtest.Post(base + "/blobs/uploads/?mount=sha256:dddd&from=base/img").UA(tokUA).Bearer(pushTok).Status(403).
					JSON(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`),
				flowtest.Post(base + "/blobs/uploads/").UA(tokUA).Bearer(pushTok).Status(202).Location("/v2/team/app/blobs/uploads/u2"),
				flowtest.Put(base + "/blobs/uploads/u2?digest=sha256:dddd").UA(tokUA).Bearer(pushTok).Status(201),
				flowtest.Put(base + "/manifests/1.0").UA(tokUA).Bearer(pushTok).Status(201),
			},
			want: []Rule{RuleMountRefused},
		},
		{
			name: "oras discover on a registry without referrers asked only the referrers question and it failed",
			flows: []*flowtest.Builder{
				flowtest.Get(base + "/referrers/" + outDigest).UA(outOrasUA).Status(404).
					JSON(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},

		// Class 6: several runs in one trace.
		{
			name: "an anonymous run fails and a later run with a login succeeds",
			flows: []*flowtest.Builder{
				tokPing("https://registry.test", tokRealm),
				outAnonToken("https://auth.test/token", "registry.test", "repository:team/app:pull", tokUA).Status(200).JSON(tokBody(emptyTok)),
				tokInsufficient(flowtest.Get(base+"/manifests/1.0").UA(tokUA).Bearer(emptyTok), "https://auth.test/token", "registry.test", "repository:team/app:pull", "team/app", "pull"),
				tokPing("https://registry.test", tokRealm),
				tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(200).JSON(tokBody(pullTok)),
				flowtest.Get(base + "/manifests/1.0").UA(tokUA).Bearer(pullTok).Status(200).JSON(manifest),
			},
			want: []Rule{RuleInsufficientScope, RuleLaterRunSucceeded},
		},
		{
			name: "a good run followed by a failed run of the same client is a failure",
			flows: []*flowtest.Builder{
				tokPing("https://registry.test", tokRealm),
				tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(200).JSON(tokBody(pullTok)),
				flowtest.Get(base + "/manifests/1.0").UA(tokUA).Bearer(pullTok).Status(200).JSON(manifest),
				tokPing("https://registry.test", tokRealm),
				tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(200).JSON(tokBody(pullTok)),
				flowtest.Get(base + "/manifests/2.0").UA(tokUA).Bearer(pullTok).Status(404).
					JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
	}
}

// TestOutcome checks the facts rules read: goal, whether it was reached,
// where it stopped, and whether the report as a whole failed.
func TestOutcome(t *testing.T) {
	type op struct {
		goal    Goal
		reached bool
		stop    flow.ID
		stage   Stage
		probes  int
	}
	cases := map[string]struct {
		ops    []op
		failed bool
	}{
		"an anonymous token request refused with 401 ends the run and is not a success": {
			ops: []op{{GoalLogin, false, 2, StageToken, 0}}, failed: true},
		"a tunnel to the realm the proxy could not open is the realm being unreachable": {
			ops: []op{{GoalLogin, false, 2, StageRealm, 0}}, failed: true},
		"a tunnel to the registry the proxy could not open is the registry being unreachable": {
			ops: []op{{GoalLogin, false, 1, StageTunnel, 0}}, failed: true},
		"a layer answered 500 is a failed pull even when other layers finish after it": {
			ops: []op{{GoalPull, false, 2, StageRegistry, 0}}, failed: true},
		"a client that stops after the ping's challenge stopped there": {
			ops: []op{{GoalLogin, false, 1, StagePing, 0}}, failed: true},
		"oras copies with referrers: the referrers API and the tag-schema fallback answer 404": {
			ops: []op{{GoalPull, true, 0, "", 2}}},
		"cosign probes .sig and .att tags and finds none, after pulling the image": {
			ops: []op{{GoalPull, true, 0, "", 2}}},
		"a push checks blobs and the manifest with HEAD, gets 404, and uploads": {
			ops: []op{{GoalPush, true, 0, "", 2}}},
		"oras pushes after a manifest HEAD refused 401, then answered 404 with the token": {
			ops: []op{{GoalPush, true, 0, "", 1}}},
		"a cross-repository mount refused with 403 and followed by an upload is noted, not a failure": {
			ops: []op{{GoalPush, true, 0, "", 1}}},
		"oras discover on a registry without referrers asked only the referrers question and it failed": {
			ops: []op{{GoalReferrers, false, 1, StageRegistry, 0}}, failed: true},
		"an anonymous run fails and a later run with a login succeeds": {
			ops: []op{{GoalPull, false, 3, StageRegistry, 0}, {GoalPull, true, 0, "", 0}}},
		"a good run followed by a failed run of the same client is a failure": {
			ops: []op{{GoalPull, true, 0, "", 0}, {GoalPull, false, 6, StageRegistry, 0}}, failed: true},
	}
	seen := 0
	for _, tr := range allTraces() {
		c, ok := cases[tr.name]
		if !ok {
			continue
		}
		seen++
		t.Run(tr.name, func(t *testing.T) {
			rep := Explain(tr.input())
			if len(rep.Operations) != len(c.ops) {
				t.Fatalf("%d operations, want %d", len(rep.Operations), len(c.ops))
			}
			for i, w := range c.ops {
				o := rep.Operations[i].Outcome()
				var stop flow.ID
				if o.Stop != nil {
					stop = o.Stop.Flow.ID
				}
				if o.Goal != w.goal || o.Reached != w.reached || stop != w.stop || o.Stage != w.stage || len(o.Probes) != w.probes {
					t.Errorf("operation %d: goal %s reached %v stop %v stage %q probes %d, want %s %v %v %q %d",
						i, o.Goal, o.Reached, stop, o.Stage, len(o.Probes), w.goal, w.reached, w.stop, w.stage, w.probes)
				}
			}
			if rep.Failed() != c.failed {
				t.Errorf("Report.Failed() = %v, want %v", rep.Failed(), c.failed)
			}
		})
	}
	if seen != len(cases) {
		t.Errorf("%d cases name a trace, want %d (a trace was renamed)", seen, len(cases))
	}
}

// Every failing trace in the corpus ends in a failure finding that names a
// flow of the failed operation, and no trace that ends well has a primary
// failure: "succeeded" is never said of a failed run.
func TestEveryFailedTraceGetsAFailureFinding(t *testing.T) {
	for _, tr := range allTraces() {
		rep := Explain(tr.input())
		p := rep.Primary()
		if rep.Failed() && p == nil {
			t.Errorf("%s: the trace failed and no finding is primary\n%s", tr.name, dump(rep))
		}
		if !rep.Failed() && p != nil {
			t.Errorf("%s: every operation reached its goal (or a later run did), yet %s is primary\n%s", tr.name, p.Rule, dump(rep))
		}
	}
}

// vendorTraces are registries' documented answers that earlier rules read
// wrongly: an auth layer's HTML page, opaque tokens, expired password
// tokens, limits outside Docker Hub, a 403 that never asked for auth.
func vendorTraces() []ruleTrace {
	html401 := func(b *flowtest.Builder) *flowtest.Builder {
		return b.Status(401).Challenge(`Basic realm="Registry realm"`).
			RespBody("text/html", "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n")
	}
	const ghcrOpaque = "djE6YWNtZS9wcml2YXRlOjE3MzMzMTIwMDA6c2lnbmF0dXJl"
	opaqueBody := `{"token":"` + ghcrOpaque + `"}`
	const ecrHost = "https://123456789012.dkr.ecr.eu-north-1.amazonaws.com"
	malformedTok := outJWT(jwt.MapClaims{"iss": "auth.test", "aud": "registry.test", "exp": flowtest.Epoch.Add(time.Hour).Unix(),
		"access": map[string]any{"type": "repository", "name": "team/app", "actions": []string{"pull"}}})
	return []ruleTrace{
		// Class 3: an HTML 401 with a usable challenge is the auth layer.
		{
			name: "nginx auth_basic answers a wrong password with its HTML 401 page and a Basic challenge",
			flows: []*flowtest.Builder{
				html401(flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA)),
				html401(flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Basic("alice", "wrong")),
			},
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},
		{
			name: "nginx auth_basic answers an anonymous manifest request with its HTML 401 page",
			flows: []*flowtest.Builder{
				html401(flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA)),
			},
			want:    []Rule{RuleBasicChallengeNoCredentials},
			primary: RuleBasicChallengeNoCredentials,
		},

		// Class 4: opaque tokens show neither grants nor expiry.
		{
			name: "an anonymous opaque GHCR token refused with 401 and no error is a private or missing package",
			flows: []*flowtest.Builder{
				flowtest.Get("https://ghcr.test/v2/").UA(credCraneUA).Status(401).Challenge(outGhcr),
				outAnonToken("https://ghcr.test/token", "ghcr.test", "repository:acme/private:pull", credCraneUA).Status(200).JSON(opaqueBody),
				flowtest.Get("https://ghcr.test/v2/acme/private/manifests/latest").UA(credCraneUA).Bearer(ghcrOpaque).Status(401).
					Challenge(`Bearer realm="https://ghcr.test/token",service="ghcr.test",scope="repository:acme/private:pull"`).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "an anonymous opaque Artifact Registry token refused with 403 or it may not exist",
			flows: []*flowtest.Builder{
				flowtest.Get("https://europe-docker.pkg.test/v2/").UA(credSkopeoUA).Status(401).
					Challenge(`Bearer realm="https://europe-docker.pkg.test/v2/token",service="europe-docker.pkg.test"`),
				outAnonToken("https://europe-docker.pkg.test/v2/token", "europe-docker.pkg.test", "repository:proj/repo/img:pull", credSkopeoUA).Status(200).JSON(`{"token":"ya29.opaque-anonymous"}`),
				flowtest.Get("https://europe-docker.pkg.test/v2/proj/repo/img/manifests/1").UA(credSkopeoUA).Bearer("ya29.opaque-anonymous").Status(403).
					JSON(`{"errors":[{"code":"DENIED","message":"Permission \"artifactregistry.repositories.downloadArtifacts\" denied on resource \"projects/proj/locations/europe/repositories/repo\" (or it may not exist)"}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},
		{
			name: "an opaque token obtained with credentials and refused without error is not called a key problem",
			flows: []*flowtest.Builder{
				flowtest.Get("https://ghcr.test/v2/").UA(credCraneUA).Status(401).Challenge(outGhcr),
				outAnonToken("https://ghcr.test/token", "ghcr.test", "repository:acme/app:pull", credCraneUA).Basic("alice", "ghp_x").Status(200).JSON(opaqueBody),
				flowtest.Get("https://ghcr.test/v2/acme/app/manifests/latest").UA(credCraneUA).Bearer(ghcrOpaque).Status(401).
					Challenge(`Bearer realm="https://ghcr.test/token",service="ghcr.test",scope="repository:acme/app:pull"`),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},

		{
			name: "an anonymous JWT whose access claim is an object and is refused without error cannot be read as granting nothing",
			flows: []*flowtest.Builder{
				tokPing("https://registry.test", tokRealm),
				outAnonToken("https://auth.test/token", "registry.test", "repository:team/app:pull", tokUA).Status(200).JSON(tokBody(malformedTok)),
				flowtest.Get(base() + "/manifests/1.0").UA(tokUA).Bearer(malformedTok).Status(401).
					Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},

		{
			name:   "containerd's not found from a log is a HEAD 404 with nothing hidden behind it",
			source: &Source{Name: "Kubernetes events", HidesAuth: true, Lacks: "the requests", Capture: "crictl pull ghcr.io/acme/validator:v0.0.9"},
			flows: []*flowtest.Builder{
				flowtest.Head("https://ghcr.test/v2/acme/validator/manifests/v0.0.9").UA(outCtrdUA).Status(404).Inferred(),
			},
			want:    []Rule{RuleNotFoundIsReal},
			primary: RuleNotFoundIsReal,
		},
		{
			name:   "a log's inferred 401 without a challenge is not called unchallenged",
			source: &Source{Name: "skopeo debug log", HidesAuth: true, Lacks: "challenges"},
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Inferred(),
				flowtest.Get(base() + "/manifests/1.0").UA(credSkopeoUA).Status(401).Inferred(),
			},
			want:       []Rule{RuleUnexplainedFailure},
			primary:    RuleUnexplainedFailure,
			candidates: []Rule{RuleInsufficientScope, RuleAccessEmptyAuthed, RuleCredentialsRejectedAtToken, RuleBasicChallengeNoCredentials},
		},

		// Class 5: vendor texts that need their own fix.
		{
			name: "ECR answers an expired 12-hour password with 403 and the fix is a new login, not a permission",
			flows: []*flowtest.Builder{
				flowtest.Get(ecrHost+"/v2/helpers/manifests/latest").UA(tokUA).Basic("AWS", "eyJwYXlsb2FkIjoiZXhwaXJlZCJ9").Status(403).
					RespBody("text/plain; charset=utf-8", "Your authorization token has expired. Reauthenticate and try again."),
			},
			want:    []Rule{RuleExpiredPasswordToken},
			primary: RuleExpiredPasswordToken,
		},
		{
			name: "a registry's JSON 403 that says the login token expired is not a denial",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Basic("oauth2accesstoken", "ya29.old").Status(200),
				flowtest.Get(base()+"/manifests/1.0").UA(credSkopeoUA).Basic("oauth2accesstoken", "ya29.old").Status(403).
					JSON(`{"errors":[{"code":"DENIED","message":"Your credentials have expired, log in again"}]}`),
			},
			want:    []Rule{RuleExpiredPasswordToken, RuleLoginSucceededProvesLittle},
			primary: RuleExpiredPasswordToken,
		},
		{
			name: "Quay's anonymous 429 is a rate limit that is not Docker Hub's",
			flows: []*flowtest.Builder{
				flowtest.Get("https://quay.test/v2/org/app/manifests/1").UA(credSkopeoUA).Status(429).
					JSON(`{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`),
			},
			want:    []Rule{RuleRateLimited},
			primary: RuleRateLimited,
		},
		{
			name: "Artifactory answers an anonymous HEAD 403 with no challenge at all",
			flows: []*flowtest.Builder{
				flowtest.Head("https://artifactory.test/v2/docker-local/app/manifests/1").UA(outCtrdUA).Status(403),
			},
			want:    []Rule{RuleAuthRequiredNotChallenge, RuleHeadErrorWithoutBody},
			primary: RuleAuthRequiredNotChallenge,
		},
	}
}

func base() string { return "https://registry.test/v2/team/app" }

// outJWT signs any claims, well-formed or not.
func outJWT(c jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("test-key"))
	if err != nil {
		panic(err)
	}
	return s
}

// The rate-limit text names Docker Hub only for Docker Hub.
func TestRateLimitTextNamesTheRegistry(t *testing.T) {
	for _, c := range []struct {
		host string
		hub  bool
	}{{"https://quay.test", false}, {"https://registry-1.docker.io", true}, {"https://ghcr.io", false}} {
		rep := Explain(ruleTrace{flows: []*flowtest.Builder{
			flowtest.Get(c.host + "/v2/org/app/manifests/1").UA(credSkopeoUA).Status(429),
		}}.input())
		p := rep.Primary()
		if p == nil || p.Rule != RuleRateLimited {
			t.Fatalf("%s: primary %v", c.host, p)
		}
		if got := strings.Contains(p.Why+p.Fix, "Docker Hub") || strings.Contains(p.Fix, "Hub does not count"); got != c.hub {
			t.Errorf("%s: mentions Docker Hub = %v, want %v:\n%s\n%s", c.host, got, c.hub, p.Why, p.Fix)
		}
	}
}
