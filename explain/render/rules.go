package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/regtrace/regtrace/explain"
)

// RulesMarkdown writes the rules reference (explain/RULES.md is this
// output): what each rule means, what the trace shows, what clients say,
// the fix and what such a trace cannot prove.
func RulesMarkdown(w io.Writer, docs []explain.RuleDoc) error {
	var b strings.Builder
	b.WriteString("# regtrace rules\n\n")
	b.WriteString("<!-- Generated from explain/ruledocs.go by `go test ./explain -run TestRulesReference -update`: edit that file, not this one. -->\n\n")
	b.WriteString("Every finding names one of these rules. Rule IDs are stable: they appear in HAR files, reports and tickets. ")
	b.WriteString("Rules run in this order; the first rule that explains a failure is the primary answer, and notes ride beside it. ")
	b.WriteString("`regtrace explain --rules` prints this list.\n\n")
	b.WriteString("| rule | what it says | kind |\n| --- | --- | --- |\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", d.ID, d.ID, mdEscape(d.Title), ruleKind(d))
	}
	b.WriteByte('\n')
	for _, d := range docs {
		fmt.Fprintf(&b, "## %s\n\n", d.ID)
		fmt.Fprintf(&b, "**%s**\n\n", mdEscape(d.Title))
		var vs []string
		for _, v := range d.Verdicts {
			vs = append(vs, "`"+string(v)+"`")
		}
		fmt.Fprintf(&b, "Verdict: %s · %s", strings.Join(vs, ", "), ruleKind(d))
		if d.Catalog > 0 {
			fmt.Fprintf(&b, " · catalog entry %d", d.Catalog)
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "**What the trace shows.** %s\n\n", mdEscape(d.Signature))
		if d.ClientsSay != "" {
			fmt.Fprintf(&b, "**What clients say.** %s\n\n", mdEscape(d.ClientsSay))
		}
		fmt.Fprintf(&b, "**Fix.** %s\n\n", mdEscape(d.Fix))
		if d.CannotProve != "" {
			fmt.Fprintf(&b, "**What such a trace cannot prove.** %s\n\n", mdEscape(d.CannotProve))
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func ruleKind(d explain.RuleDoc) string {
	if d.Explains {
		return "answers why it failed"
	}
	return "note"
}

// RulesText writes the rules for a terminal: ID, title, then the fix.
func RulesText(w io.Writer, docs []explain.RuleDoc) error {
	var b strings.Builder
	for i, d := range docs {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s  (%s)\n  %s\n  Fix: %s\n", d.ID, ruleKind(d), d.Title, d.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RulesJSON writes the rules with stable field names.
func RulesJSON(w io.Writer, docs []explain.RuleDoc) error {
	type jsonRule struct {
		Rule        string   `json:"rule"`
		Title       string   `json:"title"`
		Explains    bool     `json:"explains"`
		Verdicts    []string `json:"verdicts"`
		Catalog     int      `json:"catalog,omitempty"`
		Signature   string   `json:"signature"`
		ClientsSay  string   `json:"clientsSay,omitempty"`
		Fix         string   `json:"fix"`
		CannotProve string   `json:"cannotProve,omitempty"`
	}
	out := []jsonRule{}
	for _, d := range docs {
		j := jsonRule{Rule: string(d.ID), Title: d.Title, Explains: d.Explains, Catalog: d.Catalog, Signature: d.Signature,
			ClientsSay: d.ClientsSay, Fix: d.Fix, CannotProve: d.CannotProve, Verdicts: []string{}}
		for _, v := range d.Verdicts {
			j.Verdicts = append(j.Verdicts, string(v))
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"version": 1, "rules": out})
}
