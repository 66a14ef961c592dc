package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/explain"
	"golang.org/x/crypto/bcrypt"
)

// clientWorld is what the client suite runs against, started once:
//   - registry.test: distribution under token auth (auth.test, the project's
//     token server), private team/app (alice may pull, admin anything);
//   - front.test: nginx in front of it answering /v2/ with 200 itself, so
//     only the repository challenges (the skopeo/dockerd bug);
//   - registry.test on a second port: distribution with htpasswd, alice
//     may do anything;
//   - registry-1.docker.io and auth.docker.io: a second distribution and
//     token server standing in for Docker Hub (service registry.docker.io),
//     holding library/nginx, anonymous pull;
//
// and one recording proxy that alone resolves those names.
type clientWorld struct {
	pki             pemFiles
	sb              *sandbox
	rec             *recorder
	reg, front, hub string // host[:port] as in image names
	basic           string // distribution with htpasswd (Basic auth): alice
	// basicFront is nginx auth_basic in front of an open distribution (a
	// deployment distribution documents): its 401s are HTML pages.
	basicFront string
	// gate is nginx in front of registry.test's token-auth distribution,
	// standing for a registry's own policy layer (Harbor, Artifactory) and
	// Docker Hub's limiter: once a request carries a token it answers
	// team/denied with 403 DENIED (the token grants pull) and limited/*
	// manifests with 429 TOOMANYREQUESTS and Docker Hub's headers.
	gate string
	// deadRealm is distribution under token auth whose realm is a closed
	// port on auth.test.
	deadRealm string
	// open is a distribution without auth holding nothing (a mirror that
	// answers 404); deadMirror and deadUpstream closed ports on
	// registry.test; keyed a second htpasswd distribution (alice), whose
	// credentials the crictl daemon's config holds (a node's registry auth).
	open, deadMirror, deadUpstream, keyed string
	// cache is distribution as a pull-through cache of registry.test's
	// token-auth registry, with admin's credentials for it and no auth of
	// its own (a leaking cache), reaching it through the proxy.
	cache             string
	layout            string // an OCI layout with tag 1.0, to push
	tokens, hubTokens *tokenServer
	// resolve maps the world's names for a proxy's own dials.
	resolve map[string]string
	// via, when set, wraps every client command (regtrace run … --); the
	// client then gets no proxy settings from the test.
	via []string
}

const (
	alice      = "alice:alice-pw"
	aliceWrong = "alice:not-the-password"
)

func startClientWorld(t *testing.T) *clientWorld {
	t.Helper()
	w := &clientWorld{pki: testPKI(t), sb: newSandbox(t)}

	w.tokens = newTokenServer(t, t.TempDir())
	w.tokens.Users = map[string]string{"admin": "admin-pw", "alice": "alice-pw"}
	w.tokens.ACL = map[string]map[string][]string{"team/app": {"alice": {"pull"}, "admin": {"*"}}, "team/other": {"admin": {"*"}},
		"team/denied": {"alice": {"pull"}}, "team/gone": {"alice": {"pull"}}, "limited/app": {"": {"pull"}, "alice": {"pull"}}}
	authPort := startTLS(t, w.pki, w.tokens)
	reg := startRegistry(t, w.pki, w.tokens.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", authPort)))

	// nginx answers the ping and passes everything else to distribution.
	frontPort := freePort(t)
	startNginx(t, fmt.Sprintf(`
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    client_max_body_size 0;
    location = /v2/ {
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      default_type application/json;
      return 200 '{}';
    }
    location / {
      proxy_pass https://127.0.0.1:%d;
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }`, frontPort, w.pki.Cert, w.pki.Key, reg.Port))

	gatePort := freePort(t)
	startNginx(t, fmt.Sprintf(`
  map $http_authorization $authed { "" 0; default 1; }
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    location ~ ^/v2/team/denied/(manifests|blobs)/ {
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      default_type application/json;
      if ($authed) {
        return 403 '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}';
      }
      proxy_pass https://127.0.0.1:%[4]d;
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
    }
    location ~ ^/v2/limited/.+/manifests/ {
      default_type application/json;
      add_header RateLimit-Limit "100;w=21600" always;
      add_header RateLimit-Remaining "0;w=21600" always;
      add_header Docker-RateLimit-Source "127.0.0.1" always;
      # 0: clients that honour it (containers/image, regclient) retry at
      # once instead of waiting a minute per attempt.
      add_header Retry-After "0" always;
      if ($authed) {
        return 429 '{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}';
      }
      proxy_pass https://127.0.0.1:%[4]d;
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
    }
    location / {
      proxy_pass https://127.0.0.1:%[4]d;
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }`, gatePort, w.pki.Cert, w.pki.Key, reg.Port))
	w.gate = fmt.Sprintf("front.test:%d", gatePort)

	w.hubTokens = newTokenServer(t, t.TempDir())
	w.hubTokens.Service = "registry.docker.io"
	w.hubTokens.Users = map[string]string{"admin": "admin-pw"}
	w.hubTokens.ACL = map[string]map[string][]string{"library/nginx": {"": {"pull"}, "admin": {"*"}}}
	hubAuthPort := startTLS(t, w.pki, w.hubTokens)
	hubReg := startRegistry(t, w.pki, w.hubTokens.RegistryConfig("https://auth.docker.io/token"))

	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o644)
	basicReg := startRegistry(t, w.pki, fmt.Sprintf("auth:\n  htpasswd:\n    realm: regtrace-basic\n    path: %s\n", htpasswd))
	w.basic = fmt.Sprintf("registry.test:%d", basicReg.Port)

	openReg := startRegistry(t, w.pki, "")
	basicFrontPort := freePort(t)
	users := filepath.Join(t.TempDir(), "users")
	os.WriteFile(users, []byte("alice:{PLAIN}alice-pw\n"), 0o644)
	startNginx(t, fmt.Sprintf(`
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    client_max_body_size 0;
    location /v2/ {
      auth_basic "Registry realm";
      auth_basic_user_file %s;
      add_header Docker-Distribution-Api-Version registry/2.0 always;
      proxy_pass https://127.0.0.1:%d;
      proxy_ssl_verify off;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header Authorization "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }`, basicFrontPort, w.pki.Cert, w.pki.Key, users, openReg.Port))
	w.basicFront = fmt.Sprintf("front.test:%d", basicFrontPort)
	w.open = fmt.Sprintf("registry.test:%d", startRegistry(t, w.pki, "").Port)
	w.deadMirror = fmt.Sprintf("registry.test:%d", freePort(t))
	w.deadUpstream = fmt.Sprintf("registry.test:%d", freePort(t))
	w.keyed = fmt.Sprintf("registry.test:%d", startRegistry(t, w.pki, fmt.Sprintf("auth:\n  htpasswd:\n    realm: regtrace-keyed\n    path: %s\n", htpasswd)).Port)

	deadReg := startRegistry(t, w.pki, w.tokens.RegistryConfig(fmt.Sprintf("https://auth.test:%d/token", freePort(t))))
	w.deadRealm = fmt.Sprintf("registry.test:%d", deadReg.Port)

	w.resolve = map[string]string{
		"registry.test": "127.0.0.1", "auth.test": "127.0.0.1", "front.test": "127.0.0.1",
		"registry-1.docker.io:443": fmt.Sprintf("127.0.0.1:%d", hubReg.Port),
		"auth.docker.io:443":       fmt.Sprintf("127.0.0.1:%d", hubAuthPort),
	}
	w.rec = startRecorder(t, w.pki, w.resolve)
	w.reg = fmt.Sprintf("registry.test:%d", reg.Port)
	w.cache = fmt.Sprintf("registry.test:%d", startRegistry(t, w.pki,
		fmt.Sprintf("proxy:\n  remoteurl: https://%s\n  username: admin\n  password: admin-pw\n", w.reg),
		"HTTPS_PROXY="+w.rec.URL, "https_proxy="+w.rec.URL, "SSL_CERT_FILE="+w.rec.Bundle, "NO_PROXY=", "no_proxy=").Port)
	w.front = fmt.Sprintf("front.test:%d", frontPort)
	w.hub = "registry-1.docker.io"

	// podman names an image pulled from oci:PATH after PATH, which must be
	// lower case; t.TempDir() holds the test's name.
	layout, err := os.MkdirTemp("", "rtlayout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(layout) })
	w.layout = layout
	ociImage(t, w.layout, "1.0", "hello from the client suite\n")
	skopeo := need(t, "skopeo")
	for dst, creds := range map[string]string{w.reg + "/team/app:1.0": "admin:admin-pw", w.hub + "/library/nginx:1.0": "admin:admin-pw",
		w.basic + "/team/app:1.0": alice, w.basicFront + "/team/app:1.0": alice, w.keyed + "/team/app:1.0": alice} {
		out, err := w.run(t, nil, skopeo, "copy", "--dest-creds", creds, "oci:"+w.layout+":1.0", "docker://"+dst)
		if err != nil {
			t.Fatalf("seeding %s: %v\n%s", dst, err, out)
		}
	}
	w.rec.Take(t)
	return w
}

// env is a client's environment: the proxy, the trust bundle, a private
// HOME, and a docker config (DOCKER_CONFIG) holding creds for host, if any.
func (w *clientWorld) env(t *testing.T, host, creds string, extra ...string) []string {
	env := clientEnv(t, w.rec.URL, w.rec.Bundle)
	cfg := t.TempDir()
	auths := map[string]any{}
	if creds != "" {
		auths[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(creds))}
	}
	b, _ := json.Marshal(map[string]any{"auths": auths})
	os.WriteFile(filepath.Join(cfg, "config.json"), b, 0o600)
	return append(append(env, "DOCKER_CONFIG="+cfg), extra...)
}

// run runs argv in the sandbox with env (the default client env when nil).
func (w *clientWorld) run(t *testing.T, env []string, argv ...string) (string, error) {
	t.Helper()
	if env == nil {
		env = w.env(t, "", "")
	}
	if w.via != nil {
		argv = append(append([]string{}, w.via...), argv...)
		env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return strings.HasSuffix(strings.ToLower(k), "_proxy") || k == "SSL_CERT_FILE"
		})
		env = append(env, asMainEnv+"=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := w.sb.command(ctx, env, argv...).CombinedOutput()
	return string(out), err
}

// client is how one client pulls and pushes. creds is "user:password" or
// "" for anonymous; ref is host[:port]/repo:tag.
type client struct {
	name string
	// logs: the client runs with its debug log on, and regtrace explain
	// reads it (issue 13): the log must give the HAR's verdict.
	logs bool
	// hostsDir: the client reads containerd's hosts.toml (mirrors).
	hostsDir bool
	// prepare runs once before the scenarios (e.g. starting dockerd).
	prepare func(t *testing.T, w *clientWorld)
	pull    func(t *testing.T, w *clientWorld, ref, creds string) (string, error)
	push    func(t *testing.T, w *clientWorld, ref, creds string) (string, error)
	// own, when set, is what the client itself printed in its last run,
	// apart from the daemon's log (crictl's final error): a failure it
	// prints must give the HAR's verdict too.
	own func() string
}

func splitCreds(creds string) (string, string) {
	u, p, _ := strings.Cut(creds, ":")
	return u, p
}

func refHost(ref string) string { h, _, _ := strings.Cut(ref, "/"); return h }

func suiteClients() []*client {
	skopeo := &client{name: "skopeo", logs: true,
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			args := []string{need(t, "skopeo"), "--debug", "copy"}
			if creds != "" {
				args = append(args, "--src-creds", creds)
			}
			return w.run(t, nil, append(args, "docker://"+ref, "oci:"+t.TempDir()+":x")...)
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			return w.run(t, nil, need(t, "skopeo"), "--debug", "copy", "--dest-creds", creds, "oci:"+w.layout+":1.0", "docker://"+ref)
		},
	}
	// podman keeps its store in the test's temp dir; runroot must stay
	// under 50 characters (a socket path lives below it).
	var podmanArgs []string
	podman := &client{name: "podman", logs: true,
		prepare: func(t *testing.T, w *clientWorld) {
			run, err := os.MkdirTemp("", "rtp")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(run) })
			podmanArgs = []string{need(t, "podman"), "--root", t.TempDir(), "--runroot", run,
				"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
		},
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			args := append(append([]string{}, podmanArgs...), "--log-level=debug", "pull")
			if creds != "" {
				args = append(args, "--creds", creds)
			}
			return w.run(t, nil, append(args, ref)...)
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			local := "localhost/regtrace/pushme:1.0"
			if out, err := w.run(t, nil, append(append([]string{}, podmanArgs...), "pull", "oci:"+w.layout+":1.0")...); err != nil {
				t.Fatalf("podman pull oci: %v\n%s", err, out)
			} else {
				id := lastLine(out)
				if out, err := w.run(t, nil, append(append([]string{}, podmanArgs...), "tag", id, local)...); err != nil {
					t.Fatalf("podman tag: %v\n%s", err, out)
				}
			}
			return w.run(t, nil, append(append([]string{}, podmanArgs...), "--log-level=debug", "push", "--creds", creds, local, ref)...)
		},
	}
	// oras --debug logs every request and response of its auth client,
	// token requests too (Authorization as *****, query values REDACTED).
	oras := &client{name: "oras", logs: true,
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			args := []string{need(t, "oras"), "pull", "--debug", "-o", t.TempDir()}
			if creds != "" {
				u, p := splitCreds(creds)
				args = append(args, "-u", u, "-p", p)
			}
			return w.run(t, nil, append(args, ref)...)
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("pushed by oras\n"), 0o644)
			u, p := splitCreds(creds)
			cmd := fmt.Sprintf("cd %s && exec %s push --debug -u %s -p %s %s notes.txt", dir, need(t, "oras"), u, p, ref)
			return w.run(t, nil, "sh", "-c", cmd)
		},
	}
	// crane and regctl take credentials from the docker config, as users
	// give them (crane auth login / docker login write it).
	// crane -v prints go-containerregistry's transport log (every request
	// and response dumped, Authorization redacted).
	crane := &client{name: "crane", logs: true,
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			return w.run(t, w.env(t, refHost(ref), creds), need(t, "crane"), "-v", "pull", ref, filepath.Join(t.TempDir(), "image.tar"))
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			return w.run(t, w.env(t, refHost(ref), creds), need(t, "crane"), "-v", "push", w.layout, ref)
		},
	}
	// regctl -v trace logs every request regclient sends, token requests
	// too, with its status and both headers (Authorization [censored]).
	regctl := &client{name: "regctl", logs: true,
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			return w.run(t, w.env(t, refHost(ref), creds), need(t, "regctl"), "-v", "trace", "image", "export", ref, filepath.Join(t.TempDir(), "image.tar"))
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			return w.run(t, w.env(t, refHost(ref), creds), need(t, "regctl"), "-v", "trace", "image", "copy", "ocidir://"+w.layout+":1.0", ref)
		},
	}
	// docker: the daemon pulls and pushes, and its debug log (logged only
	// errors, no HTTP) is what a ticket carries, with the CLI's last words.
	var dockerd *dockerDaemon
	docker := &client{name: "docker", logs: true,
		prepare: func(t *testing.T, w *clientWorld) { dockerd = startDockerd(t, w) },
		pull: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			return dockerd.logged(t, w, refHost(ref), creds, "pull", ref)
		},
		push: func(t *testing.T, w *clientWorld, ref, creds string) (string, error) {
			src := w.reg + "/team/app:1.0"
			if out, err := dockerd.cli(t, w, w.reg, alice, "pull", src); err != nil {
				t.Fatalf("docker pull before push: %v\n%s", err, out)
			}
			if out, err := dockerd.cli(t, w, "", "", "tag", src, ref); err != nil {
				t.Fatalf("docker tag: %v\n%s", err, out)
			}
			w.rec.Take(t) // only the push is the scenario
			return dockerd.logged(t, w, refHost(ref), creds, "push", ref)
		},
	}
	return append([]*client{skopeo, podman, oras, crane, regctl, docker}, containerdClients()...)
}

func lastLine(s string) string {
	ls := lines(strings.TrimSpace(s))
	if len(ls) == 0 {
		return ""
	}
	return strings.TrimSpace(ls[len(ls)-1])
}

// scenario is one thing a user does, and what must come of it.
type scenario struct {
	name string
	do   func(t *testing.T, c *client, w *clientWorld) (string, error)
	// ok is whether the client must succeed (per client where they differ).
	ok func(client string) bool
	// rule is the primary rule explain must name ("" when it must name none).
	rule func(client string) explain.Rule
	// errRE must match the client's output when it fails; notRE must not
	// (a client's error that blames the wrong thing).
	errRE, notRE *regexp.Regexp
	// only, when set, is the one client the scenario applies to.
	only string
	// pushes: the scenario pushes, and clients that cannot (crictl) skip it.
	pushes bool
	// mirrored: the scenario puts mirrors in hosts.toml, and clients
	// without one skip it.
	mirrored bool
	// check looks at the decoded flows.
	check func(t *testing.T, w *clientWorld, client string, xs []*decode.Exchange)
}

// recoversAfter200Ping are the clients measured to follow a repository's
// Bearer challenge after an unchallenged /v2/ (oras, regctl and containerd
// do not ping first at all). skopeo, podman and dockerd keep the ping's "no auth" and
// never send the credentials; crane sends them as Basic to the registry and
// gives up when it answers with a Bearer challenge.
var recoversAfter200Ping = map[string]bool{"oras": true, "regctl": true, "ctr": true, "crictl": true}

// normalisesHubHost are the clients measured to treat registry-1.docker.io
// as Docker Hub and add library/ to a one-component name.
var normalisesHubHost = map[string]bool{"regctl": true}

func always(v bool) func(string) bool { return func(string) bool { return v } }
func ruleIs(r explain.Rule) func(string) explain.Rule {
	return func(string) explain.Rule { return r }
}

func clientScenarios() []scenario {
	htpasswd := basicScenarios("a Basic-auth registry", "on a Basic-auth registry", func(w *clientWorld) string { return w.basic }, false)
	nginx := basicScenarios("nginx auth_basic", "through nginx auth_basic", func(w *clientWorld) string { return w.basicFront }, true)
	return append([]scenario{
		{name: "good pull",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.reg+"/team/app:1.0", alice)
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a manifest fetched with alice's token", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Repo == "team/app" && status(x) == 200 && x.Token != nil
				})
			},
		},
		{name: "anonymous pull of a public image",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.hub+"/library/nginx:1.0", "")
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a manifest fetched with an anonymous token", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Repo == "library/nginx" && status(x) == 200
				})
			},
		},
		{name: "anonymous pull of a private repository",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.reg+"/team/app:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleInsufficientScope),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a 401 insufficient_scope on team/app", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Repo == "team/app" && status(x) == 401 && len(x.Missing) > 0
				})
			},
		},
		{name: "forbidden with a token that grants pull",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.gate+"/team/denied:1.0", alice)
			},
			ok: always(false), rule: ruleIs(explain.RuleDeniedAuthenticated),
			errRE: regexp.MustCompile(`(?i)denied|forbidden|403`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a 403 to a request whose token grants pull on team/denied", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Repo == "team/denied" && status(x) == 403 && x.Token != nil && len(x.Missing) == 0
				})
			},
		},
		{name: "rate limited",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.gate+"/limited/app:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleRateLimited),
			errRE: regexp.MustCompile(`(?i)toomanyrequests|too many requests|429|rate limit`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a 429 with Docker Hub's rate-limit headers", func(x *decode.Exchange) bool {
					return isManifest(x) && status(x) == 429 && x.RateLimit != nil
				})
			},
		},
		{name: "anonymous pull of a missing repository",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.reg+"/team/nope:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleInsufficientScope),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a 401 insufficient_scope on team/nope", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Repo == "team/nope" && status(x) == 401 && len(x.Missing) > 0
				})
			},
		},
		{name: "missing tag with good credentials",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.reg+"/team/app:9.9", alice)
			},
			ok: always(false), rule: ruleIs(explain.RuleNotFoundIsReal),
			errRE: regexp.MustCompile(`(?i)manifest unknown|not found|404`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a 404 for tag 9.9", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Ref == "9.9" && status(x) == 404
				})
			},
		},
		{name: "name without its library/ namespace",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.hub+"/nginx:1.0", "")
			},
			ok: func(c string) bool { return normalisesHubHost[c] },
			rule: func(c string) explain.Rule {
				if normalisesHubHost[c] {
					return ""
				}
				return explain.RuleLibraryPrefixMissing
			},
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401`),
			check: func(t *testing.T, w *clientWorld, c string, xs []*decode.Exchange) {
				want := "repository:nginx:pull"
				if normalisesHubHost[c] {
					want = "repository:library/nginx:pull"
				}
				wantExchange(t, xs, "a token asked for "+want, func(x *decode.Exchange) bool {
					return x.Kind == decode.KindTokenRequest && x.TokenRequest != nil && slices.Contains(strings.Split(scopeStrings(x.TokenRequest.Scopes), " "), want)
				})
			},
		},
		// The same pull with a token already expired when issued: the
		// token server's clock lags 10 minutes (the "after" side of a
		// before/after-expiry pair for regtrace diff).
		{name: "token server clock 10 minutes behind", only: "skopeo",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.tokens.SetBehind(10 * time.Minute)
				defer w.tokens.SetBehind(0)
				return c.pull(t, w, w.reg+"/team/app:1.0", alice)
			},
			ok: always(false), rule: ruleIs(explain.RuleTokenExpired),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|401`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a manifest refused with invalid_token", func(x *decode.Exchange) bool {
					return isManifest(x) && status(x) == 401 && x.Token != nil
				})
			},
		},
		{name: "wrong password",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.reg+"/team/app:1.0", aliceWrong)
			},
			ok: always(false), rule: ruleIs(explain.RuleCredentialsRejectedAtToken),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401|invalid username`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a token request with alice's Basic refused with 401", func(x *decode.Exchange) bool {
					return x.Kind == decode.KindTokenRequest && x.TokenRequest != nil && x.TokenRequest.Auth.User == "alice" && status(x) == 401
				})
			},
		},
		htpasswd[0], htpasswd[1],
		{name: "private repository behind a 200 ping, credentials given",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.front+"/team/app:1.0", alice)
			},
			ok: func(c string) bool { return recoversAfter200Ping[c] },
			rule: func(c string) explain.Rule {
				if recoversAfter200Ping[c] {
					return ""
				}
				return explain.RulePerRepoChallengeIgnored
			},
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401`),
			check: func(t *testing.T, w *clientWorld, c string, xs []*decode.Exchange) {
				if !recoversAfter200Ping[c] {
					wantExchange(t, xs, "an unchallenged 200 ping", func(x *decode.Exchange) bool {
						return x.Kind == decode.KindPing && status(x) == 200 && len(x.Challenges) == 0
					})
				}
				wantExchange(t, xs, "the repository's own Bearer challenge", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Repo == "team/app" && status(x) == 401 && !strings.EqualFold(x.Auth.Scheme, "Bearer") && bearerIn(x)
				})
				sent := false
				for _, x := range xs {
					// As Basic, or in an OAuth2 password grant's form (containerd).
					sent = sent || (x.Kind == decode.KindTokenRequest && x.TokenRequest != nil &&
						(x.TokenRequest.Auth.User == "alice" || x.TokenRequest.Username == "alice"))
				}
				if sent != recoversAfter200Ping[c] {
					t.Errorf("%s sent alice's credentials to the token server: %v, want %v", c, sent, recoversAfter200Ping[c])
				}
			},
		},
		{name: "token realm on a closed port",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, w.deadRealm+"/team/app:1.0", alice)
			},
			ok: always(false), rule: ruleIs(explain.RuleRealmUnreachable),
			errRE: regexp.MustCompile(`(?i)bad gateway|proxyconnect|connect|tunnel|refused|502`),
			notRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				// The proxy answered the CONNECT itself, as any proxy does
				// for a target it cannot reach, and recorded why.
				wantExchange(t, xs, "a failed tunnel to the realm, refused, answered 502 by the proxy", func(x *decode.Exchange) bool {
					return x.Kind == decode.KindTunnel && x.ToRealm && x.Registry == w.deadRealm && x.Flow.Err != nil &&
						x.Flow.Err.Kind == flow.ErrRefused && status(x) == 502 && x.Flow.Response.Synthetic
				})
			},
		},
		{name: "registry name that does not resolve",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, "registry.invalid/team/app:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleRegistryUnreachable),
			errRE: regexp.MustCompile(`(?i)bad gateway|proxyconnect|connect|tunnel|no such host|502`),
			notRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a tunnel that failed on DNS", func(x *decode.Exchange) bool {
					return x.Kind == decode.KindTunnel && x.Flow.Err != nil && x.Flow.Err.Kind == flow.ErrDNS
				})
			},
		},
		nginx[0], nginx[1],
		{name: "good push to a new repository", pushes: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.push(t, w, w.reg+"/team/other:"+c.name, "admin:admin-pw")
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a manifest pushed", func(x *decode.Exchange) bool {
					return x.Kind == decode.KindManifestPut && status(x) == 201
				})
			},
		},
		{name: "oras discover on a registry without the referrers API", only: "oras",
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return w.run(t, nil, need(t, "oras"), "discover", "--debug", "-u", "alice", "-p", "alice-pw", w.reg+"/team/app:1.0")
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a referrers request or its tag-schema fallback answered 404", func(x *decode.Exchange) bool {
					return status(x) == 404 && (x.Kind == decode.KindReferrers || strings.HasPrefix(x.Ref, "sha256-"))
				})
			},
		},
		{name: "push without push permission", pushes: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.push(t, w, w.reg+"/team/app:pushed", alice)
			},
			ok: always(false), rule: ruleIs(explain.RulePushScopeMissing),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401|403`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a token that lacks push on team/app", func(x *decode.Exchange) bool {
					for _, s := range x.Missing {
						if s.Name == "team/app" && strings.Contains(strings.Join(s.Actions, ","), "push") {
							return true
						}
					}
					return false
				})
			},
		},
	}, mirrorScenarios()...)
}

// basicScenarios are an anonymous pull and a wrong password against a
// registry that answers with a Basic challenge: distribution's htpasswd, or
// nginx auth_basic in front of it, whose 401 is an HTML page (html).
func basicScenarios(from, on string, host func(*clientWorld) string, html bool) [2]scenario {
	// A HEAD's answer has no body (containerd resolves with HEAD).
	page := func(x *decode.Exchange) bool {
		return !html || x.Errors.Format == "html" || x.Flow.Request.Method == http.MethodHead
	}
	prefix := "anonymous pull from "
	if html {
		prefix = "anonymous pull through "
	}
	return [2]scenario{
		{name: prefix + from,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, host(w)+"/team/app:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleBasicChallengeNoCredentials),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401|basic credential not found|no basic auth credentials`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a Basic challenge answered without credentials", func(x *decode.Exchange) bool {
					return status(x) == 401 && x.Auth.Scheme == "" && len(x.Challenges) > 0 && x.Challenges[0].IsBasic() && page(x)
				})
			},
		},
		{name: "wrong password " + on,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				return c.pull(t, w, host(w)+"/team/app:1.0", aliceWrong)
			},
			ok: always(false), rule: ruleIs(explain.RuleCredentialsRejectedAtToken),
			errRE: regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401|invalid username`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "alice's Basic credentials refused with 401", func(x *decode.Exchange) bool {
					return status(x) == 401 && strings.EqualFold(x.Auth.Scheme, "basic") && x.Auth.User == "alice" && page(x)
				})
			},
		},
	}
}

func bearerIn(x *decode.Exchange) bool {
	for _, c := range x.Challenges {
		if strings.EqualFold(c.Scheme, "Bearer") {
			return true
		}
	}
	return false
}

func isManifest(x *decode.Exchange) bool {
	return x.Kind == decode.KindManifestGet || x.Kind == decode.KindManifestHead
}

func wantExchange(t *testing.T, xs []*decode.Exchange, what string, pred func(*decode.Exchange) bool) {
	t.Helper()
	for _, x := range xs {
		if pred(x) {
			return
		}
	}
	t.Errorf("no exchange shows %s; the trace:\n%s", what, summarize("", xs))
}

// TestClients runs every client through the proxy in every scenario and
// checks the client's own exit status and error, the flows recorded, and
// the rule explain names. It logs the client × scenario × rule table.
func TestClients(t *testing.T) {
	if os.Getenv("REGTRACE_E2E") != "1" && testing.Short() {
		t.Skip("end-to-end")
	}
	w := startClientWorld(t)
	scenarios := clientScenarios()
	table := map[string]map[string]string{}
	logTable := map[string]map[string]string{}
	runs := clientRuns{} // for regtrace diff, after every client ran
	for _, c := range suiteClients() {
		table[c.name] = map[string]string{}
		logTable[c.name] = map[string]string{}
		t.Run(c.name, func(t *testing.T) {
			if c.prepare != nil {
				c.prepare(t, w)
			}
			for _, sc := range scenarios {
				if sc.only != "" && sc.only != c.name || sc.pushes && c.push == nil || sc.mirrored && !c.hostsDir {
					table[c.name][sc.name] = "-"
					continue
				}
				t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
					w.rec.Take(t)
					out, err := sc.do(t, c, w)
					xs := w.rec.Take(t)
					rep := explain.Explain(explain.Input{Exchanges: xs, Handshakes: w.rec.Handshakes})
					got := explain.Rule("")
					if p := rep.Primary(); p != nil {
						got = p.Rule
					}
					cell := "ok"
					if err != nil {
						cell = "fails"
					}
					if got != "" {
						cell += ": " + string(got)
					}
					table[c.name][sc.name] = cell
					runs.add(c.name, sc.name, clientRun{xs: xs, log: out, logs: c.logs, failed: err != nil})
					if wantOK := sc.ok(c.name); (err == nil) != wantOK {
						t.Errorf("%s: exit error %v, want success=%v\n%s", c.name, err, wantOK, out)
					}
					if err != nil && sc.errRE != nil && !sc.errRE.MatchString(out) {
						t.Errorf("%s's error does not match %s:\n%s", c.name, sc.errRE, out)
					}
					// A debug log also holds the registry's answers (a ping's
					// 401 body): what blames is the client's own last words.
					said := out
					if c.logs {
						said = firstLines(out, 3)
					}
					if sc.notRE != nil && sc.notRE.MatchString(said) {
						t.Errorf("%s's output matches %s, blaming the wrong thing:\n%s", c.name, sc.notRE, out)
					}
					// The outcome model agrees with the client: a run that
					// failed is never called a success, and one that worked
					// never gets a failure finding.
					if rep.Failed() != (err != nil) {
						t.Errorf("explain says failed=%v, the client's exit error is %v; findings:\n%s\ntrace:\n%s", rep.Failed(), err, findingsText(rep), summarize("", xs))
					}
					if want := sc.rule(c.name); got != want {
						t.Errorf("explain named %q, want %q; findings:\n%s\ntrace:\n%s", got, want, findingsText(rep), summarize("", xs))
					}
					sc.check(t, w, c.name, xs)
					// Issue 13: the client's own debug log of the same run gives
					// the HAR's verdict, and fails exactly when the client did.
					if c.logs {
						// A log that cannot tell the HAR's rule from others lists
						// it among its unexplained failure's candidates; it
						// never names another rule.
						logRule, cands, logFailed := explainLogCandidates(t, out)
						logTable[c.name][sc.name] = string(logRule)
						if len(cands) > 0 {
							logTable[c.name][sc.name] += fmt.Sprintf(" %v", cands)
						}
						agrees := logRule == got || logRule == explain.RuleUnexplainedFailure && slices.Contains(cands, got)
						if !agrees || logFailed != (err != nil) {
							t.Errorf("%s's debug log gives %q %v (failed %v), the HAR %q (client failed %v)\nlog:\n%s", c.name, logRule, cands, logFailed, got, err != nil, out)
						}
						// A client's own output says nothing of a success
						// (crictl: "Image is up to date for sha256:…").
						if own := c.own; own != nil && err != nil {
							ownRule, ownCands, ownFailed := explainLogCandidates(t, own())
							if ownRule != got && (ownRule != explain.RuleUnexplainedFailure || !slices.Contains(ownCands, got)) || !ownFailed {
								t.Errorf("%s's own output gives %q %v (failed %v), the HAR %q\noutput:\n%s", c.name, ownRule, ownCands, ownFailed, got, own())
							}
						}
						// REGTRACE_CLIENT_LOGS=DIR keeps each log and the HAR of
						// its run side by side: how reader fixtures are recorded.
						if dir := os.Getenv("REGTRACE_CLIENT_LOGS"); dir != "" {
							base := filepath.Join(dir, c.name+"-"+strings.NewReplacer(" ", "-", "/", "", ",", "").Replace(sc.name))
							os.WriteFile(base+".log", []byte(out), 0o644)
							writeHAR(t, base+".har", xs)
						}
					}
					if err != nil {
						t.Logf("%s said: %s", c.name, firstLines(out, 3))
					}
				})
			}
		})
	}
	var b strings.Builder
	b.WriteString("| client |")
	for _, sc := range scenarios {
		b.WriteString(" " + sc.name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(scenarios)) + "\n")
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString("| " + n + " |")
		for _, sc := range scenarios {
			b.WriteString(" " + table[n][sc.name] + " |")
		}
		b.WriteString("\n")
	}
	t.Logf("client × scenario × rule:\n%s", b.String())
	for _, n := range names {
		for _, sc := range scenarios {
			if r, ok := logTable[n][sc.name]; ok {
				t.Logf("log %s / %s: log %q, HAR %q", n, sc.name, r, table[n][sc.name])
			}
		}
	}
	if p := os.Getenv("REGTRACE_CLIENT_TABLE"); p != "" {
		os.WriteFile(p, []byte(b.String()), 0o644)
	}
	t.Run("diff", func(t *testing.T) { checkDiffPairs(t, runs) })
}

// writeHAR writes the flows of xs as a redacted HAR.
func writeHAR(t *testing.T, path string, xs []*decode.Exchange) {
	t.Helper()
	w, err := har.Create(path, har.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if err := w.Add(x.Flow, har.Annotation{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func findingsText(rep *explain.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "  %s (%s) primary=%v: %s\n", f.Rule, f.Verdict, f.Primary, f.Why)
	}
	return b.String()
}

func firstLines(s string, n int) string {
	ls := lines(strings.TrimSpace(s))
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// explainLog explains a client's debug output as regtrace explain does,
// and returns its primary rule and whether it found a failure.
func explainLog(t *testing.T, out string) (explain.Rule, bool) {
	t.Helper()
	r, _, failed := explainLogCandidates(t, out)
	return r, failed
}

// explainLogCandidates is explainLog with the rules an unexplained
// failure fits.
func explainLogCandidates(t *testing.T, out string) (explain.Rule, []explain.Rule, bool) {
	t.Helper()
	in, err := readInput("-", strings.NewReader(out))
	if err != nil {
		t.Errorf("reading the client's debug log: %v", err)
		return "", nil, false
	}
	rep := explain.Explain(in)
	if p := rep.Primary(); p != nil {
		return p.Rule, p.Candidates, rep.Failed()
	}
	return "", nil, rep.Failed()
}
