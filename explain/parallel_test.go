package explain

import (
	"reflect"
	"testing"
)

// TestParallelRulesAgree: a long trace's operation rules run on several
// cores; every rule trace must explain alike either way (run with -race,
// it also catches a rule that builds shared state on first use).
func TestParallelRulesAgree(t *testing.T) {
	defer func(m, p int) { parallelMin, parallelParts = m, p }(parallelMin, parallelParts)
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
		parallelMin, parallelParts = 1, 3
		got := Explain(tr.input())
		if len(want.Operations) > 1 {
			multi++
		}
		if !reflect.DeepEqual(got.Findings, want.Findings) {
			t.Errorf("%s: on several cores\n%+v\none core\n%+v", tr.name, got.Findings, want.Findings)
		}
	}
	// Only a trace of several operations runs rules on several goroutines.
	if multi < 8 {
		t.Errorf("only %d traces have several operations", multi)
	}
}
