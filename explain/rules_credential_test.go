package explain

func credentialTraces() []ruleTrace { return nil }
