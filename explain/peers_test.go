package explain

import (
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
)

var (
	peerPullTok  = tokJWT(tokClaimSet{sub: "alice", access: []map[string]any{tokAccess("team/app", "pull")}})
	peerEmptyTok = tokJWT(tokClaimSet{jti: "anon"})
	peerManifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`
)

// peerRuns: bob's anonymous pull fails (empty grant), then alice's pull
// with a login succeeds, both through one shared proxy.
func peerRuns(bob, alice func(*flowtest.Builder) *flowtest.Builder) []*flowtest.Builder {
	base := "https://registry.test/v2/team/app"
	return []*flowtest.Builder{
		bob(tokPing("https://registry.test", tokRealm)),
		bob(outAnonToken("https://auth.test/token", "registry.test", "repository:team/app:pull", tokUA).Status(200).JSON(tokBody(peerEmptyTok))),
		bob(tokInsufficient(flowtest.Get(base+"/manifests/1.0").UA(tokUA).Bearer(peerEmptyTok), "https://auth.test/token", "registry.test", "repository:team/app:pull", "team/app", "pull")),
		alice(tokPing("https://registry.test", tokRealm)),
		alice(tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(200).JSON(tokBody(peerPullTok))),
		alice(flowtest.Get(base + "/manifests/1.0").UA(tokUA).Bearer(peerPullTok).Status(200).JSON(peerManifest)),
	}
}

func explainFlows(fs []*flow.Flow, hs ...flow.HandshakeFailure) *Report {
	s := decode.NewSession()
	in := Input{Handshakes: hs}
	for _, f := range fs {
		in.Exchanges = append(in.Exchanges, s.Decode(f))
	}
	return Explain(in)
}

func from(user, addr string) func(*flowtest.Builder) *flowtest.Builder {
	return func(b *flowtest.Builder) *flowtest.Builder { return b.From(user, addr) }
}

// checkPeers fails when a finding's evidence includes another peer's flow.
func checkPeers(t *testing.T, rep *Report, fs []*flow.Flow) {
	t.Helper()
	peerOf := map[flow.ID]string{}
	for _, f := range fs {
		peerOf[f.ID] = f.Peer()
	}
	for _, f := range rep.Findings {
		for _, id := range f.Evidence {
			if peerOf[id] != f.Peer {
				t.Errorf("%s about peer %q rests on %s of peer %q", f.Rule, f.Peer, id, peerOf[id])
			}
		}
	}
}

func TestOnePeersRecoveryIsNotAnothers(t *testing.T) {
	for _, c := range []struct {
		name       string
		bob, alice func(*flowtest.Builder) *flowtest.Builder
	}{
		{"proxy users", from("bob", "10.0.0.5:40001"), from("alice", "10.0.0.5:40002")},
		{"addresses", from("", "10.0.0.5:40001"), from("", "10.0.0.6:40002")},
		{"users behind one address", from("bob", "10.0.0.5:40001"), from("alice", "10.0.0.5:40001")},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := flowtest.Seq(peerRuns(c.bob, c.alice)...)
			rep := explainFlows(fs)
			if !rep.Failed() {
				t.Fatal("bob's pull failed, alice's success does not recover it: want a failed report")
			}
			p := rep.Primary()
			if p == nil || p.Rule != RuleInsufficientScope || p.Peer != fs[0].Peer() {
				t.Fatalf("primary = %+v, want %s about %s", p, RuleInsufficientScope, fs[0].Peer())
			}
			for _, f := range rep.Findings {
				if f.Rule == RuleLaterRunSucceeded {
					t.Errorf("%s: another peer's run is not a later run of this client", f.Rule)
				}
			}
			if len(rep.Operations) != 2 || rep.Operations[0].Peer != fs[0].Peer() || rep.Operations[1].Peer != fs[3].Peer() {
				t.Errorf("operations: want one per peer, labelled")
			}
			checkPeers(t, rep, fs)
		})
	}
}

func TestOnePeerIsExplainedAsBefore(t *testing.T) {
	// Loopback clients are one peer whatever address family they use.
	fs := flowtest.Seq(peerRuns(from("", "127.0.0.1:40001"), from("", "[::1]:40002"))...)
	rep := explainFlows(fs)
	if rep.Failed() {
		t.Fatal("one client's later run succeeded: want a report that ends well")
	}
	found := false
	for _, f := range rep.Findings {
		found = found || f.Rule == RuleLaterRunSucceeded
		if f.Peer != "" {
			t.Errorf("%s: peer %q set on a trace of one peer", f.Rule, f.Peer)
		}
	}
	if !found {
		t.Errorf("want %s", RuleLaterRunSucceeded)
	}
}

func TestHandshakeFailuresStayWithTheirPeer(t *testing.T) {
	ok := func(b *flowtest.Builder) *flowtest.Builder { return b.From("alice", "10.0.0.5:40002") }
	fs := flowtest.Seq(
		ok(tokPing("https://registry.test", tokRealm)),
		ok(tokTokenReq("https://auth.test/token", "registry.test", "alice", "repository:team/app:pull").Status(200).JSON(tokBody(peerPullTok))),
		ok(flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(tokUA).Bearer(peerPullTok).Status(200).JSON(peerManifest)),
	)
	h := flow.HandshakeFailure{Time: flowtest.Epoch, ClientAddr: "10.0.0.9:50000", ProxyUser: "carol", Target: "registry.test:443",
		Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"}
	rep := explainFlows(fs, h)
	p := rep.Primary()
	if p == nil || p.Rule != RuleClientDistrustsCA || p.Peer != "carol" {
		t.Fatalf("primary = %+v, want %s about carol", p, RuleClientDistrustsCA)
	}
	for _, f := range rep.Findings {
		if f.Peer == "alice" && f.Verdict != VerdictOK {
			t.Errorf("alice's pull succeeded; got %s about her", f.Rule)
		}
	}
	checkPeers(t, rep, fs)
}
