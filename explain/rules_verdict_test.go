package explain

func verdictTraces() []ruleTrace { return nil }
