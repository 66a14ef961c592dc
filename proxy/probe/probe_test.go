package probe

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/proxy"
)

// These tests run the probe against registries that answer the way some
// real ones do and the suite cannot run (GHCR's opaque tokens and refused
// anonymous tokens, Harbor's NOT_FOUND and empty tag lists, multi-arch
// indexes, blob redirects, OAuth2 identity tokens): httptest TLS servers
// speaking the distribution API. The e2e suite runs real registries.

// fakeJWT is an unsigned token with the claims a token server sets: the
// probe reads grants without verifying (decode.ParseToken).
func fakeJWT(sub string, access ...string) string {
	enc := base64.RawURLEncoding.EncodeToString
	var acc []map[string]any
	for _, a := range access {
		parts := strings.Split(a, ":")
		acc = append(acc, map[string]any{"type": parts[0], "name": parts[1], "actions": strings.Split(parts[2], ",")})
	}
	if acc == nil {
		acc = []map[string]any{}
	}
	claims, _ := json.Marshal(map[string]any{"iss": "test", "sub": sub, "aud": "reg", "exp": 4102444800, "access": acc})
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + "." + enc([]byte("sig"))
}

const (
	configDigest   = "sha256:" + "c0" + "ffee00000000000000000000000000000000000000000000000000000000"
	amd64Digest    = "sha256:" + "a1" + "00000000000000000000000000000000000000000000000000000000000000"
	imageManifest  = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + configDigest + `","size":2},"layers":[]}`
	multiArchIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + amd64Digest + `","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`
)

// reg is a registry whose answers a test sets per route; unset routes
// answer as distribution with token auth does for a pullable image.
type reg struct {
	t      *testing.T
	srv    *httptest.Server
	routes map[string]http.HandlerFunc // "ping", "token", "manifest", "platform", "config", "tags", "storage"
	seen   []string
}

func newReg(t *testing.T, routes map[string]http.HandlerFunc) *reg {
	r := &reg{t: t, routes: routes}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *reg) host() string { return strings.TrimPrefix(r.srv.URL, "https://") }

func (r *reg) serve(w http.ResponseWriter, q *http.Request) {
	route := ""
	switch p := q.URL.Path; {
	case p == "/v2/":
		route = "ping"
	case p == "/token":
		route = "token"
	case strings.HasSuffix(p, "/manifests/"+amd64Digest):
		route = "platform"
	case strings.Contains(p, "/manifests/"):
		route = "manifest"
	case strings.Contains(p, "/blobs/"):
		route = "config"
	case strings.HasSuffix(p, "/tags/list"):
		route = "tags"
	case strings.HasPrefix(p, "/storage/"):
		route = "storage"
	}
	r.seen = append(r.seen, route)
	if h := r.routes[route]; h != nil {
		h(w, q)
		return
	}
	bearer := `Bearer realm="` + r.srv.URL + `/token",service="reg"`
	switch route {
	case "ping":
		w.Header().Set("WWW-Authenticate", bearer)
		w.WriteHeader(401)
	case "token":
		fmt.Fprintf(w, `{"token":%q}`, fakeJWT("", "repository:team/app:pull"))
	case "manifest", "platform":
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		fmt.Fprint(w, imageManifest)
	case "config":
		fmt.Fprint(w, "{}")
	case "tags":
		fmt.Fprint(w, `{"name":"team/app","tags":["1.0"]}`)
	default:
		http.NotFound(w, q)
	}
}

func (r *reg) probe(t *testing.T, image string, mod func(*Options)) *Result {
	t.Helper()
	im, err := ParseImage(strings.ReplaceAll(image, "HOST", r.host()))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(r.srv.Certificate())
	opts := Options{Image: im, Proxy: proxy.Options{UpstreamRoots: pool}}
	if mod != nil {
		mod(&opts)
	}
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func status(code int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func TestProbeWalks(t *testing.T) {
	alice := &Credential{Username: "alice", Password: "pw", From: "test"}
	for _, tc := range []struct {
		name   string
		routes func(r *reg) map[string]http.HandlerFunc
		image  string
		mod    func(*Options)
		code   Code
		says   string
		steps  string // the step names in order, when set
	}{
		{"pullable", nil, "HOST/team/app:1.0", nil, CodePullable, "pullable anonymously", "ping token manifest config"},
		{"an index, its platform manifest, a config redirected to storage", func(r *reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{
				"manifest": status(200, multiArchIndex, "Content-Type", "application/vnd.oci.image.index.v1+json"),
				"config": func(w http.ResponseWriter, q *http.Request) {
					http.Redirect(w, q, r.srv.URL+"/storage/blob?X-Amz-Signature=secret", http.StatusTemporaryRedirect)
				},
				"storage": status(200, "{}"),
			}
		}, "HOST/team/app:1.0", nil, CodePullable, "config blob answered 200", "ping token manifest platform manifest config"},
		{"no manifest for the platform", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(200, multiArchIndex, "Content-Type", "application/vnd.oci.image.index.v1+json")}
		}, "HOST/team/app:1.0", func(o *Options) { o.Platform = "linux/s390x" }, CodeNoPlatform, "no manifest for linux/s390x (it has linux/amd64)", ""},
		{"an opaque token and a 404 (GHCR)", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": status(200, `{"token":"djE6b3BhcXVl"}`), "manifest": status(404, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}`),
				"tags": status(401, `{"errors":[{"code":"UNAUTHORIZED"}]}`)}
		}, "HOST/team/app:1.0", nil, CodePrivateOrMissing, "cannot read (opaque)", "ping token manifest tags"},
		{"an opaque token that may list the tags: a missing tag", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": status(200, `{"token":"djE6b3BhcXVl"}`), "manifest": status(404, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)}
		}, "HOST/team/app:9.9", nil, CodeManifestUnknown, "exists and this token may read it", "ping token manifest tags"},
		{"anonymous 403 (GAR) is not a denial of someone", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(403, `{"errors":[{"code":"DENIED","message":"Permission denied on resource (or it may not exist)."}]}`)}
		}, "HOST/team/app:1.0", nil, CodePrivateOrMissing, "without credentials", ""},
		{"an expired credential answered 403 (ECR)", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"ping": status(401, `{}`, "WWW-Authenticate", `Basic realm="ecr"`),
				"manifest": func(w http.ResponseWriter, q *http.Request) {
					if _, _, ok := q.BasicAuth(); !ok {
						status(401, `{}`, "WWW-Authenticate", `Basic realm="ecr"`)(w, q)
						return
					}
					status(403, `{"errors":[{"code":"DENIED","message":"Your authorization token has expired. Reauthenticate and try again."}]}`)(w, q)
				}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = alice }, CodeCredentialsRejected, "expired", ""},
		{"a repository that challenges Basic after an open ping gets the credential", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"ping": status(200, `{}`),
				"manifest": func(w http.ResponseWriter, q *http.Request) {
					if u, _, ok := q.BasicAuth(); !ok || u != "alice" {
						status(401, `{}`, "WWW-Authenticate", `Basic realm="r"`)(w, q)
						return
					}
					status(200, imageManifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json")(w, q)
				}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = alice }, CodePullable, "exists and is private", "ping manifest ping manifest manifest config"},
		{"Harbor: a Basic challenge after a token that grants nothing", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, `{"token":%q}`, fakeJWT("alice")) },
				"manifest": status(401, `{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized to access repository"}]}`, "WWW-Authenticate", `Basic realm="harbor"`)}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = alice }, CodeTokenScopeEmpty, "grants nothing", ""},
		{"a platform manifest the index names is gone", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(200, multiArchIndex, "Content-Type", "application/vnd.oci.image.index.v1+json"),
				"platform": status(404, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)}
		}, "HOST/team/app:1.0", nil, CodeBrokenIndex, "no longer has", ""},
		{"a login page instead of a manifest", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(200, "<html>Sign in</html>", "Content-Type", "text/html")}
		}, "HOST/team/app:1.0", nil, CodeUnexpected, "not JSON", ""},
		{"a token server that refuses push outright", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": func(w http.ResponseWriter, q *http.Request) {
				if strings.Contains(q.URL.RawQuery, "push") {
					status(403, `{"details":"push not allowed for this token"}`)(w, q)
					return
				}
				fmt.Fprintf(w, `{"token":%q}`, fakeJWT("alice", "repository:team/app:pull"))
			}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = alice; o.Push = true }, CodePushDenied, "refused a token", ""},
		{"an anonymous token refused (GHCR private)", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": status(403, `{"errors":[{"code":"DENIED","message":"denied"}]}`)}
		}, "HOST/team/app:1.0", nil, CodePrivateOrMissing, "refused an anonymous token", ""},
		{"credentials refused at the token server", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": func(w http.ResponseWriter, q *http.Request) {
				if _, _, ok := q.BasicAuth(); ok {
					status(401, `{"details":"incorrect username or password"}`)(w, q)
					return
				}
				fmt.Fprintf(w, `{"token":%q}`, fakeJWT("", "repository:team/app:pull"))
			}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = alice }, CodeCredentialsRejected, "public, but the credential a client would send breaks the pull", ""},
		{"a granting token the registry refuses", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(401, `{"errors":[{"code":"UNAUTHORIZED","message":"invalid token"}]}`, "WWW-Authenticate", `Bearer realm="x",error="invalid_token"`)}
		}, "HOST/team/app:1.0", nil, CodeTokenRejected, "does not accept the token", ""},
		{"Harbor: NOT_FOUND and an empty tag list", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(404, `{"errors":[{"code":"NOT_FOUND","message":"artifact team/app:1.0 not found"}]}`), "tags": status(200, `{"name":"team/app","tags":[]}`)}
		}, "HOST/team/app:1.0", nil, CodeManifestUnknown, "lists no tags", "ping token manifest tags"},
		{"a missing tag in a repository with tags", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)}
		}, "HOST/team/app:2.0", nil, CodeManifestUnknown, "repository exists (its tag list answered 200, 1 tags) but the tag 2.0 does not", ""},
		{"a missing repository", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(404, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`), "tags": status(404, `{"errors":[{"code":"NAME_UNKNOWN"}]}`)}
		}, "HOST/team/app:1.0", nil, CodeNameUnknown, "does not exist", ""},
		{"a 401 without a challenge", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"ping": status(401, `{}`)}
		}, "HOST/team/app:1.0", nil, CodeChallengeMissing, "WWW-Authenticate: none", "ping"},
		{"not a registry", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"ping": status(404, "<html><title>Not Found</title></html>", "Content-Type", "text/html")}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = alice }, CodeNotARegistry, "not serving the registry API", "ping"},
		{"a token server rate limit", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": status(429, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, "Retry-After", "30")}
		}, "HOST/team/app:1.0", nil, CodeRateLimited, "TOOMANYREQUESTS", ""},
		{"a registry error", func(*reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": status(503, "upstream connect error", "Content-Type", "text/plain")}
		}, "HOST/team/app:1.0", nil, CodeUnexpected, "503", ""},
		{"an identity token exchanged by POST", func(r *reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": func(w http.ResponseWriter, q *http.Request) {
				if q.Method == http.MethodPost {
					q.ParseForm()
					if q.PostForm.Get("grant_type") != "refresh_token" || q.PostForm.Get("refresh_token") != "rt" || q.PostForm.Get("scope") != "repository:team/app:pull" {
						status(400, `{"error":"bad form"}`)(w, q)
						return
					}
					fmt.Fprintf(w, `{"access_token":%q}`, fakeJWT("alice", "repository:team/app:pull"))
					return
				}
				fmt.Fprintf(w, `{"token":%q}`, fakeJWT("", "repository:team/app:pull"))
			}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = &Credential{IdentityToken: "rt", From: "test"} }, CodePullable, "public and pullable", ""},
		{"no OAuth2 endpoint: POST 404 falls back to GET", func(r *reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"token": func(w http.ResponseWriter, q *http.Request) {
				if q.Method == http.MethodPost {
					http.NotFound(w, q)
					return
				}
				fmt.Fprintf(w, `{"token":%q}`, fakeJWT("", "repository:team/app:pull"))
			}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = &Credential{IdentityToken: "rt", From: "test"} }, CodePullable, "public and pullable", "ping token manifest ping token token manifest config"},
		{"a registry token is sent as is", func(r *reg) map[string]http.HandlerFunc {
			return map[string]http.HandlerFunc{"manifest": func(w http.ResponseWriter, q *http.Request) {
				if q.Header.Get("Authorization") != "Bearer regtok" {
					status(401, `{"errors":[{"code":"UNAUTHORIZED"}]}`, "WWW-Authenticate", `Bearer realm="`+r.srv.URL+`/token",service="reg"`)(w, q)
					return
				}
				status(200, imageManifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json")(w, q)
			}}
		}, "HOST/team/app:1.0", func(o *Options) { o.Credential = &Credential{RegistryToken: "regtok", From: "test"} }, CodePullable, "exists and is private", "ping token manifest ping manifest config"},
		{"a credential store that fails", nil, "HOST/team/app:1.0", func(o *Options) { o.CredentialErr = errors.New("docker-credential-desktop is not in PATH") },
			CodeCredentialStore, "stop before sending a request: docker-credential-desktop", ""},
		{"push on a digest reference, no credentials", nil, "HOST/team/app@" + amd64Digest, func(o *Options) { o.Push = true }, CodeCredentialsRequired, "needs credentials", ""},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			r := newReg(t, nil)
			if tc.routes != nil {
				r.routes = tc.routes(r)
			}
			res := r.probe(t, tc.image, tc.mod)
			if res.Code != tc.code || !strings.Contains(res.Conclusion, tc.says) {
				t.Errorf("got %s: %s\nwant %s with %q", res.Code, res.Conclusion, tc.code, tc.says)
			}
			var names []string
			for _, s := range res.Steps {
				names = append(names, s.Name)
				if strings.Contains(s.What, "secret") || strings.Contains(s.Says, "secret") {
					t.Errorf("a step shows a signed URL's secret: %+v", s)
				}
			}
			// Only the phase that decides GETs the manifest (a Docker Hub
			// pull counts against the rate limit, a HEAD does not).
			for _, st := range res.Steps {
				decides := st.Phase == WithCredentials || res.Phases[len(res.Phases)-1].Phase == Anonymous
				if st.Name == "manifest" && strings.HasPrefix(st.What, "HEAD ") == decides {
					t.Errorf("%s phase: %s", st.Phase, st.What)
				}
			}
			if tc.steps != "" && strings.Join(names, " ") != tc.steps {
				t.Errorf("steps %q, want %q (requests %v)", strings.Join(names, " "), tc.steps, r.seen)
			}
			n := 0
			for _, s := range res.Steps {
				n += len(s.Flows)
			}
			if n != len(res.Flows) || len(res.Flows) != len(r.seen) {
				t.Errorf("%d flows in steps, %d recorded, %d requests served", n, len(res.Flows), len(r.seen))
			}
		})
	}
}

// A mirror is asked with the image's registry in ns=, as containerd asks
// a hosts.toml mirror; the ping is plain.
func TestProbeAsksAMirrorWithNs(t *testing.T) {
	m := newReg(t, nil)
	var queries []string
	m.routes = map[string]http.HandlerFunc{"manifest": func(w http.ResponseWriter, q *http.Request) {
		queries = append(queries, q.URL.RawQuery)
		status(200, imageManifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json")(w, q)
	}}
	res := m.probe(t, "docker.io/library/nginx:1.0", func(o *Options) { o.Mirror = m.host() })
	if res.Code != CodePullable || len(queries) != 1 || queries[0] != "ns=docker.io" || !strings.HasPrefix(res.Conclusion, "Through the mirror "+m.host()) {
		t.Errorf("%s %q, queries %q", res.Code, res.Conclusion, queries)
	}
	if res.Steps[0].What != "GET "+m.srv.URL+"/v2/" {
		t.Errorf("the ping: %s", res.Steps[0].What)
	}
}

// --plain-http speaks HTTP to a registry without TLS; without it the
// failure names the flag.
func TestProbePlainHTTP(t *testing.T) {
	r := &reg{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	host := strings.TrimPrefix(r.srv.URL, "http://")
	im, _ := ParseImage(host + "/team/app:1.0")
	res, err := Run(context.Background(), Options{Image: im, PlainHTTP: true})
	if err != nil || res.Code != CodePullable {
		t.Fatalf("plain HTTP: %v %s %s", err, res.Code, res.Conclusion)
	}
	res, _ = Run(context.Background(), Options{Image: im})
	if res.Code != CodePingUnreachable || !strings.Contains(res.Conclusion, "--plain-http") {
		t.Errorf("HTTPS to a plain registry: %s %s", res.Code, res.Conclusion)
	}
}
