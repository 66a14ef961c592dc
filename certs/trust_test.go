package certs

import (
	"os/exec"
	"slices"
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
			"\nsudo HTTPS_PROXY=http://127.0.0.1:8080 ctr images pull --hosts-dir /etc/containerd/certs.d \"$IMAGE\"\n",
			"--client crictl",
		}},
		{client: "crictl", want: []string{
			`ca = "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"`,
			`Environment="HTTPS_PROXY=http://127.0.0.1:8080"`,
			"\nsudo crictl pull \"$IMAGE\"\n",
			"--creds USER:PASSWORD",
			"imagePullSecrets",
			"the kubelet",
			"--client containerd",
		}, not: []string{"\nsudo HTTPS_PROXY=http://127.0.0.1:8080 ctr "}},
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

// TestTrustContainerdEveryHostTrustsTheCA reads the hosts.toml the
// containerd and crictl instructions write, and the mirror entry they tell
// the user to add back, as containerd does: each [host."…"] in order, then
// server with the top-level keys (parseHostsFile, core/remotes/docker/config/
// hosts.go). Every one must carry ca: containerd 1.6 measured through
// regtrace tried server without the CA after an auth failure on the host
// ("x509: certificate signed by unknown authority") when only the host had it.
func TestTrustContainerdEveryHostTrustsTheCA(t *testing.T) {
	const registry = "registry.test:5443"
	wantCA := "/etc/containerd/certs.d/" + registry + "/regtrace-ca.crt"
	for _, c := range []string{"containerd", "crictl"} {
		got, err := Trust(c, TrustParams{CACert: testCA, Registry: registry})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(got, "$REGISTRY", registry)
		if !strings.Contains(text, "sudo cp "+testCA+" \""+wantCA+"\"") {
			t.Errorf("Trust(%q) does not copy the CA to %s:\n%s", c, wantCA, got)
		}
		written, ok := heredoc(text, `hosts.toml" >/dev/null <<EOF`)
		if !ok {
			t.Fatalf("Trust(%q) writes no hosts.toml:\n%s", c, got)
		}
		top, hosts := parseHostsTOML(t, written)
		// containerd 1.6 and 1.7 reject a hosts.toml without a [host]
		// table (getSortedHosts: "invalid `host` tree") and fall back to
		// the directory's certificate files, ignoring the whole file.
		if top[hostTable] == "" && len(hosts) == 0 {
			t.Errorf("Trust(%q): hosts.toml has no [host] table: containerd 1.6 and 1.7 ignore it:\n%s", c, written)
		}
		if top["server"] != `"https://`+registry+`"` {
			t.Errorf("Trust(%q): hosts.toml server = %s, want the registry:\n%s", c, top["server"], written)
		}
		// The mirror the user is told to add back, uncommented, after
		// what the instructions wrote.
		var mirror []string
		in := false
		for _, line := range strings.Split(text, "\n") {
			l, comment := strings.CutPrefix(strings.TrimSpace(line), "#")
			if !comment {
				in = false
				continue
			}
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "[host.") {
				in = true
			} else if in && !strings.Contains(l, " = ") {
				in = false
			}
			if in {
				mirror = append(mirror, l)
			}
		}
		if len(mirror) == 0 {
			t.Errorf("Trust(%q) shows no mirror entry with its ca line:\n%s", c, got)
		}
		top, hosts = parseHostsTOML(t, written+"\n"+strings.Join(mirror, "\n"))
		delete(top, hostTable)
		tries := append(hosts, hostEntry{name: "server " + top["server"], keys: top})
		for _, h := range tries {
			if h.keys["ca"] != `"`+wantCA+`"` {
				t.Errorf("Trust(%q): containerd tries %s with ca = %q, want %q:\n%s", c, h.name, h.keys["ca"], wantCA, got)
			}
		}
		if len(tries) < 2 {
			t.Errorf("Trust(%q): the mirror example has no [host] entry", c)
		}
		// A [host] that repeats server makes containerd try it twice.
		for _, h := range hosts {
			if top["server"] == strings.TrimSuffix(strings.TrimPrefix(h.name, "[host."), "]") {
				t.Errorf("Trust(%q): %s repeats server: containerd would try it twice", c, h.name)
			}
		}
	}
}

// TestTrustContainerdUndo: both steps are undone, and the restart is said to
// leave containers running.
func TestTrustContainerdUndo(t *testing.T) {
	for _, c := range []string{"containerd", "crictl"} {
		got, err := Trust(c, TrustParams{CACert: testCA})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{
			`sudo rm "/etc/containerd/certs.d/$REGISTRY/hosts.toml" "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"`,
			"hosts.toml.before-regtrace",
			"sudo rm /etc/systemd/system/containerd.service.d/regtrace-proxy.conf",
			"Running containers keep running",
			"KillMode=process",
		} {
			if !strings.Contains(got, w) {
				t.Errorf("Trust(%q) lacks %q:\n%s", c, w, got)
			}
		}
		// Undoing is for afterwards: none of it runs when the text is pasted.
		for _, line := range strings.Split(got, "\n") {
			if strings.HasPrefix(line, "sudo rm") || strings.HasPrefix(line, "sudo mv") {
				t.Errorf("Trust(%q) runs %q when pasted", c, line)
			}
		}
	}
}

// heredoc returns the body of the here-document whose command line ends with
// opener.
func heredoc(text, opener string) (string, bool) {
	_, rest, ok := strings.Cut(text, opener+"\n")
	if !ok {
		return "", false
	}
	body, _, ok := strings.Cut(rest, "\nEOF\n")
	return body, ok
}

type hostEntry struct {
	name string
	keys map[string]string
}

// parseHostsTOML reads the part of TOML that hosts.toml uses here: key =
// value lines at the top level and under [host."URL"] tables, in order.
// Values are kept as written.
// hostTable is the key parseHostsTOML sets in top when the file has a
// [host] table (an empty one included).
const hostTable = "[host]"

func parseHostsTOML(t *testing.T, s string) (top map[string]string, hosts []hostEntry) {
	t.Helper()
	top = map[string]string{}
	cur := top
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "[host]" {
			// The parent table: keys after it would be nobody's.
			top[hostTable] = "yes"
			cur = map[string]string{}
			continue
		}
		if strings.HasPrefix(line, "[host.\"") && strings.HasSuffix(line, "\"]") {
			if slices.ContainsFunc(hosts, func(h hostEntry) bool { return h.name == line }) {
				t.Errorf("hosts.toml repeats %s", line)
			}
			hosts = append(hosts, hostEntry{name: line, keys: map[string]string{}})
			cur = hosts[len(hosts)-1].keys
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			t.Errorf("hosts.toml line %q is not key = value", line)
			continue
		}
		cur[k] = v
	}
	return top, hosts
}
