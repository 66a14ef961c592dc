package logs

import (
	"strings"
	"testing"
)

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

// TestRegistryCodesMessages: the message read back is the registry's own,
// as distribution writes it ("code: message"), whatever wraps it.
func TestRegistryCodesMessages(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want map[string]string // code -> message
	}{
		{"reading manifest 1.0 in r.test/a: unauthorized: authentication required", map[string]string{"UNAUTHORIZED": "authentication required"}},
		{"errors:\ndenied: requested access to the resource is denied\nunauthorized: authentication required\n",
			map[string]string{"DENIED": "requested access to the resource is denied", "UNAUTHORIZED": "authentication required"}},
		{"toomanyrequests: You have reached your pull rate limit. See https://x.test/limit", map[string]string{"TOOMANYREQUESTS": "You have reached your pull rate limit. See https://x.test/limit"}},
		{"not found (denied: requested access to the resource is denied)", map[string]string{"DENIED": "requested access to the resource is denied"}},
		{`err="ErrImagePull: \"unauthorized: incorrect username or password\""`, map[string]string{"UNAUTHORIZED": "incorrect username or password"}},
		{`denied: Permission "artifactregistry.repositories.downloadArtifacts" denied (or it may not exist)`,
			map[string]string{"DENIED": `Permission "artifactregistry.repositories.downloadArtifacts" denied (or it may not exist)`}},
		{"İmage pull: unauthorized: Bad Token", map[string]string{"UNAUTHORIZED": "bad token"}},
		{"Unauthorized: Bad Token", map[string]string{"UNAUTHORIZED": "Bad Token"}},
		{"unauthorized: ", map[string]string{"UNAUTHORIZED": ""}},
		{`failed: "denied: it's private"`, map[string]string{"DENIED": "it's private"}},
		{`failed: 'denied: see "docs"'`, map[string]string{"DENIED": `see "docs"`}},
		{"failed [denied: no access [policy]]", map[string]string{"DENIED": "no access [policy]"}},
		{"manifest unknown: manifest unknown", map[string]string{"MANIFEST_UNKNOWN": "manifest unknown"}},
		{"pull failed: rate limit exceeded", map[string]string{"TOOMANYREQUESTS": "rate limit"}},
	} {
		errs, _, _ := registryCodes(c.msg)
		got := map[string]string{}
		for _, e := range errs {
			got[e["code"]] = e["message"]
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: codes %v, want %v", c.msg, got, c.want)
			continue
		}
		for code, m := range c.want {
			if got[code] != m {
				t.Errorf("%q: %s message %q, want %q", c.msg, code, got[code], m)
			}
		}
	}
}

// FuzzRegistryCodes: a message read back is one of the words clients print
// or text of the error itself, never a panic.
func FuzzRegistryCodes(f *testing.F) {
	for _, s := range []string{"unauthorized: authentication required", "errors:\ndenied: x\nunauthorized: y\n", "İİ denied: x)", `"denied: \"a\""`, "toomanyrequests: slow"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		errs, _, _ := registryCodes(msg)
		lower := strings.ToLower(msg)
		for _, e := range errs {
			m := e["message"]
			if !strings.Contains(msg, m) && !strings.Contains(lower, m) {
				t.Fatalf("%q: message %q is not in the error", msg, m)
			}
		}
	})
}
