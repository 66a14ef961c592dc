package probe

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// write puts files (path relative to dir -> content) under dir.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o600)
		if strings.HasPrefix(filepath.Base(p), "docker-credential-") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// helperScript is a docker-credential helper speaking the protocol: it
// knows one server URL.
func helperScript(server, user, secret string) string {
	return "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r url\nif [ \"$url\" = '" + server + "' ]; then\n" +
		"  printf '{\"ServerURL\":\"%s\",\"Username\":\"" + user + "\",\"Secret\":\"" + secret + "\"}' \"$url\"\n  exit 0\nfi\n" +
		"echo 'credentials not found in native keychain'\nexit 1\n"
}

func TestLookups(t *testing.T) {
	auth := b64("alice:pw")
	type want map[string]string // family -> "user@key" found, "" none, "error: …" an error
	for _, tc := range []struct {
		name  string
		image string
		files map[string]string // under HOME
		st    func(home string) Stores
		want  want
		miss  map[string]string // family -> text in its Misses
	}{
		{"hub under its URL key", "nginx", map[string]string{".docker/config.json": `{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"}}}`}, nil,
			want{AsDocker: "alice@https://index.docker.io/v1/", AsCrane: "alice@https://index.docker.io/v1/", AsContainers: "alice@https://index.docker.io/v1/", AsKubelet: "alice@https://index.docker.io/v1/"}, nil},
		{"hub under docker.io, as podman writes it", "nginx", map[string]string{".docker/config.json": `{"auths":{"docker.io":{"auth":"` + auth + `"}}}`}, nil,
			want{AsDocker: "", AsCrane: "", AsContainers: "alice@docker.io", AsKubelet: "alice@docker.io"},
			map[string]string{AsDocker: `Docker Hub up under "https://index.docker.io/v1/" exactly`}},
		{"hub under registry-1.docker.io", "docker.io/library/nginx", map[string]string{".docker/config.json": `{"auths":{"registry-1.docker.io":{"auth":"` + auth + `"}}}`}, nil,
			want{AsDocker: "", AsCrane: "", AsContainers: "alice@registry-1.docker.io", AsKubelet: ""},
			map[string]string{AsKubelet: "does not match"}},
		{"a key with a port for an image without", "registry.example.com/team/app", map[string]string{".docker/config.json": `{"auths":{"registry.example.com:5000":{"auth":"` + auth + `"}}}`}, nil,
			want{AsDocker: "", AsCrane: "", AsContainers: "", AsKubelet: ""},
			map[string]string{AsDocker: "port differs", AsContainers: "port differs"}},
		{"a URL key with /v2/", "registry.example.com/team/app", map[string]string{".docker/config.json": `{"auths":{"https://registry.example.com/v2/":{"auth":"` + auth + `"}}}`}, nil,
			want{AsDocker: "alice@https://registry.example.com/v2/", AsCrane: "alice@https://registry.example.com/v2/", AsContainers: "alice@https://registry.example.com/v2/", AsKubelet: "alice@https://registry.example.com/v2/"}, nil},
		{"a key with /v2/ and no scheme", "registry.example.com/team/app", map[string]string{".docker/config.json": `{"auths":{"registry.example.com/v2/":{"auth":"` + auth + `"}}}`}, nil,
			want{AsDocker: "alice@registry.example.com/v2/", AsCrane: "alice@registry.example.com/v2/", AsContainers: "", AsKubelet: "alice@registry.example.com/v2/"},
			map[string]string{AsContainers: "scheme and path are dropped only when the key has a scheme"}},
		{"username and password without auth", "registry.example.com/team/app", map[string]string{".docker/config.json": `{"auths":{"registry.example.com":{"username":"bob","password":"pw"}}}`}, nil,
			want{AsDocker: "bob@registry.example.com", AsCrane: "bob@registry.example.com", AsContainers: "", AsKubelet: "bob@registry.example.com"},
			map[string]string{AsContainers: `holds no "auth"`}},
		{"credsStore helper missing from PATH", "registry.example.com/team/app", map[string]string{".docker/config.json": `{"credsStore":"desktop","auths":{"registry.example.com":{}}}`}, nil,
			want{AsDocker: "error: not in PATH", AsCrane: "error: not in PATH", AsContainers: "", AsKubelet: ""}, nil},
		{"credHelpers for the registry", "registry.example.com/team/app", map[string]string{
			".docker/config.json":        `{"credHelpers":{"registry.example.com":"acme"}}`,
			"bin/docker-credential-acme": helperScript("registry.example.com", "carol", "s3cret")}, nil,
			want{AsDocker: "carol@registry.example.com", AsCrane: "carol@registry.example.com", AsContainers: "carol@registry.example.com", AsKubelet: ""}, nil},
		{"a failing helper's output is not repeated", "registry.example.com/team/app", map[string]string{
			".docker/config.json":        `{"credsStore":"acme"}`,
			"bin/docker-credential-acme": "#!/bin/sh\necho '{\"Secret\":\"LEAKED-SECRET\"}'\nexit 3\n"}, nil,
			want{AsDocker: "error: exit status 3", AsCrane: "error: exit status 3", AsContainers: "", AsKubelet: ""}, nil},
		{"a helper that holds nothing for the host", "registry.example.com/team/app", map[string]string{
			".docker/config.json":        `{"credsStore":"acme"}`,
			"bin/docker-credential-acme": helperScript("other.example.com", "carol", "s3cret")}, nil,
			want{AsDocker: "", AsCrane: "", AsContainers: "", AsKubelet: ""}, nil},
		{"an identity token from a helper", "registry.example.com/team/app", map[string]string{
			".docker/config.json":        `{"credsStore":"acme"}`,
			"bin/docker-credential-acme": helperScript("registry.example.com", "<token>", "refresh")}, nil,
			want{AsDocker: "<token>@registry.example.com", AsCrane: "<token>@registry.example.com", AsContainers: "", AsKubelet: ""}, nil},
		{"a repository key in REGISTRY_AUTH_FILE", "registry.example.com/team/app", map[string]string{
			"auth.json": `{"auths":{"registry.example.com/team":{"auth":"` + b64("dave:pw") + `"},"registry.example.com":{"auth":"` + auth + `"}}}`},
			func(home string) Stores { return Stores{RegistryAuthFile: filepath.Join(home, "auth.json")} },
			want{AsDocker: "", AsCrane: "alice@registry.example.com", AsContainers: "dave@registry.example.com/team", AsKubelet: ""}, nil},
		{"containers' runtime auth.json before docker's", "registry.example.com/team/app", map[string]string{
			"run/containers/auth.json": `{"auths":{"registry.example.com":{"auth":"` + b64("erin:pw") + `"}}}`,
			".docker/config.json":      `{"auths":{"registry.example.com":{"auth":"` + auth + `"}}}`},
			func(home string) Stores { return Stores{XDGRuntimeDir: filepath.Join(home, "run")} },
			want{AsDocker: "alice@registry.example.com", AsCrane: "alice@registry.example.com", AsContainers: "erin@registry.example.com", AsKubelet: "alice@registry.example.com"}, nil},
		{"a broken config", "registry.example.com/team/app", map[string]string{".docker/config.json": "{\n\"auths\": {,}\n}"}, nil,
			want{AsDocker: "", AsCrane: "error: line 2", AsContainers: "error: line 2", AsKubelet: ""}, map[string]string{AsDocker: "warns and pulls without credentials"}},
		{"DOCKER_CONFIG stands in only for ~/.docker for podman", "registry.example.com/team/app", map[string]string{
			"run/containers/auth.json": `{"auths":{"registry.example.com":{"auth":"` + b64("erin:pw") + `"}}}`,
			"dc/config.json":           `{"auths":{"registry.example.com":{"auth":"` + auth + `"}}}`},
			func(home string) Stores {
				return Stores{XDGRuntimeDir: filepath.Join(home, "run"), DockerConfig: filepath.Join(home, "dc")}
			},
			want{AsDocker: "alice@registry.example.com", AsCrane: "alice@registry.example.com", AsContainers: "erin@registry.example.com", AsKubelet: ""}, nil},
		{"--authfile is podman's, not crane's", "registry.example.com/team/app", map[string]string{
			"auth.json": `{"auths":{"registry.example.com":{"auth":"` + auth + `"}}}`},
			func(home string) Stores { return Stores{AuthFile: filepath.Join(home, "auth.json")} },
			want{AsDocker: "", AsCrane: "", AsContainers: "alice@registry.example.com", AsKubelet: ""}, nil},
		{"auth that is not base64", "registry.example.com/team/app", map[string]string{".docker/config.json": `{"auths":{"registry.example.com":{"auth":"%%%"}}}`}, nil,
			want{AsDocker: "error: not base64", AsCrane: "error: not base64", AsContainers: "error: not base64", AsKubelet: "error: not base64"}, nil},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			home := t.TempDir()
			write(t, home, tc.files)
			st := Stores{}
			if tc.st != nil {
				st = tc.st(home)
			}
			st.Home, st.PATH, st.XDGConfigHome, st.KubeletRoot = home, filepath.Join(home, "bin"), filepath.Join(home, "cfg"), filepath.Join(home, "kubelet")
			if st.XDGRuntimeDir == "" {
				st.XDGRuntimeDir = filepath.Join(home, "run-none")
			}
			im, err := ParseImage(tc.image)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range LookupAll(context.Background(), st, im) {
				got := ""
				switch {
				case l.Err != nil:
					got = "error: " + l.Err.Error()
				case l.Credential != nil:
					u := l.Credential.Username
					if l.Credential.IdentityToken != "" {
						u = "<token>"
					}
					got = u + "@" + l.Credential.Key
				}
				w := tc.want[l.As]
				if strings.HasPrefix(w, "error: ") && !strings.HasPrefix(got, "error: ") || !strings.HasPrefix(w, "error: ") && got != w ||
					strings.HasPrefix(w, "error: ") && !strings.Contains(got, strings.TrimPrefix(w, "error: ")) {
					t.Errorf("%s found %q, want %q (read %v, misses %v)", l.As, got, w, l.Read, l.Misses)
				}
				if m := tc.miss[l.As]; m != "" && !strings.Contains(strings.Join(l.Misses, "\n"), m) {
					t.Errorf("%s misses %q, want one saying %q", l.As, l.Misses, m)
				}
				if l.Err != nil && strings.Contains(l.Err.Error(), "LEAKED") {
					t.Errorf("%s: the error repeats a helper's output: %v", l.As, l.Err)
				}
				if l.Credential != nil && strings.Contains(l.Credential.Source(), "pw") {
					t.Errorf("Source shows a secret: %s", l.Credential.Source())
				}
			}
		})
	}
}

func TestPullSecretSpellings(t *testing.T) {
	cfg := `{"auths":{"%s":{"username":"k8s","password":"pw"}}}`
	for _, tc := range []struct {
		name, file, key, image string
		found                  bool
	}{
		{"raw dockerconfigjson", "raw", "registry.example.com", "registry.example.com/team/app", true},
		{"Secret as JSON", "json", "https://registry.example.com", "registry.example.com/team/app", true},
		{"Secret as YAML", "yaml", "registry.example.com/v1/", "registry.example.com/team/app", true},
		{"dockercfg map", "cfg", "registry.example.com", "registry.example.com/team/app", true},
		{"a wildcard key", "raw", "*.example.com", "registry.example.com/team/app", true},
		{"a wildcard does not cover two labels", "raw", "*.com", "registry.example.com/team/app", false},
		{"a path prefix", "raw", "registry.example.com/team", "registry.example.com/team/app", true},
		{"another path", "raw", "registry.example.com/other", "registry.example.com/team/app", false},
		{"a key with a port", "raw", "registry.example.com:5000", "registry.example.com/team/app", false},
		{"hub under its URL key", "raw", "https://index.docker.io/v1/", "nginx", true},
		{"hub under docker.io", "json", "docker.io", "nginx", true},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			body := strings.Replace(cfg, "%s", tc.key, 1)
			var content string
			switch tc.file {
			case "raw":
				content = body
			case "json":
				content = `{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"` + b64(body) + `"}}`
			case "yaml":
				content = "apiVersion: v1\nkind: Secret\ndata:\n  .dockerconfigjson: " + b64(body) + "\ntype: kubernetes.io/dockerconfigjson\n"
			case "cfg":
				content = `{"` + tc.key + `":{"auth":"` + b64("k8s:pw") + `"}}`
			}
			p := filepath.Join(dir, "secret")
			os.WriteFile(p, []byte(content), 0o600)
			im, _ := ParseImage(tc.image)
			l := Find(context.Background(), Stores{Home: dir, PullSecret: p, KubeletRoot: dir}, AsKubelet, im)
			if l.Err != nil || (l.Credential != nil) != tc.found {
				t.Errorf("found %+v, err %v; want found=%v (misses %v)", l.Credential, l.Err, tc.found, l.Misses)
			}
		})
	}
	for _, bad := range []string{`{"kind":"Secret","data":{}}`, "not json", `{"auths":{}}`, `{"kind":"Secret","data":{".dockerconfigjson":"!!"}}`} {
		p := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(p, []byte(bad), 0o600)
		if l := Find(context.Background(), Stores{PullSecret: p}, AsKubelet, Image{Registry: "r.io", Repo: "a"}); l.Err == nil || !strings.Contains(l.Err.Error(), p) {
			t.Errorf("pull secret %q: err %v, want one naming the file", bad, l.Err)
		}
	}
}

// FuzzLookups: any bytes as a docker config, an auth.json and a pull
// secret give a credential, nothing, or an error naming the file; never a
// panic, and a credential's Source never shows its password.
func FuzzLookups(f *testing.F) {
	for _, s := range []string{
		`{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("u:SECRETPW") + `"}}}`,
		`{"auths":{"registry.example.com/v2/":{"username":"u","password":"SECRETPW"}},"credHelpers":{"x":"y"}}`,
		`{"kind":"Secret","data":{".dockerconfigjson":"` + b64(`{"auths":{"*.example.com":{"auth":"`+b64("u:SECRETPW")+`"}}}`) + `"}}`,
		"kind: Secret\ndata:\n  .dockercfg: " + b64(`{"registry.example.com":{"auth":"`+b64("u:SECRETPW")+`"}}`),
		`{"auths":{"%zz":{},"[::1]:5000":{"auth":"Og=="}}}`, `{"auths":null}`, `[]`, "",
	} {
		f.Add([]byte(s), "registry.example.com/team/app")
	}
	f.Fuzz(func(t *testing.T, data []byte, image string) {
		im, err := ParseImage(image)
		if err != nil {
			im, _ = ParseImage("nginx")
		}
		home := t.TempDir()
		for _, p := range []string{".docker/config.json", "auth.json", "secret", ".dockercfg"} {
			write(t, home, map[string]string{p: string(data)})
		}
		st := Stores{Home: home, AuthFile: filepath.Join(home, "auth.json"), PullSecret: filepath.Join(home, "secret"), XDGRuntimeDir: home, KubeletRoot: home}
		for _, as := range Families {
			for _, s := range []Stores{st, {Home: home, PullSecret: st.PullSecret}} {
				l := Find(context.Background(), s, as, im)
				if l.Err != nil && !strings.Contains(l.Err.Error(), home) {
					t.Fatalf("%s: error %q names no file", as, l.Err)
				}
				if c := l.Credential; c != nil && c.Password != "" && strings.Contains(c.Source(), c.Password) && !strings.Contains(c.Key+c.From+c.Username, c.Password) {
					t.Fatalf("%s: Source %q shows the password", as, c.Source())
				}
			}
		}
	})
}
