package explain

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// TestLaterFactsAnswerAsAScanWould: each index in later.go answers, at
// every position of every operation of every rule trace (and of all of
// them in one, where operations are long and interleaved), what a scan of
// the operation would. The scans are written here as the rules had them.
func TestLaterFactsAnswerAsAScanWould(t *testing.T) {
	all := ruleTrace{name: "every trace in one"}
	for _, tr := range allTraces() {
		all.flows = append(all.flows, tr.flows...)
	}
	checked := 0
	for _, tr := range append(allTraces(), all) {
		in := tr.input()
		for _, op := range Group(in.Exchanges) {
			later := func(i int, pred func(y *decode.Exchange) bool) bool {
				return slices.ContainsFunc(op.Exchanges[i+1:], pred)
			}
			for i, x := range op.Exchanges {
				checked++
				check := func(what string, got, want bool) {
					if got != want {
						t.Errorf("%s: %s at #%d (position %d): index %v, scan %v", tr.name, what, x.Flow.ID, i, got, want)
					}
				}
				check("a later token request that got a token", credLaterTokenOK(op, i), later(i, credTokenOK))
				check("a later token request", op.later().tokenReq > i, later(i, credIsToken))
				check("superseded", tokSuperseded(op, i), later(i, func(y *decode.Exchange) bool {
					return y.Flow.Err == nil && y.Flow.Request.Method == x.Flow.Request.Method && tokPath(y) == tokPath(x) && status(y) >= 200 && status(y) < 400
				}))
				check("a later authenticated 2xx", op.later().authedOK > i, later(i, func(y *decode.Exchange) bool {
					return !credIsToken(y) && y.Auth.Scheme != "" && status(y) >= 200 && status(y) < 300
				}))
				check("a later registry success", op.later().regOK > i, later(i, func(y *decode.Exchange) bool {
					return (y.Kind.IsRegistry() || y.Kind.IsV1()) && maskingOK(y) && status(y) < 300
				}))
				check("the blob fetched later", after(op.later().blobOKByRef, x.Ref, i), later(i, func(y *decode.Exchange) bool {
					return y.Kind.IsBlob() && y.Ref == x.Ref && maskingOK(y) && status(y) < 300
				}))
				check("an upload later", after(op.later().uploadByRepo, x.Repo, i), later(i, func(y *decode.Exchange) bool {
					return (y.Kind == decode.KindUploadStart || y.Kind == decode.KindUploadFinish) && y.Repo == x.Repo
				}))
				if x.Flow.Request.URL != nil {
					var want *decode.Exchange
					for _, y := range op.Exchanges[i+1:] {
						if y.Flow.Request.URL != nil && y.Flow.Request.URL.Path == x.Flow.Request.URL.Path && challengeSucceeded(y) {
							want = y
							break
						}
					}
					if got := op.nextSucceeded(x.Flow.Request.URL.Path, i); got != want {
						t.Errorf("%s: the next success on the path of #%d: index %v, scan %v", tr.name, x.Flow.ID, got, want)
					}
				}
				// The last Bearer challenge before i naming x's realm, else the
				// last Bearer challenge before i.
				var want, any *decode.Exchange
				for j := i - 1; j >= 0 && want == nil; j-- {
					y := op.Exchanges[j]
					if c := bearerChallenge(y); c != nil {
						if ru, err := url.Parse(c.Realm()); err == nil && decode.RealmKey(ru) == decode.RealmKey(x.Flow.Request.URL) {
							want = y
						} else if any == nil {
							any = y
						}
					}
				}
				if want == nil {
					want = any
				}
				if got := credChallengeFor(op, i, x); got != want {
					t.Errorf("%s: the challenge before #%d: index %v, scan %v", tr.name, x.Flow.ID, got, want)
				}
				if got := op.position(x); got != i {
					t.Errorf("%s: position of #%d: %d, want %d", tr.name, x.Flow.ID, got, i)
				}
				pushWant := slices.ContainsFunc(op.Exchanges, func(y *decode.Exchange) bool {
					return y.TokenRequest != nil && slices.ContainsFunc(y.TokenRequest.Scopes, func(sc decode.Scope) bool {
						return sc.Type == "repository" && sc.Name == x.Repo && (slices.Contains(sc.Actions, "push") || slices.Contains(sc.Actions, "*"))
					})
				})
				check("push asked", tokAskedPush(op, x.Repo), pushWant)
			}
		}
	}
	if checked < 500 {
		t.Errorf("only %d positions checked", checked)
	}
}

// TestWentElsewhereAnswersAsAScanWould: whether a client sent a registry
// request to another registry after a flow, answered from the two
// latest registries per client, is what a scan of the input says, for
// random inputs of a few clients and registries in any order of IDs.
func TestWentElsewhereAnswersAsAScanWould(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	kinds := []decode.Kind{decode.KindManifestGet, decode.KindBlobGet, decode.KindPing, decode.KindTokenRequest, decode.KindV1Images}
	uas := []string{"a", "b", ""}
	regs := []string{"r1", "r2", "r3", "r4", ""}
	checked := 0
	for range 300 {
		in := &Input{}
		for i := range rnd.IntN(12) {
			id := flow.ID(rnd.IntN(20) + 1)
			if rnd.IntN(2) == 0 {
				id = flow.ID(i + 1)
			}
			in.Exchanges = append(in.Exchanges, &decode.Exchange{
				Flow: &flow.Flow{ID: id}, Kind: kinds[rnd.IntN(len(kinds))],
				Registry: regs[rnd.IntN(len(regs))], Client: decode.Client{UserAgent: uas[rnd.IntN(len(uas))]},
			})
		}
		for _, ua := range uas {
			for _, reg := range regs {
				for end := flow.ID(0); end <= 21; end++ {
					want := slices.ContainsFunc(in.Exchanges, func(y *decode.Exchange) bool {
						return (y.Kind.IsRegistry() || y.Kind.IsV1()) && y.Client.UserAgent == ua && y.Registry != reg && y.Flow.ID > end
					})
					if got := in.wentElsewhereAfter(ua, reg, end); got != want {
						t.Fatalf("client %q, registry %q, after #%d: index %v, scan %v, in %v", ua, reg, end, got, want, describe(in.Exchanges))
					}
					if want {
						checked++
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d true answers checked", checked)
	}
}

func describe(ys []*decode.Exchange) string {
	var b strings.Builder
	for _, y := range ys {
		fmt.Fprintf(&b, " %s/%s/%s/#%d", y.Client.UserAgent, y.Registry, y.Kind, y.Flow.ID)
	}
	return b.String()
}
