package decode

import (
	"net/url"
	"slices"
	"testing"
)

func TestClassifyPath(t *testing.T) {
	for _, c := range []struct {
		name, method, url string
		kind              Kind
		repo, ref, from   string
	}{
		{"ping", "GET", "/v2/", KindPing, "", "", ""},
		{"ping without slash", "HEAD", "/v2", KindPing, "", "", ""},
		{"catalog", "GET", "/v2/_catalog?n=10", KindCatalog, "", "", ""},
		{"manifest by tag", "GET", "/v2/library/nginx/manifests/latest", KindManifestGet, "library/nginx", "latest", ""},
		{"manifest head by digest", "HEAD", "/v2/a/b/c/manifests/sha256:abc", KindManifestHead, "a/b/c", "sha256:abc", ""},
		{"manifest put", "PUT", "/v2/team/app/manifests/1.0", KindManifestPut, "team/app", "1.0", ""},
		{"manifest delete", "DELETE", "/v2/team/app/manifests/sha256:1", KindManifestDelete, "team/app", "sha256:1", ""},
		{"name with manifests component", "GET", "/v2/x/manifests/y/manifests/z", KindManifestGet, "x/manifests/y", "z", ""},
		{"blob get", "GET", "/v2/team/app/blobs/sha256:aa", KindBlobGet, "team/app", "sha256:aa", ""},
		{"blob head", "HEAD", "/v2/team/app/blobs/sha256:aa", KindBlobHead, "team/app", "sha256:aa", ""},
		{"blob delete", "DELETE", "/v2/team/app/blobs/sha256:aa", KindBlobDelete, "team/app", "sha256:aa", ""},
		{"upload start", "POST", "/v2/team/app/blobs/uploads/", KindUploadStart, "team/app", "", ""},
		{"upload start without slash", "POST", "/v2/team/app/blobs/uploads", KindUploadStart, "team/app", "", ""},
		{"monolithic upload", "POST", "/v2/team/app/blobs/uploads/?digest=sha256:dd", KindUploadStart, "team/app", "sha256:dd", ""},
		{"mount", "POST", "/v2/team/app/blobs/uploads/?mount=sha256:mm&from=other/repo", KindBlobMount, "team/app", "sha256:mm", "other/repo"},
		{"upload chunk", "PATCH", "/v2/team/app/blobs/uploads/uuid-1?_state=x", KindUploadChunk, "team/app", "uuid-1", ""},
		{"upload finish", "PUT", "/v2/team/app/blobs/uploads/uuid-1?digest=sha256:dd", KindUploadFinish, "team/app", "uuid-1", ""},
		{"upload status", "GET", "/v2/team/app/blobs/uploads/uuid-1", KindUploadStatus, "team/app", "uuid-1", ""},
		{"upload cancel", "DELETE", "/v2/team/app/blobs/uploads/uuid-1", KindUploadCancel, "team/app", "uuid-1", ""},
		{"tags list", "GET", "/v2/team/app/tags/list?n=100&last=a", KindTagsList, "team/app", "", ""},
		{"referrers", "GET", "/v2/team/app/referrers/sha256:rr?artifactType=x", KindReferrers, "team/app", "sha256:rr", ""},
		{"empty name", "GET", "/v2//manifests/x", KindOther, "", "", ""},
		{"unknown v2", "GET", "/v2/foo", KindOther, "", "", ""},
		{"v1 ping", "GET", "/v1/_ping", KindV1Ping, "", "", ""},
		{"v1 images", "GET", "/v1/repositories/library/nginx/images", KindV1Images, "library/nginx", "", ""},
		{"v1 tags", "GET", "/v1/repositories/team/app/tags", KindV1Tags, "team/app", "", ""},
		{"v1 tag", "GET", "/v1/repositories/team/app/tags/1.0", KindV1Tags, "team/app", "1.0", ""},
		{"v1 search", "GET", "/v1/search?q=nginx", KindV1Search, "", "", ""},
		{"v1 users", "GET", "/v1/users/", KindV1Users, "", "", ""},
		{"v1 other", "GET", "/v1/images/abc/json", KindV1Other, "", "", ""},
		{"root", "GET", "/", KindOther, "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, _ := url.Parse("https://registry.test" + c.url)
			r := classifyPath(c.method, u)
			if r.kind != c.kind || r.repo != c.repo || r.ref != c.ref || r.from != c.from {
				t.Errorf("classifyPath(%s %s) = %v %q %q %q, want %v %q %q %q", c.method, c.url, r.kind, r.repo, r.ref, r.from, c.kind, c.repo, c.ref, c.from)
			}
		})
	}
}

func TestKindNamesAreStable(t *testing.T) {
	seen := map[string]bool{}
	for k := KindOther; k <= KindConnect; k++ {
		s := k.String()
		if s == "" || seen[s] {
			t.Errorf("kind %d has name %q (empty or duplicate)", k, s)
		}
		seen[s] = true
		if back, ok := ParseKind(s); !ok || back != k {
			t.Errorf("ParseKind(%q) = %v, %v", s, back, ok)
		}
	}
	if KindManifestGet.String() != "manifest-get" || KindTokenRequest.String() != "token-request" {
		t.Error("public kind names changed")
	}
}

func TestNeeds(t *testing.T) {
	for _, c := range []struct {
		method, url string
		want        []string
	}{
		{"GET", "/v2/a/manifests/1", []string{"repository:a:pull"}},
		{"HEAD", "/v2/a/blobs/sha256:1", []string{"repository:a:pull"}},
		{"PUT", "/v2/a/manifests/1", []string{"repository:a:pull,push"}},
		{"PATCH", "/v2/a/blobs/uploads/u", []string{"repository:a:pull,push"}},
		{"DELETE", "/v2/a/manifests/sha256:1", []string{"repository:a:delete"}},
		{"POST", "/v2/a/blobs/uploads/?mount=sha256:1&from=b/c", []string{"repository:a:pull,push", "repository:b/c:pull"}},
		{"GET", "/v2/_catalog", []string{"registry:catalog:*"}},
		{"GET", "/v2/", nil},
		{"GET", "/v1/_ping", nil},
	} {
		u, _ := url.Parse("https://r.test" + c.url)
		var got []string
		for _, s := range needs(c.method, classifyPath(c.method, u)) {
			got = append(got, s.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("needs(%s %s) = %v, want %v", c.method, c.url, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ host, repo, reg, norm string }{
		{"registry-1.docker.io", "nginx", "docker.io", "library/nginx"},
		{"index.docker.io", "library/nginx", "docker.io", "library/nginx"},
		{"docker.io:443", "team/app", "docker.io", "team/app"},
		{"Registry.Hub.Docker.com", "redis", "docker.io", "library/redis"},
		{"ghcr.io", "nginx", "ghcr.io", "nginx"},
		{"registry.test:5000", "app", "registry.test:5000", "app"},
	} {
		if g := NormalizeRegistry(c.host); g != c.reg {
			t.Errorf("NormalizeRegistry(%q) = %q, want %q", c.host, g, c.reg)
		}
		if g := NormalizeRepo(c.host, c.repo); g != c.norm {
			t.Errorf("NormalizeRepo(%q, %q) = %q, want %q", c.host, c.repo, g, c.norm)
		}
	}
}

func TestParseUserAgent(t *testing.T) {
	for _, c := range []struct{ ua, family, program, version string }{
		{`docker/24.0.5 go/go1.20.6 git-commit/a61e2b4 kernel/6.1.0 os/linux arch/amd64 UpstreamClient(Docker-Client/24.0.5 \(linux\))`, "docker", "docker", "24.0.5"},
		{"containerd/1.7.24+unknown", "containerd", "containerd", "1.7.24+unknown"},
		{"buildkit/v0.12.5", "containerd", "buildkit", "v0.12.5"},
		{"skopeo/1.9.3", "containers-image", "skopeo", "1.9.3"},
		{"containers/5.23.1 (github.com/containers/image)", "containers-image", "containers", "5.23.1"},
		{"libpod/4.3.1", "containers-image", "podman", "4.3.1"},
		{"crane/v0.20.2 go-containerregistry/v0.20.2", "go-containerregistry", "crane", "v0.20.2"},
		{"go-containerregistry/v0.19.0", "go-containerregistry", "go-containerregistry", "v0.19.0"},
		{"oras/1.2.0+Homebrew", "oras", "oras", "1.2.0+Homebrew"},
		{"regclient/v0.7.1", "regclient", "regclient", "v0.7.1"},
		{"curl/7.88.1", "curl", "curl", "7.88.1"},
		{"Go-http-client/1.1", "other", "go-http-client", "1.1"},
		{"Mozilla/5.0 (X11)", "other", "mozilla", "5.0"},
		{"", "", "", ""},
		{"((((", "other", "", ""},
	} {
		g := ParseUserAgent(c.ua)
		if g.Family != c.family || g.Program != c.program || g.Version != c.version {
			t.Errorf("ParseUserAgent(%q) = %q %q %q, want %q %q %q", c.ua, g.Family, g.Program, g.Version, c.family, c.program, c.version)
		}
	}
}
