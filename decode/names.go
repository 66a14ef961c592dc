package decode

import (
	"regexp"
	"strings"
)

// dockerHubHosts are the names Docker Hub's registry answers to; clients
// write docker.io and talk to registry-1.docker.io (distribution/reference
// normalize.go, moby registry config).
var dockerHubHosts = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// DockerHubAPIHost is the host that serves Docker Hub's registry API: an
// image on "docker.io" is pulled from it (moby registry config,
// containerd's docker resolver).
const DockerHubAPIHost = "registry-1.docker.io"

// IsDockerHub reports whether host (with or without port) is Docker Hub's
// registry.
func IsDockerHub(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return dockerHubHosts[h]
}

// NormalizeRegistry maps a host to the registry name users write: every
// Docker Hub host becomes "docker.io"; other hosts are lower-cased.
func NormalizeRegistry(host string) string {
	if IsDockerHub(host) {
		return "docker.io"
	}
	return strings.ToLower(host)
}

// NormalizeRepo returns the repository name a registry actually knows: on
// Docker Hub, a one-component name is an official image under "library/"
// ("nginx" is "library/nginx"). Elsewhere names are as given.
func NormalizeRepo(host, repo string) string {
	if repo != "" && !strings.Contains(repo, "/") && IsDockerHub(host) {
		return "library/" + repo
	}
	return repo
}

// Client is the program that made a request, read from its User-Agent.
type Client struct {
	// Family is the registry client library, which decides the wire
	// behaviour (catalog §0.4): "docker", "containerd", "containers-image",
	// "go-containerregistry", "oras", "regclient", "curl", "other", or ""
	// when there was no User-Agent.
	Family string
	// Program is the command when it is known: "docker", "buildkit",
	// "nerdctl", "skopeo", "podman", "buildah", "cri-o", "crane", "ko",
	// "oras", "regctl", "helm", "curl", …
	Program string
	Version string
	// UserAgent is the header as sent.
	UserAgent string
}

// uaRules map User-Agent product tokens to client families, checked in order
// (the first product that matches wins, so "crane/… go-containerregistry/…"
// is crane).
var uaRules = []struct {
	product, family, program string
}{
	{"docker", "docker", "docker"},
	{"docker-client", "docker", "docker"},
	{"containerd", "containerd", "containerd"},
	{"buildkit", "containerd", "buildkit"},
	{"nerdctl", "containerd", "nerdctl"},
	{"ctr", "containerd", "ctr"},
	{"cri-o", "containers-image", "cri-o"},
	{"skopeo", "containers-image", "skopeo"},
	{"podman", "containers-image", "podman"},
	{"libpod", "containers-image", "podman"},
	{"buildah", "containers-image", "buildah"},
	{"containers", "containers-image", ""},
	{"crane", "go-containerregistry", "crane"},
	{"gcrane", "go-containerregistry", "gcrane"},
	{"ko", "go-containerregistry", "ko"},
	{"go-containerregistry", "go-containerregistry", ""},
	{"oras", "oras", "oras"},
	{"oras-go", "oras", ""},
	{"regclient", "regclient", ""},
	{"regctl", "regclient", "regctl"},
	{"regbot", "regclient", "regbot"},
	{"regsync", "regclient", "regsync"},
	{"helm", "oras", "helm"},
	{"curl", "curl", "curl"},
	{"go-http-client", "other", ""},
}

var productRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9._-]*)(?:/([^\s;()]+))?`)

// ParseUserAgent identifies the client from a User-Agent header (RFC 9110
// §10.1.5: product *( RWS ( product / comment ) ), product = token ["/" version]).
func ParseUserAgent(ua string) Client {
	c := Client{UserAgent: ua}
	if strings.TrimSpace(ua) == "" {
		return c
	}
	// Comments (parenthesised) may hold other products, e.g. docker's
	// "UpstreamClient(Docker-Client/24.0.5 \(linux\))": scan them too,
	// after the top-level products.
	var top, inner []string
	depth := 0
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			if depth > 0 {
				inner = append(inner, cur.String())
			} else {
				top = append(top, cur.String())
			}
			cur.Reset()
		}
	}
	for i := 0; i < len(ua); i++ {
		switch ch := ua[i]; ch {
		case '\\':
			i++
		case '(':
			flush()
			depth++
		case ')':
			flush()
			if depth > 0 {
				depth--
			}
		case ' ', '\t':
			flush()
		default:
			cur.WriteByte(ch)
		}
	}
	flush()
	for _, list := range [][]string{top, inner} {
		for _, tok := range list {
			m := productRE.FindStringSubmatch(tok)
			if m == nil {
				continue
			}
			name := strings.ToLower(m[1])
			for _, r := range uaRules {
				if name == r.product {
					c.Family, c.Program, c.Version = r.family, r.program, m[2]
					if c.Program == "" {
						c.Program = name
					}
					return c
				}
			}
		}
	}
	c.Family = "other"
	if m := productRE.FindStringSubmatch(ua); m != nil {
		c.Program, c.Version = strings.ToLower(m[1]), m[2]
	}
	return c
}
