package certs

import (
	"os/exec"
	"strings"
	"testing"
)

const (
	testCA     = "/home/u/.config/regtrace/ca.crt"
	testBundle = "/tmp/regtrace/bundle.pem"
	testProxy  = "http://127.0.0.1:8080"
)

func TestTrust(t *testing.T) {
	tests := []struct {
		client string
		want   []string
		not    []string
	}{
		{client: "docker", want: []string{
			`sudo cp /home/u/.config/regtrace/ca.crt "/etc/docker/certs.d/$REGISTRY/ca.crt"`,
			`Environment="HTTPS_PROXY=http://127.0.0.1:8080"`,
			`"proxies": {"https-proxy": "http://127.0.0.1:8080"}`,
			"/etc/systemd/system/docker.service.d/",
			"sudo systemctl daemon-reload && sudo systemctl restart docker",
			"not the docker CLI",
			"Docker Hub",
		}},
		{client: "containerd", want: []string{
			`"/etc/containerd/certs.d/$REGISTRY/hosts.toml"`,
			`ca = "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"`,
			`sudo cp /home/u/.config/regtrace/ca.crt "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"`,
			`Environment="HTTPS_PROXY=http://127.0.0.1:8080"`,
			"/etc/systemd/system/containerd.service.d/",
			"update-ca-certificates",
			"sudo systemctl restart containerd",
		}},
		{client: "podman", want: []string{
			`sudo cp /home/u/.config/regtrace/ca.crt "/etc/containers/certs.d/$REGISTRY/ca.crt"`,
			`cp /home/u/.config/regtrace/ca.crt "$CERTDIR/ca.crt"`,
			`podman pull --cert-dir "$CERTDIR"`,
			"SSL_CERT_FILE=/tmp/regtrace/bundle.pem HTTPS_PROXY=http://127.0.0.1:8080 podman pull",
			"Linux only",
		}},
		{client: "skopeo", want: []string{
			`skopeo inspect --cert-dir "$CERTDIR"`,
			"--src-cert-dir",
			"/etc/containers/certs.d/$REGISTRY/ca.crt",
			"SSL_CERT_FILE=/tmp/regtrace/bundle.pem HTTPS_PROXY=http://127.0.0.1:8080 skopeo",
			"Linux only",
		}},
		{client: "oras", want: []string{
			"HTTPS_PROXY=http://127.0.0.1:8080 oras manifest fetch --ca-file /home/u/.config/regtrace/ca.crt",
		}},
		{client: "crane", want: []string{
			"SSL_CERT_FILE=/tmp/regtrace/bundle.pem HTTPS_PROXY=http://127.0.0.1:8080 crane",
			"Linux only",
		}, not: []string{testCA}},
		{client: "regctl", want: []string{
			`regctl registry set "$REGISTRY" --cacert "$(cat /home/u/.config/regtrace/ca.crt)"`,
			"SSL_CERT_FILE=/tmp/regtrace/bundle.pem HTTPS_PROXY=http://127.0.0.1:8080 regctl",
		}},
		{client: "curl", want: []string{
			"curl -x http://127.0.0.1:8080 --cacert /home/u/.config/regtrace/ca.crt",
		}},
		{client: " Docker ", want: []string{"/etc/docker/certs.d/"}},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			got, err := Trust(tt.client, TrustParams{CACert: testCA, Bundle: testBundle, Proxy: testProxy})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(tt.want, "REGISTRY=registry.example.com") {
				if !strings.Contains(got, w) {
					t.Errorf("Trust(%q) lacks %q:\n%s", tt.client, w, got)
				}
			}
			for _, n := range append(tt.not, "{ca}", "{bundle}", "{proxy}", "{proxyRaw}", "{goenv}") {
				if strings.Contains(got, n) {
					t.Errorf("Trust(%q) contains %q:\n%s", tt.client, n, got)
				}
			}
		})
	}
}

func TestTrustAll(t *testing.T) {
	got, err := Trust("", TrustParams{CACert: testCA, Bundle: testBundle, Proxy: testProxy})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Clients() {
		if !strings.Contains(got, "\n# "+c+":") && !strings.Contains(got, "\n# "+c+" ") {
			t.Errorf("Trust(\"\") has no section for %s", c)
		}
	}
	if n := strings.Count(got, "REGISTRY=registry.example.com"); n != 1 {
		t.Errorf("Trust(\"\") sets REGISTRY %d times, want once", n)
	}
}

func TestTrustUnknownClient(t *testing.T) {
	_, err := Trust("kubectl", TrustParams{CACert: testCA, Bundle: testBundle, Proxy: testProxy})
	if err == nil {
		t.Fatal("Trust(kubectl) succeeded, want an error")
	}
	for _, c := range append(Clients(), "kubectl") {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not name %s", err, c)
		}
	}
}

func TestTrustQuotesPaths(t *testing.T) {
	const ca = "/Users/u/Library/Application Support/regtrace/ca.crt"
	got, err := Trust("oras", TrustParams{CACert: ca, Bundle: "", Proxy: ""})
	if err != nil {
		t.Fatal(err)
	}
	if want := "--ca-file '" + ca + "'"; !strings.Contains(got, want) {
		t.Errorf("Trust lacks %q:\n%s", want, got)
	}
	if !strings.Contains(got, "HTTPS_PROXY="+defaultProxy) {
		t.Errorf("an empty proxy address is not the default one:\n%s", got)
	}
}

// TestTrustIsValidShell parses every text with sh -n: it is meant to be
// pasted into a shell.
func TestTrustIsValidShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, c := range append(Clients(), "") {
		got, err := Trust(c, TrustParams{CACert: "/it's/ca.crt", Bundle: testBundle, Proxy: testProxy})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sh, "-n")
		cmd.Stdin = strings.NewReader(got)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sh -n on Trust(%q): %v\n%s\n%s", c, err, out, got)
		}
	}
}

func TestClientsIsACopy(t *testing.T) {
	Clients()[0] = "changed"
	if Clients()[0] != "docker" {
		t.Error("Clients() returns the package's own slice")
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/etc/ca.crt", "/etc/ca.crt"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"/a b/c", "'/a b/c'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestTrustFillsRegistryAndImage(t *testing.T) {
	got, err := Trust("skopeo", TrustParams{CACert: testCA, Registry: "registry.test:5443", Image: "registry.test:5443/team/app:1.0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"REGISTRY=registry.test:5443\n", "IMAGE=registry.test:5443/team/app:1.0\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("Trust lacks %q:\n%s", w, got)
		}
	}
	if got, _ := Trust("skopeo", TrustParams{}); !strings.Contains(got, "REGISTRY=registry.example.com\n") {
		t.Errorf("no placeholder registry:\n%s", got)
	}
}
