package explain

func tokenTraces() []ruleTrace { return nil }
