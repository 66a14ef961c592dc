package explain

func maskingTraces() []ruleTrace { return nil }
