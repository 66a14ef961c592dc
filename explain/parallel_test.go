package explain

import (
	"reflect"
	"testing"
)

// TestParallelRulesAgree: a long trace's operation rules run on several
// cores; every rule trace must explain alike either way (run with -race,
// it also catches a rule that builds shared state on first use).
func TestParallelRulesAgree(t *testing.T) {
	defer func(m, p, o int) { parallelMin, parallelParts, byOpsMin = m, p, o }(parallelMin, parallelParts, byOpsMin)
	multi := 0
	// Every trace's flows in one, and again as read from a log: many
	// operations on the same hosts, which the rules look across.
	all := ruleTrace{name: "every trace in one"}
	for _, tr := range allTraces() {
		if tr.source == nil {
			all.flows = append(all.flows, tr.flows...)
		}
	}
	logged := all
	logged.name, logged.source = "every trace in one, from a log", &Source{Name: "a log", Capture: "regtrace run -- skopeo inspect docker://registry.test/team/app:1.0"}
	for _, tr := range append(allTraces(), all, logged) {
		parallelMin = 1 << 30
		want := Explain(tr.input())
		if len(want.Operations) > 1 {
			multi++
		}
		// Rule by rule, each rule's operations in parts; and operation by
		// operation, every rule on each.
		for _, o := range []int{1 << 30, 1} {
			parallelMin, parallelParts, byOpsMin = 1, 3, o
			got := Explain(tr.input())
			if !reflect.DeepEqual(got.Findings, want.Findings) {
				t.Errorf("%s (byOpsMin %d): on several cores\n%+v\none core\n%+v", tr.name, o, got.Findings, want.Findings)
			}
		}
	}
	// Only a trace of several operations runs rules on several goroutines.
	if multi < 8 {
		t.Errorf("only %d traces have several operations", multi)
	}
}
