package explain

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/regtrace/regtrace/decode"
)

// Verdict rules: catalog §3 step 7, what the registry finally said (groups
// 70–79).
const (
	RuleDeniedAuthenticated Rule = "denied-authenticated-but-forbidden"
	RuleNotFoundIsReal      Rule = "not-found-is-real"
	RuleRateLimited         Rule = "rate-limited-toomanyrequests"
)

func verdictRules() []rule {
	return []rule{
		{id: RuleDeniedAuthenticated, group: 70, explains: true, op: verdictDenied},
		{id: RuleNotFoundIsReal, group: 71, explains: true, op: verdictNotFound},
		{id: RuleRateLimited, group: 72, explains: true, op: verdictRateLimited},
	}
}

// verdictAuthenticated reports whether x was made as a known identity:
// Basic credentials with a user, or a Bearer token that names a subject or
// was obtained with credentials.
func verdictAuthenticated(in *Input, op *Operation, x *decode.Exchange) (string, bool) {
	switch {
	case strings.EqualFold(x.Auth.Scheme, "basic") && x.Auth.User != "" && !x.Auth.Empty && !x.Auth.Malformed:
		return fmt.Sprintf("Basic credentials of %q", x.Auth.User), true
	case tokBearer(x):
		tx := tokIssuer(in, x)
		if c := tokClaims(x); c != nil && c.Subject != "" {
			return fmt.Sprintf("%s for %q", tokIssuedBy(tx), c.Subject), true
		}
		if tokCredsSent(tx) {
			if u := tokUser(tx); u != "" {
				return fmt.Sprintf("%s for %q", tokIssuedBy(tx), u), true
			}
			return tokIssuedBy(tx) + ", obtained with credentials", true
		}
	}
	return "", false
}

func verdictMessage(x *decode.Exchange) string {
	for _, e := range x.Errors.Errors {
		if e.Message != "" {
			return e.Message
		}
	}
	return x.Errors.Text
}

// verdictMessageOr quotes the registry's message, or def.
func verdictMessageOr(x *decode.Exchange, def string) string {
	if m := verdictMessage(x); m != "" {
		return fmt.Sprintf("The registry said %q", m)
	}
	return "The registry said " + def
}

// verdictDenied: 403 after authenticated access.
func verdictDenied(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, x := range tokFailures(op) {
		if status(x) != http.StatusForbidden || seen[x.Repo] {
			continue
		}
		who, ok := verdictAuthenticated(in, op, x)
		if !ok || credSaysExpired(x) {
			continue // expired credentials are not a permission problem
		}
		seen[x.Repo] = true
		why := fmt.Sprintf("%s (%s", x.Flow.ID, x.Kind)
		if x.Repo != "" {
			why += fmt.Sprintf(" of %q", x.Repo)
		}
		why += fmt.Sprintf(") was made with %s and the registry answered 403", who)
		if hasCode(x, "DENIED") {
			why += " DENIED"
		}
		if m := verdictMessage(x); m != "" {
			why += fmt.Sprintf(": %q", m)
		}
		why += ". The registry knows who is asking and refuses this action to that identity."
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictDenied,
			Evidence: ids(tokIssuer(in, x), x),
			Why:      why,
		}, x))
	}
	return out
}

var verdictNotFoundCodes = []string{"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"}

// verdictNotFound: a 404 with a structured code to a request the registry
// had authorised, or to a registry that asks for no auth at all. An
// unauthorised answer never becomes not-found.
func verdictNotFound(in *Input, op *Operation) []Finding {
	var out []Finding
	seen := map[string]bool{}
	fails := tokFailures(op)
	// coded: repository NUL reference of the failures whose body held a
	// registry error (one pass: asked per 404).
	var coded map[string]bool
	for _, x := range fails {
		if status(x) != http.StatusNotFound {
			continue
		}
		code := ""
		for _, c := range verdictNotFoundCodes {
			if hasCode(x, c) {
				code = c
				break
			}
		}
		// A HEAD has no body, so no code: its 404 counts when the request
		// was authorised beyond doubt (below, and never an opaque token).
		head := code == "" && (x.Kind == decode.KindManifestHead || x.Kind == decode.KindBlobHead) && x.Errors.Format == "empty"
		if head && coded == nil {
			coded = map[string]bool{}
			for _, y := range fails {
				if len(y.Errors.Errors) > 0 {
					coded[y.Repo+"\x00"+y.Ref] = true
				}
			}
		}
		if head && coded[x.Repo+"\x00"+x.Ref] {
			continue // a GET of the same reference says more
		}
		if code == "" && !head || len(x.Challenges) > 0 || seen[x.Repo+"\x00"+x.Ref] {
			continue
		}
		var how string
		var ev []*decode.Exchange
		cannot := "Nothing about authorisation: the registry authorised the request and then said the object is missing."
		switch {
		case tokBearer(x):
			if len(x.Missing) > 0 {
				continue
			}
			tx := tokIssuer(in, x)
			ev = append(ev, tx)
			if c := tokClaims(x); c != nil && c.HasAccess {
				how = fmt.Sprintf("carried %s, whose access covers it", tokIssuedBy(tx))
			} else if head {
				continue
			} else {
				how = fmt.Sprintf("carried %s, which the registry accepted", tokIssuedBy(tx))
				cannot = "What the token grants (it is opaque): a registry that checks the token before the repository has accepted it, but one that answers 404 for anything unauthorised would look the same."
			}
		case head && x.Auth.Scheme == "" && in.authHidden() && x.Flow.Response.Inferred && !verdictAnyChallenge(op):
			// A log or event that says only "not found" for a HEAD
			// (containerd): a 404 is what a registry gives a missing
			// reference; hiding a private one behind 404 is the exception.
			how = "reached the registry (" + in.hiddenNote() + "; the client's error says only \"not found\")"
			cannot = "Which credentials the request carried, and whether this registry answers 404 to hide a repository from a request it will not serve " +
				"(most answer 401 for that): a pull with credentials, recorded, would tell."
		case x.Auth.Scheme == "" && in.authHidden() && (code == "MANIFEST_UNKNOWN" || code == "BLOB_UNKNOWN"):
			// Distribution checks access before it looks for a manifest or
			// blob: these codes come only to a request it authorised.
			how = fmt.Sprintf("was answered %s, which a registry gives only to a request it let read the repository (%s)", code, in.hiddenNote())
			cannot = "Which credentials or token the request carried: " + in.hiddenNote() + "."
		case x.Auth.Scheme == "" && !in.authHidden():
			if verdictAnyChallenge(op) {
				continue
			}
			if ping := verdictOpenPing(op); ping != nil {
				ev = append(ev, ping)
				how = fmt.Sprintf("needed no authentication (the ping %s answered 200 without a challenge, and nothing in the operation asked for credentials)", ping.Flow.ID)
				break
			}
			// containerd and others skip the ping: the registry answered
			// an anonymous request with its own code and no challenge.
			how = "was anonymous, and the registry answered it without asking for credentials (no challenge anywhere in the operation)"
			cannot = "Whether the repository is only hidden from anonymous clients: a registry that answers 404 instead of 401 to requests it will not serve " +
				"(auth-required-but-not-challenged) looks the same. If it should be private, retry with credentials sent up front."
		case strings.EqualFold(x.Auth.Scheme, "basic") && !x.Auth.Empty && (x.Auth.User != "" || x.Auth.Redacted):
			// A registry refuses wrong Basic credentials with 401 before
			// it looks for anything: a 404 means it took them.
			how = fmt.Sprintf("carried Basic credentials %s, which the registry accepted", verdictBasicWho(in, x.Auth))
		default:
			continue
		}
		seen[x.Repo+"\x00"+x.Ref] = true
		what := "the manifest"
		if head {
			code = "(a HEAD answer has no body, so no error code)"
			what = "the manifest or the repository"
			if x.Kind == decode.KindBlobHead {
				what = "the blob"
			}
			cannot += " Which of the two is missing: a GET of the same reference returns the error code (MANIFEST_UNKNOWN or NAME_UNKNOWN)."
		}
		switch code {
		case "NAME_UNKNOWN":
			what = "the repository"
		case "BLOB_UNKNOWN":
			what = "the blob"
		}
		ref := ""
		if x.Ref != "" {
			ref = " " + x.Ref
		}
		ev = append(ev, x)
		out = append(out, tokWithRepo(Finding{
			Verdict:  VerdictNotFound,
			Evidence: ids(ev...),
			Why: fmt.Sprintf("%s (%s of %q%s) %s, and the registry answered 404 %s: %s really does not exist there.",
				x.Flow.ID, x.Kind, x.Repo, ref, how, code, what),
			CannotProve: cannot,
		}, x))
	}
	return out
}

// verdictBasicWho names whose Basic credentials a request carried: a log's
// reader puts back credentials whose user it cannot show.
func verdictBasicWho(in *Input, a decode.Credentials) string {
	switch {
	case a.User != "":
		return fmt.Sprintf("of %q", a.User)
	case in.Source != nil:
		return "(the " + in.Source.Name + " does not show whose)"
	}
	return "(of a user the trace's exporter redacted)"
}

// verdictOpenPing returns a /v2/ ping of op answered 200 without a challenge.
func verdictOpenPing(op *Operation) *decode.Exchange {
	for _, x := range op.Exchanges {
		if x.Kind == decode.KindPing && status(x) == http.StatusOK && len(x.Challenges) == 0 {
			return x
		}
	}
	return nil
}

func verdictAnyChallenge(op *Operation) bool {
	for _, x := range op.Exchanges {
		if len(x.Challenges) > 0 || status(x) == http.StatusUnauthorized {
			return true
		}
	}
	return false
}

// verdictRateLimited: 429 or TOOMANYREQUESTS.
func verdictRateLimited(in *Input, op *Operation) []Finding {
	if !op.Failed() {
		return nil
	}
	for i := len(op.Exchanges) - 1; i >= 0; i-- {
		x := op.Exchanges[i]
		if x.Flow.Err != nil || x.Flow.Response == nil || x.Flow.Response.Synthetic {
			continue
		}
		if status(x) != http.StatusTooManyRequests && !hasCode(x, "TOOMANYREQUESTS") {
			continue
		}
		if tokSuperseded(op, i) {
			continue
		}
		return []Finding{verdictRateFinding(in, op, x)}
	}
	return nil
}

func verdictRateFinding(in *Input, op *Operation, x *decode.Exchange) Finding {
	why := fmt.Sprintf("%s (%s) was answered %d", x.Flow.ID, x.Kind, status(x))
	if hasCode(x, "TOOMANYREQUESTS") {
		why += " TOOMANYREQUESTS"
	}
	msg := verdictMessage(x)
	if msg != "" {
		why += fmt.Sprintf(": %q", msg)
	}
	why += "."
	ev := []*decode.Exchange{x}
	rl := x.RateLimit
	if rl == nil || rl.LimitN < 0 && rl.RemainingN < 0 && rl.Source == "" {
		// An earlier response may have said what the budget was.
		for _, y := range op.Exchanges {
			if y.Flow.ID >= x.Flow.ID {
				break
			}
			if y.RateLimit != nil && (y.RateLimit.LimitN >= 0 || y.RateLimit.RemainingN >= 0) {
				if rl != nil && rl.RetryAfter > 0 {
					r := *y.RateLimit
					r.RetryAfter = rl.RetryAfter
					rl = &r
				} else {
					rl = y.RateLimit
				}
				ev = append(ev, y)
			}
		}
	}
	if rl != nil {
		if rl.LimitN >= 0 {
			why += fmt.Sprintf(" The limit is %d requests", rl.LimitN)
			if rl.WindowSeconds > 0 {
				why += " per " + (time.Duration(rl.WindowSeconds) * time.Second).String()
			}
			if rl.RemainingN >= 0 {
				why += fmt.Sprintf(", %d remaining", rl.RemainingN)
			}
			why += "."
		} else if rl.RemainingN >= 0 {
			why += fmt.Sprintf(" %d requests remaining.", rl.RemainingN)
		}
		if rl.Source != "" {
			why += fmt.Sprintf(" The budget is counted against %s (every client behind that address shares it).", rl.Source)
		}
		if rl.RetryAfter > 0 {
			why += fmt.Sprintf(" The registry asks to retry after %s.", rl.RetryAfter)
		}
	}
	anon := !in.authHidden() // a sanitized HAR hides whether they were
	if _, ok := verdictAuthenticated(in, op, x); ok {
		anon = false
	}
	if tx := tokIssuer(in, x); tx != nil {
		ev = append(ev, tx)
	}
	if strings.Contains(strings.ToLower(msg), "unauthenticated") {
		anon = true
	}
	switch {
	case anon && op.Registry == "docker.io":
		why += " The requests were anonymous: Docker Hub limits anonymous pulls per IP address, with a lower budget than for logged-in users."
	case anon:
		why += fmt.Sprintf(" The requests were anonymous: registries (%s among them, it seems) give anonymous clients the smallest budget, usually counted per IP address.", op.Registry)
	}
	fix := "Wait for the window to reset"
	if rl != nil && rl.RetryAfter > 0 {
		fix += fmt.Sprintf(" (Retry-After: %s)", rl.RetryAfter)
	}
	fix += "; authenticate (logged-in and paid accounts get larger limits); pull through a mirror or cache"
	if op.Registry == "docker.io" {
		fix += "; use HEAD requests to check for updates (Hub does not count them)"
	}
	fix += "."
	return tokWithRepo(Finding{
		Verdict:  VerdictRateLimited,
		Evidence: ids(ev...),
		Why:      why,
		Fix:      fix,
	}, x)
}
