package decode

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseChallenges checks the properties of the WWW-Authenticate parser
// on any input: no panic; the strict and lenient forms agree (an error iff
// Issues, the same challenges, the error being the first Issue); every
// challenge is well formed and its String re-parses to an equal challenge;
// values are parsed independently; a clean value followed by a broken
// parameter (empty, or an unterminated quoted-string) keeps every challenge
// and parameter it had, and the break is an Issue.
func FuzzParseChallenges(f *testing.F) {
	for _, tt := range challengeTests {
		for _, v := range tt.in {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, issues := ParseChallenges(v)
		strict, err := ParseChallenge(v)
		if (err != nil) != (len(issues) > 0) {
			t.Fatalf("ParseChallenge(%q) error = %v, but ParseChallenges gave issues %q", v, err, issueWhats(issues))
		}
		if !challengesEqual(got, strict) {
			t.Fatalf("ParseChallenge(%q) = %s, ParseChallenges = %s, want the same", v, showChallenges(strict), showChallenges(got))
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != "WWW-Authenticate" || pe.Offset < 0 || pe.Offset > len(v) || pe.Input != clip(v) {
				t.Fatalf("ParseChallenge(%q) error = %#v, want a *ParseError for WWW-Authenticate with an offset in the input", v, err)
			}
			if want := "at byte "; !strings.HasPrefix(issues[0].What, want) || !strings.Contains(issues[0].What, pe.Err.Error()) {
				t.Fatalf("ParseChallenge(%q) error = %v, first issue %q, want the same problem", v, err, issues[0].What)
			}
		}
		if len(issues) > maxChallengeIssues {
			t.Fatalf("ParseChallenges(%q) gave %d issues, want at most %d", v, len(issues), maxChallengeIssues)
		}
		for _, c := range got {
			if c.Scheme == "" || c.Token68 != "" && len(c.Params) > 0 {
				t.Fatalf("ParseChallenges(%q) gave %s: want a scheme, and a token68 or parameters but not both", v, showChallenges([]Challenge{c}))
			}
			s := c.String()
			again, _ := ParseChallenges(s)
			if len(again) != 1 || !challengeEqual(again[0], c) {
				t.Fatalf("ParseChallenges(%q) = %s; its String %q re-parses to %s", v, showChallenges([]Challenge{c}), s, showChallenges(again))
			}
		}
		if len(issues) == 0 {
			for _, broken := range []string{`,zz=`, `,zz="no closing quote`, `,zz="\\\`} {
				cut, cutIssues := ParseChallenges(v + broken)
				if !challengesEqual(cut, got) || len(cutIssues) == 0 {
					t.Fatalf("ParseChallenges(%q) = %s, %q; want %s, what %q alone gives, and an Issue", v+broken, showChallenges(cut), issueWhats(cutIssues), showChallenges(got), v)
				}
			}
		}
		twice, twiceIssues := ParseChallenges(v, v)
		if len(twice) != 2*len(got) || !challengesEqual(twice[:len(got)], got) || !challengesEqual(twice[len(got):], got) || len(twiceIssues) != 2*len(issues) {
			t.Fatalf("ParseChallenges(%q, %q) = %s, want the challenges of one value twice", v, v, showChallenges(twice))
		}
	})
}
