package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/diff"
)

// namedSide is one side of a comparison and the letter it goes by.
type namedSide struct {
	name string
	sum  diff.Summary
}

func diffSides(r *diff.Result) []namedSide { return []namedSide{{"A", r.A}, {"B", r.B}} }

// verdictSides are the verdicts to show, named as a possessive: each
// side's, or one for both when both failed the same way.
func verdictSides(r *diff.Result) []namedSide {
	if r.Same && r.A.Failed && r.B.Failed {
		return []namedSide{{"Both runs'", r.A}}
	}
	return []namedSide{{"A's", r.A}, {"B's", r.B}}
}

// diffHeadline is a comparison's answer in one line.
func diffHeadline(r *diff.Result) string {
	switch {
	case r.Same && r.First == nil:
		return "both runs reached the same outcome, the same way in registry terms."
	case r.Same:
		return "both runs reached the same outcome, by different paths."
	}
	return "the runs diverge."
}

func divergenceLabel(d *diff.Divergence) string {
	w := d.Step + " (" + d.What + ")"
	if d.Registry != "" {
		w += " · " + d.Registry
		if d.Repo != "" {
			w += " repository " + d.Repo
		}
	}
	return w
}

// diffEvidence lists a divergence's flows on each side.
func diffEvidence(r *diff.Result, d *diff.Divergence, noRedact bool, line func(side, text string)) {
	for _, s := range []struct {
		name string
		ids  []flow.ID
		rep  *explain.Report
	}{{"A", d.A, r.A.Report}, {"B", d.B, r.B.Report}} {
		if len(s.ids) == 0 {
			continue
		}
		xs := exchanges(s.rep)
		for _, id := range s.ids {
			line(s.name, evidenceLine(id, xs[id], noRedact))
		}
	}
}

// DiffText writes a comparison for a terminal: the answer, each side, the
// first divergence with its evidence, what followed, each side's verdict.
func DiffText(w io.Writer, r *diff.Result, opts ReportOptions) error {
	bold, red, dim, yellow := color.New(color.Bold), color.New(color.FgRed, color.Bold), color.New(color.Faint), color.New(color.FgYellow)
	for _, c := range []*color.Color{bold, red, dim, yellow} {
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	sc := func(s string) string { return scrub(s, opts.NoRedact) }
	var b strings.Builder
	head := bold
	if !r.Same {
		head = red
	}
	b.WriteString(head.Sprint("regtrace diff: "+diffHeadline(r)) + "\n")
	fmt.Fprintf(&b, "  A  %s\n  B  %s\n", sc(r.A.Run()+": "+r.A.Outcome()), sc(r.B.Run()+": "+r.B.Outcome()))
	if d := r.First; d != nil {
		title := "FIRST DIVERGENCE:"
		if r.Same {
			title = "FIRST DIFFERENCE:"
		}
		fmt.Fprintf(&b, "\n%s %s\n", head.Sprint(title), bold.Sprint(sc(divergenceLabel(d))))
		fmt.Fprintf(&b, "  %s\n", wrap(sc(d.Text), "  "))
		diffEvidence(r, d, opts.NoRedact, func(side, text string) {
			fmt.Fprintf(&b, "  %s %s\n", dim.Sprint("evidence "+side), text)
		})
	}
	if len(r.Then) > 0 {
		fmt.Fprintf(&b, "\n%s\n", bold.Sprint("Then:"))
		for _, d := range r.Then {
			fmt.Fprintf(&b, "  - %s: %s\n", d.Step, wrap(sc(d.Text), "    "))
		}
	}
	for _, s := range verdictSides(r) {
		p := s.sum.Primary
		if p == nil || !s.sum.Failed {
			continue
		}
		fmt.Fprintf(&b, "\n%s %s  [%s]\n", yellow.Sprint(s.name+" verdict:"), bold.Sprint(string(p.Verdict)), p.Rule)
		fmt.Fprintf(&b, "  %s\n", wrap(sc(p.Why), "  "))
		fmt.Fprintf(&b, "  %s %s\n", bold.Sprint("Fix:"), wrap(sc(p.Fix), "  "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n%s %s\n", yellow.Sprint("note:"), wrap(sc(n), "  "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DiffMarkdown writes a comparison for a ticket.
func DiffMarkdown(w io.Writer, r *diff.Result, opts ReportOptions) error {
	sc := func(s string) string { return mdEscape(scrub(s, opts.NoRedact)) }
	var b strings.Builder
	b.WriteString("# regtrace diff\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", capitalize(diffHeadline(r)))
	b.WriteString("| side | run | outcome |\n| --- | --- | --- |\n")
	for _, s := range diffSides(r) {
		run := s.sum.Run()
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.name, sc(run), sc(s.sum.Outcome()))
	}
	b.WriteByte('\n')
	if d := r.First; d != nil {
		title := "First divergence"
		if r.Same {
			title = "First difference"
		}
		fmt.Fprintf(&b, "## %s: %s\n\n%s\n\n", title, sc(divergenceLabel(d)), sc(d.Text))
		var rows []string
		diffEvidence(r, d, opts.NoRedact, func(side, text string) {
			rows = append(rows, fmt.Sprintf("| %s | `%s` |", side, mdCode(text)))
		})
		if len(rows) > 0 {
			b.WriteString("| side | evidence |\n| --- | --- |\n" + strings.Join(rows, "\n") + "\n\n")
		}
	}
	if len(r.Then) > 0 {
		b.WriteString("## Then\n\n")
		for _, d := range r.Then {
			fmt.Fprintf(&b, "- **%s**: %s\n", sc(d.Step), sc(d.Text))
		}
		b.WriteByte('\n')
	}
	for _, s := range verdictSides(r) {
		p := s.sum.Primary
		if p == nil || !s.sum.Failed {
			continue
		}
		fmt.Fprintf(&b, "## %s verdict: %s\n\nRule `%s`\n\n%s\n\n**Fix.** %s\n\n", s.name, p.Verdict, p.Rule, sc(p.Why), sc(p.Fix))
		if ops := failedOps(s.sum.Report); len(ops) > 0 {
			fmt.Fprintf(&b, "```mermaid\n%s```\n\n", Mermaid(ops[0], ruleFor(s.sum.Report, ops[0])))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> %s\n\n", sc(n))
	}
	if !opts.NoRedact {
		b.WriteString("---\nSecrets (passwords, tokens, cookies, signed URL parameters) were redacted by regtrace.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON field names are stable, like the explain report's.
type jsonDiff struct {
	Version int              `json:"version"`
	Same    bool             `json:"same"`
	A       jsonDiffSide     `json:"a"`
	B       jsonDiffSide     `json:"b"`
	First   *jsonDivergence  `json:"first"`
	Then    []jsonDivergence `json:"then"`
	Notes   []string         `json:"notes"`
}

type jsonDiffSide struct {
	Name    string       `json:"name"`
	Clients []string     `json:"clients"`
	Source  string       `json:"source,omitempty"`
	Failed  bool         `json:"failed"`
	Primary *jsonFinding `json:"primary"`
	Stop    string       `json:"stop,omitempty"`
	// StoppedAt is the flow where the side's first failed operation stopped.
	StoppedAt flow.ID `json:"stoppedAt,omitempty"`
}

type jsonDivergence struct {
	Registry string    `json:"registry,omitempty"`
	Repo     string    `json:"repo,omitempty"`
	Step     string    `json:"step"`
	What     string    `json:"what"`
	Text     string    `json:"text"`
	A        []flow.ID `json:"a"`
	B        []flow.ID `json:"b"`
}

// DiffJSON writes a comparison as JSON.
func DiffJSON(w io.Writer, r *diff.Result, opts ReportOptions) error {
	sc := func(s string) string { return scrub(s, opts.NoRedact) }
	side := func(s diff.Summary) jsonDiffSide {
		js := jsonDiffSide{Name: s.Name, Clients: s.Clients, Source: s.Source, Failed: s.Failed, Stop: sc(s.Stop), StoppedAt: s.StopFlow}
		if js.Clients == nil {
			js.Clients = []string{}
		}
		if s.Primary != nil {
			f := findingJSON(*s.Primary, sc)
			js.Primary = &f
		}
		return js
	}
	div := func(d diff.Divergence) jsonDivergence {
		jd := jsonDivergence{Registry: d.Registry, Repo: d.Repo, Step: d.Step, What: d.What, Text: sc(d.Text), A: d.A, B: d.B}
		if jd.A == nil {
			jd.A = []flow.ID{}
		}
		if jd.B == nil {
			jd.B = []flow.ID{}
		}
		return jd
	}
	out := jsonDiff{Version: 1, Same: r.Same, A: side(r.A), B: side(r.B), Then: []jsonDivergence{}, Notes: []string{}}
	if r.First != nil {
		d := div(*r.First)
		out.First = &d
	}
	for _, d := range r.Then {
		out.Then = append(out.Then, div(d))
	}
	for _, n := range r.Notes {
		out.Notes = append(out.Notes, sc(n))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// DiffHTML writes a comparison as one self-contained page, styled like
// the HTML report, with both sides' failed operations drawn.
func DiffHTML(w io.Writer, r *diff.Result, opts ReportOptions) error {
	sc := func(s string) string { return esc(scrub(s, opts.NoRedact)) }
	var b strings.Builder
	pageStart(&b, "regtrace diff: "+diffHeadline(r), "regtrace diff")
	b.WriteString("</header>\n<main>\n")
	cls := "ok"
	if !r.Same {
		cls = "failed"
	}
	fmt.Fprintf(&b, "<section class=\"verdict %s\">\n<h2>%s</h2>\n<table class=\"evidence\"><thead><tr><th>side</th><th>run</th><th>outcome</th></tr></thead><tbody>\n", cls, esc(capitalize(diffHeadline(r))))
	for _, s := range diffSides(r) {
		run := s.sum.Run()
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", s.name, sc(run), sc(s.sum.Outcome()))
	}
	b.WriteString("</tbody></table>\n")
	if d := r.First; d != nil {
		title := "First divergence"
		if r.Same {
			title = "First difference"
		}
		fmt.Fprintf(&b, "<h3>%s: %s</h3>\n<p class=\"why\">%s</p>\n", title, sc(divergenceLabel(d)), sc(d.Text))
		var rows strings.Builder
		diffEvidence(r, d, opts.NoRedact, func(side, text string) {
			fmt.Fprintf(&rows, "<tr><td>%s</td><td><code>%s</code></td></tr>\n", side, esc(text))
		})
		if rows.Len() > 0 {
			b.WriteString("<table class=\"evidence\"><thead><tr><th>side</th><th>evidence</th></tr></thead><tbody>\n" + rows.String() + "</tbody></table>\n")
		}
	}
	b.WriteString("</section>\n")
	if len(r.Then) > 0 {
		b.WriteString("<section class=\"findings\">\n<h2>Then</h2>\n<ul>\n")
		for _, d := range r.Then {
			fmt.Fprintf(&b, "<li><strong>%s</strong>: %s</li>\n", esc(d.Step), sc(d.Text))
		}
		b.WriteString("</ul>\n</section>\n")
	}
	for i, s := range verdictSides(r) {
		p := s.sum.Primary
		if p == nil || !s.sum.Failed {
			continue
		}
		fmt.Fprintf(&b, "<section class=\"findings\">\n<h2>%s verdict: %s</h2>\n", s.name, esc(string(p.Verdict)))
		finding(&b, *p, exchanges(s.sum.Report), opts)
		if ops := failedOps(s.sum.Report); len(ops) > 0 {
			fmt.Fprintf(&b, "<figure>\n<figcaption>%s</figcaption>\n", esc(opLabel(ops[0])))
			svgSequence(&b, ops[0], ruleFor(s.sum.Report, ops[0]), i+1) // i+1: marker ids stay unique in the page
			b.WriteString("</figure>\n")
		}
		b.WriteString("</section>\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "<p class=\"source\">%s</p>\n", sc(n))
	}
	pageEnd(&b, opts)
	_, err := io.WriteString(w, b.String())
	return err
}
