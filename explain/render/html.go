package render

import (
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
	"github.com/regtrace/regtrace/explain"
)

// maxHTMLExchanges bounds the exchanges a page lists: a report is read,
// not searched (the JSON report has them all).
const maxHTMLExchanges = 2000

// HTML writes the report as one self-contained page to attach to a ticket:
// no script, font, stylesheet or image from anywhere (a Content-Security-
// Policy says so to the browser too), readable printed and in dark mode.
// The verdict and fix come first, then each failed operation drawn as a
// sequence diagram (inline SVG, drawn here: no Mermaid runtime), the
// evidence, the other findings, and every exchange, expandable to what it
// meant and its headers (redacted unless opts.NoRedact).
func HTML(w io.Writer, rep *explain.Report, opts ReportOptions) error {
	var b strings.Builder
	failed := rep.Failed()
	title := "regtrace report: ok"
	if p := rep.Primary(); p != nil && failed {
		title = "regtrace report: " + string(p.Verdict)
	}
	pageStart(&b, title, "regtrace report")
	if src := rep.Source; src != nil {
		fmt.Fprintf(&b, "<p class=\"source\">Source: the %s. Not shown there: %s.</p>\n", esc(src.Name), esc(src.Lacks))
	}
	b.WriteString("</header>\n<main>\n")
	xs := exchanges(rep)
	all := fold(rep.Findings)
	rest := all
	switch {
	case !failed:
		fmt.Fprintf(&b, "<section class=\"verdict ok\"><h2>Verdict: ok</h2><p>%s</p></section>\n", esc(capitalize(endedWell(rep))))
	case len(all) > 0 && all[0].f.Primary:
		sh := all[0]
		fmt.Fprintf(&b, "<section class=\"verdict failed\">\n<h2>Verdict: %s</h2>\n", esc(string(sh.f.Verdict)))
		finding(&b, sh.f, xs, opts)
		if len(sh.folded) > 0 {
			fmt.Fprintf(&b, "<p class=\"folded\">%s</p>\n", esc(foldedLine(sh.folded)))
		}
		b.WriteString("</section>\n")
		rest = all[1:]
	}
	diagramsHTML(&b, rep)
	if len(rest) > 0 {
		title := "Other findings"
		if !failed {
			title = "Notes"
		}
		fmt.Fprintf(&b, "<section class=\"findings\">\n<h2>%s</h2>\n", title)
		for _, sh := range rest {
			fmt.Fprintf(&b, "<h3>%s</h3>\n", esc(string(sh.f.Verdict)))
			finding(&b, sh.f, xs, opts)
			if len(sh.folded) > 0 {
				fmt.Fprintf(&b, "<p class=\"folded\">%s</p>\n", esc(foldedLine(sh.folded)))
			}
		}
		b.WriteString("</section>\n")
	}
	exchangesHTML(&b, rep, opts)
	pageEnd(&b, opts)
	_, err := io.WriteString(w, b.String())
	return err
}

// pageStart opens a self-contained page: nothing to fetch (a Content-
// Security-Policy says so to the browser too), light and dark schemes,
// and the header left open for what the page adds to it.
func pageStart(b *strings.Builder, title, heading string) {
	b.WriteString(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="color-scheme" content="light dark">
<title>` + esc(title) + `</title>
<style>` + htmlStyle + `</style>
</head>
<body>
<header><h1>` + esc(heading) + `</h1>
`)
}

// pageEnd closes the main part and the page, saying whether secrets were
// redacted.
func pageEnd(b *strings.Builder, opts ReportOptions) {
	b.WriteString("</main>\n<footer>")
	if !opts.NoRedact {
		b.WriteString("Secrets (passwords, tokens, cookies, signed URL parameters) were redacted by regtrace.")
	} else {
		b.WriteString("<strong>Not redacted:</strong> this page may hold passwords and tokens.")
	}
	b.WriteString("</footer>\n</body>\n</html>\n")
}

func esc(s string) string { return html.EscapeString(s) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// finding writes one finding: rule, scope, why, its evidence, fix and
// what the trace cannot prove.
func finding(b *strings.Builder, f explain.Finding, xs map[flow.ID]*decode.Exchange, opts ReportOptions) {
	fmt.Fprintf(b, "<p class=\"rule\">Rule <code>%s</code>", esc(string(f.Rule)))
	if f.Suspected {
		b.WriteString(" (suspected: cannot prove)")
	}
	if l := operationLabel(f); l != "" {
		fmt.Fprintf(b, " · %s", esc(l))
	}
	b.WriteString("</p>\n")
	fmt.Fprintf(b, "<p class=\"why\">%s</p>\n", esc(scrub(f.Why, opts.NoRedact)))
	fmt.Fprintf(b, "<p class=\"fix\"><strong>Fix.</strong> %s</p>\n", esc(scrub(f.Fix, opts.NoRedact)))
	if f.CannotProve != "" {
		fmt.Fprintf(b, "<p class=\"cannot\"><strong>What this trace cannot prove.</strong> %s</p>\n", esc(scrub(f.CannotProve, opts.NoRedact)))
	}
	if len(f.Evidence) == 0 {
		return
	}
	b.WriteString("<table class=\"evidence\"><thead><tr><th>flow</th><th>request</th><th>status</th><th>meaning</th></tr></thead><tbody>\n")
	for _, id := range f.Evidence {
		x := xs[id]
		if x == nil {
			fmt.Fprintf(b, "<tr><td><a href=\"#flow-%d\">%s</a></td><td></td><td></td><td></td></tr>\n", id, esc(id.String()))
			continue
		}
		meaning := x.Kind.String()
		if c := firstCode(x); c != "" {
			meaning += " " + c
		}
		fmt.Fprintf(b, "<tr><td><a href=\"#flow-%d\">%s</a></td><td><code>%s %s</code></td><td>%s</td><td>%s</td></tr>\n",
			id, esc(id.String()), esc(x.Flow.Request.Method), esc(urlText(x, opts)), esc(statusText(x.Flow)), esc(meaning))
	}
	b.WriteString("</tbody></table>\n")
}

func urlText(x *decode.Exchange, opts ReportOptions) string {
	u := x.Flow.Request.URL
	if u == nil {
		return ""
	}
	if !opts.NoRedact {
		u = redact.URL(u)
	}
	return u.String()
}

// diagramsHTML draws each failed operation as an inline SVG sequence
// diagram, with its Mermaid text beside it to paste elsewhere.
func diagramsHTML(b *strings.Builder, rep *explain.Report) {
	ops := failedOps(rep)
	if len(ops) == 0 {
		return
	}
	b.WriteString("<section class=\"diagrams\">\n<h2>" + esc(stepByStep(len(ops))) + "</h2>\n")
	for i, op := range ops {
		if i == maxDiagrams {
			fmt.Fprintf(b, "<p>%d more failed operations are not drawn; the JSON report lists them.</p>\n", len(ops)-i)
			break
		}
		why := ruleFor(rep, op)
		fmt.Fprintf(b, "<figure>\n<figcaption>%s</figcaption>\n", esc(opLabel(op)))
		svgSequence(b, op, why, i)
		fmt.Fprintf(b, "<details class=\"mermaid-src\"><summary>As Mermaid text</summary><pre>%s</pre></details>\n</figure>\n", esc(Mermaid(op, why)))
	}
	b.WriteString("</section>\n")
}

// svgSequence draws a sequence diagram: the client and each participant
// as a column with its lifeline, one row per step.
func svgSequence(b *strings.Builder, op *explain.Operation, why string, n int) {
	ps, steps := sequence(op, why)
	const colW, left, top, rowH = 250, 110, 70, 34
	cols := append([]string{clientAlias}, ps.order...)
	col := map[string]int{}
	for i, c := range cols {
		col[c] = i
	}
	label := func(c string) string {
		if c == clientAlias {
			return clientLabel(op.Client)
		}
		return ps.label[c]
	}
	width := left*2 + colW*(len(cols)-1)
	height := top + rowH*(len(steps)+1)
	fmt.Fprintf(b, "<svg class=\"seq\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n", width, height, width, height)
	fmt.Fprintf(b, "<title>%s</title>\n", esc(opLabel(op)))
	fmt.Fprintf(b, "<defs><marker id=\"a%d\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"head\"/></marker>"+
		"<marker id=\"x%d\" viewBox=\"0 0 10 10\" refX=\"5\" refY=\"5\" markerWidth=\"10\" markerHeight=\"10\"><path d=\"M1,1 L9,9 M9,1 L1,9\" class=\"cross\"/></marker></defs>\n", n, n)
	for i, c := range cols {
		x := left + colW*i
		fmt.Fprintf(b, "<line class=\"life\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", x, top-10, x, height-10)
		fmt.Fprintf(b, "<rect class=\"who\" x=\"%d\" y=\"10\" width=\"%d\" height=\"40\" rx=\"6\"/><text class=\"who\" x=\"%d\" y=\"35\" text-anchor=\"middle\">%s</text>\n",
			x-colW/2+10, colW-20, x, esc(clip(label(c), 34)))
	}
	for r, st := range steps {
		y := top + rowH*(r+1)
		x1, x2 := left, left+colW*col[st.to]
		if st.note {
			lo, hi := min(x1, x2)-90, max(x1, x2)+90
			cls := "note"
			if st.stop {
				cls = "note stop"
			}
			fmt.Fprintf(b, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"24\" rx=\"4\"/><text class=\"%s\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
				cls, lo, y-17, hi-lo, cls, (lo+hi)/2, y, esc(clip(st.text, (hi-lo)/7)))
			continue
		}
		cls, marker := "msg", fmt.Sprintf("a%d", n)
		if st.stop {
			cls, marker = "msg stop", fmt.Sprintf("x%d", n)
		}
		if x1 == x2 {
			x2 = x1 + 60 // a request to itself: a short loop
		}
		room := max(abs(x2-x1), colW) / 6
		fmt.Fprintf(b, "<g class=\"%s\"><title>%s</title><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" marker-end=\"url(#%s)\"/><text x=\"%d\" y=\"%d\">%s</text></g>\n",
			cls, esc(st.text), x1, y, x2, y, marker, x1+6, y-6, esc(clip(st.text, room)))
	}
	b.WriteString("</svg>\n")
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func clip(s string, n int) string {
	r := []rune(s)
	if n < 4 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// exchangesHTML lists every exchange, each expandable to its meaning and
// headers.
func exchangesHTML(b *strings.Builder, rep *explain.Report, opts ReportOptions) {
	var all []*decode.Exchange
	for _, op := range rep.Operations {
		all = append(all, op.Exchanges...)
	}
	if len(all) == 0 {
		return
	}
	slices.SortFunc(all, func(a, c *decode.Exchange) int { return int(a.Flow.ID) - int(c.Flow.ID) })
	con := NewConsole(io.Discard, ConsoleOptions{NoRedact: opts.NoRedact})
	fmt.Fprintf(b, "<section class=\"exchanges\">\n<h2>Every exchange (%d)</h2>\n", len(all))
	for i, x := range all {
		if i == maxHTMLExchanges {
			fmt.Fprintf(b, "<p>%d more exchanges are not listed; the JSON report or `regtrace explain --flow N` shows each.</p>\n", len(all)-i)
			break
		}
		f := x.Flow
		fmt.Fprintf(b, "<details id=\"flow-%d\"><summary><code>%s %s %s</code> → %s <span class=\"kind\">%s</span></summary>\n",
			f.ID, esc(f.ID.String()), esc(f.Request.Method), esc(urlText(x, opts)), esc(statusText(f)), esc(x.Kind.String()))
		fmt.Fprintf(b, "<p class=\"meaning\">%s</p>\n", esc(scrub(con.meaning(x), opts.NoRedact)))
		if f.Origin != "" {
			fmt.Fprintf(b, "<p class=\"origin\">From the log, %s.</p>\n", esc(f.Origin))
		}
		headersHTML(b, "Request headers", f.Request.Header, opts)
		if f.Response != nil {
			headersHTML(b, "Response headers", f.Response.Header, opts)
		}
		if f.Err != nil {
			fmt.Fprintf(b, "<p class=\"err\">%s: %s</p>\n", esc(string(f.Err.Kind)), esc(scrub(f.Err.Message, opts.NoRedact)))
		}
		b.WriteString("</details>\n")
	}
	b.WriteString("</section>\n")
}

func headersHTML(b *strings.Builder, title string, h http.Header, opts ReportOptions) {
	if len(h) == 0 {
		return
	}
	if !opts.NoRedact {
		h = redact.Headers(h)
	}
	fmt.Fprintf(b, "<table class=\"headers\"><caption>%s</caption><tbody>\n", esc(title))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			fmt.Fprintf(b, "<tr><th>%s</th><td>%s</td></tr>\n", esc(k), esc(v))
		}
	}
	b.WriteString("</tbody></table>\n")
}

// htmlStyle is the page's only style: system fonts, light and dark
// schemes, and a print layout with every exchange laid open.
const htmlStyle = `
:root { --fg: #1d2125; --muted: #5b636b; --bg: #ffffff; --panel: #f4f6f8; --line: #c9d1d9; --bad: #b42318; --badbg: #fdecea; --ok: #146c2e; --okbg: #e7f5ec; --accent: #0b5cad; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ec; --muted: #a3acb5; --bg: #14171a; --panel: #1f2428; --line: #3b434b; --bad: #ff8a80; --badbg: #3a1d1b; --ok: #7ee2a0; --okbg: #17301f; --accent: #7cb8ff; }
}
body { margin: 0 auto; max-width: 78rem; padding: 1.5rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.25rem; margin-top: 0; } h3 { font-size: 1.05rem; }
code, pre { font: 0.9em/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.source, .rule, .cannot, footer, .kind, .origin { color: var(--muted); }
section { margin: 1.25rem 0; padding: 1rem 1.25rem; border: 1px solid var(--line); border-radius: 8px; background: var(--panel); }
.verdict.failed { border-left: 6px solid var(--bad); background: var(--badbg); }
.verdict.ok { border-left: 6px solid var(--ok); background: var(--okbg); }
.verdict.failed h2 { color: var(--bad); } .verdict.ok h2 { color: var(--ok); }
.fix { font-weight: 500; } .folded { font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
a { color: var(--accent); }
figure { margin: 0 0 1rem 0; overflow-x: auto; } figcaption { font-weight: 600; margin-bottom: 0.5rem; }
svg.seq { font: 12px system-ui, sans-serif; max-width: none; }
svg.seq .life { stroke: var(--line); stroke-dasharray: 4 4; }
svg.seq rect.who { fill: var(--bg); stroke: var(--fg); } svg.seq text { fill: var(--fg); } svg.seq text.who { font-weight: 600; }
svg.seq .msg line { stroke: var(--fg); stroke-width: 1.3; } svg.seq .head { fill: var(--fg); }
svg.seq .msg.stop line { stroke: var(--bad); stroke-width: 2.2; } svg.seq .msg.stop text { fill: var(--bad); font-weight: 600; }
svg.seq .cross { stroke: var(--bad); stroke-width: 2; fill: none; }
svg.seq rect.note { fill: var(--panel); stroke: var(--line); } svg.seq rect.note.stop { fill: var(--badbg); stroke: var(--bad); } svg.seq text.note.stop { fill: var(--bad); font-weight: 600; }
details { margin: 0.25rem 0; } summary { cursor: pointer; overflow-wrap: anywhere; }
.err { color: var(--bad); }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; } section { break-inside: avoid; }
  details { display: block; } details > summary { list-style: none; } details:not([open]) > :not(summary) { display: block; }
  .mermaid-src { display: none; }
}
`
