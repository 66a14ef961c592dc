package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestKubernetesGoldens reads Kubernetes pull events modelled on public
// tickets (testdata/kubernetes/README.md cites each) and compares the
// flows built from each with its golden file.
func TestKubernetesGoldens(t *testing.T) {
	checkGoldens(t, "kubernetes", FormatKubernetesEvents, 15, summary)
}

// What each class of message becomes: the flows containerd or CRI-O made,
// as far as the message proves them.
func TestKubernetesClasses(t *testing.T) {
	const ev = `  Warning  Failed     9s (x3 over 40s)  kubelet            Failed to pull image "IMG": rpc error: code = Unknown desc = `
	for _, c := range []struct {
		name, log string
		want      []string // substrings of the summary
		hides     bool
	}{
		{"insufficient_scope: HEAD 401, token, HEAD 401 with error=",
			ev + `failed to pull and unpack image "docker.io/acme/app:1": failed to resolve reference "docker.io/acme/app:1": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`,
			[]string{`#1 HEAD https://registry-1.docker.io/v2/acme/app/manifests/1 (401 inferred) auth="" challenge="Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:acme/app:pull\"" ua="containerd"`,
				`#2 GET https://auth.docker.io/token?scope=repository%3Aacme%2Fapp%3Apull&service=registry.docker.io (0 inferred)`,
				`#3 HEAD https://registry-1.docker.io/v2/acme/app/manifests/1 (401 inferred) auth="Bearer REDACTED-token-not-in-the-log" challenge="Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:acme/app:pull\",error=\"insufficient_scope\""`}, true},
		{"a HEAD's 401, and nothing else",
			ev + `failed to pull and unpack image "reg.example/a/b:2": failed to resolve reference "reg.example/a/b:2": unexpected status from HEAD request to https://reg.example/v2/a/b/manifests/2: 401 Unauthorized`,
			[]string{`#1 HEAD https://reg.example/v2/a/b/manifests/2 (401 inferred) auth="" challenge=""`}, true},
		{"not found: a HEAD 404 without a code",
			ev + `failed to pull and unpack image "ghcr.io/a/b:2": failed to resolve reference "ghcr.io/a/b:2": ghcr.io/a/b:2: not found`,
			[]string{`#1 HEAD https://ghcr.io/v2/a/b/manifests/2 (404 inferred) auth=""`}, true},
		{"DNS on the HEAD, EAI_AGAIN too",
			ev + `failed to pull and unpack image "ghcr.io/a/b:main": failed to resolve reference "ghcr.io/a/b:main": failed to do request: Head "https://ghcr.io/v2/a/b/manifests/main": dial tcp: lookup ghcr.io: Try again`,
			[]string{`#1 HEAD https://ghcr.io/v2/a/b/manifests/main (err dns: dial tcp: lookup ghcr.io: Try again)`}, true},
		{"an anonymous token request's status proves no credentials",
			ev + `failed to pull and unpack image "docker.io/library/x:1": failed to resolve reference "docker.io/library/x:1": failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized`,
			[]string{`#2 GET https://auth.docker.io/token?scope=repository%3Alibrary%2Fx%3Apull&service=registry.docker.io (401 inferred) auth=""`}, false},
		{"oauth: credentials sent, the GET after the POST refused",
			ev + `failed to pull and unpack image "gitlab.example/g/p:1": failed to resolve reference "gitlab.example/g/p:1": failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://gitlab.example/jwt/auth?scope=repository%3Ag%2Fp%3Apull&service=container_registry: 401 Unauthorized`,
			[]string{`#2 GET https://gitlab.example/jwt/auth?scope=repository%3Ag%2Fp%3Apull&service=container_registry (401 inferred) auth="Basic REDACTED(user=)"`, `credentialsFor=[gitlab.example]`}, false},
		{"a rate limit on the GET by digest, after the tag resolved",
			ev + `failed to pull and unpack image "docker.io/library/x:1": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/x/manifests/sha256:aa: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`,
			[]string{`#1 HEAD https://registry-1.docker.io/v2/library/x/manifests/1 (200 inferred)`, `#2 GET https://registry-1.docker.io/v2/library/x/manifests/sha256:aa (429 inferred body={"errors":[{"code":"TOOMANYREQUESTS"`}, true},
		{"CRI-O: containers/image's manifest unknown",
			ev + `initializing source docker://quay.io/a/b:v1: reading manifest v1 in quay.io/a/b: manifest unknown`,
			[]string{`#2 GET https://quay.io/v2/a/b/manifests/v1 (404 inferred body={"errors":[{"code":"MANIFEST_UNKNOWN"`, `ua="cri-o"`, `crictl pull quay.io/a/b:v1`}, true},
		{"only BackOff: a failure with no reason",
			`  Normal   BackOff  2m  kubelet  Back-off pulling image "nginx"`,
			[]string{`#1 HEAD https://registry-1.docker.io/v2/library/nginx/manifests/latest (err other: the pull failed, and the events copied do not say why`}, true},
		{"pulled after it failed: the failure, then the success",
			ev + `failed to pull and unpack image "quay.io/a/b:1": failed to resolve reference "quay.io/a/b:1": failed to do request: Head "https://quay.io/v2/a/b/manifests/1": dial tcp 1.2.3.4:443: i/o timeout` + "\n" +
				`  Normal   Pulled  1m  kubelet  Successfully pulled image "quay.io/a/b:1" in 2s`,
			[]string{`#1 HEAD https://quay.io/v2/a/b/manifests/1 (err timeout`, `#2 HEAD https://quay.io/v2/a/b/manifests/1 (200 inferred)`}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := read(t, strings.ReplaceAll(c.log, `"IMG"`, `"img"`))
			got := summary(tr)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary lacks %s\n%s", w, got)
				}
			}
			if tr.HidesAuth != c.hides {
				t.Errorf("HidesAuth = %v, want %v", tr.HidesAuth, c.hides)
			}
			if tr.Name != "Kubernetes events" || !strings.Contains(tr.Command, "regtrace proxy --har trace.har") || !strings.Contains(tr.Command, "crictl pull ") {
				t.Errorf("name %q command %q", tr.Name, tr.Command)
			}
		})
	}
}

// Repeated events are one failure: the flows of the last Failed message,
// once, however many times the kubelet said it and however it was copied.
func TestKubernetesOneFailureHoweverCopied(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "kubernetes", "describe-not-found.log"))
	if err != nil {
		t.Fatal(err)
	}
	base := flowsOnly(summary(read(t, string(raw))))
	if strings.Count(base, "\n#") != 0 || strings.Count(base, "#") != 1 {
		t.Fatalf("want one flow:\n%s", base)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	for name, v := range map[string]func(string) string{
		"CRLF":            func(l string) string { return l + "\r" },
		"journald prefix": func(l string) string { return "Dec 04 16:58:45 node-7 kubectl[99]: " + l },
		"doubled":         func(l string) string { return l + "\n" + l },
	} {
		var out []string
		for _, l := range lines {
			out = append(out, v(l))
		}
		if got := flowsOnly(summary(read(t, strings.Join(out, "\n")))); got != base {
			t.Errorf("%s: flows differ\n--- got\n%s\n--- want\n%s", name, got, base)
		}
	}
}

func TestKubernetesRefs(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                        "docker.io/library/busybox:latest",
		"index.docker.io/a/b@sha256:00":  "docker.io/a/b@sha256:00",
		"localhost:5000/x":               "localhost:5000/x:latest",
		"reg.example:5000/a/b:1":         "reg.example:5000/a/b:1",
		"docker://quay.io/a/b:v1":        "quay.io/a/b:v1",
		"":                               "unknown/unknown:latest",
		"ghcr.io/a/b:1.0@sha256:abcdef0": "ghcr.io/a/b@sha256:abcdef0",
	} {
		if got := parseRef(in).String(); got != want {
			t.Errorf("parseRef(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzReadKubernetes: reading events is total. Any input gives a Trace or
// ErrUnknownFormat, never a panic; every flow has a method, an absolute
// URL and a response or an error; flow IDs count from 1.
func FuzzReadKubernetes(f *testing.F) {
	fuzzReader(f, "kubernetes",
		`Warning Failed 1s kubelet Failed to pull image "`+"\n"+`": x`,
		`E0101 00:00:00.0 1 a.go:1] "Failed to pull image" err="failed to pull and unpack image \"%zz\": failed to resolve reference \"\": failed to do request: Head \"http://[::1\": x" image=""`,
		"Back-off pulling image \"a@\"\nFailed to pull image \"b\": failed to authorize: failed to fetch oauth token: unexpected status: 403 Forbidden")
}

// TestKubernetesAlreadyPresentIsNoPull: "Container image … already present
// on machine" made no request, so it puts none back; an image that was
// pulled (Pulling, Successfully pulled) or failed still does.
func TestKubernetesAlreadyPresentIsNoPull(t *testing.T) {
	var b strings.Builder
	b.WriteString("Events:\n  Type     Reason     Age   From     Message\n  ----     ------     ----  ----     -------\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  Normal   Pulled     5m    kubelet  Container image \"registry.example.com/shop/web:1.4.%d\" already present on machine\n", i)
	}
	b.WriteString("  Normal   Pulling    2m    kubelet  Pulling image \"registry.example.com/shop/api:2.0\"\n")
	b.WriteString("  Normal   Pulled     2m    kubelet  Successfully pulled image \"registry.example.com/shop/api:2.0\" in 1.2s\n")
	b.WriteString("  Warning  Failed     1m    kubelet  Failed to pull image \"registry.example.com/shop/db:9.9\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/shop/db:9.9\": failed to resolve reference \"registry.example.com/shop/db:9.9\": registry.example.com/shop/db:9.9: not found\n")
	tr, err := Read(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range tr.Flows {
		paths = append(paths, f.Request.URL.Path)
	}
	got := strings.Join(paths, " ")
	if strings.Contains(got, "shop/web") {
		t.Errorf("an image already present was put back as a pull: %s", got)
	}
	for _, want := range []string{"/v2/shop/api/manifests/2.0", "/v2/shop/db/manifests/9.9"} {
		if !strings.Contains(got, want) {
			t.Errorf("no request for %s among %s", want, got)
		}
	}
}

// The literals that gate the event readers are in everything they gate.
func TestKubernetesGates(t *testing.T) {
	for _, m := range kMarkers {
		if !strings.Contains(m, kMarkerCommon) {
			t.Errorf("marker %q lacks %q: kLineEvent would never see it", m, kMarkerCommon)
		}
	}
	for _, l := range []string{"I1204 10:00:00.000000    1234 kuberuntime_image.go:55] \"Failed to pull image\" err=\"x\" image=\"r/a:1\"",
		"E1204 10:00:00.000000 1 pod_workers.go:1298] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"c\\\" with ErrImagePull: \\\"boom\\\"\""} {
		if _, ok := kKlogEvent(l, 1); !ok {
			t.Errorf("kKlogEvent(%q) found no event", l)
		}
	}
	for _, l := range []string{"", "I", "Ix", "X1204 10:00:00.000000 1 a.go:1] \"Failed to pull image\" err=\"x\""} {
		if _, ok := kKlogEvent(l, 1); ok {
			t.Errorf("kKlogEvent(%q) found an event", l)
		}
	}
}

// kMessage is an event's message as the kubelet words it.
func kMessage(e kEvent) string {
	switch e.kind {
	case kFailed:
		return fmt.Sprintf("Failed to pull image %q: %s", e.image, e.detail)
	case kPulling:
		return fmt.Sprintf("Pulling image %q", e.image)
	case kPulled:
		if e.present {
			return fmt.Sprintf("Container image %q already present on machine", e.image)
		}
		return fmt.Sprintf("Successfully pulled image %q in 1.2s", e.image)
	}
	if e.image != "" {
		return fmt.Sprintf("Back-off pulling image %q", e.image)
	}
	return "Error: ImagePullBackOff"
}

// yamlFold writes a YAML mapping entry "key: value" as go-yaml does at 80
// columns: the scalar single- or double-quoted, folded at spaces onto
// lines indented by indent+2.
func yamlFold(indent, key, v string, double bool) string {
	var q string
	if double {
		b, _ := json.Marshal(v)
		q = string(b)
	} else {
		q = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteString(indent + key + ": ")
	col := len(indent) + len(key) + 2
	for i, w := range strings.Split(q, " ") {
		if i > 0 {
			if col+1+len(w) > 80 && w != "" {
				b.WriteString("\n" + indent + "  ")
				col = len(indent) + 2
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// TestKubernetesStructuredAgrees: the events of every fixture, written as
// kubectl's -o json, as JSON lines (events.k8s.io's "note"), and as -o yaml
// with the message single- or double-quoted and folded, read as the same
// events.
func TestKubernetesStructuredAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kubernetes", "*.log"))
	tried := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The kubelet names the image of every event it words itself (a
		// journal's "Error syncing pod" may not).
		want := slices.DeleteFunc(kReadEvents(splitLines(string(raw))), func(e kEvent) bool { return e.kind == kFailed && e.image == "" })
		if len(want) == 0 {
			continue
		}
		tried++
		var js, jl, ys, yd strings.Builder
		js.WriteString("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n")
		ys.WriteString("apiVersion: v1\nitems:\n")
		yd.WriteString("apiVersion: v1\nitems:\n")
		for i, e := range want {
			m, _ := json.Marshal(kMessage(e))
			sep := ","
			if i == len(want)-1 {
				sep = ""
			}
			fmt.Fprintf(&js, "        {\n            \"kind\": \"Event\",\n            \"message\": %s,\n            \"reason\": \"Failed\"\n        }%s\n", m, sep)
			fmt.Fprintf(&jl, `{"apiVersion":"events.k8s.io/v1","kind":"Event","note":%s,"reason":"Failed","type":"Warning"}`+"\n", m)
			for _, y := range []struct {
				b      *strings.Builder
				double bool
			}{{&ys, false}, {&yd, true}} {
				fmt.Fprintf(y.b, "- apiVersion: v1\n  involvedObject:\n    kind: Pod\n    name: p\n  kind: Event\n%s\n  metadata:\n    name: p.1\n  reason: Failed\n",
					yamlFold("  ", "message", kMessage(e), y.double))
			}
		}
		js.WriteString("    ],\n    \"kind\": \"List\"\n}\n")
		for name, text := range map[string]string{"json": js.String(), "json lines": jl.String(), "yaml": ys.String(), "yaml double-quoted": yd.String()} {
			got := kReadEvents(splitLines(text))
			if len(got) != len(want) {
				t.Errorf("%s as %s: %d events, want %d\n%s", file, name, len(got), len(want), text)
				continue
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.kind != w.kind || g.image != w.image || strings.Join(strings.Fields(g.detail), " ") != strings.Join(strings.Fields(w.detail), " ") || g.present != w.present {
					t.Errorf("%s as %s: event %d\n got %+v\nwant %+v", file, name, i, g, w)
				}
			}
		}
	}
	if tried < 15 {
		t.Fatalf("only %d fixtures with events", tried)
	}
}

// TestKStructured: what the JSON and YAML message reader takes, line by
// line, and what it leaves to the text reader.
func TestKStructured(t *testing.T) {
	for _, c := range []struct {
		name, text string
		yaml       bool
		want       string
		used       int
		ok         bool
	}{
		{"json", `  "message": "Failed to pull image \"a:1\": x\u0026y",`, true, `Failed to pull image "a:1": x&y`, 1, true},
		{"json note in one line", `{"kind":"Event","note":"Pulling image \"a\"","reason":"Pulling"}`, false, `Pulling image "a"`, 1, true},
		{"json null", `  "message": null,`, true, "", 0, false},
		{"json cut short", `  "message": "Failed to pull image \"a`, true, "", 0, false},
		{"yaml single-quoted with a doubled quote, folded",
			"  message: 'Failed to pull image \"a:1\": pull access denied for a, repository does\n    not exist or may require ''docker login'''\n  metadata:\n    name: x", true,
			`Failed to pull image "a:1": pull access denied for a, repository does not exist or may require 'docker login'`, 2, true},
		{"yaml double-quoted, an escaped line break",
			"  message: \"Failed to pull image \\\"a:1\\\": x\\\n    y \\\"z\\\"\"\n  reason: Failed", true, `Failed to pull image "a:1": xy "z"`, 2, true},
		{"yaml plain, folded", "- message: Back-off pulling image\n    \"a:1\"\n  reason: BackOff", true, `Back-off pulling image "a:1"`, 2, true},
		{"yaml empty line is a newline", "  message: 'a\n\n    b'\n  reason: x", true, "a\nb", 3, true},
		{"yaml nested map", "  message:\n    text: x", true, "", 0, false},
		{"a wrapped text line is no yaml key", "message: insufficient_scope: authorization failed", false, "", 0, false},
		{"no key", "  reason: Failed", true, "", 0, false},
	} {
		ls := splitLines(c.text)
		got, used, ok := kStructured(ls, 0, c.yaml)
		if got != c.want || used != c.used || ok != c.ok {
			t.Errorf("%s: got %q, %d, %v; want %q, %d, %v", c.name, got, used, ok, c.want, c.used, c.ok)
		}
	}
}

// TestKubeletJSON: the kubelet's JSON log records, however spaced, read
// as their klog text forms; other JSON records are no events.
func TestKubeletJSON(t *testing.T) {
	text := `E0920 10:00:37.381420    2080 kuberuntime_image.go:53] "Failed to pull image" err="rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/a/b:1\": failed to resolve reference \"ghcr.io/a/b:1\": ghcr.io/a/b:1: not found" image="ghcr.io/a/b:1"`
	want, ok := kKlogEvent(text, 1)
	if !ok {
		t.Fatal("the klog form is not read")
	}
	for _, js := range []string{
		`{"ts":1.5,"caller":"kuberuntime_image.go:53","msg":"Failed to pull image","err":"rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/a/b:1\": failed to resolve reference \"ghcr.io/a/b:1\": ghcr.io/a/b:1: not found","image":"ghcr.io/a/b:1"}`,
		`  { "msg": "Failed to pull image", "image": "ghcr.io/a/b:1", "err": "rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/a/b:1\": failed to resolve reference \"ghcr.io/a/b:1\": ghcr.io/a/b:1: not found", "pod": {"name": "p", "namespace": "n"} }`,
	} {
		got, ok := kKlogJSON(js, 1)
		if !ok || got.kind != want.kind || got.image != want.image || got.detail != want.detail {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", js, got, ok, want)
		}
		if !sniffKubernetes([]string{js}) {
			t.Errorf("not sniffed: %s", js)
		}
	}
	for _, js := range []string{`{"msg":"Pod status updated","pod":{"name":"p","namespace":"n"},"image":"x"}`, `{"msg":"Failed to pull image"`, `{"msg":["Failed to pull image"],"err":"x"}`} {
		if e, ok := kKlogJSON(js, 1); ok {
			t.Errorf("%s read as %+v", js, e)
		}
	}
}

// TestKubeletJSONAgrees: every klog record of the fixtures, written as the
// kubelet's JSON encoder would, reads as the same event.
func TestKubeletJSONAgrees(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kubernetes", "*.log"))
	n := 0
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		for _, l := range splitLines(string(raw)) {
			want, ok := kKlogEvent(l.text, l.n)
			if !ok {
				continue
			}
			m := kKlog.FindStringSubmatch(l.text)[1]
			msg, _ := strconv.Unquote(m[:strings.Index(m[1:], `"`)+2])
			rec := map[string]any{"ts": 1.5, "caller": "x.go:1", "msg": msg, "pod": map[string]string{"name": "p", "namespace": "n"}}
			for _, k := range []string{"err", "image"} {
				if v, ok := logfmtValue(m, k); ok {
					rec[k] = v
				}
			}
			js, _ := json.Marshal(rec)
			got, ok := kKlogJSON(string(js), l.n)
			if !ok || got != want {
				t.Errorf("%s line %d: %s\n got %+v\nwant %+v", file, l.n, js, got, want)
			}
			n++
		}
	}
	if n < 5 {
		t.Fatalf("only %d klog records", n)
	}
}

// TestCrictlOutput: crictl pull's own error, in each form it prints, names
// the request that failed; a host other than the image's is its mirror,
// asked with ns= as containerd asks it.
func TestCrictlOutput(t *testing.T) {
	const e = `failed to pull and unpack image \"docker.io/acme/app:1\": failed to resolve reference \"docker.io/acme/app:1\": `
	for _, c := range []struct{ name, log, want string }{
		{"logrus, quoted", `time="2026-12-06T20:27:32Z" level=fatal msg="pulling image: ` + e + `unexpected status from HEAD request to https://registry-1.docker.io/v2/acme/app/manifests/1: 403 Forbidden"`,
			"#1 HEAD https://registry-1.docker.io/v2/acme/app/manifests/1 (403 inferred)"},
		{"terminal", `FATA[0001] pulling image: rpc error: code = NotFound desc = ` + strings.ReplaceAll(e, `\"`, `"`) + `docker.io/acme/app:1: not found`,
			"#1 HEAD https://registry-1.docker.io/v2/acme/app/manifests/1 (404 inferred)"},
		{"before crictl 1.24", `FATA[0000] pulling image failed: rpc error: code = Unknown desc = ` + strings.ReplaceAll(e, `\"`, `"`) + `pulling from host mirror.test:5000 failed with status code [manifests 1]: 401 Unauthorized`,
			"#1 HEAD https://mirror.test:5000/v2/acme/app/manifests/1?ns=docker.io (401 inferred)"},
	} {
		tr, err := Read(strings.NewReader(c.log + "\n"))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := summary(tr); tr.Name != "crictl output" || !strings.Contains(got, c.want) {
			t.Errorf("%s: %s\n%s\nwant %s", c.name, tr.Name, got, c.want)
		}
	}
}
