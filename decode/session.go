package decode

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"

	"github.com/regtrace/regtrace/decode/flow"
)

// Exchange is the registry meaning of one flow, given the flows before it.
type Exchange struct {
	Flow *flow.Flow
	Kind Kind
	// Host is the request's host[:port] as the client addressed it.
	Host string
	// Registry is Host normalised: every Docker Hub host is "docker.io".
	// For a token request it is the registry whose challenge named the
	// realm, when known.
	Registry string
	// Repo is the repository name as it appears in the path; Ref the tag or
	// digest (or upload session, or mounted digest).
	Repo string
	Ref  string
	// From is a mount's source repository.
	From   string
	Client Client
	// Auth is the Authorization the request carried.
	Auth Credentials
	// Challenges are the response's WWW-Authenticate challenges.
	Challenges []Challenge
	// Need are the scopes a registry request needs (nil for others).
	Need []Scope
	// TokenRequest and TokenResponse are set for token-server exchanges.
	TokenRequest  *TokenRequest
	TokenResponse *TokenResponse
	// Token is the Bearer token a request carried, decoded; TokenFrom the
	// flow whose response issued it (0 when not seen).
	Token     *Token
	TokenFrom flow.ID
	// Missing are the needed scopes (with only their missing actions) that
	// the carried token's access claim does not grant. Nil when covered or
	// when it cannot be known (no token, opaque token, no access claim, a
	// malformed one: Claims.AccessMalformed).
	Missing []Scope
	// Errors is what a non-2xx response body said.
	Errors    ErrorBody
	RateLimit *RateLimit
	// Upstream is, for a registry request that names another registry in
	// its ns query parameter, that registry, normalised: containerd asks a
	// mirror from hosts.toml this way on behalf of the image's registry.
	Upstream string
	// ToRealm is true for a tunnel (KindTunnel) to a host that an earlier
	// challenge named as its token realm; Registry is then that registry.
	ToRealm bool
	// RedirectFrom is, for a blob redirect target, the flow that answered
	// with the redirect.
	RedirectFrom flow.ID
	// Issues are malformed or suspicious things in this exchange.
	Issues []Issue
}

// Session decodes flows in order. Decoding needs the sequence: a realm
// learned from a challenge makes a later request a token request, a token
// response explains a later request's Bearer token, a redirect makes a later
// request a blob fetch. A Session is not safe for concurrent use.
type Session struct {
	realms map[string]realm // realm URL without query -> who challenged
	// realmHosts: realm host:port -> the registry whose challenge named it,
	// so a tunnel to the realm that could not be opened joins that registry.
	realmHosts map[string]string
	tokens     map[string]issued   // TokenID -> where it came from
	redirects  map[string]redirect // absolute Location -> blob flow
	// memo caches what Decode parses of each flow alone (User-Agents,
	// challenges, error bodies): a trace has a handful of each and 100,000
	// requests.
	memo *parseMemo
	// parsed caches ParseToken per raw bearer token: a client sends one
	// token with every request of an operation. The *Token is shared by
	// those exchanges and read-only.
	parsed map[string]parsedToken
	// realmURLs caches what learnChallenges reads from a realm URL.
	realmURLs map[string]parsedRealm

	// peer is the first peer decoded (flow.Flow.Peer); others decode the
	// flows of other peers of a shared proxy.
	peer   string
	others map[string]*Session
}

// forPeer is the session that decodes f: each peer of a shared proxy has
// its own, so that no link (a realm, a token's issuer, a redirect) runs
// from one client's flows to another's. A flow of no known peer (a log)
// stays here.
func (s *Session) forPeer(f *flow.Flow) *Session {
	p := f.Peer()
	if p == "" || p == s.peer {
		return s
	}
	if s.peer == "" {
		s.peer = p
		return s
	}
	o := s.others[p]
	if o == nil {
		if s.others == nil {
			s.others = map[string]*Session{}
		}
		o = NewSession()
		o.peer = p
		s.others[p] = o
	}
	return o
}

type parsedToken struct {
	t   *Token
	err error
}

// maxParsed bounds the token cache of a long live session.
const maxParsed = 256

func (s *Session) parseToken(raw string) (*Token, error) {
	if p, ok := s.parsed[raw]; ok {
		return p.t, p.err
	}
	t, err := ParseToken(raw)
	if s.parsed == nil || len(s.parsed) >= maxParsed {
		s.parsed = map[string]parsedToken{}
	}
	s.parsed[raw] = parsedToken{t, err}
	return t, err
}

// maxClients bounds the User-Agent cache of a long live session.
const maxClients = 256

func (m *parseMemo) client(ua string) Client {
	if m == nil {
		return ParseUserAgent(ua)
	}
	if c, ok := m.clients[ua]; ok {
		return c
	}
	c := ParseUserAgent(ua)
	if len(m.clients) >= maxClients {
		clear(m.clients)
	}
	m.clients[ua] = c
	return c
}

type realm struct {
	registry string // host that sent the challenge
	service  string
}

type issued struct {
	flow      flow.ID
	requested []Scope
}

type redirect struct {
	flow      flow.ID
	repo, ref string
	registry  string
}

// NewSession returns an empty Session.
func NewSession() *Session {
	return &Session{
		realms:     map[string]realm{},
		realmHosts: map[string]string{},
		tokens:     map[string]issued{},
		redirects:  map[string]redirect{},
	}
}

// parsedRealm is a challenge's realm URL as the session files it; ok is
// false for a realm that is not an absolute URL.
type parsedRealm struct {
	key, hostPort string
	ok            bool
}

// RealmKey is how a realm URL and a request URL are matched: scheme, host
// and path, without query (the realm may itself carry one).
func RealmKey(u *url.URL) string {
	if u == nil {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimSuffix(u.Path, "/")
}

// hostPort lower-cases host and adds the scheme's default port when it has
// none: a CONNECT names "auth.example:443", a realm "https://auth.example".
func hostPort(host, scheme string) string {
	host = strings.ToLower(host)
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return host
	}
	port := "443"
	if strings.EqualFold(scheme, "http") {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// commonTokenPaths are token endpoints of well-known registries, used when
// no challenge named the realm (a trace that starts mid-operation).
var commonTokenPaths = []string{
	"/token", "/v2/token", "/oauth2/token", "/service/token", "/v2/auth", "/jwt/auth", "/auth/token", "/oauth/token",
}

// Decode returns the meaning of f and updates the session's state.
func (s *Session) Decode(f *flow.Flow) *Exchange {
	if s.memo == nil {
		s.memo = newParseMemo()
	}
	x, r := parse(f, s.memo)
	return s.forPeer(f).finish(x, r)
}

// DecodeAll decodes flows in order, as Decode one at a time would. What
// depends on no other flow (challenges, error bodies, paths) is parsed on
// every core first: a long log holds hundreds of thousands of flows.
func (s *Session) DecodeAll(flows []*flow.Flow) []*Exchange {
	xs := make([]*Exchange, len(flows))
	rs := make([]route, len(flows))
	parallel(len(flows), func(lo, hi int) {
		memo := newParseMemo()
		for i := lo; i < hi; i++ {
			xs[i], rs[i] = parse(flows[i], memo)
		}
	})
	for i, x := range xs {
		s.forPeer(flows[i]).finish(x, rs[i])
	}
	return xs
}

// parallelMin is the fewest items worth splitting across goroutines.
var parallelMin = 4096

// parallel calls fn on contiguous parts of [0, n), one per core.
func parallel(n int, fn func(lo, hi int)) {
	parts := runtime.GOMAXPROCS(0)
	if n < parallelMin || parts < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// parseMemo keeps what one goroutine of DecodeAll parsed from response
// headers and bodies: a long log's failures repeat the same few challenges
// and error bodies (a reader infers one per error text). What it returns is
// shared: nothing changes a Challenge or an ErrorBody after decode.
type parseMemo struct {
	bodies     map[string]errBodyMemoed
	challenges map[string]challengesMemoed
	clients    map[string]Client
}

type errBodyMemoed struct {
	contentType string
	truncated   bool
	eb          ErrorBody
}

type challengesMemoed struct {
	cs     []Challenge
	issues []Issue
}

// memoMax bounds each memo: values longer than memoLen, and new ones past
// memoMax entries, are parsed each time.
const memoMax, memoLen = 4096, 4096

func newParseMemo() *parseMemo {
	return &parseMemo{bodies: map[string]errBodyMemoed{}, challenges: map[string]challengesMemoed{}, clients: map[string]Client{}}
}

func (m *parseMemo) errorBody(contentType string, body []byte, truncated bool) ErrorBody {
	if m == nil || len(body) > memoLen {
		return ParseErrorBody(contentType, body, truncated)
	}
	if e, ok := m.bodies[string(body)]; ok && e.contentType == contentType && e.truncated == truncated {
		return e.eb
	}
	eb := ParseErrorBody(contentType, body, truncated)
	if len(m.bodies) < memoMax {
		m.bodies[string(body)] = errBodyMemoed{contentType, truncated, eb}
	}
	return eb
}

func (m *parseMemo) parseChallenges(values []string) ([]Challenge, []Issue) {
	if m == nil || len(values) != 1 || len(values[0]) > memoLen {
		return ParseChallenges(values...)
	}
	if e, ok := m.challenges[values[0]]; ok {
		return e.cs, e.issues
	}
	cs, issues := ParseChallenges(values...)
	if len(m.challenges) < memoMax {
		m.challenges[values[0]] = challengesMemoed{cs, issues}
	}
	return cs, issues
}

// parse is the part of decoding that needs no session state.
func parse(f *flow.Flow, memo *parseMemo) (*Exchange, route) {
	x := &Exchange{Flow: f}
	req := f.Request
	u := req.URL
	if u == nil {
		u = &url.URL{}
	}
	x.Host = strings.ToLower(u.Host)
	x.Registry = NormalizeRegistry(x.Host)
	x.Client = memo.client(req.Header.Get("User-Agent"))
	if a := req.Header.Get("Authorization"); a != "" {
		x.Auth = ParseAuthorization(a)
	}
	if f.Response != nil && !f.Response.Synthetic {
		var issues []Issue
		x.Challenges, issues = memo.parseChallenges(f.Response.Header.Values("Www-Authenticate"))
		x.Issues = append(x.Issues, issues...)
		x.RateLimit = ParseRateLimit(f.Response.Header, f.Start)
		if f.Response.Status >= 400 {
			b := f.Response.Body
			x.Errors = memo.errorBody(f.Response.Header.Get("Content-Type"), b.Captured, b.Truncated)
		}
	}
	r := classifyPath(req.Method, u)
	r.need = needs(req.Method, r)
	r.realmKey = RealmKey(u)
	return x, r
}

// finish decodes what depends on the flows before x, and learns from x.
func (s *Session) finish(x *Exchange, r route) *Exchange {
	f := x.Flow
	req := f.Request
	u := req.URL
	if u == nil {
		u = &url.URL{}
	}
	switch {
	case req.Method == http.MethodConnect:
		// The target as requests in the tunnel name it, without :443, so a
		// failed tunnel and the requests that went through count against
		// one host.
		x.Kind = KindTunnel
		if h, port, err := net.SplitHostPort(x.Host); err == nil && port == "443" {
			x.Host = strings.Trim(h, "[]")
			if strings.Contains(x.Host, ":") {
				x.Host = "[" + x.Host + "]"
			}
			x.Registry = NormalizeRegistry(x.Host)
		}
		if reg, ok := s.realmHosts[hostPort(x.Host, "https")]; ok {
			x.Registry, x.ToRealm = reg, true
		}
	case s.isRedirectTarget(u):
		rd := s.redirects[u.String()]
		x.Kind, x.RedirectFrom, x.Repo, x.Ref, x.Registry = KindBlobRedirect, rd.flow, rd.repo, rd.ref, rd.registry
	case s.isTokenRequest(req.Method, u, req.Header, r.realmKey):
		x.Kind = KindTokenRequest
		if rl, ok := s.realms[r.realmKey]; ok {
			x.Registry = rl.registry
		}
		var issues []Issue
		x.TokenRequest, issues = ParseTokenRequest(req.Method, u.Query(), req.Header,
			req.Header.Get("Content-Type"), req.Body.Captured, req.Body.Truncated)
		x.Issues = append(x.Issues, issues...)
		s.decodeTokenResponse(x)
	default:
		x.Kind, x.Repo, x.Ref, x.From = r.kind, r.repo, r.ref, r.from
		x.Need = r.need
		if x.Kind.IsRegistry() {
			x.Upstream = upstreamOf(u, x.Registry)
		}
	}

	if x.Kind != KindTokenRequest {
		s.decodeBearer(x)
	}
	s.learnChallenges(x)
	s.learnRedirect(x)
	return x
}

// upstreamOf returns the registry a mirror request names in ns, or "" when
// there is none, it is the registry asked, or it is not a host[:port].
func upstreamOf(u *url.URL, registry string) string {
	if !strings.Contains(u.RawQuery, "ns=") {
		return ""
	}
	ns := u.Query().Get("ns")
	if ns == "" || strings.ContainsAny(ns, "/ \t@?#") {
		return ""
	}
	if _, err := url.Parse("https://" + ns); err != nil {
		return ""
	}
	if r := NormalizeRegistry(ns); r != registry {
		return r
	}
	return ""
}

func (s *Session) isRedirectTarget(u *url.URL) bool {
	if len(s.redirects) == 0 {
		return false
	}
	_, ok := s.redirects[u.String()]
	return ok
}

// isTokenRequest: a realm some registry named, or failing that a
// well-known token path with token-request fields. realmKey is RealmKey(u).
func (s *Session) isTokenRequest(method string, u *url.URL, h http.Header, realmKey string) bool {
	if _, ok := s.realms[realmKey]; ok {
		return true
	}
	if strings.HasPrefix(u.Path, "/v2/") && u.Path != "/v2/token" && u.Path != "/v2/auth" {
		return false
	}
	path := strings.TrimSuffix(u.Path, "/")
	known := false
	for _, p := range commonTokenPaths {
		if strings.HasSuffix(path, p) {
			known = true
			break
		}
	}
	if !known {
		return false
	}
	q := u.Query()
	if method == http.MethodPost {
		return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "application/x-www-form-urlencoded")
	}
	return q.Has("scope") || q.Has("service") || q.Has("account")
}

// learnChallenges remembers every Bearer realm a registry named, so the
// token request that follows is recognised wherever its realm lives.
func (s *Session) learnChallenges(x *Exchange) {
	for _, c := range x.Challenges {
		if !c.IsBearer() || c.Realm() == "" {
			continue
		}
		// A long trace repeats a handful of realms: each is parsed once.
		rp, ok := s.realmURLs[c.Realm()]
		if !ok {
			if ru, err := url.Parse(c.Realm()); err == nil && ru.Host != "" {
				rp = parsedRealm{key: RealmKey(ru), hostPort: hostPort(ru.Host, ru.Scheme), ok: true}
			}
			if s.realmURLs == nil {
				s.realmURLs = map[string]parsedRealm{}
			}
			s.realmURLs[c.Realm()] = rp
		}
		if !rp.ok {
			x.Issues = append(x.Issues, Issue{Where: "WWW-Authenticate", What: "realm is not an absolute URL", Raw: clip(c.Realm())})
			continue
		}
		s.realms[rp.key] = realm{registry: x.Registry, service: c.Service()}
		s.realmHosts[rp.hostPort] = x.Registry
	}
}

// decodeTokenResponse reads a token server's 200 and registers the tokens
// it issued.
func (s *Session) decodeTokenResponse(x *Exchange) {
	resp := x.Flow.Response
	if resp == nil || resp.Synthetic || resp.Status != http.StatusOK {
		return
	}
	tr, err := ParseTokenResponse(resp.Body.Captured)
	if err != nil {
		var pe *ParseError
		where := "token response"
		if errors.As(err, &pe) {
			where = pe.Field
		}
		x.Issues = append(x.Issues, Issue{Where: where, What: errText(err)})
	}
	if tr == nil || tr.Token == nil && tr.AccessToken == nil {
		return
	}
	x.TokenResponse = tr
	for _, t := range []*Token{tr.Token, tr.AccessToken} {
		if t != nil && t.Claims != nil && (t == tr.Token || tr.Token == nil || tr.Token.ID != t.ID) {
			x.Issues = append(x.Issues, t.Claims.Issues...)
		}
	}
	var requested []Scope
	if x.TokenRequest != nil {
		requested = x.TokenRequest.Scopes
	}
	for _, t := range []*Token{tr.Token, tr.AccessToken} {
		if t != nil && t.ID != "" {
			s.tokens[t.ID] = issued{flow: x.Flow.ID, requested: requested}
		}
	}
}

// decodeBearer decodes the Bearer token a registry request carried, links it
// to the response that issued it, and says what it does not cover.
func (s *Session) decodeBearer(x *Exchange) {
	if !strings.EqualFold(x.Auth.Scheme, "bearer") {
		return
	}
	raw := x.Flow.Request.Header.Get("Authorization")
	_, tok, _ := strings.Cut(strings.TrimSpace(raw), " ")
	t, err := s.parseToken(strings.TrimSpace(tok))
	if err != nil {
		x.Issues = append(x.Issues, Issue{Where: "Authorization", What: errText(err)})
	}
	x.Token = t
	if t != nil && t.Claims != nil {
		x.Issues = append(x.Issues, t.Claims.Issues...)
	}
	if t != nil {
		if is, ok := s.tokens[t.ID]; ok {
			x.TokenFrom = is.flow
		}
	}
	if t == nil || t.Claims == nil || !t.Claims.HasAccess {
		return
	}
	for _, need := range x.Need {
		if m := Missing(t.Claims.Access, need); len(m) > 0 {
			x.Missing = append(x.Missing, Scope{Type: need.Type, Class: need.Class, Name: need.Name, Actions: m})
		}
	}
}

// learnRedirect remembers where a blob request was redirected, so the
// request that follows it is known for what it is.
func (s *Session) learnRedirect(x *Exchange) {
	resp := x.Flow.Response
	if resp == nil || resp.Status < 300 || resp.Status > 399 || !(x.Kind == KindBlobGet || x.Kind == KindBlobHead || x.Kind == KindBlobRedirect) {
		return
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	lu, err := x.Flow.Request.URL.Parse(loc)
	if err != nil {
		x.Issues = append(x.Issues, Issue{Where: "Location", What: "not a URL", Raw: clip(loc)})
		return
	}
	from := x.Flow.ID
	if x.Kind == KindBlobRedirect {
		from = x.RedirectFrom
	}
	s.redirects[lu.String()] = redirect{flow: from, repo: x.Repo, ref: x.Ref, registry: x.Registry}
}
