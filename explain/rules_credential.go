package explain

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// Credential and token-endpoint rules: catalog entries 10–18.
const (
	RuleBasicChallengeNoCredentials Rule = "basic-challenge-no-credentials"
	RuleCredentialsNotSent          Rule = "credentials-not-sent"
	RuleStaleCredentialsPublicPull  Rule = "stale-credentials-break-public-pull"
	RuleCredentialsRejectedAtToken  Rule = "credentials-rejected-at-token-endpoint"
	RuleLoginSucceededProvesLittle  Rule = "login-succeeded-proves-little"
	RuleRealmUnreachable            Rule = "realm-unreachable-untrusted-or-rejected"
	RuleOAuth2PostUnsupported       Rule = "oauth2-post-token-unsupported"
	RuleTokenResponseUnusable       Rule = "token-response-unusable"
	RuleRefreshTokenGrantRejected   Rule = "refresh-token-grant-rejected"
	RuleExpiredPasswordToken        Rule = "ecr-basic-token-expired-or-wrong-account"
)

// credentialRules follow catalog §3: a realm that cannot be reached is a
// transport failure (step 1); the token endpoint's answers come in step 4 in
// the catalog's order 16, 17, 18, 12, 13, then whether Authorization was sent
// at all (11, 10), then the login hint (14).
//
// 12 runs before 13 (group 43 vs 44), as §3 lists them: 12 only fires when
// 13's conditions hold and the trace also shows the repository is public, so
// it is the more specific answer and its fix (log out, or renew the secret —
// the image itself needs none) is the one the user needs first.
func credentialRules() []rule {
	return []rule{
		{id: RuleRealmUnreachable, group: 10, explains: true, op: credRealmUnreachable},
		{id: RuleOAuth2PostUnsupported, group: 40, explains: true, op: credPostUnsupported},
		{id: RuleTokenResponseUnusable, group: 41, explains: true, op: credTokenUnusable},
		{id: RuleRefreshTokenGrantRejected, group: 42, explains: true, op: credRefreshRejected},
		{id: RuleStaleCredentialsPublicPull, group: 43, explains: true, op: credStalePublic},
		{id: RuleExpiredPasswordToken, group: 44, explains: true, op: credExpiredPasswordToken},
		{id: RuleCredentialsRejectedAtToken, group: 44, explains: true, op: credRejectedAtToken},
		{id: RuleCredentialsNotSent, group: 45, explains: true, op: credNotSent},
		{id: RuleBasicChallengeNoCredentials, group: 46, explains: true, op: credBasicNoCredentials},
		{id: RuleLoginSucceededProvesLittle, group: 47, explains: false, op: credLoginProvesLittle},
	}
}

// ---- helpers ---------------------------------------------------------------

// credExpiredText matches a registry's words for credentials that are
// themselves short-lived tokens and have expired: ECR's "Your authorization
// token has expired. Reauthenticate and try again." and its kin.
var credExpiredText = regexp.MustCompile(`(?i)(authori[sz]ation token|token|credentials?|password|login)[^.]{0,40}\b(has |have |is |are )?expired`)

// credSaysExpired reports whether x's answer says the credentials expired.
func credSaysExpired(x *decode.Exchange) bool {
	// Most answers never say "expired": skip the expression for them.
	maybe := func(s string) bool { return strings.Contains(s, "xpire") || strings.Contains(s, "XPIRE") }
	if m := verdictMessage(x); maybe(m) && credExpiredText.MatchString(m) {
		return true
	}
	b := string(credBody(x))
	return maybe(b) && credExpiredText.MatchString(b)
}

func credRef(x *decode.Exchange) string { return fmt.Sprintf("#%d", x.Flow.ID) }

func credIsToken(x *decode.Exchange) bool {
	return x.Kind == decode.KindTokenRequest && x.TokenRequest != nil
}

// credTokenOK: a token request that got a usable token.
func credTokenOK(x *decode.Exchange) bool {
	return credIsToken(x) && x.Flow.Err == nil && status(x) == http.StatusOK && x.TokenResponse != nil
}

// credLaterTokenOK: a token was obtained after position i, so an earlier
// failure at the token endpoint was not the end of the story.
func credLaterTokenOK(op *Operation, i int) bool { return op.later().tokenOK > i }

func credIsBasic(a decode.Credentials) bool { return strings.EqualFold(a.Scheme, "basic") }

// credBasicSent: real Basic credentials (not Og==, which is "none").
func credBasicSent(a decode.Credentials) bool {
	return credIsBasic(a) && !a.Empty && (a.User != "" || a.Malformed || a.Redacted)
}

// credTokenCreds: the token request carried a user's credentials (Basic, or
// an OAuth2 password grant). A refresh token is not counted here (entry 18).
func credTokenCreds(tr *decode.TokenRequest) bool {
	return credBasicSent(tr.Auth) || tr.HasPassword || strings.EqualFold(tr.GrantType, "password") && tr.Username != ""
}

func credRefresh(tr *decode.TokenRequest) bool {
	return strings.EqualFold(tr.GrantType, "refresh_token") || tr.HasRefreshToken
}

// credAnonymous: the token request carried nothing that identifies anyone.
func credAnonymous(tr *decode.TokenRequest) bool {
	a := tr.Auth
	return (a.Scheme == "" && a.TokenID == "" || credIsBasic(a) && a.Empty) &&
		!tr.HasPassword && !tr.HasRefreshToken && tr.Username == ""
}

// credUser is the user name a request identified itself with (never the
// secret).
func credUser(tr *decode.TokenRequest) string {
	switch {
	case tr.Auth.User != "":
		return tr.Auth.User
	case tr.Username != "":
		return tr.Username
	}
	return tr.Account
}

// credChallengeFor returns the last exchange before position i whose Bearer
// challenge named the realm of token request x (or, failing that, the last
// Bearer challenge before it).
func credChallengeFor(op *Operation, i int, x *decode.Exchange) *decode.Exchange {
	lf := op.later()
	if j := lastBefore(lf.bearerByRealm[decode.RealmKey(x.Flow.Request.URL)], i); j >= 0 {
		return op.Exchanges[j]
	}
	if j := lastBefore(lf.bearerAt, i); j >= 0 {
		return op.Exchanges[j]
	}
	return nil
}

// credServerSaid quotes what an error response said, briefly.
func credServerSaid(x *decode.Exchange) string {
	e := x.Errors
	var s string
	switch {
	case len(e.Errors) > 0:
		s = strings.TrimSpace(e.Errors[0].Code + ": " + e.Errors[0].Message)
		s = strings.TrimPrefix(s, ": ")
	case e.Text != "":
		s = e.Text
	}
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (the server said %q)", s)
}

// credBody is the captured response body.
func credBody(x *decode.Exchange) []byte {
	if x.Flow.Response == nil {
		return nil
	}
	return x.Flow.Response.Body.Captured
}

// credInvalidGrant: an OAuth2 error body saying the grant or client was
// refused (RFC 6749 §5.2), which is a credential rejection, not a missing
// POST endpoint.
func credInvalidGrant(x *decode.Exchange) bool {
	b := bytes.ToLower(credBody(x))
	return bytes.Contains(b, []byte("invalid_grant")) || bytes.Contains(b, []byte("invalid_client")) ||
		bytes.Contains(b, []byte("unauthorized_client"))
}

// credRejection: the token endpoint refused the credentials x carried.
func credRejection(x *decode.Exchange) bool {
	if x.Flow.Err != nil {
		return false
	}
	switch st := status(x); {
	case st == http.StatusUnauthorized:
		return true
	case st == http.StatusForbidden:
		// A 403 to a POST is as often "POST not implemented" (entry 16);
		// a 403 to a request for repository scopes is as often "not
		// allowed what was asked" (entry 19). Only a scope-less request
		// (a login) refused with 403 is about the credentials alone.
		return x.TokenRequest.Method != http.MethodPost && len(x.TokenRequest.Scopes) == 0
	case st == http.StatusBadRequest:
		return x.TokenRequest.Method == http.MethodPost && credInvalidGrant(x)
	}
	return false
}

// credGetFallback returns the position of the first GET to the same realm
// after position i, or -1.
func credGetFallback(op *Operation, i int) int {
	key := decode.RealmKey(op.Exchanges[i].Flow.Request.URL)
	for j := i + 1; j < len(op.Exchanges); j++ {
		y := op.Exchanges[j]
		if credIsToken(y) && y.TokenRequest.Method == http.MethodGet && decode.RealmKey(y.Flow.Request.URL) == key {
			return j
		}
	}
	return -1
}

func credHostname(hostport string) string {
	if u, err := url.Parse("//" + hostport); err == nil && u.Hostname() != "" {
		return strings.ToLower(u.Hostname())
	}
	return strings.ToLower(hostport)
}

// credSameClient: two exchanges come from the same program (its credential
// store is the same), or carry the same User-Agent.
func credSameClient(a, b decode.Client) bool {
	if a.UserAgent != "" && a.UserAgent == b.UserAgent {
		return true
	}
	return a.Program != "" && a.Program == b.Program && a.Family == b.Family
}

// credSentElsewhere returns an exchange in which the same client sent real
// credentials to this registry, or to the same host under another name
// (another port, another Docker Hub alias), anywhere in the trace.
//
// Credentials sent to this very registry in another operation (an earlier
// run of the same program, e.g. a push with --creds before a --no-creds
// pull) prove nothing about this run: only the same operation, or the same
// host under another name, counts.
func credSentElsewhere(in *Input, op *Operation) *decode.Exchange {
	ix := credSentIndex(in)
	if len(ix.pos) == 0 {
		return nil
	}
	best, bestPos := (*decode.Exchange)(nil), len(in.Exchanges)
	// This operation's own requests to its registry.
	for _, y := range op.Exchanges {
		if p, ok := ix.pos[y]; ok && y.Registry == op.Registry && credSameClient(y.Client, op.Client) {
			best, bestPos = y, p
			break
		}
	}
	// The same host under another registry name, from any operation: the
	// first sending by each (registry, client) is enough.
	for reg, c := range ix.byHost[credHostname(op.Registry)] {
		if reg == op.Registry {
			continue
		}
		if op.Client.UserAgent != "" {
			if p, ok := c.byUA[op.Client.UserAgent]; ok && p < bestPos {
				best, bestPos = in.Exchanges[p], p
			}
		}
		if op.Client.Program != "" {
			if p, ok := c.byProgram[[2]string{op.Client.Program, op.Client.Family}]; ok && p < bestPos {
				best, bestPos = in.Exchanges[p], p
			}
		}
	}
	return best
}

// credSent: the exchange carried a user's credentials.
func credSent(y *decode.Exchange) bool {
	if credIsToken(y) {
		return credTokenCreds(y.TokenRequest)
	}
	return credBasicSent(y.Auth)
}

// credSentIdx indexes the exchanges that sent credentials, for
// credSentElsewhere: a scan of the trace per operation is quadratic on a
// long log.
type credSentIdx struct {
	pos map[*decode.Exchange]int // position in in.Exchanges
	// byHost: host name (of the registry or of the request) -> registry
	// -> the first sending by each client.
	byHost map[string]map[string]*credFirstSent
}

type credFirstSent struct {
	byUA      map[string]int    // non-empty User-Agent -> position
	byProgram map[[2]string]int // non-empty program, family -> position
}

func credSentIndex(in *Input) *credSentIdx {
	ix := in.index()
	ix.credSentOnce.Do(func() { ix.credSent = buildCredSent(in) })
	return ix.credSent
}

func buildCredSent(in *Input) *credSentIdx {
	cs := &credSentIdx{pos: map[*decode.Exchange]int{}, byHost: map[string]map[string]*credFirstSent{}}
	for i, y := range in.Exchanges {
		if !credSent(y) {
			continue
		}
		cs.pos[y] = i
		h1, h2 := credHostname(y.Registry), credHostname(y.Host)
		for _, h := range []string{h1, h2} {
			regs := cs.byHost[h]
			if regs == nil {
				regs = map[string]*credFirstSent{}
				cs.byHost[h] = regs
			}
			c := regs[y.Registry]
			if c == nil {
				c = &credFirstSent{byUA: map[string]int{}, byProgram: map[[2]string]int{}}
				regs[y.Registry] = c
			}
			if ua := y.Client.UserAgent; ua != "" {
				if _, ok := c.byUA[ua]; !ok {
					c.byUA[ua] = i
				}
			}
			if y.Client.Program != "" {
				k := [2]string{y.Client.Program, y.Client.Family}
				if _, ok := c.byProgram[k]; !ok {
					c.byProgram[k] = i
				}
			}
			if h1 == h2 {
				break
			}
		}
	}
	return cs
}

// credMovedOn: after this operation's last exchange the same client went on
// to another registry (a mirror, then the upstream; several endpoints): the
// failure here was not where the client ended, so it is left to the
// endpoint-fallback rule rather than explained as the failure.
func credMovedOn(in *Input, op *Operation) bool {
	if len(op.Exchanges) == 0 {
		return false
	}
	return in.wentElsewhereAfter(op.Client.UserAgent, op.Registry, op.Exchanges[len(op.Exchanges)-1].Flow.ID)
}

func credPos(op *Operation, x *decode.Exchange) int { return op.position(x) }

func credRepo(op *Operation, x *decode.Exchange) string {
	if x != nil && x.Repo != "" {
		return decode.NormalizeRepo(op.Registry, x.Repo)
	}
	if x != nil && credIsToken(x) {
		for _, s := range x.TokenRequest.Scopes {
			if s.Type == "repository" {
				return s.Name
			}
		}
	}
	if len(op.Repos) == 1 {
		return op.Repos[0]
	}
	return ""
}

// ---- 15 realm-unreachable-untrusted-or-rejected ---------------------------

func credTransportKind(k flow.ErrKind) bool {
	switch k {
	case flow.ErrDNS, flow.ErrRefused, flow.ErrTimeout, flow.ErrUnknownAuthority, flow.ErrCertificate, flow.ErrTLS, flow.ErrProxyRefused:
		return true
	}
	return false
}

// credRefusableRealm says why a client may refuse, or be unable, to use a
// realm: a plain-http realm for an https registry, or a literal private or
// loopback address on another host (go-containerregistry ≥ v0.21.4 and
// oras refuse those).
func credRefusableRealm(x *decode.Exchange, ru *url.URL) string {
	reqURL := x.Flow.Request.URL
	if strings.EqualFold(ru.Scheme, "http") && reqURL != nil && strings.EqualFold(reqURL.Scheme, "https") {
		return "a plain http:// URL while the registry is served over https"
	}
	a, err := netip.ParseAddr(strings.Trim(ru.Hostname(), "[]"))
	if err != nil {
		return ""
	}
	if reqURL != nil && strings.EqualFold(ru.Hostname(), reqURL.Hostname()) {
		return ""
	}
	switch {
	case a.IsLoopback():
		return "a loopback address (" + a.String() + ") on another host than the registry"
	case a.IsPrivate():
		return "a private address (" + a.String() + ") on another host than the registry"
	case a.IsLinkLocalUnicast(), a.IsUnspecified():
		return "a link-local or unspecified address (" + a.String() + ") on another host than the registry"
	}
	return ""
}

func credRealmUnreachable(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	if !op.Failed() {
		return nil
	}
	for i, x := range op.Exchanges {
		// A proxy that dials before it answers CONNECT records the realm it
		// could not reach as a failed tunnel, not as a token request.
		tunnel := x.Kind == decode.KindTunnel && x.ToRealm
		if !(credIsToken(x) && x.Flow.Err != nil && credTransportKind(x.Flow.Err.Kind) || tunnel && bad(x)) || credLaterTokenOK(op, i) {
			continue
		}
		errKind, errMsg := tunnelErr(x)
		var ch *decode.Exchange
		if tunnel {
			ch = challengeNaming(op, x)
		} else {
			ch = credChallengeFor(op, i, x)
		}
		realmHost := x.Host
		why := fmt.Sprintf("The token request %s to the realm %s failed before any answer: %s (%s).", credRef(x), realmHost, errKind, errMsg)
		if tunnel {
			why = fmt.Sprintf("The proxy could not open a connection to the realm %s (%s): %s (%s).", realmHost, credRef(x), errKind, errMsg)
		}
		if ch != nil {
			why = fmt.Sprintf("%s named the token server (realm) %s. ", credRef(ch), realmHost) + why
			if credHostname(ch.Host) != credHostname(realmHost) {
				why += " The registry itself answered, so the failing host is the realm, not the registry."
			}
		}
		why += " Without a token the client cannot authenticate, whatever its credentials."
		fix := "Make the realm reachable and trusted from where the client runs: set the registry's auth.token.realm to a URL clients can reach (not an internal service address or localhost), " +
			"add the realm host to HTTPS_PROXY/NO_PROXY and firewall allow-lists like the registry host"
		switch errKind {
		case flow.ErrUnknownAuthority, flow.ErrCertificate, flow.ErrTLS:
			fix += ", and trust the realm's CA too (certs.d or the CA bundle is often configured for the registry host only)"
		case flow.ErrDNS:
			fix += "; the realm's name does not resolve: check DNS for " + credHostname(realmHost)
		}
		fix += ". A proxy or mirror that relays another registry's realm must rewrite it."
		cannot := "Whether the client itself, without regtrace in the path, reaches the realm: the failure was seen by the proxy on its way there."
		if k := errKind; k == flow.ErrUnknownAuthority || k == flow.ErrCertificate || k == flow.ErrTLS {
			cannot = "The certificate check was regtrace's upstream check: whether the client trusts the realm's certificate is not shown (run with the realm's CA in regtrace's upstream trust to see what comes next)."
		}
		return []Finding{{
			Verdict:     VerdictTransport,
			Repo:        credRepo(op, x),
			Evidence:    ids(ch, x),
			Why:         why,
			Fix:         fix,
			CannotProve: cannot,
		}}
	}
	// A realm the client will not even try: no request to it follows.
	for i, x := range op.Exchanges {
		c := bearerChallenge(x)
		if c == nil || status(x) != http.StatusUnauthorized {
			continue
		}
		ru, err := url.Parse(c.Realm())
		if err != nil || ru.Host == "" {
			continue
		}
		reason := credRefusableRealm(x, ru)
		if reason == "" || credTokenAfter(in, op, i, x) {
			continue
		}
		return []Finding{{
			Verdict:  VerdictTransport,
			Repo:     credRepo(op, x),
			Evidence: ids(x),
			Why: fmt.Sprintf("%s sent the client to the token server %s, which is %s, and no request to it followed: "+
				"the client refused the realm or could not reach it (go-containerregistry ≥ v0.21.4 refuses a literal private or loopback realm on another host; oras blocks such prefixes).",
				credRef(x), c.Realm(), reason),
			Fix: "Set the registry's auth.token.realm to an https URL clients can reach by name (or use distribution's autoredirect), or have the reverse proxy rewrite the realm.",
			CannotProve: "Whether the client refused the realm or sent the request around the proxy (HTTP_PROXY unset for http://, NO_PROXY covering the address): " +
				"the client's own error message tells which.",
		}}
	}
	return nil
}

// tunnelErr is what a failed exchange says about its failure: the
// transport error, or for a tunnel the proxy answered (mitmproxy's 502)
// without one, its status and body.
func tunnelErr(x *decode.Exchange) (flow.ErrKind, string) {
	if e := x.Flow.Err; e != nil {
		return e.Kind, e.Message
	}
	msg := fmt.Sprintf("the proxy answered the CONNECT %d", status(x))
	if t := x.Errors.Text; t != "" {
		msg += ": " + t
	}
	return "connect-failed", msg
}

// credTokenAfter: any token request, or any request to the challenge's
// realm host, after position i (from any client).
func credTokenAfter(in *Input, op *Operation, i int, ch *decode.Exchange) bool {
	if op.later().tokenReq > i {
		return true
	}
	c := bearerChallenge(ch)
	ru, _ := url.Parse(c.Realm())
	ix := in.cross()
	at, ok := ix.at[ch]
	last, any := ix.realmLast[decode.RealmKey(ru)]
	return ok && any && last > at
}

// ---- 16 oauth2-post-token-unsupported -------------------------------------

// credFallbackNote says which client families retry a refused POST with GET
// (catalog §0.4).
func credFallbackNote(c decode.Client, st int) string {
	switch c.Family {
	case "containerd":
		if st == http.StatusForbidden || st >= 500 {
			return "containerd-based clients fall back to GET only on 400, 401 and 404 (405 with a user name), so a " + fmt.Sprint(st) + " ends the pull."
		}
		return "containerd-based clients (docker with the containerd store, BuildKit, nerdctl, ctr, CRI) POST first whenever they have a secret and fall back to GET on 400/401/404 (405 only with a user name)."
	case "docker":
		return "docker (classic) POSTs only with a stored identity token and never falls back to GET."
	case "go-containerregistry":
		return "go-containerregistry POSTs only with an identity token and falls back to GET on 404 only."
	case "containers-image":
		return "containers/image POSTs only with an identity token; it does not fall back to GET."
	}
	return "Only containerd-based clients POST with a password; they fall back to GET on 400/401/404 (405 with a user name). docker classic never falls back."
}

func credPostUnsupported(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	for i, x := range op.Exchanges {
		if !credIsToken(x) || x.TokenRequest.Method != http.MethodPost || credRefresh(x.TokenRequest) || x.Flow.Err != nil {
			continue
		}
		st := status(x)
		fb := credGetFallback(op, i)
		switch {
		case fb >= 0 && credTokenOK(op.Exchanges[fb]) && slices.Contains([]int{400, 401, 404, 405}, st) && !credInvalidGrant(x):
			y := op.Exchanges[fb]
			return []Finding{{
				Verdict:  VerdictOK,
				Repo:     credRepo(op, x),
				Evidence: ids(x, y),
				Why: fmt.Sprintf("The token server answered the OAuth2 POST %s with %d: it does not implement POST. The client fell back to GET (%s) and got a token, so the %d is not what went wrong. %s",
					credRef(x), st, credRef(y), st, credFallbackNote(op.Client, st)),
				Fix:         "Nothing to fix for this client; registry operators can implement the OAuth2 POST (distribution oauth spec) or keep answering 404/405 so clients fall back.",
				CannotProve: "Whether other clients, which do not fall back, fail against this realm.",
			}}
		case fb < 0 && slices.Contains([]int{400, 403, 404, 405, 500, 501}, st) && !credInvalidGrant(x) && !credLaterTokenOK(op, i) && op.Failed():
			return []Finding{{
				Verdict:  VerdictTokenProblem,
				Repo:     credRepo(op, x),
				Evidence: ids(credChallengeFor(op, i, x), x),
				Why: fmt.Sprintf("The client asked the token server for a token with an OAuth2 POST (%s, grant_type=%s) and got %d%s, and no GET followed: the realm does not implement POST "+
					"(GCR answers 404, Harbor 405 or 403, ACR 400, distribution's autoredirect 403). %s",
					credRef(x), credOr(x.TokenRequest.GrantType, "?"), st, credServerSaid(x), credFallbackNote(op.Client, st)),
			}}
		}
	}
	return nil
}

func credOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ---- 17 token-response-unusable -------------------------------------------

func credTokenUnusable(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	if !op.Failed() {
		return nil
	}
	for i, x := range op.Exchanges {
		// A log that says a token came back does not show its body, and
		// a body the trace holds none of may have held one.
		if !credIsToken(x) || x.Flow.Err != nil || status(x) != http.StatusOK || !headersKnown(x) || credLaterTokenOK(op, i) || bodyUnseen(x) {
			continue
		}
		var what string
		resp := x.Flow.Response
		ct := strings.ToLower(resp.Header.Get("Content-Type"))
		body := bytes.TrimSpace(resp.Body.Captured)
		switch {
		case x.TokenResponse == nil && (strings.Contains(ct, "html") || bytes.HasPrefix(body, []byte("<"))):
			eb := decode.ParseErrorBody("text/html", resp.Body.Captured, resp.Body.Truncated)
			what = "an HTML page"
			if eb.Text != "" {
				what += fmt.Sprintf(" (%q)", eb.Text)
			}
			what += ", not a token: a login/SSO page or a proxy's splash page"
		case x.TokenResponse == nil:
			what = "no usable token"
			for _, is := range x.Issues {
				if is.Where == "token response" {
					what += ": " + is.What
					break
				}
			}
		case x.TokenRequest.Method == http.MethodPost && x.TokenResponse.AccessToken == nil && x.TokenResponse.Token != nil && op.Client.Family == "containerd":
			what = `only "token" in answer to an OAuth2 POST; containerd requires "access_token" there and reports no token`
		default:
			continue
		}
		return []Finding{{
			Verdict:  VerdictTokenProblem,
			Repo:     credRepo(op, x),
			Evidence: ids(credChallengeFor(op, i, x), x),
			Why:      fmt.Sprintf("The token server answered %s with 200 but sent %s, so the client had nothing to send to the registry.", credRef(x), what),
		}}
	}
	return nil
}

// ---- 32 ecr-basic-token-expired-or-wrong-account ---------------------------

// credExpiredPasswordToken: the registry refused Basic credentials whose
// password is a short-lived token (ECR's 12-hour GetAuthorizationToken,
// GAR's oauth2accesstoken, ACR's refresh-token exchange) and said it
// expired. The fix is a new login, not a permission.
func credExpiredPasswordToken(in *Input, op *Operation) []Finding {
	x := op.Outcome().Stop
	if x == nil || x.Flow.Err != nil || (status(x) != http.StatusForbidden && status(x) != http.StatusUnauthorized) || !credSaysExpired(x) {
		return nil
	}
	who := "the credentials the client sent"
	if credBasicSent(x.Auth) {
		who = fmt.Sprintf("the Basic credentials of %q", x.Auth.User)
	} else if x.Auth.Scheme == "" && !in.authHidden() {
		who = "a request without credentials"
	}
	msg := verdictMessage(x)
	if msg == "" {
		msg = strings.TrimSpace(string(credBody(x)))
	}
	why := fmt.Sprintf("%s carried %s and the registry answered %d: %q. The password is itself a short-lived token and it has expired", credRef(x), who, status(x), clipText(msg, 200))
	fix := "Log in again to get a fresh token"
	if strings.Contains(x.Host, ".ecr.") || strings.EqualFold(x.Auth.User, "AWS") {
		why += " (Amazon ECR: the password from `aws ecr get-login-password` lasts 12 hours)"
		fix = "Log in again: `aws ecr get-login-password --region <region> | docker login --username AWS --password-stdin " + x.Host + "`; " +
			"for machines and CI use amazon-ecr-credential-helper so every pull gets a fresh token; check that the account and region in the host match the keys"
	}
	why += ". This is not a missing permission: the same account works once it logs in again."
	return []Finding{{
		Verdict:  VerdictCredentialsRejected,
		Repo:     credRepo(op, x),
		Evidence: ids(x),
		Why:      why,
		Fix:      fix + ".",
	}}
}

// ---- 18 refresh-token-grant-rejected --------------------------------------

func credRefreshRejected(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	if !op.Failed() {
		return nil
	}
	for i, x := range op.Exchanges {
		if !credIsToken(x) || x.TokenRequest.Method != http.MethodPost || !credRefresh(x.TokenRequest) || x.Flow.Err != nil {
			continue
		}
		st := status(x)
		if st != http.StatusBadRequest && st != http.StatusUnauthorized || credLaterTokenOK(op, i) {
			continue
		}
		svc := x.TokenRequest.Service
		return []Finding{{
			Verdict:  VerdictCredentialsRejected,
			Repo:     credRepo(op, x),
			Evidence: ids(credChallengeFor(op, i, x), x),
			Why: fmt.Sprintf("The client exchanged a stored refresh (identity) token with grant_type=refresh_token (%s) and the token server answered %d%s: "+
				"the stored identity token has expired, was revoked, or belongs to another tenant or account.", credRef(x), st, credServerSaid(x)),
			Fix: "Log in again to get a fresh identity token (`az acr login -n <registry>` for ACR, which lasts about 3 hours; `docker login " + credOr(op.Registry, "<registry>") + "` otherwise), " +
				"or use a credential helper that refreshes it; for automation use a service principal or a repository-scoped token instead of an interactive login." +
				credIf(svc != "", " (service "+svc+")"),
		}}
	}
	return nil
}

func credIf(c bool, s string) string {
	if c {
		return s
	}
	return ""
}

// ---- 13 credentials-rejected-at-token-endpoint, 12 stale creds ------------

// credRejected returns the token requests of op whose credentials the token
// server refused, when nothing after them obtained a token and the operation
// failed. A POST followed by a GET to the same realm is left out: the GET is
// what counts (and, if refused too, is itself in the list).
func credRejected(op *Operation) []*decode.Exchange {
	if !op.Failed() {
		return nil
	}
	var out []*decode.Exchange
	for i, x := range op.Exchanges {
		if !credIsToken(x) || !credTokenCreds(x.TokenRequest) || credRefresh(x.TokenRequest) || !credRejection(x) {
			continue
		}
		if credLaterTokenOK(op, i) {
			return nil
		}
		if x.TokenRequest.Method == http.MethodPost && credGetFallback(op, i) >= 0 {
			continue
		}
		out = append(out, x)
	}
	return out
}

// credUserHints reads what the user name alone says about a mangled login;
// malformed is Credentials.Malformed of the Basic credentials sent.
func credUserHints(u string, malformed bool) string {
	var hint string
	switch {
	case malformed:
		hint = "the Basic credentials are not user:password or have no user name — a variable that was unset, or a secret that broke the command line"
	case u == "robot" || u == "robot$":
		hint = "the user name is just \"" + u + "\": a Harbor robot account robot$name whose $name the shell expanded to nothing"
	case strings.Contains(u, "@"):
		hint = "the user name is an e-mail address; Docker Hub and most registries want the user name"
	default:
		return ""
	}
	return " Note: " + hint + "."
}

func credRejectedFinding(in *Input, op *Operation, xs []*decode.Exchange) Finding {
	x := xs[len(xs)-1]
	tr := x.TokenRequest
	who := credWho(in, credUser(tr))
	how := "Basic credentials"
	if tr.Method == http.MethodPost {
		how = "a password grant (grant_type=password)"
	}
	var refs []string
	for _, y := range xs {
		refs = append(refs, fmt.Sprintf("%s %d", credRef(y), status(y)))
	}
	ev := append([]*decode.Exchange{credChallengeFor(op, credPos(op, xs[0]), xs[0])}, xs...)
	why := fmt.Sprintf("The token server %s refused the credentials: the token request(s) %s sent %s for %s%s. "+
		"It authenticates before it authorizes, so no token was issued and the registry was never asked about the repository.",
		x.Host, strings.Join(refs, ", "), how, who, credServerSaid(x))
	why += credUserHints(credUser(tr), tr.Auth.Malformed) + credRedactedNote(in, tr.Auth)
	return Finding{
		Verdict:  VerdictCredentialsRejected,
		Repo:     credRepo(op, x),
		Evidence: ids(ev...),
		Why:      why,
		Fix: "Log in again with a valid secret, using --password-stdin: accounts with 2FA or SSO need a personal access token (Docker Hub PAT, GitLab token with read_registry, GitHub PAT with read:packages) instead of the password; " +
			"quote Harbor robot names ('robot$name') so the shell does not expand $name; use the user name, not the e-mail address; " +
			"for GAR _json_key pass the key file via --password-stdin. If the stored login is stale and not needed, `docker logout " + credOr(op.Registry, "<registry>") + "`.",
	}
}

// credWho names whose credentials were refused. Credentials without a user
// in a trace read from a log were put back by its reader: the user name is
// not shown, rather than unreadable.
func credWho(in *Input, user string) string {
	switch {
	case user != "":
		return fmt.Sprintf("user %q", user)
	case in.Source != nil:
		return "a user name the " + in.Source.Name + " does not show"
	}
	return "an unreadable user name"
}

// credRedactedNote says the secret cannot be checked because the HAR's
// exporter redacted it; a log's reader redacts what it reads, and the note
// on what the log lacks says the rest.
func credRedactedNote(in *Input, a decode.Credentials) string {
	if !a.Redacted || in.Source != nil {
		return ""
	}
	return " The secret was redacted in this trace."
}

func credRejectedAtToken(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	if xs := credRejected(op); len(xs) > 0 {
		return []Finding{credRejectedFinding(in, op, xs)}
	}
	if xs := credBasicRejected(op); len(xs) > 0 {
		return []Finding{credBasicRejectedFinding(in, op, xs)}
	}
	return nil
}

// credBasicRejected: a registry that authenticates by itself with Basic
// (htpasswd, Nexus, Artifactory, ECR) answered real Basic credentials with
// 401 and a Basic challenge again, and nothing later succeeded with
// credentials. Entry 13 at the registry instead of a token endpoint.
func credBasicRejected(op *Operation) []*decode.Exchange {
	if !op.Failed() {
		return nil
	}
	var out []*decode.Exchange
	for i, x := range op.Exchanges {
		if credIsToken(x) || !credBasicSent(x.Auth) || status(x) != http.StatusUnauthorized || credBasicOnly(x) == nil {
			continue
		}
		if op.later().authedOK > i {
			return nil
		}
		out = append(out, x)
	}
	return out
}

func credBasicRejectedFinding(in *Input, op *Operation, xs []*decode.Exchange) Finding {
	x := xs[len(xs)-1]
	who := credWho(in, x.Auth.User)
	var refs []string
	for _, y := range xs {
		refs = append(refs, credRef(y))
	}
	why := fmt.Sprintf("The registry %s authenticates with Basic itself (%s) and refused the credentials: %s sent Basic credentials for %s and got 401 with the Basic challenge again%s.",
		x.Host, credBasicOnly(x).String(), strings.Join(refs, ", "), who, credServerSaid(x))
	why += credUserHints(x.Auth.User, x.Auth.Malformed) + credRedactedNote(in, x.Auth)
	return Finding{
		Verdict:  VerdictCredentialsRejected,
		Repo:     credRepo(op, x),
		Evidence: ids(xs...),
		Why:      why,
		Fix: "Log in again with the right user name and password (--password-stdin), or the token the registry expects as the password (ECR: aws ecr get-login-password; Artifactory and Nexus: an API key or identity token). " +
			"If the stored login is stale, `docker logout " + credOr(op.Registry, "<registry>") + "` and log in again.",
		CannotProve: "Whether the user name or the password is wrong, or whether the account is locked: the password is never kept.",
	}
}

// credPullOnly returns the repositories the requests asked pull for, or nil
// if any asked for more (a push with stale credentials is not a public pull).
func credPullOnly(xs []*decode.Exchange) []string {
	var repos []string
	for _, x := range xs {
		for _, s := range x.TokenRequest.Scopes {
			if s.Type != "repository" {
				return nil
			}
			for _, a := range s.Actions {
				if a != "pull" {
					return nil
				}
			}
			if !slices.Contains(repos, s.Name) {
				repos = append(repos, s.Name)
			}
		}
	}
	return repos
}

// publicEvidence is the first exchange that shows a repository can be
// pulled anonymously, and how.
type publicEvidence struct {
	y       *decode.Exchange
	byToken bool // an anonymous token granted pull (else a manifest fetched without Authorization)
}

// credPublicIndex indexes, once per input, the first anonymous evidence
// for each registry and repository: asked per failed operation, a scan of
// the whole trace each time was quadratic in a log of failures.
func credPublicIndex(in *Input) map[string]publicEvidence {
	ix := in.index()
	ix.publicOnce.Do(func() {
		m := map[string]publicEvidence{}
		note := func(reg, repo string, e publicEvidence) {
			if _, ok := m[reg+"\x00"+repo]; !ok {
				m[reg+"\x00"+repo] = e
			}
		}
		for _, y := range in.Exchanges {
			if credTokenOK(y) && credAnonymous(y.TokenRequest) {
				for _, t := range []*decode.Token{y.TokenResponse.AccessToken, y.TokenResponse.Token} {
					if t == nil || t.Claims == nil || !t.Claims.HasAccess {
						continue
					}
					for _, a := range t.Claims.Access {
						need := decode.Scope{Type: "repository", Name: a.Name, Actions: []string{"pull"}}
						if a.Type == "repository" && len(decode.Missing(t.Claims.Access, need)) == 0 {
							note(y.Registry, a.Name, publicEvidence{y: y, byToken: true})
						}
					}
				}
			}
			if (y.Kind == decode.KindManifestGet || y.Kind == decode.KindManifestHead) && y.Auth.Scheme == "" && y.Flow.Err == nil &&
				status(y) == http.StatusOK {
				note(y.Registry, decode.NormalizeRepo(y.Registry, y.Repo), publicEvidence{y: y})
			}
		}
		ix.public = m
	})
	return ix.public
}

// credPublicEvidence: the trace shows repo can be pulled anonymously.
func credPublicEvidence(in *Input, op *Operation, repo string) (*decode.Exchange, string) {
	if e, ok := credPublicIndex(in)[op.Registry+"\x00"+repo]; ok {
		if e.byToken {
			return e.y, fmt.Sprintf("the anonymous token request %s was granted pull on %s", credRef(e.y), repo)
		}
		return e.y, fmt.Sprintf("%s fetched %s without any Authorization", credRef(e.y), repo)
	}
	if op.Registry == "docker.io" && strings.HasPrefix(repo, "library/") {
		return nil, repo + " is a Docker Hub official image, which anyone may pull"
	}
	return nil, ""
}

func credStalePublic(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	xs := credRejected(op)
	if len(xs) == 0 {
		return nil
	}
	for _, repo := range credPullOnly(xs) {
		y, why := credPublicEvidence(in, op, repo)
		if why == "" {
			continue
		}
		x := xs[len(xs)-1]
		user := credUser(x.TokenRequest)
		return []Finding{{
			Verdict:  VerdictCredentialsRejected,
			Repo:     repo,
			Evidence: ids(append(slices.Clone(xs), y)...),
			Why: fmt.Sprintf("%s is public (%s), yet the pull failed: the client sent stored credentials for %q with %s and the token server refused them (%d). "+
				"Token servers check credentials that are sent before anything else and do not fall back to anonymous access, so stale credentials break even public images.",
				repo, why, user, credRef(x), status(x)),
			Fix: fmt.Sprintf("Remove or renew the stored login: `docker logout %s` (or `podman logout %s`), or log in again with a current password or access token.", op.Registry, op.Registry),
		}}
	}
	return nil
}

// ---- 11 credentials-not-sent ----------------------------------------------

// credNotSent fires only with positive evidence that credentials were
// expected: the same client sent credentials to this registry (or to the
// same host under another port or Docker Hub alias) somewhere in the trace,
// yet the token request that decided the failure was anonymous. An
// anonymous token with empty access for a private repository and no
// credentials anywhere is the ambiguous-denied case (entry 2), not this one:
// the trace cannot tell "not logged in" from "logged in under another key"
// without such evidence. A Basic registry answered without Authorization is
// entry 10. A sanitized HAR proves nothing about Authorization: no finding.
func credNotSent(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	if in.authHidden() || !op.Failed() {
		return nil
	}
	t := -1
	for i, x := range op.Exchanges {
		if credIsToken(x) {
			t = i
		}
	}
	if t < 0 {
		return nil
	}
	tx := op.Exchanges[t]
	if !credAnonymous(tx.TokenRequest) || tx.Flow.Err != nil {
		return nil
	}
	var last *decode.Exchange
	switch st := status(tx); {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		last = tx
	case credTokenOK(tx):
		l := op.Last()
		if l == nil || credPos(op, l) < t || l.Kind == decode.KindPing || l.Flow.Err != nil ||
			status(l) != http.StatusUnauthorized && status(l) != http.StatusForbidden {
			return nil
		}
		// The anonymous token must not have granted what was needed
		// (opaque tokens: unknown, the registry's refusal decides).
		if credGrants(tx.TokenResponse, l.Need) {
			return nil
		}
		last = l
	default:
		return nil
	}
	e := credSentElsewhere(in, op)
	if e == nil {
		return nil
	}
	user := ""
	if credIsToken(e) {
		user = credUser(e.TokenRequest)
	} else {
		user = e.Auth.User
	}
	where := e.Host
	if credIsToken(e) && e.Registry != "" {
		where = e.Registry
	}
	why := fmt.Sprintf("The token request %s carried no credentials (no Authorization, no account=), and the registry then refused the request (%s %d). "+
		"Yet the same client sent credentials for %q to %s in %s: it has them, but did not find or use them for %s. "+
		"Credential stores are keyed by exact host name: docker.io vs https://index.docker.io/v1/, host vs host:port, https://host vs host.",
		credRef(tx), credRef(last), status(last), user, where, credRef(e), credOr(op.Registry, "this registry"))
	if credHostname(where) == credHostname(op.Registry) && where != op.Registry {
		why += fmt.Sprintf(" Here the names differ: %s vs %s.", where, op.Registry)
	}
	return []Finding{{
		Verdict:  VerdictCredentialsNotSent,
		Repo:     credRepo(op, last),
		Evidence: ids(e, tx, last),
		Why:      why,
		Fix: fmt.Sprintf("Log in to the exact host the image reference names — `docker login %s` — as the user that runs the client (not under sudo); "+
			"check credsStore/credHelpers in ~/.docker/config.json (is the helper on PATH?); podman/skopeo: REGISTRY_AUTH_FILE or `podman login`; Kubernetes: the pull secret's server must match the image host.",
			op.Registry),
	}}
}

// credGrants: a decoded token of the response grants every needed scope.
func credGrants(tr *decode.TokenResponse, need []decode.Scope) bool {
	if len(need) == 0 {
		return false
	}
	for _, tok := range []*decode.Token{tr.AccessToken, tr.Token} {
		if tok == nil || tok.Claims == nil || !tok.Claims.HasAccess {
			continue
		}
		for _, n := range need {
			if len(decode.Missing(tok.Claims.Access, n)) > 0 {
				return false
			}
		}
		return true
	}
	return false
}

// ---- 10 basic-challenge-no-credentials ------------------------------------

func credBasicOnly(x *decode.Exchange) *decode.Challenge {
	var basic *decode.Challenge
	for i := range x.Challenges {
		switch {
		case x.Challenges[i].IsBearer():
			return nil
		case x.Challenges[i].IsBasic() && basic == nil:
			basic = &x.Challenges[i]
		}
	}
	return basic
}

func credBasicNoCredentials(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	if in.authHidden() || !op.Failed() {
		return nil
	}
	b := -1
	for i, x := range op.Exchanges {
		if status(x) == http.StatusUnauthorized && credBasicOnly(x) != nil {
			b = i
			break
		}
	}
	if b < 0 {
		return nil
	}
	last := op.Last()
	if st := op.Outcome().Stop; st != nil && last != nil && st.Registry != last.Registry {
		last = st // the host whose answer the client reported (containerd's hosts)
	}
	if last == nil || credPos(op, last) < b || status(last) != http.StatusUnauthorized || credBasicOnly(last) == nil {
		return nil
	}
	var empty []*decode.Exchange
	for _, x := range op.Exchanges[b:] {
		if x.Auth.Scheme != "" && !x.Auth.Empty || credIsToken(x) {
			return nil // something was sent: not this entry
		}
		if x.Auth.Empty {
			empty = append(empty, x)
		}
	}
	first := op.Exchanges[b]
	c := credBasicOnly(first)
	// The host that asked: a mirror's own name, not the image's registry.
	reg := op.Registry
	if first.Registry != "" {
		reg = first.Registry
	}
	var why string
	if len(empty) > 0 {
		why = fmt.Sprintf("%s asked for Basic credentials (%s) and the client answered with `Authorization: Basic Og==` in %s — an empty user and password, which containers/image (skopeo, podman, buildah, CRI-O) sends when it has no credentials for the host — and got 401 again.",
			credRef(first), c.String(), credRef(empty[0]))
	} else {
		why = fmt.Sprintf("%s asked for Basic credentials (%s) and the client never sent any: it has no credentials stored for %s (docker: \"no basic auth credentials\", containerd: \"authorization failed: no basic auth credentials\", oras: \"basic credential not found\").",
			credRef(first), c.String(), credOr(reg, "this host"))
	}
	if e := credSentElsewhere(in, op); e != nil && e.Registry != reg {
		why += fmt.Sprintf(" The same client did send credentials to %s in %s: the login is stored under another host name.", e.Host, credRef(e))
	}
	fix := fmt.Sprintf("Log in to the exact host and port the image reference names: `docker login %s` (or podman/skopeo/oras login); credentials stored for another host name or port are not used.", credOr(reg, "<host[:port]>"))

	if up := first.Upstream; up != "" {
		why += fmt.Sprintf(" %s is a mirror the client asked on behalf of %s (containerd's hosts.toml): credentials for %s are not sent to it.", first.Host, up, up)
		return []Finding{{
			Verdict:  VerdictCredentialsNotSent,
			Repo:     credRepo(op, last),
			Evidence: ids(append([]*decode.Exchange{first, last}, empty...)...),
			Why:      why,
			Fix: fmt.Sprintf("Give the client credentials for the mirror %s itself (a node's registry config and the kubelet's pull secrets are looked up by host name), "+
				"or take its [host] entry out of hosts.toml so the pull goes to %s.", first.Host, up),
		}}
	}
	realm, svc := strings.ToLower(c.Realm()), strings.ToLower(c.Service())
	if strings.Contains(realm, ".ecr.") || strings.Contains(svc, "ecr.amazonaws.com") || strings.Contains(reg, ".ecr.") {
		fix += " ECR: `aws ecr get-login-password --region <region> | docker login -u AWS --password-stdin <account>.dkr.ecr.<region>.amazonaws.com` (the account and region must match the realm), or the ECR credential helper."
	}
	fix += " Nexus: enable the Docker Bearer Token Realm if anonymous pulls should work."
	return []Finding{{
		Verdict:  VerdictCredentialsNotSent,
		Repo:     credRepo(op, last),
		Evidence: ids(append([]*decode.Exchange{first, last}, empty...)...),
		Why:      why,
		Fix:      fix,
	}}
}

// ---- 14 login-succeeded-proves-little -------------------------------------

// credLoginExchange: a docker-login-like success for this registry — a
// scope-less offline token obtained with credentials, or a ping answered 200
// to Basic credentials — the first such exchange in the trace whose flow
// precedes before.
func credLoginExchange(in *Input, op *Operation, before flow.ID) *decode.Exchange {
	ix := in.index()
	ix.loginsOnce.Do(func() {
		ix.logins = map[string]*loginList{}
		for _, y := range in.Exchanges {
			if !credLoginCandidate(y) {
				continue
			}
			l := ix.logins[y.Registry]
			if l == nil {
				l = &loginList{}
				ix.logins[y.Registry] = l
			}
			m := y.Flow.ID
			if n := len(l.minID); n > 0 {
				m = min(m, l.minID[n-1])
			}
			l.xs = append(l.xs, y)
			l.minID = append(l.minID, m)
		}
	})
	l := ix.logins[op.Registry]
	if l == nil {
		return nil
	}
	// minID is non-increasing: the first candidate below before is the
	// first position where the running minimum drops below it.
	i := sort.Search(len(l.minID), func(i int) bool { return l.minID[i] < before })
	if i == len(l.minID) {
		return nil
	}
	return l.xs[i]
}

// loginList: one registry's login candidates in trace order, and the
// running minimum of their flow IDs.
type loginList struct {
	xs    []*decode.Exchange
	minID []flow.ID
}

func credLoginCandidate(y *decode.Exchange) bool {
	if credTokenOK(y) && credTokenCreds(y.TokenRequest) && len(y.TokenRequest.Scopes) == 0 &&
		(y.TokenRequest.OfflineToken || strings.EqualFold(y.TokenRequest.AccessType, "offline")) {
		return true
	}
	return y.Kind == decode.KindPing && credBasicSent(y.Auth) && status(y) == http.StatusOK && y.Flow.Err == nil
}

func credLoginProvesLittle(in *Input, op *Operation) []Finding {
	if credMovedOn(in, op) {
		return nil
	}
	last := op.Last()
	if last == nil || last.Kind == decode.KindPing || last.Repo == "" || last.Flow.Err != nil {
		return nil
	}
	st := status(last)
	if st != http.StatusUnauthorized && st != http.StatusForbidden {
		return nil
	}
	lg := credLoginExchange(in, op, last.Flow.ID)
	if lg == nil {
		return nil
	}
	verdict := VerdictUnauthorized
	if st == http.StatusForbidden || hasCode(last, "DENIED") {
		verdict = VerdictDenied
	} else if c := bearerChallenge(last); c != nil && c.ErrorCode() == "insufficient_scope" {
		verdict = VerdictDenied
	}
	how := "a token without any repository scope"
	if lg.Kind == decode.KindPing {
		how = "GET /v2/ with Basic credentials"
	}
	return []Finding{{
		Verdict:  verdict,
		Repo:     credRepo(op, last),
		Evidence: ids(lg, last),
		Why: fmt.Sprintf("The login (%s: %s, answered 200) only proved the password: it asked for no repository. "+
			"%s on %s was refused later (%d), so \"Login Succeeded\" says nothing about permission on that repository.",
			credRef(lg), how, credRef(last), credRepo(op, last), st),
	}}
}
