package decode

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/decode/redact"
)

// hubJWT makes a token shaped like Docker Hub's, granting access.
func hubJWT(t *testing.T, access ...map[string]any) string {
	t.Helper()
	if access == nil {
		access = []map[string]any{}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "auth.docker.io", "sub": "alice", "aud": "registry.docker.io",
		"exp": flowtest.Epoch.Add(5 * time.Minute).Unix(), "iat": flowtest.Epoch.Unix(), "nbf": flowtest.Epoch.Unix(),
		"jti": "j1", "access": access,
	})
	s, err := tok.SignedString([]byte("test-key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeAll(flows []*flow.Flow) []*Exchange {
	s := NewSession()
	out := make([]*Exchange, len(flows))
	for i, f := range flows {
		out[i] = s.Decode(f)
	}
	return out
}

func hubPull(t *testing.T, scopeName string, access []map[string]any) []*flow.Flow {
	tok := hubJWT(t, access...)
	body := fmt.Sprintf(`{"token":%q,"access_token":%q,"expires_in":300,"issued_at":"2026-01-02T03:04:05Z"}`, tok, tok)
	return flowtest.Seq(
		flowtest.Get("https://registry-1.docker.io/v2/").UA("docker/24.0.5 go/go1.20.6").Status(401).
			Challenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`),
		flowtest.Get("https://auth.docker.io/token?scope="+url.QueryEscape("repository:"+scopeName+":pull")+"&service=registry.docker.io").
			Basic("alice", "hunter2").UA("docker/24.0.5").Status(200).JSON(body),
		flowtest.Get("https://registry-1.docker.io/v2/"+scopeName+"/manifests/latest").Bearer(tok).UA("docker/24.0.5").Status(401).
			Challenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:`+scopeName+`:pull",error="insufficient_scope"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"`+scopeName+`","Action":"pull"}]}]}`),
	)
}

func TestSessionDockerHubPull(t *testing.T) {
	xs := decodeAll(hubPull(t, "library/nginx", []map[string]any{{"type": "repository", "name": "library/nginx", "actions": []string{"pull"}}}))
	ping, tokx, man := xs[0], xs[1], xs[2]
	if ping.Kind != KindPing || ping.Registry != "docker.io" || len(ping.Challenges) != 1 || ping.Challenges[0].Realm() != "https://auth.docker.io/token" {
		t.Errorf("ping = %v %q %+v", ping.Kind, ping.Registry, ping.Challenges)
	}
	if ping.Errors.Format != "errors" || ping.Errors.Errors[0].Code != "UNAUTHORIZED" || ping.Client.Family != "docker" {
		t.Errorf("ping errors %+v client %+v", ping.Errors, ping.Client)
	}
	if tokx.Kind != KindTokenRequest || tokx.Registry != "docker.io" || tokx.TokenRequest == nil ||
		len(tokx.TokenRequest.Scopes) != 1 || tokx.TokenRequest.Scopes[0].Name != "library/nginx" || tokx.TokenRequest.Auth.User != "alice" {
		t.Fatalf("token request = %v %q %+v", tokx.Kind, tokx.Registry, tokx.TokenRequest)
	}
	if tokx.TokenResponse == nil || tokx.TokenResponse.Token == nil || tokx.TokenResponse.Differ || tokx.TokenResponse.ExpiresIn != 300 {
		t.Fatalf("token response = %+v", tokx.TokenResponse)
	}
	if man.Kind != KindManifestGet || man.Repo != "library/nginx" || man.Ref != "latest" || man.TokenFrom != 2 || man.Token == nil || man.Missing != nil {
		t.Errorf("manifest = %v %q %q from %v missing %v", man.Kind, man.Repo, man.Ref, man.TokenFrom, man.Missing)
	}
	if man.Challenges[0].ErrorCode() != "insufficient_scope" {
		t.Errorf("manifest challenge %+v", man.Challenges)
	}
	if strings.Contains(fmt.Sprintf("%+v", xs), "hunter2") {
		t.Error("decoded exchanges hold the password")
	}
}

func TestSessionScopeWithoutLibraryPrefixGrantsNothing(t *testing.T) {
	xs := decodeAll(hubPull(t, "nginx", nil))
	man := xs[2]
	if man.Repo != "nginx" || NormalizeRepo(man.Host, man.Repo) != "library/nginx" {
		t.Errorf("repo %q", man.Repo)
	}
	if len(man.Missing) != 1 || man.Missing[0].String() != "repository:nginx:pull" {
		t.Errorf("missing = %v, want repository:nginx:pull", man.Missing)
	}
	if c := man.Token.Claims; c == nil || !c.HasAccess || len(c.Access) != 0 {
		t.Errorf("claims = %+v, want an empty access list", c)
	}
}

// A token whose access claim is an object, not an array: the token response
// and every request carrying the token say so, and nothing is called missing
// (what the token grants cannot be told), unlike an empty access list.
func TestSessionMalformedAccessClaimIsNotGrantedNothing(t *testing.T) {
	tok := unsignedTestJWT(`{"alg":"none"}`, `{"sub":"alice","exp":"never","access":{"type":"repository","name":"team/app","actions":["pull"]}}`) + "sig"
	xs := decodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
		flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").Status(200).
			JSON(fmt.Sprintf(`{"token":%q,"access_token":%q}`, tok, tok)),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1").Bearer(tok).Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",error="invalid_token"`),
	))
	want := []string{
		`claim "exp" is a JSON string ("never"), not a NumericDate`,
		`claim "access" is a JSON object, not an array (docker token spec): what the token grants cannot be told`,
	}
	for _, x := range xs[1:] {
		var got []string
		for _, is := range x.Issues {
			if is.Where == "JWT claims" {
				got = append(got, is.What)
			}
		}
		ok := len(got) == len(want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], want[i])
		}
		if !ok {
			t.Errorf("flow %d: JWT claims issues = %q, want %q (once each)", x.Flow.ID, got, want)
		}
	}
	man := xs[2]
	if c := man.Token.Claims; c == nil || c.HasAccess || !c.AccessMalformed || man.Missing != nil {
		t.Errorf("manifest: claims %+v, missing %v; want AccessMalformed, not HasAccess, nothing missing", c, man.Missing)
	}
}

// Offline HAR files are redacted: decoding a redacted trace must give the
// same meaning (token links, scopes, users) as the live one.
func TestSessionRedactedTraceDecodesTheSame(t *testing.T) {
	flows := hubPull(t, "library/nginx", []map[string]any{{"type": "repository", "name": "library/nginx", "actions": []string{"pull"}}})
	var red []*flow.Flow
	for _, f := range flows {
		red = append(red, redact.Flow(f))
	}
	live, off := decodeAll(flows), decodeAll(red)
	for i := range live {
		l, o := live[i], off[i]
		if l.Kind != o.Kind || l.Repo != o.Repo || l.TokenFrom != o.TokenFrom || l.Auth.User != o.Auth.User ||
			fmt.Sprint(l.Missing) != fmt.Sprint(o.Missing) || fmt.Sprint(l.Need) != fmt.Sprint(o.Need) {
			t.Errorf("flow %d: live %v %q from %v user %q missing %v; redacted %v %q from %v user %q missing %v",
				i+1, l.Kind, l.Repo, l.TokenFrom, l.Auth.User, l.Missing, o.Kind, o.Repo, o.TokenFrom, o.Auth.User, o.Missing)
		}
		if (l.Token == nil) != (o.Token == nil) || l.Token != nil && l.Token.ID != o.Token.ID {
			t.Errorf("flow %d: token IDs differ", i+1)
		}
	}
	if !off[1].TokenRequest.Auth.Redacted || off[2].TokenFrom != 2 {
		t.Errorf("redacted token request auth %+v, token link %v", off[1].TokenRequest.Auth, off[2].TokenFrom)
	}
}

func TestSessionRealmOnOtherHostAndPath(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test:5000/v2/").Status(401).Challenge(`Bearer realm="https://sso.corp.test/issue/registry-token",service="reg"`),
		flowtest.Get("https://sso.corp.test/issue/registry-token?service=reg").Status(200).JSON(`{"token":"opaque-1"}`),
		flowtest.Get("https://registry.test:5000/v2/team/app/tags/list").Bearer("opaque-1").Status(200).JSON(`{"name":"team/app","tags":["1"]}`),
		flowtest.Get("https://other.test/issue/registry-token").Status(200),
	))
	if xs[1].Kind != KindTokenRequest || xs[1].Registry != "registry.test:5000" {
		t.Errorf("realm request = %v for %q", xs[1].Kind, xs[1].Registry)
	}
	if xs[2].TokenFrom != 2 || xs[2].Token == nil || xs[2].Token.JWT || xs[2].Missing != nil {
		t.Errorf("opaque token link = %v %+v missing %v", xs[2].TokenFrom, xs[2].Token, xs[2].Missing)
	}
	if xs[3].Kind != KindOther {
		t.Errorf("unrelated host with the same path = %v", xs[3].Kind)
	}
}

func TestSessionCommonTokenPathWithoutChallenge(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Get("https://ghcr.io/token?scope=repository:o/r:pull&service=ghcr.io").Status(200).JSON(`{"token":"djE6b3Iv"}`),
		flowtest.Post("https://auth.test/oauth2/token").Form(url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"pw"}, "scope": {"repository:a:pull repository:b:push"}, "service": {"s"}}).
			Status(200).JSON(`{"access_token":"x"}`),
		flowtest.Get("https://example.test/token").Status(200),
	))
	if xs[0].Kind != KindTokenRequest || xs[1].Kind != KindTokenRequest || xs[2].Kind != KindOther {
		t.Errorf("kinds = %v %v %v", xs[0].Kind, xs[1].Kind, xs[2].Kind)
	}
	if tr := xs[1].TokenRequest; tr.GrantType != "password" || !tr.HasPassword || tr.Username != "bob" || len(tr.Scopes) != 2 {
		t.Errorf("POST token request = %+v", tr)
	}
}

func TestSessionBlobRedirect(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:aa").Status(307).Location("https://cdn.test/blobs/aa?X-Amz-Signature=sig"),
		flowtest.Get("https://cdn.test/blobs/aa?X-Amz-Signature=sig").Status(403).
			RespBody("application/xml", `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:bb").Status(302).Location("/v2/team/app/blobs/sha256:bb?relative=1"),
		flowtest.Get("https://registry.test/v2/team/app/blobs/sha256:bb?relative=1").Status(200).Blob(10),
	))
	if x := xs[1]; x.Kind != KindBlobRedirect || x.RedirectFrom != 1 || x.Repo != "team/app" || x.Ref != "sha256:aa" {
		t.Errorf("redirect target = %v from %v %q %q", x.Kind, x.RedirectFrom, x.Repo, x.Ref)
	}
	if e := xs[1].Errors; e.Format != "xml" || len(e.Errors) != 1 || e.Errors[0].Code != "AccessDenied" {
		t.Errorf("S3 error = %+v", e)
	}
	if x := xs[3]; x.Kind != KindBlobRedirect || x.RedirectFrom != 3 {
		t.Errorf("relative redirect target = %v from %v", x.Kind, x.RedirectFrom)
	}
}

func TestSessionNeedsAndIssues(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Post("https://registry.test/v2/team/app/blobs/uploads/?mount=sha256:1&from=other/lib").Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull,push repository:other/lib:pull"`),
		flowtest.Get("https://registry.test/v2/").Status(401).Challenge(`Bearer realm="unterminated`),
		flowtest.Get("https://registry.test/v2/").Status(401).Challenge(`Bearer realm="not-a-url"`),
	))
	if len(xs[0].Need) != 2 || xs[0].Kind != KindBlobMount || xs[0].From != "other/lib" {
		t.Errorf("mount = %v need %v from %q", xs[0].Kind, xs[0].Need, xs[0].From)
	}
	if scopes, _ := xs[0].Challenges[0].Scopes(); len(scopes) != 2 {
		t.Errorf("challenge scopes = %v", scopes)
	}
	if len(xs[1].Issues) == 0 || len(xs[2].Issues) == 0 {
		t.Errorf("malformed challenges gave no issues: %+v / %+v", xs[1].Issues, xs[2].Issues)
	}
}

// A challenge broken after its realm still names the realm: the token
// request that follows is recognised, and the Exchange says what broke where.
func TestSessionBrokenChallengeKeepsTheRealm(t *testing.T) {
	for _, h := range []string{
		`Bearer realm="https://sso.corp.test/issue",service="reg`,
		`Bearer realm="https://sso.corp.test/issue",service=`,
	} {
		xs := decodeAll(flowtest.Seq(
			flowtest.Get("https://registry.test/v2/").Status(401).Challenge(h),
			flowtest.Get("https://sso.corp.test/issue?service=reg").Status(200).JSON(`{"token":"opaque-1"}`),
		))
		if got := xs[0].Challenges; len(got) != 1 || got[0].Realm() != "https://sso.corp.test/issue" {
			t.Errorf("challenge %q: Challenges = %s, want Bearer with its realm", h, showChallenges(got))
		}
		if is := xs[0].Issues; len(is) != 1 || is[0].Where != "WWW-Authenticate" || !strings.Contains(is[0].What, `auth-param "service"`) || !strings.HasPrefix(is[0].What, "at byte 51: ") {
			t.Errorf("challenge %q: Issues = %+v, want one at byte 51 naming service", h, is)
		}
		if xs[1].Kind != KindTokenRequest {
			t.Errorf("challenge %q: the request to its realm is %v, want a token request", h, xs[1].Kind)
		}
	}
}

func TestSessionTransportFailureAndHEAD(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").Err(flow.ErrUnknownAuthority, "unknown authority"),
		flowtest.Head("https://registry.test/v2/a/manifests/1").Status(404),
		flowtest.Get("https://registry.test/v2/a/manifests/1").Status(429).RespHeader("Retry-After", "30").
			RespHeader("RateLimit-Limit", "100;w=21600").RespHeader("RateLimit-Remaining", "0;w=21600").
			JSON(`{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}`),
	))
	if xs[0].Kind != KindPing || xs[0].Errors.Format != "" {
		t.Errorf("failed flow = %v %+v", xs[0].Kind, xs[0].Errors)
	}
	if xs[1].Errors.Format != "empty" {
		t.Errorf("HEAD 404 body = %+v", xs[1].Errors)
	}
	if rl := xs[2].RateLimit; rl == nil || rl.RemainingN != 0 || rl.LimitN != 100 || rl.RetryAfter != 30*time.Second {
		t.Errorf("rate limit = %+v", rl)
	}
}

// A tunnel the proxy could not open is attributed to the registry whose
// challenge named its host as the realm, whatever port form either uses.
func TestSessionTunnelToRealm(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
		flowtest.New("CONNECT", "https://auth.test:443").Status(502).Body("text/plain", ""),
		flowtest.New("CONNECT", "https://other.test:443").Status(502),
		flowtest.Get("http://plain.test:5000/v2/").Status(401).Challenge(`Bearer realm="http://auth.plain.test/token"`),
		flowtest.New("CONNECT", "https://AUTH.PLAIN.TEST:80").Status(502),
		flowtest.New("CONNECT", "https://auth.test:8443").Status(502),
	))
	for i, c := range []struct {
		kind    Kind
		reg     string
		toRealm bool
	}{
		1: {KindTunnel, "registry.test", true},
		2: {KindTunnel, "other.test", false},
		4: {KindTunnel, "plain.test:5000", true},
		5: {KindTunnel, "auth.test:8443", false},
	} {
		if c.kind == KindOther {
			continue
		}
		if x := xs[i]; x.Kind != c.kind || x.Registry != c.reg || x.ToRealm != c.toRealm {
			t.Errorf("flow %d = %v %q toRealm=%v, want %v %q %v", i+1, x.Kind, x.Registry, x.ToRealm, c.kind, c.reg, c.toRealm)
		}
	}
}

// A CONNECT the proxy could not open (issue 12) is its own kind, its Host
// the tunnel's target as requests name it, and a realm's host goes to the
// registry whose challenge named it.
func TestSessionFailedConnect(t *testing.T) {
	connect := func(target string) *flowtest.Builder {
		return flowtest.New(http.MethodConnect, "https://"+target).Err(flow.ErrRefused, "upstream "+target+" refused the connection")
	}
	xs := decodeAll(flowtest.Seq(
		connect("down.test:443"),
		flowtest.Get("https://registry.test:5000/v2/").Status(401).Challenge(`Bearer realm="https://auth.test/token",service="reg"`),
		connect("auth.test:443"),
		connect("registry.test:5000"),
		connect("auth.test:8443"),
	))
	for i, want := range []struct{ host, registry string }{
		0: {"down.test", "down.test"},
		2: {"auth.test", "registry.test:5000"},
		3: {"registry.test:5000", "registry.test:5000"},
		4: {"auth.test:8443", "auth.test:8443"},
	} {
		if want.host == "" {
			continue
		}
		if x := xs[i]; x.Kind != KindTunnel || x.Host != want.host || x.Registry != want.registry || x.Flow.Err.Kind != flow.ErrRefused {
			t.Errorf("flow %d: %v host %q registry %q, want connect %q %q", i+1, x.Kind, x.Host, x.Registry, want.host, want.registry)
		}
	}
}

// TestDecodeAllAgreesWithDecode: DecodeAll parses on every core first;
// each exchange must still read the session state the flows before it
// left (realms learnt from challenges, tokens issued, redirects).
func TestDecodeAllAgreesWithDecode(t *testing.T) {
	defer func(n int) { parallelMin = n }(parallelMin)
	parallelMin = 1
	var bs []*flowtest.Builder
	for i := range 40 {
		repo := fmt.Sprintf("team/app%d", i)
		realm := fmt.Sprintf("https://auth%d.test/token", i%3)
		if i%5 == 4 {
			// A realm inside the registry API: read only once its
			// challenge is known.
			realm = "https://registry.test/v2/_auth/token"
		}
		bs = append(bs,
			flowtest.New(http.MethodConnect, "https://registry.test:443").Status(200),
			flowtest.Get("https://registry.test/v2/").UA("containerd/1.7.2").Status(401).
				Challenge(`Bearer realm="`+realm+`",service="registry.test"`),
			// A tunnel to the realm joins the registry that named it.
			flowtest.New(http.MethodConnect, fmt.Sprintf("https://auth%d.test:443", i%3)).Err(flow.ErrRefused, "refused"),
			// Not a well-known token path: only the challenge before
			// makes it a token request.
			flowtest.Post(realm).UA("containerd/1.7.2").Form(url.Values{"scope": {"repository:" + repo + ":pull"}, "service": {"registry.test"}}).
				Status(200).JSON(`{"access_token":"opaque-`+repo+`"}`),
			flowtest.Head("https://registry.test/v2/"+repo+"/manifests/1.0").UA("containerd/1.7.2").Bearer("opaque-"+repo).
				Status(404).Challenge(`Bearer realm="`+realm+`",error="insufficient_scope"`),
			flowtest.Get("https://registry.test/v2/"+repo+"/blobs/sha256:ab").UA("skopeo/1.9.3").Bearer("opaque-"+repo).
				Status(307).Location("https://blobs.test/"+repo+"?sig=x"),
			flowtest.Get("https://blobs.test/"+repo+"?sig=x").UA("skopeo/1.9.3").Status(403).
				RespBody("application/xml", `<Error><Code>AccessDenied</Code></Error>`),
			flowtest.Get("https://registry.test/v2/"+repo+"/manifests/2.0").UA("skopeo/1.9.3").Status(429).
				RespHeader("Ratelimit-Remaining", "0;w=21600").JSON(`{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`),
		)
	}
	flows := flowtest.Seq(bs...)
	want := decodeAll(flows)
	got := NewSession().DecodeAll(flows)
	if len(got) != len(want) {
		t.Fatalf("DecodeAll gave %d exchanges for %d flows", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("flow %d (%s %s):\nDecodeAll %+v\nDecode    %+v", i, flows[i].Request.Method, flows[i].Request.URL, *got[i], *want[i])
		}
	}
	var kinds = map[Kind]int{}
	for _, x := range got {
		kinds[x.Kind]++
	}
	// The test only shows something if the state-dependent kinds occur.
	realmTunnels := 0
	for _, x := range got {
		if x.ToRealm {
			realmTunnels++
		}
	}
	if realmTunnels == 0 {
		t.Error("no tunnel to a realm: the flows do not exercise the realm hosts")
	}
	for _, k := range []Kind{KindTokenRequest, KindBlobRedirect, KindTunnel} {
		if kinds[k] == 0 {
			t.Errorf("no %s exchange: the flows do not exercise the session state (%v)", k, kinds)
		}
	}
}

// TestSessionMirrorNamesItsUpstream: containerd asks a hosts.toml mirror
// with ns=<the image's registry>; the server itself gets no ns, and an ns
// that is not a host, or names the registry asked, is not an upstream.
func TestSessionMirrorNamesItsUpstream(t *testing.T) {
	xs := decodeAll(flowtest.Seq(
		flowtest.Head("https://mirror.example:5000/v2/library/nginx/manifests/1.27?ns=docker.io").UA("containerd/1.7.24").Status(404),
		flowtest.Head("https://harbor.example/v2/proxy/team/app/manifests/1.0?ns=Registry.Example%3A5000").UA("containerd/2.0.0").Status(200),
		flowtest.Get("https://harbor.example/v2/proxy/team/app/blobs/sha256:"+strings.Repeat("a", 64)+"?ns=registry.example:5000").UA("containerd/2.0.0").Status(200),
		flowtest.Head("https://registry-1.docker.io/v2/library/nginx/manifests/1.27").UA("containerd/1.7.24").Status(200),
		flowtest.Head("https://registry-1.docker.io/v2/library/nginx/manifests/1.27?ns=docker.io").UA("containerd/1.7.24").Status(200),
		flowtest.Head("https://mirror.example/v2/a/manifests/1?ns=evil.example/path").Status(404),
		flowtest.Head("https://mirror.example/v2/a/manifests/1?ns=").Status(404),
		flowtest.Get("https://mirror.example/token?ns=docker.io&scope=repository:a:pull").Status(404),
	))
	want := []string{"docker.io", "registry.example:5000", "registry.example:5000", "", "", "", "", ""}
	for i, x := range xs {
		if x.Upstream != want[i] {
			t.Errorf("#%d %s %s: Upstream %q, want %q", i+1, x.Kind, x.Flow.Request.URL, x.Upstream, want[i])
		}
	}
}

func TestSessionLinksNothingAcrossPeers(t *testing.T) {
	fs := hubPull(t, "library/nginx", []map[string]any{{"type": "repository", "name": "library/nginx", "actions": []string{"pull"}}})
	fs[0].ProxyUser, fs[1].ProxyUser = "alice", "alice"
	// bob sends alice's token (pasted, or a shared CI secret): it is not
	// the answer to his own token request.
	fs[2].ProxyUser = "bob"
	for name, xs := range map[string][]*Exchange{"Decode": decodeAll(fs), "DecodeAll": NewSession().DecodeAll(fs)} {
		if man := xs[2]; man.TokenFrom != 0 || man.Token == nil {
			t.Errorf("%s: bob's manifest request linked to alice's token request #%d", name, man.TokenFrom)
		}
	}
	// The same flows from one peer link as before.
	fs[2].ProxyUser = "alice"
	if man := NewSession().DecodeAll(fs)[2]; man.TokenFrom != 2 {
		t.Errorf("one peer: TokenFrom = %d, want 2", man.TokenFrom)
	}
}
