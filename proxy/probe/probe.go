// Package probe is regtrace's active side: a registry client that walks what
// a pull does — ping, challenge, token, manifest, platform manifest, config —
// once without credentials and once with the credentials a client would
// use, through the proxy's own recording transport, and settles what a
// passive trace cannot: missing or private, refused or denied.
//
// It never writes to a registry: --push reads what the token would grant.
// Every exchange is a flow.Flow, decoded as it arrives, so the caller can
// explain, render and record the walk like any trace.
package probe

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/redact"
	"github.com/regtrace/regtrace/proxy"
)

// Options configure a probe. The zero value of every field but Image is a
// safe default.
type Options struct {
	Image Image
	// Credential is what the client would send; nil probes anonymously only.
	Credential *Credential
	// CredentialErr is set when the client's credential lookup fails (a
	// helper missing from PATH): the client would stop before sending a
	// request, whatever the registry says.
	CredentialErr error
	// Push also asks the token server for push (and MountFrom for pull on
	// that repository, as a cross-repository mount does) and reads whether
	// the token grants it. Nothing is written.
	Push      bool
	MountFrom string
	// PlainHTTP speaks HTTP to the registry (or mirror), as clients do for
	// an "insecure registry" without TLS.
	PlainHTTP bool
	// Mirror, when set, is a registry mirror (host[:port]) the walk asks
	// instead of the image's registry, naming that registry in ns= as
	// containerd does; Credential is then the mirror's own.
	Mirror string
	// Platform picks the manifest from an index: "os/arch[/variant]";
	// empty means linux/amd64.
	Platform string
	// StepTimeout bounds each request; zero means 30 seconds.
	StepTimeout time.Duration
	// UserAgent is sent with every request; empty means "regtrace-probe".
	UserAgent string
	// Proxy holds the upstream settings shared with `regtrace proxy`
	// (UpstreamRoots, InsecureUpstream, UpstreamProxy, Resolve,
	// CaptureLimit, timeouts). OnFlow and GetCertificate are the probe's.
	Proxy proxy.Options
	// OnStep, when set, is called as each step ends.
	OnStep func(Step)
}

// Phase says which credentials a step was made with.
type Phase string

const (
	Anonymous       Phase = "anonymous"
	WithCredentials Phase = "with credentials"
)

// Step is one request of the walk (with its redirects).
type Step struct {
	Phase Phase
	// Name: "ping", "token", "manifest", "platform manifest", "config",
	// "tags".
	Name string
	// What is the request in a few words: "GET https://host/v2/".
	What  string
	Flows []flow.ID
	// Status is the final answer's status; 0 when the request failed.
	Status int
	// Says is what the answer means for the question.
	Says string
}

// Outcome is where one phase of the walk ended.
type Outcome struct {
	Phase Phase
	Code  Code
	// Stop is the step it ended at (the last step when it got through).
	Stop string
	// Why says it in words, with the evidence.
	Why string
	// Granted lists what the last token granted on the image's repository
	// ("pull", "push"); nil when there was no token or it could not be read.
	Granted []string
	// GrantKnown is false when no token was read (Basic, open registry,
	// opaque token).
	GrantKnown bool
	// push is what the push token granted (--push, the deciding phase of
	// a pull that worked); nil when it was not asked.
	push *pushGrant
}

// pushGrant is what a token asked for push granted.
type pushGrant struct {
	granted []string
	known   bool   // a JWT with a readable access claim
	mountOK bool   // pull on Options.MountFrom
	refused string // the token server refused the request: why
}

// Result is the walk and its conclusion.
type Result struct {
	Image Image
	// Credential names the credential used (key and file, never the
	// secret); empty when none.
	Credential string
	Steps      []Step
	Phases     []Outcome
	// Code and Conclusion settle the question across the phases.
	Code       Code
	Conclusion string
	// Flows are every exchange, in order, for explain, HAR and reports.
	Flows []*flow.Flow
}

// Run walks the image. The error is for a probe that could not run at all
// (bad options); what a registry answered, however bad, is in the Result.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Image.Host == "" || opts.Image.Repo == "" {
		return nil, errors.New("probe: Options.Image is required (ParseImage)")
	}
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 30 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "regtrace-probe"
	}
	plat, err := parsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	w := &walker{opts: opts, plat: plat, sess: decode.NewSession(), res: &Result{Image: opts.Image}}
	po := opts.Proxy
	po.OnFlow = w.record
	po.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("the probe's proxy serves no client")
	}
	p, err := proxy.New(po)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	w.client = &http.Client{Transport: p}

	anon := w.phase(ctx, Anonymous, nil)
	w.res.Phases = append(w.res.Phases, anon)
	if c := opts.Credential; c != nil {
		w.res.Credential = c.Source()
		// Credentials change nothing about a registry that cannot be
		// reached or is not one.
		switch anon.Code {
		case CodePingUnreachable, CodeTLSUntrusted, CodeNotARegistry:
		default:
			w.res.Phases = append(w.res.Phases, w.phase(ctx, WithCredentials, c))
		}
	}
	w.res.Code, w.res.Conclusion = conclude(opts, w.res.Phases)
	w.mu.Lock()
	w.res.Flows = slices.Clone(w.flows)
	w.mu.Unlock()
	return w.res, nil
}

type platform struct{ os, arch, variant string }

func (p platform) String() string { return strings.TrimSuffix(p.os+"/"+p.arch+"/"+p.variant, "/") }

func parsePlatform(s string) (platform, error) {
	if s == "" {
		return platform{"linux", "amd64", ""}, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return platform{}, fmt.Errorf("probe: platform %q is not os/arch[/variant] (e.g. linux/arm64/v8)", s)
	}
	pl := platform{os: parts[0], arch: parts[1]}
	if len(parts) == 3 {
		pl.variant = parts[2]
	}
	return pl, nil
}

// walker holds one probe's state.
type walker struct {
	opts   Options
	plat   platform
	client *http.Client
	sess   *decode.Session
	res    *Result

	mu    sync.Mutex
	flows []*flow.Flow
	xs    []*decode.Exchange
}

func (w *walker) record(f *flow.Flow) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flows = append(w.flows, f)
	w.xs = append(w.xs, w.sess.Decode(f))
}

// since returns the exchanges recorded from index n on.
func (w *walker) since(n int) []*decode.Exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.xs[n:])
}

func (w *walker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.xs)
}

// answer is one request's outcome as the walk reads it.
type answer struct {
	status int
	header http.Header
	body   []byte // bounded prefix
	// truncated: the body was longer than maxBody; readErr: it broke off.
	truncated bool
	readErr   error
	err       error
	last      *decode.Exchange // the final flow's decoding (after redirects)
}

// maxBody bounds what the probe reads of a manifest, a token response or an
// error: distribution refuses manifests over 4 MiB.
const maxBody = 4 << 20

// do sends one request and records it as a step of phase.
func (w *walker) do(ctx context.Context, phase Phase, name string, req *http.Request, says func(answer) string) answer {
	ctx, cancel := context.WithTimeout(ctx, w.opts.StepTimeout)
	defer cancel()
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", w.opts.UserAgent)
	n := w.count()
	var a answer
	resp, err := w.client.Do(req)
	if err != nil {
		a.err = unwrapURLError(err)
	} else {
		a.status, a.header = resp.StatusCode, resp.Header
		a.body, a.readErr = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		if len(a.body) > maxBody {
			a.body, a.truncated = a.body[:maxBody], true
		}
		resp.Body.Close()
	}
	st := Step{Phase: phase, Name: name, What: req.Method + " " + redact.URL(req.URL).String(), Status: a.status}
	for _, x := range w.since(n) {
		st.Flows = append(st.Flows, x.Flow.ID)
		a.last = x
	}
	st.Says = says(a)
	w.res.Steps = append(w.res.Steps, st)
	if w.opts.OnStep != nil {
		w.opts.OnStep(st)
	}
	return a
}

// unwrapURLError drops net/http's url.Error wrapper, whose message repeats
// the whole URL (signed query and all); the proxy's error names the host.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// auth is how a phase authenticates its registry requests.
type auth struct {
	cred   *Credential
	scheme string // "", "basic", "bearer" (from the challenge)
	realm  string
	svc    string
	token  string
	tokenX *decode.Exchange // the token response's decoding
	// chScope is the scope a repository's Bearer challenge named.
	chScope string
}

func (w *walker) newRequest(method, rawURL string) *http.Request {
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		// Every URL here is built from a parsed Image, digests checked
		// against digestRE and a realm that parsed as a URL; should one
		// still not parse, the request fails as a transport error would.
		req, _ = http.NewRequest(method, "https://invalid.invalid/", nil)
	}
	return req
}

// host is the host the walk asks: the mirror, else the image's registry.
func (w *walker) host() string {
	if w.opts.Mirror != "" {
		return w.opts.Mirror
	}
	return w.opts.Image.Host
}

// registryURL is path on the registry, or on the mirror with the image's
// registry in ns= as containerd asks a hosts.toml mirror.
func (w *walker) registryURL(path string) string {
	scheme := "https://"
	if w.opts.PlainHTTP {
		scheme = "http://"
	}
	if m := w.opts.Mirror; m != "" {
		if path == "/v2/" {
			return scheme + m + path
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return scheme + m + path + sep + "ns=" + url.QueryEscape(w.opts.Image.Registry)
	}
	return scheme + w.opts.Image.Host + path
}

// phase walks once with cred (nil: anonymously).
func (w *walker) phase(ctx context.Context, ph Phase, cred *Credential) Outcome {
	o := Outcome{Phase: ph}
	au := &auth{cred: cred}
	im := w.opts.Image

	ping := w.do(ctx, ph, "ping", w.newRequest(http.MethodGet, w.registryURL("/v2/")), func(a answer) string { return pingSays(a) })
	if out, stop := w.transportStop(o, "ping", ping, CodePingUnreachable); stop {
		return out
	}
	switch {
	case ping.status == http.StatusTooManyRequests:
		return w.stop(o, "ping", CodeRateLimited, "the registry answered 429 to the ping: "+errorText(ping))
	case ping.status == http.StatusUnauthorized:
		if !au.fromChallenge(ping) {
			return w.stop(o, "ping", CodeChallengeMissing, "the registry answered 401 to the ping without a Bearer or Basic challenge a client can follow (WWW-Authenticate: "+
				quoteOr(ping.header.Values("WWW-Authenticate"), "none")+")")
		}
	case ping.status >= 200 && ping.status < 300:
	default:
		return w.stop(o, "ping", CodeNotARegistry, fmt.Sprintf("the ping answered %d, not 200 or 401: %s is not serving the registry API at /v2/ (%s)",
			ping.status, w.host(), errorText(ping)))
	}
	if au.scheme == "bearer" {
		if out, stop := w.token(ctx, ph, o, au, w.scopes(au)); stop {
			return out
		}
	}

	// The manifest, following a repository's own challenge once: a
	// registry may answer the ping 200 and challenge per repository, or
	// challenge Basic after a Basic-less ping.
	var m answer
	// A phase that does not decide (anonymous, with a credential to try
	// next) asks with HEAD: Docker Hub counts a manifest GET as a pull
	// against the rate limit, HEAD not.
	method := http.MethodGet
	if ph == Anonymous && w.opts.Credential != nil {
		method = http.MethodHead
	}
	for try := 0; ; try++ {
		req := w.newRequest(method, w.registryURL("/v2/"+im.Repo+"/manifests/"+im.Ref()))
		req.Header.Set("Accept", manifestAccept)
		sent := au.apply(req)
		m = w.do(ctx, ph, "manifest", req, func(a answer) string { return manifestSays(a) })
		if out, stop := w.transportStop(o, "manifest", m, CodeRegistryUnreachable); stop {
			return out
		}
		// A token already sent is the evidence: a Basic challenge after it
		// (Harbor's) changes nothing.
		if m.status != http.StatusUnauthorized || try > 0 || au.token != "" || !au.fromChallenge(m) {
			break
		}
		if au.scheme == "basic" {
			if sent || au.cred == nil || au.cred.Username == "" {
				break
			}
			continue // the credential was not sent yet
		}
		if out, stop := w.token(ctx, ph, o, au, w.scopes(au)); stop {
			return out
		}
	}
	o.Granted, o.GrantKnown = au.granted(im.Repo)
	if m.status != http.StatusOK {
		return w.manifestFailed(ctx, o, au, m, "manifest")
	}
	if method == http.MethodHead {
		return w.done(o, "manifest", "the manifest answered 200 to HEAD (anonymous access to it works; the platform manifest and config were not fetched in this phase)")
	}
	if bad := manifestBody(m); bad != "" {
		return w.stop(o, "manifest", CodeUnexpected, bad)
	}
	body := m.body
	if isIndex(m) {
		digest, err := w.pickPlatform(body)
		if err != nil {
			return w.stop(o, "manifest", CodeNoPlatform, err.Error())
		}
		req := w.newRequest(http.MethodGet, w.registryURL("/v2/"+im.Repo+"/manifests/"+digest))
		req.Header.Set("Accept", manifestAccept)
		au.apply(req)
		pm := w.do(ctx, ph, "platform manifest", req, func(a answer) string { return manifestSays(a) })
		if out, stop := w.transportStop(o, "platform manifest", pm, CodeRegistryUnreachable); stop {
			return out
		}
		switch {
		case pm.status == http.StatusNotFound:
			return w.stop(o, "platform manifest", CodeBrokenIndex, fmt.Sprintf(
				"the index answered 200 but the manifest it names for %s (%s) answered 404 (%s): the index points at a manifest the registry no longer has (a cleanup policy that deletes untagged manifests does this)",
				w.plat, digest, errorText(pm)))
		case pm.status != http.StatusOK:
			return w.manifestFailed(ctx, o, au, pm, "platform manifest")
		}
		if bad := manifestBody(pm); bad != "" {
			return w.stop(o, "platform manifest", CodeUnexpected, bad)
		}
		body = pm.body
	}
	var man struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Digest string `json:"digest"`
		} `json:"config"`
		FSLayers []json.RawMessage `json:"fsLayers"`
	}
	json.Unmarshal(body, &man) // manifestBody checked it is JSON
	if man.Config.Digest == "" {
		if man.FSLayers != nil {
			return w.finish(ctx, o, au, "manifest", "the manifest (schema 1, which has no config blob) answered 200")
		}
		return w.stop(o, "manifest", CodeUnexpected, "the manifest answered 200 with JSON that names no config blob: not an image manifest")
	}
	if !digestRE.MatchString(man.Config.Digest) {
		return w.stop(o, "manifest", CodeUnexpected, fmt.Sprintf("the manifest names its config by %q, which is not a digest", clip(man.Config.Digest)))
	}
	req := w.newRequest(http.MethodGet, w.registryURL("/v2/"+im.Repo+"/blobs/"+man.Config.Digest))
	au.apply(req)
	cfg := w.do(ctx, ph, "config", req, func(a answer) string { return blobSays(a) })
	if out, stop := w.transportStop(o, "config", cfg, CodeRegistryUnreachable); stop {
		return out
	}
	switch {
	case cfg.status == http.StatusOK && cfg.readErr != nil:
		return w.stop(o, "config", CodeRegistryUnreachable, fmt.Sprintf("the config blob answered 200 but its body broke off: %v", cfg.readErr))
	case cfg.status == http.StatusOK:
		return w.finish(ctx, o, au, "config", "the manifest and its config blob answered 200")
	case cfg.status == http.StatusTooManyRequests:
		return w.stop(o, "config", CodeRateLimited, "the config blob answered 429: "+errorText(cfg))
	default:
		return w.stop(o, "config", CodeBlobFailed, fmt.Sprintf("the manifest answered 200 but its config blob answered %d: %s", cfg.status, errorText(cfg)))
	}
}

// finish ends a pull that worked; with --push, the phase that decides then
// asks the token server for push, as a push would, and reads the grant.
func (w *walker) finish(ctx context.Context, o Outcome, au *auth, step, why string) Outcome {
	o = w.done(o, step, why)
	if !w.opts.Push || o.Phase == Anonymous && w.opts.Credential != nil {
		return o
	}
	if au.scheme != "bearer" || au.cred != nil && au.cred.RegistryToken != "" {
		return o // nothing to read without writing
	}
	scopes := []string{"repository:" + w.opts.Image.Repo + ":pull,push"}
	from := ""
	if w.opts.MountFrom != "" {
		from = decode.NormalizeRepo(w.opts.Image.Registry, w.opts.MountFrom)
		scopes = append(scopes, "repository:"+from+":pull")
	}
	pu := &auth{cred: au.cred, scheme: au.scheme, realm: au.realm, svc: au.svc}
	if out, stop := w.token(ctx, o.Phase, o, pu, scopes); stop {
		// A token server that refuses the push request outright.
		o.push = &pushGrant{refused: out.Why}
		return o
	}
	g := &pushGrant{}
	g.granted, g.known = pu.granted(w.opts.Image.Repo)
	if from != "" {
		acts, _ := pu.granted(from)
		g.mountOK = slices.Contains(acts, "pull") || slices.Contains(acts, "*")
	}
	o.push = g
	return o
}

// manifestBody says what is wrong with a 200 manifest body, or "".
func manifestBody(a answer) string {
	switch {
	case a.readErr != nil:
		return fmt.Sprintf("the manifest answered 200 but its body broke off: %v", a.readErr)
	case a.truncated:
		return fmt.Sprintf("the manifest answered 200 with a body over %d bytes: no registry serves a manifest that large", maxBody)
	case !json.Valid(a.body):
		ct := a.header.Get("Content-Type")
		return fmt.Sprintf("the manifest answered 200 with a body that is not JSON (Content-Type %q): something in front of the registry (a login page, a proxy) answered instead", ct)
	}
	return ""
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// scopes are what the walk asks the token server for: pull on the
// repository, and the scope a repository's challenge named if it differs
// (containerd adds it too).
func (w *walker) scopes(au *auth) []string {
	s := []string{"repository:" + w.opts.Image.Repo + ":pull"}
	if au.chScope != "" && !slices.Contains(s, au.chScope) {
		s = append(s, au.chScope)
	}
	return s
}

func (w *walker) transportStop(o Outcome, step string, a answer, code Code) (Outcome, bool) {
	if a.err == nil {
		return o, false
	}
	msg := a.err.Error()
	plain := strings.Contains(msg, "HTTP response to HTTPS client") || strings.Contains(msg, "does not speak TLS") ||
		strings.Contains(msg, "first record does not look like a TLS handshake")
	var fe *flow.Error
	if errors.As(a.err, &fe) && !plain {
		switch fe.Kind {
		case flow.ErrUnknownAuthority, flow.ErrCertificate, flow.ErrTLS:
			code = CodeTLSUntrusted
		}
	}
	why := fmt.Sprintf("the %s request failed: %v", step, a.err)
	if plain {
		why += " (the registry may speak plain HTTP: probe it with --plain-http; clients need it listed as an insecure registry)"
	}
	return w.stop(o, step, code, why), true
}

func (w *walker) stop(o Outcome, step string, code Code, why string) Outcome {
	o.Stop, o.Code, o.Why = step, code, why
	return o
}

func (w *walker) done(o Outcome, step, why string) Outcome {
	o.Stop, o.Code, o.Why = step, CodePullable, why
	return o
}

// manifestAccept is every manifest type a pull accepts, index types first.
const manifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5"

// token asks the realm for a token for scopes, as docker does: GET with
// Basic credentials and account=, or the OAuth2 refresh-token POST when
// the credential is an identity token.
func (w *walker) token(ctx context.Context, ph Phase, o Outcome, au *auth, scopes []string) (Outcome, bool) {
	if c := au.cred; c != nil && c.RegistryToken != "" {
		au.token = c.RegistryToken // sent to the registry as is
		return o, false
	}
	u, _ := url.Parse(au.realm) // checked by fromChallenge
	var req *http.Request
	c := au.cred
	if c != nil && c.IdentityToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.IdentityToken},
			"scope": {strings.Join(scopes, " ")}, "client_id": {"regtrace"}}
		if au.svc != "" {
			form.Set("service", au.svc)
		}
		req, _ = http.NewRequest(http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		q := u.Query()
		if au.svc != "" {
			q.Set("service", au.svc)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		if c != nil && c.Username != "" {
			q.Set("account", c.Username)
		}
		u.RawQuery = q.Encode()
		req = w.newRequest(http.MethodGet, u.String())
		if c != nil && c.Username != "" {
			req.SetBasicAuth(c.Username, c.Password)
		}
	}
	t := w.do(ctx, ph, "token", req, func(a answer) string { return tokenSays(a, c != nil) })
	if out, stop := w.transportStop(o, "token", t, CodeRealmUnreachable); stop {
		return out, true
	}
	if req.Method == http.MethodPost && t.status == http.StatusNotFound {
		// "If the request to the endpoint returns 404 using the HTTP POST
		// method, refer to token.md for using the HTTP GET method"
		// (distribution oauth.md): the identity token cannot be used.
		q := u.Query()
		if au.svc != "" {
			q.Set("service", au.svc)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		u.RawQuery = q.Encode()
		t = w.do(ctx, ph, "token", w.newRequest(http.MethodGet, u.String()), func(a answer) string {
			return "the realm has no OAuth2 endpoint (POST answered 404), so the identity token cannot be used: " + tokenSays(a, false)
		})
		c, au.cred = nil, nil // what follows is anonymous
		if out, stop := w.transportStop(o, "token", t, CodeRealmUnreachable); stop {
			return out, true
		}
	}
	switch {
	case t.status == http.StatusTooManyRequests:
		return w.stop(o, "token", CodeRateLimited, "the token server answered 429: "+errorText(t)), true
	case t.status == http.StatusUnauthorized && c != nil:
		return w.stop(o, "token", CodeCredentialsRejected, fmt.Sprintf("the token server refused the credential (%d): %s", t.status, errorText(t))), true
	case t.status == http.StatusForbidden && c != nil:
		return w.stop(o, "token", CodeDenied, fmt.Sprintf("the token server knows the credential but refused a token for %s (403: %s)", strings.Join(scopes, " "), errorText(t))), true
	case t.status == http.StatusUnauthorized || t.status == http.StatusForbidden:
		return w.stop(o, "token", CodePrivateOrMissing, fmt.Sprintf(
			"the token server refused an anonymous token for %s (%d: %s): it does that for a private repository and for a missing one alike",
			strings.Join(scopes, " "), t.status, errorText(t))), true
	case t.status != http.StatusOK:
		return w.stop(o, "token", CodeTokenFailed, fmt.Sprintf("the token server answered %d: %s", t.status, errorText(t))), true
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(t.body, &tr); err != nil || tr.Token == "" && tr.AccessToken == "" {
		return w.stop(o, "token", CodeTokenFailed, "the token server answered 200 without a token (no \"token\" or \"access_token\" field in JSON)"), true
	}
	au.token = tr.Token
	if au.token == "" {
		au.token = tr.AccessToken
	}
	au.tokenX = t.last
	return o, false
}

// fromChallenge reads the challenge of a 401: Bearer with a realm that is
// an http(s) URL, else Basic. False when there is none to follow.
func (au *auth) fromChallenge(a answer) bool {
	if a.last == nil {
		return false
	}
	basic := false
	for _, c := range a.last.Challenges {
		switch strings.ToLower(c.Scheme) {
		case "bearer":
			realm := c.Params["realm"]
			if u, err := url.Parse(realm); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
				au.scheme, au.realm, au.svc = "bearer", realm, c.Params["service"]
				if sc := c.Params["scope"]; sc != "" && !strings.ContainsAny(sc, " \t") {
					au.chScope = sc
				}
				return true
			}
		case "basic":
			basic = true
		}
	}
	if basic {
		au.scheme = "basic"
	}
	return basic
}

// apply authorises req; it reports whether credentials or a token went.
func (au *auth) apply(req *http.Request) bool {
	switch {
	case au.scheme == "bearer" && au.token != "":
		req.Header.Set("Authorization", "Bearer "+au.token)
		return true
	case au.scheme == "basic" && au.cred != nil && au.cred.Username != "":
		req.SetBasicAuth(au.cred.Username, au.cred.Password)
		return true
	}
	return false
}

// granted reads what the token grants on repo: the actions, and whether
// that could be read at all (a JWT with a well-formed access claim).
func (au *auth) granted(repo string) ([]string, bool) {
	if au.tokenX == nil || au.tokenX.TokenResponse == nil {
		return nil, false
	}
	tok := au.tokenX.TokenResponse.Token
	if tok == nil {
		tok = au.tokenX.TokenResponse.AccessToken
	}
	if tok == nil || tok.Claims == nil || !tok.Claims.HasAccess {
		return nil, false
	}
	var acts []string
	for _, s := range tok.Claims.Access {
		if s.Type == "repository" && s.Name == repo {
			for _, a := range s.Actions {
				if !slices.Contains(acts, a) {
					acts = append(acts, a)
				}
			}
		}
	}
	return acts, true
}

// grants reports whether the token grants action on repo ("*" grants all).
func (o Outcome) grants(action string) bool {
	return slices.Contains(o.Granted, action) || slices.Contains(o.Granted, "*")
}

// manifestFailed reads a manifest answer that was not 200.
func (w *walker) manifestFailed(ctx context.Context, o Outcome, au *auth, m answer, step string) Outcome {
	im := w.opts.Image
	codes := errorCodes(m)
	msg := strings.ToLower(errorText(m))
	switch {
	case m.status == http.StatusTooManyRequests:
		return w.stop(o, step, CodeRateLimited, "the manifest answered 429: "+errorText(m))
	case (m.status == http.StatusForbidden || slices.Contains(codes, "DENIED")) && au.cred != nil && strings.Contains(msg, "expired"):
		// ECR: "Your authorization token has expired. Reauthenticate…"
		return w.stop(o, step, CodeCredentialsRejected, fmt.Sprintf("the registry refused the credential as expired (%d: %s)", m.status, errorText(m)))
	case (m.status == http.StatusForbidden || slices.Contains(codes, "DENIED")) && au.cred == nil:
		// No credential was sent: a refusal says nothing about who.
		return w.stop(o, step, CodePrivateOrMissing, fmt.Sprintf(
			"the manifest answered %d (%s) to a request without credentials: registries refuse an anonymous request so for a private repository and, hiding existence, for a missing one",
			m.status, errorText(m)))
	case m.status == http.StatusForbidden || slices.Contains(codes, "DENIED"):
		why := fmt.Sprintf("the manifest answered %d (%s)%s", m.status, errorText(m), w.whoSays(au, o))
		if strings.Contains(msg, "may not exist") || strings.Contains(msg, "not exist") {
			why += "; the registry's own message allows that the repository does not exist"
		}
		return w.stop(o, step, CodeDenied, why)
	case m.status == http.StatusUnauthorized:
		switch {
		case au.scheme == "basic" && au.cred == nil:
			return w.stop(o, step, CodeCredentialsRequired, "the registry asks for Basic credentials (401) and there were none to send")
		case au.scheme == "basic":
			return w.stop(o, step, CodeCredentialsRejected, "the registry refused the Basic credential (401): "+errorText(m))
		case au.scheme == "" || au.token == "":
			return w.stop(o, step, CodeChallengeMissing, "the manifest answered 401 without a challenge a client can follow (WWW-Authenticate: "+
				quoteOr(m.header.Values("WWW-Authenticate"), "none")+")")
		case o.GrantKnown && !o.grants("pull"):
			return w.stop(o, step, CodeTokenScopeEmpty, fmt.Sprintf(
				"the token %s grants nothing on repository:%s (access %s), and the registry answered 401 (%s): a token server grants nothing on a repository that is private to others and on one that does not exist",
				w.obtained(au), im.Repo, grantText(o.Granted), errorText(m)))
		case o.GrantKnown:
			return w.stop(o, step, CodeTokenRejected, fmt.Sprintf(
				"the token grants %s on repository:%s, yet the registry answered 401 (%s): it does not accept the token (issuer, audience, key or expiry)",
				strings.Join(o.Granted, ","), im.Repo, errorText(m)))
		default:
			return w.stop(o, step, CodePrivateOrMissing, fmt.Sprintf(
				"the registry answered 401 (%s) to a token %s that regtrace cannot read (opaque): a private repository and a missing one look the same",
				errorText(m), w.obtained(au)))
		}
	case m.status == http.StatusNotFound:
		// A 404 proves absence when nothing hides it: an open registry, or a
		// token that grants pull on the repository.
		// Basic credentials the registry accepted see what they may read.
		what := "tag " + im.Tag
		if im.Digest != "" {
			what = "manifest " + im.Digest
		}
		if au.scheme == "bearer" && !(o.GrantKnown && o.grants("pull")) {
			grant := "that regtrace cannot read (opaque)"
			if o.GrantKnown {
				grant = "that grants " + grantText(o.Granted)
			}
			// A tag list the same token may read proves the repository is
			// there and readable: then the tag is what is missing.
			tags := w.tags(ctx, o.Phase, au)
			if tags.status == http.StatusOK && tagCount(tags) != ", 0 tags" && tagCount(tags) != "" {
				return w.stop(o, step, CodeManifestUnknown, fmt.Sprintf(
					"the repository exists and this token may read it (its tag list answered 200%s) but the %s does not: the manifest answered 404 (%s) to the token %s %s",
					tagCount(tags), what, errorText(m), w.obtained(au), grant))
			}
			return w.stop(o, step, CodePrivateOrMissing, fmt.Sprintf(
				"the manifest answered 404 (%s) to the token %s %s, and the tag list %s: registries that hide what a request may not see answer 404 for both a missing and a private repository",
				errorText(m), w.obtained(au), grant, statusText(tags)))
		}
		tags := w.tags(ctx, o.Phase, au)
		switch {
		case tags.status == http.StatusUnauthorized || tags.status == http.StatusForbidden:
			return w.stop(o, step, CodePrivateOrMissing, fmt.Sprintf(
				"the manifest answered 404 (%s)%s, but the tag list answered %d: the registry guards the repository, so the 404 may hide a private one (some registries hide what a caller may not see)",
				errorText(m), w.whoSays(au, o), tags.status))
		case tags.status == http.StatusOK && tagCount(tags) == ", 0 tags":
			return w.stop(o, step, CodeManifestUnknown, fmt.Sprintf(
				"the %s is not there: the manifest answered 404 (%s)%s, and the repository lists no tags (it may not exist at all: some registries, Harbor among them, list no tags for a missing repository)",
				what, errorText(m), w.whoSays(au, o)))
		case tags.status == http.StatusOK:
			return w.stop(o, step, CodeManifestUnknown, fmt.Sprintf(
				"the repository exists (its tag list answered 200%s) but the %s does not: the manifest answered 404 (%s)%s",
				tagCount(tags), what, errorText(m), w.whoSays(au, o)))
		case tags.status == http.StatusNotFound || slices.Contains(codes, "NAME_UNKNOWN"):
			return w.stop(o, step, CodeNameUnknown, fmt.Sprintf(
				"the repository %s does not exist: the manifest answered 404 (%s) and the tag list %s%s",
				im.Repo, errorText(m), statusText(tags), w.whoSays(au, o)))
		default:
			return w.stop(o, step, CodeManifestUnknown, fmt.Sprintf(
				"the %s does not exist: the manifest answered 404 (%s)%s; whether the repository exists is not known (the tag list %s)",
				what, errorText(m), w.whoSays(au, o), statusText(tags)))
		}
	}
	return w.stop(o, step, CodeUnexpected, fmt.Sprintf("the manifest answered %d: %s", m.status, errorText(m)))
}

// tags lists the repository's tags: 200 proves it exists.
func (w *walker) tags(ctx context.Context, ph Phase, au *auth) answer {
	req := w.newRequest(http.MethodGet, w.registryURL("/v2/"+w.opts.Image.Repo+"/tags/list?n=100"))
	au.apply(req)
	return w.do(ctx, ph, "tags", req, func(a answer) string {
		switch {
		case a.err != nil:
			return "failed: " + a.err.Error()
		case a.status == http.StatusOK:
			return "the repository exists" + tagCount(a)
		default:
			return fmt.Sprintf("%d: %s", a.status, errorText(a))
		}
	})
}

func tagCount(a answer) string {
	var tl struct {
		Tags []string `json:"tags"`
	}
	if json.Unmarshal(a.body, &tl) != nil {
		return ""
	}
	return fmt.Sprintf(", %d tags", len(tl.Tags))
}

func statusText(a answer) string {
	if a.err != nil {
		return "failed: " + a.err.Error()
	}
	return fmt.Sprintf("answered %d", a.status)
}

// whoSays names the token the answer was given to, for a 404 that proves.
func (w *walker) whoSays(au *auth, o Outcome) string {
	switch {
	case au.scheme == "":
		return ", to a request without credentials that the registry did not challenge"
	case au.scheme == "basic" && au.cred == nil:
		return ", to a request without credentials"
	case au.scheme == "basic":
		return ", with Basic credentials the registry accepted"
	}
	return ", to a token " + w.obtained(au) + " that grants " + grantText(o.Granted)
}

func (w *walker) obtained(au *auth) string {
	if au.cred == nil {
		return "obtained anonymously"
	}
	return "obtained with " + au.cred.Source()
}

func grantText(acts []string) string {
	if len(acts) == 0 {
		return "[]"
	}
	return "[" + strings.Join(acts, ",") + "]"
}

func isIndex(a answer) bool {
	ct, _, _ := strings.Cut(a.header.Get("Content-Type"), ";")
	switch strings.TrimSpace(ct) {
	case "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json":
		return true
	}
	var m struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Config    json.RawMessage   `json:"config"`
	}
	return json.Unmarshal(a.body, &m) == nil && m.Manifests != nil && m.Config == nil
}

// pickPlatform chooses the index entry for the platform, as containerd's
// default matcher does (an arm64 "v8" variant is arm64's default).
func (w *walker) pickPlatform(body []byte) (string, error) {
	var idx struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform *struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
				Variant      string `json:"variant"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		return "", fmt.Errorf("the index is not valid JSON: %v", err)
	}
	variant := func(arch, v string) string {
		if arch == "arm64" && v == "v8" {
			return ""
		}
		return v
	}
	var have []string
	for _, m := range idx.Manifests {
		p := m.Platform
		if p == nil {
			continue
		}
		have = append(have, strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/"))
		if p.OS == w.plat.os && p.Architecture == w.plat.arch &&
			(w.plat.variant == "" || variant(p.Architecture, p.Variant) == variant(w.plat.arch, w.plat.variant)) && m.Digest != "" {
			if !digestRE.MatchString(m.Digest) {
				return "", fmt.Errorf("the index names the %s manifest by %q, which is not a digest", w.plat, clip(m.Digest))
			}
			return m.Digest, nil
		}
	}
	want := strings.TrimSuffix(w.plat.os+"/"+w.plat.arch+"/"+w.plat.variant, "/")
	return "", fmt.Errorf("the index has no manifest for %s (it has %s): pick one with --platform", want, quoteOr(have, "none with a platform"))
}

// errorCodes are the registry error codes of an answer.
func errorCodes(a answer) []string {
	if a.last == nil {
		return nil
	}
	var cs []string
	for _, e := range a.last.Errors.Errors {
		cs = append(cs, e.Code)
	}
	return cs
}

// errorText says what an answer's body said, in one short line.
func errorText(a answer) string {
	if a.last == nil {
		return "no answer"
	}
	eb := a.last.Errors
	var parts []string
	for _, e := range eb.Errors {
		s := e.Code
		if e.Message != "" {
			s += ": " + e.Message
		}
		parts = append(parts, s)
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	if eb.Text != "" {
		return eb.Text
	}
	if cs := a.header.Values("WWW-Authenticate"); len(cs) > 0 {
		return "WWW-Authenticate: " + strings.Join(cs, ", ")
	}
	return "no error body"
}

func quoteOr(vs []string, none string) string {
	if len(vs) == 0 {
		return none
	}
	return strings.Join(vs, ", ")
}

func pingSays(a answer) string {
	switch {
	case a.err != nil:
		return "failed: " + a.err.Error()
	case a.status == http.StatusUnauthorized:
		if cs := a.header.Values("WWW-Authenticate"); len(cs) > 0 {
			return "401: the registry challenges: " + strings.Join(cs, ", ")
		}
		return "401 without a challenge"
	case a.status >= 200 && a.status < 300:
		return fmt.Sprintf("%d: the registry API answers without credentials (a repository may still challenge)", a.status)
	}
	return fmt.Sprintf("%d: %s", a.status, errorText(a))
}

func tokenSays(a answer, withCreds bool) string {
	how := "anonymously"
	if withCreds {
		how = "with credentials"
	}
	switch {
	case a.err != nil:
		return "failed: " + a.err.Error()
	case a.status != http.StatusOK:
		return fmt.Sprintf("%d asked %s: %s", a.status, how, errorText(a))
	}
	if a.last == nil || a.last.TokenResponse == nil {
		return "200 asked " + how
	}
	tok := a.last.TokenResponse.Token
	if tok == nil {
		tok = a.last.TokenResponse.AccessToken
	}
	switch {
	case tok == nil:
		return "200 asked " + how + ", but no token in it"
	case tok.Claims == nil:
		return "200 asked " + how + ": an opaque token (what it grants cannot be read)"
	case !tok.Claims.HasAccess:
		return "200 asked " + how + ": a JWT without a readable access claim"
	}
	var grants []string
	for _, s := range tok.Claims.Access {
		grants = append(grants, s.String())
	}
	sub := tok.Claims.Subject
	if sub == "" {
		sub = "anonymous"
	}
	return fmt.Sprintf("200 asked %s: a token for %q granting %s", how, sub, grantText(grants))
}

func manifestSays(a answer) string {
	var s string
	switch {
	case a.err != nil:
		return "failed: " + a.err.Error()
	case a.status == http.StatusOK && len(a.body) == 0:
		s = fmt.Sprintf("200: %s", a.header.Get("Content-Type"))
	case a.status == http.StatusOK:
		s = fmt.Sprintf("200: %s (%d bytes)", a.header.Get("Content-Type"), len(a.body))
	default:
		s = fmt.Sprintf("%d: %s", a.status, errorText(a))
	}
	if a.last != nil && a.last.RateLimit != nil && a.last.RateLimit.Remaining != "" {
		s += fmt.Sprintf(" (rate limit: %s of %s remaining)", a.last.RateLimit.Remaining, a.last.RateLimit.Limit)
	}
	return s
}

func blobSays(a answer) string {
	switch {
	case a.err != nil:
		return "failed: " + a.err.Error()
	case a.status == http.StatusOK:
		return "200: the config blob"
	}
	return fmt.Sprintf("%d: %s", a.status, errorText(a))
}
