package explain

import (
	"fmt"
	"net/http"
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
		{id: RuleEndpointFallbackMasks, group: 21, explains: true, global: maskingEndpointFallback},
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
		if x.Kind == decode.KindBlobRedirect || x.Kind == decode.KindOther {
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
// same repository; an earlier registry refused it (401/403 as its last
// answer for that repository) and the last one failed otherwise (404, 5xx,
// transport) — the answer the client reported hides the auth failure.
func maskingEndpointFallback(in *Input, ops []*Operation) []Finding {
	type key struct{ ua, repo string }
	final := map[key]*decode.Exchange{}                 // last exchange of the client for the repository
	lastPerReg := map[key]map[string]*decode.Exchange{} // … per registry
	var order []key
	for _, x := range in.Exchanges {
		if !(x.Kind.IsRegistry() || x.Kind.IsV1()) || x.Repo == "" {
			continue
		}
		k := key{x.Client.UserAgent, maskingRepoKey(x)}
		if _, ok := final[k]; !ok {
			order = append(order, k)
			lastPerReg[k] = map[string]*decode.Exchange{}
		}
		final[k] = x
		lastPerReg[k][x.Registry] = x
	}
	var out []Finding
	for _, k := range order {
		f := final[k]
		if !bad(f) || maskingAuthFailure(f) {
			continue
		}
		var hidden []*decode.Exchange
		for reg, x := range lastPerReg[k] {
			if reg != f.Registry && x.Flow.ID < f.Flow.ID && maskingAuthFailure(x) {
				hidden = append(hidden, x)
			}
		}
		if len(hidden) == 0 {
			continue
		}
		// in flow order
		for i := 1; i < len(hidden); i++ {
			for j := i; j > 0 && hidden[j].Flow.ID < hidden[j-1].Flow.ID; j-- {
				hidden[j], hidden[j-1] = hidden[j-1], hidden[j]
			}
		}
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
		ev := ids(append(hidden, f)...)
		out = append(out, Finding{
			Verdict:  verdict,
			Client:   clientName(f.Client),
			Registry: h.Registry,
			Repo:     decode.NormalizeRepo(h.Host, h.Repo),
			Evidence: ev,
			Why: fmt.Sprintf("The client asked several registries for %s and reported the last answer, %s. Earlier, %s refused it: %s (%s). "+
				"The final error is only the last endpoint's; the auth failure on %s is the one to fix if that is where the image should come from.",
				k.repo, maskingDescribe(f), h.Host, strings.Join(descs, "; "), credNote, strings.Join(hosts, ", ")),
			Fix: fmt.Sprintf("Decide which registry should serve the image. If it is %s, configure credentials for that host itself (credentials for the upstream name are not sent to a mirror) "+
				"and pull again; otherwise remove or repair the mirror / search-registry entry and use a fully qualified reference (%s/%s).",
				h.Host, f.Registry, decode.NormalizeRepo(f.Host, f.Repo)),
		})
	}
	return out
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
		for _, y := range op.Exchanges[:i] {
			if y.Flow.ID == x.RedirectFrom {
				src = y
			}
		}
		if src == nil || strings.EqualFold(src.Host, x.Host) {
			continue
		}
		recovered := false
		for _, y := range op.Exchanges[i+1:] {
			if y.Kind.IsBlob() && y.Ref == x.Ref && maskingOK(y) && status(y) < 300 {
				recovered = true
			}
		}
		if recovered {
			continue
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
		for _, y := range op.Exchanges[i+1:] {
			if (y.Kind.IsRegistry() || y.Kind.IsV1()) && maskingOK(y) && status(y) < 300 {
				return nil
			}
		}
		return []Finding{{
			Verdict:  VerdictTransport,
			Repo:     decode.NormalizeRepo(x.Host, x.Repo),
			Evidence: ids(x),
			Why: fmt.Sprintf("%s did not come from the registry: %s. Every auth conclusion about this host is moot until that is fixed.",
				maskingDescribe(x), what),
		}}
	}
	return nil
}
