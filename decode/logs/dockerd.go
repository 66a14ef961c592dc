package logs

import (
	"cmp"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// FormatDockerd is the docker daemon's debug log (dockerd --debug, or
// "debug": true in daemon.json), as dockerd writes it to stderr (logrus
// text: `time="…" level=debug msg="…"`), as `journalctl -u docker` prints
// it (with journald's prefix), or as JSON (--log-format=json, dockerd 25
// and later), usually pasted together with the docker CLI's own output
// ("Error response from daemon: …").
//
// dockerd logs no HTTP at all (daemon/internal/distribution, formerly
// distribution/): what it logs about a pull is the API call that asked for
// it ("Calling POST /v1.41/images/create?fromImage=…&tag=…", or from 25 on
// "handling POST request" with request-url=…), each registry endpoint it
// tries ("Trying to pull NAME from https://HOST v2"), "Pulling ref from V2
// registry: REF" once the manifest was fetched, "pulling blob \"DIGEST\"",
// and the error that ended an endpoint or the pull ("Attempting next
// endpoint for pull after error: …", "Not continuing with pull after
// error: …", "Handler for POST … returned error: …"); for a push, "Trying
// to push NAME to https://HOST v2", "Checking for presence of layer DIFFID
// (DIGEST) in REPO", "attempting to mount layer …", "Pushing layer: …",
// "uploaded layer …" and "Not continuing with push after error: …".
//
// The requests are the ones dockerd's registry client makes, as far as
// the log proves them: a ping (GET /v2/) per endpoint, then for a tag a
// HEAD of the manifest and, when the HEAD does not answer 2xx, a GET of it
// for the error's body (distribution's client tags.Get), the manifest by
// digest, the blobs. The error's wording says which step failed:
//   - `Get "https://HOST/v2/": REASON`: the ping's transport failed;
//   - `Head "MANIFEST-URL": no basic auth credentials`: the ping answered
//     a Basic challenge and dockerd had no credentials, so the HEAD was
//     never sent;
//   - `Head "MANIFEST-URL": Get "REALM?…": REASON`: the token request
//     failed on its way (its URL names the realm, and account= says
//     credentials were sent);
//   - `Head "MANIFEST-URL": CODE: MESSAGE`: the token server refused (an
//     error of the registry request itself never comes wrapped in its URL);
//   - `CODE: MESSAGE` or `errors:\nCODE: MESSAGE\n…` alone: the registry's
//     own answer to the manifest (pull) or to the step the push was at,
//     read back as every reader does (applyError). distribution answers a
//     token without the scope with DENIED and UNAUTHORIZED together in one
//     401: that pair says a token was sent and refused as insufficient.
//
// Every answer the log does not prove is Inferred with status 0, and no
// header the log does not prove is put back.
const FormatDockerd Format = "dockerd"

// dMarkers are messages only dockerd logs.
var dMarkers = []string{
	"Calling POST /", "Calling GET /", "Calling HEAD /", "Trying to pull ", "Trying to push ",
	"Attempting next endpoint for pull", "Attempting next endpoint for push", "Not continuing with pull",
	"Not continuing with push", "Pulling ref from V2 registry", "Pushing repository: ", "handling POST request",
	"handling GET request", "API listen on ", "Docker daemon", "Loading containers: ", "Handler for POST ",
}

func sniffDockerd(head []string) bool {
	for _, h := range head {
		if strings.HasPrefix(strings.TrimSpace(h), "Error response from daemon: ") {
			return true
		}
		if d, ok := dParse(h); ok {
			for _, m := range dMarkers {
				if strings.HasPrefix(d.msg, m) {
					return true
				}
			}
		}
	}
	return false
}

// dLine is one dockerd log entry: its level and message, and the fields
// dockerd puts beside the message from version 25 on (error=, and the API
// call's request-url=).
type dLine struct {
	level, msg, err, reqURL, digest string
}

// dRead is what a line says alone: its logrus fields (ok: it is a logrus
// line) and the submatches of the pattern its message's first byte picks
// (dMessage).
type dRead struct {
	d  dLine
	ok bool
	m  []string
}

// dMessage matches msg against the one pattern its first byte can open.
func dMessage(msg string) []string {
	switch msg[0] {
	case 'C', 'h', 'P':
		return dCalling.FindStringSubmatch(msg)
	case 'T':
		return dTrying.FindStringSubmatch(msg)
	case 'A':
		return dNext.FindStringSubmatch(msg)
	case 'N':
		return dStop.FindStringSubmatch(msg)
	case 'H':
		return dHandler.FindStringSubmatch(msg)
	}
	return nil
}

// dParse reads a logrus line, text or JSON.
func dParse(s string) (dLine, bool) {
	if strings.HasPrefix(s, "{") {
		// logrus's JSONFormatter, as containerd's reader reads it.
		r := cdParseRecord(s, 0)
		if r == nil {
			return dLine{}, false
		}
		f := r.f
		d := dLine{level: f["level"], msg: f["msg"], err: cmp.Or(f["error"], f["error-response"]), reqURL: f["request-url"], digest: f["digest"]}
		return d, d.msg != "" && d.level != ""
	}
	level, msg, ok := parseLogrus(s)
	if !ok {
		return dLine{}, false
	}
	if len(s) > 4 && s[4] == '[' {
		// On a terminal logrus pads the message and puts the fields after
		// it: "Not continuing with pull after error    error=…".
		if i := strings.Index(msg, "  "); i > 0 && dFieldStart(strings.TrimLeft(msg[i:], " ")) {
			msg = msg[:i]
		}
	}
	d := dLine{level: level, msg: msg}
	// The fields are looked for only where dockerd puts them: a 100 MB
	// log is millions of lines.
	switch {
	case strings.HasPrefix(msg, "Not continuing with ") || strings.HasPrefix(msg, "error response for ") ||
		strings.HasPrefix(msg, "Attempting next endpoint") || strings.HasPrefix(msg, "Failed to check for presence"):
		d.err, _ = logfmtValue(s, "error")
		if d.err == "" {
			d.err, _ = logfmtValue(s, "error-response")
		}
	case strings.HasPrefix(msg, "handling "):
		d.reqURL, _ = logfmtValue(s, "request-url")
	case strings.HasPrefix(msg, "Fetching manifest from remote"):
		d.digest, _ = logfmtValue(s, "digest")
	}
	return d, true
}

// dFieldStart: s starts with a logrus field, key=value.
func dFieldStart(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			return i > 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return false
}

// dOp is one pull or push the log shows.
type dOp struct {
	push bool
	// login: a docker login (POST /auth), to loginHost.
	login     bool
	loginHost string
	image     string // as the API call names it: "host/name:tag"
	line      int
	eps       []*dEndpoint
	// pulled: "Pulling ref from V2 registry" — the manifest was fetched.
	pulled     bool
	pulledLine int
	digest     string   // the manifest's digest, when the log names it
	blobs      []string // "pulling blob"
	blobLines  []int
	layers     []*dLayer // a push's layers, in the order logged
	final      string    // the error the API call returned
	finalLine  int
	ended      bool // the log shows the pull's end ("Not continuing", or the API's error)
}

// dEndpoint is one "Trying to pull NAME from URL": a registry endpoint
// (a mirror, or the registry itself).
type dEndpoint struct {
	base    *url.URL
	name    string // the repository name as dockerd names it (FamiliarName)
	line    int
	err     string
	errLine int
	// v1: the legacy V1 API (dockerd before 17.12 fell back to it).
	v1 bool
}

type dLayer struct {
	diffID, digest string
	line           int
	mountFrom      string
	mountLine      int
	mountFailed    bool
	checkErr       string // why the HEAD failed ("Failed to check for presence of layer")
	pushing        int    // line of "Pushing layer:", 0 if none
	uploaded       int    // line of "uploaded layer", 0 if none
}

var (
	dTrying = regexp.MustCompile(`^Trying to (pull|push) (?:repository )?(\S+) (?:from|to) (https?://\S+)(?: (v\d))?$`)
	// Before 1.10 dockerd logged the call's URL at info, "POST /v1.18/…".
	dErrResp  = regexp.MustCompile(`^error response for (?:POST|GET) request$`)
	dPulling  = regexp.MustCompile(`^Pulling ref from V2 registry: (\S+)$`)
	dBlob     = regexp.MustCompile(`^pulling blob "?(sha256:[0-9a-f]+)"?`)
	dPresence = regexp.MustCompile(`^Checking for presence of layer (\S+) \((sha256:[0-9a-f]+)\) in (\S+)$`)
	dMount    = regexp.MustCompile(`^attempting to mount layer (\S+) \((sha256:[0-9a-f]+)\) from (\S+)$`)
	dMountBad = regexp.MustCompile(`^failed to mount layer (\S+) \((sha256:[0-9a-f]+)\) from (\S+): `)
	dCheckBad = regexp.MustCompile(`^Failed to check for presence of layer (\S+) `)
	dPushing  = regexp.MustCompile(`^Pushing layer: (\S+)$`)
	dUploaded = regexp.MustCompile(`^uploaded layer (\S+) \((sha256:[0-9a-f]+)\)`)
	dPushRepo = regexp.MustCompile(`^Pushing repository: (\S+)$`)
	// The CLI's progress: "ID: Layer already exists", "ID: Mounted from
	// team/app", "ID: Pushed", and the push's last line "TAG: digest:
	// sha256:… size: N"; a pull's "Status: Downloaded newer image for …",
	// "Status: Image is up to date for …" and "Digest: sha256:…".
	dCLILayer  = regexp.MustCompile(`^([0-9a-f]{12}): (Layer already exists|Mounted from \S+|Pushed)\s*$`)
	dCLIPushed = regexp.MustCompile(`^\S+: digest: (sha256:[0-9a-f]{64}) size: \d+\s*$`)
	dCLIStatus = regexp.MustCompile(`^Status: (?:Downloaded newer image|Image is up to date) for (\S+)\s*$`)
	// dCLICode: a push's error, as the CLI prints it, bare: "denied: …",
	// or "errors:" and a line per error.
	dCLICode = regexp.MustCompile(`^(?:errors:$|(?:denied|unauthorized|toomanyrequests|name unknown|blob unknown|manifest invalid): )`)
	// dErrcodeLine is one registry error of a list: "denied: requested …".
	dErrcodeLine = regexp.MustCompile(`^[a-z][a-z_ ]{1,30}: \S`)
	dCLIDigest   = regexp.MustCompile(`^Digest: (sha256:[0-9a-f]{64})\s*$`)
	// dReqURL (match.go) is a request a Go error names: `Head
	// "https://…": ` (Go 1.14 and later quote it) or `Get https://…: `
	// (older dockerd).
	// dDeniedFor: the pull's final error names the image (familiar name).
	dDeniedFor = regexp.MustCompile(`(?:pull access denied for|manifest for|repository) (\S+?),? (?:repository does not exist|not found)`)
)

// dockerdCredentials is where dockerd's credentials come from, for either
// image store.
const dockerdCredentials = "dockerd pulls and pushes with the credentials the docker CLI sends with each request (from `docker login` " +
	"in the config.json of the user who ran the CLI — root's under sudo — or its credential helper), not with anything " +
	"in dockerd's own environment."

// dockerdCommand is how to record what dockerd does for `docker ARGS`.
func dockerdCommand(args string) string {
	return "regtrace proxy --har trace.har, with dockerd set up by regtrace ca trust --client docker " +
		"(the CA in /etc/docker/certs.d/<host:port>/ca.crt, the proxy in dockerd's environment, dockerd restarted); then docker " + args
}

func readDockerd(ls []line) *Trace {
	t := &Trace{
		Format: FormatDockerd, Name: "dockerd debug log", HidesAuth: true,
		Lacks: "every HTTP status, challenge and token request: dockerd logs only errors, and never whether the docker CLI " +
			"handed it credentials (regtrace builds the requests dockerd makes for the image, with the answer its error names, " +
			"and marks everything else unknown)",
		CredentialsHint: dockerdCredentials,
	}
	var ops []*dOp
	var cur *dOp
	cli := struct {
		layers  map[string]string // short diffID -> what the CLI said
		pushed  string            // a push's manifest digest
		ok      bool              // a pull's "Status: Downloaded …"
		digest  string
		errs    []string
		errLine int
	}{layers: map[string]string{}}
	inCLIErr := false
	// cont: on a terminal, logrus writes a message's newlines as they are,
	// so a list of registry errors ("errors:\ndenied: …\nunauthorized: …")
	// goes on over plain lines, which are added to where its start went.
	var cont []*string
	newOp := func(push bool, image string, n int) *dOp {
		op := &dOp{push: push, image: image, line: n}
		ops = append(ops, op)
		return op
	}
	// What a line says alone (its logrus fields, its message's pattern)
	// is read ahead on other cores.
	pre, stop := readAhead(len(ls), func(i int) dRead {
		var r dRead
		r.d, r.ok = dParse(ls[i].text)
		if r.ok && r.d.msg != "" {
			r.m = dMessage(r.d.msg)
		}
		return r
	})
	defer stop()
	for i, l := range ls {
		r := pre(i)
		d, ok := r.d, r.ok
		if !ok {
			s := strings.TrimSpace(l.text)
			if len(cont) > 0 && strings.HasPrefix(*cont[0], "errors:") && dErrcodeLine.MatchString(s) {
				for _, p := range cont {
					*p += "\n" + s
				}
				continue
			}
			cont = nil
			switch {
			case strings.HasPrefix(s, "Error: image ") && dV1NotFound.MatchString(s):
				cli.errs = append(cli.errs, strings.TrimPrefix(s, "Error: "))
				cli.errLine = l.n
			case strings.HasPrefix(s, "Error response from daemon: "):
				cli.errs = append(cli.errs, strings.TrimPrefix(s, "Error response from daemon: "))
				cli.errLine, inCLIErr = l.n, true
			case dCLILayer.MatchString(s):
				m := dCLILayer.FindStringSubmatch(s)
				cli.layers[m[1]] = m[2]
				inCLIErr = false
			case dCLIPushed.MatchString(s):
				cli.pushed = dCLIPushed.FindStringSubmatch(s)[1]
			case dCLIStatus.MatchString(s):
				cli.ok = true
			case dCLIDigest.MatchString(s):
				cli.digest = dCLIDigest.FindStringSubmatch(s)[1]
			case dCLICode.MatchString(s) && cli.errLine == 0:
				// A push's error, as the CLI prints it: "errors:" and a
				// line per error.
				cli.errs = append(cli.errs, s)
				cli.errLine, inCLIErr = l.n, true
			case inCLIErr && s != "" && len(cli.errs) > 0:
				cli.errs[len(cli.errs)-1] += "\n" + s
			}
			continue
		}
		inCLIErr, cont = false, nil
		term := len(l.text) > 4 && l.text[4] == '['
		msg := d.msg
		if msg == "" {
			continue
		}
		// Cheap first-byte dispatch: the expressions run only on lines
		// that can match (a 100 MB log is millions of lines).
		switch msg[0] {
		case 'C', 'h', 'P': // the API call: a new pull or push
			path := ""
			if m := r.m; m != nil && m[1] == "POST" {
				path = m[2]
			} else if strings.HasPrefix(msg, "handling POST") {
				path = d.reqURL
			}
			if path == "" {
				break
			}
			u, err := url.Parse(path) // once, for both questions below
			if err != nil {
				break
			}
			if img, push, ok := dAPIImage(u); ok {
				cur = newOp(push, img, l.n)
				continue
			}
			if dAPIPath(u) == "/auth" {
				cur = newOp(false, "", l.n)
				cur.login = true
				continue
			}
		case 'T':
			m := r.m
			if m == nil {
				continue
			}
			u, err := url.Parse(m[3])
			if err != nil || u.Host == "" {
				continue
			}
			push := m[1] == "push"
			if cur == nil || cur.ended || cur.push != push || cur.image != "" && parseRef(cur.image).name != parseRef(m[2]).name && len(cur.eps) > 0 {
				cur = newOp(push, "", l.n)
			}
			cur.eps = append(cur.eps, &dEndpoint{base: u, name: m[2], line: l.n, v1: m[4] == "v1"})
			continue
		}
		if cur == nil {
			continue
		}
		if cur.login && cur.loginHost == "" {
			// The login's form data names the registry (the password is
			// masked by dockerd, and never kept here).
			if m := dServerAddr.FindStringSubmatch(l.text); m != nil {
				cur.loginHost = dLoginHost(m[1])
			}
		}
		switch msg[0] {
		case 'A':
			if m := r.m; m != nil && len(cur.eps) > 0 {
				ep := cur.eps[len(cur.eps)-1]
				ep.err, ep.errLine = cmp.Or(m[2], d.err), l.n
				if term {
					cont = append(cont, &ep.err)
				}
			}
		case 'N':
			if m := r.m; m != nil {
				e := cmp.Or(m[2], d.err)
				if len(cur.eps) > 0 && cur.eps[len(cur.eps)-1].err == "" {
					ep := cur.eps[len(cur.eps)-1]
					ep.err, ep.errLine = e, l.n
					cont = append(cont, &ep.err)
				}
				if cur.final == "" {
					cur.final, cur.finalLine = e, l.n
					cont = append(cont, &cur.final)
				}
				if !term {
					cont = nil
				}
				cur.ended = true
			}
		case 'H':
			if m := r.m; m != nil {
				cur.final, cur.finalLine, cur.ended = m[2], l.n, true
				if term {
					cont = append(cont, &cur.final)
				}
			}
		case 'e':
			if dErrResp.MatchString(msg) && d.err != "" {
				cur.final, cur.finalLine, cur.ended = d.err, l.n, true
			}
		case 'p':
			if m := dBlob.FindStringSubmatch(msg); m != nil {
				cur.blobs = append(cur.blobs, m[1])
				cur.blobLines = append(cur.blobLines, l.n)
			}
		case 'P':
			if m := dPulling.FindStringSubmatch(msg); m != nil {
				cur.pulled, cur.pulledLine = true, l.n
				if cur.image == "" {
					cur.image = m[1]
				}
			} else if m := dPushRepo.FindStringSubmatch(msg); m != nil && cur.image == "" {
				cur.image = m[1]
			} else if m := dPushing.FindStringSubmatch(msg); m != nil {
				ly := dLayerOf(cur, m[1])
				if ly == nil {
					// Its HEAD was not logged (dockerd had no digest for it).
					ly = &dLayer{diffID: m[1], line: l.n}
					cur.layers = append(cur.layers, ly)
				}
				ly.pushing = l.n
			}
		case 'C':
			if m := dPresence.FindStringSubmatch(msg); m != nil {
				cur.layers = append(cur.layers, &dLayer{diffID: m[1], digest: m[2], line: l.n})
			}
		case 'F':
			if strings.HasPrefix(msg, "Fetching manifest from remote") && strings.HasPrefix(d.digest, "sha256:") {
				cur.digest = d.digest
			} else if m := dCheckBad.FindStringSubmatch(msg); m != nil {
				if ly := dLayerOf(cur, m[1]); ly != nil {
					ly.checkErr = d.err
				}
			}
		case 'a':
			if m := dMount.FindStringSubmatch(msg); m != nil {
				if ly := dLayerOf(cur, m[1]); ly != nil {
					ly.mountFrom, ly.mountLine = m[3], l.n
				}
			}
		case 'f':
			if m := dMountBad.FindStringSubmatch(msg); m != nil {
				if ly := dLayerOf(cur, m[1]); ly != nil {
					ly.mountFailed = true
				}
			}
		case 'u':
			if m := dUploaded.FindStringSubmatch(msg); m != nil {
				if ly := dLayerOf(cur, m[1]); ly != nil {
					ly.uploaded = l.n
					ly.digest = cmp.Or(ly.digest, m[2])
				}
			}
		}
	}
	// The CLI's output is the last pull's or push's (a ticket pastes the
	// command's output after the journal, or alone).
	if len(cli.errs) > 0 {
		if cur == nil {
			e := cli.errs[0]
			cur = newOp(false, dImageOfError(e), cli.errLine)
			m := dReqURL.FindStringSubmatchIndex(e)
			switch {
			case dLoginFailed.MatchString(e):
				cur.login = true
			case m != nil && cur.image == "":
				// The error names the registry, not the image.
				u, err := url.Parse(e[m[4]:m[5]])
				if err != nil || u.Host == "" {
					break
				}
				if reason := e[m[1]:]; (u.Path == "/v2/" || u.Path == "/v2") && failureKind(reason) == "" && dHasCode(reason) {
					// A registry's code wrapped in the ping's URL: only a
					// login's authenticated GET /v2/ asks the token server.
					cur.login, cur.loginHost = true, u.Host
					break
				}
				cur.eps = append(cur.eps, &dEndpoint{base: &url.URL{Scheme: u.Scheme, Host: u.Host}, line: cli.errLine, err: e, errLine: cli.errLine})
			}
		}
		if cur.final == "" {
			cur.final, cur.finalLine = cli.errs[len(cli.errs)-1], cli.errLine
		}
		cur.ended = true
	}
	b := &dBuilder{t: t}
	// Each operation is built on its own, so a long journal's are built on
	// every core, each part by a builder of its own, joined in order.
	subs := make([]*dBuilder, partsOf(len(ops)))
	finals := make([]string, len(ops)) // each operation's error, redacted
	inParts(len(ops), func(p, lo, hi int) {
		subs[p] = &dBuilder{t: &Trace{}}
		for i := lo; i < hi; i++ {
			op := ops[i]
			last := i == len(ops)-1
			if last && op.digest == "" {
				op.digest = cli.digest
			}
			var layers map[string]string
			ok := false
			if last {
				layers = cli.layers
				ok = cli.ok || op.push && cli.pushed != ""
			}
			subs[p].op(op, layers, ok)
			if op.final != "" {
				finals[i] = redact.Text(op.final)
			}
		}
		for _, f := range subs[p].flows {
			f.Request.Header.Set("User-Agent", "docker")
		}
	})
	for _, sb := range subs {
		b.flows = append(b.flows, sb.flows...)
		t.CredentialsFor = append(t.CredentialsFor, sb.t.CredentialsFor...)
		b.proven += sb.proven
		b.ops += sb.ops
	}
	for i, f := range b.flows {
		f.ID = flow.ID(i + 1)
	}
	t.Flows = b.flows
	t.HidesAuth = b.ops == 0 || b.proven < b.ops
	for _, e := range finals {
		if e != "" {
			t.Errors = append(t.Errors, e)
		}
	}
	for _, op := range ops {
		if op.login && op.image == "" && t.Command == "" && len(ops) == 1 {
			host := b.target(op, nil).host
			t.Command = dockerdCommand("login " + host)
		}
		if op.image != "" {
			t.Image = op.image
			verb := "pull"
			if op.push {
				verb = "push"
			}
			t.Command = dockerdCommand(verb + " " + op.image)
			break
		}
	}
	return t
}

func dLayerOf(op *dOp, diffID string) *dLayer {
	for i := len(op.layers) - 1; i >= 0; i-- {
		if op.layers[i].diffID == diffID {
			return op.layers[i]
		}
	}
	return nil
}

// dAPIImage reads the image of a pull or push API call:
// /v1.41/images/create?fromImage=NAME&tag=TAG, /images/NAME/push?tag=TAG.
func dAPIImage(u *url.URL) (image string, push, ok bool) {
	p := dAPIPath(u)
	q := u.Query()
	tag := q.Get("tag")
	switch {
	case p == "/images/create":
		image = q.Get("fromImage")
		if image == "" {
			return "", false, false // an import (fromSrc), not a pull
		}
	case strings.HasPrefix(p, "/images/") && strings.HasSuffix(p, "/push"):
		image, push = strings.TrimSuffix(strings.TrimPrefix(p, "/images/"), "/push"), true
	default:
		return "", false, false
	}
	if tag != "" {
		sep := ":"
		if strings.Contains(tag, ":") {
			sep = "@" // a digest
		}
		image += sep + tag
	}
	return image, push, true
}

// dAPIPath is an API call's path without its version: /images/create.
func dAPIPath(u *url.URL) string {
	p := u.Path
	if strings.HasPrefix(p, "/v1.") || strings.HasPrefix(p, "/v2.") {
		if i := strings.IndexByte(p[1:], '/'); i >= 0 {
			p = p[i+1:]
		}
	}
	return p
}

// dServerAddr is the registry of a login's form data, as dockerd logs it
// (JSON in "form data: {…}", or its form-data field from 25 on, escaped).
var dServerAddr = regexp.MustCompile(`\\?"serveraddress\\?":\s*\\?"([^"\\]*)`)

// dLoginHost is the registry host of a login's server address: a host, or
// a URL (Docker Hub's is https://index.docker.io/v1/).
func dLoginHost(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	addr = strings.TrimSuffix(addr, "/")
	if addr == "index.docker.io" || addr == "docker.io" {
		return "registry-1.docker.io"
	}
	return addr
}

// dLoginFailed: a login whose authenticated GET /v2/ was answered with an
// error status (registry/auth.go loginV2).
var dLoginFailed = regexp.MustCompile(`login attempt to (https?://\S+?) failed with status: (\d{3})`)

// dImageOfError is the image a final error names, for a log that holds
// only the CLI's output.
func dImageOfError(e string) string {
	if m := dDeniedFor.FindStringSubmatch(e); m != nil {
		return m[1]
	}
	if m := dReqURL.FindStringSubmatch(e); m != nil {
		if u, err := url.Parse(m[2]); err == nil {
			if name, ref, ok := strings.Cut(strings.TrimPrefix(u.Path, "/v2/"), "/manifests/"); ok {
				return u.Host + "/" + name + ":" + ref
			}
		}
	}
	return ""
}

// dBuilder builds every operation's flows.
type dBuilder struct {
	t     *Trace
	flows []*flow.Flow
	// proven counts the operations whose log says whether credentials
	// were sent; ops counts them all.
	proven, ops int
	// start is where the flows of the endpoint being built begin.
	start int
}

// flowFor is the endpoint's request the log already shows unanswered, or a
// new one.
func (b *dBuilder) flowFor(method string, u *url.URL, n int) *flow.Flow {
	if f := lastURL(b.flows[b.start:], method, u.String()); f != nil && unanswered(f) {
		return f
	}
	return b.add(method, u.String(), n, true)
}

func (b *dBuilder) add(method, raw string, n int, shown bool) *flow.Flow {
	f := inferredFlow(len(b.flows)+1, method, raw, n, shown)
	u := f.Request.URL
	if strings.Contains(u.Path, "/manifests/") && (method == http.MethodHead || method == http.MethodGet) {
		f.Request.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	}
	b.flows = append(b.flows, f)
	return f
}

// dTarget is where one endpoint's requests go.
type dTarget struct {
	base string // scheme://host
	host string
	name string // repository path at the registry
	tag  string // tag or digest
	hub  bool
}

func (g dTarget) manifest(ref string) string {
	return g.base + "/v2/" + g.name + "/manifests/" + cmp.Or(ref, g.tag)
}

func (b *dBuilder) target(op *dOp, ep *dEndpoint) dTarget {
	if op.login {
		host := op.loginHost
		if m := dReqURL.FindStringSubmatch(op.final); m != nil && host == "" {
			if u, err := url.Parse(m[2]); err == nil {
				host = u.Host
			}
		}
		if m := dLoginFailed.FindStringSubmatch(op.final); m != nil && host == "" {
			if u, err := url.Parse(m[1]); err == nil {
				host = u.Host
			}
		}
		host = cmp.Or(host, "unknown")
		return dTarget{base: "https://" + host, host: host, hub: kRef{domain: host}.hub()}
	}
	img := op.image
	if ep != nil && (img == "" || parseRef(img).name != parseRef(ep.name).name) {
		img = ep.name
	}
	ref := parseRef(img)
	if ep != nil {
		// dockerd names the repository by its familiar name; the endpoint
		// is the host it goes to (a mirror, or the registry).
		ref.domain = ep.base.Host
		if n := parseRef(ep.name); n.name != "" && img == ep.name {
			ref.name = n.name
		}
	}
	if i := strings.LastIndex(img, "@"); i >= 0 {
		ref.ref = img[i+1:]
	}
	g := dTarget{base: "https://" + ref.host(), host: ref.host(), name: ref.name, tag: ref.ref, hub: ref.hub()}
	if ep != nil {
		g.base = ep.base.Scheme + "://" + ep.base.Host
		g.host = ep.base.Host
		g.hub = kRef{domain: ep.base.Host}.hub()
	}
	return g
}

// op builds one pull's or push's flows. layers and ok are the CLI's
// words, when they are this operation's.
func (b *dBuilder) op(op *dOp, layers map[string]string, cliOK bool) {
	b.ops++
	eps := op.eps
	if len(eps) == 0 {
		// No endpoint in the log (the CLI's output alone, or a cut log):
		// the registry the image names.
		eps = []*dEndpoint{nil}
	}
	for i, ep := range eps {
		g := b.target(op, ep)
		n := op.line
		if ep != nil {
			n = ep.line
		}
		e, en := "", n
		switch {
		case ep != nil && ep.err != "":
			e, en = ep.err, ep.errLine
		case i == len(eps)-1 && op.final != "":
			e, en = op.final, op.finalLine
		}
		start := len(b.flows)
		ping := b.add(http.MethodGet, g.base+"/v2/", n, false)
		if op.login {
			b.login(op, g, ping, e, en)
			continue
		}
		if ep != nil && ep.v1 || ep == nil && dV1NotFound.MatchString(e) {
			b.v1(op, g, ping, start, e, en)
			continue
		}
		if e != "" {
			if op.pulled && !op.push && i == len(eps)-1 {
				// The manifest was fetched before the failure.
				b.pullFlows(op, g, false)
			}
			b.start = start
			b.failed(op, g, ping, start, dTranslate(e), en)
			continue
		}
		if i < len(eps)-1 {
			continue
		}
		if op.push {
			b.pushFlows(op, g, layers, cliOK)
		} else {
			b.pullFlows(op, g, cliOK)
		}
	}
}

// login builds a docker login's requests (registry/auth.go loginV2): an
// anonymous ping, then GET /v2/ with the credentials, for which dockerd
// first asks the token server when the ping challenged Bearer. A token
// server's refusal comes wrapped in the GET's URL; the registry's own
// refusal as "login attempt to URL failed with status: N".
func (b *dBuilder) login(op *dOp, g dTarget, ping *flow.Flow, e string, n int) {
	if e == "" {
		return
	}
	if m := dLoginFailed.FindStringSubmatch(e); m != nil {
		// The ping challenged (a ping answered 200 lets the login
		// through); which scheme, and so what the GET carried (Basic, or a
		// token got with the credentials), the log does not say.
		st, _ := strconv.Atoi(m[2])
		ping.Response.Status = http.StatusUnauthorized
		b.add(http.MethodGet, m[1], n, true).Response.Status = st
		b.credsFor(g.host)
		return
	}
	b.start = len(b.flows) - 1
	if urls := dReqURL.FindAllStringSubmatchIndex(e, -1); len(urls) > 0 {
		last := urls[len(urls)-1]
		method, raw := strings.ToUpper(e[last[2]:last[3]]), e[last[4]:last[5]]
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			reason := strings.TrimSpace(e[last[1]:])
			if (u.Path == "/v2/" || u.Path == "/v2") && len(urls) == 1 && failureKind(reason) == "" && dHasCode(reason) {
				// The credentials went to the token server, which refused.
				b.tokenRefused(g, ping, false, reason, n)
				return
			}
			b.failedAt(op, g, ping, method, u, reason, len(urls) > 1, e, n)
			return
		}
	}
	sub := applyError(b.flows[b.start:], e, false)
	b.flows = append(b.flows[:b.start], failSomewhere(sub, e, "")...)
}

// dV1NotFound is the legacy V1 API's answer for an image it does not
// serve: "Error: image NAME:TAG not found" (the V1 pull's progress).
var dV1NotFound = regexp.MustCompile(`(?:^|: )image \S+ not found`)

// v1 builds the requests of the legacy V1 API (dockerd before 17.12 fell
// back to it after a V2 error): its ping, /v1/_ping, and the image list of
// the repository, whose 404 dockerd reports as "image … not found".
func (b *dBuilder) v1(op *dOp, g dTarget, ping *flow.Flow, start int, e string, n int) {
	ping.Request.URL.Path = "/v1/_ping"
	if e == "" {
		return
	}
	if m := dReqURL.FindAllStringSubmatchIndex(e, -1); len(m) > 0 {
		last := m[len(m)-1]
		raw, reason := e[last[4]:last[5]], strings.TrimSpace(e[last[1]:])
		f := ping
		if u, err := url.Parse(raw); err == nil && u.Host != "" && u.Path != ping.Request.URL.Path {
			f = b.add(strings.ToUpper(e[last[2]:last[3]]), raw, n, true)
		}
		if failureKind(reason) != "" || !dHasCode(reason) {
			setErr(f, reason)
		} else {
			dAnswer(f, reason)
		}
		return
	}
	ping.Response.Status = http.StatusOK // dockerd asked for the image list after it
	f := b.add(http.MethodGet, g.base+"/v1/repositories/"+g.name+"/images", n, false)
	if dV1NotFound.MatchString(e) {
		f.Response.Status = http.StatusNotFound
		return
	}
	sub := applyError(b.flows[start:], e, false)
	b.flows = append(b.flows[:start], failSomewhere(sub, e, op.image)...)
}

// dTranslate gives back the registry's code that dockerd's own wording of
// a pull's error stands for (TranslatePullError, distribution/errors.go),
// where the wording dropped it: before 17.07 "manifest for NAME:TAG not
// found" was MANIFEST_UNKNOWN, "repository NAME not found: does not exist
// or no pull access" DENIED and "repository NAME not found" NAME_UNKNOWN.
func dTranslate(e string) string {
	m := strings.ToLower(e)
	switch {
	case strings.Contains(m, "does not exist or no pull access") && !strings.Contains(m, "denied:"):
		return e + " (denied: requested access to the resource is denied)"
	case strings.Contains(m, " not found") && dOldNotFound.MatchString(m) && !strings.Contains(m, "unknown"):
		if strings.HasPrefix(dOldNotFound.FindStringSubmatch(m)[1], "manifest") {
			return e + " (manifest unknown)"
		}
		return e + " (name unknown)"
	}
	return e
}

var dOldNotFound = regexp.MustCompile(`\b(manifest for|repository) \S+ not found`)

// pullFlows: a pull the log shows going on, or done.
func (b *dBuilder) pullFlows(op *dOp, g dTarget, cliOK bool) {
	done := cliOK || op.pulled && !op.ended
	if !op.pulled && !done {
		return
	}
	n := op.pulledLine
	if n == 0 {
		n = op.line
	}
	st := 0
	if done || op.pulled {
		st = 200
	}
	if !strings.Contains(g.tag, ":") {
		b.add(http.MethodHead, g.manifest(""), n, false).Response.Status = st
	}
	if op.digest != "" {
		b.add(http.MethodGet, g.manifest(op.digest), n, false).Response.Status = st
	}
	for i, d := range op.blobs {
		f := b.add(http.MethodGet, g.base+"/v2/"+g.name+"/blobs/"+d, op.blobLines[i], true)
		if done {
			f.Response.Status = 200
		}
	}
}

// pushFlows: a push's layers and, when it went through, its manifest.
func (b *dBuilder) pushFlows(op *dOp, g dTarget, layers map[string]string, cliOK bool) {
	for _, ly := range op.layers {
		short := strings.TrimPrefix(ly.diffID, "sha256:")
		if len(short) > 12 {
			short = short[:12]
		}
		said := layers[short]
		head := &flow.Flow{Response: &flow.Response{}} // not logged: no digest to ask for
		if ly.digest != "" {
			head = b.add(http.MethodHead, g.base+"/v2/"+g.name+"/blobs/"+ly.digest, ly.line, true)
		}
		switch {
		case said == "Layer already exists":
			head.Response.Status = 200
			continue
		case ly.mountFrom != "" || ly.pushing > 0 || ly.uploaded > 0 || strings.HasPrefix(said, "Mounted from") || said == "Pushed":
			// dockerd mounts or uploads only what the HEAD did not find.
			head.Response.Status = 404
		}
		if ly.mountFrom != "" {
			from := ly.mountFrom
			if r := parseRef(from); r.domain == g.host || r.domain == "docker.io" && g.hub {
				from = r.name
			}
			f := b.add(http.MethodPost, g.base+"/v2/"+g.name+"/blobs/uploads/?mount="+url.QueryEscape(ly.digest)+"&from="+url.QueryEscape(from), ly.mountLine, true)
			switch {
			case strings.HasPrefix(said, "Mounted from"):
				f.Response.Status = 201
			case ly.mountFailed || ly.uploaded > 0 || said == "Pushed":
				f.Response.Status = 202 // the registry started an upload instead
			}
		}
		if ly.uploaded > 0 || said == "Pushed" {
			n := cmp.Or(ly.uploaded, ly.pushing, ly.line)
			if !ly.mountFailed && ly.mountFrom == "" {
				b.add(http.MethodPost, g.base+"/v2/"+g.name+"/blobs/uploads/", n, false).Response.Status = 202
			}
			put := g.base + "/v2/" + g.name + "/blobs/uploads/"
			if ly.digest != "" {
				put += "?digest=" + url.QueryEscape(ly.digest)
			}
			b.add(http.MethodPut, put, n, ly.uploaded > 0).Response.Status = 201
		}
	}
	if cliOK {
		b.add(http.MethodPut, g.manifest(""), op.line, false).Response.Status = 201
	}
}

// dInsufficientLower: distribution's answer to a token without the scope,
// a 401 with DENIED and UNAUTHORIZED together (registry/handlers/app.go),
// in m, an error lower-cased.
func dInsufficientLower(m string) bool {
	return strings.Contains(m, "denied: requested access to the resource is denied") && strings.Contains(m, "unauthorized: authentication required")
}

// failed builds the flows of an endpoint that ended in error e.
func (b *dBuilder) failed(op *dOp, g dTarget, ping *flow.Flow, start int, e string, n int) {
	urls := dReqURL.FindAllStringSubmatchIndex(e, -1)
	if len(urls) > 0 {
		last := urls[len(urls)-1]
		method, raw := strings.ToUpper(e[last[2]:last[3]]), e[last[4]:last[5]]
		reason := strings.TrimSpace(e[last[1]:])
		u, err := url.Parse(raw)
		if err == nil && u.Host != "" {
			b.failedAt(op, g, ping, method, u, reason, len(urls) > 1, e, n)
			return
		}
	}
	// The registry's own answer, with no URL: to the manifest (a pull),
	// or to the step a push was at.
	var target []*flow.Flow
	low := strings.ToLower(e)
	insufficient := dInsufficientLower(low)
	// Docker Hub challenges every request for a repository, anonymous ones
	// too: any answer of its registry came after a token.
	token := insufficient || g.hub && dHasCodeLower(e, low)
	if token {
		// A token was sent and refused: the ping challenged Bearer.
		b.bearer(g, ping, op.push, n)
	}
	switch {
	case op.push:
		target = b.pushFailure(op, g, n)
	case op.pulled:
		// After the manifest: a blob, as applyError finds it.
	default:
		head := b.add(http.MethodHead, g.manifest(""), n, false)
		get := b.add(http.MethodGet, g.manifest(""), n, true)
		target = []*flow.Flow{head, get}
	}
	if token {
		for _, f := range target {
			f.Request.Header.Set("Authorization", tokenFromLog)
		}
	}
	sub := applyErrorLower(b.flows[start:], e, low, insufficient)
	sub = failSomewhere(sub, e, op.image)
	b.flows = append(b.flows[:start], sub...)
	// A HEAD has no body: it got the status the GET after it got.
	if !op.push && len(target) == 2 && target[1].Response != nil && target[1].Response.Status > 0 {
		h, g2 := target[0], target[1].Response
		h.Response.Status = g2.Status
		if c := g2.Header.Get("Www-Authenticate"); c != "" {
			h.Response.Header.Set("Www-Authenticate", c)
		}
	}
	for _, f := range b.flows[start:] {
		if f.Origin == "the final error" {
			f.Origin = "line " + strconv.Itoa(n)
		}
	}
}

// pushFailure adds the request a push failed at, when its error names
// none: a layer the log shows unfinished, else the manifest.
func (b *dBuilder) pushFailure(op *dOp, g dTarget, n int) []*flow.Flow {
	for _, ly := range op.layers {
		if ly.pushing > 0 && ly.uploaded == 0 {
			// The HEAD did not find the layer, or failed: dockerd uploads
			// it either way.
			if ly.digest == "" {
				return []*flow.Flow{b.add(http.MethodPost, g.base+"/v2/"+g.name+"/blobs/uploads/", ly.pushing, false)}
			}
			head := b.add(http.MethodHead, g.base+"/v2/"+g.name+"/blobs/"+ly.digest, ly.line, true)
			if ly.checkErr != "" {
				if dHasCode(ly.checkErr) {
					dAnswer(head, ly.checkErr)
				} else {
					setErr(head, ly.checkErr)
				}
			}
			return []*flow.Flow{b.add(http.MethodPost, g.base+"/v2/"+g.name+"/blobs/uploads/", ly.pushing, false)}
		}
	}
	// Every layer the log names is there (the registry had it, or it was
	// mounted or uploaded): what is left is the manifest.
	for _, ly := range op.layers {
		if ly.digest == "" {
			continue
		}
		f := b.add(http.MethodHead, g.base+"/v2/"+g.name+"/blobs/"+ly.digest, ly.line, true)
		if ly.mountFrom == "" && ly.uploaded == 0 {
			f.Response.Status = 200
		}
	}
	return []*flow.Flow{b.add(http.MethodPut, g.manifest(""), n, false)}
}

// dUnknownRealm stands for a token server the log does not name: dockerd
// logs the realm only when the token request fails on its way to it.
const dUnknownRealm = "https://token-server.not-in-the-log/token"

// realm is the token endpoint of the registry: Docker Hub's is known, any
// other's is not in the log (dUnknownRealm, and no service).
func (g dTarget) realm() (realm, service string) {
	if g.hub {
		return "https://auth.docker.io/token", "registry.docker.io"
	}
	return dUnknownRealm, ""
}

// scope is what dockerd asks the token server for: pull, or push and pull
// (distribution.NewV2Repository's actions).
func (g dTarget) scope(push bool) string {
	if push {
		return "repository:" + g.name + ":push,pull"
	}
	return "repository:" + g.name + ":pull"
}

// bearer: the ping answered with a Bearer challenge and a token request
// followed it, whose answer (a token, since the registry judged it) is not
// in the log.
func (b *dBuilder) bearer(g dTarget, ping *flow.Flow, push bool, n int) *flow.Flow {
	realm, svc := g.realm()
	// strconv.Quote is fmt's %q for a string; the query is what
	// url.Values.Encode writes (keys sorted: scope, service).
	ch := "Bearer realm=" + strconv.Quote(realm)
	q := ""
	if g.name != "" {
		q = "scope=" + url.QueryEscape(g.scope(push)) // a login asks for no scope
	}
	if svc != "" {
		ch += ",service=" + strconv.Quote(svc)
		if q != "" {
			q += "&"
		}
		q += "service=" + url.QueryEscape(svc)
	}
	ping.Response.Status = http.StatusUnauthorized
	ping.Response.Header.Set("Www-Authenticate", ch)
	return b.add(http.MethodGet, realm+"?"+q, n, false)
}

// failedAt: the error names the request that failed (the last URL of a
// nested error: `Head "MANIFEST": Get "REALM": REASON`).
func (b *dBuilder) failedAt(op *dOp, g dTarget, ping *flow.Flow, method string, u *url.URL, reason string, nested bool, e string, n int) {
	kind := failureKind(reason)
	switch {
	case u.Path == "/v2/" || u.Path == "/v2":
		// The ping itself.
		if kind != "" || !dHasCode(reason) {
			setErr(ping, reason)
			return
		}
		dAnswer(ping, reason)
	case nested || !strings.HasPrefix(u.Path, "/v2/"):
		// The token request, on its way to the realm the challenge named.
		realm := u.Scheme + "://" + u.Host + u.Path
		ch := "Bearer realm=" + strconv.Quote(realm)
		uq := u.Query()
		if svc := uq.Get("service"); svc != "" {
			ch += ",service=" + strconv.Quote(svc)
		}
		ping.Response.Status = http.StatusUnauthorized
		ping.Response.Header.Set("Www-Authenticate", ch)
		tf := b.add(method, u.String(), n, true)
		if acct := uq.Get("account"); acct != "" {
			// dockerd names the account only when it has credentials,
			// which it sends as Basic.
			tf.Request.Header.Set("Authorization", redactedNoUser)
			b.credsFor(g.host)
			b.proven++
		}
		if kind != "" || !dHasCode(reason) {
			setErr(tf, reason)
			return
		}
		dAnswer(tf, reason)
	case strings.Contains(strings.ToLower(reason), "no basic auth credentials"):
		// The ping's Basic challenge, and no credentials to answer it:
		// the request was never sent.
		ping.Response.Status = http.StatusUnauthorized
		ping.Response.Header.Set("Www-Authenticate", "Basic")
		b.proven++
	case kind != "" || !dHasCode(reason):
		setErr(b.flowFor(method, u, n), reason)
	default:
		// A registry error wrapped in the registry request's URL comes from
		// the token fetch inside it: the token server refused. Its URL is
		// not in the log.
		b.tokenRefused(g, ping, op.push, reason, n)
	}
}

// tokenRefused: the token server answered the token request with an
// error.
func (b *dBuilder) tokenRefused(g dTarget, ping *flow.Flow, push bool, reason string, n int) {
	tf := b.bearer(g, ping, push, n)
	m := strings.ToLower(reason)
	if g.name == "" || strings.Contains(m, "username or password") || strings.Contains(m, "username/password") || strings.Contains(m, "incorrect") {
		// A login sends credentials; elsewhere, the token server's words
		// for credentials it checked.
		tf.Request.Header.Set("Authorization", redactedNoUser)
		b.credsFor(g.host)
		b.proven++
	}
	dAnswer(tf, reason)
}

func (b *dBuilder) credsFor(host string) {
	b.t.CredentialsFor = append(b.t.CredentialsFor, host)
}

// dHasCode: the text is a registry error ("unauthorized: …"), not a
// transport's.
func dHasCode(s string) bool { return dHasCodeLower(s, strings.ToLower(s)) }

// dHasCodeLower is dHasCode with low, s lower-cased.
func dHasCodeLower(s, low string) bool {
	_, st, _ := registryCodesLower(s, low)
	return st != 0
}

// dAnswer is the answer a registry error stands for: "CODE: message"
// keeps its message in the body.
func dAnswer(f *flow.Flow, s string) {
	errs, st, _ := registryCodes(s)
	if code, msg, ok := strings.Cut(strings.TrimSpace(s), ": "); ok && len(errs) == 1 && !strings.Contains(msg, "\n") &&
		strings.EqualFold(strings.ReplaceAll(code, " ", "_"), errs[0]["code"]) {
		errs[0]["message"] = msg
	}
	setStatus(f, st, errs, s)
}
