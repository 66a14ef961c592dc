package explain

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/regtrace/regtrace/decode"
)

// Catalog entries 7, 8 and 9: how the registry asks for credentials, and
// whether the client heard it.
const (
	RulePerRepoChallengeIgnored  Rule = "per-repo-challenge-ignored-after-200-ping"
	RuleAuthRequiredNotChallenge Rule = "auth-required-but-not-challenged"
	RuleMalformedChallenge       Rule = "unsupported-or-malformed-challenge"
)

func challengeRules() []rule {
	return []rule{
		{id: RulePerRepoChallengeIgnored, group: 30, explains: true, op: challengePerRepoIgnored},
		{id: RuleAuthRequiredNotChallenge, group: 31, explains: true, op: challengeNotChallenged},
		{id: RuleMalformedChallenge, group: 32, explains: true, op: challengeMalformed},
	}
}

// challengeGenuine: the upstream answered (not a proxy-made 502).
func challengeGenuine(x *decode.Exchange) bool {
	return x.Flow.Err == nil && x.Flow.Response != nil && !x.Flow.Response.Synthetic
}

func challengeSucceeded(x *decode.Exchange) bool {
	return challengeGenuine(x) && x.Flow.Response.Status >= 200 && x.Flow.Response.Status < 300
}

// challengeHeader reports whether the response carried WWW-Authenticate at
// all (parsable or not).
// headersKnown: the response's headers were seen. A log shows a status
// (or lets regtrace read one back from the client's error) but not the
// headers, so the absence of a challenge there proves nothing.
func headersKnown(x *decode.Exchange) bool {
	r := x.Flow.Response
	return r != nil && !r.Inferred
}

func challengeHeader(x *decode.Exchange) bool {
	return challengeGenuine(x) && len(x.Flow.Response.Header.Values("Www-Authenticate")) > 0
}

// challengeProblems lists what is wrong with a response's challenges:
// parse issues, a Bearer without a usable realm, or no Basic/Bearer at all.
func challengeProblems(x *decode.Exchange) []string {
	var ps []string
	add := func(s string) {
		for _, p := range ps {
			if p == s {
				return
			}
		}
		ps = append(ps, s)
	}
	for _, is := range x.Issues {
		if is.Where != "WWW-Authenticate" {
			continue
		}
		s := is.What
		if is.Raw != "" {
			s += fmt.Sprintf(" (%q)", is.Raw)
		}
		add(s)
	}
	usable := false
	var schemes []string
	for _, c := range x.Challenges {
		schemes = append(schemes, c.Scheme)
		switch {
		case c.IsBasic():
			usable = true
		case c.IsBearer():
			realm := c.Realm()
			if realm == "" {
				add("Bearer challenge without realm: the client cannot know where to get a token")
				continue
			}
			u, err := url.Parse(realm)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				if challengeMentions(ps, realm) {
					continue // decode already said so
				}
				add(fmt.Sprintf("Bearer realm %q is not an absolute http(s) URL", realm))
				continue
			}
			usable = true
		}
	}
	switch {
	case len(x.Challenges) == 0:
		add("WWW-Authenticate could not be parsed into any challenge")
	case !usable && len(ps) == 0:
		add(fmt.Sprintf("only scheme(s) %s, which container clients do not implement (they speak Basic and Bearer)", strings.Join(schemes, ", ")))
	}
	return ps
}

// ---- 7. per-repo-challenge-ignored-after-200-ping ----

// challengePerRepoIgnored: /v2/ answered 200, a repository request then got
// 401 with a usable challenge, and the client never answered it: no token
// request afterwards, no later request to that repository with credentials
// (with Basic already sent, no Bearer). The 401 is the operation's end.
func challengePerRepoIgnored(in *Input, op *Operation) []Finding {
	if !op.Failed() {
		return nil
	}
	var ping *decode.Exchange
	for _, x := range op.Exchanges {
		if x.Kind == decode.KindPing {
			if status(x) == 401 {
				return nil // the client was challenged on /v2/: other rules
			}
			if ping == nil && challengeSucceeded(x) {
				ping = x
			}
		}
	}
	if ping == nil {
		return nil
	}
	for i, x := range op.Exchanges {
		if x.Flow.ID < ping.Flow.ID || !maskingRepoRequest(x) || status(x) != 401 || !challengeGenuine(x) {
			continue
		}
		// A log shows the refusal but not its challenge; it does show that
		// the client had credentials for the registry and sent none.
		if !headersKnown(x) && x.Auth.Scheme == "" && in.index().credFor[x.Host] {
			return []Finding{{
				Verdict:  VerdictCredentialsNotSent,
				Repo:     decode.NormalizeRepo(x.Host, x.Repo),
				Evidence: ids(ping, x),
				Why: fmt.Sprintf("%s answered %d without asking for credentials, and the client took that as \"no auth needed\" for the whole registry. "+
					"%s was refused with 401 and the client never offered the credentials it had for %s (the %s shows them found). "+
					"Clients that read challenges only from the /v2/ ping (containers/image: skopeo, podman, buildah, CRI-O; docker's classic pull path) behave this way.",
					maskingDescribe(ping), status(ping), maskingDescribe(x), x.Host, in.Source.Name),
				CannotProve: "The challenge the repository sent (the log does not show headers): Bearer is the usual one behind a front that answers /v2/ itself.",
			}}
		}
		if len(x.Challenges) == 0 || len(challengeProblems(x)) > 0 {
			continue
		}
		hasBearer, hasBasic := false, false
		for _, c := range x.Challenges {
			hasBearer = hasBearer || c.IsBearer()
			hasBasic = hasBasic || c.IsBasic()
		}
		anonymous := x.Auth.Scheme == ""
		craneLike := strings.EqualFold(x.Auth.Scheme, "basic") && hasBearer && !hasBasic
		if !anonymous && !craneLike {
			continue
		}
		if anonymous && in.authHidden() && !hasBearer {
			continue // a sanitized HAR hides whether Basic was sent
		}
		lf := op.later()
		answered := lf.tokenAny > i ||
			in.authHidden() && after(lf.regByRepo, x.Repo, i) || after(lf.okByRepo, x.Repo, i) ||
			anonymous && after(lf.credByRepo, x.Repo, i) || craneLike && after(lf.bearerByRepo, x.Repo, i)
		if answered {
			continue
		}
		ch := x.Challenges[0]
		if b := bearerChallenge(x); b != nil {
			ch = *b
		}
		pingNote := "without a challenge"
		if len(ping.Challenges) > 0 {
			pingNote = "with a challenge the client did not use either"
		}
		sent := "without credentials"
		if craneLike {
			sent = "with Basic credentials" + challengeUser(x)
		}
		cannot := "Whether credentials were configured for " + op.Registry + ": the client never sent any, and its credential store is not on the wire; " +
			"`skopeo login`/`docker login` followed by the same command, or the same pull with oras or regctl, would tell."
		if craneLike {
			cannot = "Whether those Basic credentials would be granted a token: the client never asked the realm; the same pull with oras or regctl would show it."
		} else if y := challengeCredsElsewhere(in, op); y != nil {
			cannot = fmt.Sprintf("Whether these credentials may pull %s: the same client did send credentials in %s, so it has some, but it never offered them here.",
				decode.NormalizeRepo(x.Host, x.Repo), y.Flow.ID)
		}
		return []Finding{{
			Verdict:  VerdictCredentialsNotSent,
			Repo:     decode.NormalizeRepo(x.Host, x.Repo),
			Evidence: ids(ping, x),
			Why: fmt.Sprintf("%s answered %d %s, and the client took that as \"no auth needed\" for the whole registry. "+
				"%s asked %s, answered 401 with a challenge (%s), but the client never answered it: no token request and no retry with credentials followed. "+
				"Clients that read challenges only from the /v2/ ping (containers/image: skopeo, podman, buildah, CRI-O; docker's classic pull path; crane for Bearer) behave this way.",
				maskingDescribe(ping), status(ping), pingNote, maskingDescribe(x), sent, ch.String()),
			CannotProve: cannot,
		}}
	}
	return nil
}

func challengeUser(x *decode.Exchange) string {
	if x.Auth.User != "" {
		return " for " + x.Auth.User
	}
	return ""
}

// challengeCredsElsewhere returns an exchange of the same client, anywhere
// in the trace, that carried credentials (Basic, or a token request with
// Basic), if any.
func challengeCredsElsewhere(in *Input, op *Operation) *decode.Exchange {
	if in.authHidden() {
		return nil
	}
	return in.cross().basicBy[op.Client.UserAgent]
}

// ---- 8. auth-required-but-not-challenged ----

// challengeNotChallenged: (c) a 401 without any WWW-Authenticate, with no
// later success for the same URL; or (a/b) an anonymous request answered
// 400/403/404 without a challenge, and a later request to the same URL with
// credentials succeeded — auth was needed but never asked for.
func challengeNotChallenged(in *Input, op *Operation) []Finding {
	for i, x := range op.Exchanges {
		if !(x.Kind.IsRegistry() || x.Kind.IsV1()) || !challengeGenuine(x) || challengeHeader(x) || !headersKnown(x) {
			continue
		}
		st := status(x)
		path := x.Flow.Request.URL.Path
		retry := op.nextSucceeded(path, i)
		switch {
		case st == 401 && retry == nil:
			what := "no credentials were sent"
			if in.authHidden() {
				what = "whether credentials were sent cannot be seen: " + in.hiddenNote()
			}
			if x.Auth.Scheme != "" {
				what = x.Auth.Scheme + " credentials were sent"
			}
			return []Finding{{
				Verdict:  VerdictUnauthorized,
				Repo:     decode.NormalizeRepo(x.Host, x.Repo),
				Evidence: ids(x),
				Why: fmt.Sprintf("%s is a 401 without any WWW-Authenticate header (%s). A 401 must carry a challenge (RFC 9110 §15.5.2); "+
					"without one the client cannot learn whether to use Basic or where to get a token, so it gives up with a bare \"unauthorized\".",
					maskingDescribe(x), what),
				Fix: "Registry side: answer 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` (or Basic). Client side: log in first and use a client that " +
					"pings /v2/ or sends credentials proactively (docker classic, crane with credentials), or pass a registry token directly.",
				CannotProve: "Which scheme the registry expects and whether the client has credentials for it: the registry's documentation or a `curl -i` of /v2/ would show its challenge.",
			}}
		case (st == 400 || st == 403 || st == 404) && x.Kind != decode.KindPing && x.Auth.Scheme == "" && !in.authHidden() &&
			retry != nil && retry.Auth.Scheme != "":
			verdict := VerdictOK
			if op.Failed() {
				verdict = VerdictUnauthorized
			}
			return []Finding{{
				Verdict:  verdict,
				Repo:     decode.NormalizeRepo(x.Host, x.Repo),
				Evidence: ids(x, retry),
				Why: fmt.Sprintf("%s was anonymous and the registry answered %d without a challenge, yet %s, the same URL with %s credentials, succeeded: "+
					"the repository needs auth, but the registry said %q instead of 401 with WWW-Authenticate. "+
					"Clients that authenticate only when challenged (containerd, nerdctl, oras) report this as %q and never try their credentials.",
					maskingDescribe(x), st, maskingDescribe(retry), retry.Auth.Scheme, strings.ToLower(challengeStatusText(st)), strings.ToLower(challengeStatusText(st))),
			}}
		case st == 403 && retry == nil && x.Kind != decode.KindPing && x.Auth.Scheme == "" && !in.authHidden() &&
			op.Outcome().Stop == x && !verdictAnyChallenge(op) && x.Errors.Format != "html":
			// Artifactory and some fronts answer an anonymous request 403
			// with no challenge: nothing told the client to authenticate.
			return []Finding{{
				Verdict:  VerdictUnauthorized,
				Repo:     decode.NormalizeRepo(x.Host, x.Repo),
				Evidence: ids(x),
				Why: fmt.Sprintf("%s was anonymous and the registry answered 403 without any WWW-Authenticate challenge, and nothing in the operation asked for credentials. "+
					"A registry that wants authentication answers 401 with a challenge; this one refused instead, so clients that authenticate only when challenged "+
					"(containerd, oras, skopeo with stored credentials) never sent theirs and report \"forbidden\" or \"denied\".",
					maskingDescribe(x)),
				Fix: "Registry side: answer requests that need auth with 401 and a challenge (Artifactory: allow anonymous access to be challenged, or fix the reverse proxy). " +
					"Client side: log in to the registry first and use a client that sends credentials proactively, or configure the credentials for this host explicitly.",
				CannotProve: "Whether the repository would be allowed to the client's account: only a request with credentials would show (a 403 with credentials is a real denial).",
			}}
		}
	}
	return nil
}

func challengeStatusText(st int) string {
	switch st {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	}
	return fmt.Sprint(st)
}

// ---- 9. unsupported-or-malformed-challenge ----

// challengeMalformed: a 401 whose WWW-Authenticate the client cannot use —
// parse issues, Bearer without an absolute http(s) realm, or only schemes
// other than Basic/Bearer (Negotiate, NTLM from an SSO gateway). Only when
// the operation failed.
func challengeMalformed(in *Input, op *Operation) []Finding {
	if !op.Failed() {
		return nil
	}
	for _, x := range op.Exchanges {
		if !(x.Kind.IsRegistry() || x.Kind.IsV1()) || status(x) != 401 || !challengeHeader(x) || !headersKnown(x) {
			continue
		}
		ps := challengeProblems(x)
		if len(ps) == 0 {
			continue
		}
		raw := strings.Join(x.Flow.Response.Header.Values("Www-Authenticate"), " | ")
		return []Finding{{
			Verdict:  VerdictUnauthorized,
			Repo:     decode.NormalizeRepo(x.Host, x.Repo),
			Evidence: ids(x),
			Why: fmt.Sprintf("%s challenged with `WWW-Authenticate: %s`, which a registry client cannot act on: %s. "+
				"The client cannot authenticate, so it either gives up (\"missing realm\", \"failed to find supported auth scheme\") or retries anonymously and fails again.",
				maskingDescribe(x), maskingClip(raw, 200), strings.Join(ps, "; ")),
		}}
	}
	return nil
}

// challengeMentions reports whether a problem already quotes raw.
func challengeMentions(ps []string, raw string) bool {
	for _, p := range ps {
		if strings.Contains(p, fmt.Sprintf("%q", raw)) {
			return true
		}
	}
	return false
}
