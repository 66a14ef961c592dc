package explain

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// Outcome rules read the outcome model alone: a failure no other rule
// explains, a failed run that a later run recovered, and a refused mount
// that cost a full upload.
const (
	RuleUnexplainedFailure  Rule = "unexplained-failure"
	RuleLaterRunSucceeded   Rule = "later-run-succeeded"
	RuleMountRefused        Rule = "cross-repo-mount-refused-then-uploaded"
	RuleRegistryUnreachable Rule = "registry-unreachable"
	RuleProxyAuthRefused    Rule = "proxy-auth-refused"
	RuleMirrorFellBack      Rule = "mirror-fell-back-to-upstream"
	RuleMirrorServesRefused Rule = "mirror-serves-what-upstream-refuses"
)

// VerdictUnexplained: the operation failed and no rule says why.
const VerdictUnexplained Verdict = "unexplained-failure"

func outcomeRules() []rule {
	return []rule{
		// Catalog §3 step 1: a transport failure makes every later
		// inference moot.
		{id: RuleProxyAuthRefused, group: 12, explains: true, op: outcomeProxyAuthRefused},
		{id: RuleRegistryUnreachable, group: 13, explains: true, op: outcomeRegistryUnreachable},
		{id: RuleLaterRunSucceeded, group: 80, explains: false, op: outcomeRecovered},
		{id: RuleMountRefused, group: 81, explains: false, op: outcomeMountRefused},
		{id: RuleMirrorFellBack, group: 82, explains: false, op: outcomeMirrorFellBack},
		{id: RuleMirrorServesRefused, group: 83, explains: false, global: outcomeMirrorServesRefused},
		// Last of all: it reads which operations the others explained.
		{id: RuleUnexplainedFailure, group: 99, explains: true, global: outcomeUnexplained},
	}
}

// outcomeProxyAuthRefused: the operation stopped at regtrace's own 407: the
// client did not authenticate to a shared proxy (--proxy-auth), so no
// request reached the registry. Certain, not a guess: regtrace answered.
func outcomeProxyAuthRefused(in *Input, op *Operation) []Finding {
	o := op.Outcome()
	if o.Reached || o.RecoveredBy != nil || o.Stop == nil {
		return nil
	}
	x := o.Stop
	kind, msg := tunnelErr(x)
	if kind != flow.ErrProxyAuth {
		return nil
	}
	return []Finding{tokWithRepo(Finding{
		Verdict:  VerdictTransport,
		Evidence: ids(x),
		Why: fmt.Sprintf("%s: regtrace's shared proxy answered 407 on the way to %s: %s. The request never reached the registry.",
			x.Flow.ID, x.Host, msg),
		Fix: "Put a user and password from the proxy's --proxy-auth file in the client's proxy URL, before the host as in any URL " +
			"(HTTPS_PROXY; for dockerd and containerd, in the daemon's environment, e.g. a systemd drop-in), then run it again.",
	}, x)}
}

// outcomeRegistryUnreachable: the operation stopped because the registry
// host could not be reached at all (name, port, route), not because of
// anything it answered.
func outcomeRegistryUnreachable(in *Input, op *Operation) []Finding {
	o := op.Outcome()
	if o.Reached || o.RecoveredBy != nil || credMovedOn(in, op) {
		return nil
	}
	x := o.Stop
	if o.Stage != StageTunnel && !(x.Flow.Err != nil && (o.Stage == StagePing || o.Stage == StageRegistry)) {
		return nil
	}
	kind, msg := tunnelErr(x)
	switch kind {
	case flow.ErrUnknownAuthority, flow.ErrCertificate, flow.ErrTLS, flow.ErrClientClosed, flow.ErrProxy:
		return nil // a TLS problem (proxy-or-mitm-interference), the client's own hang-up, or regtrace's fault
	case flow.ErrOther:
		return nil // no network error named (a log's failure it could not place): not "could not reach"
	}
	if kind == flow.ErrProxyAuth {
		return nil // proxy-auth-refused
	}
	why := fmt.Sprintf("%s could not reach the registry %s: %s (%s). Nothing the registry would have said about authentication or the image was ever seen.",
		x.Flow.ID, x.Host, kind, msg)
	fix := "Check the registry's name, port and scheme in the image reference; from the same machine, `curl -v https://" + x.Host + "/v2/` shows whether it answers"
	switch kind {
	case flow.ErrDNS:
		fix += "; the name does not resolve: check DNS, /etc/hosts, or a typo in the registry host"
	case flow.ErrRefused:
		fix += "; nothing listens on that port: the registry is down, or on another port (5000 for a plain distribution)"
	case flow.ErrTimeout:
		fix += "; packets go unanswered: a firewall, a missing route, or a corporate proxy the client needs (HTTPS_PROXY)"
	}
	return []Finding{tokWithRepo(Finding{
		Verdict:  VerdictTransport,
		Evidence: ids(x),
		Why:      why,
		Fix:      fix + ".",
	}, x)}
}

// outcomeUnexplained: a verdict is never silence. Every operation that did
// not reach its goal, and that no rule explained, gets a finding naming
// where it stopped and what to capture next.
func outcomeUnexplained(in *Input, ops []*Operation) []Finding {
	var out []Finding
	for _, op := range ops {
		o := op.Outcome()
		if o.Reached || o.RecoveredBy != nil || in.covered[op] {
			continue
		}
		f, sus, ok := suspectFinding(in, op)
		if ok {
			out = append(out, f)
			continue
		}
		x := o.Stop
		verdict := VerdictUnexplained
		if x.Flow.Err != nil || x.Kind == decode.KindTunnel {
			verdict = VerdictTransport
		}
		why := fmt.Sprintf("The %s did not reach its goal: %s.", goalWords(o.Goal), describeStop(x))
		ev := []*decode.Exchange{x}
		switch o.Stage {
		case StageRealm:
			why += " That host is the token server (realm) the registry named, so the client could not get a token."
			if ch := challengeNaming(op, x); ch != nil {
				ev = append(ev, ch)
			}
		case StageTunnel:
			why += " The registry host itself could not be reached through the proxy."
		case StagePing:
			why += " The registry asked for authentication and the client sent nothing more: it had no credentials for this registry, would not use the challenge, or was stopped."
		case StageToken:
			why += " The client could not get a token."
			if tr := x.TokenRequest; tr != nil && !tokCredsSent(x) && !in.authHidden() {
				why += " The request carried no credentials (anonymous)."
			}
		}
		repo := ""
		if len(op.Repos) == 1 {
			repo = op.Repos[0]
		}
		fix := fmt.Sprintf("Look at %s in full (`regtrace explain --flow %d FILE`); capture the client's own error and debug log "+
			"(skopeo/podman --debug, crane -v, oras --debug, regctl -v trace, dockerd or containerd in debug mode) and the registry's log at that time.",
			x.Flow.ID, x.Flow.ID)
		if src := in.Source; src != nil && src.Capture != "" {
			// The log is what was captured: the wire is what is missing.
			fix = "Record the run on the wire, which shows what the " + src.Name + " cannot (" + src.Capture + "), and explain that HAR."
		}
		out = append(out, Finding{
			Verdict:    verdict,
			Client:     ClientName(op.Client),
			Registry:   op.Registry,
			Repo:       repo,
			Evidence:   ids(ev...),
			Why:        why + whyNoRule(in, sus),
			Candidates: sus.rules,
			Fix:        fix,
		})
	}
	return out
}

// whyNoRule ends an unexplained failure's why: the rules a log's failure
// fits, or that none does.
func whyNoRule(in *Input, s suspicion) string {
	if len(s.rules) > 1 {
		return candidatesText(in, s)
	}
	return " No rule in regtrace's catalog matches what happened before it."
}

func goalWords(g Goal) string {
	switch g {
	case GoalLogin:
		return "run (it stopped before any repository request)"
	case GoalUnknown:
		return "operation"
	case GoalV1:
		return "V1 operation"
	}
	return string(g)
}

// challengeNaming returns the last exchange before x whose challenge named
// a realm on x's host.
func challengeNaming(op *Operation, x *decode.Exchange) *decode.Exchange {
	var out *decode.Exchange
	for _, y := range op.Exchanges {
		if y == x {
			break
		}
		if c := bearerChallenge(y); c != nil && credHostname(tokRealmHost(c.Realm())) == credHostname(x.Host) {
			out = y
		}
	}
	return out
}

// outcomeRecovered: a failed run followed by a run that worked. Say so, and
// what changed between them, once per recovering run.
func outcomeRecovered(in *Input, op *Operation) []Finding {
	if op.Outcome().Reached {
		return nil
	}
	b := op.Outcome().RecoveredBy
	if b == nil {
		return nil
	}
	// The first failed run a later one recovered speaks for the others.
	x := op.Outcome().Stop
	first, last := b.Exchanges[0], b.Exchanges[len(b.Exchanges)-1]
	why := fmt.Sprintf("The %s failed: %s. A later run of the same client, %s–%s, reached its goal",
		goalWords(op.Outcome().Goal), describeStop(x), first.Flow.ID, last.Flow.ID)
	if b.Registry != op.Registry {
		why += " on " + b.Registry
	}
	why += ". What changed between them: " + runChanges(in, op, b) + "."
	return []Finding{{
		Verdict:  VerdictOK,
		Evidence: ids(x, first, last),
		Why:      why,
	}}
}

// runChanges says what differs between a failed run a and a later good run
// b: credentials, repository names, registry.
func runChanges(in *Input, a, b *Operation) string {
	var out []string
	ca, cb := runCredentials(in, a), runCredentials(in, b)
	if ca != cb {
		out = append(out, fmt.Sprintf("the first run authenticated %s, the later one %s", ca, cb))
	}
	if !slices.Equal(a.Repos, b.Repos) && len(a.Repos) > 0 && len(b.Repos) > 0 {
		out = append(out, fmt.Sprintf("the repository was %s, then %s", strings.Join(a.Repos, ", "), strings.Join(b.Repos, ", ")))
	}
	if a.Registry != b.Registry {
		out = append(out, fmt.Sprintf("the registry was %s, then %s (a fallback to another host)", a.Registry, b.Registry))
	}
	if ha, hb := opHosts(a), opHosts(b); a.Registry == b.Registry && !slices.Equal(ha, hb) {
		out = append(out, fmt.Sprintf("the first run asked %s, the later one %s (a mirror added or removed: containerd's hosts.toml)",
			strings.Join(ha, ", "), strings.Join(hb, ", ")))
	}
	if len(out) == 0 {
		return "nothing visible in the requests, so the registry's answer changed (a permission granted, an image pushed, a limit reset, a token server fixed)"
	}
	return strings.Join(out, "; ")
}

// opHosts are the registry hosts an operation asked, mirrors included,
// in the order first asked.
func opHosts(op *Operation) []string {
	var hs []string
	for _, x := range op.Exchanges {
		if (x.Kind.IsRegistry() || x.Kind.IsV1()) && !slices.Contains(hs, x.Host) {
			hs = append(hs, x.Host)
		}
	}
	return hs
}

// runCredentials names how a run authenticated, in words.
func runCredentials(in *Input, op *Operation) string {
	if in.authHidden() {
		return "in a way this sanitized HAR does not show"
	}
	for _, x := range op.Exchanges {
		if tokCredsSent(x) {
			if u := tokUser(x); u != "" {
				return fmt.Sprintf("as %q", u)
			}
			return "with credentials"
		}
		if credBasicSent(x.Auth) {
			return fmt.Sprintf("as %q", x.Auth.User)
		}
	}
	return "anonymously"
}

// outcomeMountRefused: docker and others try a cross-repository mount
// first and upload silently when it is refused. The push worked, but the
// blob's bytes went up again.
func outcomeMountRefused(in *Input, op *Operation) []Finding {
	var out []Finding
	for _, p := range op.Outcome().Probes {
		x := p.X
		if x.Kind != decode.KindBlobMount {
			continue
		}
		var up *decode.Exchange
		for _, y := range op.Exchanges {
			if y.Flow.ID > x.Flow.ID && y.Repo == x.Repo && (y.Kind == decode.KindUploadFinish || y.Kind == decode.KindUploadStart) && !bad(y) {
				up = y
				if y.Kind == decode.KindUploadFinish {
					break
				}
			}
		}
		if up == nil {
			continue
		}
		from := ""
		if x.From != "" {
			from = fmt.Sprintf(" from %q", x.From)
		}
		why := fmt.Sprintf("%s tried to mount blob %s into %q%s and the registry refused it (%d", x.Flow.ID, x.Ref, x.Repo, from, status(x))
		if c := bearerChallenge(x); c != nil && c.ErrorCode() != "" {
			why += " " + c.ErrorCode()
		}
		why += fmt.Sprintf("); the client then uploaded the blob itself (%s). The push worked, at the cost of sending the blob's bytes again", up.Flow.ID)
		if status(x) == http.StatusUnauthorized || status(x) == http.StatusForbidden {
			why += ": the token did not cover pulling the source repository"
		}
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictOK,
			Evidence: ids(x, up),
			Why:      why + ".",
		}, x))
	}
	return out
}

// outcomeMirrorFellBack: the operation reached its goal on another host
// after the first one it asked (a hosts.toml mirror, a registry mirror)
// failed. Nothing is broken, but the mirror serves nothing: every pull goes
// to the upstream, slower and counted against its rate limits.
func outcomeMirrorFellBack(in *Input, op *Operation) []Finding {
	o := op.Outcome()
	if !o.Reached {
		return nil // the masking rule says which answer the client reported
	}
	left := leftHost(op)
	if left == nil {
		return nil
	}
	var first *decode.Exchange // the first failure on a host the operation then left
	for i, x := range op.Exchanges {
		if op.Role(i) == RoleRetried && x.Registry != "" && !x.ToRealm && x.Kind != decode.KindTokenRequest && left[i] {
			first = x
			break
		}
	}
	if first == nil {
		return nil
	}
	var served *decode.Exchange
	for _, y := range op.Exchanges {
		if y.Flow.ID > first.Flow.ID && y.Registry != first.Registry && !bad(y) && (y.Kind.IsManifest() || y.Kind.IsBlob()) {
			served = y
			break
		}
	}
	if served == nil {
		return nil
	}
	why := fmt.Sprintf("%s asked %s first and got %s; it then fell back to %s, which served the request (%s). "+
		"%s serves nothing to this client as configured: its pulls go to %s instead (slower, and counted against that registry's rate limits).",
		ClientName(op.Client), first.Host, maskingDescribe(first), served.Host, served.Flow.ID, first.Host, served.Host)
	fix := "If " + first.Host + " should serve these pulls, "
	switch st := status(first); {
	case first.Kind == decode.KindTunnel || first.Flow.Err != nil:
		fix += "make it reachable from this machine (its address and port in hosts.toml or the mirror list, and that it is up)"
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		fix += "give the client credentials for " + first.Host + " itself: credentials stored for the upstream's name " +
			"(a node's registry config, a pull secret keyed by that name) are not sent to a mirror"
	case st == http.StatusNotFound:
		fix += "check that it mirrors " + served.Host + " (a pull-through cache configured for another upstream answers 404) and the path it expects (hosts.toml override_path)"
	default:
		fix += "look at its own log for this request"
	}
	fix += "; otherwise take it out of the client's mirror list (containerd: its [host] entry in hosts.toml)."
	return []Finding{tokWithRepo(Finding{
		Verdict:  VerdictOK,
		Client:   ClientName(op.Client),
		Registry: first.Registry,
		Evidence: ids(first, served),
		Why:      why,
		Fix:      fix,
	}, served)}
}

// leftHost says, per exchange of op, whether a registry exchange after it
// went to another host (one backward pass: a long log's operation is
// hundreds of thousands of exchanges); nil when none did.
func leftHost(op *Operation) []bool {
	var out []bool
	later, several := "", false // a registry later exchanges went to; whether more than one
	for i := len(op.Exchanges) - 1; i >= 0; i-- {
		x := op.Exchanges[i]
		if later != "" && (several || later != x.Registry) {
			if out == nil {
				out = make([]bool, len(op.Exchanges))
			}
			out[i] = true
		}
		if x.Kind.IsRegistry() || x.Kind.IsV1() {
			several = several || later != "" && later != x.Registry
			later = x.Registry
		}
	}
	return out
}

// outcomeMirrorServesRefused: a mirror served a repository to a request
// without credentials, and the registry it stands in for refused that
// repository to a request without credentials in the same trace. A
// pull-through cache configured with its own upstream account hands what
// that account may read to anyone who reaches the cache.
func outcomeMirrorServesRefused(in *Input, ops []*Operation) []Finding {
	type key struct{ reg, repo string }
	// The upstream's refusals without credentials that ended an operation:
	// a 401 that starts the token handshake of a public pull is not one.
	refused := map[key]*decode.Exchange{}
	for _, op := range ops {
		for i, x := range op.Exchanges {
			if op.Role(i) == RoleFailed && x.Upstream == "" && x.Kind.IsManifest() && x.Repo != "" &&
				(status(x) == http.StatusUnauthorized || status(x) == http.StatusForbidden) && anonymousRequest(in, x) {
				refused[key{x.Registry, maskingRepoKey(x)}] = x
			}
		}
	}
	if len(refused) == 0 {
		return nil
	}
	var out []Finding
	seen := map[key]bool{}
	for _, y := range in.Exchanges {
		k := key{y.Upstream, maskingRepoKey(y)}
		if y.Upstream == "" || !y.Kind.IsManifest() || bad(y) || y.Auth.Scheme != "" || seen[k] {
			continue
		}
		x := refused[k]
		if x == nil {
			continue
		}
		seen[k] = true
		repo := decode.NormalizeRepo(x.Host, x.Repo)
		out = append(out, Finding{
			Verdict:  VerdictOK,
			Client:   ClientName(y.Client),
			Registry: y.Registry,
			Repo:     repo,
			Evidence: ids(x, y),
			Why: fmt.Sprintf("%s served %s to a request without credentials (%s, on behalf of %s), while %s itself refused it to a request without credentials (%s, %d). "+
				"A pull-through cache fetches with its own account for the upstream: it gives what that account may read to anyone who can reach the cache.",
				y.Host, repo, y.Flow.ID, x.Host, x.Host, x.Flow.ID, status(x)),
			Fix: fmt.Sprintf("If %s is meant to be private, require authentication on %s (and limit who can reach it), or give the cache an upstream account that reads only public repositories.",
				repo, y.Host),
		})
	}
	return out
}

// anonymousRequest: x carried no credentials, nor a token got with any.
func anonymousRequest(in *Input, x *decode.Exchange) bool {
	if in.authHidden() {
		return false
	}
	if x.Auth.Scheme == "" {
		return true
	}
	if !strings.EqualFold(x.Auth.Scheme, "bearer") {
		return false
	}
	t := tokIssuer(in, x)
	return t != nil && !tokCredsSent(t)
}
