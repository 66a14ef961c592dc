package diff

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

const (
	reg     = "https://registry.test"
	realm   = "https://auth.test/token"
	service = "registry.test"
	hub     = "https://registry-1.docker.io"
	hubAuth = "https://auth.docker.io/token"
	docker  = "docker/27.5.1 go/go1.22.12"
	skopeo  = "skopeo/1.18.0"
	crane   = "go-containerregistry/v0.20.3"
)

var E = flowtest.Epoch

// jwtTok makes a registry token: sub, what it grants, and its times
// relative to iat.
func jwtTok(sub string, iat time.Time, life time.Duration, access ...string) string {
	acc := []map[string]any{}
	for _, a := range access {
		name, actions, _ := strings.Cut(a, ":")
		acc = append(acc, map[string]any{"type": "repository", "name": name, "actions": strings.Split(actions, ",")})
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "auth.test", "aud": service, "sub": sub,
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(life).Unix(), "access": acc, "jti": fmt.Sprint(iat.UnixNano(), sub, access)})
	s, err := tok.SignedString([]byte("k"))
	if err != nil {
		panic(err)
	}
	return s
}

func tokBody(t string) string { return fmt.Sprintf(`{"token":%q,"expires_in":300}`, t) }

func ping(base, ua, challenge string) *flowtest.Builder {
	return flowtest.Get(base + "/v2/").UA(ua).Status(401).Challenge(challenge).
		JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}

func tokenReq(realmURL, svc, ua, user string, scopes ...string) *flowtest.Builder {
	q := url.Values{"service": {svc}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	b := flowtest.Get(realmURL + "?" + q.Encode()).UA(ua)
	if user != "" {
		b.Basic(user, "pw")
	}
	return b
}

func denied(b *flowtest.Builder, realmURL, svc, scope string) *flowtest.Builder {
	return b.Status(401).Challenge(fmt.Sprintf(`Bearer realm=%q,service=%q,scope=%q,error="insufficient_scope"`, realmURL, svc, scope)).
		JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}

func side(name string, src *explain.Source, bs ...*flowtest.Builder) Side {
	s := decode.NewSession()
	in := explain.Input{Source: src}
	for _, f := range flowtest.Seq(bs...) {
		in.Exchanges = append(in.Exchanges, s.Decode(f))
	}
	return Side{Name: name, Report: explain.Explain(in)}
}

const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}`

const cfgDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// pull is a whole good pull: ping, token, manifest, config.
func pull(base, realmURL, svc, ua, user, repo string, tok string, access string) []*flowtest.Builder {
	return []*flowtest.Builder{
		ping(base, ua, fmt.Sprintf(`Bearer realm=%q,service=%q`, realmURL, svc)),
		tokenReq(realmURL, svc, ua, user, "repository:"+repo+":pull").Status(200).JSON(tokBody(tok)),
		flowtest.Get(base+"/v2/"+repo+"/manifests/1.0").UA(ua).Bearer(tok).Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest),
		flowtest.Get(base + "/v2/" + repo + "/blobs/" + cfgDigest).UA(ua).Bearer(tok).Status(200).Blob(2),
	}
}

type pairCase struct {
	name string
	a, b Side
	same bool
	// step and what of the first divergence ("" for none); text: what its
	// words must hold.
	step, what string
	text       []string
	// then: a later difference must hold each.
	then []string
}

func pairCases() []pairCase {
	good := jwtTok("alice", E, 5*time.Minute, "team/app:pull")
	empty := jwtTok("", E, 5*time.Minute)
	lib := jwtTok("", E, 5*time.Minute, "library/nginx:pull")
	hubEmpty := jwtTok("", E.Add(time.Second), 5*time.Minute)
	stale := jwtTok("alice", E.Add(-10*time.Minute), 5*time.Minute, "team/app:pull")
	short := jwtTok("alice", E, 30*time.Second, "team/app:pull")
	hubCh := fmt.Sprintf(`Bearer realm=%q,service="registry.docker.io"`, hubAuth)
	challenge := fmt.Sprintf(`Bearer realm=%q,service=%q`, realm, service)

	goodPull := pull(reg, realm, service, docker, "alice", "team/app", good, "team/app:pull")
	return []pairCase{
		{
			name: "the same pull by docker and by skopeo reaches the same outcome",
			a:    side("docker.har", nil, goodPull...),
			b: side("skopeo.har", nil,
				ping(reg, skopeo, challenge),
				tokenReq(realm, service, skopeo, "alice", "repository:team/app:pull").Status(200).JSON(tokBody(good)),
				flowtest.Head(reg+"/v2/team/app/manifests/1.0").UA(skopeo).Bearer(good).Status(200),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(skopeo).Bearer(good).Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest),
				flowtest.Get(reg+"/v2/team/app/blobs/"+cfgDigest).UA(skopeo).Bearer(good).Status(200).Blob(2)),
			same: true,
		},
		{
			name: "without credentials the token server grants nothing and the manifest is refused",
			a:    side("with.har", nil, goodPull...),
			b: side("without.har", nil,
				ping(reg, docker, challenge),
				tokenReq(realm, service, docker, "", "repository:team/app:pull").Status(200).JSON(tokBody(empty)),
				denied(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(docker).Bearer(empty), realm, service, "repository:team/app:pull")),
			step: "token", what: "credentials",
			text: []string{"B never sent credentials to the token server and got a token granting nothing", "A sent Basic for user alice"},
			then: []string{"manifest 1.0", "401 UNAUTHORIZED insufficient_scope"},
		},
		{
			name: "Docker Hub: a scope without library/ gets an empty grant",
			a: side("docker.har", nil,
				ping(hub, docker, hubCh),
				tokenReq(hubAuth, "registry.docker.io", docker, "", "repository:library/nginx:pull").Status(200).JSON(tokBody(lib)),
				flowtest.Get(hub+"/v2/library/nginx/manifests/latest").UA(docker).Bearer(lib).Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest)),
			b: side("script.har", nil,
				ping(hub, "curl/8.5.0", hubCh),
				tokenReq(hubAuth, "registry.docker.io", "curl/8.5.0", "", "repository:nginx:pull").Status(200).JSON(tokBody(hubEmpty)),
				denied(flowtest.Get(hub+"/v2/nginx/manifests/latest").UA("curl/8.5.0").Bearer(hubEmpty), hubAuth, "registry.docker.io", "repository:nginx:pull")),
			step: "token", what: "scopes",
			text: []string{"B asked the realm for `repository:nginx:pull` and got a token granting nothing", "A asked the realm for `repository:library/nginx:pull` and got a token granting repository:library/nginx:pull"},
		},
		{
			name: "a token server whose clock is behind issues tokens already expired",
			a:    side("before.har", nil, goodPull...),
			b: side("after.har", nil,
				ping(reg, docker, challenge),
				tokenReq(realm, service, docker, "alice", "repository:team/app:pull").Status(200).JSON(tokBody(stale)),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(docker).Bearer(stale).Status(401).
					Challenge(fmt.Sprintf(`Bearer realm=%q,service=%q,error="invalid_token"`, realm, service)).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)),
			step: "token", what: "expiry",
			text: []string{"B's token had expired 5m0s before it was issued", "A's token was valid for 5m0s"},
			then: []string{"expired 5m0s before the request", "invalid_token"},
		},
		{
			name: "a token that expires before the last blob request",
			a: side("fast.har", nil,
				ping(reg, crane, challenge),
				tokenReq(realm, service, crane, "alice", "repository:team/app:pull").Status(200).JSON(tokBody(short)),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(crane).Bearer(short).Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest),
				flowtest.Get(reg+"/v2/team/app/blobs/"+cfgDigest).UA(crane).Bearer(short).Status(200).Blob(2)),
			b: side("slow.har", nil,
				ping(reg, crane, challenge),
				tokenReq(realm, service, crane, "alice", "repository:team/app:pull").Status(200).JSON(tokBody(short)),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(crane).Bearer(short).Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest),
				flowtest.Get(reg+"/v2/team/app/blobs/"+cfgDigest).UA(crane).Bearer(short).After(2*time.Minute).Status(401).
					Challenge(fmt.Sprintf(`Bearer realm=%q,service=%q,error="invalid_token"`, realm, service)).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)),
			step: "blob sha256:111111111111…", what: "expiry",
			text: []string{"B's GET blob sha256:111111111111… of team/app carried a Bearer token from #2", "(it had expired 1m30s before the request) and was answered 401 UNAUTHORIZED invalid_token", "A's GET blob"},
		},
		{
			name: "docker falls back to V1 after the 401 where skopeo stops",
			a: side("skopeo.har", nil,
				ping(reg, skopeo, challenge),
				tokenReq(realm, service, skopeo, "", "repository:team/app:pull").Status(200).JSON(tokBody(empty)),
				denied(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(skopeo).Bearer(empty), realm, service, "repository:team/app:pull")),
			b: side("docker.har", nil,
				ping(reg, docker, challenge),
				tokenReq(realm, service, docker, "", "repository:team/app:pull").Status(200).JSON(tokBody(empty)),
				denied(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(docker).Bearer(empty), realm, service, "repository:team/app:pull"),
				flowtest.Get(reg+"/v1/repositories/team/app/images").UA(docker).Status(404).RespBody("text/plain", "404 page not found\n")),
			step: "V1", what: "fallback",
			text: []string{"B fell back to V1 after GET manifest 1.0 of team/app → 401 UNAUTHORIZED insufficient_scope: GET /v1/repositories/team/app/images → 404", "A did not"},
		},
		{
			name: "a different repository: library/alpine against alpine on a private registry",
			a: side("a.har", nil, pull(reg, realm, service, crane, "alice", "library/alpine",
				jwtTok("alice", E, 5*time.Minute, "library/alpine:pull"), "")...),
			b: side("b.har", nil,
				ping(reg, crane, challenge),
				tokenReq(realm, service, crane, "alice", "repository:alpine:pull").Status(200).JSON(tokBody(empty)),
				denied(flowtest.Get(reg+"/v2/alpine/manifests/1.0").UA(crane).Bearer(empty), realm, service, "repository:alpine:pull")),
			step: "image", what: "repository",
			text: []string{"A asked registry.test for repository `library/alpine`; B asked registry.test for `alpine`"},
			then: []string{"`repository:alpine:pull`"},
		},
		{
			name: "one side could not reach the registry",
			a:    side("laptop.har", nil, goodPull...),
			b: side("node.har", nil,
				flowtest.New("CONNECT", "https://registry.test:443").UA(docker).Err(flow.ErrRefused, "dial tcp 10.0.0.1:443: connect: connection refused")),
			step: "connect", what: "transport",
			text: []string{"B could not open a connection to registry.test: no answer (connection-refused); A could"},
		},
		{
			name: "a log without Authorization is not called a credentials difference",
			a:    side("with.har", nil, goodPull...),
			b: side("skopeo.log", &explain.Source{Name: "skopeo debug log", HidesAuth: true, Lacks: "Authorization headers"},
				ping(reg, skopeo, challenge),
				tokenReq(realm, service, skopeo, "", "repository:team/app:pull").Inferred(),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(skopeo).Status(401).Inferred().
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)),
			step: "manifest 1.0",
		},
		{
			name: "a log's token put back unread is not a credentials difference from a HAR's token that covers the request",
			a:    side("with.har", nil, goodPull...),
			b: side("dockerd.log", &explain.Source{Name: "dockerd debug log", HidesAuth: true, Lacks: "every HTTP status"},
				ping(reg, docker, challenge).Inferred(),
				tokenReq(realm, service, docker, "", "repository:team/app:pull").Inferred(),
				flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(docker).Bearer("REDACTED").Status(401).Inferred().
					Challenge(fmt.Sprintf(`Bearer realm=%q,service=%q,error="insufficient_scope"`, realm, service))),
			step: "manifest 1.0", what: "status",
			text: []string{"B's GET manifest 1.0 of team/app was answered 401"},
		},
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range pairCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.a, tc.b)
			if r.Same != tc.same {
				t.Errorf("Same = %v, want %v (A failed %v, B failed %v)", r.Same, tc.same, r.A.Failed, r.B.Failed)
			}
			if tc.same {
				if r.First != nil {
					t.Errorf("a divergence where the runs did the same: %+v", *r.First)
				}
				return
			}
			if r.First == nil {
				t.Fatalf("no divergence named; then %+v", r.Then)
			}
			got := *r.First
			if tc.step != "" && got.Step != tc.step || tc.what != "" && got.What != tc.what {
				t.Errorf("first divergence %s/%s, want %s/%s: %s", got.Step, got.What, tc.step, tc.what, got.Text)
			}
			for _, w := range tc.text {
				if !strings.Contains(got.Text, w) {
					t.Errorf("first divergence does not say %q:\n%s", w, got.Text)
				}
			}
			if len(got.A)+len(got.B) == 0 {
				t.Errorf("no evidence: %+v", got)
			}
			var then strings.Builder
			for _, d := range r.Then {
				then.WriteString(d.Step + ": " + d.Text + "\n")
			}
			for _, w := range tc.then {
				if !strings.Contains(then.String(), w) {
					t.Errorf("what followed does not say %q:\n%s", w, then.String())
				}
			}
			if strings.Contains(got.Text+then.String(), "credentials") && tc.b.Report.Source != nil && got.What == "credentials" {
				t.Errorf("a log that hides Authorization was called a credentials difference: %s", got.Text)
			}
		})
	}
}

// Comparing a run with itself finds nothing, and swapping the sides names
// the same step.
func TestCompareIsSymmetric(t *testing.T) {
	for _, tc := range pairCases() {
		t.Run(tc.name, func(t *testing.T) {
			if r := Compare(tc.a, tc.a); !r.Same || r.First != nil {
				t.Errorf("A against itself: same %v, first %+v", r.Same, r.First)
			}
			ab, ba := Compare(tc.a, tc.b), Compare(tc.b, tc.a)
			if ab.Same != ba.Same || (ab.First == nil) != (ba.First == nil) {
				t.Fatalf("A,B same %v first %v; B,A same %v first %v", ab.Same, ab.First != nil, ba.Same, ba.First != nil)
			}
			if ab.First != nil && (ab.First.Step != ba.First.Step && ab.First.What != "repository" || ab.First.What != ba.First.What) {
				t.Errorf("A,B first %s/%s; B,A first %s/%s", ab.First.Step, ab.First.What, ba.First.Step, ba.First.What)
			}
		})
	}
}
