package logs

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Matchers written out for speed answer as the regexp they replace: the
// regexp is kept here as the oracle.
var kEventStartRE = regexp.MustCompile(`(?:^|\s)(?:Normal|Warning)\s+[A-Z][A-Za-z]+\b|\bevent for \S+: \{|^[IWEF]\d{4} \d{2}:\d{2}:\d{2}`)

var kEventStartCases = []string{
	"", "Normal", "Normal ", "Normal Pulled", "  Warning  Failed  1m", "Warning\tF", "Warning\tFa", "Warning\tFa1", "Warning\tFa_x", "Warning\tFa-x",
	"xNormal Pulled", "a\vNormal Pulled", "a\fNormal\rPulled", "NormalPulled", "Normal  pulled", "Normal  PULLED", "NormalNormal Pulled",
	"Normal Normal Pulled", "x Normal  Warning  Failed", "event for pod: {kubelet node} Failed", "event for : {", "event for a: {",
	"event for a:b: {", "xevent for a: {", " event for a:  {", "event for a :{", "-event for a: {", "_event for a: {", "event for event for a: {",
	"event for a\t: {", "event for a: {", "I1204 10:00:00.1 1 a.go:1] x", "I1204 10:00:0", "X1204 10:00:00", "I12a4 10:00:00", "E0101 00:00:00",
	"F0101 00:00:00", "W9999 99:99:99", " I1204 10:00:00", "I1204  10:00:00", "I1204 10:00:00 Normal Pulled",
}

func TestKEventStartAnswersAsItsRegexp(t *testing.T) {
	agreeWithRegexp(t, kEventStartRE, kEventStart, kEventStartCases)
}

func FuzzKEventStart(f *testing.F) {
	for _, c := range kEventStartCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := kEventStart(s), kEventStartRE.MatchString(s); got != want {
			t.Fatalf("kEventStart(%q) = %v, its regexp says %v", s, got, want)
		}
	})
}

// agreeWithRegexp checks match against re on the cases, on every line of
// every log fixture, and on every prefix and suffix of each case.
func agreeWithRegexp(t *testing.T, re *regexp.Regexp, match func(string) bool, cases []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	if err != nil || len(files) < 50 {
		t.Fatalf("fixtures: %v (%d)", err, len(files))
	}
	in := append([]string(nil), cases...)
	for _, c := range cases {
		for i := range len(c) {
			in = append(in, c[:i], c[i:])
		}
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, strings.Split(string(b), "\n")...)
	}
	matched := 0
	for _, s := range in {
		got, want := match(s), re.MatchString(s)
		if got != want {
			t.Errorf("%q: written out says %v, the regexp %v", s, got, want)
		}
		if want {
			matched++
		}
	}
	if matched == 0 || matched == len(in) {
		t.Fatalf("the regexp matched %d of %d inputs: the comparison shows nothing", matched, len(in))
	}
}

// The events reader's runtime errors, as regexps: kmatch.go writes them
// out.
var kPatternREs = map[finder]*regexp.Regexp{
	kUnpack:    regexp.MustCompile(`^failed to pull and unpack image "([^"]+)": `),
	kResolve:   regexp.MustCompile(`^failed to resolve (?:reference "([^"]*)"|image)(?: "[^"]*")?: (.*)$`),
	kCopy:      regexp.MustCompile(`^failed to copy: httpRead(?:er)?Seeker: failed open: (.*)$`),
	kDenied:    regexp.MustCompile(`^pull access denied, repository does not exist or may require authorization: (.*)$`),
	kAuthorize: regexp.MustCompile(`^failed to authorize: failed to fetch (anonymous|oauth) token: (.*)$`),
	kReqStatus: regexp.MustCompile(`^unexpected status from (HEAD|GET|POST) request to (https?://\S+): (\d{3})\b`),
	kCodeURL:   regexp.MustCompile(`^unexpected status code (https?://\S+): (\d{3})\b[^-]*(?:- Server message: (.*))?$`),
	kNotFound:  regexp.MustCompile(`^(\S+): not found$`),
}

var kRPCRE = regexp.MustCompile(`^rpc error: code = \w+ desc = `)

var kPatternCases = []string{
	`failed to pull and unpack image "a": x`, `failed to pull and unpack image "": x`, `failed to pull and unpack image "a"`, `failed to pull and unpack image "a" : x`,
	`failed to pull and unpack image "a"b": x`, "failed to pull and unpack image \"a\nb\": ",
	`failed to resolve reference "a/b:1": x: y`, `failed to resolve reference "": x`, `failed to resolve image: x`, `failed to resolve image "a": x`,
	`failed to resolve reference "a" "b": x`, `failed to resolve reference "a" "b: x`, `failed to resolve reference "a: x`, `failed to resolve imagex: y`,
	`failed to resolve image "a"`, "failed to resolve image: a\nb", `failed to resolve image : x`, `failed to resolve reference "a":x`,
	"failed to copy: httpReadSeeker: failed open: x", "failed to copy: httpReaderSeeker: failed open: ", "failed to copy: httpReadererSeeker: failed open: x",
	"failed to copy: httpReadSeeker: failed open: a\n", "failed to copy: httpSeeker: failed open: x",
	"pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
	"pull access denied, repository does not exist or may require authorization:", "pull access denied, repository does not exist or may require authorization: \n",
	"failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized", "failed to authorize: failed to fetch anonymous token: x",
	"failed to authorize: failed to fetch bearer token: x", "failed to authorize: failed to fetch oauth token:x", "failed to authorize: failed to fetch oauthtoken: x",
	"unexpected status from GET request to https://auth.example/token?scope=a: 403 Forbidden", "unexpected status from POST request to http://a:1/t: 401",
	"unexpected status from PUT request to https://a/: 401", "unexpected status from HEAD request to https://: 401", "unexpected status from HEAD request to https://a: 4010",
	"unexpected status from HEAD request to https://a: 40", "unexpected status from HEAD request to https://a: 401_", "unexpected status from HEAD request to https://a:  401",
	"unexpected status from HEAD request to https://a\t: 401", "unexpected status from HEAD request to https://a:\t401", "unexpected status from HEAD request to https://a::: 401-x",
	"unexpected status from HEAD request to ftp://a: 401", "unexpected status from HEAD request to httpss://a: 401", "unexpected status from HEAD request to https://a\v: 401 é",
	"unexpected status code https://r/v2/a/manifests/sha256:00: 429 Too Many Requests - Server message: toomanyrequests: limit. https://www.docker.com/increase-rate-limit",
	"unexpected status code https://r/v2/a/blobs/sha256:00: 404 Not Found", "unexpected status code https://r/v2/a: 500 Internal - other",
	"unexpected status code https://r/v2/a: 500 x\ny", "unexpected status code https://r/v2/a: 500 - Server message: a\nb", "unexpected status code https://r-1/v2/a: 500",
	"unexpected status code https://r/v2/a: 500- Server message: x", "unexpected status code [manifests 1.0]: 401 Unauthorized",
	"docker.io/library/nope:latest: not found", ": not found", "a b: not found", "a\tb: not found", "a: not found\n", "a: not found.", "x: y: not found",
}

func TestKubernetesPatternsAnswerAsTheirRegexps(t *testing.T) {
	patternsAgree(t, kPatternREs, kPatternCases)
	for _, s := range append(patternInputs(t, kPatternCases), "rpc error: code = Unknown desc = x", "rpc error: code =  desc = x", "rpc error: code = A_1 desc = ", "rpc error: code = A-1 desc = x", "rpc error: code = NotFound desc") {
		if got, want := kStripRPC(s), kRPCRE.ReplaceAllString(s, ""); got != want {
			t.Errorf("kStripRPC(%q) = %q, the regexp gives %q", s, got, want)
		}
	}
}

// patternInputs: the cases and their prefixes, every fixture line, and
// what follows each space, colon, quote and equals sign in it (patterns
// are asked of the tails of errors), with \" unescaped too.
func patternInputs(t *testing.T, cases []string) []string { return inputsOf(t, cases, true) }

// inputsOf: the cases and their prefixes, every fixture line (as is and
// with \" unescaped) and, with tails, what follows each space, colon,
// quote and equals sign in it.
func inputsOf(t *testing.T, cases []string, tails bool) []string {
	t.Helper()
	in := append([]string(nil), cases...)
	for _, c := range cases {
		for i := range len(c) {
			in = append(in, c[:i])
		}
	}
	// Every fixture line, and what follows each space, colon and quote in
	// it: the patterns are asked of the tails of runtime errors.
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.log"))
	if err != nil || len(files) < 50 {
		t.Fatalf("fixtures: %v (%d)", err, len(files))
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			for i := range len(l) {
				if i == 0 || tails && strings.IndexByte(` :"=`, l[i-1]) >= 0 {
					in = append(in, l[i:], strings.ReplaceAll(l[i:], `\"`, `"`))
				}
			}
		}
	}
	return in
}

// patternsAgree checks each written-out pattern against its regexp on
// patternInputs.
func patternsAgree(t *testing.T, res map[finder]*regexp.Regexp, cases []string) {
	t.Helper()
	in := patternInputs(t, cases)
	for p, re := range res {
		matched := 0
		for _, s := range in {
			got, want := p.FindStringSubmatch(s), re.FindStringSubmatch(s)
			if !sameMatch(got, want) {
				t.Errorf("%s on %q:\n written out %q\n regexp      %q", re, s, got, want)
			}
			if want != nil {
				matched++
			}
		}
		if matched == 0 {
			t.Errorf("%s matched none of %d inputs: the comparison shows nothing", re, len(in))
		}
	}
}

func FuzzKubernetesPatterns(f *testing.F) {
	fuzzPatterns(f, kPatternREs, kPatternCases, func(t *testing.T, s string) {
		if got, want := kStripRPC(s), kRPCRE.ReplaceAllString(s, ""); got != want {
			t.Fatalf("kStripRPC(%q) = %q, the regexp gives %q", s, got, want)
		}
	})
}

// fuzzPatterns fuzzes written-out patterns against their regexps, from
// the cases, with more checks of each input when more is set.
func fuzzPatterns(f *testing.F, res map[finder]*regexp.Regexp, cases []string, more func(t *testing.T, s string)) {
	for _, c := range cases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for p, re := range res {
			if got, want := p.FindStringSubmatch(s), re.FindStringSubmatch(s); !sameMatch(got, want) {
				t.Fatalf("%s on %q: written out %q, regexp %q", re, s, got, want)
			}
		}
		if more != nil {
			more(t, s)
		}
	})
}

// sameMatch: two FindStringSubmatch results agree, a match with no
// groups and no match told apart.
func sameMatch(a, b []string) bool { return slices.Equal(a, b) && (a == nil) == (b == nil) }

// go-containerregistry's transport log lines, as regexps: match.go writes
// them out.
var (
	ggcrPrefixRE   = regexp.MustCompile(`^(?:\d{4}/\d{2}/\d{2} )?\d{2}:\d{2}:\d{2}(?:\.\d+)? (?:\S+\.go:\d+: )?`)
	ggcrPatternREs = map[finder]*regexp.Regexp{
		ggcrOut:      regexp.MustCompile(`^--> (` + ggcrMethods + `) (https?://\S+)(?: \[body redacted: ([^\]]*)\])?$`),
		ggcrIn:       regexp.MustCompile(`^<-- (\d{3})(?: (https?://\S+))? \(([^)]*)\)( \[body redacted: [^\]]*\])?$`),
		ggcrReqLine:  regexp.MustCompile(`^(` + ggcrMethods + `) (\S+) HTTP/(\d(?:\.\d)?)$`),
		ggcrRespLine: regexp.MustCompile(`^HTTP/(\d(?:\.\d)?) (\d{3})(?: .*)?$`),
	}
)

var ggcrPatternCases = []string{
	"--> GET https://r.example/v2/", "--> HEAD https://r.example/v2/a/manifests/1 [body redacted: omitting binary blobs from logs]",
	"--> PUT http://r:5000/x?digest=sha256:00 [body redacted: a]b]", "--> PUT http://r:5000/x [body redacted: ]", "--> PUT http://r:5000/x [body redacted: x] ",
	"--> GET https://", "--> GET https:// x", "--> GETS https://a", "--> OPTIONS https://a\tb", "--> GET https://a\n", "--> GET ftp://a", "--> GET httpss://a",
	"<-- 200 https://r.example/v2/ (12.3ms)", "<-- 401 (1ms)", "<-- 401  (1ms)", "<-- 4010 (1ms)", "<-- 401 https://a (1ms) [body redacted: x]", "<-- 401 https://a (1ms)x",
	"<-- 401 https://a (1m)s)", "<-- 401 https://a (1ms", "<-- 401 https://a(1ms)", "<-- 401 http:// (1ms)", "<-- 401 https://a b (1ms)", "<-- 401 (a\nb)",
	"GET /v2/ HTTP/1.1", "PATCH /v2/a/blobs/uploads/x?_state=1 HTTP/2", "GET  HTTP/1.1", "GET /v2/ HTTP/1.1 ", "GET /v2/ HTTP/11", "GET /v2/ HTTP/1.x", "GET\t/v2/ HTTP/1.1",
	"HTTP/1.1 200 OK", "HTTP/2 401", "HTTP/2.0 404 Not Found\n", "HTTP/1.1 2000", "HTTP/1.1  200", "HTTP/1.1.1 200", "HTTP/ 200", "HTTP/1.1 20",
}

var ggcrPrefixCases = []string{
	"2024/01/02 03:04:05 --> GET https://a", "03:04:05 x", "03:04:05.123456 main.go:12: x", "2024/01/02 03:04:05.1 transport.go:1: y", "03:04:05.x y",
	"03:04:05. y", "03:04:05 .go:1: y", "03:04:05 a.go:: y", "03:04:05 a.go:1:y", "03:04:05 a.go:1:\ty", "03:04:05 a.go:1x: y", "03:04:05 a.go:1.go:2: y",
	"2024/01/02 3:04:05 x", "2024/01/0203:04:05 x", "03:04:05", "03:04:05 ", "0304:05 x", "2024-01-02 03:04:05 x", "03:04:05  a.go:1: y",
}

func TestGGCRPatternsAnswerAsTheirRegexps(t *testing.T) {
	patternsAgree(t, ggcrPatternREs, ggcrPatternCases)
	matched := 0
	for _, s := range patternInputs(t, ggcrPrefixCases) {
		want := -1
		if loc := ggcrPrefixRE.FindStringIndex(s); loc != nil {
			want = loc[1]
			matched++
		}
		if got := ggcrPrefixLen(s); got != want {
			t.Errorf("ggcrPrefixLen(%q) = %d, the regexp says %d", s, got, want)
		}
	}
	if matched == 0 {
		t.Error("the log prefix matched nothing")
	}
}

func FuzzGGCRPatterns(f *testing.F) {
	fuzzPatterns(f, ggcrPatternREs, append(ggcrPatternCases, ggcrPrefixCases...), func(t *testing.T, s string) {
		want := -1
		if loc := ggcrPrefixRE.FindStringIndex(s); loc != nil {
			want = loc[1]
		}
		if got := ggcrPrefixLen(s); got != want {
			t.Fatalf("ggcrPrefixLen(%q) = %d, the regexp says %d", s, got, want)
		}
	})
}

// The url.Error patterns, as regexps: match.go writes them out.
var methodURLREs = map[*methodURL]*regexp.Regexp{
	errURL:       regexp.MustCompile(`(?i)\b(get|head|post|put|patch|delete) "(https?://[^"]+)": (.*)$`),
	errURLBare:   regexp.MustCompile(`\b(GET|HEAD|POST|PUT|PATCH|DELETE) (https?://\S+): `),
	errURLQuoted: regexp.MustCompile(`(?i)\b(get|head|post|put|patch|delete) "(https?://[^"]+)"`),
}

var methodURLCases = []string{
	`Get "https://registry.test/v2/": dial tcp: lookup registry.test: no such host`,
	`failed to do request: Head "https://r/v2/a/manifests/1": x509: certificate signed by unknown authority`,
	`GET https://r/v2/a/manifests/1: UNAUTHORIZED: authentication required; [map[Action:pull]]`,
	`error: Get "https://auth/token?scope=a": EOF; then HEAD "HTTP://R/v2/": x`, `PUT https://a:5000/x: 400 ; PATCH https://b/y: 500`,
	`xGet "https://a": b`, `_GET https://a: b`, `-GET https://a: b`, `Get "https://": b`, `Get "https://a`, `Get "https://a"b`, `Get "https://a":b`,
	"Get \"https://a\": b\nc", "Get \"https://a\nb\": c", `GET https://a:b`, `GET https://: b`, `GET https://a : b`, "GET https://a:\tb", `GET http://a:: b`,
	`get "httpS://a": b`, `gEt "hTTps://a"`, `GET  https://a: b`, `GET "https://a": b`, `Get https://a": b`, `POST "ftp://a": b`, `DELETE "https://a"`,
	`Get "https://a/ſ": b`, `Get "httpſ://a": b`, `poſt "https://a": b`, "Get \"https://a\": K", `Get "https://a" Get "https://b": c`,
	`Head "https://a?u=Get%20"https://b": c`, `Get "https://a?next=https://b": c`, `x Get "https://a": y: Post "https://b": z`, `https://a`, `GET`, `Get "`,
	`é Get "https://a": b`, `éGet "https://a": b`, `GET https://é: b`,
}

func TestMethodURLsAnswerAsTheirRegexps(t *testing.T) {
	in := inputsOf(t, methodURLCases, false) // the patterns are not anchored
	for p, re := range methodURLREs {
		matched := 0
		for _, s := range in {
			if got, want := p.FindAllStringSubmatch(s, -1), re.FindAllStringSubmatch(s, -1); !reflect.DeepEqual(got, want) {
				t.Errorf("%s on %q:\n written out %q\n regexp      %q", re, s, got, want)
			}
			if got, want := p.FindStringSubmatch(s), re.FindStringSubmatch(s); !sameMatch(got, want) {
				t.Errorf("%s, first, on %q:\n written out %q\n regexp      %q", re, s, got, want)
			} else if want != nil {
				matched++
			}
		}
		if matched == 0 {
			t.Errorf("%s matched none of %d inputs", re, len(in))
		}
	}
}

func FuzzMethodURLs(f *testing.F) {
	for _, c := range methodURLCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for p, re := range methodURLREs {
			if got, want := p.FindAllStringSubmatch(s, -1), re.FindAllStringSubmatch(s, -1); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s on %q: written out %q, regexp %q", re, s, got, want)
			}
		}
	})
}

// TestCISourceOf: the gate before ciSource never hides a match, on every
// fixture line.
func TestCISourceOf(t *testing.T) {
	matched := 0
	for _, s := range inputsOf(t, prefilterSeeds, false) {
		got, want := ciSourceOf(s), ciSource.FindStringSubmatch(s)
		if !slices.Equal(got, want) {
			t.Errorf("ciSourceOf(%q) = %q, ciSource %q", s, got, want)
		}
		if want != nil {
			matched++
		}
	}
	if matched < 3 {
		t.Errorf("ciSource matched %d inputs: too few to tell", matched)
	}
}

var dReqURLRE = regexp.MustCompile(`\b(Get|Head|Post|Put|Patch|Delete|GET|HEAD|POST|PUT|PATCH|DELETE) "?(https?://[^"\s]+?)"?: `)

var dReqURLCases = []string{
	`Get "https://registry-1.docker.io/v2/": net/http: request canceled`, `Head https://r:5000/v2/a/manifests/1: unauthorized: x`,
	`error: Get https://a/v2/: x509: y; Post "https://auth/token": EOF`, `get "https://a": x`, `gET "https://a": x`, `GeT https://a: x`,
	`xGet "https://a": x`, `Get "https://a:x`, `Get "https://a" : x`, `Get "https://a":x`, `Get https://a:b: c`, `Get https://a b: c`, "Get https://a\t: c",
	`Get "https://": x`, `Get ""https://a": x`, `Get  https://a: x`, `Get "https://a"": x`, `Get "https://a": b Get "https://c": d`, `PATCH http://a/x?y=1: z`,
	`Get https://a: "https://b": c`, `Delete "https://a/b"`, `é Get https://a: x`, `Get https://é: x`,
}

func TestDReqURLAnswersAsItsRegexp(t *testing.T) {
	matched := 0
	for _, s := range inputsOf(t, dReqURLCases, false) {
		if got, want := dReqURL.FindAllStringSubmatchIndex(s, -1), dReqURLRE.FindAllStringSubmatchIndex(s, -1); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n written out %v\n regexp      %v", s, got, want)
		}
		if got, want := dReqURL.FindStringSubmatch(s), dReqURLRE.FindStringSubmatch(s); !sameMatch(got, want) {
			t.Errorf("%q, first:\n written out %q\n regexp      %q", s, got, want)
		} else if want != nil {
			matched++
		}
	}
	if matched < 5 {
		t.Errorf("only %d inputs matched", matched)
	}
}

func FuzzDReqURL(f *testing.F) {
	for _, c := range dReqURLCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := dReqURL.FindAllStringSubmatchIndex(s, -1), dReqURLRE.FindAllStringSubmatchIndex(s, -1); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: written out %v, regexp %v", s, got, want)
		}
	})
}

// dockerd's messages, as regexps: match.go writes them out.
var dPatternREs = map[finder]*regexp.Regexp{
	dCalling: regexp.MustCompile(`^(?:Calling )?(POST|GET|HEAD|DELETE) (/\S*)$`),
	dNext:    regexp.MustCompile(`(?s)^Attempting next endpoint for (pull|push) after error(?:: (.*))?`),
	dStop:    regexp.MustCompile(`(?s)^Not continuing with (pull|push) after error(?:: (.*))?`),
	dHandler: regexp.MustCompile(`(?s)^Handler for (?:POST|GET) (/\S*) returned error: (.*)$`),
}

var dPatternCases = []string{
	"Calling POST /v1.41/images/create?fromImage=a&tag=1", "Calling HEAD /_ping", "GET /v1.43/info", "Calling  GET /x", "Calling PUT /x", "Calling GET x",
	"Calling GET /a b", "Calling GET /", "Calling GET /a\n", "CallingGET /a", "Calling Calling GET /a",
	"Attempting next endpoint for pull after error: Get \"https://a/v2/\": x", "Attempting next endpoint for push after error", "Attempting next endpoint for pull after error:x",
	"Attempting next endpoint for pull after errors", "Attempting next endpoint for pulls after error: x", "Not continuing with pull after error: errors:\ndenied: x\n",
	"Not continuing with push after error: ", "Not continuing with fetch after error: x", "Not continuing with pull after error:",
	"Handler for POST /v1.41/images/create returned error: pull access denied", "Handler for GET /a returned error: x\ny", "Handler for GET a returned error: x",
	"Handler for PUT /a returned error: x", "Handler for GET /a  returned error: x", "Handler for GET /a returned error:x", "Handler for GET / returned error: ",
}

func TestDockerdPatternsAnswerAsTheirRegexps(t *testing.T) {
	patternsAgree(t, dPatternREs, dPatternCases)
}

func FuzzDockerdPatterns(f *testing.F) { fuzzPatterns(f, dPatternREs, dPatternCases, nil) }

// oras's dump heads, and what orasEntryOf asks before its regexp.
var (
	orasReqHeadRE = regexp.MustCompile(`^--> Request #(\d+)$`)
	orasRspHeadRE = regexp.MustCompile(`^<-- Response #(\d+)$`)
	orasCases     = []string{"", "--> Request #", "--> Request #1", "--> Request #12 ", "--> Request #1a", "--> Request #٣", " --> Request #1",
		"<-- Response #7", "<-- Response #", "<-- Response #0099", "<-- Response #7\n", "[2026-12-04T10:00:00Z][DEBUG]: --> Request #1",
		"[2026-12-04T10:00:00Z][DEBUG]: x", "[x", "[", "[1", "x[2026-12-04T10:00:00Z][DEBUG]: x", "[2026-12-04T10:00:00Z][debug]: x"}
)

func TestOrasMatchersAnswerAsTheirRegexps(t *testing.T) {
	for _, s := range inputsOf(t, orasCases, true) {
		orasAgree(t, s)
	}
}

func FuzzOrasMatchers(f *testing.F) {
	for _, c := range orasCases {
		f.Add(c)
	}
	f.Fuzz(orasAgree)
}

func orasAgree(t *testing.T, s string) {
	for head, re := range map[string]*regexp.Regexp{"--> Request #": orasReqHeadRE, "<-- Response #": orasRspHeadRE} {
		id, ok := orasHeadID(s, head)
		m := re.FindStringSubmatch(s)
		if ok != (m != nil) || ok && id != m[1] {
			t.Fatalf("orasHeadID(%q, %q) = %q, %v; its regexp: %q", s, head, id, ok, m)
		}
	}
	if got, want := orasEntryOf(s), orasEntry.FindStringSubmatch(s); !sameMatch(got, want) {
		t.Fatalf("orasEntryOf(%q) = %q; its regexp: %q", s, got, want)
	}
}
