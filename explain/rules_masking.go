package explain

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// Catalog entries 1, 3, 4, 6, 30 and 31: answers that hide the real one
// (a V1 fallback, a body-less HEAD, a mirror, a local-only name, a blob
// redirect, something in the middle).
const (
	RuleV1FallbackMasked         Rule = "v1-fallback-masked-unauthorized"
	RuleHeadErrorWithoutBody     Rule = "head-error-without-body"
	RuleEndpointFallbackMasks    Rule = "endpoint-fallback-masks-real-error"
	RuleLocalOnlyImageRemote     Rule = "local-only-image-resolved-remotely"
	RuleBlobRedirectAuthConflict Rule = "blob-redirect-auth-conflict"
	RuleProxyOrMITM              Rule = "proxy-or-mitm-interference"
)

func maskingRules() []rule {
	return []rule{
		{id: RuleProxyOrMITM, group: 11, explains: true, op: maskingProxyOrMITM},
		{id: RuleBlobRedirectAuthConflict, group: 12, explains: true, op: maskingBlobRedirect},
		{id: RuleV1FallbackMasked, group: 20, explains: true, op: maskingV1Fallback},
		// Before the transport rules: when a host the client reported could not
		// be reached while another answered, the masking finding says both.
		{id: RuleEndpointFallbackMasks, group: 9, explains: true, global: maskingEndpointFallback},
		{id: RuleLocalOnlyImageRemote, group: 22, explains: true, op: maskingLocalOnly},
		{id: RuleHeadErrorWithoutBody, group: 75, explains: false, op: maskingHeadWithoutBody},
	}
}

// maskingDescribe names an exchange the way a finding cites it:
// `#3 (GET /v2/a/manifests/1 → 401 UNAUTHORIZED)`.
func maskingDescribe(x *decode.Exchange) string {
	req := x.Flow.Request
	target := x.Host
	if req.URL != nil {
		target = req.URL.Path
		if x.Kind == decode.KindBlobRedirect || x.Kind == decode.KindOther || x.Kind == decode.KindTunnel {
			target = x.Host + req.URL.Path
		}
	}
	var ans string
	switch r := x.Flow.Response; {
	case x.Flow.Err != nil:
		ans = fmt.Sprintf("%s: %s", x.Flow.Err.Kind, x.Flow.Err.Message)
	case r == nil:
		ans = "no response"
	default:
		ans = fmt.Sprint(r.Status)
		switch {
		case len(x.Errors.Errors) > 0 && x.Errors.Errors[0].Code != "":
			ans += " " + x.Errors.Errors[0].Code
		case x.Errors.Text != "":
			ans += fmt.Sprintf(" %q", maskingClip(x.Errors.Text, 80))
		}
		if c := bearerChallenge(x); c != nil && c.ErrorCode() != "" {
			ans += fmt.Sprintf(", error=%q", c.ErrorCode())
		}
	}
	return fmt.Sprintf("%s (%s %s → %s)", x.Flow.ID, req.Method, target, ans)
}

func maskingClip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// maskingOK: the upstream answered 2xx or 3xx.
func maskingOK(x *decode.Exchange) bool {
	r := x.Flow.Response
	return x.Flow.Err == nil && r != nil && r.Status >= 200 && r.Status < 400
}

// maskingAuthFailure: a genuine (not proxy-made) 401 or 403.
func maskingAuthFailure(x *decode.Exchange) bool {
	r := x.Flow.Response
	return x.Flow.Err == nil && r != nil && !r.Synthetic && (r.Status == 401 || r.Status == 403)
}

// maskingTokenCovers: the request carried a JWT whose access claim grants
// everything the request needs, so a 404 to it is what it says.
func maskingTokenCovers(x *decode.Exchange) bool {
	return x.Token != nil && x.Token.Claims != nil && x.Token.Claims.HasAccess && len(x.Need) > 0 && len(x.Missing) == 0
}

// maskingRepoRequest: a V2 request about a repository.
func maskingRepoRequest(x *decode.Exchange) bool {
	return x.Kind.IsRegistry() && x.Kind != decode.KindPing && x.Kind != decode.KindCatalog && x.Repo != ""
}

// ---- 1. v1-fallback-masked-unauthorized ----

// maskingV1Fallback: the operation ends on a failed V1 request, and the
// last V2 repository request before the first V1 one was refused (401/403).
// A V2 404 (MANIFEST_UNKNOWN, NAME_UNKNOWN) before the fallback is a real
// not-found and is left to not-found-is-real.
func maskingV1Fallback(in *Input, op *Operation) []Finding {
	last := op.Last()
	if last == nil || !last.Kind.IsV1() || !bad(last) {
		return nil
	}
	first := -1
	for i, x := range op.Exchanges {
		if x.Kind.IsV1() {
			first = i
			break
		}
	}
	var v2 *decode.Exchange
	for i := first - 1; i >= 0; i-- {
		if x := op.Exchanges[i]; maskingRepoRequest(x) {
			v2 = x
			break
		}
	}
	if v2 == nil || !maskingAuthFailure(v2) {
		return nil
	}
	verdict := VerdictUnauthorized
	meaning := "the registry refused the request for lack of valid credentials"
	if status(v2) == 403 {
		verdict = VerdictDenied
		meaning = "the registry denied this identity access"
	}
	repo := decode.NormalizeRepo(v2.Host, v2.Repo)
	return []Finding{{
		Verdict:  verdict,
		Repo:     repo,
		Evidence: ids(v2, last),
		Why: fmt.Sprintf("The client reported the answer of its legacy V1 fallback (as \"image … not found\"), %s, but the real answer is the V2 one, %s: %s. "+
			"The client fell back to the V1 API after the V2 refusal; the V1 404 only says that V1 does not serve %s.",
			maskingDescribe(last), maskingDescribe(v2), meaning, repo),
		Fix: fmt.Sprintf("Treat it as an authorization failure, not a missing image: log in to %s with credentials that may pull %s (`docker login %s`) and pull again. "+
			"Upgrade Docker to 17.06 or later (or set --disable-legacy-registry) so the V2 error is the one reported.", op.Registry, repo, v2.Host),
	}}
}

// ---- 3. head-error-without-body ----

// maskingHeadWithoutBody: the operation's last registry exchange is a HEAD
// answered 401/403/404 without a body, so the client could only print the
// status. A HEAD 404 to a request whose token verifiably grants what it
// needs is a real not-found: no hint then. Skipped when the same client went
// on to another registry (the client did not report this answer; see
// endpoint-fallback-masks-real-error).
func maskingHeadWithoutBody(in *Input, op *Operation) []Finding {
	x := op.Outcome().Stop // nil when the operation reached its goal
	if x == nil || (x.Kind != decode.KindManifestHead && x.Kind != decode.KindBlobHead) {
		return nil
	}
	r := x.Flow.Response
	if x.Flow.Err != nil || r == nil || r.Synthetic || r.Inferred || r.Body.Size > 0 || len(r.Body.Captured) > 0 {
		return nil
	}
	st := r.Status
	if st != 401 && st != 403 && st != 404 {
		return nil
	}
	if st == 404 && maskingTokenCovers(x) {
		return nil
	}
	if maskingClientMovedOn(in, op) {
		return nil
	}
	var verdict Verdict
	var tells string
	c := bearerChallenge(x)
	code := ""
	if c != nil {
		code = c.ErrorCode()
	}
	switch {
	case st == 401 && code == "insufficient_scope":
		verdict = VerdictUnauthorizedAmbiguous
		tells = "the challenge's error=\"insufficient_scope\" says the token does not grant the needed access: the repository is private to others or does not exist (the registry does not say which)"
	case st == 401 && code == "invalid_token":
		verdict = VerdictTokenProblem
		tells = "the challenge's error=\"invalid_token\" says the registry rejected the token itself (expired, wrong audience or issuer, or not signed by a key it trusts)"
	case st == 401 && len(x.Challenges) > 0 && x.Auth.Scheme == "":
		verdict = VerdictUnauthorized
		tells = "the request carried no credentials and the registry asks for them (" + x.Challenges[0].Scheme + " challenge)"
		if in.authHidden() {
			tells = "the registry asks for credentials (" + x.Challenges[0].Scheme + " challenge); whether the request carried any cannot be seen: " + in.hiddenNote()
		}
	case st == 401:
		verdict = VerdictUnauthorized
		tells = "the registry did not accept the request's credentials; the challenge carries no error= to say why"
	case st == 403 && x.Auth.Scheme == "" && !in.authHidden():
		verdict = VerdictUnauthorized
		tells = "the request was anonymous, so the 403 denies an identity the registry never asked for (a GET would carry its message)"
	case st == 403:
		verdict = VerdictDenied
		tells = "403 means the identity is known but denied (a GET would carry the DENIED message)"
	default:
		verdict = VerdictNotFound
		tells = "404 cannot tell a missing repository (NAME_UNKNOWN) from a missing tag (MANIFEST_UNKNOWN), and some registries answer 404 to hide a repository from an unauthorized request"
	}
	return []Finding{{
		Verdict:  verdict,
		Repo:     decode.NormalizeRepo(x.Host, x.Repo),
		Evidence: ids(x),
		Why: fmt.Sprintf("The answer where the operation stopped, %s, is to a HEAD request, which has no body: the registry's error code and message never reached the client, "+
			"so it could only print a generic %q. From the wire: %s.", maskingDescribe(x), strings.ToLower(http.StatusText(st)), tells),
	}}
}

// maskingClientMovedOn: the same client made registry requests to another
// registry after this operation's last one.
func maskingClientMovedOn(in *Input, op *Operation) bool {
	last := op.Last()
	if last == nil {
		return false
	}
	for _, x := range in.Exchanges {
		if x.Flow.ID > last.Flow.ID && x.Client.UserAgent == op.Client.UserAgent && x.Registry != op.Registry &&
			(x.Kind.IsRegistry() || x.Kind.IsV1()) {
			return true
		}
	}
	return false
}

// ---- 4. endpoint-fallback-masks-real-error ----

// maskingRepoKey is a repository name compared across registries: Docker
// Hub's implicit library/ and a mirror's explicit one match.
func maskingRepoKey(x *decode.Exchange) string {
	return strings.TrimPrefix(decode.NormalizeRepo(x.Host, x.Repo), "library/")
}

// maskingEndpointFallback: one client asked several registries for the
// same repository, one after the other, and reported one registry's answer
// by its own ranking (maskingPickFor), hiding another's: an auth failure
// (401/403) behind a not-found, 5xx or transport error, or — containerd,
// which can report a mirror's auth failure — the upstream's 404 behind it.
func maskingEndpointFallback(in *Input, ops []*Operation) []Finding {
	type key struct{ ua, repo string }
	final := map[key]*decode.Exchange{}   // last exchange of the client for the repository
	tried := map[key][]*decode.Exchange{} // its exchanges for it, in flow order
	var order []key
	// A tunnel to a host that could not be opened (a mirror that is down)
	// is that host's answer to the request its operation made next.
	opOf := map[*decode.Exchange]*Operation{} // exchanges of operations with such a tunnel
	for _, op := range ops {
		if slices.ContainsFunc(op.Exchanges, func(x *decode.Exchange) bool {
			return x.Kind == decode.KindTunnel && !x.ToRealm && bad(x)
		}) {
			for _, x := range op.Exchanges {
				opOf[x] = op
			}
		}
	}
	downHost := map[*Operation]*decode.Exchange{}
	for _, x := range in.Exchanges {
		op := opOf[x]
		if op != nil && x.Kind == decode.KindTunnel && !x.ToRealm && bad(x) {
			downHost[op] = x
			continue
		}
		if !(x.Kind.IsRegistry() || x.Kind.IsV1()) || x.Repo == "" {
			continue
		}
		k := key{x.Client.UserAgent, maskingRepoKey(x)}
		if _, ok := final[k]; !ok {
			order = append(order, k)
		}
		if t := downHost[op]; op != nil && t != nil {
			tried[k] = append(tried[k], t)
			delete(downHost, op)
		}
		final[k] = x
		tried[k] = append(tried[k], x)
	}
	var out []Finding
	for _, k := range order {
		f := final[k]
		pick := maskingPickFor(f)
		answers := maskingAnswers(tried[k], pick.sameRequest)
		if len(answers) < 2 {
			continue
		}
		rep, alt := pick.reported(in, answers), ""
		if pick.other != nil {
			if o := pick.other.reported(in, answers); o != rep && o != nil {
				alt = fmt.Sprintf(" With containerd 1.x inside (its User-Agent does not say which containerd it embeds), it reports %s instead.", maskingDescribe(o))
			}
		}
		if rep == nil || !bad(rep) {
			continue
		}
		said := maskingDescribe(rep)
		if pick.says {
			if q := maskingContainerdSays(in, rep, pick.gen); q != "" {
				said += fmt.Sprintf(", printed as %q", q)
			}
		}
		lead := fmt.Sprintf(pick.lead, ClientName(f.Client), k.repo, said) + alt
		if fd, ok := maskingHiddenAuthFailure(in, lead, pick, rep, answers); ok {
			fd.Client = ClientName(f.Client)
			out = append(out, fd)
		} else if fd, ok := maskingHiddenNotFound(lead, pick, rep, answers); ok {
			fd.Client = ClientName(f.Client)
			out = append(out, fd)
		}
	}
	return out
}

// maskingAnswers returns, per registry in the order the client first asked
// it, the registry's last answer among xs. With sameRequest, only answers
// to the request of the client's last exchange count (containerd asks its
// hosts in turn per request).
func maskingAnswers(xs []*decode.Exchange, sameRequest bool) []*decode.Exchange {
	last := xs[len(xs)-1]
	var regs []string
	per := map[string]*decode.Exchange{}
	for i, x := range xs {
		// A tunnel stands for the request after it.
		if sameRequest && !maskingSameRequest(x, last) {
			if x.Kind != decode.KindTunnel || i+1 >= len(xs) || !maskingSameRequest(xs[i+1], last) {
				continue
			}
		}
		if _, ok := per[x.Registry]; !ok {
			regs = append(regs, x.Registry)
		}
		per[x.Registry] = x
	}
	out := make([]*decode.Exchange, len(regs))
	for i, r := range regs {
		out[i] = per[r]
	}
	return out
}

// maskingSameRequest: x and y ask for the same object (a HEAD and a GET of
// one manifest are one request: containerd follows a HEAD 403 with a GET).
func maskingSameRequest(x, y *decode.Exchange) bool {
	switch {
	case x.Kind.IsManifest() && y.Kind.IsManifest(), x.Kind.IsBlob() && y.Kind.IsBlob():
		return x.Ref == y.Ref
	}
	return x.Kind == y.Kind && x.Ref == y.Ref
}

// maskingPick is how a client chooses, of the answers of the registries it
// asked in turn for one request, the one it reports.
type maskingPick struct {
	// lead opens the finding; it takes the client's name, the repository
	// and the reported answer, and says why that one.
	lead string
	// reported returns the answer the client reports, nil when it got what
	// it asked for.
	reported func(in *Input, answers []*decode.Exchange) *decode.Exchange
	// sameRequest: the client asks its registries in turn per request.
	sameRequest bool
	// containerd: the answers are its hosts, hosts.toml's server last.
	containerd bool
	// says: the client's error text is known (containerd's Resolve), as
	// containerd gen ("1.6", "1.7", "2") words it.
	says bool
	gen  string
	// other is the other ranking the client may use (a containerd-based
	// program whose User-Agent does not say which containerd it embeds).
	other *maskingPick
}

// maskingLast: the answer the client got last.
func maskingLast(in *Input, answers []*decode.Exchange) *decode.Exchange {
	last := answers[0]
	for _, x := range answers[1:] {
		if x.Flow.ID > last.Flow.ID {
			last = x
		}
	}
	return last
}

// containerd's rankings, read in core/remotes/docker/resolver.go
// (dockerResolver.Resolve) and fetcher.go (dockerFetcher.Fetch) of 1.6,
// 1.7 and 2.x. Resolve (a tag, or a digest by HEAD) asks each host in
// order and returns on the first success. 1.6 and 1.7 return the first
// error that is not a 404 ("firstErr"), or not found when every host
// answered 404. 2.0 and later (commit b4814a29d, "return most relevant
// error") rank the errors by firstErrPriority — 1 an error before any
// status (transport, or the authorizer's own: "no basic auth credentials",
// a token it could not fetch, a Bearer error= on the retried request), 2 a
// 404, 3 any other status ≥ 400 after its retries — and return the first
// of the highest. Fetch (a GET by digest, 1.x and 2.x) returns the first
// host's error, 404 included.
var (
	maskingContainerd1 = maskingPick{
		lead: "%s asked several hosts for %s and reported %s: containerd 1.x reports the first error that is not a 404, " +
			"in the order of its hosts (hosts.toml's [host] entries, then server).",
		reported:    maskingContainerdResolve(false),
		sameRequest: true, containerd: true, says: true, gen: "1.7",
	}
	maskingContainerd2 = maskingPick{
		lead: "%s asked several hosts for %s and reported %s: containerd 2 reports the first answer of the most relevant kind, " +
			"an error status other than 404, then a 404, then an error raised before any status (a transport error, or its own authorization error such as no credentials for a Basic challenge).",
		reported:    maskingContainerdResolve(true),
		sameRequest: true, containerd: true, says: true, gen: "2",
	}
	maskingContainerdFetch = maskingPick{
		lead:        "%s asked several hosts for %s and reported %s: fetching by digest, containerd reports the first host's error.",
		reported:    maskingContainerdFirst,
		sameRequest: true, containerd: true,
	}
)

// maskingPickFor returns the ranking of the client that made x, its last
// exchange for the repository.
func maskingPickFor(x *decode.Exchange) maskingPick {
	c := x.Client
	switch c.Family {
	case "docker":
		return maskingPick{
			lead:     "%[1]s asked several registries for %[2]s and reported the last answer, %[3]s: docker reports the last endpoint's error.",
			reported: maskingLast,
		}
	case "containerd":
	default:
		return maskingPick{
			lead: "%[1]s asked several registries for %[2]s, and its last answer was %[3]s " +
				"(which answer this client prints regtrace does not know: docker prints the last endpoint's, containerd ranks them).",
			reported: maskingLast,
		}
	}
	if x.Flow.Request.Method == http.MethodGet && strings.Contains(x.Ref, ":") {
		return maskingContainerdFetch
	}
	if c.Program == "containerd" || c.Program == "ctr" {
		major, rest, _ := strings.Cut(strings.TrimPrefix(c.Version, "v"), ".")
		switch major {
		case "1":
			p := maskingContainerd1
			p.gen = maskingContainerd1Words(rest)
			return p
		case "2", "3":
			return maskingContainerd2
		}
	}
	// BuildKit and nerdctl embed a containerd their User-Agent does not name.
	p := maskingContainerd2
	p.other = &maskingContainerd1
	return p
}

// maskingContainerd1Words says how a containerd 1.MINOR.PATCH words its
// errors (rest is "MINOR.PATCH…"): up to 1.6.24 a status as "pulling from
// host … failed with status code" ("1.6"), and up to 1.6.24 and 1.7.7 a
// Basic challenge it has no credentials for as that 401 ("1.7"); 1.6.25
// and 1.7.8 took 2.0's texts ("unexpected status from …", "no basic auth
// credentials"), read in remotes/docker/resolver.go and authorizer.go.
func maskingContainerd1Words(rest string) string {
	// The leading digits: "20~ds1", "13+unknown".
	num := func(s string) (int, error) {
		if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			s = s[:i]
		}
		return strconv.Atoi(s)
	}
	minorS, patchS, _ := strings.Cut(rest, ".")
	minor, err1 := num(minorS)
	patch, err2 := num(patchS)
	switch {
	case err1 != nil:
		return "1.7"
	case minor < 6, minor == 6 && (err2 != nil || patch < 25):
		return "1.6"
	case minor == 7 && (err2 != nil || patch < 8):
		return "1.7"
	}
	return "2"
}

// maskingContainerdResolve returns containerd's Resolve ranking: 2.x's
// priorities, or 1.x's first error that is not a 404.
func maskingContainerdResolve(v2 bool) func(in *Input, answers []*decode.Exchange) *decode.Exchange {
	return func(in *Input, answers []*decode.Exchange) *decode.Exchange {
		ranks := make([]int, len(answers))
		for i, x := range answers {
			if ranks[i] = maskingContainerdRank(in, x); ranks[i] == 0 {
				return nil // a host served it
			}
		}
		var best *decode.Exchange
		bestRank := 0
		for i, x := range answers {
			switch r := ranks[i]; {
			case !v2 && r != 2:
				return x
			case !v2 && best == nil, v2 && r > bestRank:
				best, bestRank = x, r
			}
		}
		return best
	}
}

// maskingContainerdFirst: Fetch's ranking, the first host's error.
func maskingContainerdFirst(in *Input, answers []*decode.Exchange) *decode.Exchange {
	for _, x := range answers {
		if maskingContainerdRank(in, x) == 0 {
			return nil
		}
	}
	return answers[0]
}

// maskingContainerdRank is how far containerd got with one host, as 2.x's
// firstErrPriority counts it: 0 it succeeded, 1 an error before any status,
// 2 a 404, 3 any other status of 400 or more. The status is the one the
// client saw: regtrace's own 502 for an upstream it could not reach is a
// status to the client.
func maskingContainerdRank(in *Input, x *decode.Exchange) int {
	r := x.Flow.Response
	switch {
	case r == nil, x.Kind == decode.KindTunnel:
		// A refused CONNECT is a transport error to Go's client, whatever
		// status the proxy answered it with.
		return 1
	case r.Status < 400 && x.Flow.Err == nil:
		return 0
	case r.Status == http.StatusNotFound:
		return 2
	case r.Status != http.StatusUnauthorized || r.Synthetic || in.authHidden():
		// Without Authorization in the trace, a 401 containerd's
		// authorizer stopped at looks like any other.
		return 3
	}
	c := bearerChallenge(x)
	switch {
	case x.Auth.Scheme == "" && maskingUsableChallenge(x):
		// containerd answers a usable challenge by asking again with
		// credentials or a token; ending anonymous means its authorizer
		// stopped ("no basic auth credentials", a failed token fetch).
		return 1
	case c != nil && c.ErrorCode() != "" && strings.EqualFold(x.Auth.Scheme, "bearer"):
		// invalidAuthorization: "server message: insufficient_scope".
		return 1
	}
	return 3
}

// maskingContainerdSays is containerd's error for x when its Resolve
// reports it, as 1.6 to 2.x word it (ErrInvalidAuthorization wrapped in
// "pull access denied…", remotes/errors.ErrUnexpectedStatus, ErrNotFound),
// or "" when the trace does not show which.
func maskingContainerdSays(in *Input, x *decode.Exchange, gen string) string {
	const denied = "pull access denied, repository does not exist or may require authorization: "
	req := x.Flow.Request
	if x.Kind == decode.KindTunnel {
		// Go's transport reports a refused CONNECT by the proxy's status text.
		why := "proxyconnect …"
		if r := x.Flow.Response; r != nil {
			why = http.StatusText(r.Status)
		}
		return fmt.Sprintf("failed to do request: Head \"https://%s/v2/…\": %s", x.Host, why)
	}
	status := func() string {
		st := x.Flow.Response.Status
		if gen == "1.6" {
			what := "manifests"
			if x.Kind.IsBlob() {
				what = "blobs"
			}
			return fmt.Sprintf("pulling from host %s failed with status code [%s %s]: %d %s", x.Host, what, x.Ref, st, http.StatusText(st))
		}
		return fmt.Sprintf("unexpected status from %s request to …: %d %s", req.Method, st, http.StatusText(st))
	}
	switch maskingContainerdRank(in, x) {
	case 1:
		c := bearerChallenge(x)
		switch {
		case x.Flow.Response == nil:
		case x.Auth.Scheme == "" && c == nil && gen != "2":
			// The authorizer gives up on a Basic challenge without
			// credentials silently: the 401 is returned as a status.
			return status()
		case x.Auth.Scheme == "" && c == nil:
			return denied + "authorization failed: no basic auth credentials"
		case c != nil && c.ErrorCode() != "" && x.Auth.Scheme != "":
			return denied + "server message: " + c.ErrorCode() + ": authorization failed"
		}
	case 2:
		return "…: not found"
	case 3:
		return status()
	}
	return ""
}

// maskingHiddenAuthFailure: the reported answer is not an auth failure,
// and another registry refused the request (401/403).
func maskingHiddenAuthFailure(in *Input, lead string, pick maskingPick, rep *decode.Exchange, answers []*decode.Exchange) (Finding, bool) {
	if maskingAuthFailure(rep) {
		return Finding{}, false
	}
	var hidden []*decode.Exchange
	for _, x := range answers {
		if x.Registry != rep.Registry && maskingAuthFailure(x) {
			hidden = append(hidden, x)
		}
	}
	if len(hidden) == 0 {
		return Finding{}, false
	}
	slices.SortFunc(hidden, func(a, b *decode.Exchange) int { return cmp.Compare(a.Flow.ID, b.Flow.ID) })
	h := hidden[0]
	var descs, hosts []string
	for _, x := range hidden {
		descs = append(descs, maskingDescribe(x))
		hosts = append(hosts, x.Host)
	}
	verdict := VerdictUnauthorized
	if status(h) == 403 {
		verdict = VerdictDenied
	}
	credNote := "it carried no credentials"
	if in.authHidden() {
		credNote = "whether it carried credentials cannot be seen: " + in.hiddenNote()
	}
	if h.Auth.Scheme != "" {
		credNote = "it carried " + h.Auth.Scheme + " credentials"
		if h.Auth.User != "" {
			credNote += " for " + h.Auth.User
		}
	}
	refused := "Another registry, %s, refused it"
	switch {
	case pick.containerd && len(hidden) > 1:
		refused = "Other hosts, %s, refused it"
	case pick.containerd:
		refused = "Another host, %s, refused it"
	case len(hidden) > 1:
		refused = "Other registries, %s, refused it"
	}
	if !pick.containerd && h.Flow.ID < rep.Flow.ID {
		refused = "Earlier, %s refused it"
	}
	up := answers[len(answers)-1] // docker's official endpoint, containerd's server
	otherwise := fmt.Sprintf("remove or repair the mirror / search-registry entry and use a fully qualified reference (%s/%s)", up.Registry, decode.NormalizeRepo(up.Host, up.Repo))
	if pick.containerd {
		otherwise = fmt.Sprintf("remove or repair %s's [host] entry in hosts.toml (containerd then asks the others, the server %s last)", h.Host, up.Host)
	}
	return Finding{
		Verdict:  verdict,
		Registry: h.Registry,
		Repo:     decode.NormalizeRepo(h.Host, h.Repo),
		Evidence: ids(append(hidden, rep)...),
		Why: fmt.Sprintf("%s "+refused+": %s (%s). The reported error hides that auth failure; the one on %s is the one to fix if that is where the image should come from.",
			lead, strings.Join(hosts, ", "), strings.Join(descs, "; "), credNote, strings.Join(hosts, ", ")),
		Fix: fmt.Sprintf("Decide which registry should serve the image. If it is %s, configure credentials for that host itself (credentials for the upstream name are not sent to a mirror) "+
			"and pull again; otherwise %s.",
			h.Host, otherwise),
	}, true
}

// maskingHiddenNotFound: containerd reported a host's auth failure while
// the last host it tried, hosts.toml's server (the upstream), answered
// 404: fixing the credentials would end in not found.
func maskingHiddenNotFound(lead string, pick maskingPick, rep *decode.Exchange, answers []*decode.Exchange) (Finding, bool) {
	up := answers[len(answers)-1]
	down := rep.Kind == decode.KindTunnel || rep.Flow.Err != nil
	if !pick.containerd || !(maskingAuthFailure(rep) || down) || up == rep || up.Registry == rep.Registry || status(up) != http.StatusNotFound || up.Flow.Response.Synthetic {
		return Finding{}, false
	}
	failure, through, repair := "auth failure", "lets the request through", "credentials with access on "+rep.Host+" itself (those for "+up.Registry+" are not sent to it)"
	if down {
		failure, through, repair = "failure to reach it", "answers", "bring "+rep.Host+" back or correct its address"
	}
	verdict := VerdictUnauthorizedAmbiguous
	means := "a 404 either way: the reference is missing there, or the registry hides the repository from this identity"
	if maskingTokenCovers(up) || strings.EqualFold(up.Auth.Scheme, "basic") && up.Auth.User != "" && !up.Auth.Empty {
		verdict = VerdictNotFound
		means = "the request was authorised, so the reference really is missing there"
	}
	upRepo := decode.NormalizeRepo(up.Host, up.Repo)
	return Finding{
		Verdict:  verdict,
		Registry: up.Registry,
		Repo:     upRepo,
		Evidence: ids(rep, up),
		Why: fmt.Sprintf("%s The last host it tried, %s (hosts.toml's server, normally the upstream), answered %s: %s. "+
			"The reported %s is real, but it hides that answer: once %s %s, the pull still fails unless %s serves the image itself.",
			lead, up.Host, maskingDescribe(up), means, failure, rep.Host, through, rep.Host),
		Fix: fmt.Sprintf("Check the reference on %s first, which answered 404 (`crane ls %s/%s`, `skopeo list-tags docker://%s/%s` or `regctl tag ls %s/%s` list its tags). "+
			"Then repair or remove the mirror: %s, or take its [host] entry out of hosts.toml.",
			up.Registry, up.Registry, upRepo, up.Registry, upRepo, up.Registry, upRepo, repair),
	}, true
}

// ---- 6. local-only-image-resolved-remotely ----

// maskingOfficialImages are well-known Docker Hub official images: a 401 for
// these is never "the image only exists locally".
var maskingOfficialImages = map[string]bool{
	"alpine": true, "busybox": true, "ubuntu": true, "debian": true, "centos": true, "fedora": true,
	"nginx": true, "httpd": true, "redis": true, "postgres": true, "mysql": true, "mariadb": true,
	"mongo": true, "node": true, "python": true, "golang": true, "openjdk": true, "eclipse-temurin": true,
	"hello-world": true, "registry": true, "traefik": true, "memcached": true, "rabbitmq": true,
	"php": true, "ruby": true, "rust": true, "amazonlinux": true, "rockylinux": true, "almalinux": true,
	"docker": true, "gcc": true, "maven": true, "gradle": true, "wordpress": true, "elasticsearch": true,
}

// maskingLocalOnly: a docker/containerd/BuildKit operation on Docker Hub
// ended with the manifest request for library/<name> refused as if the
// repository did not exist (401 insufficient_scope or UNAUTHORIZED, 404
// NAME_UNKNOWN), for a one-component name that is not a known official
// image: most likely a locally built image resolved remotely.
func maskingLocalOnly(in *Input, op *Operation) []Finding {
	if op.Registry != "docker.io" {
		return nil
	}
	if f := op.Client.Family; f != "docker" && f != "containerd" {
		return nil
	}
	x := op.Last()
	if x == nil || (x.Kind != decode.KindManifestGet && x.Kind != decode.KindManifestHead) || !bad(x) || x.Flow.Err != nil {
		return nil
	}
	repo := decode.NormalizeRepo(x.Host, x.Repo)
	name, ok := strings.CutPrefix(repo, "library/")
	if !ok || name == "" || strings.ContainsAny(name, "/.") || maskingOfficialImages[name] {
		return nil
	}
	if maskingTokenCovers(x) {
		return nil
	}
	c := bearerChallenge(x)
	var answer string
	switch st := status(x); {
	case st == 401 && c != nil && c.ErrorCode() == "insufficient_scope":
		answer = "error=\"insufficient_scope\""
	case st == 401 && hasCode(x, "UNAUTHORIZED"):
		answer = "UNAUTHORIZED"
	case st == 404 && hasCode(x, "NAME_UNKNOWN"):
		answer = "NAME_UNKNOWN"
	default:
		return nil
	}
	ref := name
	if x.Ref != "" && !strings.Contains(x.Ref, ":") {
		ref += ":" + x.Ref
	}
	return []Finding{{
		Verdict:  VerdictNotFound,
		Repo:     repo,
		Evidence: ids(x),
		Why: fmt.Sprintf("The client looked %q up on Docker Hub as docker.io/%s, and Docker Hub answered %s (%s), "+
			"which is how it answers for a repository that does not exist there. A short name without registry and namespace always means docker.io/library/…, "+
			"so an image that was only built or tagged locally (e.g. `docker build -t %s`) is resolved remotely and fails like this.",
			ref, repo, maskingDescribe(x), answer, ref),
		Fix: fmt.Sprintf("If %s exists only locally: make the tool use the local store (BuildKit: the docker driver or `docker buildx build --load`; "+
			"skopeo: docker-daemon:%s; Kubernetes: imagePullPolicy: IfNotPresent with the image preloaded), or push it to a registry and refer to it by its full name. "+
			"If it should come from Docker Hub, check the spelling and the namespace (docker.io/<namespace>/%s).", ref, ref, name),
		CannotProve: "Whether the image exists in the local image store: regtrace sees only network traffic, not the client's local images (`docker image ls " + name + "` would tell). " +
			"Nor can it tell a private Hub repository from a missing one: both answer the same.",
	}}
}

// ---- 30. blob-redirect-auth-conflict ----

// maskingBlobRedirect: a blob request was redirected to another host, and
// that host refused the redirected request (400/401/403), with no later
// success for the same blob.
func maskingBlobRedirect(in *Input, op *Operation) []Finding {
	for i, x := range op.Exchanges {
		if x.Kind != decode.KindBlobRedirect || x.Flow.Err != nil || x.Flow.Response == nil || x.Flow.Response.Synthetic {
			continue
		}
		st := status(x)
		if st != 400 && st != 401 && st != 403 {
			continue
		}
		var src *decode.Exchange
		if j, ok := op.posOf(x.RedirectFrom); ok && j < i {
			src = op.Exchanges[j]
		}
		if src == nil || strings.EqualFold(src.Host, x.Host) {
			continue
		}
		if after(op.later().blobOKByRef, x.Ref, i) {
			continue // recovered
		}
		text := x.Errors.Text
		for _, e := range x.Errors.Errors {
			text += " " + e.Code + " " + e.Message
		}
		low := strings.ToLower(text)
		forwarded := x.Auth.Scheme != ""
		head := x.Flow.Request.Method == http.MethodHead
		verdict := VerdictDenied
		var cause []string
		if forwarded {
			verdict = VerdictClientConfig
			cause = append(cause, fmt.Sprintf("the client forwarded its Authorization (%s) to %s, another host; clients MUST NOT forward it across hosts, and a presigned URL already carries its own signature", x.Auth.Scheme, x.Host))
			if strings.Contains(low, "only one auth mechanism") {
				cause[0] += " (hence \"Only one auth mechanism allowed\")"
			}
		}
		if head {
			verdict = VerdictClientConfig
			cause = append(cause, "the redirected request is a HEAD, but such URLs are usually presigned for GET only, so the signature does not match a HEAD")
		}
		switch {
		case strings.Contains(low, "request has expired") || strings.Contains(low, "expired"):
			cause = append(cause, "the presigned URL had expired when it was used")
		case strings.Contains(low, "signaturedoesnotmatch"):
			cause = append(cause, "the storage rejected the URL's signature")
		case strings.Contains(low, "accessdenied") && !forwarded && !head:
			cause = append(cause, "the storage denied access (a bucket policy, VPC endpoint or proxy rule that blocks this host)")
		case st == 401 && len(x.Challenges) > 0 && !forwarded:
			cause = append(cause, "the target host challenges on its own ("+x.Challenges[0].Scheme+") and needs its own credentials")
		}
		if len(cause) == 0 {
			cause = append(cause, "the storage host refused the redirected request")
		}
		return []Finding{{
			Verdict:  verdict,
			Repo:     decode.NormalizeRepo(src.Host, src.Repo),
			Evidence: ids(src, x),
			Why: fmt.Sprintf("The registry answered the blob request %s with a redirect to %s, and the redirected request %s failed: %s. "+
				"The registry itself granted the request; the failure is between the client and the storage host.",
				maskingDescribe(src), x.Host, maskingDescribe(x), strings.Join(cause, "; ")),
			Fix: fmt.Sprintf("Do not send Authorization to the redirect host (Go's net/http strips it across hosts; check the client or its HTTP library); "+
				"fetch blobs with GET rather than HEAD when the registry redirects; allow %s through the proxy/VPC policy and, when intercepting TLS, trust or bypass it too; "+
				"retry promptly if the presigned URL expired (check the clocks).", x.Host),
		}}
	}
	return nil
}

// ---- 31. proxy-or-mitm-interference ----

// maskingProxyOrMITM: an answer that came from something between regtrace
// and the registry: an upstream TLS failure on the registry host, an HTML
// error page on a registry endpoint, or a 407. No later registry success
// in the operation.
// maskingUsableChallenge: a challenge a client can answer (Basic, or Bearer
// with a realm).
func maskingUsableChallenge(x *decode.Exchange) bool {
	for _, c := range x.Challenges {
		if strings.EqualFold(c.Scheme, "basic") || c.IsBearer() && c.Realm() != "" {
			return true
		}
	}
	return false
}

func maskingProxyOrMITM(in *Input, op *Operation) []Finding {
	for i, x := range op.Exchanges {
		reg := x.Kind.IsRegistry() || x.Kind.IsV1()
		r := x.Flow.Response
		var what string
		switch {
		case reg && x.Flow.Err != nil && (x.Flow.Err.Kind == flow.ErrUnknownAuthority || x.Flow.Err.Kind == flow.ErrCertificate || x.Flow.Err.Kind == flow.ErrTLS):
			what = fmt.Sprintf("regtrace could not verify %s's TLS certificate", x.Host)
			if u := x.Flow.Upstream; u != nil && len(u.Chain) > 0 && u.Chain[0].Issuer != "" {
				what += fmt.Sprintf("; the certificate was issued by %q", u.Chain[0].Issuer)
			}
			what += ": a TLS-inspecting proxy on the way, or a certificate that is wrong for this host"
		case x.Flow.Err == nil && r != nil && !r.Synthetic && r.Status == http.StatusProxyAuthRequired:
			what = "a 407 Proxy Authentication Required can only come from a proxy, never from a registry"
		// An HTML page with a usable challenge came from the auth layer
		// (nginx auth_basic in front of distribution, a deployment its docs
		// describe): the credential rules read it.
		case reg && x.Flow.Err == nil && r != nil && !r.Synthetic && r.Status >= 400 && x.Errors.Format == "html" && !maskingUsableChallenge(x):
			what = "the answer is an HTML page where a registry answers JSON ({\"errors\":[…]}): a proxy, WAF, load balancer or login gateway answered instead of the registry"
			if x.Errors.Text != "" {
				what += fmt.Sprintf(" (page title %q)", maskingClip(x.Errors.Text, 80))
			}
		default:
			continue
		}
		if op.later().regOK > i {
			return nil
		}
		f := Finding{
			Verdict:  VerdictTransport,
			Repo:     decode.NormalizeRepo(x.Host, x.Repo),
			Evidence: ids(x),
			Why: fmt.Sprintf("%s did not come from the registry: %s. Every auth conclusion about this host is moot until that is fixed.",
				maskingDescribe(x), what),
		}
		// containerd reported another host's answer: this one was a side
		// effect of its fallback (a host it tried next, a CA it lacks there).
		if st := op.Outcome().Stop; st != nil && st != x && st.Registry != x.Registry && st.Flow.Err == nil {
			f.sideEffect = true
			f.Why += fmt.Sprintf(" The client reported %s's answer instead (%s), which it had asked first.", st.Host, maskingDescribe(st))
		}
		return []Finding{f}
	}
	return nil
}
