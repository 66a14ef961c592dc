package render

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
	"github.com/regtrace/regtrace/explain"
)

// maxArrows bounds a diagram: past it the rest of the operation is one
// note, so that a long pull stays readable in a ticket.
const maxArrows = 40

// maxDiagrams bounds the failed operations a report draws.
const maxDiagrams = 5

// step is one line of a sequence diagram: an arrow from the client to a
// participant (to, an alias of parts), or a note over it.
type step struct {
	to   string
	text string
	x    *decode.Exchange // the first exchange of the arrow; nil for a note
	stop bool             // the operation stopped here
	note bool
}

// sequence lays an operation out as diagram steps: one arrow per exchange,
// repeated blob requests folded with a count, at most maxArrows arrows and
// a note for the rest, the stop followed by a note naming why.
func sequence(op *explain.Operation, why string) (parts, []step) {
	ps := participants(op)
	o := op.Outcome()
	var stop *decode.Exchange
	if !o.Reached && o.RecoveredBy == nil {
		stop = o.Stop
	}
	var steps []step
	arrows := 0
	xs := op.Exchanges
	for i := 0; i < len(xs); {
		if arrows >= maxArrows {
			steps = append(steps, step{to: ps.of[xs[i].Host], note: true, text: fmt.Sprintf("%d more exchanges (the JSON report lists each)", len(xs)-i)})
			break
		}
		// Fold a repeated run of blob requests (one request, or a request
		// and its redirect target): a pull of many layers is its first
		// arrows with a count.
		period, times := repeats(xs[i:], stop)
		for _, x := range xs[i : i+period] {
			arrows++
			text := exchangeText(x)
			if times > 1 {
				text = fmt.Sprintf("%s (×%d)", text, times)
			}
			steps = append(steps, step{to: ps.of[x.Host], text: text, x: x, stop: x == stop})
			if x == stop {
				note := "stopped here"
				if why != "" {
					note += ": " + why
				}
				steps = append(steps, step{to: ps.of[x.Host], note: true, stop: true, text: note})
			}
		}
		i += period * times
	}
	return ps, steps
}

// clientAlias is the client's participant in every diagram.
const clientAlias = "C"

// Mermaid draws an operation as a Mermaid sequenceDiagram (GitHub, GitLab
// and many ticket systems render it in place): the client, each registry,
// token realm and redirect host as participants, one arrow per exchange
// (method, shortened path, status), runs of alike blob requests folded
// into one arrow with a count, tokens named by the flow that issued them
// (never by value), and the step where a failed operation stopped marked.
func Mermaid(op *explain.Operation, why string) string {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	ps, steps := sequence(op, why)
	fmt.Fprintf(&b, "    participant %s as %s\n", clientAlias, mmText(clientLabel(op.Client)))
	for _, p := range ps.order {
		fmt.Fprintf(&b, "    participant %s as %s\n", p, mmText(ps.label[p]))
	}
	for _, st := range steps {
		switch {
		case st.note:
			fmt.Fprintf(&b, "    Note over %s,%s: %s\n", clientAlias, st.to, mmText(st.text))
		case st.stop:
			fmt.Fprintf(&b, "    %s-x%s: %s\n", clientAlias, st.to, mmText(st.text))
		default:
			fmt.Fprintf(&b, "    %s->>%s: %s\n", clientAlias, st.to, mmText(st.text))
		}
	}
	return b.String()
}

// parts are a diagram's participants other than the client, by host.
type parts struct {
	order []string          // aliases in first-seen order
	of    map[string]string // host -> alias
	label map[string]string // alias -> what it is
}

func participants(op *explain.Operation) parts {
	p := parts{of: map[string]string{}, label: map[string]string{}}
	roles := map[string][]string{}
	for _, x := range op.Exchanges {
		role := "registry"
		switch {
		case x.Kind == decode.KindTokenRequest || x.ToRealm:
			role = "token realm"
		case x.Kind == decode.KindBlobRedirect:
			role = "redirect target"
		case x.Upstream != "":
			role = "mirror of " + x.Upstream
		}
		if _, ok := p.of[x.Host]; !ok {
			p.of[x.Host] = fmt.Sprintf("P%d", len(p.order)+1)
			p.order = append(p.order, p.of[x.Host])
		}
		if !slices.Contains(roles[x.Host], role) {
			roles[x.Host] = append(roles[x.Host], role)
		}
	}
	for host, alias := range p.of {
		p.label[alias] = host + " (" + strings.Join(roles[host], ", ") + ")"
	}
	return p
}

func clientLabel(c decode.Client) string {
	switch {
	case c.Program != "" && c.Version != "":
		return c.Program + " " + c.Version
	case c.Program != "":
		return c.Program
	case c.UserAgent != "":
		return c.UserAgent
	}
	return "client"
}

// repeats finds a run at the head of xs that repeats a block of one or two
// foldable exchanges (a blob request, or a request and its redirect
// target) alike; it returns the block's length and how many times it
// comes (1, 1 when nothing repeats). The stop is never folded away.
func repeats(xs []*decode.Exchange, stop *decode.Exchange) (period, times int) {
	for _, p := range []int{1, 2} {
		if len(xs) < 2*p || !slices.ContainsFunc(xs[:p], foldable) {
			continue
		}
		n := 1
		for (n+1)*p <= len(xs) {
			ok := true
			for k := range p {
				y := xs[n*p+k]
				if y == stop || !alike(xs[k], y) {
					ok = false
					break
				}
			}
			if !ok {
				break
			}
			n++
		}
		if n > 1 && !slices.Contains(xs[:p], stop) {
			return p, n
		}
	}
	return 1, 1
}

func foldable(x *decode.Exchange) bool {
	switch x.Kind {
	case decode.KindBlobGet, decode.KindBlobHead, decode.KindBlobRedirect, decode.KindUploadChunk, decode.KindBlobMount, decode.KindUploadStart, decode.KindUploadFinish:
		return true
	}
	return false
}

func alike(a, b *decode.Exchange) bool {
	return a.Kind == b.Kind && a.Host == b.Host && a.Flow.Request.Method == b.Flow.Request.Method &&
		statusText(a.Flow) == statusText(b.Flow) && firstCode(a) == firstCode(b)
}

// exchangeText is an arrow's words: method, shortened path, what it
// carried and what came back.
func exchangeText(x *decode.Exchange) string {
	f := x.Flow
	s := f.Request.Method + " " + shortPath(x)
	switch {
	case x.Kind == decode.KindTokenRequest && x.TokenRequest != nil:
		var scopes []string
		for _, sc := range x.TokenRequest.Scopes {
			scopes = append(scopes, sc.String())
		}
		if len(scopes) > 0 {
			s += " scope " + strings.Join(scopes, " ")
		}
	}
	switch {
	case x.Auth.Scheme == "":
	case strings.EqualFold(x.Auth.Scheme, "bearer") && x.TokenFrom != 0:
		s += " (Bearer from " + flowRef(x.TokenFrom) + ")"
	case strings.EqualFold(x.Auth.Scheme, "basic") && x.Auth.User != "":
		s += " (Basic " + x.Auth.User + ")"
	default:
		s += " (" + x.Auth.Scheme + ")"
	}
	s += " → " + statusText(f)
	if c := firstCode(x); c != "" {
		s += " " + c
	}
	if x.Kind == decode.KindTokenRequest && x.TokenResponse != nil && f.Response != nil && f.Response.Status == 200 {
		s += ", token " + flowRef(f.ID)
	}
	return flowRef(f.ID) + " " + s
}

// flowRef names a flow in a diagram: "#" would start a Mermaid entity.
func flowRef(id flow.ID) string { return fmt.Sprintf("[%d]", id) }

// shortPath is the request path without the query (a token request keeps
// its scopes above), digests shortened.
func shortPath(x *decode.Exchange) string {
	u := x.Flow.Request.URL
	if u == nil {
		return "?"
	}
	if x.Kind == decode.KindTunnel || x.Flow.Request.Method == "CONNECT" {
		return u.Host
	}
	p := redact.URL(&url.URL{Path: u.Path}).Path
	if p == "" {
		p = "/"
	}
	if i := strings.Index(p, "sha256:"); i >= 0 && len(p) > i+7+12 {
		p = p[:i+7+12] + "…"
	}
	if len(p) > 80 {
		p = p[:80] + "…"
	}
	return p
}

// mmText makes text safe in a Mermaid message or label: its entity codes
// stand for the characters the grammar reads ("#" starts an entity, ";"
// ends a statement, ":" separates a message, "%%" starts a comment) and a
// line break ends the statement.
func mmText(s string) string {
	r := strings.NewReplacer("#", "#35;", ";", "#59;", ":", "#58;", "%", "#37;", "\n", " ", "\r", " ", "<", "#lt;", ">", "#gt;")
	return r.Replace(s)
}

// diagrams writes each failed operation of rep (at most maxDiagrams) as a
// Mermaid block, the step it stopped at marked with the rule that explains
// it.
func diagrams(b *strings.Builder, rep *explain.Report) {
	ops := failedOps(rep)
	if len(ops) == 0 {
		return
	}
	b.WriteString("## " + stepByStep(len(ops)) + "\n\n")
	for i, op := range ops {
		if i == maxDiagrams {
			fmt.Fprintf(b, "%d more failed operations are not drawn; the JSON report lists them.\n\n", len(ops)-i)
			break
		}
		fmt.Fprintf(b, "### %s\n\n```mermaid\n%s```\n\n", mdEscape(opLabel(op)), Mermaid(op, ruleFor(rep, op)))
	}
}

// failedOps are the operations of rep that did not reach their goal (and
// that no later run recovered).
func failedOps(rep *explain.Report) []*explain.Operation {
	var failed []*explain.Operation
	for _, op := range rep.Operations {
		if o := op.Outcome(); !o.Reached && o.RecoveredBy == nil && len(op.Exchanges) > 0 {
			failed = append(failed, op)
		}
	}
	return failed
}

func stepByStep(n int) string {
	if n == 1 {
		return "The failed operation, step by step"
	}
	return "The failed operations, step by step"
}

// opLabel names an operation: its client, registry, repositories, peer.
func opLabel(op *explain.Operation) string {
	label := clientLabel(op.Client) + " → " + op.Registry
	if len(op.Repos) > 0 {
		label += " repository " + strings.Join(op.Repos, ", ")
	}
	if op.Peer != "" {
		label = "[" + op.Peer + "] " + label
	}
	return label
}

// ruleFor is the rule that explains where op stopped: the primary finding
// when its evidence is op's, else the first finding that is.
func ruleFor(rep *explain.Report, op *explain.Operation) string {
	in := map[flow.ID]bool{}
	for _, x := range op.Exchanges {
		in[x.Flow.ID] = true
	}
	best := ""
	for _, f := range rep.Findings {
		for _, id := range f.Evidence {
			if !in[id] {
				continue
			}
			if f.Primary {
				return string(f.Rule)
			}
			if best == "" {
				best = string(f.Rule)
			}
			break
		}
	}
	return best
}
