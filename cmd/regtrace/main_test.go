package main

import (
	"os"
	"testing"
)

// asMainEnv makes the test binary behave as the regtrace command, so e2e
// tests can run it as a program (in the sandbox, as a parent of a client)
// without a separate build.
const asMainEnv = "REGTRACE_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Unsetenv(asMainEnv) // not for the children
		main()
		return
	}
	os.Exit(m.Run())
}
