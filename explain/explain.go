// Package explain reads a decoded sequence of exchanges and says why it
// ended the way it did — unauthorized, not found, denied, rate limited — with
// the evidence (which flows), the fix, and what the trace cannot prove.
//
// Rules are documented in RULES.md (generated from ruledocs.go): their IDs
// are public (they appear in HAR files, reports and tickets) and never
// change; they run in the auth-failure catalog's order (transport, masking,
// challenge, token endpoint, token contents, token validity, verdict), and
// every rule that matches is reported, the first failure-explaining one
// marked primary. Whether an operation failed, and where, is decided once
// by the outcome model (outcome.go) before any rule runs.
//
// explain imports decode and decode/flow only.
package explain

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// Rule is a stable rule ID.
type Rule string

// Verdict is what really happened, in one word a support engineer can act on.
type Verdict string

const (
	VerdictOK                    Verdict = "ok"
	VerdictNotFound              Verdict = "not-found"
	VerdictUnauthorizedAmbiguous Verdict = "unauthorized-ambiguous"
	VerdictUnauthorized          Verdict = "unauthorized"
	VerdictDenied                Verdict = "denied"
	VerdictCredentialsNotSent    Verdict = "credentials-not-sent"
	VerdictCredentialsRejected   Verdict = "credentials-rejected"
	VerdictTokenProblem          Verdict = "token-problem"
	VerdictRateLimited           Verdict = "rate-limited"
	VerdictTransport             Verdict = "transport-failure"
	VerdictMisleadingError       Verdict = "misleading-error"
	VerdictNoTraffic             Verdict = "no-registry-traffic"
	VerdictClientConfig          Verdict = "client-configuration"
)

// Finding is one explanation.
type Finding struct {
	Rule    Rule
	Verdict Verdict
	// Primary marks the answer to "why did it fail" (at most one per report).
	Primary bool
	// Peer is the client of a shared proxy the finding is about (its proxy
	// user or address), set when a trace holds more than one.
	Peer string
	// Client, Registry and Repo say which operation the finding is about.
	Client   string
	Registry string
	Repo     string
	// Evidence are the flows that show it, in order.
	Evidence []flow.ID
	// Why says what happened in plain words; Fix what to do; CannotProve
	// what this trace cannot tell and what would.
	Why         string
	Fix         string
	CannotProve string
	// Suspected: the trace (a log) lacks what the rule needs; Rule is the
	// one what it shows points to, and CannotProve says what would prove it.
	Suspected bool
	// Candidates, on an unexplained failure read from a log, are the rules
	// what the log shows fits, most likely first: only the wire can tell.
	Candidates []Rule
	// sideEffect: true, but not what the client reported (a host it tried
	// after another host's answer, which it reported): never primary.
	sideEffect bool
}

// Operation is what one client did with one registry: its pings, token
// requests, registry requests and redirect targets, in order.
type Operation struct {
	// Peer is the client of a shared proxy (flow.Flow.Peer), set when a
	// trace holds more than one.
	Peer     string
	Client   decode.Client
	Registry string // normalised registry host
	// Repos are the repositories the operation touched, normalised, in
	// first-seen order.
	Repos     []string
	Exchanges []*decode.Exchange

	outcome  *Outcome
	roles    []Role             // per exchange, set with outcome
	failures []*decode.Exchange // tokFailures, once asked
	// scopeChallenges: path -> the operation's registry 401s with a Bearer
	// challenge naming scopes, in order; built on first use by
	// tokChallengeBefore.
	scopeChallenges map[hostPath][]*decode.Exchange
	// laterF answers "did anything later …?" (later.go).
	laterF *laterFacts
}

// Last returns the last registry (V2, V1) exchange, or nil.
func (op *Operation) Last() *decode.Exchange {
	for i := len(op.Exchanges) - 1; i >= 0; i-- {
		if k := op.Exchanges[i].Kind; k.IsRegistry() || k.IsV1() {
			return op.Exchanges[i]
		}
	}
	return nil
}

// Input is what explain reads.
type Input struct {
	Exchanges []*decode.Exchange
	// Handshakes are clients that failed the TLS handshake with the proxy.
	Handshakes []flow.HandshakeFailure
	// Sanitized is true for a third-party HAR whose exporter removed
	// Authorization and cookies (Chrome's default): a missing Authorization
	// then proves nothing.
	Sanitized bool

	// Source is set for a trace read from a log rather than recorded.
	Source *Source
	// LabelPeers labels findings with their peer even when the input
	// holds one (a shared proxy's first client).
	LabelPeers bool

	idx *inputIndex // built on first use by rules that look across operations
	// covered holds the operations a failure-explaining finding is about,
	// so far: the unexplained-failure rule runs last and reads it.
	covered map[*Operation]bool
	// demoted holds, for an operation whose log hides what the registry
	// answered after a mirror failed (mirrorMasked), the rules that read
	// the mirror's answer: candidates, not the explanation.
	demoted map[*Operation][]Rule
}

// inputIndex answers cross-operation questions without a scan per
// operation (a 100,000-entry trace has tens of thousands of operations).
type inputIndex struct {
	// lastRegistries: User-Agent -> the two registries whose last registry
	// (V2/V1) exchange came latest, and those exchanges' flow IDs: enough to
	// tell whether the client went to any registry but one after a point,
	// without a walk over every registry it used.
	lastRegistries map[string]*latestTwo
	// logins: registry -> the docker-login-like exchanges to it
	// (credLoginCandidate), built on first use by credLoginExchange.
	logins     map[string]*loginList
	loginsOnce sync.Once
	// credSent: the exchanges that sent credentials, built on first use by
	// credSentElsewhere.
	credSent     *credSentIdx
	credSentOnce sync.Once
	// byID finds an exchange by its flow (a token's issuer).
	byID map[flow.ID]*decode.Exchange
	// credFor: the registries the source shows credentials for, as
	// written (a host) and by credHostname.
	credFor, credForName map[string]bool
	// servedSuffix: registry NUL "name" -> the first exchange the registry
	// answered 2xx for a repository ending in "/name"; built on first use
	// by tokLibraryPrefix.
	servedSuffix     map[string]*decode.Exchange
	servedSuffixOnce sync.Once
	// repos: every registry and repository an exchange was for; built on
	// first use by mirrorMasked.
	repos     map[[2]string]bool
	reposOnce sync.Once
	// public: registry NUL repository -> the first exchange showing it can
	// be pulled anonymously; built on first use by credPublicEvidence.
	public     map[string]publicEvidence
	publicOnce sync.Once
	// basicBy: User-Agent -> the first exchange that carried Basic
	// credentials; realmLast: realm key (credRealmKey) -> the last position
	// in the input of a request to it; at: exchange -> its position. Built
	// on first use by the rules that ask across the trace.
	basicBy   map[string]*decode.Exchange
	realmLast map[string]int
	at        map[*decode.Exchange]int
	crossOnce sync.Once
}

func (in *Input) index() *inputIndex {
	if in.idx != nil {
		return in.idx
	}
	ix := &inputIndex{lastRegistries: map[string]*latestTwo{}, byID: make(map[flow.ID]*decode.Exchange, len(in.Exchanges))}
	if in.Source != nil {
		ix.credFor, ix.credForName = map[string]bool{}, map[string]bool{}
		for _, r := range in.Source.CredentialsFor {
			ix.credFor[r], ix.credForName[credHostname(r)] = true, true
		}
	}
	for _, y := range in.Exchanges {
		if _, dup := ix.byID[y.Flow.ID]; !dup {
			ix.byID[y.Flow.ID] = y
		}
		if !(y.Kind.IsRegistry() || y.Kind.IsV1()) {
			continue
		}
		top := ix.lastRegistries[y.Client.UserAgent]
		if top == nil {
			top = &latestTwo{}
			ix.lastRegistries[y.Client.UserAgent] = top
		}
		top.add(registryLast{y.Registry, y.Flow.ID})
	}
	in.idx = ix
	return ix
}

// cross returns the input's cross-trace facts, built on first use (once:
// the rules may run at once).
func (in *Input) cross() *inputIndex {
	ix := in.index()
	ix.crossOnce.Do(func() {
		ix.basicBy = map[string]*decode.Exchange{}
		ix.realmLast = map[string]int{}
		ix.at = make(map[*decode.Exchange]int, len(in.Exchanges))
		for i, y := range in.Exchanges {
			ix.at[y] = i
			if _, ok := ix.basicBy[y.Client.UserAgent]; !ok && strings.EqualFold(y.Auth.Scheme, "basic") && !y.Auth.Empty {
				ix.basicBy[y.Client.UserAgent] = y
			}
			ix.realmLast[decode.RealmKey(y.Flow.Request.URL)] = i
		}
	})
	return ix
}

// wentElsewhereAfter reports whether the client with user agent ua sent a
// registry request to a registry other than reg after flow end.
func (in *Input) wentElsewhereAfter(ua, reg string, end flow.ID) bool {
	top := in.index().lastRegistries[ua]
	if top == nil {
		return false
	}
	other := top[0]
	if other.registry == reg {
		other = top[1]
	}
	return other.id > end
}

// registryLast is a registry and the flow ID of the last registry
// exchange a client sent it.
type registryLast struct {
	registry string
	id       flow.ID
}

// latestTwo holds the two registries with the latest exchanges, latest
// first.
type latestTwo [2]registryLast

func (top *latestTwo) add(r registryLast) {
	switch {
	case r.registry == top[0].registry:
		top[0].id = max(top[0].id, r.id)
	case r.id > top[0].id:
		if top[0].id != 0 {
			top[1] = top[0]
		}
		top[0] = r
		return
	case r.registry == top[1].registry || r.id > top[1].id:
		top[1].registry, top[1].id = r.registry, max(top[1].id, r.id)
	}
}

// authHidden reports whether a request without Authorization proves
// nothing: a sanitized HAR, or a log that does not show the header.
func (in *Input) authHidden() bool {
	return in.Sanitized || in.Source != nil && in.Source.HidesAuth
}

// hiddenNote says why the trace shows no Authorization.
func (in *Input) hiddenNote() string {
	if in.Source != nil && in.Source.HidesAuth {
		return "Authorization headers do not appear in the " + in.Source.Name
	}
	return "the HAR's exporter removed Authorization headers"
}

// credentialVerdict: a verdict whose fix involves which credentials the
// client uses.
func credentialVerdict(v Verdict) bool {
	switch v {
	case VerdictUnauthorizedAmbiguous, VerdictUnauthorized, VerdictDenied, VerdictCredentialsNotSent, VerdictCredentialsRejected:
		return true
	}
	return false
}

func (s *Source) note() string {
	n := "This trace comes from the " + s.Name
	if s.Lacks != "" {
		n += ", where these do not appear: " + s.Lacks
	}
	if s.Capture != "" {
		n += ". To record it all: `" + s.Capture + "`"
	}
	return n + "."
}

// Source describes a trace that was not recorded on the wire, such as a
// client's debug log: what it cannot show, and how to record what it
// cannot. Every finding drawn from it says both.
type Source struct {
	// Name says what was read: "skopeo debug log".
	Name string
	// HidesAuth: the source never shows Authorization headers, so their
	// absence proves nothing.
	HidesAuth bool
	// Lacks says what the source does not show, in words: "the status of
	// requests other than the ping, challenges, token contents".
	Lacks string
	// Capture is the command that would record what it lacks.
	Capture string
	// CredentialsFor are the registries the client had credentials for,
	// when the source shows its credential lookup.
	CredentialsFor []string
	// CredentialsHint, when set, says where this client takes credentials
	// from; it is added to the fix of findings about credentials.
	CredentialsHint string
}

// Report is the result of Explain.
type Report struct {
	Operations []*Operation
	// Findings in the catalog's order; the primary one first.
	Findings []Finding
	// Source is the input's: set when the trace was read from a log.
	Source *Source
}

// Primary returns the primary finding, if any.
func (r *Report) Primary() *Finding {
	for i := range r.Findings {
		if r.Findings[i].Primary {
			return &r.Findings[i]
		}
	}
	return nil
}

// rule is one check: it reads one operation (or the whole input, for rules
// about traffic that belongs to no operation) and returns findings.
type rule struct {
	id Rule
	// group is the catalog §3 step (1 transport … 9), then list order.
	group int
	// explains is true when the finding answers "why did it fail" (and may
	// be primary); false for hints that accompany another finding.
	explains bool
	op       func(in *Input, op *Operation) []Finding
	global   func(in *Input, ops []*Operation) []Finding
}

// rules is filled by the rules_*.go files' init-free tables: see allRules.
func allRules() []rule {
	var rs []rule
	rs = append(rs, globalRules()...)
	rs = append(rs, maskingRules()...)
	rs = append(rs, challengeRules()...)
	rs = append(rs, credentialRules()...)
	rs = append(rs, tokenRules()...)
	rs = append(rs, verdictRules()...)
	rs = append(rs, outcomeRules()...)
	slices.SortStableFunc(rs, func(a, b rule) int { return a.group - b.group })
	return rs
}

// found is a finding and the operation it is about (nil: none).
type found struct {
	f  Finding
	op *Operation
}

// parallelMin is the fewest operations (or exchanges) worth splitting
// across cores, and parallelParts how many parts they are split into;
// byOpsMin is the fewest operations a long trace's rules run over op by
// op (earlyByOps) rather than rule by rule.
var (
	parallelMin   = 2048
	parallelParts = runtime.GOMAXPROCS(0)
	byOpsMin      = 2048
)

// opFindings runs an operation rule on every operation, in order: on a long
// trace, on every core, each over a contiguous part of the operations.
func opFindings(in *Input, r rule, ops []*Operation) []found {
	run := func(ops []*Operation) []found {
		var fs []found
		for _, op := range ops {
			fs = appendOpFindings(fs, in, r, op)
		}
		return fs
	}
	parts := parallelParts
	if len(ops) < parallelMin || parts < 2 {
		return run(ops)
	}
	res := make([][]found, parts)
	tasks := make([]func(), parts)
	for p := range parts {
		tasks[p] = func() { res[p] = run(ops[len(ops)*p/parts : len(ops)*(p+1)/parts]) }
	}
	runTasks(tasks, true)
	return slices.Concat(res...)
}

// inParts calls f on contiguous parts of ops, on every core when parallel
// is set, else once on them all.
func inParts(ops []*Operation, parallel bool, f func([]*Operation)) {
	if !parallel {
		f(ops)
		return
	}
	parts := parallelParts * 4
	tasks := make([]func(), parts)
	for p := range parts {
		tasks[p] = func() { f(ops[len(ops)*p/parts : len(ops)*(p+1)/parts]) }
	}
	runTasks(tasks, true)
}

// earlyByOps runs rules over many operations on every core: each global
// rule is a task, and each part of the operations is one, running every
// operation rule on an operation before the next (its exchanges stay in
// the cache; rule after rule over them all fetched them from memory
// again for each rule). Each rule's findings come back in the order
// opFindings gives: its global ones, then by operation.
func earlyByOps(in *Input, rules []rule, ops []*Operation, byFlow map[flow.ID]*Operation) [][]found {
	parts := parallelParts * 8
	global := make([][]found, len(rules))
	byPart := make([][][]found, parts) // part, rule
	var tasks []func()
	for i, r := range rules {
		if r.global == nil {
			continue
		}
		tasks = append(tasks, func() { global[i] = globalFindings(in, r, ops, byFlow) })
	}
	for p := range parts {
		tasks = append(tasks, func() {
			res := make([][]found, len(rules))
			for _, op := range ops[len(ops)*p/parts : len(ops)*(p+1)/parts] {
				for i, r := range rules {
					if r.op != nil {
						res[i] = appendOpFindings(res[i], in, r, op)
					}
				}
			}
			byPart[p] = res
		})
	}
	runTasks(tasks, true)
	out := make([][]found, len(rules))
	for i := range rules {
		n := len(global[i])
		for p := range parts {
			n += len(byPart[p][i])
		}
		out[i] = make([]found, 0, n)
		out[i] = append(out[i], global[i]...)
		for p := range parts {
			out[i] = append(out[i], byPart[p][i]...)
		}
	}
	return out
}

// globalFindings runs a global rule, each finding with the first failed
// operation its evidence is in (nil: none).
func globalFindings(in *Input, r rule, ops []*Operation, byFlow map[flow.ID]*Operation) []found {
	var fs []found
	for _, f := range r.global(in, ops) {
		var op *Operation
		for _, id := range f.Evidence {
			if o := byFlow[id]; o != nil && o.Failed() {
				op = o
				break
			}
		}
		fs = append(fs, found{f, op})
	}
	return fs
}

// appendOpFindings appends what rule r finds in op to fs.
func appendOpFindings(fs []found, in *Input, r rule, op *Operation) []found {
	res := r.op(in, op)
	fs = slices.Grow(fs, len(res))
	for _, f := range res {
		if f.Client == "" {
			f.Client = ClientName(op.Client)
		}
		if f.Registry == "" {
			f.Registry = op.Registry
		}
		f.Peer = op.Peer
		fs = append(fs, found{f, op})
	}
	return fs
}

// runTasks runs each task, on every core when parallel is set (each
// worker takes the next task left), else in order.
func runTasks(tasks []func(), parallel bool) {
	if !parallel {
		for _, t := range tasks {
			t()
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range parallelParts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(tasks); i = int(next.Add(1)) - 1 {
				tasks[i]()
			}
		}()
	}
	wg.Wait()
}

// Explain groups the exchanges into operations, decides each one's outcome
// and runs every rule. Each peer of a shared proxy (flow.Flow.Peer) is
// explained on its own: one client's findings never rest on another's
// flows.
func Explain(in Input) *Report {
	parts := byPeer(in)
	if len(parts) < 2 {
		peer := ""
		if len(parts) == 1 && in.LabelPeers {
			peer = parts[0].peer
		}
		return explainPeer(in, peer)
	}
	rep := &Report{Source: in.Source}
	var rest []Finding
	for _, p := range parts {
		r := explainPeer(p.in, p.peer)
		rep.Operations = append(rep.Operations, r.Operations...)
		for _, f := range r.Findings {
			// The first peer whose trace ends badly gives the primary.
			if f.Primary && rep.Primary() == nil && r.Failed() {
				rep.Findings = append(rep.Findings, f)
				continue
			}
			f.Primary = false
			rest = append(rest, f)
		}
	}
	rep.Findings = append(rep.Findings, rest...)
	return rep
}

// peerInput is one peer's share of an input.
type peerInput struct {
	peer string
	in   Input
}

// byPeer splits in by peer, in the order peers first appear; what names no
// peer (a handshake record without an address) goes with the first. Of a
// single peer it returns the peer alone, with no input.
func byPeer(in Input) []peerInput {
	var peers []string
	seen := map[string]bool{}
	note := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			peers = append(peers, p)
		}
	}
	for _, x := range in.Exchanges {
		note(x.Flow.Peer())
	}
	for _, h := range in.Handshakes {
		note(flow.Peer(h.ProxyUser, h.ClientAddr))
	}
	if len(peers) < 2 {
		if len(peers) == 1 {
			return []peerInput{{peer: peers[0]}}
		}
		return nil
	}
	parts := make([]peerInput, len(peers))
	at := map[string]*Input{"": &parts[0].in}
	for i, p := range peers {
		parts[i] = peerInput{peer: p, in: Input{Sanitized: in.Sanitized, Source: in.Source}}
		at[p] = &parts[i].in
	}
	for _, x := range in.Exchanges {
		p := at[x.Flow.Peer()]
		p.Exchanges = append(p.Exchanges, x)
	}
	for _, h := range in.Handshakes {
		p := at[flow.Peer(h.ProxyUser, h.ClientAddr)]
		p.Handshakes = append(p.Handshakes, h)
	}
	return parts
}

// explainPeer explains one peer's input; peer labels its operations and
// findings.
func explainPeer(in Input, peer string) *Report {
	rep := &Report{Operations: Group(in.Exchanges), Source: in.Source}
	for _, op := range rep.Operations {
		op.Peer = peer
	}
	long := len(in.Exchanges) >= parallelMin && parallelParts > 1
	// Each outcome reads its operation alone.
	inParts(rep.Operations, long && len(rep.Operations) >= parallelMin, func(ops []*Operation) {
		for _, op := range ops {
			op.Outcome()
		}
	})
	reportedStops(&in, rep.Operations)
	recoverOutcomes(rep.Operations)
	in.covered = map[*Operation]bool{}
	in.demoted = map[*Operation][]Rule{}
	// What the rules share is built before any of them reads it: on a long
	// trace each part at once, on every core (a log of one client is one
	// operation of hundreds of thousands of exchanges).
	var byFlow map[flow.ID]*Operation
	tasks := []func(){
		func() { in.index() },
		func() {
			byFlow = make(map[flow.ID]*Operation, len(in.Exchanges))
			for _, op := range rep.Operations {
				for _, x := range op.Exchanges {
					byFlow[x.Flow.ID] = op
				}
			}
		},
	}
	for _, op := range rep.Operations {
		tasks = append(tasks, func() { tokFailures(op) }, func() { op.challengesByPath() }, func() { op.later() })
	}
	runTasks(tasks, long)
	// The primary finding answers why the trace ends badly: a failure of an
	// operation a later run recovered is reported, never primary, while an
	// unrecovered one exists.
	recovered := func(op *Operation) bool { return op != nil && op.Outcome().RecoveredBy != nil }
	primary := -1
	var primaryOp *Operation
	docs := ruleDoc()
	// A long log's findings share their texts: each text is joined to the
	// source's note (or hint) once, and the findings share the result.
	withNote, withHint := textJoins{}, textJoins{}
	run := func(r rule) []found {
		var fs []found
		if r.global != nil {
			fs = globalFindings(&in, r, rep.Operations, byFlow)
		}
		if r.op != nil {
			fs = append(fs, opFindings(&in, r, rep.Operations)...)
		}
		return fs
	}
	// The rules before the unexplained-failure rule (which reads what they
	// covered) read only what was built above: on a long trace they run at
	// once, on every core; their findings are taken in the catalog's order.
	rules := allRules()
	early := slices.IndexFunc(rules, func(r rule) bool { return r.id == RuleUnexplainedFailure })
	if early < 0 {
		early = len(rules)
	}
	results := make([][]found, early)
	switch {
	case long && len(rep.Operations) >= byOpsMin && parallelParts > 1:
		results = earlyByOps(&in, rules[:early], rep.Operations, byFlow)
	case long:
		tasks = tasks[:0]
		for i := range early {
			tasks = append(tasks, func() { results[i] = run(rules[i]) })
		}
		runTasks(tasks, true)
	}
	n := 0
	for _, fs := range results {
		n += len(fs)
	}
	rep.Findings = make([]Finding, 0, n)
	for i, r := range rules {
		var fs []found
		if i < early && long {
			fs = results[i]
		} else {
			fs = run(r)
		}
		rep.Findings = slices.Grow(rep.Findings, len(fs))
		for _, fo := range fs {
			f := fo.f
			if !f.Suspected {
				f.Rule = r.id
			}
			f.Peer = peer
			// The general texts live in one place, ruledocs.go.
			if d := docs[f.Rule]; d != nil {
				if f.Fix == "" {
					f.Fix = d.Fix
				}
				if f.CannotProve == "" {
					f.CannotProve = d.CannotProve
				}
			}
			if src := in.Source; src != nil && f.Verdict != VerdictOK {
				f.CannotProve = withNote.join(f.CannotProve, src.note)
				if src.CredentialsHint != "" && credentialVerdict(f.Verdict) {
					f.Fix = withHint.join(f.Fix, func() string { return src.CredentialsHint })
				}
			}
			// The rules that read a mirror's answer give candidates when
			// the log hides the registry's own (the unexplained-failure
			// rule, last, lists them).
			masked := r.id != RuleUnexplainedFailure && in.mirrorMasked(fo.op)
			if r.explains && f.Verdict != VerdictOK && !f.sideEffect && masked {
				if !slices.Contains(in.demoted[fo.op], r.id) {
					in.demoted[fo.op] = append(in.demoted[fo.op], r.id)
				}
			} else if r.explains && f.Verdict != VerdictOK && !f.sideEffect {
				if fo.op != nil {
					in.covered[fo.op] = true
				}
				for _, id := range f.Evidence {
					if o := byFlow[id]; o != nil && o.Failed() {
						in.covered[o] = true
					}
				}
			}
			if r.explains && f.Verdict != VerdictOK && !f.sideEffect && !masked && (primary < 0 || recovered(primaryOp) && !recovered(fo.op)) {
				primary, primaryOp = len(rep.Findings), fo.op
			}
			rep.Findings = append(rep.Findings, f)
		}
	}
	if !rep.Failed() {
		// The trace ends well: that a later run recovered leads.
		slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
			return boolRank(b.Rule == RuleLaterRunSucceeded) - boolRank(a.Rule == RuleLaterRunSucceeded)
		})
		return rep
	}
	if primary >= 0 {
		rep.Findings[primary].Primary = true
		// The primary finding leads.
		p := rep.Findings[primary]
		copy(rep.Findings[1:primary+1], rep.Findings[:primary])
		rep.Findings[0] = p
	}
	return rep
}

// textJoins memoises strings.TrimSpace(text + " " + tail()) by text.
type textJoins map[string]string

func (m textJoins) join(text string, tail func() string) string {
	if r, ok := m[text]; ok {
		return r
	}
	r := strings.TrimSpace(text + " " + tail())
	m[text] = r
	return r
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Failed reports whether the trace ends badly: an operation did not reach
// its goal and no later run of the same client did, or a client never got
// past the proxy's TLS.
func (r *Report) Failed() bool {
	for _, op := range r.Operations {
		if o := op.Outcome(); !o.Reached && o.RecoveredBy == nil {
			return true
		}
	}
	for _, f := range r.Findings {
		if (f.Rule == RuleClientDistrustsCA || f.Rule == RuleNoRegistryTraffic) && !f.sideEffect {
			return true
		}
	}
	return false
}

// anonymousTunnel: a CONNECT whose User-Agent is none or Go's default,
// which names the HTTP library, not the client.
func anonymousTunnel(x *decode.Exchange) bool {
	return x.Client.UserAgent == "" || x.Client.Program == "go-http-client"
}

// ClientName is how findings name a client: program/version, else its
// User-Agent.
func ClientName(c decode.Client) string {
	switch {
	case c.Program == "go-http-client":
		return "a Go client (" + c.UserAgent + ": the request does not name the program)"
	case c.Program != "" && c.Version != "":
		return c.Program + "/" + c.Version
	case c.Program != "":
		return c.Program
	case c.UserAgent != "":
		return c.UserAgent
	}
	return "unknown client"
}

// Group splits exchanges into operations: one per client (User-Agent) and
// registry. Token requests join the operation of the registry whose
// challenge named their realm; redirect targets the operation that was
// redirected. A mirror asked on behalf of the image's registry (ns=, the
// hosts of one hosts.toml) is part of that registry's operation, and so
// are its token requests and a tunnel to it that could not be opened: a
// fallback from mirror to upstream is one pull.
func Group(xs []*decode.Exchange) []*Operation {
	var ops []*Operation
	// An operation's key: the client's User-Agent and the registry.
	type groupKey struct{ ua, reg string }
	byKey := map[groupKey]*Operation{}
	// byFlow: the operation of each flow a blob redirect came from (a set
	// of them all would cost a map insert per exchange).
	byFlow := map[flow.ID]*Operation{}
	for _, x := range xs {
		if x.Kind == decode.KindBlobRedirect && x.RedirectFrom != 0 {
			byFlow[x.RedirectFrom] = nil
		}
	}
	started := map[*Operation]bool{} // kept as we go: a scan per ping would be quadratic
	lastByReg := map[string]*Operation{}
	// mirrorOf: client and mirror registry -> the registry it stood in for.
	mirrorOf := map[groupKey]string{}
	type opRepo struct {
		op   *Operation
		repo string
	}
	hasRepo := map[opRepo]bool{}
	type opObj struct {
		op  *Operation
		obj string
	}
	serverAsked := map[opObj]bool{} // objects the server itself was asked for, once mirrors are seen
	// dangling is a failed tunnel to a host no operation has used yet: the
	// first host of a fallback (a mirror that is down) belongs to the
	// operation the client's next request is part of, when it came at once.
	var dangling *decode.Exchange
	add := func(op *Operation, x *decode.Exchange) {
		op.Exchanges = append(op.Exchanges, x)
		if _, ok := byFlow[x.Flow.ID]; ok {
			byFlow[x.Flow.ID] = op
		}
	}
	newOp := func(key groupKey, x *decode.Exchange, reg string) *Operation {
		op := &Operation{Client: x.Client, Registry: reg}
		byKey[key] = op
		ops = append(ops, op)
		return op
	}
	for _, x := range xs {
		reg := x.Registry
		if x.Kind == decode.KindBlobRedirect && x.RedirectFrom != 0 {
			if op := byFlow[x.RedirectFrom]; op != nil {
				reg = op.Registry
			}
		}
		ua := x.Client.UserAgent
		key := groupKey{ua, reg}
		if x.Upstream != "" {
			if _, ok := mirrorOf[key]; !ok {
				// The first mirror seen: what the server was already asked
				// for (kept from here on, see below).
				if o := byKey[groupKey{ua, x.Upstream}]; o != nil {
					for _, y := range o.Exchanges {
						if y.Upstream == "" && y.Repo != "" {
							serverAsked[opObj{o, fallbackObject(y)}] = true
						}
					}
				}
			}
			mirrorOf[key] = x.Upstream
			reg = x.Upstream
			key = groupKey{ua, reg}
		} else if len(mirrorOf) > 0 {
			if up, ok := mirrorOf[key]; ok {
				reg = up
				key = groupKey{ua, reg}
			}
		}
		if d := dangling; d != nil && !fallbackAfter(d, x) {
			dangling = nil
			op := newOp(groupKey{d.Client.UserAgent, d.Registry}, d, d.Registry)
			add(op, d)
			lastByReg[d.Registry] = op
		}
		op := byKey[key]
		// A CONNECT does not name the client (Go's transport sends its own
		// default User-Agent, others none): a tunnel that
		// could not be opened belongs to the last operation on its
		// registry, or to the realm's registry (decode attributes it).
		if x.Kind == decode.KindTunnel && anonymousTunnel(x) {
			if o := lastByReg[x.Registry]; o != nil {
				op = o
			} else if o := lastByReg[reg]; o != nil {
				op = o
			} else if bad(x) && !x.ToRealm && dangling == nil {
				dangling = x
				continue
			}
		}
		// Every registry client starts a run with a /v2/ ping: a ping after
		// repository or token requests begins another operation (two skopeo
		// runs in one trace are two operations, not one).
		if op != nil && x.Kind == decode.KindPing && started[op] {
			op = nil
		}
		// containerd asks its mirrors before the server for each request:
		// a mirror asked for what the server was already asked is the next
		// run (containerd does not ping, so no ping tells).
		if op != nil && x.Upstream != "" && x.Repo != "" && serverAsked[opObj{op, fallbackObject(x)}] {
			op = nil
		}
		if op == nil {
			op = newOp(key, x, reg)
		}
		if d := dangling; d != nil {
			dangling = nil
			add(op, d)
			lastByReg[d.Registry] = op
		}
		add(op, x)
		lastByReg[reg] = op
		lastByReg[x.Registry] = op
		if x.Upstream == "" && x.Repo != "" && len(mirrorOf) > 0 {
			serverAsked[opObj{op, fallbackObject(x)}] = true
		}
		// A run that failed at the token server pings again next time.
		if x.Repo != "" || x.Kind == decode.KindTokenRequest {
			started[op] = true
		}
		if x.Repo != "" {
			n := decode.NormalizeRepo(reg, x.Repo)
			// A set, not a scan of op.Repos: one client's long log is one
			// operation over thousands of repositories.
			if k := (opRepo{op, n}); !hasRepo[k] {
				hasRepo[k] = true
				op.Repos = append(op.Repos, n)
			}
		}
	}
	if d := dangling; d != nil {
		add(newOp(groupKey{d.Client.UserAgent, d.Registry}, d, d.Registry), d)
	}
	return ops
}

// fallbackGap is how soon after a host failed a client's next request must
// come to be its fallback to the next host: containerd, docker and
// containers/image move on within milliseconds; a script's next command
// takes longer to start.
const fallbackGap = 500 * time.Millisecond

// fallbackAfter reports whether next, a request made right after the
// failed tunnel d, can be the same client moving on to its next host.
func fallbackAfter(d, next *decode.Exchange) bool {
	if next.Kind == decode.KindTunnel || next.ToRealm || !(next.Kind.IsRegistry() || next.Kind.IsV1()) {
		return false
	}
	// Only clients with a list of hosts per registry move on to the next.
	switch next.Client.Family {
	case "containerd", "docker", "containers-image":
	default:
		return false
	}
	end := d.Flow.Start.Add(d.Flow.Timings.Total())
	return !next.Flow.Start.Before(d.Flow.Start) && next.Flow.Start.Sub(end) <= fallbackGap
}

// ids collects flow IDs of exchanges.
func ids(xs ...*decode.Exchange) []flow.ID {
	var out []flow.ID
	for _, x := range xs {
		if x != nil && !slices.Contains(out, x.Flow.ID) {
			out = append(out, x.Flow.ID)
		}
	}
	slices.Sort(out)
	return out
}

func status(x *decode.Exchange) int {
	if x == nil || x.Flow.Response == nil {
		return 0
	}
	return x.Flow.Response.Status
}

// hasCode reports whether a registry error body carries code.
func hasCode(x *decode.Exchange, code string) bool {
	for _, e := range x.Errors.Errors {
		if strings.EqualFold(e.Code, code) {
			return true
		}
	}
	return false
}

// bearerChallenge returns the first Bearer challenge of x.
func bearerChallenge(x *decode.Exchange) *decode.Challenge {
	for i := range x.Challenges {
		if x.Challenges[i].IsBearer() {
			return &x.Challenges[i]
		}
	}
	return nil
}
