package logs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// FormatKubernetesEvents is what a ticket about a pod that will not start
// carries: its pull events, as `kubectl describe pod` prints them (the
// Events: table, Type Reason Age From Message), as `kubectl get events`
// prints them (LAST SEEN TYPE REASON OBJECT MESSAGE, or -o wide with
// SUBOBJECT SOURCE before the message and FIRST SEEN COUNT NAME after it),
// and the kubelet's journal lines for the same (klog's structured form,
// `E1204 10:00:00.000000 123 kuberuntime_image.go:55] "Failed to pull
// image" err="…" image="…"`). Messages may be wrapped over several lines.
//
// An event keeps only the container runtime's final error for a pull
// ("Failed to pull image "IMAGE": rpc error: code = … desc = …"), and the
// kubelet repeats it: Failed, then "Error: ErrImagePull", then BackOff
// ("Back-off pulling image") and "Error: ImagePullBackOff", with counts
// ("(x4 over 2m)"). Those are one failure: the last Failed message of an
// image decides, and a later Pulled ("Successfully pulled image") event
// means the image was pulled after all.
//
// From that message the reader builds the requests the runtime makes for
// the image, as far as the message proves them and no further. containerd
// (remotes/docker/resolver.go) sends no ping: it HEADs the manifest by tag
// at each host, and on a 401 with a Bearer challenge fetches a token —
// anonymously with GET, or, with credentials (a pull secret, which events
// never show), with an OAuth2 POST and a GET with Basic after it — and
// retries the HEAD; once resolved, it GETs the manifest by digest. Its
// error names the step: "server message: insufficient_scope: authorization
// failed" is the retried HEAD refused 401 with that error after a token was
// obtained, "unexpected status from HEAD request to URL: 401" the HEAD's
// final answer, "REF: not found" a HEAD 404 at every host, "failed to do
// request: Head URL: …" a transport error, "failed to fetch anonymous
// token: …" the token request's answer. CRI-O uses containers/image, whose
// errors ("initializing source docker://…: reading manifest TAG in REPO:
// manifest unknown") are read as the containers-image reader reads them.
// Every answer the message does not show is Inferred.
const FormatKubernetesEvents Format = "kubernetes-events"

// kMarkers start the messages of the kubelet's pull events, and crictl
// pull's final error ("FATA[0001] pulling image: rpc error: …"; "pulling
// image failed: " before crictl 1.24). The first eight are sniffed.
var kMarkers = []string{
	"Failed to pull image ", "failed to pull image ", "Back-off pulling image ", "Error: ImagePullBackOff",
	"Error: ErrImagePull", "Successfully pulled image ", "pulling image: ", "pulling image failed: ",
	"Pulling image ", "pulling image ", "Container image \"",
}

// kMarkerCommon is in every marker: a line without it is no event row
// (one search, not one per marker, for each line of a long file).
const kMarkerCommon = "mage"

// kKlogMsgs are the kubelet's structured log messages about a pull.
var kKlogMsgs = []string{`"Failed to pull image"`, `"PullImage from image service failed"`, `"Error syncing pod, skipping"`}

func sniffKubernetes(head []string) bool {
	for _, h := range head {
		for _, m := range kMarkers[:8] {
			if strings.Contains(h, m) {
				return true
			}
		}
		for _, m := range kKlogMsgs[:2] {
			if strings.Contains(h, m+" err=") || strings.Contains(h, `"msg"`) && strings.Contains(h, m) {
				return true
			}
		}
	}
	return false
}

type kKind int

const (
	kFailed  kKind = iota // Failed to pull image "X": detail
	kNoInfo               // Error: ErrImagePull, Back-off pulling image, Error: ImagePullBackOff
	kPulling              // Pulling image "X"
	kPulled               // Successfully pulled image "X", Container image "X" already present on machine
)

type kEvent struct {
	kind   kKind
	image  string // as the event names it
	detail string // the runtime's error, for kFailed
	line   int
	split  bool // detail still begins with the image: "IMAGE": error
	// present: "Container image … already present on machine", a kPulled
	// that made no request (the pull policy let the kubelet skip it).
	present bool
	crictl  bool // crictl pull's error, not the kubelet's
}

var (
	kKlog = regexp.MustCompile(`^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ \S+\] (.*)$`)
	// kWideTail: FIRST SEEN, COUNT and NAME after the message (-o wide).
	kWideTail = regexp.MustCompile(`\s{2,}\S+\s{2,}\d+\s{2,}\S+\s*$`)
)

// kEventStart tells whether a line starts an event: a describe or
// get-events row (Type then Reason), an e2e framework line ("event for
// pod: {kubelet node} Failed: …") or a klog line. It is asked of every
// line that may go on a wrapped message, so it is written out rather than
// a regexp (a third of the reading time of wrapped events); the regexp it
// answers as is in the tests.
func kEventStart(s string) bool {
	if len(s) >= 14 && strings.IndexByte("IWEF", s[0]) >= 0 && digits(s[1:5]) && s[5] == ' ' &&
		digits(s[6:8]) && s[8] == ':' && digits(s[9:11]) && s[11] == ':' && digits(s[12:14]) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if i > 0 && !reSpace(s[i-1]) {
			continue
		}
		rest := s[i:]
		var after string
		if r, ok := strings.CutPrefix(rest, "Normal"); ok {
			after = r
		} else if r, ok := strings.CutPrefix(rest, "Warning"); ok {
			after = r
		} else {
			continue
		}
		j := 0
		for j < len(after) && reSpace(after[j]) {
			j++
		}
		if j == 0 || j == len(after) || after[j] < 'A' || after[j] > 'Z' {
			continue
		}
		k := j + 1
		for k < len(after) && isLetter(after[k]) {
			k++
		}
		if k > j+1 && (k == len(after) || !isWordByte(after[k])) {
			return true
		}
	}
	for from := 0; ; {
		i := strings.Index(s[from:], "event for ")
		if i < 0 {
			return false
		}
		i += from
		from = i + 1
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		start := i + len("event for ")
		e := start
		for e < len(s) && !reSpace(s[e]) {
			e++
		}
		if e >= start+2 && s[e-1] == ':' && strings.HasPrefix(s[e:], " {") {
			return true
		}
	}
}

// reSpace is a regexp's \s: ASCII space, tab, newline, form feed, return.
func reSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isWordByte is a regexp's \w.
func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func readKubernetes(ls []line) *Trace {
	t := &Trace{
		Format: FormatKubernetesEvents, Name: "Kubernetes events", HidesAuth: true,
		CredentialsHint: "On Kubernetes the kubelet pulls with the pod's imagePullSecrets (or the service account's, or the node's own config), " +
			"not with a `docker login` on a workstation: put the login in a docker-registry secret (`kubectl create secret docker-registry …`) the pod names.",
		Lacks: "the requests themselves: an event keeps only the container runtime's final error for a pull, so every answer " +
			"but the one that error quotes, the challenges, the tokens and whether the pod had an image pull secret are not in them " +
			"(regtrace builds the requests containerd or CRI-O makes for the image and marks what it infers; " +
			"ErrImagePull, BackOff and ImagePullBackOff events repeat the last failure and add nothing)",
	}
	evs := kReadEvents(ls)
	if len(evs) > 0 && !slices.ContainsFunc(evs, func(e kEvent) bool { return !e.crictl }) {
		t.Name = "crictl output"
		t.Lacks = "the requests themselves: crictl prints only the runtime's final error for the pull, so every answer but the one " +
			"that error quotes, the challenges, the tokens and the credentials crictl passed are not in it (regtrace builds the requests " +
			"containerd or CRI-O makes for the image and marks what it infers)"
		t.CredentialsHint = "crictl pull sends only the credentials given on its command line (--creds, --auth, --username), and the runtime " +
			"adds those of its own registry configuration; a docker login's config.json is not read."
	}
	b := &kBuilder{t: t}
	b.runtime = kTraceRuntime(evs)
	b.build(evs)
	t.Flows = b.flows
	return t
}

// kReadEvents reads the pull events of every form the reader knows, each
// Failed message whole however it was wrapped.
func kReadEvents(ls []line) []kEvent {
	// A describe's events are a good part of its lines: sized once, not
	// doubled a score of times over a long file.
	evs := make([]kEvent, 0, len(ls)/4)
	wide := false
	var cur *kEvent // the Failed event whose message may go on over the next lines
	more := 0
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		s := l.text
		// kubectl's -o json and -o yaml hold the message as a string:
		// read whole, it goes on over no other line.
		// A wrapped message's line may begin "message: …" too (a ticket
		// folds "server message: …"): no YAML key there.
		if msg, used, ok := kStructured(ls, i, cur == nil); ok {
			if e, ok := kLineEvent(msg, l.n); ok {
				evs = append(evs, e)
			}
			cur, i = nil, i+used-1
			continue
		}
		trim := strings.TrimSpace(s)
		if strings.Contains(s, "MESSAGE") && strings.Contains(s, "LAST SEEN") {
			wide = strings.Contains(s, "FIRST SEEN") && strings.Contains(s, "COUNT")
			cur = nil
			continue
		}
		if e, ok := kKlogEvent(s, l.n); ok {
			evs = append(evs, e)
			cur = nil
			continue
		}
		if e, ok := kKlogJSON(s, l.n); ok {
			evs = append(evs, e)
			cur = nil
			continue
		}
		if wide {
			if loc := kWideTail.FindStringIndex(s); loc != nil {
				s = s[:loc[0]]
			}
		}
		// crictl's logrus lines quote the message: read it unquoted.
		if strings.HasPrefix(s, "time=") || strings.HasPrefix(s, "level=") {
			if _, m, ok := parseLogrus(s); ok {
				s = m
			}
		}
		if e, ok := kLineEvent(s, l.n); ok {
			evs = append(evs, e)
			cur = nil
			if e.kind == kFailed {
				cur, more = &evs[len(evs)-1], 0
			}
			continue
		}
		// A wrapped message goes on over lines that start no event.
		if cur != nil && trim != "" && more < 40 && !kEventStart(s) && !strings.HasPrefix(trim, "----") &&
			trim != "Events:" && !strings.HasPrefix(trim, "Type ") {
			cur.detail += " " + trim
			more++
			continue
		}
		cur = nil
	}
	for i := range evs {
		if e := &evs[i]; e.split {
			e.image, e.detail = kSplitFailed(e.detail)
		}
	}
	return evs
}

// kStructured reads an event's message from kubectl's JSON or YAML output
// (`kubectl get events -o json|yaml`, a pod's status): `"message": "…"` or
// `"note": "…"` (events.k8s.io) as a JSON string, in a pretty-printed
// object or on one line; `message: '…'`, `"…"` or plain, which YAML folds
// over lines indented deeper than its key. It returns the message and the
// lines it took, and false for a line that holds no such message. yaml
// false reads JSON only.
func kStructured(ls []line, i int, yaml bool) (string, int, bool) {
	s := ls[i].text
	// Both JSON keys end in `e"`: one search rules out most lines.
	if strings.Contains(s, `e"`) {
		for _, k := range []string{`"message"`, `"note"`} {
			if j := strings.Index(s, k); j >= 0 {
				if msg, ok := kJSONString(s[j+len(k):]); ok {
					return msg, 1, true
				}
			}
		}
	}
	t := strings.TrimLeft(s, " ")
	if !yaml || t == "" || t[0] != 'm' && t[0] != 'n' && t[0] != '-' {
		return "", 0, false
	}
	indent := len(s) - len(t)
	if r, ok := strings.CutPrefix(t, "- "); ok { // a list item's first key
		t, indent = strings.TrimLeft(r, " "), indent+2+len(r)-len(strings.TrimLeft(r, " "))
	}
	var v string
	found := false
	for _, k := range []string{"message:", "note:"} {
		if v, found = strings.CutPrefix(t, k); found {
			break
		}
	}
	if !found {
		return "", 0, false
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", 0, false // a block or a nested map: no message here
	}
	// The folded lines: those indented deeper than the key.
	used := 1
	for used < 200 && i+used < len(ls) {
		n := ls[i+used].text
		nt := strings.TrimLeft(n, " ")
		if nt != "" && len(n)-len(nt) <= indent {
			break
		}
		if nt == "" && (i+used+1 == len(ls) || len(ls[i+used+1].text)-len(strings.TrimLeft(ls[i+used+1].text, " ")) <= indent) {
			break
		}
		used++
	}
	folded := make([]string, 0, used)
	folded = append(folded, v)
	for _, l := range ls[i+1 : i+used] {
		folded = append(folded, strings.TrimSpace(l.text))
	}
	return kYAMLScalar(folded), used, true
}

// kJSONString reads `: "…"` and returns the string, unescaped.
func kJSONString(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	s, ok := strings.CutPrefix(s, ":")
	if !ok {
		return "", false
	}
	s = strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(s, `"`) {
		return "", false
	}
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return jsonUnescape(s[1:j])
		}
	}
	return "", false
}

// kYAMLScalar is the value of a YAML scalar folded over lines (each one
// trimmed): a line break is a space and an empty line a newline. In single
// quotes a doubled quote is one; in double quotes the escapes are JSON's,
// and a line ending in an escape joins the next without a space.
func kYAMLScalar(folded []string) string {
	double := strings.HasPrefix(folded[0], `"`)
	b := []byte(folded[0])
	for _, l := range folded[1:] {
		switch {
		case l == "":
			b = append(b, '\n')
			continue
		case double && kOddEscapes(b):
			b = b[:len(b)-1]
		case len(b) > 0 && b[len(b)-1] != '\n':
			b = append(b, ' ')
		}
		b = append(b, l...)
	}
	v := string(b)
	switch {
	case strings.HasPrefix(v, "'"):
		v = v[1:]
		if k := kSingleQuoteEnd(v); k >= 0 {
			v = v[:k]
		}
		return strings.ReplaceAll(v, "''", "'")
	case double:
		v = v[1:]
		end := len(v)
		for j := 0; j < len(v); j++ {
			if v[j] == '\\' {
				j++
			} else if v[j] == '"' {
				end = j
				break
			}
		}
		if u, ok := jsonUnescape(v[:end]); ok {
			return u
		}
		// YAML's own escapes (\x41, \ , \e): the quotes and backslashes
		// are what matter here.
		return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v[:end])
	}
	return v
}

// kOddEscapes: s ends in an odd run of backslashes, an escape with nothing
// after it.
func kOddEscapes(s []byte) bool {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}

// kSingleQuoteEnd is where a single-quoted YAML scalar ends: the first '
// that is not doubled, or -1.
func kSingleQuoteEnd(v string) int {
	for j := 0; j < len(v); j++ {
		if v[j] != '\'' {
			continue
		}
		if j+1 < len(v) && v[j+1] == '\'' {
			j++
			continue
		}
		return j
	}
	return -1
}

// kKlogEvent reads a kubelet journal line in klog's structured form.
func kKlogEvent(s string, n int) (kEvent, bool) {
	// What kKlog starts with, asked first: most lines are no klog line.
	if len(s) < 2 || strings.IndexByte("IWEF", s[0]) < 0 || !isDigit(s[1]) {
		return kEvent{}, false
	}
	m := kKlog.FindStringSubmatch(s)
	if m == nil {
		return kEvent{}, false
	}
	msg := m[1]
	which := -1
	for i, k := range kKlogMsgs {
		if strings.HasPrefix(msg, k) {
			which = i
		}
	}
	if which < 0 {
		return kEvent{}, false
	}
	errv, _ := logfmtValue(msg, "err")
	image, _ := logfmtValue(msg, "image")
	return kKlogParts(which, errv, image, n)
}

// kKlogJSON reads a kubelet journal line in its JSON form
// (--logging-format=json): {"msg":"Failed to pull image","err":"…",…}.
func kKlogJSON(s string, n int) (kEvent, bool) {
	t := strings.TrimSpace(s)
	// Every message it reads holds kMarkerCommon (ErrImagePull, PullImage).
	if !strings.HasPrefix(t, "{") || !strings.Contains(t, kMarkerCommon) || !strings.Contains(t, `"msg"`) {
		return kEvent{}, false
	}
	// The JSON record reader of containerd's and dockerd's logs.
	r := cdParseRecord(t, n)
	if r == nil {
		return kEvent{}, false
	}
	for i, k := range kKlogMsgs {
		if r.msg() == strings.Trim(k, `"`) {
			return kKlogParts(i, r.f["err"], r.f["image"], n)
		}
	}
	return kEvent{}, false
}

// kKlogParts is the event a kubelet log record says: which of kKlogMsgs,
// with its err and image values.
func kKlogParts(which int, errv, image string, n int) (kEvent, bool) {
	if which < 2 {
		return kEvent{kind: kFailed, image: image, detail: errv, line: n}, errv != ""
	}
	// "Error syncing pod, skipping" err="failed to \"StartContainer\" for
	// \"c\" with ErrImagePull: \"…\"": the pull's error, quoted once more.
	for _, w := range []string{"with ErrImagePull: ", "with ImagePullBackOff: "} {
		i := strings.Index(errv, w)
		if i < 0 {
			continue
		}
		inner := errv[i+len(w):]
		if u, err := strconv.Unquote(inner); err == nil {
			inner = u
		}
		if w == "with ImagePullBackOff: " {
			img := ""
			if j := strings.Index(inner, `Back-off pulling image "`); j >= 0 {
				img, _ = kQuoted(inner[j+len(`Back-off pulling image `):])
			}
			return kEvent{kind: kNoInfo, image: img, line: n}, true
		}
		return kEvent{kind: kFailed, detail: inner, line: n}, inner != ""
	}
	return kEvent{}, false
}

// kLineEvent reads an event row, wherever its message starts.
func kLineEvent(s string, n int) (kEvent, bool) {
	if !strings.Contains(s, kMarkerCommon) {
		return kEvent{}, false
	}
	at, which := -1, ""
	for _, m := range kMarkers {
		if i := strings.Index(s, m); i >= 0 && (at < 0 || i < at) {
			at, which = i, m
		}
	}
	if at < 0 {
		return kEvent{}, false
	}
	rest := strings.TrimSpace(s[at+len(which):])
	e := kEvent{line: n}
	switch which {
	case "Failed to pull image ", "failed to pull image ":
		// The image and the error are split once the message is whole:
		// a wrapped message may put the image on the next line.
		e.kind, e.detail, e.split = kFailed, rest, true
	case "pulling image: ", "pulling image failed: ":
		// crictl names the image only in the runtime's error.
		e.kind, e.detail, e.crictl = kFailed, rest, true
	case "Error: ImagePullBackOff", "Error: ErrImagePull":
		e.kind = kNoInfo
	case "Back-off pulling image ":
		e.kind = kNoInfo
		e.image, _ = kQuoted(rest)
	case "Successfully pulled image ":
		e.kind = kPulled
		e.image, _ = kQuoted(rest)
	case "Container image \"":
		if !strings.Contains(rest, "already present on machine") {
			return kEvent{}, false
		}
		e.kind, e.present = kPulled, true
		e.image, _ = kQuoted(`"` + rest)
	default:
		e.kind = kPulling
		e.image, _ = kQuoted(rest)
	}
	return e, true
}

// kSplitFailed splits what follows "Failed to pull image ": the image,
// quoted (or bare, from old kubelets: `onehub/app:latest: Error: …`), and
// the runtime's error.
func kSplitFailed(rest string) (image, detail string) {
	// A message wrapped right after "image" goes on with a space.
	rest = strings.TrimSpace(rest)
	img, after := kQuoted(rest)
	if img == "" {
		i := strings.Index(rest, ": ")
		if i < 0 {
			return "", rest
		}
		img, after = rest[:i], rest[i:]
	}
	return img, strings.TrimSpace(strings.TrimPrefix(after, ":"))
}

// kQuoted reads a leading "…" and returns it and what follows.
func kQuoted(s string) (string, string) {
	if !strings.HasPrefix(s, `"`) {
		return "", s
	}
	i := strings.IndexByte(s[1:], '"')
	if i < 0 {
		return "", s
	}
	return s[1 : i+1], s[i+2:]
}

// Runtimes, read from the error's wording.
const (
	rtContainerd = "containerd"
	rtCRIO       = "cri-o"
	rtDocker     = "docker"
)

func kRuntime(detail string) string {
	d := strings.ToLower(detail)
	switch {
	case strings.Contains(d, "failed to pull and unpack image") || strings.Contains(d, "failed to resolve reference") ||
		strings.Contains(d, "failed to resolve image") || strings.Contains(d, "httpreadseeker") || strings.Contains(d, "httpreaderseeker") ||
		strings.Contains(d, "failed to do request:") || strings.Contains(d, "failed to fetch anonymous token") || strings.Contains(d, "failed to fetch oauth token"):
		return rtContainerd
	case strings.Contains(d, "initializing source docker://") || strings.Contains(d, "reading manifest ") ||
		strings.Contains(d, "pinging container registry") || strings.Contains(d, "pinging docker registry") ||
		strings.Contains(d, "requesting bearer token") || strings.Contains(d, "unable to retrieve auth token") ||
		strings.Contains(d, "determining manifest mime type") || strings.Contains(d, "copying system image"):
		return rtCRIO
	case strings.Contains(d, "error response from daemon"):
		return rtDocker
	}
	return ""
}

// kTraceRuntime: a node runs one runtime; the first error that names it
// names it for every pull.
func kTraceRuntime(evs []kEvent) string {
	for _, e := range evs {
		if e.kind == kFailed {
			if r := kRuntime(e.detail); r != "" {
				return r
			}
		}
	}
	return ""
}

// kRef is an image reference, normalised as the runtimes do.
type kRef struct {
	domain, name, ref string // "docker.io", "library/busybox", "latest" or "sha256:…"
}

func (r kRef) String() string {
	if strings.Contains(r.ref, ":") && !strings.HasPrefix(r.ref, "sha") || strings.HasPrefix(r.ref, "sha256:") || strings.HasPrefix(r.ref, "sha512:") {
		return r.domain + "/" + r.name + "@" + r.ref
	}
	return r.domain + "/" + r.name + ":" + r.ref
}

// host is where the runtime sends requests for the domain.
func (r kRef) host() string {
	if r.domain == "docker.io" || r.domain == "index.docker.io" {
		return "registry-1.docker.io"
	}
	return r.domain
}

func (r kRef) hub() bool { return r.host() == "registry-1.docker.io" }

// hostURL is the manifest request for ref to host: the domain's own host
// when host is "" or it, else a mirror, asked with the ns= parameter that
// containerd adds to name the registry a mirror stands for.
func (r kRef) hostURL(host, ref string) string {
	u := r.manifestURL(ref)
	if host == "" || host == r.host() || host == r.domain {
		return u
	}
	return "https://" + host + strings.TrimPrefix(u, "https://"+r.host()) + "?ns=" + url.QueryEscape(r.domain)
}

func (r kRef) manifestURL(ref string) string {
	if ref == "" {
		ref = r.ref
	}
	return "https://" + r.host() + "/v2/" + r.name + "/manifests/" + ref
}

// parseRef reads an image reference as the kubelet and runtimes do
// (distribution/reference's normalisation), totally: nonsense gives a
// reference to nonsense, never an error.
func parseRef(s string) kRef {
	s = strings.TrimSpace(strings.TrimPrefix(s, "docker://"))
	if s == "" {
		return kRef{domain: "unknown", name: "unknown", ref: "latest"}
	}
	digest := ""
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s, digest = s[:i], s[i+1:]
	}
	tag := ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i:], "/") {
		s, tag = s[:i], s[i+1:]
	}
	r := kRef{domain: "docker.io", name: s}
	if d, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(d, ".:") || d == "localhost") {
		r.domain, r.name = d, rest
	}
	if r.domain == "index.docker.io" {
		r.domain = "docker.io"
	}
	if r.domain == "docker.io" && !strings.Contains(r.name, "/") {
		r.name = "library/" + r.name
	}
	if r.name == "" {
		r.name = "unknown"
	}
	switch {
	case digest != "":
		r.ref = digest
	case tag != "":
		r.ref = tag
	default:
		r.ref = "latest"
	}
	return r
}

// kBuilder builds the flows of every image's pull.
type kBuilder struct {
	t       *Trace
	runtime string
	flows   []*flow.Flow
	// proven counts the pulls whose message says whether credentials were
	// sent ("failed to fetch anonymous token", "no basic auth
	// credentials", "failed to fetch oauth token"); pulls counts them all.
	proven, pulls int
}

func (b *kBuilder) ua() string {
	switch b.runtime {
	case rtContainerd:
		return "containerd"
	case rtCRIO:
		return "cri-o"
	case rtDocker:
		return "docker"
	}
	return ""
}

// build reads each image's events: the last Failed message of an image is
// its failure; a Pulled event after every failure means the pull worked.
// kStory is what the events say of one image.
type kStory struct {
	image    string
	failed   *kEvent // the last Failed event
	noInfo   *kEvent // the last event that names no reason
	failedAt int     // index of the last failure of any kind, -1 for none
	pulledAt int
	pulled   *kEvent
	pulling  *kEvent
}

func (b *kBuilder) build(evs []kEvent) {
	type story = kStory
	var order []string
	stories := map[string]*story{}
	last := "" // the image of the last event that named one
	for i := range evs {
		e := &evs[i]
		key := ""
		if e.image != "" {
			key = parseRef(e.image).String()
		} else if e.kind == kFailed {
			if m := kUnpack.FindStringSubmatch(kStripRPC(e.detail)); m != nil {
				key = parseRef(m[1]).String()
			}
		}
		if key == "" {
			key = last
		}
		last = key
		st := stories[key]
		if st == nil {
			st = &story{image: e.image, failedAt: -1, pulledAt: -1}
			if st.image == "" && key != "" {
				st.image = key
			}
			stories[key] = st
			order = append(order, key)
		}
		switch e.kind {
		case kFailed:
			st.failed, st.failedAt = e, i
		case kNoInfo:
			st.noInfo, st.failedAt = e, i
		case kPulled:
			st.pulled, st.pulledAt = e, i
		case kPulling:
			st.pulling = e
		}
	}
	var todo []*story
	for _, key := range order {
		st := stories[key]
		// An image only ever found already present was never pulled: no
		// request to put back (most of a healthy cluster's events).
		if st.failedAt < 0 && st.pulling == nil && (st.pulled == nil || st.pulled.present) {
			continue
		}
		todo = append(todo, st)
	}
	// Each image's pull is built on its own, so a long journal's are built
	// on every core, each part by a builder of its own, joined in order.
	subs := make([]*kBuilder, partsOf(len(todo)))
	inParts(len(todo), func(p, lo, hi int) {
		subs[p] = &kBuilder{t: &Trace{}, runtime: b.runtime}
		for _, st := range todo[lo:hi] {
			subs[p].story(st)
		}
	})
	for _, sb := range subs {
		for _, f := range sb.flows {
			f.ID = flow.ID(len(b.flows) + 1)
			b.flows = append(b.flows, f)
		}
		b.t.Errors = append(b.t.Errors, sb.t.Errors...)
		if b.t.Image == "" {
			b.t.Image = sb.t.Image
		}
		b.t.CredentialsFor = append(b.t.CredentialsFor, sb.t.CredentialsFor...)
		b.proven += sb.proven
		b.pulls += sb.pulls
	}
	if b.t.Image != "" {
		b.t.Command = b.command(b.t.Image)
	}
	// Events never show a pull secret, unless the runtime's own words
	// say what it sent: then the requests put back are the wire's.
	b.t.HidesAuth = b.pulls == 0 || b.proven < b.pulls
}

// story builds the flows of one image's pull.
func (b *kBuilder) story(st *kStory) {
	ref := parseRef(st.image)
	if st.failed != nil {
		// The runtime names the reference it normalised.
		d := kStripRPC(st.failed.detail)
		if m := kUnpack.FindStringSubmatch(d); m != nil {
			ref = parseRef(m[1])
		} else if m := ciSourceOf(d); m != nil {
			ref = parseRef(m[1])
		}
	}
	if st.failedAt >= 0 {
		if b.t.Image == "" {
			b.t.Image = ref.String()
		}
		if st.failed != nil {
			b.t.Errors = append(b.t.Errors, redact.Text(fmt.Sprintf("Failed to pull image %q: %s", st.image, st.failed.detail)))
			b.failure(ref, st.failed.detail, st.failed.line)
		} else {
			// Only ErrImagePull or BackOff: the reason is not in the events.
			b.t.Errors = append(b.t.Errors, redact.Text(fmt.Sprintf("Back-off pulling image %q (the events copied hold no Failed message with the reason)", st.image)))
			f := b.add(http.MethodHead, ref.manifestURL(""), st.noInfo.line, false)
			setErr(f, "the pull failed, and the events copied do not say why (only ErrImagePull or ImagePullBackOff)")
			b.pulls++
		}
	}
	switch {
	case st.pulled != nil && st.pulledAt > st.failedAt:
		b.success(ref, st.pulled.line)
	case st.failedAt < 0 && st.pulling != nil:
		// A pull still going when the events were copied: its answer
		// is unknown.
		b.add(http.MethodHead, ref.manifestURL(""), st.pulling.line, true)
	}
}

// command is how to record the pull on the node: the kubelet cannot be
// wrapped by regtrace run, but the runtime can be sent through the proxy.
func (b *kBuilder) command(image string) string {
	switch b.runtime {
	case rtCRIO:
		return "regtrace proxy --har trace.har, with CRI-O on the node trusting its CA (regtrace ca trust --client podman: CRI-O reads the same /etc/containers/certs.d) and HTTPS_PROXY in crio.service's environment; then crictl pull " + image
	case rtDocker:
		return "regtrace proxy --har trace.har, with the node's dockerd set up by regtrace ca trust --client docker; then docker pull " + image
	}
	return "regtrace proxy --har trace.har, with containerd on the node set up by regtrace ca trust --client crictl; then crictl pull " + image
}

// add appends a flow whose answer is inferred (status 0: unknown, until
// set).
func (b *kBuilder) add(method, raw string, n int, shown bool) *flow.Flow {
	f := inferredFlow(len(b.flows)+1, method, raw, n, shown)
	if ua := b.ua(); ua != "" {
		f.Request.Header.Set("User-Agent", ua)
	}
	u := f.Request.URL
	if method == http.MethodHead || method == http.MethodGet && strings.Contains(u.Path, "/manifests/") {
		f.Request.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*")
	}
	b.flows = append(b.flows, f)
	return f
}

func kStatus(f *flow.Flow, st int) *flow.Flow {
	f.Response.Status = st
	return f
}

// success: the pull worked. containerd resolved the tag (a HEAD answered
// 200); what else it fetched, and how it authenticated, the event does not
// say.
func (b *kBuilder) success(ref kRef, n int) {
	b.pulls++
	if b.runtime == rtCRIO || b.runtime == rtDocker {
		b.add(http.MethodGet, "https://"+ref.host()+"/v2/", n, false)
		kStatus(b.add(http.MethodGet, ref.manifestURL(""), n, false), 200)
		return
	}
	kStatus(b.add(http.MethodHead, ref.manifestURL(""), n, false), 200)
}

// submatches memoises FindStringSubmatch on one string: a switch tests a
// regexp, then reads its groups, and a long wrapped message is matched
// once, not twice.
type submatches struct {
	s    string
	last finder
	m    []string
}

func (sm *submatches) of(re finder) []string {
	if sm.last != re {
		sm.last, sm.m = re, re.FindStringSubmatch(sm.s)
	}
	return sm.m
}

// failure builds the flows one Failed message proves.
func (b *kBuilder) failure(ref kRef, detail string, n int) {
	b.pulls++
	d := strings.TrimSpace(kStripRPC(strings.TrimSpace(detail)))
	rt := kRuntime(d)
	if rt == "" {
		rt = b.runtime
	}
	if m := kUnpack.FindStringSubmatch(d); m != nil {
		d = d[len(m[0]):]
	}
	if rt == rtContainerd || rt == "" {
		if m := kResolve.FindStringSubmatch(d); m != nil {
			if b.resolve(ref, m[2], n) {
				return
			}
		} else if m := kCopy.FindStringSubmatch(d); m != nil {
			// The tag was resolved: the HEAD got its 200.
			kStatus(b.add(http.MethodHead, ref.manifestURL(""), n, false), 200)
			if b.fetch(ref, m[1], n) {
				return
			}
		} else if rt == rtContainerd && b.resolve(ref, d, n) {
			return
		}
	}
	b.generic(ref, rt, detail, n)
}

// resolve reads the error of containerd's resolver: the manifest HEAD.
func (b *kBuilder) resolve(ref kRef, e string, n int) bool {
	sm := &submatches{s: e}
	head := ref.manifestURL("")
	switch {
	case sm.of(kDenied) != nil:
		why := sm.of(kDenied)[1]
		if m := kServerMsg.FindStringSubmatch(why); m != nil {
			// invalidAuthorization: the same HEAD refused again with
			// error=, after a token was obtained for it.
			realm, chal := b.realm(ref, "")
			f := kStatus(b.add(http.MethodHead, head, n, false), 401)
			f.Response.Header.Set("Www-Authenticate", chal)
			if realm != "" {
				// A token was obtained: its answer (2xx) and contents
				// are unknown, so the status stays 0.
				b.add(http.MethodGet, realm, n, false)
			}
			f = kStatus(b.add(http.MethodHead, head, n, true), 401)
			f.Request.Header.Set("Authorization", tokenFromLog)
			f.Response.Header.Set("Www-Authenticate", chal+",error="+strconv.Quote(m[1]))
			return true
		}
		if strings.Contains(why, "no basic auth credentials") {
			// A Basic challenge, and no credentials for the host.
			f := kStatus(b.add(http.MethodHead, head, n, true), 401)
			f.Response.Header.Set("Www-Authenticate", "Basic")
			b.proven++
			return true
		}
		return false
	case sm.of(kAuthorize) != nil:
		m := sm.of(kAuthorize)
		b.token(ref, head, m[1] == "oauth", m[2], n)
		return true
	case sm.of(kReqStatus) != nil:
		m := sm.of(kReqStatus)
		st, _ := strconv.Atoi(m[3])
		b.statusFlow(m[1], m[2], st, "", n)
		return true
	case sm.of(kOldStatus) != nil:
		m := sm.of(kOldStatus)
		st, _ := strconv.Atoi(m[3])
		b.statusFlow(http.MethodHead, ref.hostURL(m[1], m[2]), st, "", n)
		return true
	case sm.of(kDoRequest) != nil:
		m := sm.of(kDoRequest)
		setErr(b.add(strings.ToUpper(m[1]), m[2], n, true), m[3])
		return true
	case sm.of(kNotFound) != nil:
		// Every host answered the HEAD 404 (a HEAD has no body: no code).
		kStatus(b.add(http.MethodHead, head, n, true), 404)
		return true
	}
	return false
}

// fetch reads the error of containerd's fetcher: a GET by digest.
func (b *kBuilder) fetch(ref kRef, e string, n int) bool {
	sm := &submatches{s: e}
	switch {
	case sm.of(kCodeURL) != nil:
		m := sm.of(kCodeURL)
		st, _ := strconv.Atoi(m[2])
		b.statusFlow(http.MethodGet, m[1], st, m[3], n)
		return true
	case sm.of(kReqStatus) != nil:
		m := sm.of(kReqStatus)
		st, _ := strconv.Atoi(m[3])
		b.statusFlow(m[1], m[2], st, "", n)
		return true
	case sm.of(kContentNotAt) != nil:
		b.statusFlow(http.MethodGet, sm.of(kContentNotAt)[1], 404, "", n)
		return true
	case sm.of(kAuthorize) != nil:
		m := sm.of(kAuthorize)
		b.token(ref, ref.manifestURL(""), m[1] == "oauth", m[2], n)
		return true
	case sm.of(kDoRequest) != nil:
		m := sm.of(kDoRequest)
		setErr(b.add(strings.ToUpper(m[1]), m[2], n, true), m[3])
		return true
	}
	return false
}

// statusFlow is a request the message names with the status it quotes,
// and the registry's code when containerd quotes its "Server message".
func (b *kBuilder) statusFlow(method, raw string, st int, server string, n int) {
	f := kStatus(b.add(method, raw, n, true), st)
	if server == "" || method == http.MethodHead {
		return
	}
	code, msg, ok := strings.Cut(server, ": ")
	if !ok || strings.ContainsAny(code, " \t") {
		return
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": strings.ToUpper(code), "message": msg}}})
	f.Response.Header.Set("Content-Type", "application/json")
	f.Response.Body = flow.Body{Captured: body, Size: int64(len(body)), Complete: true}
}

// realm is the token endpoint of a registry when it is known without the
// challenge (Docker Hub's), and the Bearer challenge to put back.
func (b *kBuilder) realm(ref kRef, tokenURL string) (string, string) {
	scope := "repository:" + ref.name + ":pull"
	if tokenURL == "" && ref.hub() {
		tokenURL = "https://auth.docker.io/token?scope=" + url.QueryEscape(scope) + "&service=registry.docker.io"
	}
	if tokenURL == "" {
		return "", "Bearer"
	}
	u, err := url.Parse(tokenURL)
	if err != nil || u.Host == "" {
		return "", "Bearer"
	}
	// strconv.Quote is fmt's %q for a string, without fmt.
	ch := "Bearer realm=" + strconv.Quote(u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	if svc := q.Get("service"); svc != "" {
		ch += ",service=" + strconv.Quote(svc)
	}
	if sc := q.Get("scope"); sc != "" {
		scope = sc
	}
	return tokenURL, ch + ",scope=" + strconv.Quote(scope)
}

// token: the HEAD was challenged, and the token request failed. An
// anonymous one is a GET without credentials; "oauth" means the runtime
// had credentials and POSTed them, then, if the POST was refused 400, 401,
// 404 or 405, asked with GET and Basic (remotes/docker/authorizer.go).
func (b *kBuilder) token(ref kRef, head string, oauth bool, e string, n int) {
	sm := &submatches{s: e}
	method, tokenURL, st, reason := http.MethodGet, "", 0, ""
	switch {
	case sm.of(kReqStatus) != nil:
		m := sm.of(kReqStatus)
		method, tokenURL = m[1], m[2]
		st, _ = strconv.Atoi(m[3])
	case sm.of(kBareStatus) != nil:
		st, _ = strconv.Atoi(sm.of(kBareStatus)[1])
		if oauth {
			method = http.MethodPost
		}
	case sm.of(kDoRequest) != nil:
		m := sm.of(kDoRequest)
		method, tokenURL, reason = strings.ToUpper(m[1]), m[2], m[3]
	default:
		reason = e
		if oauth {
			method = http.MethodPost
		}
	}
	b.proven++
	realm, chal := b.realm(ref, tokenURL)
	if realm == "" {
		// Not Docker Hub, and the message does not name the realm: the
		// token request is put at the registry host, a stand-in.
		realm = "https://" + ref.host() + "/token?scope=" + url.QueryEscape("repository:"+ref.name+":pull") + "&service=" + url.QueryEscape(ref.host())
		chal = fmt.Sprintf("Bearer realm=%q,service=%q,scope=%q", "https://"+ref.host()+"/token", ref.host(), "repository:"+ref.name+":pull")
	}
	f := kStatus(b.add(http.MethodHead, head, n, false), 401)
	f.Response.Header.Set("Www-Authenticate", chal)
	if method == http.MethodPost {
		u, _ := url.Parse(realm)
		if u != nil {
			u.RawQuery = ""
			realm = u.String()
		}
	}
	tf := b.add(method, realm, n, tokenURL != "")
	if oauth {
		b.t.CredentialsFor = append(b.t.CredentialsFor, ref.host())
		if method == http.MethodGet {
			tf.Request.Header.Set("Authorization", redactedNoUser)
		} else {
			// The form's fields are not in the message: a pull secret
			// made by kubectl create secret docker-registry holds a user
			// and password, which containerd sends as a password grant.
			form := url.Values{"grant_type": {"password"}, "client_id": {"containerd-client"}, "password": {"REDACTED"}}
			tf.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			tf.Request.Body = flow.Body{Captured: []byte(form.Encode()), Size: int64(len(form.Encode())), Complete: true}
		}
	}
	if st > 0 {
		kStatus(tf, st)
	} else {
		setErr(tf, reason)
	}
}

// generic: CRI-O's containers/image errors, dockershim's, and anything
// else: the requests the runtime makes for a manifest, with the error read
// back as the containers-image reader reads it.
func (b *kBuilder) generic(ref kRef, rt, detail string, n int) {
	d := kStripRPC(strings.TrimSpace(detail))
	if m := ciSourceOf(d); m != nil {
		ref = parseRef(m[1])
	}
	low := strings.ToLower(d)
	start := len(b.flows)
	if rt == rtCRIO || rt == rtDocker {
		ping := b.add(http.MethodGet, "https://"+ref.host()+"/v2/", n, false)
		if ref.hub() {
			// Docker Hub challenges every anonymous ping, and the client
			// asks auth.docker.io for a token before the manifest.
			realm, chal := b.realm(ref, "")
			kStatus(ping, 401).Response.Header.Set("Www-Authenticate", chal)
			b.add(http.MethodGet, realm, n, false)
		}
	}
	if !strings.Contains(low, "pinging") || strings.Contains(low, "reading manifest") {
		f := b.add(http.MethodGet, ref.manifestURL(""), n, false)
		if ref.hub() && (rt == rtCRIO || rt == rtDocker) {
			f.Request.Header.Set("Authorization", tokenFromLog)
		}
	}
	sub := applyError(b.flows[start:], d, false)
	sub = failSomewhere(sub, d, ref.String())
	b.flows = append(b.flows[:start], sub...)
	for i, f := range b.flows[start:] {
		f.ID = flow.ID(start + i + 1)
		if f.Origin == "the final error" {
			f.Origin = "line " + strconv.Itoa(n)
		}
	}
}

// ciSource is the image containers/image names in its error.
var ciSource = regexp.MustCompile(`(?i)initializing source docker://(\S+?): `)

// ciSourceOf is ciSource's submatches, the regexp asked only of an error
// that names a docker:// reference (in any case, the Kelvin sign folding
// to k): most errors do not, and a case-blind regexp is tried at every
// position of a long one.
func ciSourceOf(s string) []string {
	if !strings.Contains(s, "\u212a") {
		for i := strings.Index(s, "://"); ; {
			if i < 0 {
				return nil
			}
			if i >= 6 && strings.EqualFold(s[i-6:i], "docker") {
				break
			}
			j := strings.Index(s[i+1:], "://")
			if j < 0 {
				return nil
			}
			i += 1 + j
		}
	}
	return ciSource.FindStringSubmatch(s)
}
