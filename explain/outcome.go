package explain

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/regtrace/regtrace/decode"
)

// The outcome model: whether an operation reached its goal, and where it
// stopped, is decided here once per operation, before any rule runs. Rules
// read it (Operation.Failed, Operation.Outcome, Operation.Role) instead of
// deciding it again.

// Goal is what an operation set out to do, read from the requests it made.
type Goal string

const (
	GoalPush      Goal = "push"
	GoalDelete    Goal = "delete"
	GoalPull      Goal = "pull"
	GoalTags      Goal = "tag-list"
	GoalCatalog   Goal = "catalog"
	GoalReferrers Goal = "referrers"
	GoalV1        Goal = "v1"
	// GoalLogin: pings and token requests only — docker login, or a run
	// that stopped before its first repository request.
	GoalLogin   Goal = "login"
	GoalUnknown Goal = "unknown"
)

// Stage is where in the chain an exchange sits.
type Stage string

const (
	StagePing     Stage = "ping"
	StageRealm    Stage = "realm"  // the tunnel to the token server could not be opened
	StageTunnel   Stage = "tunnel" // the tunnel to the registry could not be opened
	StageToken    Stage = "token"
	StageRegistry Stage = "registry"
	StageRedirect Stage = "redirect"
	StageOther    Stage = "other"
)

// Role is what one exchange was to its operation.
type Role uint8

const (
	// RoleOK: it succeeded, or it is the normal 401 of a ping.
	RoleOK Role = iota
	// RoleRetried: it failed and a later exchange did the same thing
	// successfully (the 401 that starts the token handshake, a refused
	// POST token request retried with GET).
	RoleRetried
	// RoleProbe: an optional request whose failure is a normal answer
	// (referrers API 404, a cosign .sig tag 404, a blob HEAD before upload).
	RoleProbe
	// RoleFailed: the operation needed it and it failed for good.
	RoleFailed
)

// Probe is an optional request that failed the normal way.
type Probe struct {
	X   *decode.Exchange
	Why string
}

// Outcome is what an operation achieved.
type Outcome struct {
	Goal    Goal
	Reached bool
	// Stop is, for an operation that did not reach its goal, the exchange
	// where it stopped (its last failure for good); Stage says where that
	// is in the chain.
	Stop  *decode.Exchange
	Stage Stage
	// Probes are the optional requests that failed the normal way.
	Probes []Probe
	// RecoveredBy is a later operation of the same client that reached the
	// goal this one missed: a second run after a login, a fallback from a
	// mirror to the upstream.
	RecoveredBy *Operation
}

// Outcome returns the operation's outcome (computed by Explain, or on
// first use for an operation made by Group alone).
func (op *Operation) Outcome() *Outcome {
	if op.outcome == nil {
		op.outcome = decideOutcome(op)
	}
	return op.outcome
}

// Role returns what op.Exchanges[i] was to the operation.
func (op *Operation) Role(i int) Role {
	op.Outcome()
	return op.roles[i]
}

// Failed reports whether the operation did not reach its goal (even when a
// later run did: see Outcome.RecoveredBy).
func (op *Operation) Failed() bool { return !op.Outcome().Reached }

// bad reports whether x failed: a transport error, no response, an error
// status, or a token server's 200 without a token in it (an SSO page).
func bad(x *decode.Exchange) bool {
	r := x.Flow.Response
	if x.Flow.Err != nil || r == nil || r.Status >= 400 {
		return true
	}
	// A log's 200 to a token request does not show the body, and a body
	// the trace holds none of (a log that did not print it, a HAR saved
	// without content) may have held a token: neither is bad.
	if x.Kind == decode.KindTokenRequest && r.Status == http.StatusOK && !r.Inferred && !bodyUnseen(x) {
		tr := x.TokenResponse
		return tr == nil || tr.Token == nil && tr.AccessToken == nil
	}
	return false
}

// bodyUnseen: the answer had a body, and the trace holds none of it.
func bodyUnseen(x *decode.Exchange) bool {
	r := x.Flow.Response
	return r != nil && r.Body.Size > 0 && len(r.Body.Captured) == 0
}

// StageOf says where x sits in the chain.
func StageOf(x *decode.Exchange) Stage {
	switch {
	case x.Kind == decode.KindPing:
		return StagePing
	case x.Kind == decode.KindTokenRequest:
		return StageToken
	case x.Kind == decode.KindTunnel && x.ToRealm:
		return StageRealm
	case x.Kind == decode.KindTunnel:
		return StageTunnel
	case x.Kind == decode.KindBlobRedirect:
		return StageRedirect
	case x.Kind.IsRegistry() || x.Kind.IsV1():
		return StageRegistry
	}
	return StageOther
}

// tagSchema matches the OCI 1.1 referrers tag schema (sha256-<hex>) and the
// tags cosign and its kin derive from it (.sig, .att, .sbom): clients probe
// them and a 404 only means "none".
var tagSchema = regexp.MustCompile(`^(sha256|sha512)-[0-9a-f]{32,128}(\.[a-z]+)?$`)

// probeWhy says why a failed x is an optional probe of op, or "".
func probeWhy(op *Operation, i int, x *decode.Exchange) string {
	st := status(x)
	if x.Flow.Err != nil {
		return ""
	}
	switch {
	case x.Kind == decode.KindReferrers && (st == http.StatusNotFound || st == http.StatusMethodNotAllowed || st == http.StatusNotImplemented):
		return "the OCI 1.1 referrers API is optional: a registry without it answers 404, and clients fall back to the sha256-<digest> tag schema"
	case (x.Kind == decode.KindManifestGet || x.Kind == decode.KindManifestHead) && st == http.StatusNotFound && tagSchema.MatchString(x.Ref):
		return "a probe for signatures, attestations or referrers under the tag schema (" + x.Ref + "): 404 means there are none"
	case x.Kind == decode.KindBlobHead && st == http.StatusNotFound:
		return "a check whether the blob is already there before uploading it: 404 is the normal answer"
	case x.Kind == decode.KindManifestHead && st == http.StatusNotFound && op.later().manifestPut > i:
		return "a check whether the manifest is already there before pushing it: 404 is the normal answer"
	case x.Kind == decode.KindBlobMount && st >= 400 && after(op.later().uploadByRepo, x.Repo, i):
		return "a cross-repository mount the registry refused; the client uploaded the blob instead"
	}
	return ""
}

// retriedFlags says, for each exchange of op, whether a later exchange did
// what it failed to do: the same host and path succeeded (any method: a
// HEAD refused 401 is often retried as a GET), or, for a token request or a
// tunnel, a later one to the same place succeeded. One backward pass: an
// operation of a long log has hundreds of thousands of exchanges.
func retriedFlags(op *Operation) []bool {
	out := make([]bool, len(op.Exchanges))
	// Sized once for a long operation (a long log's single one has a path
	// per exchange); a short one's are made on first insert.
	hint := 0
	if len(op.Exchanges) > posScan {
		hint = len(op.Exchanges) / 2
	}
	pastAuth := make(map[hostPath]bool, hint) // paths a later request got past authentication on
	good := make(map[hostPath]bool, hint)     // paths a later request succeeded on
	goodHost := map[string]bool{}             // hosts a later exchange succeeded with
	goodToken, goodRegOrToken := false, false
	// A fallback to another host (a mirror's answer, then the upstream's:
	// one operation, see Group): the later host's answer is the one the
	// operation is judged on. laterReg is a registry later registry
	// requests went to, multiReg whether there were several; laterObj the
	// same per object asked for.
	laterReg, multiReg := "", false
	var laterObj map[string]string
	var multiObj map[string]bool
	// Only an operation over several registries can have fallen back: the
	// object keys cost an allocation per exchange, spared otherwise.
	hosts, first := false, ""
	for _, x := range op.Exchanges {
		if !(x.Kind.IsRegistry() || x.Kind.IsV1() || x.Kind == decode.KindTunnel && !x.ToRealm) {
			continue
		}
		if first == "" {
			first = x.Registry
		} else if x.Registry != first {
			hosts = true
			break
		}
	}
	if hosts {
		laterObj, multiObj = map[string]string{}, map[string]bool{}
	}
	fellBack := func(x *decode.Exchange) bool {
		if !hosts {
			return false
		}
		if x.Repo == "" || !(x.Kind.IsRegistry() || x.Kind.IsV1()) {
			return laterReg != "" && (multiReg || laterReg != x.Registry)
		}
		k := fallbackObject(x)
		r, ok := laterObj[k]
		return ok && (multiObj[k] || r != x.Registry)
	}
	for i := len(op.Exchanges) - 1; i >= 0; i-- {
		x := op.Exchanges[i]
		p := tokPath(x)
		host := strings.ToLower(x.Host)
		switch {
		case bad(x) && x.Kind != decode.KindPing && fellBack(x):
			out[i] = true
		// A 401 is the start of the auth handshake: once the same request
		// gets past authentication (whatever it then answers, a 404 the
		// next exchange is judged on), the 401 did its job.
		case status(x) == http.StatusUnauthorized && x.Flow.Err == nil && pastAuth[p]:
			out[i] = true
		case good[p]:
			out[i] = true
		case x.Kind == decode.KindTunnel && goodHost[host]:
			out[i] = true
		case x.Kind == decode.KindTunnel && x.ToRealm && goodToken:
			out[i] = true
		case x.Kind == decode.KindPing && goodRegOrToken:
			// The registry answered later requests: the failed ping did not
			// stop the operation.
			out[i] = true
		}
		if s := status(x); x.Flow.Err == nil && s != 0 && s != http.StatusUnauthorized && s != http.StatusForbidden {
			pastAuth[p] = true
		}
		if x.Kind.IsRegistry() && x.Kind != decode.KindPing || x.Kind.IsV1() {
			if laterReg != "" && laterReg != x.Registry {
				multiReg = true
			}
			laterReg = x.Registry
			if hosts && x.Repo != "" {
				k := fallbackObject(x)
				if r, ok := laterObj[k]; ok && r != x.Registry {
					multiObj[k] = true
				}
				laterObj[k] = x.Registry
			}
		}
		if !bad(x) {
			good[p] = true
			goodHost[host] = true
			goodToken = goodToken || x.Kind == decode.KindTokenRequest
			goodRegOrToken = goodRegOrToken || x.Kind.IsRegistry() || x.Kind == decode.KindTokenRequest
		}
	}
	return out
}

// fallbackObject names what x asked for the same way on every host of a
// fallback: a mirror's library/ and Docker Hub's implicit one match.
func fallbackObject(x *decode.Exchange) string {
	class := "other"
	switch {
	case x.Kind.IsManifest():
		class = "manifest"
	case x.Kind.IsBlob():
		class = "blob"
	}
	return class + "\x00" + strings.TrimPrefix(decode.NormalizeRepo(x.Host, x.Repo), "library/") + "\x00" + x.Ref
}

// decideOutcome classifies each exchange of op and decides the outcome.
// RecoveredBy needs the other operations: Explain sets it.
func decideOutcome(op *Operation) *Outcome {
	o := &Outcome{}
	op.roles = make([]Role, len(op.Exchanges))
	var probes []int
	retried := retriedFlags(op)
	for i, x := range op.Exchanges {
		why := ""
		if bad(x) {
			why = probeWhy(op, i, x)
		}
		switch {
		case !bad(x):
			op.roles[i] = RoleOK
		case x.Kind == decode.KindPing && status(x) == http.StatusUnauthorized && x.Flow.Err == nil:
			// The normal first step of every authenticated registry; the
			// operation stopping right after is judged below.
			op.roles[i] = RoleOK
		case why != "":
			op.roles[i] = RoleProbe
			probes = append(probes, i)
			o.Probes = append(o.Probes, Probe{X: x, Why: why})
		case retried[i]:
			op.roles[i] = RoleRetried
		default:
			op.roles[i] = RoleFailed
		}
	}
	o.Goal = goalOf(op)
	// An operation made of probes only was there for them: `oras discover`
	// on a registry without referrers still asked a question, and a blob
	// HEAD alone is `crane blob head`.
	if o.Goal == GoalLogin || o.Goal == GoalUnknown {
		if len(probes) > 0 && !hasRequired(op) {
			for _, i := range probes {
				op.roles[i] = RoleFailed
			}
			o.Probes = nil
			o.Goal = goalOfKinds(op, true)
		}
	}
	for i := len(op.Exchanges) - 1; i >= 0; i-- {
		if op.roles[i] == RoleFailed {
			o.Stop = op.Exchanges[i]
			break
		}
	}
	// A run that ends on the registry's 401 to its ping, with nothing after
	// it, stopped there: the client never asked for a token or credentials.
	if o.Stop == nil && len(op.Exchanges) > 0 {
		last := op.Exchanges[len(op.Exchanges)-1]
		if last.Kind == decode.KindPing && status(last) == http.StatusUnauthorized {
			o.Stop = last
		}
	}
	o.Reached = o.Stop == nil
	if o.Stop != nil {
		o.Stage = StageOf(o.Stop)
	}
	return o
}

func hasRequired(op *Operation) bool {
	for i, x := range op.Exchanges {
		if op.roles[i] != RoleProbe && x.Kind != decode.KindPing && x.Kind != decode.KindTokenRequest && x.Kind != decode.KindTunnel {
			return true
		}
	}
	return false
}

func goalOf(op *Operation) Goal { return goalOfKinds(op, false) }

// goalOfKinds reads the goal from the requests that are not probes (or from
// all of them, withProbes): the strongest wins, a push reads blobs and
// manifests too.
func goalOfKinds(op *Operation, withProbes bool) Goal {
	var push, del, pull, tags, catalog, refs, v1, other bool
	for i, x := range op.Exchanges {
		if op.roles[i] == RoleProbe && !withProbes {
			continue
		}
		switch k := x.Kind; {
		case k == decode.KindManifestPut || k >= decode.KindUploadStart && k <= decode.KindBlobMount:
			push = true
		case k == decode.KindManifestDelete || k == decode.KindBlobDelete:
			del = true
		case k.IsManifest() || k == decode.KindBlobGet || k == decode.KindBlobHead || k == decode.KindBlobRedirect:
			pull = true
		case k == decode.KindTagsList:
			tags = true
		case k == decode.KindCatalog:
			catalog = true
		case k == decode.KindReferrers:
			refs = true
		case k.IsV1():
			v1 = true
		case k == decode.KindOther:
			other = true
		}
	}
	switch {
	case push:
		return GoalPush
	case del:
		return GoalDelete
	case pull:
		return GoalPull
	case tags:
		return GoalTags
	case catalog:
		return GoalCatalog
	case refs:
		return GoalReferrers
	case v1:
		return GoalV1
	case other:
		return GoalUnknown
	}
	return GoalLogin
}

// reportedStops: containerd asks its hosts in turn for each request and
// reports one host's answer by its own ranking (maskingPickFor): an
// operation over several hosts stopped at that answer, not necessarily at
// the last host's.
func reportedStops(in *Input, ops []*Operation) {
	for _, op := range ops {
		o := op.Outcome()
		if o.Reached || o.Stop == nil || o.Stop.Repo == "" || op.Client.Family != "containerd" {
			continue
		}
		key := maskingRepoKey(o.Stop)
		var xs []*decode.Exchange
		multi := false
		for _, x := range op.Exchanges {
			switch {
			case x.Kind == decode.KindTunnel && !x.ToRealm && bad(x):
				xs = append(xs, x)
			case (x.Kind.IsRegistry() || x.Kind.IsV1()) && x.Repo != "" && maskingRepoKey(x) == key && x.Flow.ID <= o.Stop.Flow.ID:
				multi = multi || x.Registry != o.Stop.Registry
				xs = append(xs, x)
			}
		}
		if !multi {
			continue
		}
		pick := maskingPickFor(o.Stop)
		answers := maskingAnswers(xs, pick.sameRequest)
		if len(answers) < 2 {
			continue
		}
		rep := pick.reported(in, answers)
		i, j := op.position(rep), op.position(o.Stop)
		if rep == nil || rep == o.Stop || i < 0 || j < 0 {
			continue
		}
		op.roles[i], op.roles[j] = RoleFailed, RoleRetried
		o.Stop, o.Stage = rep, StageOf(rep)
	}
}

// recoverOutcomes links each failed operation to the first later operation
// of the same client that reached the goal it missed: on the same registry
// (a second run, after a login or a fix), or on any registry for the same
// repositories (a mirror's fallback to the upstream). One pass from the
// end, keeping the nearest later success per key: a 100,000-entry trace
// has tens of thousands of operations.
func recoverOutcomes(ops []*Operation) {
	type key struct {
		ua, where string
		goal      Goal
	}
	byReg := map[key]int{}  // registry, goal -> nearest later reached op
	anyReg := map[key]int{} // registry, any goal
	byRepo := map[key]int{} // repository (mirror-neutral), goal
	for i := len(ops) - 1; i >= 0; i-- {
		a := ops[i]
		oa := a.Outcome()
		if oa.Reached {
			ua := a.Client.UserAgent
			byReg[key{ua, a.Registry, oa.Goal}] = i
			anyReg[key{ua, a.Registry, ""}] = i
			for _, r := range a.Repos {
				byRepo[key{ua, repoTail(r), oa.Goal}] = i
			}
			continue
		}
		best := -1
		take := func(m map[key]int, k key) {
			if j, ok := m[k]; ok && (best < 0 || j < best) {
				best = j
			}
		}
		ua := a.Client.UserAgent
		goals := []Goal{oa.Goal}
		if oa.Goal == GoalPull {
			goals = append(goals, GoalPush)
		}
		switch {
		case oa.Goal == GoalLogin && len(a.Repos) == 0:
			take(anyReg, key{ua, a.Registry, ""})
		case len(a.Repos) == 0:
			for _, g := range goals {
				take(byReg, key{ua, a.Registry, g})
			}
		default:
			for _, r := range a.Repos {
				for _, g := range goals {
					take(byRepo, key{ua, repoTail(r), g})
				}
			}
		}
		if best >= 0 {
			oa.RecoveredBy = ops[best]
		}
	}
}

// repoTail drops a mirror's host prefix and Docker Hub's library/.
func repoTail(r string) string {
	if i := strings.Index(r, "/"); i > 0 && strings.ContainsAny(r[:i], ".:") {
		r = r[i+1:]
	}
	return strings.TrimPrefix(r, "library/")
}

// describeStop says in words where x stopped an operation.
func describeStop(x *decode.Exchange) string {
	f := x.Flow
	target := x.Host
	if f.Request.URL != nil && x.Kind != decode.KindTunnel {
		target = clipText(x.Host+f.Request.URL.Path, 160)
	}
	s := fmt.Sprintf("%s (%s %s %s)", f.ID, x.Kind, f.Request.Method, target)
	switch {
	case x.Kind == decode.KindTunnel:
		s += " could not be opened"
		if f.Response != nil && f.Response.Status > 0 {
			s += fmt.Sprintf(": the proxy answered the CONNECT %d", f.Response.Status)
		}
		if f.Err != nil {
			s += fmt.Sprintf(" (%s: %s)", f.Err.Kind, f.Err.Message)
		} else if t := x.Errors.Text; t != "" {
			s += fmt.Sprintf(" (%q)", t)
		}
	case f.Err != nil:
		s += fmt.Sprintf(" failed before any answer: %s (%s)", f.Err.Kind, f.Err.Message)
	case f.Response == nil:
		s += " got no response"
	default:
		s += fmt.Sprintf(" was answered %d", f.Response.Status)
		if len(x.Errors.Errors) > 0 {
			e := x.Errors.Errors[0]
			s += " " + e.Code
			if e.Message != "" {
				s += fmt.Sprintf(" %q", clipText(e.Message, 200))
			}
		} else if x.Errors.Text != "" {
			s += fmt.Sprintf(" (%s body: %q)", x.Errors.Format, clipText(x.Errors.Text, 200))
		}
		if c := x.Challenges; len(c) > 0 {
			s += fmt.Sprintf(" with a %s challenge", c[0].Scheme)
			if e := c[0].ErrorCode(); e != "" {
				s += " (error=" + e + ")"
			}
		}
	}
	return s
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
