package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/explain"
)

// Probe is what `regtrace probe` found, in the renderers' own terms (the
// probe package is the caller's: render does not import it).
type Probe struct {
	Image string `json:"image"`
	// Credential names the credential tried (key and store, never the
	// secret); empty when there was none.
	Credential string `json:"credential,omitempty"`
	// Code is the stable result code, Exit the probe's exit status.
	Code       string `json:"code"`
	Exit       int    `json:"exit"`
	Conclusion string `json:"conclusion"`
	Fix        string `json:"fix"`
	// Notes are what the credential lookup noticed (near misses, a helper
	// missing from PATH).
	Notes []string    `json:"notes,omitempty"`
	Steps []ProbeStep `json:"steps"`
}

// ProbeStep is one request of the walk.
type ProbeStep struct {
	Phase  string    `json:"phase"`
	Name   string    `json:"name"`
	What   string    `json:"request"`
	Flows  []flow.ID `json:"flows"`
	Status int       `json:"status"`
	Says   string    `json:"says"`
}

// ProbeText writes the probe's walk, its conclusion, then explain's
// findings about the same exchanges.
func ProbeText(w io.Writer, p *Probe, rep *explain.Report, opts ReportOptions) error {
	bold, dim, verdict := color.New(color.Bold), color.New(color.Faint), color.New(color.FgGreen, color.Bold)
	if p.Exit != 0 {
		verdict = color.New(color.FgRed, color.Bold)
	}
	for _, c := range []*color.Color{bold, dim, verdict} {
		if opts.Color {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", bold.Sprint("probe"), p.Image)
	if p.Credential != "" {
		fmt.Fprintf(&b, "  %s %s\n", dim.Sprint("credential:"), p.Credential)
	} else {
		fmt.Fprintf(&b, "  %s none found: anonymous only\n", dim.Sprint("credential:"))
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  %s %s\n", dim.Sprint("note:"), scrub(n, opts.NoRedact))
	}
	phase := ""
	for _, s := range p.Steps {
		if s.Phase != phase {
			phase = s.Phase
			fmt.Fprintf(&b, "%s\n", bold.Sprint(phase+":"))
		}
		fmt.Fprintf(&b, "  %-18s %s %s\n", s.Name, dim.Sprint(flowList(s.Flows)), scrub(s.What, opts.NoRedact))
		fmt.Fprintf(&b, "  %-18s %s\n", "", scrub(s.Says, opts.NoRedact))
	}
	fmt.Fprintf(&b, "\n%s %s\n", verdict.Sprint(p.Code+":"), wrap(scrub(p.Conclusion, opts.NoRedact), "  "))
	fmt.Fprintf(&b, "  %s %s\n", bold.Sprint("Fix:"), scrub(p.Fix, opts.NoRedact))
	if len(rep.Findings) > 0 {
		fmt.Fprintf(&b, "\n%s\n", bold.Sprint("What regtrace explain says about these exchanges:"))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(rep.Findings) == 0 {
		return nil
	}
	return Text(w, rep, opts)
}

func flowList(ids []flow.ID) string {
	var s []string
	for _, id := range ids {
		s = append(s, id.String())
	}
	return strings.Join(s, ",")
}

// ProbeMarkdown writes the probe for a ticket: the conclusion and its fix,
// the steps as a table, then the explain report.
func ProbeMarkdown(w io.Writer, p *Probe, rep *explain.Report, opts ReportOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# regtrace probe of `%s`\n\n", p.Image)
	fmt.Fprintf(&b, "**%s** (exit %d): %s\n\n", p.Code, p.Exit, mdEscape(scrub(p.Conclusion, opts.NoRedact)))
	fmt.Fprintf(&b, "**Fix:** %s\n\n", mdEscape(scrub(p.Fix, opts.NoRedact)))
	if p.Credential != "" {
		fmt.Fprintf(&b, "Credential: %s.\n\n", mdEscape(p.Credential))
	} else {
		b.WriteString("Credential: none found; the probe was anonymous only.\n\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "- %s\n", mdEscape(scrub(n, opts.NoRedact)))
	}
	if len(p.Notes) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("| phase | step | flow | request | answer |\n| --- | --- | --- | --- | --- |\n")
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s |\n", s.Phase, s.Name, flowList(s.Flows),
			strings.ReplaceAll(scrub(s.What, opts.NoRedact), "`", "'"), mdEscape(scrub(s.Says, opts.NoRedact)))
	}
	b.WriteString("\n")
	// One title per document: explain's report becomes a section.
	var r strings.Builder
	if err := Markdown(&r, rep, opts); err != nil {
		return err
	}
	b.WriteString("## What regtrace explain says about these exchanges\n")
	b.WriteString(strings.TrimPrefix(r.String(), "# regtrace report\n"))
	_, err := io.WriteString(w, b.String())
	return err
}

// ProbeJSON writes the explain report's JSON with the probe beside its
// fields: scripts read one shape from explain, logs and the probe.
func ProbeJSON(w io.Writer, p *Probe, rep *explain.Report, opts ReportOptions) error {
	q := *p
	if !opts.NoRedact {
		q.Conclusion, q.Fix = scrub(q.Conclusion, false), scrub(q.Fix, false)
		q.Notes = append([]string(nil), p.Notes...)
		for i := range q.Notes {
			q.Notes[i] = scrub(q.Notes[i], false)
		}
		q.Steps = append([]ProbeStep(nil), p.Steps...)
		for i := range q.Steps {
			q.Steps[i].What, q.Steps[i].Says = scrub(q.Steps[i].What, false), scrub(q.Steps[i].Says, false)
		}
	}
	if q.Steps == nil {
		q.Steps = []ProbeStep{}
	}
	raw, err := json.MarshalIndent(&q, "  ", "  ")
	if err != nil {
		return err
	}
	var sb strings.Builder
	if err := JSON(&sb, rep, opts); err != nil {
		return err
	}
	out := strings.TrimRight(sb.String(), "\n")
	if !strings.HasSuffix(out, "}") {
		return fmt.Errorf("render: the report is not a JSON object")
	}
	_, err = fmt.Fprintf(w, "%s,\n  \"probe\": %s\n}\n", strings.TrimSuffix(strings.TrimRight(out[:len(out)-1], "\n "), ""), raw)
	return err
}

// CodeDoc documents one probe result code.
type CodeDoc struct {
	Code  string `json:"code"`
	Exit  int    `json:"exit"`
	Means string `json:"means"`
	Fix   string `json:"fix"`
}

// ProbeCodes writes the probe's result codes: text, markdown (CODES.md) or
// JSON.
func ProbeCodes(w io.Writer, docs []CodeDoc, format string) error {
	var b strings.Builder
	switch format {
	case "json":
		raw, err := json.MarshalIndent(docs, "", "  ")
		if err != nil {
			return err
		}
		b.Write(raw)
		b.WriteByte('\n')
	case "markdown":
		b.WriteString("# regtrace probe result codes\n\n")
		b.WriteString("Generated from proxy/probe/codes.go (`regtrace probe --codes --format markdown`). A code never changes meaning once released.\n\n")
		b.WriteString("| code | exit | means | fix |\n| --- | --- | --- | --- |\n")
		for _, d := range docs {
			fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", d.Code, d.Exit, mdEscape(d.Means), mdEscape(d.Fix))
		}
	default:
		for _, d := range docs {
			fmt.Fprintf(&b, "%s (exit %d)\n  %s\n  Fix: %s\n", d.Code, d.Exit, d.Means, d.Fix)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
