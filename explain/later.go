package explain

import (
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// The rules ask "did anything later in the operation …?" of each failure.
// An operation of a long log holds hundreds of thousands of exchanges, and
// in the worst case every one of them failed: a scan per question would be
// quadratic. One pass builds, per kind of question, the last position
// where the answer is yes (per key, where the question names one).

// laterFacts holds, for one operation, the last index of an exchange of
// each kind (-1 for none).
type laterFacts struct {
	tokenReq int // a token request (credIsToken)
	tokenOK  int // a token request that got a token (credTokenOK)
	tokenAny int // any exchange of kind token request, parsed or not
	// authedOK: not a token request, carried credentials, answered 2xx.
	authedOK int
	// regOK: a registry or V1 request answered below 300 (maskingOK).
	regOK       int
	manifestPut int
	// okByMethodPath: method and host+path -> answered 2xx/3xx without a
	// transport error.
	okByMethodPath map[methodPath]int
	// blobOKByRef: a blob request for the digest answered below 300.
	blobOKByRef map[string]int
	// uploadByRepo: an upload started or finished in the repository.
	uploadByRepo map[string]int
	// succeededByPath: path -> every index whose answer shows a genuine 2xx
	// (challengeSucceeded), ascending.
	succeededByPath map[string][]int
	// Per repository, registry and V1 requests: any, a genuine 2xx, one
	// with credentials, one with a Bearer token.
	regByRepo, okByRepo, credByRepo, bearerByRepo map[string]int
	// pos: flow ID -> its (first) index in the operation, for one longer
	// than posScan (see posOf).
	pos map[flow.ID]int
	// pushAsked: the repositories a token request asked push (or *) for.
	pushAsked map[string]bool
	// bearerAt: the positions of exchanges with a Bearer challenge,
	// ascending; bearerByRealm the same per realm (credRealmKey).
	bearerAt      []int
	bearerByRealm map[string][]int
}

// later returns the operation's facts, built on first use (Explain builds
// them before the rules run, which may run at once).
func (op *Operation) later() *laterFacts {
	if op.laterF != nil {
		return op.laterF
	}
	// The maps are made on first write: a long log of many short
	// operations leaves most of them empty.
	f := &laterFacts{tokenReq: -1, tokenOK: -1, tokenAny: -1, authedOK: -1, regOK: -1, manifestPut: -1}
	if len(op.Exchanges) > posScan {
		f.pos = make(map[flow.ID]int, len(op.Exchanges))
	}
	var realmKeys map[string]string
	for i, y := range op.Exchanges {
		if _, dup := f.pos[y.Flow.ID]; !dup && f.pos != nil {
			f.pos[y.Flow.ID] = i
		}
		if c := bearerChallenge(y); c != nil {
			f.bearerAt = append(f.bearerAt, i)
			// A long log's challenges name the same few realms.
			k, ok := realmKeys[c.Realm()]
			if !ok {
				k = "\x00" // no key: the realm does not parse
				if ru, err := url.Parse(c.Realm()); err == nil {
					k = decode.RealmKey(ru)
				}
				put(&realmKeys, c.Realm(), k)
			}
			if k != "\x00" {
				put(&f.bearerByRealm, k, append(f.bearerByRealm[k], i))
			}
		}
		if y.TokenRequest != nil {
			for _, sc := range y.TokenRequest.Scopes {
				if sc.Type == "repository" && (slices.Contains(sc.Actions, "push") || slices.Contains(sc.Actions, "*")) {
					put(&f.pushAsked, sc.Name, true)
				}
			}
		}
		st := status(y)
		if credIsToken(y) {
			f.tokenReq = i
		}
		if credTokenOK(y) {
			f.tokenOK = i
		}
		if y.Kind == decode.KindTokenRequest {
			f.tokenAny = i
		}
		if !credIsToken(y) && y.Auth.Scheme != "" && st >= 200 && st < 300 {
			f.authedOK = i
		}
		reg := y.Kind.IsRegistry() || y.Kind.IsV1()
		if reg && maskingOK(y) && st < 300 {
			f.regOK = i
		}
		if y.Kind == decode.KindManifestPut {
			f.manifestPut = i
		}
		if y.Flow.Err == nil && st >= 200 && st < 400 {
			put(&f.okByMethodPath, methodPath{y.Flow.Request.Method, tokPath(y)}, i)
		}
		if y.Kind.IsBlob() && maskingOK(y) && st < 300 {
			put(&f.blobOKByRef, y.Ref, i)
		}
		if y.Kind == decode.KindUploadStart || y.Kind == decode.KindUploadFinish {
			put(&f.uploadByRepo, y.Repo, i)
		}
		if y.Flow.Request.URL != nil && challengeSucceeded(y) {
			p := y.Flow.Request.URL.Path
			put(&f.succeededByPath, p, append(f.succeededByPath[p], i))
		}
		if reg {
			put(&f.regByRepo, y.Repo, i)
			if challengeSucceeded(y) {
				put(&f.okByRepo, y.Repo, i)
			}
			if y.Auth.Scheme != "" {
				put(&f.credByRepo, y.Repo, i)
			}
			if strings.EqualFold(y.Auth.Scheme, "bearer") {
				put(&f.bearerByRepo, y.Repo, i)
			}
		}
	}
	op.laterF = f
	return f
}

// put sets (*m)[k], making the map on first use.
func put[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] = v
}

// posScan is the longest operation whose positions are found by a scan
// rather than a map.
const posScan = 16

// posOf returns the (first) index in op of the flow id.
func (op *Operation) posOf(id flow.ID) (int, bool) {
	f := op.later()
	if f.pos != nil {
		j, ok := f.pos[id]
		return j, ok
	}
	for j, y := range op.Exchanges {
		if y.Flow.ID == id {
			return j, true
		}
	}
	return 0, false
}

// after reports whether m holds k at an index after i.
func after[K comparable](m map[K]int, k K, i int) bool {
	j, ok := m[k]
	return ok && j > i
}

// lastBefore returns the last of the ascending positions is below i, or -1.
func lastBefore(is []int, i int) int {
	k := sort.SearchInts(is, i)
	if k == 0 {
		return -1
	}
	return is[k-1]
}

// position returns x's index in the operation, or -1.
func (op *Operation) position(x *decode.Exchange) int {
	if x == nil {
		return -1
	}
	if j, ok := op.posOf(x.Flow.ID); ok && op.Exchanges[j] == x {
		return j
	}
	return slices.Index(op.Exchanges, x)
}

// nextSucceeded returns the first exchange after i on path whose answer
// shows a genuine 2xx, or nil.
func (op *Operation) nextSucceeded(path string, i int) *decode.Exchange {
	is := op.later().succeededByPath[path]
	k := sort.SearchInts(is, i+1)
	if k == len(is) {
		return nil
	}
	return op.Exchanges[is[k]]
}
