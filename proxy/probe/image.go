package probe

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/regtrace/regtrace/decode"
)

// Image is an image reference as the probe walks it.
type Image struct {
	// Registry is the registry as users write it, normalised: "docker.io"
	// for every Docker Hub name, else host[:port] lower-cased.
	Registry string
	// Host is the host[:port] the probe talks to: Docker Hub's API host for
	// docker.io, else Registry.
	Host string
	// Repo is the repository the registry knows ("library/nginx" for
	// "nginx" on Docker Hub).
	Repo string
	// Tag and Digest as given; Tag is "latest" when neither was.
	Tag    string
	Digest string
}

// Ref is what the manifest request names: the digest when there is one.
func (im Image) Ref() string {
	if im.Digest != "" {
		return im.Digest
	}
	return im.Tag
}

// String is the fully qualified reference.
func (im Image) String() string {
	s := im.Registry + "/" + im.Repo
	if im.Tag != "" {
		s += ":" + im.Tag
	}
	if im.Digest != "" {
		s += "@" + im.Digest
	}
	return s
}

// The grammar of distribution/reference (reference.go):
//
//	reference      := name [ ":" tag ] [ "@" digest ]
//	name           := [domain '/'] remote-name
//	domain         := host [':' port-number]
//	remote-name    := path-component ['/' path-component]*
//	path-component := alpha-numeric [separator alpha-numeric]*
//	alpha-numeric  := /[a-z0-9]+/
//	separator      := /[_.]|__|[-]*/
//	tag            := /[\w][\w.-]{0,127}/
//	digest         := algorithm ":" encoded
var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE           = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE        = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$`)
	hostRE          = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)
)

// ParseImage reads an image reference the way docker and containerd do
// (distribution/reference's normalised names): a first component with a
// dot or a colon, or "localhost", or upper-case letters, is the registry;
// otherwise the image is on Docker Hub, and a one-component name there is
// under library/. The error names what is wrong and where.
func ParseImage(s string) (Image, error) {
	in := s
	s = strings.TrimPrefix(s, "docker://")
	if s == "" {
		return Image{}, fmt.Errorf("invalid image reference %q: empty", in)
	}
	if strings.Contains(s, "://") {
		return Image{}, fmt.Errorf("invalid image reference %q: a reference has no scheme (write host/repository:tag)", in)
	}
	var im Image
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, im.Digest = s[:i], s[i+1:]
		if !digestRE.MatchString(im.Digest) {
			return Image{}, fmt.Errorf("invalid image reference %q: digest %q is not algorithm:hex (sha256:<64 hex digits>)", in, im.Digest)
		}
		if alg, hex, _ := strings.Cut(im.Digest, ":"); alg == "sha256" && (len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "") {
			return Image{}, fmt.Errorf("invalid image reference %q: a sha256 digest has 64 lower-case hex digits, %q has %d characters", in, hex, len(hex))
		}
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "/") {
		s, im.Tag = s[:i], s[i+1:]
		if !tagRE.MatchString(im.Tag) {
			return Image{}, fmt.Errorf("invalid image reference %q: tag %q is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", in, im.Tag)
		}
	}
	domain, remote := "docker.io", s
	if d, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(d, ".:") || d == "localhost" || strings.ToLower(d) != d) {
		domain, remote = d, rest
		if !hostRE.MatchString(domain) {
			return Image{}, fmt.Errorf("invalid image reference %q: registry %q is not a host name or address with an optional port", in, domain)
		}
		if !strings.ContainsAny(domain, ".:") && domain != "localhost" {
			// docker takes an upper-case first component for a registry
			// host; a bare host name like that is almost always a typo.
			return Image{}, fmt.Errorf("invalid image reference %q: %q would be a registry host without a dot or a port; a Docker Hub namespace is lower case", in, domain)
		}
	}
	if remote == "" {
		return Image{}, fmt.Errorf("invalid image reference %q: no repository name", in)
	}
	for _, c := range strings.Split(remote, "/") {
		if strings.ToLower(c) != c {
			return Image{}, fmt.Errorf("invalid image reference %q: repository name must be lower-case (%q)", in, c)
		}
		if !pathComponentRE.MatchString(c) {
			return Image{}, fmt.Errorf("invalid image reference %q: %q is not a repository path component (lower-case letters and digits, separated by '.', '_', '__' or dashes)", in, c)
		}
	}
	if len(domain)+1+len(remote) > 255 {
		return Image{}, fmt.Errorf("invalid image reference %q: the name is longer than 255 characters", in)
	}
	// Only these two names are Docker Hub to a client (distribution's
	// normalize.go): "registry-1.docker.io/nginx" is a registry of its own
	// name, asked for "nginx" without library/, which Docker Hub refuses.
	switch d := strings.ToLower(domain); d {
	case "docker.io", "index.docker.io":
		im.Registry, im.Host = "docker.io", decode.DockerHubAPIHost
		im.Repo = decode.NormalizeRepo(im.Registry, remote)
	default:
		im.Registry, im.Host, im.Repo = d, d, remote
	}
	if im.Tag == "" && im.Digest == "" {
		im.Tag = "latest"
	}
	return im, nil
}
