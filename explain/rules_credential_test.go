package explain

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

const (
	credDockerUA = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64"
	credCtrdUA   = "containerd/1.7.22"
	credSkopeoUA = "skopeo/1.16.1"
	credCraneUA  = "crane/v0.20.2 go-containerregistry/v0.20.2"
	credCurlUA   = "curl/8.5.0"

	credChallenge = `Bearer realm="https://auth.test/token",service="registry.test"`
)

// credJWT builds an unsigned-looking JWT (the signature is never checked)
// for sub with access entries "type:name:action,action".
func credJWT(sub string, access ...string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	acc := []map[string]any{}
	for _, a := range access {
		p := strings.SplitN(a, ":", 3)
		acc = append(acc, map[string]any{"type": p[0], "name": p[1], "actions": strings.Split(p[2], ",")})
	}
	iat := flowtest.Epoch.Unix() - 30
	claims := map[string]any{
		"iss": "auth.test", "aud": "registry.test", "sub": sub, "jti": "j-" + sub,
		"iat": iat, "nbf": iat, "exp": iat + 300, "access": acc,
	}
	return enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

func credTokenJSON(tok string) string {
	return `{"token":"` + tok + `","access_token":"` + tok + `","expires_in":300}`
}

func credChallengeScope(scope string, extra string) string {
	return credChallenge + `,scope="` + scope + `"` + extra
}

func credentialTraces() []ruleTrace {
	pullApp := credJWT("alice", "repository:team/app:pull")
	anonEmpty := credJWT("")
	return []ruleTrace{
		// ---- 15 realm-unreachable-untrusted-or-rejected
		{
			name: "the token server named by the registry refuses connections",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credDockerUA).Status(401).
					Challenge(`Bearer realm="https://auth.internal.test/token",service="registry.test"`),
				flowtest.Get("https://auth.internal.test/token?scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Err(flow.ErrRefused, "dial tcp 10.1.2.3:443: connect: connection refused"),
			},
			want:    []Rule{RuleRealmUnreachable},
			primary: RuleRealmUnreachable,
		},
		{
			name: "crane never asks a token server on a loopback address",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credCraneUA).Status(401).
					Challenge(`Bearer realm="https://127.0.0.1:5001/token",service="registry.test"`),
			},
			want:    []Rule{RuleRealmUnreachable},
			primary: RuleRealmUnreachable,
		},
		{
			name: "a token request that timed out once and then succeeded explains nothing",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Err(flow.ErrTimeout, "i/o timeout"),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(pullApp)),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Bearer(pullApp).Status(200).JSON(`{}`),
			},
		},
		{
			name: "a token server on a private address that answers is no problem",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Status(401).
					Challenge(`Bearer realm="https://10.0.0.5/token",service="registry.test",scope="repository:team/app:pull"`),
				flowtest.Get("https://10.0.0.5/token?scope=repository:team/app:pull&service=registry.test").UA(credCraneUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(pullApp)),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Bearer(pullApp).Status(200).JSON(`{}`),
			},
		},

		// ---- 16 oauth2-post-token-unsupported
		{
			name: "containerd posts a password to a realm that answers 403 and does not fall back",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Post("https://auth.test/token").UA(credCtrdUA).Form(url.Values{
					"grant_type": {"password"}, "username": {"alice"}, "password": {"s3cret"},
					"service": {"registry.test"}, "scope": {"repository:team/app:pull"}, "client_id": {"containerd-client"},
				}).Status(403).RespBody("text/plain", "Forbidden"),
			},
			want:    []Rule{RuleOAuth2PostUnsupported},
			primary: RuleOAuth2PostUnsupported,
		},
		{
			name: "containerd falls back to GET after the realm answers 401 to its POST",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Post("https://auth.test/token").UA(credCtrdUA).Form(url.Values{
					"grant_type": {"password"}, "username": {"alice"}, "password": {"s3cret"},
					"service": {"registry.test"}, "scope": {"repository:team/app:pull"}, "client_id": {"containerd-client"},
				}).Status(401),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credCtrdUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(pullApp)),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Bearer(pullApp).Status(200).JSON(`{}`),
			},
			want: []Rule{RuleOAuth2PostUnsupported},
		},
		{
			name: "a password grant refused with invalid_grant is a credential rejection",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Post("https://auth.test/token").UA(credCtrdUA).Form(url.Values{
					"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"},
					"service": {"registry.test"}, "scope": {"repository:team/app:pull"}, "client_id": {"containerd-client"},
				}).Status(400).JSON(`{"error":"invalid_grant","error_description":"bad credentials"}`),
			},
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},

		{
			name: "containerd falls back to GET after a 404 and the GET is refused too",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Post("https://auth.test/token").UA(credCtrdUA).Form(url.Values{
					"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"},
					"service": {"registry.test"}, "scope": {"repository:team/app:pull"}, "client_id": {"containerd-client"},
				}).Status(404),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credCtrdUA).
					Basic("alice", "wrong").Status(401).JSON(`{"details":"incorrect username or password"}`),
			},
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},

		// ---- 17 token-response-unusable
		{
			name: "the realm answers 200 with a single sign-on page instead of a token",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credSkopeoUA).
					Basic("alice", "s3cret").Status(200).RespBody("text/html; charset=utf-8", "<html><head><title>Sign in</title></head><body></body></html>"),
			},
			want:    []Rule{RuleTokenResponseUnusable},
			primary: RuleTokenResponseUnusable,
		},
		{
			// What the body held is unknown: it is no proof the token was
			// unusable, and the exchange reads as a login that worked.
			name: "the run stops after a token answer whose body the trace does not hold",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credSkopeoUA).
					Basic("alice", "s3cret").Status(200).Blob(1200).RespHeader("Content-Type", "application/json"),
			},
		},
		{
			name: "containerd gets only a token field in answer to its POST",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Post("https://auth.test/token").UA(credCtrdUA).Form(url.Values{
					"grant_type": {"password"}, "username": {"alice"}, "password": {"s3cret"},
					"service": {"registry.test"}, "scope": {"repository:team/app:pull"}, "client_id": {"containerd-client"},
				}).Status(200).JSON(`{"token":"opaque-token-value","expires_in":300}`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCtrdUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
			},
			want:    []Rule{RuleTokenResponseUnusable},
			primary: RuleTokenResponseUnusable,
		},
		{
			name: "a token field alone is fine for a GET and the pull succeeds",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(`{"token":"` + pullApp + `","expires_in":300}`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Bearer(pullApp).Status(200).JSON(`{}`),
			},
		},

		// ---- 18 refresh-token-grant-rejected
		{
			name: "an expired identity token is refused by the refresh grant",
			flows: []*flowtest.Builder{
				flowtest.Get("https://myreg.azurecr.test/v2/").UA(credDockerUA).Status(401).
					Challenge(`Bearer realm="https://myreg.azurecr.test/oauth2/token",service="myreg.azurecr.test"`),
				flowtest.Post("https://myreg.azurecr.test/oauth2/token").UA(credDockerUA).Form(url.Values{
					"grant_type": {"refresh_token"}, "refresh_token": {"eyJhbGciOi.expired.x"},
					"service": {"myreg.azurecr.test"}, "scope": {"repository:team/app:pull"}, "client_id": {"docker"},
				}).Status(401).JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleRefreshTokenGrantRejected},
			primary: RuleRefreshTokenGrantRejected,
		},

		// ---- 13 credentials-rejected-at-token-endpoint
		{
			name: "a registry with its own Basic auth (htpasswd) refuses a wrong password",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Status(401).
					Challenge(`Basic realm="regtrace-basic"`).JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Basic("alice", "wrong").Status(401).
					Challenge(`Basic realm="regtrace-basic"`).JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},
		{
			name: "Basic credentials refused once, then accepted: not rejected",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Basic("alice", "old").Status(401).
					Challenge(`Basic realm="regtrace-basic"`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Basic("alice", "new").Status(200).JSON(`{}`),
			},
			want: nil,
		},
		{
			name: "docker login with a wrong password is refused at the token endpoint",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credDockerUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?account=alice&client_id=docker&offline_token=true&service=registry.test").UA(credDockerUA).
					Basic("alice", "wrong").Status(401).JSON(`{"details":"incorrect username or password"}`),
			},
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},
		{
			name: "a harbor robot name cut short by the shell is refused",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/proj/app/manifests/1.0").UA(credDockerUA).Status(401).
					Challenge(credChallengeScope("repository:proj/app:pull", "")),
				flowtest.Get("https://auth.test/token?account=robot&scope=repository:proj/app:pull&service=registry.test").UA(credDockerUA).
					Basic("robot", "s3cret").Status(401).JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},
		{
			name: "good credentials get a token and the pull succeeds",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credDockerUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?account=alice&scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(pullApp)),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Bearer(pullApp).Status(200).JSON(`{}`),
			},
		},

		// ---- 12 stale-credentials-break-public-pull
		{
			name: "stale docker hub credentials break a pull of an official image",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry-1.docker.io/v2/library/alpine/manifests/latest").UA(credDockerUA).Status(401).
					Challenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`),
				flowtest.Get("https://auth.docker.io/token?account=alice&scope=repository:library/alpine:pull&service=registry.docker.io").UA(credDockerUA).
					Basic("alice", "old-password").Status(401).JSON(`{"details":"incorrect username or password"}`),
			},
			want:    []Rule{RuleStaleCredentialsPublicPull, RuleCredentialsRejectedAtToken},
			primary: RuleStaleCredentialsPublicPull,
		},
		{
			name: "stale credentials are refused while curl gets the same repository anonymously",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/tool/manifests/2.0").UA(credSkopeoUA).Status(401).
					Challenge(credChallengeScope("repository:team/tool:pull", "")),
				flowtest.Get("https://auth.test/token?account=alice&scope=repository:team/tool:pull&service=registry.test").UA(credSkopeoUA).
					Basic("alice", "revoked-pat").Status(401).RespBody("text/plain", "HTTP Basic: Access denied"),
				flowtest.Get("https://auth.test/token?scope=repository:team/tool:pull&service=registry.test").UA(credCurlUA).
					Status(200).JSON(credTokenJSON(credJWT("", "repository:team/tool:pull"))),
			},
			want:    []Rule{RuleStaleCredentialsPublicPull, RuleCredentialsRejectedAtToken},
			primary: RuleStaleCredentialsPublicPull,
		},

		// ---- 11 credentials-not-sent
		{
			name: "credentials stored for the registry with its port are not used without it",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test:5000/v2/").UA(credDockerUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?account=alice&client_id=docker&offline_token=true&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(credJWT("alice"))),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Status(200).JSON(credTokenJSON(anonEmpty)),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Bearer(anonEmpty).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", `,error="insufficient_scope"`)).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleCredentialsNotSent, RuleInsufficientScope},
			primary: RuleCredentialsNotSent,
		},
		{
			name: "an anonymous public pull succeeds",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credCraneUA).
					Status(200).JSON(credTokenJSON(credJWT("", "repository:team/app:pull"))),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credCraneUA).Bearer(credJWT("", "repository:team/app:pull")).
					Status(200).JSON(`{}`),
			},
		},
		{
			name:      "a sanitized HAR without authorization headers does not prove credentials were not sent",
			sanitized: true,
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test:5000/v2/").UA(credDockerUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?account=alice&client_id=docker&offline_token=true&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(credJWT("alice"))),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Status(401).
					Challenge(credChallengeScope("repository:team/app:pull", "")),
				flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Status(403).JSON(`{"details":"access denied"}`),
			},
			want:    []Rule{RuleUnexplainedFailure},
			primary: RuleUnexplainedFailure,
		},

		{
			name: "an anonymous pull of a private repository with no credentials anywhere is only ambiguous",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/team/private/manifests/1.0").UA(credDockerUA).Status(401).
					Challenge(credChallengeScope("repository:team/private:pull", "")),
				flowtest.Get("https://auth.test/token?scope=repository:team/private:pull&service=registry.test").UA(credDockerUA).
					Status(200).JSON(credTokenJSON(anonEmpty)),
				flowtest.Get("https://registry.test/v2/team/private/manifests/1.0").UA(credDockerUA).Bearer(anonEmpty).Status(401).
					Challenge(credChallengeScope("repository:team/private:pull", `,error="insufficient_scope"`)).
					JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleInsufficientScope},
			primary: RuleInsufficientScope,
		},

		// ---- 10 basic-challenge-no-credentials
		{
			name: "skopeo sends empty basic credentials to a basic-auth registry",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(`Basic realm="Registry Realm"`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credSkopeoUA).Basic("", "").Status(401).
					Challenge(`Basic realm="Registry Realm"`).JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			want:    []Rule{RuleBasicChallengeNoCredentials},
			primary: RuleBasicChallengeNoCredentials,
		},
		{
			name: "docker stops at a basic challenge it has no credentials for",
			flows: []*flowtest.Builder{
				flowtest.Get("https://123456789012.dkr.ecr.eu-west-1.amazonaws.test/v2/").UA(credDockerUA).Status(401).
					Challenge(`Basic realm="https://123456789012.dkr.ecr.eu-west-1.amazonaws.test/",service="ecr.amazonaws.com"`),
			},
			want:    []Rule{RuleBasicChallengeNoCredentials},
			primary: RuleBasicChallengeNoCredentials,
		},
		{
			name: "basic credentials accepted by a basic-auth registry",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(`Basic realm="Registry Realm"`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credSkopeoUA).Basic("alice", "s3cret").Status(200).JSON(`{}`),
			},
		},

		{
			name: "wrong basic credentials at a basic-auth registry are not a missing login",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(`Basic realm="Registry Realm"`),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credSkopeoUA).Basic("alice", "wrong").Status(401).
					Challenge(`Basic realm="Registry Realm"`).JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`),
			},
			// Rejected credentials (entry 13 at the registry), not entry 10.
			want:    []Rule{RuleCredentialsRejectedAtToken},
			primary: RuleCredentialsRejectedAtToken,
		},

		// ---- 14 login-succeeded-proves-little
		{
			name: "a basic login succeeds and the pull is then denied",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credDockerUA).Status(401).Challenge(`Basic realm="Registry Realm"`),
				flowtest.Get("https://registry.test/v2/").UA(credDockerUA).Basic("alice", "s3cret").Status(200).JSON(`{}`),
				flowtest.Get("https://registry.test/v2/team/secret/manifests/1.0").UA(credDockerUA).Basic("alice", "s3cret").Status(403).
					JSON(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`),
			},
			want:    []Rule{RuleLoginSucceededProvesLittle, RuleDeniedAuthenticated},
			primary: RuleDeniedAuthenticated,
		},
		{
			name: "a docker login followed by a successful pull",
			flows: []*flowtest.Builder{
				flowtest.Get("https://registry.test/v2/").UA(credDockerUA).Status(401).Challenge(credChallenge),
				flowtest.Get("https://auth.test/token?account=alice&client_id=docker&offline_token=true&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(credJWT("alice"))),
				flowtest.Get("https://auth.test/token?account=alice&scope=repository:team/app:pull&service=registry.test").UA(credDockerUA).
					Basic("alice", "s3cret").Status(200).JSON(credTokenJSON(pullApp)),
				flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(credDockerUA).Bearer(pullApp).Status(200).JSON(`{}`),
			},
		},
	}
}

// The findings say who and never what secret.
func TestCredentialFindingsNameTheUserNotThePassword(t *testing.T) {
	for _, tr := range credentialTraces() {
		rep := Explain(tr.input())
		for _, f := range rep.Findings {
			for _, secret := range []string{"s3cret", "old-password", "revoked-pat"} {
				if strings.Contains(f.Why+f.Fix+f.CannotProve, secret) {
					t.Errorf("%s: %s quotes a secret: %s", tr.name, f.Rule, f.Why)
				}
			}
			if f.Rule == RuleCredentialsRejectedAtToken && tr.name == "a harbor robot name cut short by the shell is refused" &&
				!strings.Contains(f.Why, `"robot"`) {
				t.Errorf("robot hint missing: %s", f.Why)
			}
			if f.Rule == RuleCredentialsNotSent && !strings.Contains(f.Why, "registry.test:5000") {
				t.Errorf("credentials-not-sent does not name the other host: %s", f.Why)
			}
			if len(f.Evidence) == 0 {
				t.Errorf("%s: %s has no evidence", tr.name, f.Rule)
			}
		}
	}
}

// Credentials a log puts back are not shown, not unreadable; only a HAR
// whose exporter redacted them says the secret was redacted.
func TestRefusedCredentialsSayWhatTheTraceHides(t *testing.T) {
	const hidden = "Basic REDACTED(user=)"
	skopeoLog := &Source{Name: "skopeo debug log", HidesAuth: true, Lacks: "Authorization headers"}
	// A log that shows the credentials lookup: its headers put back are
	// what the client sent, but still without the user name.
	lookupLog := &Source{Name: "podman debug log", Lacks: "Authorization headers"}
	atToken := []*flowtest.Builder{
		tokPing("https://registry.test", tokRealm),
		flowtest.Get("https://auth.test/token?scope=repository:team/app:pull&service=registry.test").UA(credSkopeoUA).
			Header("Authorization", hidden).Status(401).Inferred(),
	}
	atRegistry := []*flowtest.Builder{
		flowtest.Get("https://registry.test/v2/").UA(credSkopeoUA).Status(401).Challenge(`Basic realm="r"`),
		flowtest.Get(base()+"/manifests/1.0").UA(credSkopeoUA).Header("Authorization", hidden).Status(401).
			Challenge(`Basic realm="r"`).Inferred(),
	}
	for _, c := range []struct {
		name      string
		flows     []*flowtest.Builder
		source    *Source
		sanitized bool
		who       string
		redacted  bool
	}{
		{"token server, log", atToken, skopeoLog, false, "a user name the skopeo debug log does not show", false},
		{"Basic registry, log", atRegistry, skopeoLog, false, "a user name the skopeo debug log does not show", false},
		{"Basic registry, log with the lookup", atRegistry, lookupLog, false, "a user name the podman debug log does not show", false},
		{"token server, log with the lookup", atToken, lookupLog, false, "a user name the podman debug log does not show", false},
		{"token server, sanitized HAR", atToken, nil, true, "an unreadable user name", true},
		{"Basic registry, sanitized HAR", atRegistry, nil, true, "an unreadable user name", true},
	} {
		rep := Explain(ruleTrace{flows: c.flows, source: c.source, sanitized: c.sanitized}.input())
		p := rep.Primary()
		if p == nil || p.Rule != RuleCredentialsRejectedAtToken {
			t.Errorf("%s: primary %v, want %s", c.name, p, RuleCredentialsRejectedAtToken)
			continue
		}
		if !strings.Contains(p.Why, "credentials for "+c.who) {
			t.Errorf("%s: want %q in: %s", c.name, c.who, p.Why)
		}
		if got := strings.Contains(p.Why, "The secret was redacted"); got != c.redacted {
			t.Errorf("%s: says the secret was redacted: %v, want %v: %s", c.name, got, c.redacted, p.Why)
		}
	}
}
