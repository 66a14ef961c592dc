package diff

import (
	"fmt"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
)

// palette builds the i-th kind of exchange a run may hold; a fuzzed run is
// a sequence of them, so Compare meets orders no client makes.
func palette(i byte) *flowtest.Builder {
	good := jwtTok("alice", E, 5*time.Minute, "team/app:pull")
	empty := jwtTok("", E, 5*time.Minute)
	ch := fmt.Sprintf(`Bearer realm=%q,service=%q`, realm, service)
	switch i % 16 {
	case 0:
		return ping(reg, docker, ch)
	case 1:
		return flowtest.Get(reg + "/v2/").UA(skopeo).Status(200).JSON(`{}`)
	case 2:
		return tokenReq(realm, service, docker, "alice", "repository:team/app:pull").Status(200).JSON(tokBody(good))
	case 3:
		return tokenReq(realm, service, docker, "", "repository:team/app:pull").Status(200).JSON(tokBody(empty))
	case 4:
		return tokenReq(realm, service, docker, "alice", "repository:team/app:pull").Status(401).JSON(`{"errors":[{"code":"UNAUTHORIZED"}]}`)
	case 5:
		return flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(docker).Bearer(good).Status(200).RespBody("application/vnd.oci.image.manifest.v1+json", manifest)
	case 6:
		return denied(flowtest.Get(reg+"/v2/team/app/manifests/1.0").UA(docker).Bearer(empty), realm, service, "repository:team/app:pull")
	case 7:
		return flowtest.Get(reg + "/v2/team/app/manifests/2.0").UA(docker).Bearer(good).Status(404).JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)
	case 8:
		return flowtest.Get(reg + "/v2/team/app/blobs/" + cfgDigest).UA(docker).Bearer(good).Status(200).Blob(2)
	case 9:
		return flowtest.Get(reg + "/v2/team/app/blobs/" + cfgDigest).UA(docker).Bearer(good).Status(307).Location("https://s3.test/b?X-Amz-Signature=x")
	case 10:
		return flowtest.Get("https://s3.test/b?X-Amz-Signature=x").UA(docker).Status(403).RespBody("application/xml", "<Error><Code>AccessDenied</Code></Error>")
	case 11:
		return flowtest.Get(reg + "/v1/repositories/team/app/images").UA(docker).Status(404)
	case 12:
		return flowtest.New("CONNECT", "https://registry.test:443").UA(docker).Err(flow.ErrRefused, "connection refused")
	case 13:
		return flowtest.Get(reg + "/v2/other/manifests/1.0").UA(docker).Status(401).Challenge(ch)
	case 14:
		return flowtest.Head(reg + "/v2/team/app/manifests/1.0").UA(crane).Bearer(good).Status(200).After(10 * time.Minute)
	}
	return flowtest.Get(reg + "/v2/team/app/tags/list").UA(crane).Inferred()
}

func fuzzSide(name string, bs []byte, log bool) Side {
	var builders []*flowtest.Builder
	for _, b := range bs {
		builders = append(builders, palette(b))
	}
	var src *explain.Source
	if log {
		src = &explain.Source{Name: "test log", HidesAuth: true, Lacks: "Authorization headers"}
	}
	return side(name, src, builders...)
}

// FuzzCompare: never a panic; a run against itself is the same with no
// divergence; sameness does not depend on the order of the sides; two
// runs with different outcomes always get a first divergence.
func FuzzCompare(f *testing.F) {
	f.Add([]byte{0, 2, 5, 8}, []byte{0, 3, 6}, false)
	f.Add([]byte{0, 2, 5, 9, 10}, []byte{0, 2, 5, 8}, false)
	f.Add([]byte{0, 3, 6, 11}, []byte{1, 13}, true)
	f.Add([]byte{12}, []byte{0, 2, 5, 14, 15}, false)
	f.Fuzz(func(t *testing.T, a, b []byte, log bool) {
		if len(a) > 40 || len(b) > 40 {
			return
		}
		sa, sb := fuzzSide("a", a, false), fuzzSide("b", b, log)
		if r := Compare(sa, sa); !r.Same || r.First != nil {
			t.Fatalf("a run against itself: same %v, first %+v", r.Same, r.First)
		}
		ab, ba := Compare(sa, sb), Compare(sb, sa)
		if ab.Same != ba.Same {
			t.Fatalf("same %v one way, %v the other", ab.Same, ba.Same)
		}
		for _, r := range []*Result{ab, ba} {
			if !r.Same && r.First == nil {
				t.Fatalf("different outcomes and no divergence: A %s, B %s", r.A.Outcome(), r.B.Outcome())
			}
			if r.First != nil && r.First.Text == "" {
				t.Fatalf("a divergence without words: %+v", *r.First)
			}
		}
	})
}
