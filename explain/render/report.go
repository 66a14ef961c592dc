package render

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/fatih/color"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
	"github.com/regtrace/regtrace/explain"
)

// ReportOptions configure the text report.
type ReportOptions struct {
	Color bool
	// NoRedact prints text as it is (Why/Fix never hold secrets by design,
	// but registry messages and URLs are scrubbed unless this is set).
	NoRedact bool
	// Live prints findings as they come (explain.Live): no verdict line,
	// none of them is the answer yet.
	Live bool
}

func scrub(s string, off bool) string {
	if off {
		return s
	}
	return redact.Text(s)
}

// exchanges indexes a report's exchanges by flow ID.
func exchanges(rep *explain.Report) map[flow.ID]*decode.Exchange {
	m := map[flow.ID]*decode.Exchange{}
	for _, op := range rep.Operations {
		for _, x := range op.Exchanges {
			m[x.Flow.ID] = x
		}
	}
	return m
}

// Text writes the findings for a terminal: the primary answer first, then
// the others, each with why, fix, what cannot be proven and its evidence.
func Text(w io.Writer, rep *explain.Report, opts ReportOptions) error {
	bold, red, dim, yellow := color.New(color.Bold), color.New(color.FgRed, color.Bold), color.New(color.Faint), color.New(color.FgYellow)
	for _, c := range []*color.Color{bold, red, dim, yellow} {
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	xs := exchanges(rep)
	var b strings.Builder
	failed := rep.Failed()
	if !failed {
		b.WriteString(bold.Sprint("regtrace: "+endedWell(rep)) + "\n")
	}
	for i, sh := range fold(rep.Findings) {
		f := sh.f
		if i > 0 || !failed {
			b.WriteByte('\n')
		}
		head := fmt.Sprintf("%s  [%s]", f.Verdict, f.Rule)
		if f.Suspected {
			head += "  (suspected: cannot prove)"
		}
		switch {
		case f.Primary:
			fmt.Fprintf(&b, "%s %s\n", red.Sprint("WHY IT FAILED:"), red.Sprint(head))
		case !failed:
			fmt.Fprintf(&b, "%s %s\n", yellow.Sprint("note:"), bold.Sprint(head))
		default:
			fmt.Fprintf(&b, "%s %s\n", yellow.Sprint("also:"), bold.Sprint(head))
		}
		if scope := operationLabel(f); scope != "" {
			fmt.Fprintf(&b, "  %s\n", dim.Sprint(scope))
		}
		fmt.Fprintf(&b, "  %s\n", wrap(scrub(f.Why, opts.NoRedact), "  "))
		fmt.Fprintf(&b, "  %s %s\n", bold.Sprint("Fix:"), wrap(scrub(f.Fix, opts.NoRedact), "  "))
		if f.CannotProve != "" {
			fmt.Fprintf(&b, "  %s %s\n", bold.Sprint("Cannot prove:"), wrap(scrub(f.CannotProve, opts.NoRedact), "  "))
		}
		for _, id := range f.Evidence {
			fmt.Fprintf(&b, "  %s %s\n", dim.Sprint("evidence"), evidenceLine(id, xs[id], opts.NoRedact))
		}
		if len(sh.folded) > 0 {
			fmt.Fprintf(&b, "  %s\n", yellow.Sprint(foldedLine(sh.folded)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func operationLabel(f explain.Finding) string {
	var parts []string
	if f.Peer != "" {
		parts = append(parts, "["+f.Peer+"]")
	}
	if f.Client != "" {
		parts = append(parts, f.Client)
	}
	if f.Registry != "" {
		parts = append(parts, "→ "+f.Registry)
	}
	if f.Repo != "" {
		parts = append(parts, "repository "+f.Repo)
	}
	return strings.Join(parts, " ")
}

// evidenceLine is one flow in words: "#3 GET registry.test/v2/a/manifests/1 → 401".
func evidenceLine(id flow.ID, x *decode.Exchange, noRedact bool) string {
	if x == nil {
		return id.String()
	}
	f := x.Flow
	u := f.Request.URL
	if !noRedact && u != nil {
		u = redact.URL(u)
	}
	s := fmt.Sprintf("%s %s %s", id, f.Request.Method, u)
	s += " → " + statusText(f)
	if c := firstCode(x); c != "" {
		s += " " + c
	}
	if f.Origin != "" {
		s += " [" + f.Origin + "]"
	}
	return s
}

// statusText is how an exchange ended; for a flow read from a log, an
// answer the log does not show says so.
func statusText(f *flow.Flow) string {
	switch {
	case f.Err != nil:
		return string(f.Err.Kind)
	case f.Response == nil:
		return "-"
	case f.Response.Inferred && f.Response.Status == 0:
		return "? (not in the log)"
	}
	return fmt.Sprint(f.Response.Status)
}

func firstCode(x *decode.Exchange) string {
	if len(x.Errors.Errors) > 0 {
		return x.Errors.Errors[0].Code
	}
	for _, c := range x.Challenges {
		if e := c.ErrorCode(); e != "" {
			return "(" + e + ")"
		}
	}
	return ""
}

// wrap keeps long paragraphs readable: it only indents continuation lines.
func wrap(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// Markdown writes a report to paste into a support ticket: the verdict
// first, then the evidence exchanges as a table, then the fix, then any
// further findings.
func Markdown(w io.Writer, rep *explain.Report, opts ReportOptions) error {
	xs := exchanges(rep)
	var b strings.Builder
	b.WriteString("# regtrace report\n\n")
	if src := rep.Source; src != nil {
		fmt.Fprintf(&b, "Source: the %s. Not shown there: %s.\n\n", mdEscape(src.Name), mdEscape(src.Lacks))
	}
	failed := rep.Failed()
	if !failed {
		b.WriteString("## Verdict: ok\n\n")
		b.WriteString(strings.ToUpper(endedWell(rep)[:1]) + endedWell(rep)[1:] + "\n\n")
	}
	all := fold(rep.Findings)
	for i, sh := range all {
		f := sh.f
		if i == 0 && f.Primary {
			fmt.Fprintf(&b, "## Verdict: %s\n\n", f.Verdict)
		} else {
			if i == 0 && !failed {
				b.WriteString("## Notes\n\n")
			} else if i == 0 || all[i-1].f.Primary {
				b.WriteString("## Other findings\n\n")
			}
			fmt.Fprintf(&b, "### %s\n\n", f.Verdict)
		}
		fmt.Fprintf(&b, "Rule `%s`", f.Rule)
		if f.Suspected {
			b.WriteString(" (suspected: cannot prove)")
		}
		if l := operationLabel(f); l != "" {
			fmt.Fprintf(&b, " · %s", mdEscape(l))
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "%s\n\n", mdEscape(scrub(f.Why, opts.NoRedact)))
		if len(f.Evidence) > 0 {
			b.WriteString("| flow | request | status | meaning |\n| --- | --- | --- | --- |\n")
			for _, id := range f.Evidence {
				x := xs[id]
				if x == nil {
					fmt.Fprintf(&b, "| %s | | | |\n", id)
					continue
				}
				fl := x.Flow
				u := fl.Request.URL
				if !opts.NoRedact && u != nil {
					u = redact.URL(u)
				}
				st := statusText(fl)
				if fl.Origin != "" {
					st += " (" + fl.Origin + ")"
				}
				meaning := x.Kind.String()
				if c := firstCode(x); c != "" {
					meaning += " " + c
				}
				fmt.Fprintf(&b, "| %s | `%s %s` | %s | %s |\n", id, fl.Request.Method, mdCode(u.String()), st, mdEscape(meaning))
			}
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "**Fix.** %s\n\n", mdEscape(scrub(f.Fix, opts.NoRedact)))
		if f.CannotProve != "" {
			fmt.Fprintf(&b, "**What this trace cannot prove.** %s\n\n", mdEscape(scrub(f.CannotProve, opts.NoRedact)))
		}
		if len(sh.folded) > 0 {
			fmt.Fprintf(&b, "%s\n\n", mdEscape(foldedLine(sh.folded)))
		}
	}
	diagrams(&b, rep)
	if !opts.NoRedact {
		b.WriteString("---\nSecrets (passwords, tokens, cookies, signed URL parameters) were redacted by regtrace.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// endedWell says how a trace that did not fail ended.
func endedWell(rep *explain.Report) string {
	for _, op := range rep.Operations {
		if op.Outcome().RecoveredBy != nil {
			return "the trace ends well: an earlier run failed, and a later run of the same client reached its goal."
		}
	}
	if len(rep.Findings) == 0 {
		return "nothing to explain: every operation reached its goal."
	}
	return "every operation reached its goal."
}

// mdEscape keeps table cells and prose intact: pipes would split a cell.
func mdEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func mdCode(s string) string { return strings.ReplaceAll(s, "`", "'") }

// JSON field names are stable: scripts and tickets depend on them.
type jsonReport struct {
	Version int `json:"version"`
	// Failed: an operation did not reach its goal and no later run did
	// (regtrace explain exits 3).
	Failed     bool            `json:"failed"`
	Primary    *jsonFinding    `json:"primary"`
	Findings   []jsonFinding   `json:"findings"`
	Operations []jsonOperation `json:"operations"`
	// Source is set when the trace was read from a log.
	Source *jsonSource `json:"source,omitempty"`
}

type jsonSource struct {
	Name    string `json:"name"`
	Lacks   string `json:"lacks,omitempty"`
	Capture string `json:"capture,omitempty"`
}

type jsonFinding struct {
	Rule        string    `json:"rule"`
	Verdict     string    `json:"verdict"`
	Primary     bool      `json:"primary"`
	Peer        string    `json:"peer,omitempty"`
	Client      string    `json:"client,omitempty"`
	Registry    string    `json:"registry,omitempty"`
	Repo        string    `json:"repo,omitempty"`
	Evidence    []flow.ID `json:"evidence"`
	Why         string    `json:"why"`
	Fix         string    `json:"fix"`
	CannotProve string    `json:"cannotProve,omitempty"`
	// Suspected: what the trace shows points to this rule, but it lacks
	// what would prove it (a log); CannotProve says what.
	Suspected bool `json:"suspected,omitempty"`
	// Candidates: the rules an unexplained failure read from a log fits.
	Candidates []string `json:"candidates,omitempty"`
}

type jsonOperation struct {
	Peer     string    `json:"peer,omitempty"`
	Client   string    `json:"client"`
	Registry string    `json:"registry"`
	Repos    []string  `json:"repos"`
	Flows    []flow.ID `json:"flows"`
	// The outcome model (explain.Outcome).
	Goal    string `json:"goal"`
	Reached bool   `json:"reached"`
	// StoppedAt is the flow where a failed operation stopped, Stage where
	// that is in the chain; RecoveredBy the first flow of a later run that
	// reached the goal.
	StoppedAt   flow.ID   `json:"stoppedAt,omitempty"`
	Stage       string    `json:"stage,omitempty"`
	RecoveredBy flow.ID   `json:"recoveredBy,omitempty"`
	Probes      []flow.ID `json:"probes,omitempty"`
}

// findingJSON is a finding in the JSON report's shape, its texts passed
// through scrub.
func findingJSON(f explain.Finding, scrub func(string) string) jsonFinding {
	jf := jsonFinding{
		Rule: string(f.Rule), Verdict: string(f.Verdict), Primary: f.Primary,
		Peer: f.Peer, Client: f.Client, Registry: f.Registry, Repo: f.Repo, Evidence: f.Evidence,
		Why: scrub(f.Why), Fix: scrub(f.Fix), CannotProve: scrub(f.CannotProve),
		Suspected: f.Suspected,
	}
	for _, r := range f.Candidates {
		jf.Candidates = append(jf.Candidates, string(r))
	}
	if jf.Evidence == nil {
		jf.Evidence = []flow.ID{}
	}
	return jf
}

// partsMin is the fewest items worth splitting across cores (a variable:
// tests split a few).
var partsMin = 2048

// inParts runs fn over [0, n) in contiguous parts, one per core when n is
// large enough to be worth it.
func inParts(n int, fn func(lo, hi int)) {
	parts := runtime.GOMAXPROCS(0)
	if n < partsMin || parts < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(n*p/parts, n*(p+1)/parts)
		}()
	}
	wg.Wait()
}

// JSON writes the report as JSON with stable field names.
func JSON(w io.Writer, rep *explain.Report, opts ReportOptions) error {
	out := jsonReport{Version: 1, Failed: rep.Failed(), Findings: make([]jsonFinding, 0, len(rep.Findings)), Operations: make([]jsonOperation, 0, len(rep.Operations))}
	if src := rep.Source; src != nil {
		out.Source = &jsonSource{Name: src.Name, Lacks: src.Lacks, Capture: src.Capture}
	}
	// A long log's findings repeat the same texts (one fix for every
	// operation that failed alike): each part scrubs each text once, and
	// a long report's parts are scrubbed on every core.
	out.Findings = out.Findings[:len(rep.Findings)]
	inParts(len(rep.Findings), func(lo, hi int) {
		scrubbed := map[string]string{}
		scrubOnce := func(s string) string {
			if opts.NoRedact || s == "" {
				return s
			}
			r, ok := scrubbed[s]
			if !ok {
				r = redact.Text(s)
				scrubbed[s] = r
			}
			return r
		}
		for i := lo; i < hi; i++ {
			out.Findings[i] = findingJSON(rep.Findings[i], scrubOnce)
		}
	})
	for i, f := range rep.Findings {
		if f.Primary {
			p := out.Findings[i]
			out.Primary = &p
		}
	}
	for _, op := range rep.Operations {
		jo := jsonOperation{Peer: op.Peer, Client: op.Client.UserAgent, Registry: op.Registry, Repos: op.Repos, Flows: make([]flow.ID, 0, len(op.Exchanges))}
		if jo.Repos == nil {
			jo.Repos = []string{}
		}
		for _, x := range op.Exchanges {
			jo.Flows = append(jo.Flows, x.Flow.ID)
		}
		o := op.Outcome()
		jo.Goal, jo.Reached, jo.Stage = string(o.Goal), o.Reached, string(o.Stage)
		if o.Stop != nil {
			jo.StoppedAt = o.Stop.Flow.ID
		}
		if o.RecoveredBy != nil {
			jo.RecoveredBy = o.RecoveredBy.Exchanges[0].Flow.ID
		}
		for _, p := range o.Probes {
			jo.Probes = append(jo.Probes, p.X.Flow.ID)
		}
		out.Operations = append(out.Operations, jo)
	}
	jw := &jsonWriter{w: w, b: make([]byte, 0, 80<<10)}
	return jw.report(&out)
}
