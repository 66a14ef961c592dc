package certs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// clients lists, in order, the clients Trust knows.
var clients = []string{"docker", "containerd", "crictl", "podman", "skopeo", "oras", "crane", "regctl", "curl"}

// Clients returns the names Trust accepts.
func Clients() []string { return slices.Clone(clients) }

// Placeholders for the arguments of Trust left empty.
const (
	placeholderCA     = "/path/to/ca.crt"
	placeholderBundle = "/path/to/bundle.pem"
	defaultProxy      = "http://127.0.0.1:8080"
)

// TrustParams fills in the instructions Trust prints. Empty fields become
// placeholders.
type TrustParams struct {
	CACert   string // the CA certificate file
	Bundle   string // the file written by WriteBundle
	Proxy    string // the proxy URL, such as "http://127.0.0.1:8080"
	Registry string // host[:port] as in image names, for REGISTRY=
	Image    string // an image in it, for IMAGE=
}

// Trust returns shell commands, with comments, that make client trust the CA
// and send its registry traffic through the proxy. client "" gives the
// instructions for every client; an unknown client is an error.
func Trust(client string, p TrustParams) (string, error) {
	if p.CACert == "" {
		p.CACert = placeholderCA
	}
	if p.Bundle == "" {
		p.Bundle = placeholderBundle
	}
	if p.Proxy == "" {
		p.Proxy = defaultProxy
	}
	registry, image := "registry.example.com", `"$REGISTRY/repo/name:tag"`
	if p.Registry != "" {
		registry = shellQuote(p.Registry)
	}
	if p.Image != "" {
		image = shellQuote(p.Image)
	}
	r := strings.NewReplacer(
		"{ca}", shellQuote(p.CACert),
		"{bundle}", shellQuote(p.Bundle),
		"{proxy}", shellQuote(p.Proxy),
		"{proxyRaw}", p.Proxy,
		"{goenv}", goEnvNote,
		"{registry}", registry,
		"{image}", image,
	)
	client = strings.ToLower(strings.TrimSpace(client))
	if client == "" {
		var b strings.Builder
		b.WriteString(r.Replace(header))
		for _, c := range clients {
			b.WriteString("\n")
			b.WriteString(r.Replace(trustText[c]))
		}
		return b.String(), nil
	}
	text, ok := trustText[client]
	if !ok {
		return "", fmt.Errorf("certs: unknown client %q; known clients: %s", client, strings.Join(clients, ", "))
	}
	return r.Replace(header + "\n" + text), nil
}

const header = `# Change these two lines to the registry's host[:port] (as in image names) and an image in it.
REGISTRY={registry}
IMAGE={image}
`

// goEnvNote is said wherever SSL_CERT_FILE is used: it replaces, not
// extends, a Go program's roots, and only where Go reads root files.
const goEnvNote = `# SSL_CERT_FILE replaces the roots of Go programs, hence the bundle (system roots + the CA).
# Go honours it on Linux only: on macOS and Windows, add the CA to the system keychain or store.`

// trustText holds, per client, the instructions with {ca}, {bundle},
// {proxy} (shell-quoted), {proxyRaw} and {goenv} to fill in.
var trustText = map[string]string{
	"docker": `# docker: the daemon (dockerd) pulls and pushes, not the docker CLI, so configure dockerd.
# 1. Trust the CA for each registry, under its host[:port]; repeat for every registry you use.
sudo mkdir -p "/etc/docker/certs.d/$REGISTRY"
sudo cp {ca} "/etc/docker/certs.d/$REGISTRY/ca.crt"
#    Docker Hub (docker.io) ignores certs.d: for it, trust the CA system-wide instead, then restart dockerd:
#      sudo cp {ca} /usr/local/share/ca-certificates/regtrace.crt && sudo update-ca-certificates  # Debian, Ubuntu
#      sudo cp {ca} /etc/pki/ca-trust/source/anchors/regtrace.crt && sudo update-ca-trust         # Fedora, RHEL
# 2. Give dockerd the proxy in its own environment, with a systemd drop-in
#    (or, instead, in /etc/docker/daemon.json: "proxies": {"https-proxy": "{proxyRaw}"}):
sudo mkdir -p /etc/systemd/system/docker.service.d
sudo tee /etc/systemd/system/docker.service.d/regtrace-proxy.conf >/dev/null <<'EOF'
[Service]
Environment="HTTPS_PROXY={proxyRaw}"
EOF
# 3. Restart dockerd and pull. Undo afterwards: remove regtrace-proxy.conf and the certs.d directory, restart.
sudo systemctl daemon-reload && sudo systemctl restart docker
docker pull "$IMAGE"
`,

	"containerd": `# containerd: ctr (and nerdctl) pull with containerd's resolver; crictl and the kubelet pull inside
# the daemon, configured the same way: see --client crictl.
` + containerdNode + `# 3. Pull with ctr. ctr 1.x fetches in its own process, hence HTTPS_PROXY here (and step 2 is not needed);
#    ctr 2.x hands the pull to the daemon's transfer service, hence step 2. Both read hosts.toml from --hosts-dir.
#    nerdctl pulls in its own process too, with the same hosts directory: HTTPS_PROXY={proxy} nerdctl pull "$IMAGE".
sudo HTTPS_PROXY={proxy} ctr images pull --hosts-dir /etc/containerd/certs.d "$IMAGE"
#    With credentials: --user USER (ctr asks for the password) or --user USER:PASSWORD.
` + containerdUndo,

	"crictl": `# crictl and the kubelet: the CRI plugin inside containerd pulls, so configure the daemon
# (ctr and nerdctl: see --client containerd).
` + containerdNode + `# 3. Pull as the kubelet does, through the CRI socket:
sudo crictl pull "$IMAGE"
#    With credentials, as a pod's imagePullSecrets hand them to the CRI plugin:
#    --creds USER:PASSWORD, or --auth followed by base64 of USER:PASSWORD.
` + containerdUndo,

	"podman": `# podman: trust the CA for each registry, under its host[:port]
# (rootless podman also reads ~/.config/containers/certs.d). On macOS and Windows, run this in the
# podman machine (podman machine ssh), where the pulls happen.
sudo mkdir -p "/etc/containers/certs.d/$REGISTRY"
sudo cp {ca} "/etc/containers/certs.d/$REGISTRY/ca.crt"
HTTPS_PROXY={proxy} podman pull "$IMAGE"
# Or, without root, --cert-dir with a directory holding only ca.crt (not the regtrace CA directory:
# containers tools take any *.key there for a client key):
CERTDIR=$(mktemp -d) && cp {ca} "$CERTDIR/ca.crt"
HTTPS_PROXY={proxy} podman pull --cert-dir "$CERTDIR" "$IMAGE"
# Or the bundle:
SSL_CERT_FILE={bundle} HTTPS_PROXY={proxy} podman pull "$IMAGE"
{goenv}
`,

	"skopeo": `# skopeo: --cert-dir with a directory holding only ca.crt (not the regtrace CA directory:
# containers tools take any *.key there for a client key); skopeo copy takes --src-cert-dir and --dest-cert-dir.
CERTDIR=$(mktemp -d) && cp {ca} "$CERTDIR/ca.crt"
HTTPS_PROXY={proxy} skopeo inspect --cert-dir "$CERTDIR" "docker://$IMAGE"
# Or, for every use, /etc/containers/certs.d/<host:port>/ca.crt, as for podman:
sudo mkdir -p "/etc/containers/certs.d/$REGISTRY"
sudo cp {ca} "/etc/containers/certs.d/$REGISTRY/ca.crt"
HTTPS_PROXY={proxy} skopeo inspect "docker://$IMAGE"
# Or the bundle:
SSL_CERT_FILE={bundle} HTTPS_PROXY={proxy} skopeo inspect "docker://$IMAGE"
{goenv}
`,

	"oras": `# oras: --ca-file on any command that talks to a registry (oras cp: --from-ca-file, --to-ca-file).
HTTPS_PROXY={proxy} oras manifest fetch --ca-file {ca} "$IMAGE"
`,

	"crane": `# crane has no CA flag: use the bundle.
SSL_CERT_FILE={bundle} HTTPS_PROXY={proxy} crane manifest "$IMAGE"
{goenv}
`,

	"regctl": `# regctl: trust the CA for the registry in regctl's configuration (it takes the PEM, not a file name):
regctl registry set "$REGISTRY" --cacert "$(cat {ca})"
HTTPS_PROXY={proxy} regctl manifest get "$IMAGE"
# Or the bundle:
SSL_CERT_FILE={bundle} HTTPS_PROXY={proxy} regctl manifest get "$IMAGE"
{goenv}
`,

	"curl": `# curl: check the CA and the proxy by hand.
curl -x {proxy} --cacert {ca} "https://$REGISTRY/v2/"
`,
}

// containerdNode configures containerd on a node, for ctr and for the CRI
// plugin alike. containerd tries each [host."…"] of a hosts.toml in order,
// then server, each with its own TLS settings only (docs/hosts.md; the
// top-level keys are server's: parseHostsFile in
// core/remotes/docker/config/hosts.go, remotes/docker/config in 1.x), so
// the CA goes at the top level next to server and under every host. A
// [host] that repeats server would be tried twice: there is none.
const containerdNode = `# 1. Trust the CA in a hosts.toml under the registry's host[:port] (Docker Hub: REGISTRY=docker.io, and
#    server = "https://registry-1.docker.io"). containerd tries each [host."…"] in order, then server,
#    each with its own settings only: ca at the top level is server's, a host needs its own ca line.
sudo mkdir -p "/etc/containerd/certs.d/$REGISTRY"
sudo cp {ca} "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"
sudo test -e "/etc/containerd/certs.d/$REGISTRY/hosts.toml" && sudo cp "/etc/containerd/certs.d/$REGISTRY/hosts.toml" "/etc/containerd/certs.d/$REGISTRY/hosts.toml.before-regtrace"
sudo tee "/etc/containerd/certs.d/$REGISTRY/hosts.toml" >/dev/null <<EOF
server = "https://$REGISTRY"
ca = "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"

# containerd 1.6 and 1.7 ignore a hosts.toml without this table ("invalid host tree").
[host]
EOF
#    If the old hosts.toml (now hosts.toml.before-regtrace) had mirrors, add them back below [host], each with the same ca line:
#      [host."https://mirror.example.com"]
#        capabilities = ["pull", "resolve"]
#        ca = "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"
#    hosts.toml is read on every pull (no restart). ctr finds it by --hosts-dir, the CRI plugin under its
#    config_path, whose default varies by version:
sudo containerd config dump | grep config_path
#    If it is empty, set it in /etc/containerd/config.toml (restarted below):
#      [plugins."io.containerd.cri.v1.images".registry]   # containerd 2.x; 1.x: [plugins."io.containerd.grpc.v1.cri".registry]
#        config_path = "/etc/containerd/certs.d"
#    Or trust the CA system-wide instead:
#      sudo cp {ca} /usr/local/share/ca-certificates/regtrace.crt && sudo update-ca-certificates  # Debian, Ubuntu
#      sudo cp {ca} /etc/pki/ca-trust/source/anchors/regtrace.crt && sudo update-ca-trust         # Fedora, RHEL
# 2. Give containerd the proxy in its service environment and restart it. Running containers keep running:
#    containerd.service has KillMode=process, so each container's shim outlives the restart.
sudo mkdir -p /etc/systemd/system/containerd.service.d
sudo tee /etc/systemd/system/containerd.service.d/regtrace-proxy.conf >/dev/null <<'EOF'
[Service]
Environment="HTTPS_PROXY={proxyRaw}"
EOF
sudo systemctl daemon-reload && sudo systemctl restart containerd
`

// containerdUndo reverses containerdNode.
const containerdUndo = `# Undo both steps afterwards (again, running containers survive the restart):
#   sudo rm "/etc/containerd/certs.d/$REGISTRY/hosts.toml" "/etc/containerd/certs.d/$REGISTRY/regtrace-ca.crt"
#   sudo mv "/etc/containerd/certs.d/$REGISTRY/hosts.toml.before-regtrace" "/etc/containerd/certs.d/$REGISTRY/hosts.toml"  # if there was one
#   sudo rm /etc/systemd/system/containerd.service.d/regtrace-proxy.conf
#   sudo systemctl daemon-reload && sudo systemctl restart containerd   # and remove config_path if you added it
`

// shellSafe matches words that need no quoting in a POSIX shell.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it, such as a path
// with a space (macOS: ~/Library/Application Support).
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
