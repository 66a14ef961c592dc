// Package diff compares two explained runs of the same job ("it works with
// docker and fails with skopeo", "it worked yesterday") and names the first
// point where they part in registry terms — a different scope asked of the
// realm, credentials one side never sent, a V1 fallback, a token expired
// before its request — then what followed from it, and each side's verdict.
//
// Operations are paired by registry and repository (then by goal and order,
// so a pull of nginx pairs with one of library/nginx), and within a pair
// steps are aligned by what they are for, not by position: the ping, the
// token requests, each manifest by reference, each blob by digest (its
// redirect target with it), uploads, the V1 fallback. Retries inside a step
// are not differences: a step is compared by its last attempt. A fact one
// side cannot show (a log has no Authorization header, no token claims) is
// never called a difference.
//
// diff imports explain, decode and decode/flow only.
package diff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/explain"
)

// Side is one run: what was read and explain's report of it.
type Side struct {
	// Name says what was read (a file name); the report calls the sides A
	// and B and names them once.
	Name   string
	Report *explain.Report
}

// Result is what Compare found.
type Result struct {
	A, B Summary
	// Same is true when both runs reached the same outcome: both reached
	// their goals, or both failed with the same primary rule (or a log's
	// unexplained failure that lists the other side's rule as one it fits).
	Same bool
	// First is the first divergence, nil when the runs did the same thing
	// in registry terms.
	First *Divergence
	// Then are the later differences, in the order of the job: mostly what
	// followed from First.
	Then []Divergence
	// Notes say what could not be compared and why.
	Notes []string
}

// Summary is one side's outcome.
type Summary struct {
	Name string
	// Clients are the clients seen ("skopeo 1.13.3"), Source the kind of
	// log when the side was read from one.
	Clients []string
	Source  string
	Failed  bool
	// Primary is the report's primary finding, nil when there is none.
	Primary *explain.Finding
	// Stop says where the first failed operation stopped, in words.
	Stop     string
	StopFlow flow.ID
	Report   *explain.Report
}

// Divergence is one difference between the runs.
type Divergence struct {
	// Registry and Repo name the operation (A's, or B's when only B had it).
	Registry, Repo string
	// Step is what the step was for: "ping", "token", "manifest 1.0",
	// "blob sha256:…", "upload", "V1", "image", "operation", "outcome".
	Step string
	// What is the fact that differs: "repository", "registry",
	// "credentials", "scopes", "grant", "status", "expiry", "transport",
	// "challenge", "missing", "outcome".
	What string
	// Text says it in registry terms, both sides.
	Text string
	// A and B are the flows that show it on each side.
	A, B []flow.ID
}

// maxThen bounds what is listed after the first divergence.
const maxThen = 12

// Compare compares two runs.
func Compare(a, b Side) *Result {
	r := &Result{A: summarize(a), B: summarize(b)}
	r.Same = sameOutcome(r.A, r.B)
	c := comparer{a: a, b: b, hideA: hidesAuth(a.Report), hideB: hidesAuth(b.Report)}
	var all []Divergence
	var minor []Divergence
	for _, p := range pairOps(a.Report.Operations, b.Report.Operations) {
		maj, mnr := c.pair(p)
		all = append(all, maj...)
		minor = append(minor, mnr...)
	}
	if len(all) == 0 && len(minor) > 0 && !r.Same {
		// Only steps one side made and the other did not: the first of
		// them is where they parted.
		all, minor = minor[:1], minor[1:]
	}
	if len(all) == 0 && !r.Same {
		all = append(all, outcomeDivergence(r.A, r.B))
	}
	if len(all) > 0 {
		r.First = &all[0]
		rest := append(all[1:], minor...)
		if len(rest) > maxThen {
			rest = rest[:maxThen]
		}
		r.Then = rest
	}
	for _, s := range []Summary{r.A, r.B} {
		if s.Report.Source != nil {
			note := fmt.Sprintf("%s is a %s", s.Name, s.Report.Source.Name)
			if s.Report.Source.Lacks != "" {
				note += ": it does not show " + s.Report.Source.Lacks + ", so those are not compared"
			}
			r.Notes = append(r.Notes, note+".")
		}
	}
	return r
}

func hidesAuth(rep *explain.Report) bool { return rep.Source != nil && rep.Source.HidesAuth }

func summarize(s Side) Summary {
	sum := Summary{Name: s.Name, Failed: s.Report.Failed(), Report: s.Report}
	if s.Report.Source != nil {
		sum.Source = s.Report.Source.Name
	}
	if p := s.Report.Primary(); p != nil {
		f := *p
		sum.Primary = &f
	}
	for _, op := range s.Report.Operations {
		// The name the findings give the client; a log may name none.
		if name := explain.ClientName(op.Client); (op.Client.UserAgent != "" || op.Client.Program != "") && !slices.Contains(sum.Clients, name) {
			sum.Clients = append(sum.Clients, name)
		}
		if sum.Stop == "" && op.Failed() && op.Outcome().RecoveredBy == nil {
			if x := op.Outcome().Stop; x != nil {
				sum.Stop = exchangeWords(x) + " → " + answer(x)
				sum.StopFlow = x.Flow.ID
			}
		}
	}
	return sum
}

// sameOutcome: both reached their goals, or both failed the same way.
func sameOutcome(a, b Summary) bool {
	if a.Failed != b.Failed {
		return false
	}
	if !a.Failed {
		return true
	}
	if (a.Primary == nil) != (b.Primary == nil) {
		return false
	}
	return a.Primary == nil || a.Primary.Rule == b.Primary.Rule || fits(a.Primary, b.Primary) || fits(b.Primary, a.Primary)
}

// fits: f is a log's unexplained failure that lists g's rule among what it
// fits; the log cannot tell them apart, so it is no other outcome.
func fits(f, g *explain.Finding) bool {
	return f.Rule == explain.RuleUnexplainedFailure && slices.Contains(f.Candidates, g.Rule)
}

func outcomeDivergence(a, b Summary) Divergence {
	d := Divergence{Step: "outcome", What: "outcome"}
	d.Text = "the traffic shows no difference in registry terms, but the outcomes differ: A " + a.Outcome() + "; B " + b.Outcome()
	if a.StopFlow != 0 {
		d.A = []flow.ID{a.StopFlow}
	}
	if b.StopFlow != 0 {
		d.B = []flow.ID{b.StopFlow}
	}
	return d
}

// Outcome is how a side ended, in a few words.
func (s Summary) Outcome() string {
	switch {
	case !s.Failed:
		return "reached its goal"
	case s.Primary == nil:
		return "failed"
	}
	w := "failed: " + string(s.Primary.Verdict) + " [" + string(s.Primary.Rule) + "]"
	if s.Primary.Suspected {
		w += " (suspected: cannot prove)"
	}
	if s.Stop != "" {
		w += ", stopped at " + s.Stop
	}
	return w
}

// Run names what a side read and the clients it shows (or the kind of log).
func (s Summary) Run() string {
	switch {
	case len(s.Clients) > 0:
		return s.Name + " (" + strings.Join(s.Clients, ", ") + ")"
	case s.Source != "":
		return s.Name + " (" + s.Source + ")"
	}
	return s.Name
}

// opPair is two operations taken as the same job; one may be nil.
type opPair struct{ a, b *explain.Operation }

// pairOps pairs operations: same registry and repository and goal, then
// same registry and repository, then same repository, then same goal in
// order. What is left stands alone.
func pairOps(as, bs []*explain.Operation) []opPair {
	usedB := make([]bool, len(bs))
	pairOf := make([]int, len(as))
	for i := range pairOf {
		pairOf[i] = -1
	}
	passes := []func(a, b *explain.Operation) bool{
		func(a, b *explain.Operation) bool {
			return a.Registry == b.Registry && firstRepo(a) == firstRepo(b) && a.Outcome().Goal == b.Outcome().Goal
		},
		func(a, b *explain.Operation) bool { return a.Registry == b.Registry && firstRepo(a) == firstRepo(b) },
		func(a, b *explain.Operation) bool { return firstRepo(a) != "" && firstRepo(a) == firstRepo(b) },
		func(a, b *explain.Operation) bool {
			return a.Outcome().Goal == b.Outcome().Goal && (a.Registry == b.Registry || firstRepo(a) != "" && firstRepo(b) != "")
		},
		// A run that never got past the connection has no goal of its own.
		func(a, b *explain.Operation) bool { return a.Registry == b.Registry },
	}
	for _, match := range passes {
		for i, a := range as {
			if pairOf[i] >= 0 {
				continue
			}
			for j, b := range bs {
				if !usedB[j] && match(a, b) {
					pairOf[i], usedB[j] = j, true
					break
				}
			}
		}
	}
	var ps []opPair
	for i, a := range as {
		p := opPair{a: a}
		if pairOf[i] >= 0 {
			p.b = bs[pairOf[i]]
		}
		ps = append(ps, p)
	}
	for j, b := range bs {
		if !usedB[j] {
			ps = append(ps, opPair{b: b})
		}
	}
	return ps
}

func firstRepo(op *explain.Operation) string {
	if len(op.Repos) == 0 {
		return ""
	}
	return op.Repos[0]
}

func opName(op *explain.Operation) string {
	if r := firstRepo(op); r != "" {
		return op.Registry + "/" + r
	}
	return op.Registry
}

type comparer struct {
	a, b         Side
	hideA, hideB bool
}

// pair compares two paired operations: major differences (a fact both
// sides show, and it differs) and minor ones (a step only one side made).
func (c *comparer) pair(p opPair) (major, minor []Divergence) {
	switch {
	case p.a == nil:
		return []Divergence{alone(p.b, "B", "A")}, nil
	case p.b == nil:
		return []Divergence{alone(p.a, "A", "B")}, nil
	}
	reg, repo := p.a.Registry, firstRepo(p.a)
	at := func(d Divergence) Divergence { d.Registry, d.Repo = reg, repo; return d }
	if firstRepo(p.a) != firstRepo(p.b) && firstRepo(p.a) != "" && firstRepo(p.b) != "" {
		major = append(major, at(Divergence{Step: "image", What: "repository", A: firstIDs(p.a), B: firstIDs(p.b),
			Text: fmt.Sprintf("A asked %s for repository %s; B asked %s for %s", p.a.Registry, quote(firstRepo(p.a)), p.b.Registry, quote(firstRepo(p.b)))}))
	} else if p.a.Registry != p.b.Registry {
		major = append(major, at(Divergence{Step: "image", What: "registry", A: firstIDs(p.a), B: firstIDs(p.b),
			Text: fmt.Sprintf("A pulled %s from %s; B from %s", quote(repo), p.a.Registry, p.b.Registry)}))
	}
	withRepo := len(p.a.Repos) > 1 || len(p.b.Repos) > 1
	sa, sb := steps(p.a, withRepo), steps(p.b, withRepo)
	for _, k := range stepOrder(sa, sb) {
		xa, xb := sa.byKey[k], sb.byKey[k]
		var ds []Divergence
		isMajor := true
		switch {
		case xa == nil || xb == nil:
			d, maj, ok := c.missing(xa, xb, p)
			if !ok {
				continue
			}
			ds, isMajor = []Divergence{d}, maj
		default:
			ds = c.compareStep(xa, xb)
		}
		for _, d := range ds {
			if isMajor {
				major = append(major, at(d))
			} else {
				minor = append(minor, at(d))
			}
		}
	}
	return major, minor
}

func firstIDs(op *explain.Operation) []flow.ID {
	for _, x := range op.Exchanges {
		if x.Repo != "" {
			return []flow.ID{x.Flow.ID}
		}
	}
	if len(op.Exchanges) > 0 {
		return []flow.ID{op.Exchanges[0].Flow.ID}
	}
	return nil
}

// alone is an operation only one side made.
func alone(op *explain.Operation, side, other string) Divergence {
	d := Divergence{Registry: op.Registry, Repo: firstRepo(op), Step: "operation", What: "missing"}
	ids := firstIDs(op)
	state := "and reached its goal"
	if op.Failed() {
		state = "and it failed"
		if x := op.Outcome().Stop; x != nil {
			state = "and it stopped at " + exchangeWords(x) + " → " + answer(x)
			ids = []flow.ID{x.Flow.ID}
		}
	}
	d.Text = fmt.Sprintf("only %s made a %s of %s (%s), %s; %s has nothing like it", side, op.Outcome().Goal, opName(op), explain.ClientName(op.Client), state, other)
	if side == "A" {
		d.A = ids
	} else {
		d.B = ids
	}
	return d
}

func quote(s string) string { return "`" + s + "`" }
