package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestProbe probes every kind of registry and repository of the client
// world — public, private, missing, forbidden, rate limited, a dead realm,
// Basic auth, a ping that answers 200 while the repository challenges —
// and checks the code, the exit status and that the JSON report is one.
func b64e(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestProbe(t *testing.T) {
	if os.Getenv("REGTRACE_E2E") != "1" && testing.Short() {
		t.Skip("end-to-end")
	}
	w := startClientWorld(t)
	cases := []struct {
		name, image, creds string
		extra              []string
		code               string
		exit               int
		says               string // in the conclusion
		// home holds files under a private HOME ("bin/…" is on PATH);
		// note is a text the report's notes must hold.
		home map[string]string
		note string
	}{
		{"hub official image by short name", "nginx:1.0", "", nil, "PULLABLE", 0, "pullable anonymously", nil, ""},
		{"hub public with credentials", "nginx:1.0", "admin:admin-pw", nil, "PULLABLE", 0, "public and pullable", nil, ""},
		{"hub missing tag", "docker.io/library/nginx:nope", "", nil, "MANIFEST_UNKNOWN", 4, "repository exists", nil, ""},
		{"private anonymously", w.reg + "/team/app:1.0", "", nil, "TOKEN_SCOPE_EMPTY", 3, "grants nothing", nil, ""},
		{"private with credentials", w.reg + "/team/app:1.0", alice, nil, "PULLABLE", 0, "exists and is private", nil, ""},
		{"wrong password", w.reg + "/team/app:1.0", aliceWrong, nil, "CREDENTIALS_REJECTED", 3, "refused the credential", nil, ""},
		{"missing repository proven", w.reg + "/team/gone:1.0", alice, nil, "NAME_UNKNOWN", 4, "does not exist", nil, ""},
		{"missing or private", w.reg + "/team/nope:1.0", alice, nil, "TOKEN_SCOPE_EMPTY", 3, "grants nothing", nil, ""},
		{"ping 200 repository challenges", w.front + "/team/app:1.0", alice, nil, "PULLABLE", 0, "exists and is private", nil, ""},
		{"ping 200 anonymous", w.front + "/team/app:1.0", "", nil, "TOKEN_SCOPE_EMPTY", 3, "grants nothing", nil, ""},
		{"denied by policy", w.gate + "/team/denied:1.0", alice, nil, "DENIED", 6, "DENIED", nil, ""},
		{"rate limited", w.gate + "/limited/app:1.0", "", nil, "RATE_LIMITED", 5, "429", nil, ""},
		{"dead realm", w.deadRealm + "/team/app:1.0", "", nil, "REALM_UNREACHABLE", 1, "token request failed", nil, ""},
		{"basic without credentials", w.basic + "/team/app:1.0", "", nil, "CREDENTIALS_REQUIRED", 3, "Basic", nil, ""},
		{"basic with credentials", w.basic + "/team/app:1.0", alice, nil, "PULLABLE", 0, "exists and is private", nil, ""},
		{"basic missing tag", w.basicFront + "/team/app:nope", alice, nil, "MANIFEST_UNKNOWN", 4, "repository exists", nil, ""},
		{"open registry missing repository", w.open + "/team/nope:1.0", "", nil, "NAME_UNKNOWN", 4, "does not exist", nil, ""},
		{"push with a pull-only account", w.reg + "/team/app:1.0", alice, []string{"--push"}, "PUSH_DENIED", 6, "no push", nil, ""},
		{"push as admin", w.reg + "/team/app:1.0", "admin:admin-pw", []string{"--push"}, "PUSHABLE", 0, "grants [pull,push]", nil, ""},
		{"mount from a repository it may read", w.reg + "/team/app:1.0", "admin:admin-pw", []string{"--push", "--mount-from", "team/other"}, "PUSHABLE", 0, "pull on team/other", nil, ""},
		{"mount from a repository it may not read", w.reg + "/team/app:1.0", "admin:admin-pw", []string{"--push", "--mount-from", "team/denied"}, "PUSH_DENIED", 6, "mount", nil, ""},
		{"anonymous push", w.reg + "/team/app:1.0", "", []string{"--push"}, "TOKEN_SCOPE_EMPTY", 3, "grants nothing", nil, ""},
		{"untrusted certificate", w.reg + "/team/app:1.0", "", []string{"--no-ca"}, "TLS_UNTRUSTED", 1, "certificate", nil, ""},
		{"docker config, hub key", "nginx:1.0", "", nil, "PULLABLE", 0, "public and pullable",
			map[string]string{".docker/config.json": `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64e("admin:admin-pw") + `"}}}`}, ""},
		{"docker config, registry key", w.reg + "/team/app:1.0", "", nil, "PULLABLE", 0, "exists and is private",
			map[string]string{".docker/config.json": `{"auths":{"` + w.reg + `":{"auth":"` + b64e(alice) + `"}}}`}, ""},
		{"docker config, key without the port", w.reg + "/team/app:1.0", "", nil, "TOKEN_SCOPE_EMPTY", 3, "no credential was found",
			map[string]string{".docker/config.json": `{"auths":{"registry.test":{"auth":"` + b64e(alice) + `"}}}`}, "port differs"},
		{"podman auth.json, repository key", w.reg + "/team/app:1.0", "", []string{"--as", "podman", "--authfile", "HOME/auth.json"}, "PULLABLE", 0, "exists and is private",
			map[string]string{"auth.json": `{"auths":{"` + w.reg + `/team":{"auth":"` + b64e(alice) + `"}}}`}, "docker would go anonymous"},
		{"credsStore helper missing", w.reg + "/team/app:1.0", "", nil, "CREDENTIAL_STORE_FAILED", 1, "not in PATH",
			map[string]string{".docker/config.json": `{"credsStore":"desktop"}`}, "podman, skopeo and buildah would go anonymous"},
		{"credHelpers helper", w.reg + "/team/app:1.0", "", nil, "PULLABLE", 0, "docker-credential-acme",
			map[string]string{".docker/config.json": `{"credHelpers":{"` + w.reg + `":"acme"}}`,
				"bin/docker-credential-acme": "#!/bin/sh\nread -r u\n[ \"$u\" = '" + w.reg + "' ] && printf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"alice-pw\"}' \"$u\" && exit 0\necho 'credentials not found in native keychain'; exit 1\n"}, ""},
		{"pull secret as YAML", w.reg + "/team/app:1.0", "", []string{"--pull-secret", "HOME/secret.yaml"}, "PULLABLE", 0, "exists and is private",
			map[string]string{"secret.yaml": "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: " +
				b64e(`{"auths":{"https://`+w.reg+`/v1/":{"username":"alice","password":"alice-pw"}}}`) + "\n"}, ""},
		{"a pull-through cache as mirror, the registry's credential not sent to it", w.reg + "/team/app:1.0", "", []string{"--mirror", w.cache, "--as", "podman"}, "PULLABLE", 0, "Through the mirror " + w.cache,
			map[string]string{".docker/config.json": `{"auths":{"` + w.reg + `":{"auth":"` + b64e(alice) + `"}}}`}, "looks a mirror up by the mirror's own host"},
		{"dockerd sends the registry's credential to a mirror", w.reg + "/team/app:1.0", "", []string{"--mirror", w.cache}, "PULLABLE", 0, "with the credential stored under",
			map[string]string{".docker/config.json": `{"auths":{"` + w.reg + `":{"auth":"` + b64e(alice) + `"}}}`}, ""},
		{"a mirror without the image", w.reg + "/team/app:1.0", "", []string{"--mirror", "https://" + w.open}, "NAME_UNKNOWN", 4, "Through the mirror " + w.open, nil, ""},
		{"through HTTPS_PROXY", w.reg + "/team/app:1.0", alice, []string{"--env-proxy"}, "PULLABLE", 0, "exists and is private", nil, ""},
		{"pull secret for another port", w.reg + "/team/app:1.0", "", []string{"--pull-secret", "HOME/secret.json"}, "TOKEN_SCOPE_EMPTY", 3, "no credential was found",
			map[string]string{"secret.json": `{"auths":{"registry.test:1":{"auth":"` + b64e(alice) + `"}}}`}, "does not match"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			home := t.TempDir()
			for p, c := range tc.home {
				full := filepath.Join(home, p)
				os.MkdirAll(filepath.Dir(full), 0o755)
				if err := os.WriteFile(full, []byte(c), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("HOME", home)
			t.Setenv("PATH", filepath.Join(home, "bin")+":"+os.Getenv("PATH"))
			for _, k := range []string{"DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_CONFIG_HOME"} {
				t.Setenv(k, "")
			}
			t.Setenv("XDG_RUNTIME_DIR", filepath.Join(home, "run"))
			for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
				t.Setenv(k, "")
			}
			args := []string{"regtrace", "probe", "--format", "json", "--timeout", "10s"}
			for k, v := range w.resolve {
				args = append(args, "--resolve", k+"="+v)
			}
			if !strings.Contains(strings.Join(tc.extra, " "), "--no-ca") {
				args = append(args, "--upstream-ca", w.pki.CA)
			}
			for _, e := range tc.extra {
				if e == "--env-proxy" {
					// Through the proxy in the environment, as a client
					// behind a corporate proxy: here regtrace's recorder.
					t.Setenv("HTTPS_PROXY", w.rec.URL)
					args = append(args, "--upstream-ca", w.rec.CACert)
					continue
				}
				if e != "--no-ca" {
					args = append(args, strings.Replace(e, "HOME", home, 1))
				}
			}
			if tc.creds != "" {
				args = append(args, "--creds-stdin")
			}
			har := filepath.Join(t.TempDir(), "probe.har")
			args = append(args, "--har", har, tc.image)
			var out, errb bytes.Buffer
			app := newApp(&out, &errb)
			app.Reader = strings.NewReader(tc.creds + "\n")
			w.rec.Take(t)
			code := runApp(context.Background(), app, args)
			if slices.Contains(tc.extra, "--env-proxy") {
				if xs := w.rec.Take(t); len(xs) == 0 {
					t.Error("HTTPS_PROXY was set and nothing went through it")
				}
			}
			var rep struct {
				Failed bool `json:"failed"`
				Probe  struct {
					Code, Conclusion string
					Notes            []string
					Steps            []struct{ Phase, Name string }
				} `json:"probe"`
				Findings []struct{ Rule string }
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("the JSON report does not parse: %v\n%s\nstderr: %s", err, out.String(), errb.String())
			}
			if rep.Probe.Code != tc.code || code != tc.exit || !strings.Contains(rep.Probe.Conclusion, tc.says) {
				t.Errorf("code %s exit %d, want %s exit %d with %q in:\n%s\nstderr: %s", rep.Probe.Code, code, tc.code, tc.exit, tc.says, out.String(), errb.String())
			}
			if tc.note != "" && !strings.Contains(strings.Join(rep.Probe.Notes, "\n"), tc.note) {
				t.Errorf("no note says %q: %q", tc.note, rep.Probe.Notes)
			}
			if strings.Contains(out.String(), "alice-pw") || strings.Contains(out.String(), "admin-pw") {
				t.Errorf("a password is in the report:\n%s", out.String())
			}
			b, err := os.ReadFile(har)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "alice-pw") || strings.Contains(string(b), "admin-pw") || !json.Valid(b) {
				t.Errorf("the HAR holds a password or is not JSON")
			}
			// The text and Markdown reports lead with the same code.
			for _, format := range []string{"text", "markdown"} {
				targs := slices.Clone(args)
				targs[3] = format
				var to, te bytes.Buffer
				app := newApp(&to, &te)
				app.Reader = strings.NewReader(tc.creds + "\n")
				if c := runApp(context.Background(), app, targs); c != code || !strings.Contains(to.String(), tc.code) {
					t.Errorf("--format %s exits %d, not %d, or does not say %s:\n%s%s", format, c, code, tc.code, to.String(), te.String())
				}
				t.Logf("%s", to.String())
			}
			// The HAR explains to the same failure or success.
			var eo, ee bytes.Buffer
			ecode := run(context.Background(), []string{"regtrace", "explain", "--format", "json", har}, &eo, &ee)
			if (ecode == exitFound) != rep.Failed {
				t.Errorf("explain of the probe's HAR exits %d, the probe's report says failed=%v\n%s", ecode, rep.Failed, ee.String())
			}
		})
	}
}
