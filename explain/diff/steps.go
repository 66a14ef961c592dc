package diff

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/explain"
)

// Stages order the steps of a job: the order a pull or push goes through.
const (
	stageConnect = iota
	stagePing
	stageToken
	stageManifest
	stageBlob
	stageUpload
	stagePush
	stageV1
	stageOther
)

// step is what an operation did for one purpose: every attempt at it, in
// order (the 401 that starts the token handshake and the retry with the
// token are one step).
type step struct {
	key   string
	stage int
	pos   int // the position of its first attempt in the operation
	xs    []*decode.Exchange
	op    *explain.Operation
	idx   []int // each attempt's index in op.Exchanges
}

func (s *step) last() *decode.Exchange { return s.xs[len(s.xs)-1] }

func (s *step) ids() []flow.ID {
	ids := make([]flow.ID, len(s.xs))
	for i, x := range s.xs {
		ids[i] = x.Flow.ID
	}
	return ids
}

type stepSet struct {
	byKey map[string]*step
	list  []*step
}

// steps splits an operation into its steps. withRepo keys registry steps
// by repository too (an operation that touched several).
func steps(op *explain.Operation, withRepo bool) stepSet {
	ss := stepSet{byKey: map[string]*step{}}
	blobKey := map[flow.ID]string{} // a redirect's flow -> its blob step
	for i, x := range op.Exchanges {
		key, stage := stepKey(x, withRepo)
		if x.Kind == decode.KindBlobRedirect {
			if k, ok := blobKey[x.RedirectFrom]; ok {
				key, stage = k, stageBlob
			}
		}
		if x.Kind.IsBlob() {
			blobKey[x.Flow.ID] = key
		}
		s := ss.byKey[key]
		if s == nil {
			s = &step{key: key, stage: stage, pos: i, op: op}
			ss.byKey[key] = s
			ss.list = append(ss.list, s)
		}
		s.xs = append(s.xs, x)
		s.idx = append(s.idx, i)
	}
	return ss
}

func stepKey(x *decode.Exchange, withRepo bool) (string, int) {
	in := ""
	if withRepo && x.Repo != "" {
		in = " in " + x.Repo
	}
	ref := shortRef(x.Ref)
	switch k := x.Kind; {
	case k == decode.KindTunnel:
		if x.ToRealm {
			return "token", stageToken
		}
		return "connect", stageConnect
	case k == decode.KindPing:
		return "ping", stagePing
	case k == decode.KindTokenRequest:
		return "token", stageToken
	case k == decode.KindManifestGet || k == decode.KindManifestHead:
		return "manifest " + ref + in, stageManifest
	case k == decode.KindManifestPut:
		return "push manifest " + ref + in, stagePush
	case k == decode.KindManifestDelete:
		return "delete manifest " + ref + in, stagePush
	case k == decode.KindBlobGet || k == decode.KindBlobHead:
		return "blob " + ref + in, stageBlob
	case k == decode.KindBlobDelete:
		return "delete blob " + ref + in, stagePush
	case k == decode.KindBlobRedirect:
		return "redirect to " + x.Host, stageBlob
	case k >= decode.KindUploadStart && k <= decode.KindBlobMount:
		return "upload" + in, stageUpload
	case k == decode.KindTagsList:
		return "tag list" + in, stageManifest
	case k == decode.KindCatalog:
		return "catalog", stageManifest
	case k == decode.KindReferrers:
		return "referrers " + ref + in, stageManifest
	case k.IsV1():
		return "V1", stageV1
	}
	p := "?"
	if u := x.Flow.Request.URL; u != nil {
		p = u.Path
	}
	return "other " + x.Flow.Request.Method + " " + p, stageOther
}

// shortRef shortens a digest for reading; a tag stays whole.
func shortRef(ref string) string {
	if strings.HasPrefix(ref, "sha256:") && len(ref) > 7+12 {
		return ref[:7+12] + "…"
	}
	return ref
}

// stepOrder is every key of either side, in the order of the job.
func stepOrder(a, b stepSet) []string {
	type k struct {
		key        string
		stage, pos int
	}
	var ks []k
	for _, s := range a.list {
		ks = append(ks, k{s.key, s.stage, s.pos})
	}
	for _, s := range b.list {
		if a.byKey[s.key] == nil {
			ks = append(ks, k{s.key, s.stage, s.pos})
		}
	}
	slices.SortStableFunc(ks, func(x, y k) int { return cmp.Or(cmp.Compare(x.stage, y.stage), cmp.Compare(x.pos, y.pos)) })
	keys := make([]string, len(ks))
	for i, x := range ks {
		keys[i] = x.key
	}
	return keys
}

// missing is a step only one side made. It is a divergence that counts
// (major) when it changed the course of the run: a V1 fallback, a token
// request the other side never made, a failed tunnel, a request that failed
// for good; otherwise (the other side stopped before it, or does it another
// way) it is minor. A step a log cannot show is no difference at all.
func (c *comparer) missing(xa, xb *step, p opPair) (d Divergence, major, ok bool) {
	s, side, other, hide := xa, "A", "B", c.hideA
	lackingLog := c.b.Report.Source != nil
	if xa == nil {
		s, side, other, hide = xb, "B", "A", c.hideB
		lackingLog = c.a.Report.Source != nil
	}
	if lackingLog || s.stage == stagePing {
		// Clients differ in pinging first (containerd does not); a log
		// shows what its client chose to log.
		return d, false, false
	}
	x := s.last()
	role := s.op.Role(s.idx[len(s.idx)-1])
	if role == explain.RoleProbe {
		return d, false, false
	}
	d = Divergence{Step: s.key, What: "missing"}
	if side == "A" {
		d.A = s.ids()
	} else {
		d.B = s.ids()
	}
	lacking := opOf(p, other)
	if s.stage != stageV1 && lacking.Failed() && stoppedBefore(lacking, s.stage) {
		d.Text = fmt.Sprintf("%s made %s (%s); %s did not: it had stopped before", side, exchangeWords(x), answer(x), other)
		return d, false, true
	}
	switch {
	case s.stage == stageV1:
		before := "its last V2 request"
		if i := s.idx[0]; i > 0 {
			prev := s.op.Exchanges[i-1]
			before = exchangeWords(prev) + " → " + answer(prev)
		}
		d.What = "fallback"
		d.Text = fmt.Sprintf("%s fell back to V1 after %s: %s → %s; %s did not", side, before, exchangeWords(s.xs[0]), answer(x), other)
		return d, true, true
	case s.stage == stageToken:
		d.What = "token"
		d.Text = fmt.Sprintf("%s asked the token server (%s) and was answered %s; %s never did", side, tokenAsk(s, hide), answer(x), other)
		if lacking.Failed() {
			d.Text = fmt.Sprintf("%s never asked the token server; %s asked it (%s) and was answered %s", other, side, tokenAsk(s, hide), answer(x))
		}
		return d, true, true
	case s.stage == stageConnect:
		d.What = "transport"
		d.Text = fmt.Sprintf("%s could not open a connection to %s: %s; %s could", side, x.Host, answer(x), other)
		return d, true, true
	case role == explain.RoleFailed:
		d.What = "step"
		d.Text = fmt.Sprintf("%s made %s and it failed: %s; %s never made it", side, exchangeWords(x), answer(x), other)
		return d, true, true
	}
	d.Text = fmt.Sprintf("%s made %s (%s); %s did not", side, exchangeWords(x), answer(x), other)
	return d, false, true
}

// stoppedBefore: op stopped at a step of an earlier stage than stage.
func stoppedBefore(op *explain.Operation, stage int) bool {
	x := op.Outcome().Stop
	if x == nil {
		return false
	}
	_, st := stepKey(x, false)
	return st < stage
}

func opOf(p opPair, side string) *explain.Operation {
	if side == "A" {
		return p.a
	}
	return p.b
}

// compareStep compares a step both sides made.
func (c *comparer) compareStep(a, b *step) []Divergence {
	switch a.stage {
	case stagePing:
		return c.comparePing(a, b)
	case stageToken:
		return c.compareToken(a, b)
	}
	return c.compareRequest(a, b)
}

// say joins each side's phrase, the side that failed first, as people say
// it: "B never sent credentials; A sent Basic for alice".
func say(a, b *step, pa, pb string) string {
	if b.op.Failed() && !a.op.Failed() {
		return "B " + pb + "; A " + pa
	}
	return "A " + pa + "; B " + pb
}

// comparePing compares the /v2/ answers: status and challenge.
func (c *comparer) comparePing(a, b *step) []Divergence {
	xa, xb := a.last(), b.last()
	sa, sb := pingView(xa), pingView(xb)
	if sa == sb {
		return nil
	}
	// A log may show the status without the challenge.
	if (xa.Flow.Origin != "" || xb.Flow.Origin != "") && status(xa) == status(xb) {
		return nil
	}
	if inferredOK(xa) || inferredOK(xb) {
		return nil
	}
	return []Divergence{{Step: "ping", What: "challenge", A: a.ids(), B: b.ids(),
		Text: say(a, b, "'s ping (GET /v2/) was answered "+sa, "'s ping was answered "+sb)}}
}

func pingView(x *decode.Exchange) string {
	s := answer(x)
	if len(x.Challenges) == 0 {
		if status(x) == 200 {
			return s + " with no challenge"
		}
		return s
	}
	ch := x.Challenges[0]
	s += " with a " + ch.Scheme + " challenge"
	var ps []string
	for _, k := range []string{"realm", "service"} {
		if v := ch.Params[k]; v != "" {
			ps = append(ps, k+" "+v)
		}
	}
	if len(ps) > 0 {
		s += " (" + strings.Join(ps, ", ") + ")"
	}
	return s
}

// tokenView is what the token requests of a step asked and got.
type tokenView struct {
	creds       string // "no credentials", "Basic for user alice", …
	credsKnown  bool
	scopes      string
	scopesKnown bool
	status      string // the last attempt's answer
	ok          bool
	grant       string // what the tokens granted, in words
	grantKnown  bool
	expiry      string // "valid", or how it was unusable when issued
	expiryKnown bool
	lifetime    string
}

func newTokenView(s *step, hide bool) tokenView {
	var v tokenView
	var creds, scopes, grants []string
	credsSeen, opaque, anyToken := false, false, false
	expired := ""
	for _, x := range s.xs {
		if x.Kind != decode.KindTokenRequest {
			continue
		}
		if tr := x.TokenRequest; tr != nil {
			for _, sc := range tr.Scopes {
				if str := sc.String(); !slices.Contains(scopes, str) {
					scopes = append(scopes, str)
				}
			}
		}
		cr, seen := tokenCreds(x, hide)
		credsSeen = credsSeen || seen
		if seen && !slices.Contains(creds, cr) {
			creds = append(creds, cr)
		}
		tr := x.TokenResponse
		if tr == nil || status(x) != 200 {
			continue
		}
		tok := cmp.Or(tr.AccessToken, tr.Token)
		if tok == nil {
			continue
		}
		anyToken = true
		if tok.Claims == nil {
			opaque = true
			continue
		}
		if tok.Claims.HasAccess {
			for _, a := range tok.Claims.Access {
				if str := a.String(); !slices.Contains(grants, str) {
					grants = append(grants, str)
				}
			}
		} else {
			opaque = true
		}
		start := x.Flow.Start
		cl := tok.Claims
		switch {
		case !cl.ExpiresAt.IsZero() && !start.IsZero() && cl.ExpiresAt.Before(start):
			expired = "had expired " + dur(start.Sub(cl.ExpiresAt)) + " before it was issued (exp " + cl.ExpiresAt.UTC().Format(time.RFC3339) + ")"
		case !cl.NotBefore.IsZero() && !start.IsZero() && cl.NotBefore.After(start.Add(time.Minute)):
			expired = "was not valid until " + dur(cl.NotBefore.Sub(start)) + " after it was issued (nbf " + cl.NotBefore.UTC().Format(time.RFC3339) + ")"
		}
		if v.lifetime == "" && !cl.ExpiresAt.IsZero() && !cl.IssuedAt.IsZero() {
			v.lifetime = dur(cl.ExpiresAt.Sub(cl.IssuedAt))
		}
	}
	slices.Sort(creds)
	slices.Sort(scopes)
	slices.Sort(grants)
	v.creds, v.credsKnown = strings.Join(creds, " and "), credsSeen
	v.scopes = strings.Join(scopes, " ")
	// A log that does not show the query (oras redacts it) leaves the
	// scopes unknown; a recorded request without scope asked for none.
	v.scopesKnown = len(scopes) > 0 || s.xs[0].Flow.Origin == ""
	if v.scopes == "" {
		v.scopes = "no scope"
	}
	last := s.last()
	v.status, v.ok = answer(last), status(last) == 200 || inferredOK(last)
	switch {
	case !anyToken:
		v.grantKnown = false
	case opaque:
		v.grant, v.grantKnown = "an opaque token (what it grants cannot be read)", false
	case len(grants) == 0:
		v.grant, v.grantKnown = "a token granting nothing", true
	default:
		v.grant, v.grantKnown = "a token granting "+strings.Join(grants, " "), true
	}
	if anyToken && !opaque {
		v.expiry, v.expiryKnown = "valid", true
		if expired != "" {
			v.expiry = expired
		}
	}
	return v
}

// tokenCreds says what credentials a token request carried, and whether
// that can be known.
func tokenCreds(x *decode.Exchange, hide bool) (string, bool) {
	if tr := x.TokenRequest; tr != nil && tr.Method == "POST" {
		switch tr.GrantType {
		case "password":
			return "a password for user " + cmp.Or(tr.Username, "?") + " (OAuth2)", true
		case "refresh_token":
			return "a refresh token (OAuth2)", true
		}
	}
	if x.Kind == decode.KindTunnel {
		return "", false
	}
	if strings.EqualFold(x.Auth.Scheme, "basic") && !x.Auth.Empty && x.Auth.User == "" {
		// docker and containers/image name the user in account=; a log
		// that shows Basic went out may not show whose.
		if tr := x.TokenRequest; tr != nil && tr.Account != "" {
			return "Basic for user " + tr.Account, true
		}
		if x.Flow.Origin != "" {
			return "", false
		}
	}
	return authWords(x, hide)
}

// authWords says what Authorization a request carried.
func authWords(x *decode.Exchange, hide bool) (string, bool) {
	a := x.Auth
	switch {
	case a.Scheme == "":
		if hide {
			return "", false
		}
		return "no credentials", true
	case strings.EqualFold(a.Scheme, "basic"):
		if a.Empty {
			return "empty Basic credentials", true
		}
		return "Basic for user " + cmp.Or(a.User, "?"), true
	case strings.EqualFold(a.Scheme, "bearer"):
		return "a Bearer token", true
	}
	return a.Scheme + " credentials", true
}

func (c *comparer) compareToken(a, b *step) []Divergence {
	va, vb := newTokenView(a, c.hideA), newTokenView(b, c.hideB)
	d := Divergence{Step: "token", A: a.ids(), B: b.ids()}
	got := func(v tokenView) string {
		if !v.ok {
			return "was answered " + v.status
		}
		if v.grant != "" {
			return "got " + v.grant
		}
		return "got a token"
	}
	grantsDiffer := va.grantKnown && vb.grantKnown && va.grant != vb.grant
	switch {
	case va.credsKnown && vb.credsKnown && va.creds != vb.creds:
		d.What = "credentials"
		pa, pb := credsPhrase(va), credsPhrase(vb)
		if grantsDiffer || va.ok != vb.ok {
			pa += " and " + got(va)
			pb += " and " + got(vb)
		}
		d.Text = say(a, b, pa, pb)
	case va.scopesKnown && vb.scopesKnown && va.scopes != vb.scopes:
		d.What = "scopes"
		d.Text = say(a, b, "asked the realm for "+quote(va.scopes)+" and "+got(va), "asked the realm for "+quote(vb.scopes)+" and "+got(vb))
	case va.ok != vb.ok || !va.ok && !sameAnswer(a.last(), b.last()):
		d.What = "status"
		d.Text = say(a, b, "'s token request ("+tokenAsk(a, c.hideA)+") was answered "+va.status, "'s token request ("+tokenAsk(b, c.hideB)+") was answered "+vb.status)
	case grantsDiffer:
		d.What = "grant"
		d.Text = say(a, b, "asked for "+quote(va.scopes)+" and got "+va.grant, "asked for "+quote(vb.scopes)+" and got "+vb.grant)
	case va.expiryKnown && vb.expiryKnown && va.expiry != vb.expiry:
		d.What = "expiry"
		d.Text = say(a, b, "'s token "+expiryWords(va), "'s token "+expiryWords(vb))
	default:
		return nil
	}
	d.Text = strings.ReplaceAll(d.Text, " '", "'")
	return []Divergence{d}
}

func credsPhrase(v tokenView) string {
	if v.creds == "no credentials" {
		return "never sent credentials to the token server"
	}
	return "sent " + v.creds + " to the token server"
}

func expiryWords(v tokenView) string {
	if v.expiry == "valid" {
		if v.lifetime != "" {
			return "was valid for " + v.lifetime
		}
		return "was valid"
	}
	return v.expiry
}

// tokenAsk is a step's token requests in a few words: scopes and
// credentials.
func tokenAsk(s *step, hide bool) string {
	for _, x := range slices.Backward(s.xs) {
		if x.Kind != decode.KindTokenRequest {
			continue
		}
		var sc []string
		if x.TokenRequest != nil {
			for _, s := range x.TokenRequest.Scopes {
				sc = append(sc, s.String())
			}
		}
		w := "scope " + cmp.Or(strings.Join(sc, " "), "none")
		if cr, ok := tokenCreds(x, hide); ok {
			w += ", " + cr
		}
		return w
	}
	return "the realm, " + s.last().Host
}

// reqView is what one registry request carried and got.
type reqView struct {
	// creds says what the request carried, in words; scheme is the part
	// every source shows (none, Basic for whom, Bearer), coverage whether
	// a Bearer token covered the request ("" when it cannot be read: an
	// opaque token, or a log that puts the token back unread).
	creds, scheme, coverage string
	credsKnown              bool
	expiry                  string
	expiryKnown             bool
	transport               string
	answer                  string
	class                   int // 2: it went on (2xx, 3xx, or a log's "went on"); 4, 5: failed; 0: no answer
}

func newReqView(x *decode.Exchange, hide bool) reqView {
	var v reqView
	v.creds, v.credsKnown = authWords(x, hide)
	v.scheme = v.creds
	if x.Auth.Scheme != "" && strings.EqualFold(x.Auth.Scheme, "bearer") {
		if x.TokenFrom != 0 {
			v.creds += " from " + x.TokenFrom.String()
		}
		switch {
		case x.Token == nil || x.Token.Claims == nil || !x.Token.Claims.HasAccess:
		case len(x.Missing) > 0:
			v.coverage = "lacking " + scopeWords(x.Missing)
			v.creds += " " + v.coverage
		default:
			v.coverage = "that covers it"
			v.creds += " " + v.coverage
		}
	}
	if x.Token != nil && x.Token.Claims != nil && !x.Token.Claims.ExpiresAt.IsZero() && !x.Flow.Start.IsZero() {
		v.expiryKnown = true
		v.expiry = "valid"
		if exp := x.Token.Claims.ExpiresAt; exp.Before(x.Flow.Start) {
			v.expiry = "expired " + dur(x.Flow.Start.Sub(exp)) + " before the request"
		}
	}
	if x.Flow.Err != nil {
		v.transport = string(x.Flow.Err.Kind)
	}
	v.answer = answer(x)
	switch st := status(x); {
	case inferredOK(x) || st >= 200 && st < 400:
		v.class = 2
	case st >= 400:
		v.class = st / 100
	}
	return v
}

func scopeWords(ss []decode.Scope) string {
	var w []string
	for _, s := range ss {
		w = append(w, s.String())
	}
	return strings.Join(w, " ")
}

// compareRequest compares the last attempt of a registry step.
func (c *comparer) compareRequest(a, b *step) []Divergence {
	xa, xb := a.last(), b.last()
	va, vb := newReqView(xa, c.hideA), newReqView(xb, c.hideB)
	d := Divergence{Step: a.key, A: a.ids(), B: b.ids()}
	// The same answer, or an answer a log only implies against one that
	// went on too: nothing to say about how it was asked.
	same := va.class == 2 && vb.class == 2 || sameAnswer(xa, xb)
	credsDiffer := va.credsKnown && vb.credsKnown &&
		(va.scheme != vb.scheme || va.coverage != "" && vb.coverage != "" && va.coverage != vb.coverage)
	showCreds := credsDiffer || va.expiryKnown && vb.expiryKnown && va.expiry != vb.expiry
	phrase := func(x *decode.Exchange, v reqView) string {
		w := "'s " + exchangeWords(x)
		if v.credsKnown && showCreds {
			w += " carried " + v.creds
			if v.expiry != "" && v.expiry != "valid" {
				w += " (it had " + v.expiry + ")"
			}
			w += " and"
		}
		return w + " was answered " + v.answer
	}
	switch {
	case va.transport != vb.transport && (va.transport != "" || vb.transport != ""):
		d.What = "transport"
	case same:
		return nil
	case va.expiryKnown && vb.expiryKnown && va.expiry != vb.expiry:
		d.What = "expiry"
	case credsDiffer:
		d.What = "credentials"
	default:
		d.What = "status"
	}
	d.Text = strings.ReplaceAll(say(a, b, phrase(xa, va), phrase(xb, vb)), " '", "'")
	return []Divergence{d}
}

// exchangeWords names a request: "GET manifest 1.0 of team/app".
func exchangeWords(x *decode.Exchange) string {
	m := x.Flow.Request.Method
	switch k := x.Kind; {
	case k == decode.KindPing:
		return m + " /v2/"
	case k == decode.KindTunnel:
		return "CONNECT " + x.Host
	case k == decode.KindTokenRequest:
		return m + " token from " + x.Host
	case k.IsManifest():
		return m + " manifest " + shortRef(x.Ref) + " of " + x.Repo
	case k == decode.KindBlobGet || k == decode.KindBlobHead || k == decode.KindBlobDelete:
		return m + " blob " + shortRef(x.Ref) + " of " + x.Repo
	case k == decode.KindBlobRedirect:
		return m + " of the redirect target " + x.Host + shortPath(x)
	}
	p := "?"
	if u := x.Flow.Request.URL; u != nil {
		p = (&url.URL{Path: u.Path}).String()
		if len(p) > 80 {
			p = p[:80] + "…"
		}
	}
	return m + " " + p
}

// shortPath is a request's path, digests shortened, without its query
// (a signed URL's).
func shortPath(x *decode.Exchange) string {
	u := x.Flow.Request.URL
	if u == nil {
		return ""
	}
	p := u.Path
	if i := strings.Index(p, "sha256:"); i >= 0 && len(p) > i+7+12 {
		p = p[:i+7+12] + "…"
	}
	return clip(p, 80)
}

// answer is how a request was answered, in words.
func answer(x *decode.Exchange) string {
	f := x.Flow
	if f.Err != nil && (f.Response == nil || f.Response.Synthetic) {
		return "no answer (" + string(f.Err.Kind) + ")"
	}
	if f.Response == nil {
		return "no answer"
	}
	if f.Response.Inferred && f.Response.Status == 0 {
		return "an answer the client went on from"
	}
	s := fmt.Sprint(f.Response.Status)
	if len(x.Errors.Errors) > 0 {
		s += " " + x.Errors.Errors[0].Code
	} else if x.Errors.Text != "" {
		s += " (" + clip(x.Errors.Text, 60) + ")"
	}
	for _, ch := range x.Challenges {
		if e := ch.Params["error"]; e != "" {
			s += " " + e
			break
		}
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func status(x *decode.Exchange) int {
	if x.Flow.Response == nil {
		return 0
	}
	return x.Flow.Response.Status
}

// sameAnswer: the same status and, where both show one, the same error
// code (a log often shows the status without the body).
func sameAnswer(a, b *decode.Exchange) bool {
	if status(a) != status(b) || (a.Flow.Err == nil) != (b.Flow.Err == nil) {
		return false
	}
	if a.Flow.Err != nil && a.Flow.Err.Kind != b.Flow.Err.Kind {
		return false
	}
	ca, cb := firstCode(a), firstCode(b)
	return ca == "" || cb == "" || ca == cb
}

func firstCode(x *decode.Exchange) string {
	if len(x.Errors.Errors) > 0 {
		return x.Errors.Errors[0].Code
	}
	return ""
}

// inferredOK: a log showed the client going on past this request.
func inferredOK(x *decode.Exchange) bool {
	r := x.Flow.Response
	return r != nil && r.Inferred && r.Status == 0
}

func dur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d >= time.Second {
		d = d.Round(time.Second)
	}
	return d.String()
}
