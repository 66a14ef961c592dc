package explain

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/regtrace/regtrace/decode"
)

// Token rules: catalog §3 step 5 (what the token grants against what the
// request needed: groups 50–59) and step 6 (whether the registry could use
// the token at all: groups 60–69).
const (
	RuleLibraryPrefixMissing   Rule = "dockerhub-library-prefix-missing"
	RuleCrossRepoMountScope    Rule = "cross-repo-mount-scope"
	RulePushScopeMissing       Rule = "push-scope-missing"
	RuleMultipleScopes         Rule = "multiple-scopes-mishandled"
	RuleOverScopedRejected     Rule = "over-scoped-request-rejected"
	RuleAccessEmptyAuthed      Rule = "token-access-empty-authenticated"
	RuleInsufficientScope      Rule = "insufficient-scope-ambiguous-denied"
	RuleTokenExpired           Rule = "token-expired-mid-operation"
	RuleClockSkew              Rule = "clock-skew-token-not-yet-valid"
	RuleTokenRejectedAudIssKey Rule = "token-rejected-aud-iss-or-key"
)

// tokLeeway is distribution's allowance on exp and nbf (registry/auth/token
// token.go Leeway, catalog §0.2).
const tokLeeway = 60 * time.Second

func tokenRules() []rule {
	return []rule{
		{id: RuleLibraryPrefixMissing, group: 50, explains: true, op: tokLibraryPrefixRule},
		{id: RuleCrossRepoMountScope, group: 51, explains: true, op: tokMountRule},
		{id: RulePushScopeMissing, group: 52, explains: true, op: tokPushRule},
		{id: RuleMultipleScopes, group: 53, explains: true, op: tokMultipleScopesRule},
		{id: RuleOverScopedRejected, group: 54, explains: true, op: tokOverScopedRule},
		{id: RuleAccessEmptyAuthed, group: 55, explains: true, op: tokAccessEmptyRule},
		{id: RuleInsufficientScope, group: 59, explains: true, op: tokInsufficientScopeRule},
		{id: RuleTokenExpired, group: 60, explains: true, op: tokExpiredRule},
		{id: RuleClockSkew, group: 61, explains: true, op: tokSkewRule},
		{id: RuleTokenRejectedAudIssKey, group: 62, explains: true, op: tokRejectedRule},
	}
}

// ---- shared helpers (also used by rules_verdict.go) ----

// tokFailures returns the registry exchanges of a failed operation that
// failed for good with a real response (the outcome model's RoleFailed: not
// retried successfully, not an optional probe).
func tokFailures(op *Operation) []*decode.Exchange {
	if !op.Failed() {
		return nil
	}
	if op.failures == nil {
		op.failures = []*decode.Exchange{} // asked by most rules: once
		for i, x := range op.Exchanges {
			if !x.Kind.IsRegistry() || x.Flow.Err != nil || x.Flow.Response == nil || x.Flow.Response.Synthetic {
				continue
			}
			if op.Role(i) == RoleFailed {
				op.failures = append(op.failures, x)
			}
		}
	}
	return op.failures
}

// tokSuperseded reports whether a later exchange of op with the same method
// and path succeeded.
func tokSuperseded(op *Operation, i int) bool {
	x := op.Exchanges[i]
	return after(op.later().okByMethodPath, methodPath{x.Flow.Request.Method, tokPath(x)}, i)
}

// hostPath is where a request went: lower-cased host and path. A pair,
// not one string: the rules key maps by it for every exchange of a long
// trace, and a pair costs no allocation.
type hostPath struct{ host, path string }

// methodPath is a request's method and where it went.
type methodPath struct {
	method string
	hostPath
}

func tokPath(x *decode.Exchange) hostPath {
	if x.Flow.Request.URL == nil {
		return hostPath{}
	}
	return hostPath{strings.ToLower(x.Flow.Request.URL.Host), x.Flow.Request.URL.Path}
}

// tokIssuer returns the token response that issued the token x carried.
func tokIssuer(in *Input, x *decode.Exchange) *decode.Exchange {
	if x.TokenFrom == 0 {
		return nil
	}
	return in.index().byID[x.TokenFrom]
}

// tokCredsSent reports whether a token request carried credentials: a Basic
// user, or a password or refresh-token grant.
func tokCredsSent(tx *decode.Exchange) bool {
	if tx == nil || tx.TokenRequest == nil {
		return false
	}
	tr := tx.TokenRequest
	// A redacted Basic header without a user name (a log that says
	// credentials were used, but not whose) was still sent.
	if strings.EqualFold(tr.Auth.Scheme, "basic") && !tr.Auth.Empty && !tr.Auth.Malformed && (tr.Auth.User != "" || tr.Auth.Redacted) {
		return true
	}
	return tr.HasPassword || tr.HasRefreshToken
}

// tokUser names the account a token request authenticated as, if known.
func tokUser(tx *decode.Exchange) string {
	if tx == nil || tx.TokenRequest == nil {
		return ""
	}
	if u := tx.TokenRequest.Auth.User; u != "" {
		return u
	}
	if u := tx.TokenRequest.Username; u != "" {
		return u
	}
	return tx.TokenRequest.Account
}

func tokClaims(x *decode.Exchange) *decode.Claims {
	if x == nil || x.Token == nil {
		return nil
	}
	return x.Token.Claims
}

func tokBearer(x *decode.Exchange) bool {
	return strings.EqualFold(x.Auth.Scheme, "bearer") && x.Token != nil
}

// tokChallengeError is the error= parameter of x's Bearer challenge.
func tokChallengeError(x *decode.Exchange) string {
	if c := bearerChallenge(x); c != nil {
		return strings.ToLower(c.ErrorCode())
	}
	return ""
}

// tokRepo is the repository name the registry knows.
func tokRepo(x *decode.Exchange) string {
	if x.Registry == "docker.io" {
		return decode.NormalizeRepo("docker.io", x.Repo)
	}
	return decode.NormalizeRepo(x.Host, x.Repo)
}

func tokScopes(ss []decode.Scope) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, " ")
}

// tokMissingFor returns the missing actions x's token has on repository name.
func tokMissingFor(x *decode.Exchange, name string) []string {
	for _, m := range x.Missing {
		if m.Type == "repository" && m.Name == name {
			return m.Actions
		}
	}
	return nil
}

// tokNeedFor returns the actions x needs on repository name.
func tokNeedFor(x *decode.Exchange, name string) []string {
	for _, n := range x.Need {
		if n.Type == "repository" && n.Name == name {
			return n.Actions
		}
	}
	return nil
}

// tokGrantsNothing reports whether x's token grants no needed action on
// x's own repository.
func tokGrantsNothing(x *decode.Exchange) bool {
	need := tokNeedFor(x, x.Repo)
	miss := tokMissingFor(x, x.Repo)
	return len(need) > 0 && len(miss) == len(need)
}

// tokDenied reports a 401 or 403 answer.
func tokDenied(x *decode.Exchange) bool {
	s := status(x)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// tokRespTime is when the registry answered: its Date header, else the
// flow's start (the proxy's clock). fromDate says which.
func tokRespTime(x *decode.Exchange) (t time.Time, fromDate bool) {
	if r := x.Flow.Response; r != nil {
		if d := r.Header.Get("Date"); d != "" {
			if t, err := http.ParseTime(d); err == nil {
				return t, true
			}
		}
	}
	return x.Flow.Start, false
}

// tokIsHub reports whether x (or the token server that issued its token)
// is Docker Hub: by host, or by the Hub realm/service relayed by a proxy.
func tokIsHub(x, tx *decode.Exchange) bool {
	if x.Registry == "docker.io" || decode.IsDockerHub(x.Host) {
		return true
	}
	for _, y := range []*decode.Exchange{x, tx} {
		if y == nil {
			continue
		}
		if c := bearerChallenge(y); c != nil {
			if strings.EqualFold(c.Service(), "registry.docker.io") || tokRealmHost(c.Realm()) == "auth.docker.io" {
				return true
			}
		}
	}
	if tx != nil && tx.TokenRequest != nil && strings.EqualFold(tx.TokenRequest.Service, "registry.docker.io") {
		return true
	}
	return false
}

func tokRealmHost(realm string) string {
	u, err := url.Parse(realm)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func tokWithRepo(f Finding, x *decode.Exchange) Finding {
	if f.Repo == "" {
		f.Repo = tokRepo(x)
	}
	return f
}

// tokIssuedBy phrases where a token came from.
func tokIssuedBy(tx *decode.Exchange) string {
	if tx == nil {
		return "a token not issued in this trace"
	}
	return "the token issued by " + tx.Flow.ID.String()
}

// ---- step 5: token contents vs request ----

// tokLibraryPrefix reports whether x failed because it named a Docker Hub
// official image without "library/" (or, elsewhere, a name without the
// namespace the same trace shows working), and returns the right name.
func tokLibraryPrefix(in *Input, op *Operation, x *decode.Exchange) (string, *decode.Exchange, bool) {
	// On Docker Hub a one-component name is wrong whatever the token says:
	// when its grants cannot be read (opaque, or a log), the name decides.
	unreadable := x.Token == nil || tokClaims(x) == nil || tokClaims(x).AccessMalformed
	hubName := unreadable && !strings.Contains(x.Repo, "/") && tokIsHub(x, tokIssuer(in, x))
	if !tokDenied(x) || x.Repo == "" || !tokBearer(x) || !tokGrantsNothing(x) && !hubName {
		return "", nil, false
	}
	if ec := tokChallengeError(x); ec == "invalid_token" {
		return "", nil, false
	}
	tx := tokIssuer(in, x)
	if !strings.Contains(x.Repo, "/") && tokIsHub(x, tx) {
		return "library/" + x.Repo, nil, true
	}
	// General case: the same registry served the namespaced name.
	if y := servedWithSuffix(in, x.Registry, x.Repo); y != nil {
		return y.Repo, y, true
	}
	return "", nil, false
}

// servedWithSuffix returns the first exchange registry reg answered 2xx for
// a repository named ".../name".
func servedWithSuffix(in *Input, reg, name string) *decode.Exchange {
	ix := in.index()
	ix.servedSuffixOnce.Do(func() {
		ix.servedSuffix = map[string]*decode.Exchange{}
		for _, y := range in.Exchanges {
			if !y.Kind.IsRegistry() || status(y) < 200 || status(y) >= 300 {
				continue
			}
			for i := 0; i < len(y.Repo); i++ {
				if y.Repo[i] != '/' {
					continue
				}
				if k := y.Registry + "\x00" + y.Repo[i+1:]; ix.servedSuffix[k] == nil {
					ix.servedSuffix[k] = y
				}
			}
		}
	})
	return ix.servedSuffix[reg+"\x00"+name]
}

func tokLibraryPrefixRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		right, ok2, ok := tokLibraryPrefix(in, op, x)
		if !ok || seen[x.Repo] {
			continue
		}
		seen[x.Repo] = true
		tx := tokIssuer(in, x)
		why := fmt.Sprintf("%s asked for repository %q, and %s grants nothing on it (scope repository:%s:pull got an empty access list); "+
			"%s answered %d.", x.Flow.ID, x.Repo, tokIssuedBy(tx), x.Repo, x.Flow.ID, status(x))
		cannot := "Whether the client or a proxy in front of the registry dropped the namespace: the trace shows only the name that reached the registry."
		if ok2 == nil {
			why += fmt.Sprintf(" On Docker Hub a one-component name is an official image that lives at %q; Hub answers 401 (not NAME_UNKNOWN) for %q, "+
				"which does not exist.", right, x.Repo)
		} else {
			why += fmt.Sprintf(" The same registry served %q in %s: the namespace is missing from the failing name.", right, ok2.Flow.ID)
		}
		out = append(out, Finding{
			Verdict:     VerdictClientConfig,
			Repo:        right,
			Evidence:    ids(tx, ok2, x),
			Why:         why,
			Fix:         fmt.Sprintf("Use the full name %q (or docker.io/%s and let the client normalise it); a proxy or pull-through cache in front of Docker Hub must rewrite one-component names to library/<name>, or be configured as a registry mirror.", right, x.Repo),
			CannotProve: cannot,
		})
	}
	return out
}

// tokMountRule: a cross-repository blob mount whose token cannot pull the
// source repository.
func tokMountRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if seen[x.Repo+"\x00"+x.From] {
			continue
		}
		if x.Kind != decode.KindBlobMount || x.From == "" || !tokDenied(x) || !tokBearer(x) {
			continue
		}
		if tokChallengeError(x) == "invalid_token" {
			continue
		}
		miss := tokMissingFor(x, x.From)
		if len(miss) == 0 {
			// Coverage known and the source is granted: not this rule.
			if tokClaims(x) != nil && tokClaims(x).HasAccess {
				continue
			}
			// Unknown coverage (opaque token): only when the challenge
			// names the source.
			named := false
			if c := bearerChallenge(x); c != nil {
				sc, _ := c.Scopes()
				for _, s := range sc {
					if s.Type == "repository" && s.Name == x.From {
						named = true
					}
				}
			}
			if !named {
				continue
			}
		}
		seen[x.Repo+"\x00"+x.From] = true
		tx := tokIssuer(in, x)
		why := fmt.Sprintf("%s tried to mount blob %s into %q from %q. A mount needs pull on the source as well as pull,push on the target, "+
			"and %s does not grant repository:%s:pull; %s answered %d, failing the whole upload instead of falling back to a normal one.",
			x.Flow.ID, x.Ref, x.Repo, x.From, tokIssuedBy(tx), x.From, x.Flow.ID, status(x))
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictDenied,
			Evidence: ids(tx, x),
			Why:      why,
			Fix: fmt.Sprintf("Grant the pushing account pull on %q (Docker Hub requires it even for public sources), or make the client skip "+
				"cross-repository mounts so it uploads the blob; registries should answer an unauthorised mount with 202 and a normal upload (OCI spec).", x.From),
			CannotProve: fmt.Sprintf("Whether %q exists or is only hidden from this account; whether the client would have retried with a plain upload.", x.From),
		}, x))
	}
	return out
}

var tokPushKinds = []decode.Kind{decode.KindUploadStart, decode.KindUploadChunk, decode.KindUploadFinish, decode.KindManifestPut, decode.KindBlobMount}

// tokPushRule: a push request denied with a token that lacks push (or the
// pull that distribution requires alongside it).
func tokPushRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if !slices.Contains(tokPushKinds, x.Kind) || !tokDenied(x) || !tokBearer(x) || tokChallengeError(x) == "invalid_token" {
			continue
		}
		miss := tokMissingFor(x, x.Repo)
		// A token whose grants cannot be read (opaque, or not in a log):
		// a refused push after asking for push is this rule, unproven.
		unreadable := tokClaims(x) == nil || tokClaims(x).AccessMalformed
		if (len(miss) == 0 && !(unreadable && tokAskedPush(op, x.Repo))) || seen[x.Repo] {
			continue
		}
		if _, _, lib := tokLibraryPrefix(in, op, x); lib {
			continue
		}
		seen[x.Repo] = true
		tx := tokIssuer(in, x)
		var what string
		var cannot string
		switch {
		case len(miss) == 0:
			what = fmt.Sprintf("cannot be read (it is opaque, or the trace does not show it), and the registry refused the push on %q it was asked for", x.Repo)
			cannot = "What the token grants: the token server may have dropped push from what was asked (it grants what the account may do, not what was asked). " +
				"Record the push with `regtrace run --har trace.har -- …` to see the token's access claim when it is a JWT."
		case slices.Contains(miss, "push"):
			what = fmt.Sprintf("does not grant push on %q", x.Repo)
		default:
			what = fmt.Sprintf("grants push but not pull on %q, and the registry requires both for POST, PUT and PATCH", x.Repo)
		}
		user := ""
		if u := tokUser(tx); u != "" {
			user = fmt.Sprintf(" The token was issued to %q: check that the repository's namespace is that account's or an organisation it can write to.", u)
		}
		why := fmt.Sprintf("%s (%s) needed repository:%s:%s, but %s %s; %s answered %d.%s",
			x.Flow.ID, x.Kind, x.Repo, strings.Join(tokNeedFor(x, x.Repo), ","), tokIssuedBy(tx), what, x.Flow.ID, status(x), user)
		out = append(out, tokWithRepo(Finding{
			Verdict:     VerdictDenied,
			Evidence:    ids(tx, x),
			Why:         why,
			CannotProve: cannot,
		}, x))
	}
	return out
}

// tokAskedPush: a token request of op asked for push on repo.
func tokAskedPush(op *Operation, repo string) bool { return op.later().pushAsked[repo] }

// tokResources lists the distinct repository resources of scopes.
func tokResources(ss []decode.Scope) []string {
	var out []string
	for _, s := range ss {
		if s.Type == "repository" && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

func tokGranted(c *decode.Claims, name string) bool {
	for _, a := range c.Access {
		if a.Type == "repository" && a.Name == name && len(a.Actions) > 0 {
			return true
		}
	}
	return false
}

// tokMultipleScopesRule: several scopes were needed; the token server kept
// only some of them, or the client asked for only one.
func tokMultipleScopesRule(in *Input, op *Operation) []Finding {
	var out []Finding
	for _, x := range tokFailures(op) {
		if !tokDenied(x) || !tokBearer(x) || len(x.Missing) == 0 || tokChallengeError(x) == "invalid_token" {
			continue
		}
		tx := tokIssuer(in, x)
		c := tokClaims(x)
		if tx == nil || tx.TokenRequest == nil || c == nil || !c.HasAccess {
			continue
		}
		requested := tokResources(tx.TokenRequest.Scopes)
		var dropped []string
		// (a) The token server dropped a requested resource while granting another.
		if len(requested) >= 2 {
			grantedAny := false
			for _, r := range requested {
				if tokGranted(c, r) {
					grantedAny = true
				}
			}
			for _, m := range x.Missing {
				if m.Type == "repository" && slices.Contains(requested, m.Name) && !tokGranted(c, m.Name) && !slices.Contains(dropped, m.Name) {
					dropped = append(dropped, m.Name)
				}
			}
			if grantedAny && len(dropped) > 0 {
				out = append(out, tokWithRepo(Finding{
					Verdict:  VerdictTokenProblem,
					Evidence: ids(tx, x),
					Why: fmt.Sprintf("The token request %s asked for %d scopes (%s), and the token it returned grants only some of them: nothing on %s. "+
						"%s then needed the dropped scope and got %d. Some token servers keep only one of several repeated scope= parameters.",
						tx.Flow.ID, len(tx.TokenRequest.Scopes), tokScopes(tx.TokenRequest.Scopes), tokQuoteList(dropped), x.Flow.ID, status(x)),
					CannotProve: fmt.Sprintf("Whether the account may access %s at all: a server that intersects correctly would also drop a scope the account lacks.", tokQuoteList(dropped)),
				}, x))
				continue
			}
		}
		// (b) The challenge asked for several scopes, the client requested fewer.
		ch := tokChallengeBefore(in, op, x, tx)
		if ch == nil {
			continue
		}
		cc := bearerChallenge(ch)
		cs, _ := cc.Scopes()
		asked := tokResources(cs)
		if len(asked) < 2 {
			continue
		}
		var notRequested []string
		for _, m := range x.Missing {
			if m.Type == "repository" && slices.Contains(asked, m.Name) && !slices.Contains(requested, m.Name) && !slices.Contains(notRequested, m.Name) {
				notRequested = append(notRequested, m.Name)
			}
		}
		if len(notRequested) == 0 {
			continue
		}
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictClientConfig,
			Evidence: ids(ch, tx, x),
			Why: fmt.Sprintf("The challenge in %s asked for %d scopes (%s), but the client's token request %s asked only for %s, so the token lacks %s; %s answered %d.",
				ch.Flow.ID, len(cs), tokScopes(cs), tx.Flow.ID, tokScopes(tx.TokenRequest.Scopes), tokQuoteList(notRequested), x.Flow.ID, status(x)),
			Fix:         "Use a client that requests every scope of the challenge (repeated scope= parameters), or upgrade the one in use.",
			CannotProve: "Whether the token server would have granted the missing scope had it been asked.",
		}, x))
	}
	return out
}

// challengesByPath returns the operation's registry 401s with a Bearer
// challenge naming scopes, by path, in order; built on first use (Explain
// builds it before the rules run, which may run at once).
func (op *Operation) challengesByPath() map[hostPath][]*decode.Exchange {
	if op.scopeChallenges == nil {
		byPath := map[hostPath][]*decode.Exchange{}
		for _, y := range op.Exchanges {
			if y.Kind.IsRegistry() && status(y) == http.StatusUnauthorized {
				if c := bearerChallenge(y); c != nil && c.Param("scope") != "" {
					p := tokPath(y)
					byPath[p] = append(byPath[p], y)
				}
			}
		}
		op.scopeChallenges = byPath
	}
	return op.scopeChallenges
}

// tokChallengeBefore returns the last registry exchange before the token
// request tx with a Bearer challenge listing scopes, on x's path.
func tokChallengeBefore(in *Input, op *Operation, x, tx *decode.Exchange) *decode.Exchange {
	ys := op.challengesByPath()[tokPath(x)]
	// The last one before the token request; a reader may number flows
	// out of order, and then the list is walked.
	if !slices.IsSortedFunc(ys, func(a, b *decode.Exchange) int { return int(a.Flow.ID) - int(b.Flow.ID) }) {
		var found *decode.Exchange
		for _, y := range ys {
			if y.Flow.ID >= tx.Flow.ID {
				break
			}
			found = y
		}
		return found
	}
	i := sort.Search(len(ys), func(i int) bool { return ys[i].Flow.ID >= tx.Flow.ID })
	if i == 0 {
		return nil
	}
	return ys[i-1]
}

func tokQuoteList(ss []string) string {
	var q []string
	for _, s := range ss {
		q = append(q, fmt.Sprintf("%q", s))
	}
	return strings.Join(q, ", ")
}

// tokOverScopedRule: the token request asked for more than the operation
// needed and the token server refused it instead of intersecting.
func tokOverScopedRule(in *Input, op *Operation) []Finding {
	if !op.Failed() {
		return nil
	}
	var out []Finding
	for i, tx := range op.Exchanges {
		if tx.Kind != decode.KindTokenRequest || tx.TokenRequest == nil || tx.Flow.Err != nil {
			continue
		}
		s := status(tx)
		if s != http.StatusUnauthorized && s != http.StatusForbidden && s != http.StatusBadRequest {
			continue
		}
		if tokSuperseded(op, i) {
			continue
		}
		for _, sc := range tx.TokenRequest.Scopes {
			if sc.Type != "repository" {
				continue
			}
			var extra []string
			for _, a := range sc.Actions {
				if a != "pull" {
					extra = append(extra, a)
				}
			}
			if len(extra) == 0 {
				continue
			}
			// Every registry request of the operation on this repository
			// only reads it.
			var reads []*decode.Exchange
			writes := false
			for _, y := range op.Exchanges {
				if !y.Kind.IsRegistry() || y.Repo != sc.Name {
					continue
				}
				need := tokNeedFor(y, y.Repo)
				if len(need) == 0 {
					continue
				}
				if slices.ContainsFunc(need, func(a string) bool { return a != "pull" }) {
					writes = true
				}
				reads = append(reads, y)
			}
			if writes || len(reads) == 0 {
				continue
			}
			r := reads[len(reads)-1]
			out = append(out, Finding{
				Verdict:  VerdictTokenProblem,
				Repo:     tokRepo(r),
				Evidence: ids(r, tx),
				Why: fmt.Sprintf("The operation only reads %q (%s needs repository:%s:pull), but the token request %s asked for %s, "+
					"and the token server answered %d instead of granting the intersection (the token spec says a lack of permission must not be an error).",
					sc.Name, r.Flow.ID, sc.Name, tx.Flow.ID, sc.String(), s),
				CannotProve: fmt.Sprintf("Whether a request for pull alone would have succeeded: retry asking for repository:%s:pull only.", sc.Name),
			})
		}
	}
	return out
}

// tokAccessEmptyRule: credentials were sent, the token names the user, and
// it grants nothing on the repository.
func tokAccessEmptyRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if !tokDenied(x) || !tokBearer(x) || tokChallengeError(x) == "invalid_token" || !tokGrantsNothing(x) {
			continue
		}
		if status(x) == http.StatusUnauthorized && tokChallengeError(x) != "insufficient_scope" && len(x.Missing) == 0 {
			continue
		}
		c := tokClaims(x)
		tx := tokIssuer(in, x)
		if c == nil || c.Subject == "" || !c.HasAccess || len(c.Access) != 0 || !tokCredsSent(tx) || seen[x.Repo] {
			continue
		}
		if _, _, lib := tokLibraryPrefix(in, op, x); lib {
			continue
		}
		seen[x.Repo] = true
		how := "Basic credentials"
		if tx.TokenRequest.HasPassword {
			how = "a password grant"
		} else if tx.TokenRequest.HasRefreshToken {
			how = "a refresh-token grant"
		}
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictDenied,
			Evidence: ids(tx, x),
			Why: fmt.Sprintf("The token request %s authenticated with %s and the token server issued a token for %q (sub), but its access claim is empty, so it grants nothing on %q; "+
				"%s needed repository:%s:%s and got %d. The account is logged in but has no permission on this repository.",
				tx.Flow.ID, how, c.Subject, x.Repo, x.Flow.ID, x.Repo, strings.Join(tokNeedFor(x, x.Repo), ","), status(x)),
		}, x))
	}
	return out
}

// tokInsufficientScopeRule: the generic "pull access denied … does not exist
// or may require login".
func tokInsufficientScopeRule(in *Input, op *Operation) []Finding {
	if f, ok := tokAnonymousRefused(in, op); ok {
		return []Finding{f}
	}
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		// A sanitized HAR (Chrome's default export) drops Authorization:
		// a request without one may have carried the token.
		hidden := in.authHidden() && x.Auth.Scheme == ""
		// GHCR and others answer 404 to a token that does not grant the
		// repository, to hide whether it exists.
		hiding := status(x) == http.StatusNotFound && len(x.Missing) > 0 && tokBearer(x)
		if !tokDenied(x) && !hiding || !tokBearer(x) && !hidden || x.Repo == "" {
			continue
		}
		ec := tokChallengeError(x)
		if ec == "invalid_token" {
			continue
		}
		tx := tokIssuer(in, x)
		// An opaque token (GHCR, GAR, ECR Public, Harbor) shows no grants:
		// obtained anonymously and refused without error=, it is most
		// likely a private or missing repository and no login.
		unreadable := tokClaims(x) == nil || tokClaims(x).AccessMalformed
		opaqueAnon := unreadable && x.Token != nil && tx != nil && !tokCredsSent(tx) && !in.authHidden() && ec == ""
		switch {
		case hiding:
		case status(x) == http.StatusUnauthorized && (ec == "insufficient_scope" || len(x.Missing) > 0 && (hasCode(x, "UNAUTHORIZED") || hasCode(x, "DENIED"))):
		case status(x) == http.StatusForbidden && len(x.Missing) > 0:
		case opaqueAnon:
		default:
			continue
		}
		if seen[x.Repo] {
			continue
		}
		seen[x.Repo] = true
		if hidden {
			out = append(out, tokWithRepo(tokHiddenInsufficient(op, x, ec), x))
			continue
		}
		who := "anonymously"
		if in.authHidden() {
			who = "with or without credentials (" + in.hiddenNote() + ")"
		}
		if tokCredsSent(tx) {
			who = "with credentials"
			if u := tokUser(tx); u != "" {
				who = fmt.Sprintf("as %q", u)
			}
		}
		lacks := "does not cover it"
		switch {
		case opaqueAnon && tokClaims(x) != nil:
			lacks = "has an access claim regtrace cannot read (malformed), so what it grants is unknown; an anonymous token for a private or missing repository grants nothing"
		case opaqueAnon:
			lacks = "is opaque (not a JWT), so what it grants cannot be read here; an anonymous token for a private or missing repository grants nothing"
		case len(x.Missing) > 0:
			lacks = "lacks " + tokScopes(x.Missing)
		case ec == "insufficient_scope":
			lacks = "lacks what it needs (the registry said error=\"insufficient_scope\")"
		}
		// One builder: a long log has this finding for each of its
		// hundred thousand failed pulls.
		var wb strings.Builder
		wb.Grow(512)
		fmt.Fprintf(&wb, "%s (%s of %q) carried %s, obtained %s, which %s; the registry answered %d", x.Flow.ID, x.Kind, x.Repo, tokIssuedBy(tx), who, lacks, status(x))
		if ec != "" {
			fmt.Fprintf(&wb, " with error=%q", ec)
		}
		if hiding {
			fmt.Fprintf(&wb, " %s: a registry that hides what a token may not see answers 404 for it, so this is not proof the repository is missing", verdictMessageOr(x, "not found"))
		}
		wb.WriteString(". Clients report this as \"pull access denied … repository does not exist or may require 'docker login'\" or \"requested access to the resource is denied\".")
		why := wb.String()
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictUnauthorizedAmbiguous,
			Evidence: ids(tx, x),
			Why:      why,
		}, x))
	}
	return out
}

// tokAnonymousRefused: the run stopped at the token server, which refused
// an anonymous token request for a repository (GHCR answers 401 for a
// private package, and a missing one looks the same). Refused credentials
// are credentials-rejected-at-token-endpoint's.
func tokAnonymousRefused(in *Input, op *Operation) (Finding, bool) {
	o := op.Outcome()
	x := o.Stop
	if o.Stage != StageToken || in.authHidden() || x.Flow.Err != nil || x.TokenRequest == nil || tokCredsSent(x) ||
		(status(x) != http.StatusUnauthorized && status(x) != http.StatusForbidden) {
		return Finding{}, false
	}
	var repos []string
	for _, sc := range x.TokenRequest.Scopes {
		if sc.Type == "repository" {
			repos = append(repos, sc.Name)
		}
		if slices.ContainsFunc(sc.Actions, func(a string) bool { return a != "pull" }) {
			return Finding{}, false // asked for more than pull: over-scoped-request-rejected's
		}
	}
	if len(repos) == 0 {
		return Finding{}, false
	}
	why := fmt.Sprintf("The token request %s asked anonymously (no credentials) for %s and the token server refused it with %d",
		x.Flow.ID, tokScopes(x.TokenRequest.Scopes), status(x))
	if m := verdictMessage(x); m != "" {
		why += fmt.Sprintf(": %q", m)
	}
	why += ". Token servers that give anonymous tokens for public repositories refuse them for private ones (GHCR does, with 401), " +
		"and many refuse the same way for a repository that does not exist."
	return Finding{
		Verdict:  VerdictUnauthorizedAmbiguous,
		Repo:     repos[0],
		Evidence: ids(credChallengeFor(op, op.position(x), x), x),
		Why:      why,
	}, true
}

// tokHiddenInsufficient is insufficient-scope for a request whose
// Authorization the HAR's exporter removed: the registry's answer is there,
// what the client sent is not.
func tokHiddenInsufficient(op *Operation, x *decode.Exchange, ec string) Finding {
	var tx *decode.Exchange // the last token issued before x
	for _, y := range op.Exchanges {
		if y.Flow.ID == x.Flow.ID {
			break
		}
		if y.Kind == decode.KindTokenRequest && y.TokenResponse != nil {
			tx = y
		}
	}
	why := fmt.Sprintf("%s (%s of %q) was refused with %d", x.Flow.ID, x.Kind, x.Repo, status(x))
	if ec != "" {
		why += fmt.Sprintf(" and error=%q", ec)
	}
	why += ". This HAR was exported without Authorization headers, so whether that request carried a token cannot be seen."
	if tx != nil {
		why += fmt.Sprintf(" The last token issued before it, by %s, was requested with %s", tx.Flow.ID, tokSentHidden(tx))
		for _, t := range []*decode.Token{tx.TokenResponse.AccessToken, tx.TokenResponse.Token} {
			if t == nil || t.Claims == nil || !t.Claims.HasAccess {
				continue
			}
			var missing []decode.Scope
			for _, n := range x.Need {
				if m := decode.Missing(t.Claims.Access, n); len(m) > 0 {
					missing = append(missing, decode.Scope{Type: n.Type, Class: n.Class, Name: n.Name, Actions: m})
				}
			}
			if len(missing) > 0 {
				why += " and its access claim lacks " + tokScopes(missing)
			}
			break
		}
		why += "."
	}
	return Finding{
		Verdict:  VerdictUnauthorizedAmbiguous,
		Evidence: ids(tx, x),
		Why:      why,
		Fix: "Check the repository name and that the account may read it; log in with an account that can. " +
			"To see what was sent, export the HAR with sensitive data (Chrome: \"Export HAR (with sensitive data)\") or record with `regtrace proxy --har`.",
		CannotProve: "Whether credentials or a token were sent at all: the exporter removed Authorization headers. " +
			"And whether the repository is missing or private: a registry that prevents information leaks answers the same for both.",
	}
}

// tokSentHidden says what a token request visibly carried in a sanitized HAR.
func tokSentHidden(tx *decode.Exchange) string {
	if u := tokUser(tx); u != "" {
		return fmt.Sprintf("the account %q named", u)
	}
	if tokCredsSent(tx) {
		return "credentials"
	}
	return "no credentials visible in this HAR (the exporter removes Authorization)"
}

// ---- step 6: token validity ----

// tokInvalidToken reports a 401 whose challenge says error="invalid_token"
// to a request that carried a token.
func tokInvalidToken(x *decode.Exchange) bool {
	return status(x) == http.StatusUnauthorized && tokBearer(x) && tokChallengeError(x) == "invalid_token"
}

// tokExpired reports whether x's token was past exp (plus leeway) when the
// registry answered.
func tokExpired(x *decode.Exchange) (time.Time, bool, bool) {
	c := tokClaims(x)
	if c == nil || c.ExpiresAt.IsZero() {
		return time.Time{}, false, false
	}
	t, fromDate := tokRespTime(x)
	return t, fromDate, c.ExpiresAt.Add(tokLeeway).Before(t)
}

// tokNotYetValid reports whether x's token's nbf (or iat) is in the future
// of the registry's Date header beyond the leeway.
func tokNotYetValid(x *decode.Exchange) (time.Time, string, time.Time, bool) {
	c := tokClaims(x)
	if c == nil {
		return time.Time{}, "", time.Time{}, false
	}
	t, fromDate := tokRespTime(x)
	if !fromDate {
		return time.Time{}, "", time.Time{}, false
	}
	claim, name := c.NotBefore, "nbf"
	if claim.IsZero() {
		claim, name = c.IssuedAt, "iat"
	}
	if claim.IsZero() || !claim.After(t.Add(tokLeeway)) {
		return time.Time{}, "", time.Time{}, false
	}
	return claim, name, t, true
}

func tokExpiredRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if seen[x.Repo] {
			continue
		}
		if !tokInvalidToken(x) {
			continue
		}
		at, fromDate, ok := tokExpired(x)
		if !ok {
			continue
		}
		tx := tokIssuer(in, x)
		c := tokClaims(x)
		clock := "the registry's Date header"
		if !fromDate {
			clock = "the proxy's clock (the response had no Date header)"
		}
		why := fmt.Sprintf("%s carried %s, which expired at %s (exp); %s was answered at %s by %s, %s after expiry even with the registry's 60 s leeway, "+
			"and the registry refused it with error=\"invalid_token\".",
			x.Flow.ID, tokIssuedBy(tx), c.ExpiresAt.UTC().Format(time.RFC3339), x.Flow.ID, at.UTC().Format(time.RFC3339), clock,
			at.Sub(c.ExpiresAt).Round(time.Second))
		var ev []*decode.Exchange
		ev = append(ev, tx)
		for _, y := range op.Exchanges {
			if y != x && y.Token != nil && y.Token.ID == x.Token.ID && status(y) >= 200 && status(y) < 300 && y.Kind.IsRegistry() {
				why += fmt.Sprintf(" The same token worked earlier (%s): the operation outlived it.", y.Flow.ID)
				ev = append(ev, y)
				break
			}
		}
		ev = append(ev, x)
		if tx != nil && tx.TokenResponse != nil && tx.TokenResponse.ExpiresIn > 0 {
			why += fmt.Sprintf(" The token server gave it expires_in=%d s.", tx.TokenResponse.ExpiresIn)
		}
		seen[x.Repo] = true
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictTokenProblem,
			Evidence: ids(ev...),
			Why:      why,
		}, x))
	}
	return out
}

func tokSkewRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if seen[x.Repo] {
			continue
		}
		if !tokInvalidToken(x) {
			continue
		}
		if _, _, exp := tokExpired(x); exp {
			continue
		}
		claim, name, at, ok := tokNotYetValid(x)
		if !ok {
			continue
		}
		tx := tokIssuer(in, x)
		seen[x.Repo] = true
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictTokenProblem,
			Evidence: ids(tx, x),
			Why: fmt.Sprintf("%s carried %s, whose %s is %s; the registry's Date header on %s says %s, %s earlier, beyond the 60 s leeway, "+
				"so to the registry the token is not valid yet and it answered 401 error=\"invalid_token\". The token server's clock is ahead of the registry's.",
				x.Flow.ID, tokIssuedBy(tx), name, claim.UTC().Format(time.RFC3339), x.Flow.ID, at.UTC().Format(time.RFC3339), claim.Sub(at).Round(time.Second)),
		}, x))
	}
	return out
}

func tokRejectedRule(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if seen[x.Repo] {
			continue
		}
		if status(x) != http.StatusUnauthorized || !tokBearer(x) {
			continue
		}
		ch := bearerChallenge(x)
		ec := tokChallengeError(x)
		switch {
		case ec == "invalid_token":
		case ch != nil && ec == "" && len(x.Missing) == 0 && tokClaims(x) != nil && !tokClaims(x).AccessMalformed:
			// A signature failure with a trusted key: 401 without error=.
			// An opaque token shows neither its expiry nor its issuer, so
			// nothing says it is a key problem.
		default:
			continue
		}
		if _, _, exp := tokExpired(x); exp {
			continue
		}
		if _, _, _, skew := tokNotYetValid(x); skew {
			continue
		}
		tx := tokIssuer(in, x)
		c := tokClaims(x)
		why := fmt.Sprintf("%s carried %s and the registry refused the token itself (401", x.Flow.ID, tokIssuedBy(tx))
		if ec != "" {
			why += " error=\"invalid_token\")"
		} else {
			why += " with a challenge but no error=, what distribution sends when the token's signature does not verify)"
		}
		why += ", although it is neither expired nor issued in the registry's future."
		cannot := "Which check failed: the registry's log names it (audience, issuer, signature/key). "
		service := ""
		if ch != nil {
			service = ch.Service()
		}
		audMismatch := false
		if c != nil && service != "" && len(c.Audience) > 0 && !slices.Contains(c.Audience, service) {
			audMismatch = true
			why += fmt.Sprintf(" Its audience (aud) is %s but the registry's challenge names service %q: the token was issued for another service.",
				tokQuoteList(c.Audience), service)
		}
		if tx != nil && tx.TokenRequest != nil && service != "" && tx.TokenRequest.Service != "" && tx.TokenRequest.Service != service {
			why += fmt.Sprintf(" The token request %s asked for service %q, not %q.", tx.Flow.ID, tx.TokenRequest.Service, service)
		}
		if !audMismatch {
			if c != nil {
				iss := c.Issuer
				if iss == "" {
					iss = "(none)"
				}
				kid := ""
				if x.Token.Header != nil && x.Token.Header.Kid != "" {
					kid = fmt.Sprintf(", key id %q", x.Token.Header.Kid)
				}
				why += fmt.Sprintf(" Its claims look valid (issuer %s%s), so the registry most likely does not trust the issuer or the signing key.", iss, kid)
			}
			cannot += "JWT signatures are not verified by regtrace, so an untrusted issuer or a rotated or mismatched signing key cannot be told apart here."
		} else {
			cannot += "Whether the issuer and key are also wrong: fix the audience first."
		}
		seen[x.Repo] = true
		out = append(out, tokWithRepo(Finding{
			Verdict:     VerdictTokenProblem,
			Evidence:    ids(tx, x),
			Why:         why,
			CannotProve: cannot,
		}, x))
	}
	return out
}
