package explain

import "fmt"

// Live explains a trace while it grows, for a console: each Update returns
// a report with only the findings no earlier Update returned. None is
// primary: "why it failed" is the final report's to say. An operation still
// under way looks stopped during a pause, so where it stopped
// (unexplained-failure) also waits for the final report.
type Live struct {
	seen map[string]bool
}

// Update explains in and keeps the findings not seen before.
func (l *Live) Update(in Input) *Report {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	rep := Explain(in)
	fresh := rep.Findings[:0:0]
	for _, f := range rep.Findings {
		if f.Rule == RuleUnexplainedFailure {
			continue
		}
		key := fmt.Sprint(f.Rule, f.Peer, f.Registry, f.Repo, f.Evidence)
		if l.seen[key] {
			continue
		}
		l.seen[key] = true
		f.Primary = false
		fresh = append(fresh, f)
	}
	rep.Findings = fresh
	return rep
}
