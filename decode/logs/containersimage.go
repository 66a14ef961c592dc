package logs

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
)

// FormatContainersImage is the debug log of containers/image clients:
// skopeo --debug, podman --log-level=debug, buildah, and CRI-O's journal.
// They log through logrus, as `time="…" level=debug msg="…"` or, on a
// terminal, `DEBU[0000] …`. What containers/image logs (docker/docker_client.go):
// every request as "METHOD URL" (token requests too), the ping's status or
// error, "Detected insufficient_scope error", the credentials lookup, and
// "Accessing … failed: …" and the final error. It never logs
// Authorization, WWW-Authenticate, bodies, or any status but the ping's.
const FormatContainersImage Format = "containers-image"

// ciMarkers are messages only containers/image logs.
var ciMarkers = []string{
	"Trying to access \"", "Ping http", "No credentials for ", "No credentials matching ",
	"Loading registries configuration", "Using registries.d directory", "Returning credentials for ",
	"Looking for TLS certificates and private keys in", "Increasing token expiration to",
}

func sniffContainersImage(head []string) bool {
	for _, h := range head {
		if _, msg, ok := parseLogrus(h); ok {
			for _, m := range ciMarkers {
				if strings.Contains(msg, m) {
					return true
				}
			}
		}
	}
	return false
}

// parseLogrus reads a logrus line: key=value text (`time="…" level=debug
// msg="…"`) or the terminal form (`DEBU[0000] message`).
func parseLogrus(s string) (level, msg string, ok bool) {
	if len(s) > 5 && s[4] == '[' && strings.ToUpper(s[:4]) == s[:4] {
		if i := strings.Index(s, "] "); i > 0 {
			return logrusLevel(s[:4]), strings.TrimSpace(s[i+2:]), true
		}
	}
	lv, hasLevel := logfmtValue(s, "level")
	m, hasMsg := logfmtValue(s, "msg")
	if !hasLevel || !hasMsg {
		return "", "", false
	}
	return lv, m, true
}

// logfmtValue finds key=value in a logfmt line without building a map:
// a 100 MB log is millions of lines.
func logfmtValue(s, key string) (string, bool) {
	for i := 0; ; {
		j := strings.Index(s[i:], key)
		if j < 0 {
			return "", false
		}
		j += i
		if j > 0 && s[j-1] != ' ' || j+len(key) >= len(s) || s[j+len(key)] != '=' {
			i = j + len(key)
			continue
		}
		v := s[j+len(key)+1:]
		if v == "" || v[0] != '"' {
			if k := strings.IndexByte(v, ' '); k >= 0 {
				v = v[:k]
			}
			return v, true
		}
		k := 1
		esc := false
		for k < len(v) && v[k] != '"' {
			if v[k] == '\\' {
				esc = true
				k++
			}
			k++
		}
		if k >= len(v) {
			return v[1:], true // unterminated: keep what there is
		}
		if !esc {
			return v[1:k], true
		}
		if u, err := strconv.Unquote(v[:k+1]); err == nil {
			return u, true
		}
		return v[1:k], true
	}
}

func logrusLevel(abbr string) string {
	switch abbr {
	case "DEBU":
		return "debug"
	case "INFO":
		return "info"
	case "WARN":
		return "warning"
	case "ERRO":
		return "error"
	case "FATA":
		return "fatal"
	case "PANI":
		return "panic"
	}
	return "trace"
}

var (
	ciPing      = regexp.MustCompile(`^Ping (https?://\S+) status (\d{3})$`)
	ciPingErr   = regexp.MustCompile(`^Ping (https?://\S+) err (.*)$`)
	ciTrying    = regexp.MustCompile(`^Trying to access "([^"]+)"`)
	ciAccessing = regexp.MustCompile(`^Accessing "([^"]+)" failed: (.*)$`)
)

func readContainersImage(ls []line) *Trace {
	t := &Trace{
		Format: FormatContainersImage, Name: "containers/image debug log", HidesAuth: true,
		Lacks: "Authorization headers, challenges, tokens, response bodies, or the status of any request but the /v2/ ping " +
			"(regtrace puts back the headers containers/image sends and reads the failing answer from the client's error)",
	}
	program := "skopeo"
	var flows []*flow.Flow
	var lastErr string
	insufficient := false
	inError := false             // podman's "Error: …" goes on over plain lines
	creds := map[string]bool{}   // registry host -> credentials found for it
	users := map[string]string{} // registry host -> the user of credentials found in flags
	flagUser := ""               // the user of --creds in the command line the log echoes
	lookup := false              // the log shows the credential lookup
	for i, l := range ls {
		// The program names itself near the top (podman's "Called
		// pull.PersistentPreRunE(/usr/bin/podman …)"), if at all.
		if i < sniffLines {
			low := strings.ToLower(l.text)
			switch {
			case strings.Contains(low, "podman"):
				program = "podman"
			case strings.Contains(low, "crio") || strings.Contains(low, "cri-o"):
				program = "cri-o"
			case strings.Contains(low, "buildah"):
				program = "buildah"
			}
			if strings.Contains(l.text, "-creds") || strings.Contains(l.text, "--username") {
				flagUser = ciFlagUser(l.text)
			}
		}
		level, msg, ok := parseLogrus(l.text)
		if !ok {
			// podman prints its final error plainly, over several lines.
			if e, found := strings.CutPrefix(strings.TrimSpace(l.text), "Error: "); found {
				lastErr, inError = e, true
				if program == "skopeo" {
					program = "podman" // skopeo ends with level=fatal, podman and buildah with "Error: "
				}
				t.Errors = append(t.Errors, redact.Text(e))
			} else if inError && strings.TrimSpace(l.text) != "" && len(t.Errors) > 0 {
				lastErr += "\n" + l.text
				t.Errors[len(t.Errors)-1] += "\n" + redact.Text(l.text)
			}
			continue
		}
		inError = false
		if strings.HasPrefix(msg, "Accessing \"") && ciAccessing.MatchString(msg) {
			inError = true // its error may go on over plain lines
		}
		// Cheap prefix checks first: the expressions run only on lines
		// that can match (a 100 MB log is millions of lines).
		first := ""
		if len(msg) > 0 {
			first = msg[:1]
		}
		switch {
		case strings.ContainsAny(first, "GHPD") && requestLine(msg) != "":
			method, raw, _ := strings.Cut(msg, " ")
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				continue
			}
			flows = append(flows, &flow.Flow{
				ID: flow.ID(len(flows) + 1), Origin: "line " + strconv.Itoa(l.n),
				Request:  flow.Request{Method: method, URL: u, Proto: "HTTP/1.1", Header: http.Header{}},
				Response: &flow.Response{Inferred: true, Header: http.Header{}},
			})
		case first == "P" && ciPing.MatchString(msg):
			m := ciPing.FindStringSubmatch(msg)
			if f := lastTo(flows, m[1]); f != nil {
				f.Response.Status, _ = strconv.Atoi(m[2])
			}
		case first == "P" && ciPingErr.MatchString(msg):
			m := ciPingErr.FindStringSubmatch(msg)
			if f := lastTo(flows, m[1]); f != nil {
				setErr(f, m[2])
			}
		case strings.HasPrefix(msg, "Detected insufficient_scope error"):
			insufficient = true
		case (first == "R" || first == "F") && ciCredsFound.MatchString(msg):
			host := hostOf(ciCredsFound.FindStringSubmatch(msg)[1])
			creds[host] = true
			// DockerAuthConfig is what the flags set; other sources
			// (auth.json, helpers) are not in the log.
			if flagUser != "" && strings.HasSuffix(msg, " from DockerAuthConfig") {
				users[host] = flagUser
			}
			lookup = true
		case strings.HasPrefix(msg, "No credentials for ") || strings.HasPrefix(msg, "No credentials matching "):
			lookup = true
		case first == "T" && ciTrying.MatchString(msg):
			if t.Image == "" {
				t.Image = ciTrying.FindStringSubmatch(msg)[1]
			}
		case first == "A" && ciAccessing.MatchString(msg):
			m := ciAccessing.FindStringSubmatch(msg)
			lastErr = m[2]
			t.Errors = append(t.Errors, redact.Text(msg))
		case level == "fatal" || level == "error":
			lastErr = msg
			t.Errors = append(t.Errors, redact.Text(msg))
			inError = true // on a terminal, a message's newlines are real
		}
	}
	if lastErr != "" {
		flows = applyError(flows, lastErr, insufficient)
		flows = failSomewhere(flows, lastErr, t.Image)
	}
	reconstructAuth(flows, creds, users)
	// With the lookup in the log, the headers put back are what the
	// library sends: a request without one was really anonymous.
	t.HidesAuth = !lookup
	for _, f := range flows {
		f.Request.Header.Set("User-Agent", program)
	}
	for host := range creds {
		t.CredentialsFor = append(t.CredentialsFor, host)
	}
	t.Flows = flows
	t.Name = program + " debug log"
	if t.Image != "" {
		t.Command = "regtrace run --har trace.har -- " + program + " inspect docker://" + t.Image
		if program == "podman" {
			t.Command = "regtrace run --har trace.har -- podman pull " + t.Image
		}
	}
	return t
}

// requestLine returns the URL of a request line ("GET https://…", the
// whole message), or "". Most debug lines are not: this runs on millions.
func requestLine(msg string) string {
	m, _, ok := strings.Cut(msg[:min(len(msg), 8)], " ")
	if !ok {
		return ""
	}
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	default:
		return ""
	}
	u := msg[len(m)+1:]
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") || strings.ContainsAny(u, " \t") {
		return ""
	}
	return u
}

// ciCredsFound: the lookup found credentials for a registry, from --creds
// ("Returning credentials for KEY from DockerAuthConfig") or a helper
// ("Found credentials for KEY in credential helper …"). An auth file match
// is logged by no message of its own.
var ciCredsFound = regexp.MustCompile(`^(?:Returning|Found) credentials for (\S+) (?:from|in) `)

// hostOf is the registry host of "host[:port]/repo".
func hostOf(ref string) string {
	host, _, _ := strings.Cut(ref, "/")
	return host
}

// redactedNoUser is how decode/redact writes Basic credentials whose user
// is not known: sent, but not whose.
var redactedNoUser = redact.BasicOf("")

// ciFlagUser is the user of the credentials a command line gives in flags
// (podman's debug log echoes it: "Called pull.PersistentPreRunE(podman
// pull --creds alice:pw …)"): --creds, --src-creds, --dest-creds USER[:PW]
// or --username USER, as "--flag value" or "--flag=value". Flags naming
// different users leave it unknown (""): which registry each went to is
// not said.
func ciFlagUser(text string) string {
	user := ""
	fields := strings.Fields(text)
	for i, f := range fields {
		name, val, inline := strings.Cut(f, "=")
		switch strings.TrimLeft(name, "-") {
		case "creds", "src-creds", "dest-creds", "username":
		default:
			continue
		}
		if !strings.HasPrefix(name, "--") {
			continue
		}
		if !inline {
			if i+1 == len(fields) {
				continue
			}
			val = fields[i+1]
		}
		u, _, _ := strings.Cut(strings.Trim(val, `"'`), ":")
		switch {
		case u == "" || strings.HasPrefix(u, "-"):
			continue
		case user != "" && u != user:
			return ""
		}
		user = u
	}
	return user
}

// tokenFromLog stands for a token the log shows was obtained but not what
// it is: decode reads it as an opaque token of unknown grants.
const tokenFromLog = "Bearer REDACTED-token-not-in-the-log"

// reconstructAuth puts back the headers containers/image sends, which its
// log never shows (docker/docker_client.go): after a /v2/ ping answered
// 401, a token request means a Bearer challenge — the credentials found go
// to the token server as Basic and the token to the registry — while
// registry requests with no token request between mean a Basic challenge,
// answered with the credentials found. Without credentials nothing is sent.
func reconstructAuth(flows []*flow.Flow, creds map[string]bool, users map[string]string) {
	basic := map[string]bool{} // registry host -> its ping was 401 and no token was asked for
	token := map[string]bool{} // registry host -> a token request went on
	ping := map[string]*flow.Flow{}
	var reg string // the registry whose ping came last
	for _, f := range flows {
		u := f.Request.URL
		switch {
		case u.Path == "/v2/" || u.Path == "/v2":
			reg = u.Host
			ping[reg] = f
			basic[reg] = f.Response != nil && f.Response.Status == http.StatusUnauthorized
			token[reg] = false
		case !strings.HasPrefix(u.Path, "/v2/"): // a token request
			basic[reg] = false
			// The realm came from the ping's challenge: put it back, so the
			// token request belongs to its registry.
			if p := ping[reg]; p != nil && p.Response != nil && p.Response.Status == http.StatusUnauthorized && p.Response.Header.Get("Www-Authenticate") == "" {
				ch := fmt.Sprintf("Bearer realm=%q", u.Scheme+"://"+u.Host+u.Path)
				if svc := u.Query().Get("service"); svc != "" {
					ch += fmt.Sprintf(",service=%q", svc)
				}
				p.Response.Header.Set("Www-Authenticate", ch)
			}
			if creds[reg] {
				f.Request.Header.Set("Authorization", redact.BasicOf(users[reg]))
			}
			token[reg] = f.Err == nil && (f.Response == nil || f.Response.Status == 0 || f.Response.Status == http.StatusOK)
		case token[u.Host]:
			f.Request.Header.Set("Authorization", tokenFromLog)
		case basic[u.Host]:
			if creds[u.Host] {
				f.Request.Header.Set("Authorization", redact.BasicOf(users[u.Host]))
			}
			// The challenge the client answered with Basic, or gave up on.
			for _, g := range []*flow.Flow{ping[u.Host], f} {
				if g.Response != nil && g.Response.Status == http.StatusUnauthorized && g.Response.Header.Get("Www-Authenticate") == "" {
					g.Response.Header.Set("Www-Authenticate", "Basic")
				}
			}
		}
	}
}

// lastTo is the last flow to rawURL that has no status yet.
func lastTo(flows []*flow.Flow, rawURL string) *flow.Flow {
	for i := len(flows) - 1; i >= 0; i-- {
		if flows[i].Request.URL.String() == rawURL && flows[i].Response.Status == 0 && flows[i].Err == nil {
			return flows[i]
		}
	}
	return nil
}
