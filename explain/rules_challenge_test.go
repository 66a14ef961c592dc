package explain

func challengeTraces() []ruleTrace { return nil }
