package probe

import (
	"strings"
	"testing"
)

func TestParseImage(t *testing.T) {
	for _, tc := range []struct {
		in, registry, host, repo, tag, digest string
	}{
		{"nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", ""},
		{"nginx:1.27", "docker.io", "registry-1.docker.io", "library/nginx", "1.27", ""},
		{"docker.io/nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", ""},
		{"index.docker.io/library/nginx:1", "docker.io", "registry-1.docker.io", "library/nginx", "1", ""},
		{"registry-1.docker.io/bitnami/redis:7", "registry-1.docker.io", "registry-1.docker.io", "bitnami/redis", "7", ""},
		{"registry-1.docker.io/nginx", "registry-1.docker.io", "registry-1.docker.io", "nginx", "latest", ""},
		{"acme/app", "docker.io", "registry-1.docker.io", "acme/app", "latest", ""},
		{"docker://ghcr.io/owner/pkg:v1", "ghcr.io", "ghcr.io", "owner/pkg", "v1", ""},
		{"localhost/app", "localhost", "localhost", "app", "latest", ""},
		{"localhost:5000/a/b/c:x", "localhost:5000", "localhost:5000", "a/b/c", "x", ""},
		{"Registry.Example.com:443/team/app", "registry.example.com:443", "registry.example.com:443", "team/app", "latest", ""},
		{"[::1]:5000/app:1", "[::1]:5000", "[::1]:5000", "app", "1", ""},
		{"quay.io/a/b@sha256:" + strings.Repeat("ab", 32), "quay.io", "quay.io", "a/b", "", "sha256:" + strings.Repeat("ab", 32)},
		{"quay.io/a/b:t@sha256:" + strings.Repeat("0", 64), "quay.io", "quay.io", "a/b", "t", "sha256:" + strings.Repeat("0", 64)},
		{"reg.io/a__b/c-d--e/f.g:1.0_rc-1", "reg.io", "reg.io", "a__b/c-d--e/f.g", "1.0_rc-1", ""},
	} {
		im, err := ParseImage(tc.in)
		if err != nil {
			t.Errorf("ParseImage(%q): %v", tc.in, err)
			continue
		}
		if im.Registry != tc.registry || im.Host != tc.host || im.Repo != tc.repo || im.Tag != tc.tag || im.Digest != tc.digest {
			t.Errorf("ParseImage(%q) = %+v, want %s %s %s %s %s", tc.in, im, tc.registry, tc.host, tc.repo, tc.tag, tc.digest)
		}
	}
}

func TestParseImageErrors(t *testing.T) {
	for _, tc := range []struct{ in, says string }{
		{"", "empty"},
		{"https://reg.io/app", "no scheme"},
		{"reg.io/App", "lower-case"},
		{"reg.io/a//b", "path component"},
		{"reg.io/-a", "path component"},
		{"reg.io/a_", "path component"},
		{"reg.io/a:", "tag"},
		{"reg.io/a:-x", "tag"},
		{"reg.io/a:" + strings.Repeat("x", 129), "tag"},
		{"reg.io/a@sha256:abc", "digest"},
		{"reg.io/a@sha256:" + strings.Repeat("G", 64), "64 lower-case hex"},
		{"reg.io/a@md5", "digest"},
		{"reg_io:5000/a", "registry"},
		{"reg.io:", "tag"},
		{"Acme/app", "Docker Hub namespace is lower case"},
		{"reg.io/", "no repository"},
		{"reg.io/" + strings.Repeat("a", 260), "255"},
	} {
		_, err := ParseImage(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseImage(%q) = %v, want an error saying %q", tc.in, err, tc.says)
		}
	}
}

// FuzzParseImage: never a panic; what parses prints back to a reference
// that parses to the same image.
func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"nginx", "reg.io:5000/a/b:1@sha256:" + strings.Repeat("a", 64), "[::1]/x", "A/b", "docker://x/y:z", ":", "@", "a/b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		im, err := ParseImage(s)
		if err != nil {
			return
		}
		again, err := ParseImage(im.String())
		if err != nil || again != im {
			t.Fatalf("ParseImage(%q) = %+v, whose String %q parses to %+v, %v", s, im, im.String(), again, err)
		}
	})
}

func dg(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func TestPickPlatform(t *testing.T) {
	idx := []byte(`{"schemaVersion":2,"manifests":[
		{"digest":"` + dg("a") + `","platform":{"os":"linux","architecture":"amd64"}},
		{"digest":"` + dg("b") + `","platform":{"os":"linux","architecture":"arm","variant":"v7"}},
		{"digest":"` + dg("c") + `","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
		{"digest":"` + dg("d") + `","platform":{"os":"unknown","architecture":"unknown"}}]}`)
	for _, tc := range []struct{ plat, want, err string }{
		{"", dg("a"), ""},
		{"linux/arm64", dg("c"), ""},
		{"linux/arm64/v8", dg("c"), ""},
		{"linux/arm/v7", dg("b"), ""},
		{"linux/arm/v6", "", "no manifest for linux/arm/v6 (it has linux/amd64, linux/arm/v7, linux/arm64/v8, unknown/unknown)"},
		{"windows/amd64", "", "no manifest for windows/amd64"},
	} {
		pl, err := parsePlatform(tc.plat)
		if err != nil {
			t.Fatal(err)
		}
		w := &walker{plat: pl}
		got, err := w.pickPlatform(idx)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("platform %q: %q, %v; want %q, %q", tc.plat, got, err, tc.want, tc.err)
		}
	}
	if _, err := (&walker{plat: platform{"linux", "amd64", ""}}).pickPlatform([]byte(`{"manifests":[{"digest":"sha256:../../x","platform":{"os":"linux","architecture":"amd64"}}]}`)); err == nil || !strings.Contains(err.Error(), "not a digest") {
		t.Errorf("a digest that is not one: %v", err)
	}
	if _, err := (&walker{}).pickPlatform([]byte(`{"manifests":`)); err == nil {
		t.Error("a broken index gave no error")
	}
	for _, bad := range []string{"linux", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := parsePlatform(bad); err == nil {
			t.Errorf("parsePlatform(%q) gave no error", bad)
		}
	}
}

func TestCodesAreDocumented(t *testing.T) {
	seen := map[Code]bool{}
	for _, d := range Codes() {
		if seen[d.Code] || d.Means == "" || d.Fix == "" || d.Code != Code(strings.ToUpper(string(d.Code))) {
			t.Errorf("code %s: duplicate, undocumented or not upper case", d.Code)
		}
		seen[d.Code] = true
	}
	if Code("NOPE").Doc().Exit != ExitOther {
		t.Error("an unknown code does not map to exit 1")
	}
}
