package logs

import "testing"

// TestRegistryCodesBare: an error code with no message (dockerd's "denied"
// for a HEAD's 403) is that code and its status; within other words it
// is not ("pull access denied" is docker's 401 text).
func TestRegistryCodesBare(t *testing.T) {
	for msg, want := range map[string]int{"denied": 403, " Denied\n": 403, "unauthorized": 401, "toomanyrequests": 429,
		"pull access denied for x, repository does not exist or may require 'docker login'": 0, "denied: requested access to the resource is denied": 403} {
		_, st, _ := registryCodes(msg)
		if st != want {
			t.Errorf("%q: status %d, want %d", msg, st, want)
		}
	}
}
