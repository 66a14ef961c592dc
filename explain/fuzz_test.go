package explain

import (
	"slices"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

// fuzzSteps are the pieces a fuzzed trace is made of: each registry step
// with the answers registries give to it, good and bad.
func fuzzSteps() []*flowtest.Builder {
	tok := tokJWT(tokClaimSet{sub: "alice", access: []map[string]any{tokAccess("team/app", "pull", "push")}})
	empty := tokJWT(tokClaimSet{jti: "e"})
	b := "https://registry.test/v2/team/app"
	ch := `Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`
	return []*flowtest.Builder{
		flowtest.Get("https://registry.test/v2/").UA(tokUA).Status(401).Challenge(tokRealm),
		flowtest.Get("https://registry.test/v2/").UA(tokUA).Status(200),
		flowtest.Get("https://registry.test/v2/").UA(tokUA).Err(flow.ErrRefused, "connection refused"),
		tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(200).JSON(tokBody(tok)),
		tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(401).JSON(`{"details":"bad password"}`),
		outAnonToken("https://auth.test/token", "registry.test", "repository:team/app:pull", tokUA).Status(200).JSON(tokBody(empty)),
		outAnonToken("https://auth.test/token", "registry.test", "repository:team/app:pull", tokUA).Err(flow.ErrDNS, "no such host"),
		flowtest.New("CONNECT", "https://auth.test:443").UA(tokUA).Err(flow.ErrRefused, "connection refused"),
		flowtest.Get(b + "/manifests/1.0").UA(tokUA).Status(401).Challenge(ch),
		flowtest.Get(b + "/manifests/1.0").UA(tokUA).Bearer(tok).Status(200).JSON(`{}`),
		flowtest.Head(b + "/manifests/1.0").UA(tokUA).Bearer(tok).Status(404),
		flowtest.Get(b + "/manifests/1.0").UA(tokUA).Bearer(empty).Status(401).Challenge(ch + `,error="insufficient_scope"`),
		flowtest.Get(b + "/manifests/1.0").UA(tokUA).Bearer(tok).Status(404).JSON(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`),
		flowtest.Get(b + "/manifests/1.0").UA(tokUA).Bearer(tok).Status(429).JSON(`{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`),
		flowtest.Get(b+"/manifests/1.0").UA(tokUA).Bearer(tok).Status(403).RespBody("text/html", "<html><title>Blocked</title></html>"),
		flowtest.Get(b + "/blobs/sha256:aa").UA(tokUA).Bearer(tok).Status(200).Blob(10),
		flowtest.Get(b + "/blobs/sha256:aa").UA(tokUA).Bearer(tok).Status(500),
		flowtest.Head(b + "/blobs/sha256:bb").UA(tokUA).Bearer(tok).Status(404),
		flowtest.Post(b + "/blobs/uploads/?mount=sha256:bb&from=other/x").UA(tokUA).Bearer(tok).Status(401).Challenge(ch),
		flowtest.Post(b + "/blobs/uploads/").UA(tokUA).Bearer(tok).Status(202).Location("/v2/team/app/blobs/uploads/u"),
		flowtest.Put(b + "/blobs/uploads/u?digest=sha256:bb").UA(tokUA).Bearer(tok).Status(201),
		flowtest.Put(b + "/manifests/1.0").UA(tokUA).Bearer(tok).Status(201),
		flowtest.Get(b + "/referrers/" + outDigest).UA(tokUA).Bearer(tok).Status(404),
		flowtest.Get(b + "/manifests/" + outSchema + ".sig").UA(tokUA).Bearer(tok).Status(404),
		flowtest.Get("https://registry.test/v1/repositories/team/app/images").UA(tokUA).Status(404),
		flowtest.Get("https://mirror.test/v2/team/app/manifests/1.0").UA(tokUA).Status(401).Challenge(`Basic realm="m"`),
		flowtest.Get(b + "/manifests/1.0").UA(credSkopeoUA).Status(200).JSON(`{}`),
	}
}

// FuzzExplain builds traces from the fuzzer's bytes, one step per byte,
// and checks what must hold for any trace: no panic; a trace that failed
// has a primary finding and one that did not has none; at most one
// primary, first; every finding has a why and a fix, and its evidence
// names flows of the trace; every failed operation says where it stopped.
func FuzzExplain(f *testing.F) {
	steps := fuzzSteps()
	for _, seed := range [][]byte{{0, 3, 9, 15}, {0, 5, 11}, {0, 4}, {7}, {1, 12}, {0, 3, 17, 18, 19, 20, 21}, {0, 3, 9, 22, 23}, {0, 5, 11, 0, 3, 9}, {25, 0, 3, 9}, {2}, {24}, {13, 13}, {26, 14}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, picks []byte) {
		if len(picks) > 64 {
			picks = picks[:64]
		}
		var bs []*flowtest.Builder
		for _, p := range picks {
			bs = append(bs, steps[int(p)%len(steps)])
		}
		s := decode.NewSession()
		var in Input
		for _, fl := range flowtest.Seq(bs...) {
			in.Exchanges = append(in.Exchanges, s.Decode(fl))
		}
		rep := Explain(in)
		p := rep.Primary()
		if rep.Failed() != (p != nil) {
			t.Fatalf("failed %v, primary %v\n%s", rep.Failed(), p, dump(rep))
		}
		for i, fd := range rep.Findings {
			if fd.Primary && i != 0 {
				t.Fatalf("primary finding %s is not first", fd.Rule)
			}
			if fd.Why == "" || fd.Fix == "" {
				t.Fatalf("%s without why or fix", fd.Rule)
			}
			for _, id := range fd.Evidence {
				if id < 1 || int(id) > len(picks) {
					t.Fatalf("%s cites %v, not in a %d-flow trace", fd.Rule, id, len(picks))
				}
			}
			if !slices.IsSorted(fd.Evidence) {
				t.Fatalf("%s evidence out of order: %v", fd.Rule, fd.Evidence)
			}
		}
		for _, op := range rep.Operations {
			o := op.Outcome()
			if o.Reached != (o.Stop == nil) || (o.Stop != nil) != (o.Stage != "") {
				t.Fatalf("outcome %+v", o)
			}
			if o.Reached || o.RecoveredBy != nil {
				continue
			}
			// Some failure finding cites a flow of the failed operation.
			cited := false
			for _, fd := range rep.Findings {
				if fd.Verdict == VerdictOK {
					continue
				}
				for _, x := range op.Exchanges {
					cited = cited || slices.Contains(fd.Evidence, x.Flow.ID)
				}
			}
			if !cited {
				t.Fatalf("operation stopped at %s and no failure finding cites it\n%s", o.Stop.Flow.ID, dump(rep))
			}
		}
	})
}
