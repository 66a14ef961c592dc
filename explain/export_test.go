package explain

// TraceForTest exposes the rule traces to the external test package, which
// renders each one (render imports explain, so it cannot be tested here).
type TraceForTest struct {
	Name string
	In   Input
}

func TracesForTest() []TraceForTest {
	var out []TraceForTest
	for _, tr := range allTraces() {
		out = append(out, TraceForTest{Name: tr.name, In: tr.input()})
	}
	return out
}
