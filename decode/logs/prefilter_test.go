package logs

import (
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// orasQuotedRE is the pattern orasUnquote reads by hand.
var orasQuotedRE = regexp.MustCompile(`^[<>] [A-Za-z ]+: ("(?:[^"\\]|\\.)*")$`)

func orasUnquoteRE(l string) string {
	m := orasQuotedRE.FindStringSubmatch(l)
	if m == nil {
		return ""
	}
	s, err := strconv.Unquote(m[1])
	if err != nil {
		return ""
	}
	return s
}

var prefilterSeeds = []string{
	"", "<", "< ", "> Request URL: \"https://r.test/v2/\"", "< Response Status: \"401 Unauthorized\"",
	"> Request method: \"get\"", "> : \"x\"", ">  : \"x\"", "> A:\"x\"", "> A: \"x", "> A: \"a\\\"\"",
	"> A: \"a\\\"", "> A: \"a\"b\"", "> A: \"\\x41\\u00e9\"", "> A: \"\xff\"", "> A: `x`", "> A1: \"x\"",
	"[2024-01-02T03:04:05Z] x", "2024-01-02 03:04:05,123 x", "[2024-01-02 03:04:05]", "2024/01/02 03:04:05 x",
	"[12345-", "1234-", "[1234", "١٢٣٤-01-02 03:04:05 x",
	"Error initializing source docker://quay.io/a/b:1: x", "initializing source DOCKER://a: b", "initializing source doc\u212aer://a: b",
	"initializing source https://a: b docker://c: d", "ker://a", "://", "docker:/", "x docker://", "initializing source docker://a:b",
}

// orasUnquote answers as the regexp it replaces; pasteMaybe holds
// wherever pastePrefix matches.
func FuzzPrefilters(f *testing.F) {
	for _, s := range prefilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := orasUnquote(s), orasUnquoteRE(s); got != want {
			t.Errorf("orasUnquote(%q) = %q, regexp %q", s, got, want)
		}
		if pastePrefix.MatchString(s) && !pasteMaybe(s) {
			t.Errorf("pasteMaybe(%q) false, pastePrefix matches", s)
		}
		if got, want := ciSourceOf(s), ciSource.FindStringSubmatch(s); !slices.Equal(got, want) {
			t.Errorf("ciSourceOf(%q) = %q, ciSource %q", s, got, want)
		}
		if ggcrReqLine.MatchString(s) && !containsHTTP(s) {
			t.Errorf("ggcrReqLine matches %q without \" HTTP/\"", s)
		}
	})
}

func containsHTTP(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == " HTTP/" {
			return true
		}
	}
	return false
}
