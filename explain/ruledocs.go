// Rule texts for people. Each entry says what one rule means: its title,
// what the trace shows when it fires, what clients print, the general fix
// and what such a trace cannot prove. Catalog numbers are the entries of
// the auth-failure catalog the rules were built from (0: regtrace's own).
//
// explain/RULES.md and `regtrace explain --rules` are generated from this
// table: after changing it, run `go test ./explain -run TestRulesReference -update`.
// A finding whose rule leaves Fix or CannotProve empty gets the text here.

package explain

// RuleDoc is what a rule means, for people: the rules reference
// (explain/RULES.md and `regtrace explain --rules`) is generated from it.
type RuleDoc struct {
	ID Rule
	// Title is one line: what went wrong, as a support engineer would say it.
	Title string
	// Catalog is the entry number in the auth-failure catalog, 0 for none.
	Catalog int
	// Verdicts the rule can give.
	Verdicts []Verdict
	// Signature is what the trace shows when the rule fires (the wire
	// signature, in words with the statuses and headers that matter).
	Signature string
	// ClientsSay quotes what clients print for it (from the catalog), "" when unknown.
	ClientsSay string
	// Fix is the general fix; a finding may say more.
	Fix string
	// CannotProve is what such a trace cannot tell, and what would.
	CannotProve string
	// Explains is set from the rule table: the rule can answer "why did it
	// fail" (and be primary); otherwise it is a note beside the answer.
	Explains bool
}

// Rules returns every rule's documentation, in the order rules run.
func Rules() []RuleDoc {
	explains := map[Rule]bool{}
	for _, r := range allRules() {
		explains[r.id] = r.explains
	}
	docs := ruleDocs()
	for i := range docs {
		docs[i].Explains = explains[docs[i].ID]
	}
	return docs
}

// ruleDocs is the one place rule texts live. Order: the rule order.
func ruleDocs() []RuleDoc {
	return []RuleDoc{
		// ---- group 0: the client never got past the proxy's TLS ----
		{
			ID:       RuleClientDistrustsCA,
			Title:    "The client does not trust the regtrace CA, so none of its requests reached the registry",
			Catalog:  0,
			Verdicts: []Verdict{VerdictClientConfig},
			Signature: "One or more TLS handshakes between a client and the proxy failed: the client refused regtrace's certificate. " +
				"Those requests have no exchange in the trace at all; only the handshake failure (target host, reason) is recorded. Fires on any such failure, whatever else the trace holds.",
			ClientsSay: `x509: certificate signed by unknown authority`,
			Fix: "Make the client trust the regtrace CA: `regtrace ca trust --client <name>` prints the steps " +
				"(SSL_CERT_FILE=$(regtrace ca bundle) for Go clients on Linux; certs.d for the docker daemon and containers tools; --ca-file for oras).",
			CannotProve: "What the registry would have answered: run the client again once it trusts the CA.",
		},
		// ---- group 10–13: transport (catalog §3 step 1) ----
		{
			ID:       RuleEndpointFallbackMasks,
			Title:    "The client tried several registries and reported one answer, hiding another registry's auth failure or not-found",
			Catalog:  4,
			Verdicts: []Verdict{VerdictUnauthorized, VerdictDenied, VerdictNotFound, VerdictUnauthorizedAmbiguous},
			Signature: "Across the trace, one client (User-Agent) asked several registries for the same repository (Docker Hub's implicit library/ ignored when comparing names). " +
				"The answer it reported is picked by that client's own ranking, read in its source: docker, the last endpoint's; containerd, per request over its hosts in hosts.toml order (server last), " +
				"1.x the first error that is not a 404 (all 404: not found), 2.x the first of the most relevant kind — an error status other than 404, then a 404, then an error raised before any status " +
				"(transport, or its authorizer's own: no Basic credentials, a token it could not fetch, a Bearer error= on the retried request) — and, fetching by digest, the first host's; " +
				"other clients, the last answer. It fires when that answer failed otherwise (404, 5xx, a transport error) while another registry's answer was a genuine 401 or 403; " +
				"or, for containerd, when it is a host's 401 or 403 while the last host, the server, answered 404.",
			ClientsSay: `docker log: "Attempting next endpoint for pull after error: Head "http://my.mirror:5001/v2/library/postgres/manifests/14.2": no basic auth credentials"; ` +
				`ctr: "failed to resolve reference "…": unexpected status from HEAD request to https://mirror…/v2/…/manifests/…?ns=…: 401 Unauthorized"; ` +
				`containerd: "pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"; ` +
				`podman: "3 errors occurred: * … docker.io …: denied * … quay.io …: unauthorized * … manifest unknown"`,
			Fix: "Decide which registry should serve the image. If it is the one that refused, configure credentials for that host itself (credentials for the upstream name are not sent to a mirror) " +
				"and pull again; otherwise remove or repair the mirror / search-registry entry (containerd: the [host] entry in hosts.toml) and use a fully qualified reference. " +
				"When the reported refusal hides the upstream's 404, check the reference there first: fixing the mirror alone ends in not found.",
			CannotProve: "Which registry the user meant. What the client printed is inferred from its ranking, not seen: docker with the containerd image store resolves through containerd and ranks as containerd does, " +
				"BuildKit and nerdctl rank as the containerd they embed (their User-Agent does not say which), podman prints all of them, " +
				"and a trace without Authorization headers cannot tell containerd's own authorization errors from a 401 status. " +
				"The client's mirror configuration (daemon.json registry-mirrors, hosts.toml, registries.conf) is not on the wire.",
		},
		{
			ID:       RuleNoRegistryTraffic,
			Title:    "No registry traffic went through the proxy",
			Catalog:  0,
			Verdicts: []Verdict{VerdictNoTraffic},
			Signature: "The trace has no /v2/, /v1/ or token-endpoint request at all (every exchange, if there is any, is something else) and no failed TLS handshake: " +
				"the client went around the proxy, or never ran.",
			ClientsSay: "",
			Fix: "Clients skip the proxy for localhost and loopback addresses and for NO_PROXY hosts: address the registry by a name " +
				"(and map it with --resolve if it is local), and clear NO_PROXY. docker pulls are made by the daemon, not the CLI: " +
				"the daemon needs the proxy in its own environment (systemd drop-in or daemon.json \"proxies\") and the CA in /etc/docker/certs.d.",
			CannotProve: "Whether the client ran at all, or which route it took instead.",
		},
		{
			ID:       RuleRealmUnreachable,
			Title:    "The token server (realm) the registry named could not be reached, trusted or used",
			Catalog:  15,
			Verdicts: []Verdict{VerdictTransport},
			Signature: "In a failed operation, a token request to the realm failed before any answer (DNS, connection refused, timeout, TLS or certificate error), " +
				"or the proxy could not open the CONNECT tunnel to the realm, and no later token request got a token. " +
				"Or a 401 Bearer challenge names a realm that is plain http:// for an https registry, or a literal loopback, private or link-local address on another host, and no request to that realm follows. " +
				"Not reported when the client went on to another registry.",
			ClientsSay: `docker: "Get http://localhost:8080/api/auth?account=…: dial tcp 127.0.0.1:8080: getsockopt: connection refused"; ` +
				`containerd: "failed to authorize: failed to fetch anonymous token: Get "https://auth.docker.io/token?…": dial tcp …: i/o timeout"; ` +
				`crane: "invalid realm in www-authenticate: realm host "…" is a private or link-local address"`,
			Fix: "Make the realm reachable and trusted from where the client runs: set the registry's auth.token.realm to a URL clients can reach by name " +
				"(not an internal service address or localhost; or use distribution's autoredirect), add the realm host to HTTPS_PROXY/NO_PROXY, firewall allow-lists " +
				"and the trusted CAs like the registry host. A proxy or mirror that relays another registry's realm must rewrite it.",
			CannotProve: "Whether the client itself, without regtrace in the path, reaches the realm: the failure was seen by the proxy on its way there.",
		},
		{
			ID:       RuleProxyOrMITM,
			Title:    "The answer came from a proxy, TLS inspection or gateway between the client and the registry",
			Catalog:  31,
			Verdicts: []Verdict{VerdictTransport},
			Signature: "A registry request whose upstream TLS check failed (unknown authority or a bad certificate; the issuer is named), " +
				"any 407 Proxy Authentication Required, or a 4xx/5xx HTML page on a registry endpoint that carries no usable Basic or Bearer challenge; " +
				"and no registry request of the operation succeeded after it.",
			ClientsSay: `docker: "x509: certificate signed by unknown authority"; crane: "connection reset by peer"; "Login Succeeded" with a wrong password behind a MITM proxy`,
			Fix: "If a corporate proxy or TLS inspection sits between you and the registry, tell regtrace: --upstream-proxy <url> (with its credentials for a 407) " +
				"and --upstream-ca <inspection-ca.pem>; or have the registry, token and CDN hosts bypassed (NO_PROXY / the proxy's bypass list). " +
				"The client needs the same without regtrace: the CA where the daemon reads it (/etc/docker/certs.d/<host>/ca.crt) and HTTPS_PROXY/NO_PROXY in the daemon's environment.",
			CannotProve: "Which box answered: the Server/Via headers and the certificate issuer hint at it; the network team or `openssl s_client -connect <host>:443 -showcerts` from the same network would tell.",
		},
		{
			ID:       RuleBlobRedirectAuthConflict,
			Title:    "A blob redirect to object storage or a CDN failed on the storage host, not at the registry",
			Catalog:  30,
			Verdicts: []Verdict{VerdictDenied, VerdictClientConfig},
			Signature: "The registry redirected a blob request to another host, and that host answered 400, 401 or 403, with no later success for the same blob. " +
				"The cause named is what the trace shows: Authorization forwarded to the other host (S3's \"Only one auth mechanism allowed\"), a HEAD on a URL presigned for GET, " +
				"an expired presigned URL, SignatureDoesNotMatch, AccessDenied from a bucket or VPC policy, or the target's own challenge. " +
				"client-configuration when Authorization was forwarded or the request was a HEAD, denied otherwise.",
			ClientsSay: `docker: "error pulling image configuration: error parsing HTTP 403 response body: invalid character '<' looking for beginning of value: "<?xml …<Code>AccessDenied</Code>…""; ` +
				`S3: "Only one auth mechanism allowed"`,
			Fix: "Do not send Authorization to the redirect host (Go's net/http strips it across hosts; check the client or its HTTP library); " +
				"fetch blobs with GET rather than HEAD when the registry redirects; allow the storage host through the proxy/VPC policy and, when intercepting TLS, trust or bypass it too; " +
				"retry promptly if the presigned URL expired (check the clocks).",
			CannotProve: "The storage's own policy (bucket policy, VPC endpoint rule) and the presigned URL's exact validity window; " +
				"the storage's access logs, or repeating the request with curl without Authorization, would tell.",
		},
		{
			ID:       RuleProxyAuthRefused,
			Title:    "regtrace's shared proxy refused the client (407): it sent no proxy credentials, or wrong ones",
			Catalog:  0,
			Verdicts: []Verdict{VerdictTransport},
			Signature: "The operation failed and stopped at a request or CONNECT that regtrace itself answered 407 Proxy Authentication Required (regtrace proxy --proxy-auth): " +
				"no Proxy-Authorization, or one the htpasswd file does not accept. Nothing reached the registry.",
			ClientsSay: `skopeo: "invalid status code from registry 407 (Proxy Authentication Required)"; Go clients: "proxyconnect tcp: … Proxy Authentication Required"; ` +
				`curl: "CONNECT tunnel failed, response 407"`,
			Fix: "Put a user and password from the proxy's --proxy-auth file in the client's proxy URL, before the host as in any URL (HTTPS_PROXY; " +
				"for dockerd and containerd, in the daemon's environment, e.g. a systemd drop-in), then run it again.",
			CannotProve: "",
		},
		{
			ID:       RuleRegistryUnreachable,
			Title:    "The registry host could not be reached at all",
			Catalog:  0,
			Verdicts: []Verdict{VerdictTransport},
			Signature: "The operation failed, and stopped at a CONNECT tunnel to the registry that the proxy could not open, or at a ping or registry request that failed before any answer, " +
				"with a network error (DNS, connection refused, timeout, or the proxy's refusal of the CONNECT; its 407 is proxy-auth-refused). " +
				"TLS and certificate errors (proxy-or-mitm-interference), the client hanging up and regtrace's own upstream-proxy errors are left out, " +
				"as are runs a later run recovered and runs after which the client went on to another registry.",
			ClientsSay: "",
			Fix: "Check the registry's name, port and scheme in the image reference; from the same machine, `curl -v https://<registry>/v2/` shows whether it answers. " +
				"A name that does not resolve is DNS, /etc/hosts or a typo; a refused connection is a registry that is down or on another port (5000 for a plain distribution); " +
				"a timeout is a firewall, a missing route, or a corporate proxy the client needs (HTTPS_PROXY).",
			CannotProve: "Whether the client reaches the registry without regtrace in the path: the failure was seen by the proxy on its way there (regtrace proxy --resolve maps a test name).",
		},
		// ---- group 20–22: answers that hide the real one (step 2) ----
		{
			ID:       RuleV1FallbackMasked,
			Title:    "A V2 authorization failure reported as \"image not found\" after the legacy V1 fallback",
			Catalog:  1,
			Verdicts: []Verdict{VerdictUnauthorized, VerdictDenied},
			Signature: "The operation ends on a failed /v1/ request, and the last V2 repository request before the first /v1/ one got a genuine 401 (unauthorized) or 403 (denied). " +
				"A V2 404 before the fallback is a real not-found and is left to not-found-is-real.",
			ClientsSay: `docker: "Pulling repository <host>/<name>" then "Error: image <name>:<tag> not found"; daemon log: "Attempting next endpoint for pull after error: …"`,
			Fix: "Treat it as an authorization failure, not a missing image: log in to the registry with credentials that may pull the repository (`docker login <registry>`) and pull again. " +
				"Upgrade Docker to 17.06 or later (or set --disable-legacy-registry) so the V2 error is the one reported.",
			CannotProve: "Whether the image exists: a 401/403 hides existence until the request is authorized. " +
				"Whether credentials were stored for the registry: the daemon's credential store is not on the wire; `docker login` then a pull would show an authenticated V2 answer.",
		},
		{
			ID:       RuleLocalOnlyImageRemote,
			Title:    "An image that exists only locally was looked up on Docker Hub",
			Catalog:  6,
			Verdicts: []Verdict{VerdictNotFound},
			Signature: "A docker or containerd-family client (docker, BuildKit, nerdctl, ctr) working on docker.io ends with a manifest GET or HEAD of library/<name>, " +
				"a one-component name without dots that is not a well-known official image, answered 401 with error=\"insufficient_scope\" or UNAUTHORIZED, or 404 NAME_UNKNOWN, " +
				"to a token that does not verifiably grant it.",
			ClientsSay: `BuildKit: "load metadata for docker.io/library/<name>:… pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"; ` +
				`skopeo: "reading manifest test in docker.io/library/tagless: requested access to the resource is denied"`,
			Fix: "If the image exists only locally: make the tool use the local store (BuildKit: the docker driver or `docker buildx build --load`; " +
				"skopeo: docker-daemon:<name>:<tag>; Kubernetes: imagePullPolicy: IfNotPresent with the image preloaded), or push it to a registry and refer to it by its full name. " +
				"If it should come from Docker Hub, check the spelling and the namespace (docker.io/<namespace>/<name>).",
			CannotProve: "Whether the image exists in the local image store: regtrace sees only network traffic, not the client's local images (`docker image ls <name>` would tell). " +
				"Nor can it tell a private Hub repository from a missing one: both answer the same.",
		},
		// ---- group 30–32: challenges (step 3) ----
		{
			ID:       RulePerRepoChallengeIgnored,
			Title:    "The /v2/ ping said no auth was needed, and the client ignored a repository's challenge",
			Catalog:  7,
			Verdicts: []Verdict{VerdictCredentialsNotSent},
			Signature: "In a failed operation, GET /v2/ answered 200 (and no ping answered 401); then a repository request sent without credentials, " +
				"or with Basic credentials to a Bearer-only challenge (as crane does), got a genuine 401 with a usable challenge, and nothing answered it: " +
				"no token request and no retry of that repository with credentials (or, after Basic, with a Bearer token) followed. " +
				"From a log, which shows no challenge: the repository request was refused 401 without credentials while the log shows the client had credentials for the registry.",
			ClientsSay: `skopeo/podman: "reading manifest latest in <host>/foo: unauthorized: …"; docker 1.6: "no successful auth challenge for https://<host>/v2/ - errors: []"`,
			Fix: "Use a client that honours per-request challenges — crane, oras or regctl (or docker with the containerd image store) — " +
				"or configure the registry to answer /v2/ with 401 and the challenge whenever any repository may need auth.",
			CannotProve: "Whether credentials were configured for the registry: the client never sent any, and its credential store is not on the wire; " +
				"`skopeo login`/`docker login` followed by the same command, or the same pull with oras or regctl, would tell.",
		},
		{
			ID:       RuleAuthRequiredNotChallenge,
			Title:    "Authentication was needed, but the registry never asked for it with a 401 challenge",
			Catalog:  8,
			Verdicts: []Verdict{VerdictUnauthorized, VerdictOK},
			Signature: "One of three: a registry 401 without any WWW-Authenticate header, with no later success for the same path; " +
				"an anonymous request answered 400, 403 or 404 without a challenge while a later request to the same path with credentials succeeded (ok when the operation still reached its goal); " +
				"or an anonymous 403 without a challenge (not an HTML page) where the operation stopped, with nothing in the operation ever challenging.",
			ClientsSay: `containerd/ctr: "<ref>: not found", "failed to resolve reference …: not found", "unexpected status from HEAD request to …: 403 Forbidden"; oras: "response status code 404: name unknown"`,
			Fix: "Registry side: answer requests that need auth with 401 and a challenge, not 400/403/404. Client side: send credentials proactively " +
				"(log in and use a client that pings /v2/ first, or configure the credentials/token for this host explicitly).",
			CannotProve: "Whether the registry hides the repository on purpose (some answer 404 to anonymous requests by design) or is misconfigured; its documentation would say.",
		},
		{
			ID:       RuleMalformedChallenge,
			Title:    "The registry's challenge is one container clients cannot use",
			Catalog:  9,
			Verdicts: []Verdict{VerdictUnauthorized},
			Signature: "In a failed operation, a registry 401 carries WWW-Authenticate, but it cannot be parsed, its Bearer challenge has no realm or a realm that is not an absolute http(s) URL, " +
				"or it offers only schemes other than Basic and Bearer (Negotiate, NTLM from an SSO gateway).",
			ClientsSay: `skopeo: "None of the challenges sent by server (negotiate) are supported, trying an unauthenticated request anyway"; ` +
				`containerd: "failed to find supported auth scheme: not implemented"; crane: "malformed www-authenticate, missing realm"; containers/image: "missing realm in bearer auth challenge"`,
			Fix: "If an SSO or OAuth2 gateway sits in front of the registry, bypass it for /v2/ and the token endpoint, or make it pass the registry's own challenges through; " +
				"otherwise fix the registry's auth configuration so it sends `Bearer realm=\"https://…\",service=\"…\"` (or Basic). Registry tokens or robot accounts avoid interactive schemes.",
			CannotProve: "Which component wrote the header (registry or a gateway in front of it): the Server/Via headers may hint at it; the registry's own logs would tell.",
		},
		// ---- group 40–47: the token endpoint and credentials (step 4) ----
		{
			ID:       RuleOAuth2PostUnsupported,
			Title:    "The token server does not implement the OAuth2 POST the client used",
			Catalog:  16,
			Verdicts: []Verdict{VerdictTokenProblem, VerdictOK},
			Signature: "In a failed operation, an OAuth2 POST to the realm (not a refresh-token grant) was answered 400, 403, 404, 405, 500 or 501 without an invalid_grant/invalid_client error, " +
				"and no GET to the same realm followed and no token was obtained later. When a GET fallback did get a token after a 400, 401, 404 or 405, " +
				"the rule says so with verdict ok: the refused POST is not what went wrong.",
			ClientsSay: `containerd/CRI: "failed to authorize: failed to fetch oauth token: unexpected status: 403 Forbidden"`,
			Fix:        "Use a client that asks with GET (docker classic, skopeo/podman, crane, oras, regctl) or upgrade containerd; registry side: implement the OAuth2 POST token endpoint or answer 404/405 so containerd falls back to GET.",
			CannotProve: "That the credentials are good: a GET with them was never tried. " +
				"A 403 can also be a refusal of the credentials — retry with `crane auth token` or curl -u to the realm with GET to tell.",
		},
		{
			ID:       RuleTokenResponseUnusable,
			Title:    "The token server answered 200 but gave no usable token",
			Catalog:  17,
			Verdicts: []Verdict{VerdictTokenProblem},
			Signature: "In a failed operation, a token request was answered 200 with nothing the client could use: an HTML page (a login/SSO page or a proxy's splash page), " +
				"a body without a token, or, to a containerd-family client's POST, only \"token\" and no \"access_token\"; and no later token request got a token. " +
				"A body the trace holds nothing of (a log that did not print it, a HAR saved without content) is not read as one without a token.",
			ClientsSay: `containerd: "unable to decode token response: invalid character '<' looking for beginning of value", "authorization server did not include a token in the response"; ` +
				`crane: "no token in bearer response"; oras: "empty token returned"`,
			Fix: "Point the registry's realm at the token service itself (not an SSO or login page, not a proxy that intercepts it); " +
				`return JSON with both "token" and "access_token", equal (containers/image reads "token", everyone else "access_token").`,
			CannotProve: "Whether the same realm answers other clients (another User-Agent, or a GET instead of a POST) with a token.",
		},
		{
			ID:         RuleRefreshTokenGrantRejected,
			Title:      "The stored identity (refresh) token was refused",
			Catalog:    18,
			Verdicts:   []Verdict{VerdictCredentialsRejected},
			Signature:  "In a failed operation, a POST to the realm with grant_type=refresh_token was answered 400 or 401, and no token was obtained later.",
			ClientsSay: `docker: "unauthorized: unable to get identity token from client token: invalid_grant: no such account for refresh token: id:"`,
			Fix: "Log in again to get a fresh identity token (`az acr login -n <registry>` for ACR, which lasts about 3 hours; `docker login <registry>` otherwise), " +
				"or use a credential helper that refreshes it; for automation use a service principal or a repository-scoped token instead of an interactive login.",
			CannotProve: "Which of expired, revoked or wrong tenant: the refresh token's value is not kept. Its expiry shows in the client's config (identitytoken is a JWT for ACR).",
		},
		{
			ID:       RuleStaleCredentialsPublicPull,
			Title:    "Stale stored credentials make a public image fail",
			Catalog:  12,
			Verdicts: []Verdict{VerdictCredentialsRejected},
			Signature: "The token server refused the credentials sent (as in credentials-rejected-at-token-endpoint) on token requests that asked only for pull, " +
				"and the trace shows the repository is public: an anonymous token on the same registry was granted pull on it, an anonymous manifest request for it got 200, " +
				"or it is a Docker Hub library/ image.",
			ClientsSay: `podman: "unable to retrieve auth token: invalid username/password"; docker: "unauthorized: please use personal access token to login"; ` +
				`containerd/nerdctl: "failed to fetch oauth token: unexpected status from GET request to <realm>…: 401 Unauthorized"`,
			Fix:         "Remove or renew the stored login: `docker logout <registry>` (or `podman logout <registry>`), or log in again with a current password or access token.",
			CannotProve: "Why the stored credentials are refused (changed password, revoked token, 2FA or SSO switched on): the secret is never kept.",
		},
		{
			ID:       RuleExpiredPasswordToken,
			Title:    "The login's short-lived token (ECR's password and its kin) has expired",
			Catalog:  32,
			Verdicts: []Verdict{VerdictCredentialsRejected},
			Signature: "The request where the operation stopped was answered 401 or 403, and the registry's message or body says the token, credentials, password or login expired " +
				"(ECR: \"Your authorization token has expired. Reauthenticate and try again.\", plain text). Any registry matches, not only ECR; " +
				"the wrong-account case of the catalog entry is not detected here (basic-challenge-no-credentials covers a missing login).",
			ClientsSay: `docker: "pull access denied for <account>.dkr.ecr.<region>.amazonaws.com/<name>, repository does not exist or may require 'docker login': denied: Your authorization token has expired. Reauthenticate and try again."; ` +
				`older docker: "error parsing HTTP 403 response body: invalid character 'Y' looking for beginning of value: "Your Authorization Token has expired…""`,
			Fix: "Log in again to get a fresh token. ECR: `aws ecr get-login-password --region <region> | docker login --username AWS --password-stdin <account>.dkr.ecr.<region>.amazonaws.com`; " +
				"for machines and CI use amazon-ecr-credential-helper so every pull gets a fresh token; check that the account and region in the host match the keys.",
			CannotProve: "Whether the account may read the repository once it logs in again: a denial after a fresh login is a real permission problem.",
		},
		{
			ID:       RuleCredentialsRejectedAtToken,
			Title:    "The token server, or a Basic-auth registry, refused the credentials",
			Catalog:  13,
			Verdicts: []Verdict{VerdictCredentialsRejected},
			Signature: "In a failed operation, a token request that carried credentials (Basic, or an OAuth2 password grant) was refused — 401; 403 to a scope-less GET (a login); " +
				"400 with invalid_grant or invalid_client to a POST — and no token was obtained later (a refused POST followed by a GET is judged by the GET). " +
				"Also at a registry that authenticates with Basic itself: Basic credentials answered 401 with a Basic-only challenge again and nothing later succeeded with credentials. " +
				"The user name is read for hints (robot$ cut off by the shell, an e-mail address, a malformed header); the secret never is.",
			ClientsSay: `docker: "unauthorized: incorrect username or password", "unauthorized: HTTP Basic: Access denied. …" (GitLab); ` +
				`nerdctl: "failed to fetch oauth token: unexpected status from GET request to …: 401 Unauthorized"; skopeo: "unable to retrieve auth token: invalid username/password"`,
			Fix: "Log in again with a valid secret, using --password-stdin: accounts with 2FA or SSO need a personal access token (Docker Hub PAT, GitLab token with read_registry, GitHub PAT with read:packages) instead of the password; " +
				"quote Harbor robot names ('robot$name') so the shell does not expand $name; use the user name, not the e-mail address; " +
				"for GAR _json_key pass the key file via --password-stdin. If the stored login is stale and not needed, `docker logout <registry>`.",
			CannotProve: "Which part is wrong (user name, secret, expired PAT, missing scope of the PAT) or whether the account is locked: the password is never kept.",
		},
		{
			ID:       RuleCredentialsNotSent,
			Title:    "The client has credentials for the registry but did not send them",
			Catalog:  11,
			Verdicts: []Verdict{VerdictCredentialsNotSent},
			Signature: "In a failed operation (not a sanitized HAR), the last token request carried nothing that identifies anyone (no Authorization or an empty Basic, no account, password or refresh token), " +
				"and it was refused 401/403, or its token did not grant what the operation's final 401/403 registry request needed; " +
				"and the same client did send real credentials in this operation or to the same host under another name (another port, a Docker Hub alias). " +
				"Without that evidence an anonymous refusal is insufficient-scope-ambiguous-denied.",
			ClientsSay: `Docker Hub: "toomanyrequests: You have reached your unauthenticated pull rate limit" while logged in; crane: "No matching credentials were found for "<registry>""; otherwise the texts of insufficient-scope-ambiguous-denied`,
			Fix: "Log in to the exact host the image reference names — `docker login <registry>` — as the user that runs the client (not under sudo); " +
				"check credsStore/credHelpers in ~/.docker/config.json (is the helper on PATH?); podman/skopeo: REGISTRY_AUTH_FILE or `podman login`; Kubernetes: the pull secret's server must match the image host.",
			CannotProve: "Which key the client looked up and what its credential store holds for it: that is on the client, not on the wire.",
		},
		{
			ID:       RuleBasicChallengeNoCredentials,
			Title:    "The registry asked for Basic credentials and the client had none to send",
			Catalog:  10,
			Verdicts: []Verdict{VerdictCredentialsNotSent},
			Signature: "In a failed operation (not a sanitized HAR), a 401 with a Basic-only challenge, and from there to the operation's last registry request, itself such a 401, " +
				"no credentials were sent and no token was requested; at most \"Authorization: Basic Og==\" (an empty user and password, which containers/image sends when it has none).",
			ClientsSay: `docker: "no basic auth credentials"; containerd: "authorization failed: no basic auth credentials"; oras: "basic credential not found"; skopeo: "unauthorized: authentication required"`,
			Fix: "Log in to the exact host and port the image reference names: `docker login <host[:port]>` (or podman/skopeo/oras login); credentials stored for another host name or port are not used. " +
				"ECR: `aws ecr get-login-password --region <region> | docker login -u AWS --password-stdin <account>.dkr.ecr.<region>.amazonaws.com` (the account and region must match the realm), or the ECR credential helper. " +
				"Nexus: enable the Docker Bearer Token Realm if anonymous pulls should work.",
			CannotProve: "Whether credentials exist on the client under another key, or a credential helper failed before sending anything: only the client's configuration shows that.",
		},
		{
			ID:       RuleLoginSucceededProvesLittle,
			Title:    "\"Login Succeeded\" proved the password, not permission on the repository",
			Catalog:  14,
			Verdicts: []Verdict{VerdictUnauthorized, VerdictDenied},
			Signature: "The operation's last registry request, on a repository, was answered 401 or 403, and earlier the same registry saw a login succeed: " +
				"a scope-less offline token (offline_token=true or access_type=offline) obtained with credentials, or GET /v2/ answered 200 to Basic credentials. " +
				"A hint that accompanies the finding that explains the failure.",
			ClientsSay: `"Login Succeeded", then "denied: requested access to the resource is denied"`,
			Fix: "Check the account's permission on the repository itself (organisation/team membership, project role, PAT scopes such as write:packages for a push), " +
				"and verify with a real pull or push, not with docker login; log in to the exact host the image reference names.",
			CannotProve: "Whether the account lacks permission or the repository does not exist: registries answer both the same way.",
		},
		// ---- group 50–59: what the token grants against what was needed (step 5) ----
		{
			ID:       RuleLibraryPrefixMissing,
			Title:    "A Docker Hub official image was named without library/ (or a name lost its namespace)",
			Catalog:  5,
			Verdicts: []Verdict{VerdictClientConfig},
			Signature: "A registry request that failed for good was refused 401/403 (not error=\"invalid_token\") with a Bearer JWT whose access claim grants none of the actions it needs on the repository, " +
				"and the name has one component on Docker Hub (by host, or by Hub's realm auth.docker.io or service registry.docker.io relayed by a proxy). " +
				"Also on any registry when the same registry served <namespace>/<name> successfully elsewhere in the trace. " +
				"When the token's grants cannot be read (an opaque token, or a log that does not show it), the one-component name on Docker Hub decides alone.",
			ClientsSay: `docker via a proxy: "pull access denied for <proxy>/hello-world, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"; curl: 401 with error="insufficient_scope"`,
			Fix: "Use the full name (library/<name>, or docker.io/<name> and let the client normalise it); a proxy or pull-through cache in front of Docker Hub must rewrite one-component names to library/<name>, " +
				"or be configured as a registry mirror.",
			CannotProve: "Whether the client or a proxy in front of the registry dropped the namespace: the trace shows only the name that reached the registry.",
		},
		{
			ID:       RuleCrossRepoMountScope,
			Title:    "A cross-repository blob mount failed because the token cannot pull the source",
			Catalog:  23,
			Verdicts: []Verdict{VerdictDenied},
			Signature: "A blob mount (POST …/blobs/uploads/?mount=…&from=<source>) that failed for good was refused 401/403 (not error=\"invalid_token\"), " +
				"and the token's access claim lacks pull on the source, or, for an opaque token, the challenge's scope names the source.",
			ClientsSay: `docker 1.10: "unauthorized: authentication required" on the first push, the second works; manifest-tool: "Mount blobs for cross-repository push fails with error 401"`,
			Fix: "Grant the pushing account pull on the source repository (Docker Hub requires it even for public sources), or make the client skip cross-repository mounts so it uploads the blob; " +
				"registries should answer an unauthorised mount with 202 and a normal upload (OCI spec).",
			CannotProve: "Whether the source repository exists or is only hidden from this account; whether the client would have retried with a plain upload.",
		},
		{
			ID:       RulePushScopeMissing,
			Title:    "Push denied: the token lacks push, or the pull that goes with it",
			Catalog:  22,
			Verdicts: []Verdict{VerdictDenied},
			Signature: "A push request (upload start, chunk or finish, manifest PUT, blob mount) that failed for good was refused 401/403 (not error=\"invalid_token\") with a Bearer JWT " +
				"whose access claim lacks push on the repository, or grants push without the pull the registry also requires for POST, PUT and PATCH. " +
				"A missing library/ is left to dockerhub-library-prefix-missing; the account the token was issued to is named. " +
				"When the token's grants cannot be read (opaque, or a log), a refused push after a token request that asked for push fires too, saying what the token granted cannot be proven.",
			ClientsSay: `docker push: "denied: requested access to the resource is denied"; Harbor: "unauthorized: unauthorized to access repository: <project/repo>, action: push"; ` +
				`Artifact Registry: "denied: Permission "artifactregistry.repositories.downloadArtifacts" denied on resource … (or it may not exist)"`,
			Fix: "Tag the image under a namespace you can write to (`docker push myimage` goes to docker.io/library/myimage, which is not yours); " +
				"create the project/repository if the registry needs that; grant the account push and pull; use a read-write access token rather than a read-only one.",
			CannotProve: "Whether the repository exists: a registry that hides private repositories answers the same for a missing one.",
		},
		{
			ID:       RuleMultipleScopes,
			Title:    "One of several needed scopes was lost between the challenge, the token request and the token",
			Catalog:  20,
			Verdicts: []Verdict{VerdictTokenProblem, VerdictClientConfig},
			Signature: "A request that failed for good was refused 401/403 (not error=\"invalid_token\") with a Bearer JWT that lacks a needed scope, and either the token request asked for two or more repositories " +
				"and the token grants some of them but nothing on a requested one (token-problem: the server dropped a scope), or the 401 challenge on the same path listed two or more repositories " +
				"and the client's token request left a needed one out (client-configuration).",
			ClientsSay: `manifest-tool: "Mount blobs for cross-repository push fails with error 401"`,
			Fix: "Upgrade or fix the token server so it honours every scope= parameter (or accepts one space-separated scope); " +
				"meanwhile use a client that merges scopes into one parameter, or avoid operations that need two repositories at once (cross-repository mounts).",
			CannotProve: "Whether the account may access the dropped repository at all: a server that intersects correctly would also drop a scope the account lacks.",
		},
		{
			ID:       RuleOverScopedRejected,
			Title:    "The client asked for more than it needed, and the token server refused instead of granting the subset",
			Catalog:  19,
			Verdicts: []Verdict{VerdictTokenProblem},
			Signature: "In a failed operation, a token request asking for a repository scope with actions beyond pull (push, delete) was answered 400, 401 or 403 and not later retried successfully, " +
				"while every registry request of the operation on that repository only needs pull. A registry that accepts the token and then refuses the read (403 \"Write permission required\") is not detected here.",
			ClientsSay: "",
			Fix: "Use a read-only path that asks only for pull (`crane manifest`, `skopeo inspect`, `regctl manifest get` instead of `docker manifest inspect`); " +
				"registry side: make the token server return the granted subset of the requested actions.",
			CannotProve: "Whether a request for pull alone would have succeeded: retry asking for repository:<name>:pull only.",
		},
		{
			ID:       RuleAccessEmptyAuthed,
			Title:    "Logged in and given a token, but it grants nothing on the repository",
			Catalog:  21,
			Verdicts: []Verdict{VerdictDenied},
			Signature: "A request that failed for good was refused 401/403 (not error=\"invalid_token\"; a 401 must say insufficient_scope or show a missing scope) with a Bearer JWT that names a subject (sub) " +
				"and has an empty access claim, issued to a token request that carried credentials. A missing library/ is left to dockerhub-library-prefix-missing.",
			ClientsSay: `Harbor: "unauthorized: unauthorized to access repository: test/image, action: push: …"; GHCR with a token not authorised for the SSO organisation: "Error response from daemon: unauthorized"; ` +
				`otherwise the texts of insufficient-scope-ambiguous-denied`,
			Fix: "Grant the account (or its team/robot) access to the repository; use an access token whose scopes include it; " +
				"for GHCR, authorise the token for the organisation's SSO and link the package to the repository.",
			CannotProve: "Whether the repository exists: the registry gives the same answer for a missing repository and for one this account may not see. " +
				"Ask the owner, or retry with an account that can see it (then MANIFEST_UNKNOWN/NAME_UNKNOWN means it is missing).",
		},
		{
			ID:       RuleInsufficientScope,
			Title:    "Access denied: the repository is private to others or does not exist, and the registry will not say which",
			Catalog:  2,
			Verdicts: []Verdict{VerdictUnauthorizedAmbiguous},
			Signature: "A repository request that failed for good, made with a Bearer token (not error=\"invalid_token\"), was refused: 401 with error=\"insufficient_scope\", " +
				"or 401 UNAUTHORIZED/DENIED with a scope the token's access claim lacks; 403 with a missing scope; 404 to a token that lacks the scope (registries hide repositories that way); " +
				"or an anonymous token whose grants cannot be read (opaque, or a JWT with a malformed access claim) refused without error=; " +
				"or the run stopped at the token server, which refused an anonymous pull-only token request with 401 or 403 (GHCR's answer for a private package). " +
				"In a sanitized HAR the same refusal without a visible Authorization is reported too, saying what cannot be seen.",
			ClientsSay: `docker: "pull access denied for <name>, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"; ` +
				`BuildKit/nerdctl: "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"; ` +
				`skopeo/podman: "requested access to the resource is denied"`,
			Fix: "Check the repository name (spelling, namespace, library/ on Docker Hub); log in (`docker login <registry>`) with an account that may read it; " +
				"confirm the repository's visibility and your permission with its owner.",
			CannotProve: "Whether the repository is missing or private: a registry that prevents information leaks answers the same for both, on purpose. " +
				"Log in with an account that can see the repository and retry: MANIFEST_UNKNOWN or NAME_UNKNOWN then means it is really missing.",
		},
		// ---- group 60–62: whether the registry could use the token (step 6) ----
		{
			ID:       RuleTokenExpired,
			Title:    "The bearer token expired during the operation",
			Catalog:  24,
			Verdicts: []Verdict{VerdictTokenProblem},
			Signature: "A request that failed for good was answered 401 with error=\"invalid_token\" to a Bearer JWT whose exp, plus distribution's 60 s leeway, is before the response's Date header " +
				"(the proxy's clock when there is none). An earlier success with the same token and the token server's expires_in are cited when the trace has them. " +
				"Expired credentials that are themselves tokens (ECR) are ecr-basic-token-expired-or-wrong-account.",
			ClientsSay: `docker: "unauthorized: authentication required" in the middle of a push`,
			Fix: "Use a client that refreshes the token before it expires (or on a 401 invalid_token) during long pushes and pulls; raise the token lifetime on the token server; " +
				"for ECR/ACR/Google, use a credential helper so the registry credential itself is renewed.",
			CannotProve: "Whether the registry's clock is right: compare its Date header with a trusted clock if expiry looks too early.",
		},
		{
			ID:       RuleClockSkew,
			Title:    "The token is not valid yet to the registry: the token server's clock is ahead",
			Catalog:  25,
			Verdicts: []Verdict{VerdictTokenProblem},
			Signature: "A request that failed for good was answered 401 with error=\"invalid_token\" to a Bearer JWT that has not expired, " +
				"whose nbf (or iat when there is no nbf) is more than 60 s after the registry response's Date header.",
			ClientsSay: `generic: "unauthorized: authentication required"`,
			Fix: "Synchronise the clocks (NTP) of the token server and every registry node; have the token server set nbf a little in the past; " +
				"a registry allows 60 s of skew.",
			CannotProve: "Which clock is wrong, and whether other registry nodes behind the same load balancer are skewed too (an identical retry may succeed on another node).",
		},
		{
			ID:       RuleTokenRejectedAudIssKey,
			Title:    "The registry refuses the token itself: wrong audience, untrusted issuer or signing key",
			Catalog:  26,
			Verdicts: []Verdict{VerdictTokenProblem},
			Signature: "A request that failed for good was answered 401 with error=\"invalid_token\" to a Bearer token, or 401 with a Bearer challenge and no error= to a JWT with a readable access claim that lacks nothing it needs " +
				"(what distribution sends when the signature does not verify), and the token is neither expired nor issued in the registry's future. " +
				"The token's aud is compared with the challenge's service, and the service the token request asked for with the challenge's.",
			ClientsSay: `generic: "unauthorized" (the reason, such as "token intended for another audience", is only in the registry's log)`,
			Fix: "Align the registry's token configuration (auth.token service, issuer, rootcertbundle or JWKS) with the token server's; " +
				"when rotating keys, keep the old one trusted until tokens signed with it have expired; make the client send the service the challenge names.",
			CannotProve: "Which check failed: the registry's log names it (audience, issuer, signature/key). " +
				"JWT signatures are not verified by regtrace, so an untrusted issuer or a rotated or mismatched signing key cannot be told apart here.",
		},
		// ---- group 70–75: what the registry finally said (step 7) ----
		{
			ID:       RuleDeniedAuthenticated,
			Title:    "Authenticated, then denied (403)",
			Catalog:  27,
			Verdicts: []Verdict{VerdictDenied},
			Signature: "A registry request that failed for good was answered 403 to a known identity: Basic credentials with a user name, or a Bearer token whose JWT names a subject " +
				"or that was obtained with credentials. A 403 saying the credentials expired is left to ecr-basic-token-expired-or-wrong-account.",
			ClientsSay: `docker: "pull access denied for ghcr.io/<owner>/<name>, repository does not exist or may require 'docker login': denied: permission_denied: read_package"; ` +
				`skopeo listing ECR tags: "Registry disallows tag list retrieval; skipping"`,
			Fix: "Grant the permission the message names (e.g. read_package on GHCR, an IAM role on Artifact Registry or ECR), make the package public, " +
				"or link the package to the repository or workflow that uses it.",
			CannotProve: "Whether the repository exists: some registries (Artifact Registry's \"or it may not exist\") hide that behind the same 403.",
		},
		{
			ID:       RuleNotFoundIsReal,
			Title:    "The image, tag or blob really does not exist",
			Catalog:  28,
			Verdicts: []Verdict{VerdictNotFound},
			Signature: "A registry request that failed for good was answered 404 without a challenge, with MANIFEST_UNKNOWN, NAME_UNKNOWN or BLOB_UNKNOWN " +
				"(or a body-less HEAD 404 when no GET of the same reference says more), to a request the registry had authorised: a Bearer token lacking nothing it needs " +
				"(for a HEAD, a JWT whose access covers it), accepted Basic credentials (whose user a log may not show), or no credentials on a registry that never challenged in the operation " +
				"(its /v2/ answered 200, or the client did not ping, as containerd does). " +
				"From a log or event that says only \"not found\" for a HEAD (containerd), with no challenge in sight, the 404 is taken as real and the hiding case is named as what cannot be proven.",
			ClientsSay:  `docker: "manifest for <ref> not found: manifest unknown: …", "repository <name> not found: name unknown", "no matching manifest for linux/arm64 in the manifest list entries"; containerd: "<ref>: not found"`,
			Fix:         "Correct the tag, digest, platform or repository name; list what exists with `crane ls`, `skopeo list-tags` or `regctl tag ls`.",
			CannotProve: "Nothing about authorisation: the registry authorised the request and then said the object is missing.",
		},
		{
			ID:       RuleRateLimited,
			Title:    "Rate limited: the registry answered 429 TOOMANYREQUESTS",
			Catalog:  29,
			Verdicts: []Verdict{VerdictRateLimited},
			Signature: "In a failed operation, a genuine answer 429 or with the code TOOMANYREQUESTS that no later success of the same request superseded. " +
				"The ratelimit-limit and ratelimit-remaining headers (of that or an earlier response), docker-ratelimit-source and Retry-After are quoted, and anonymous requests are pointed out.",
			ClientsSay: `docker: "toomanyrequests: You have reached your pull rate limit…"; containerd: "unexpected status code …: 429 Too Many Requests - Server message: toomanyrequests: …"`,
			Fix: "Wait for the window to reset (Retry-After says how long); authenticate (logged-in and paid accounts get larger limits); pull through a mirror or cache; " +
				"on Docker Hub, use HEAD requests to check for updates (Hub does not count them).",
			CannotProve: "Who else spent the budget: other clients behind the same address count too. Limits change over time, so read the headers rather than assuming numbers.",
		},
		{
			ID:       RuleHeadErrorWithoutBody,
			Title:    "The refusal was an answer to a HEAD, so the registry's error code never reached the client",
			Catalog:  3,
			Verdicts: []Verdict{VerdictUnauthorizedAmbiguous, VerdictTokenProblem, VerdictUnauthorized, VerdictDenied, VerdictNotFound},
			Signature: "The operation stopped at a manifest or blob HEAD answered 401, 403 or 404 with no body (not a 404 to a token that verifiably grants what it needs, " +
				"and not when the client went on to another registry). The verdict comes from what the wire still shows: the challenge's error= (insufficient_scope, invalid_token), " +
				"whether credentials were sent, and the status. A hint that accompanies the finding that explains the failure.",
			ClientsSay: `docker: "Error response from daemon: Head "https://ghcr.io/v2/<name>/manifests/<tag>": unauthorized"; ` +
				`containers/image: "error parsing HTTP 401 response body: unexpected end of JSON input: """; crane: "unexpected status code 401 Unauthorized (HEAD responses have no body, use GET for details)"`,
			Fix: "Ask the same question with GET to see the registry's own error: `crane manifest <ref>`, `skopeo inspect --raw docker://<ref>` " +
				"or `regctl manifest get <ref>` (through regtrace), then act on the error code it shows.",
			CannotProve: "The registry's error code for this request (DENIED, UNAUTHORIZED, NAME_UNKNOWN, MANIFEST_UNKNOWN): HEAD responses carry none; a GET of the same URL would.",
		},
		// ---- group 80–99: the outcome model ----
		{
			ID:       RuleLaterRunSucceeded,
			Title:    "A failed run was followed by a run of the same client that worked",
			Catalog:  0,
			Verdicts: []Verdict{VerdictOK},
			Signature: "An operation that did not reach its goal, and a later operation of the same client (User-Agent) that reached the same goal: on the same registry " +
				"(sharing a repository, or any success after a run that stopped before any repository request), or on another registry for the same repositories (a mirror's fallback). " +
				"What changed between the runs (credentials, repository names, registry) is stated; when the trace ends well this finding leads the report.",
			ClientsSay: "",
			Fix: "Nothing for the latest run. Where the failing run came from (a CI job, a node's pull secret, another machine), " +
				"make the same change: it is what the failing run lacked.",
			CannotProve: "That the later run would work from where the failing one ran: only this trace's two runs are compared.",
		},
		{
			ID:       RuleMountRefused,
			Title:    "A cross-repository mount was refused and the client uploaded the blob instead",
			Catalog:  0,
			Verdicts: []Verdict{VerdictOK},
			Signature: "A blob mount (POST …/blobs/uploads/?mount=…&from=…) refused as an optional probe, followed by a successful upload start or finish in the same repository. " +
				"When the refusal was 401 or 403 the token did not cover pulling the source. The push worked, but the blob's bytes were sent again.",
			ClientsSay: "",
			Fix: "Nothing is broken. To save the upload, let the pushing account pull the source repository (a mount needs pull on the source " +
				"and push on the target), or push from the repository the layers already live in.",
			CannotProve: "Whether the source repository exists or is only hidden from this account.",
		},
		{
			ID:       RuleMirrorFellBack,
			Title:    "A mirror failed and the client got the image from the next host",
			Catalog:  0,
			Verdicts: []Verdict{VerdictOK},
			Signature: "One operation asked several hosts for the same thing (containerd's hosts.toml mirrors, which name the image's registry in ?ns=, or a mirror list): " +
				"the first failed (401/403, 404, 5xx, or could not be reached) and a later host served the request. The pull worked; the mirror served nothing.",
			ClientsSay: "Nothing: containerd logs \"trying next host\" at info level, and the pull succeeds.",
			Fix: "If the mirror should serve these pulls: credentials for the mirror host itself (those for the upstream name are not sent to it), " +
				"its upstream and path (a pull-through cache for another registry answers 404), or its address; otherwise remove it from the mirror list.",
			CannotProve: "Whether the mirror would serve other images, or other clients with their own credentials.",
		},
		{
			ID:       RuleMirrorServesRefused,
			Title:    "A mirror served, without credentials, a repository its upstream refuses without credentials",
			Catalog:  0,
			Verdicts: []Verdict{VerdictOK},
			Signature: "A manifest request without credentials to a mirror (?ns=UPSTREAM) answered 2xx, and in the same trace UPSTREAM answered 401 or 403 to a manifest request " +
				"of the same repository that carried no credentials (nor a token got with any). Typical of a pull-through cache (distribution's proxy mode, Harbor, Nexus) " +
				"configured with its own upstream account.",
			ClientsSay: "Nothing: the pull through the mirror works.",
			Fix:        "If the repository is meant to be private, require authentication on the mirror and limit who reaches it, or give the cache an upstream account that reads only public repositories.",
			CannotProve: "Whether the repository is meant to be private, or who else can reach the mirror; a trace with only the mirror's answer (no refusal from the upstream) " +
				"cannot show this at all.",
		},
		{
			ID:       RuleUnexplainedFailure,
			Title:    "The operation failed and no rule explains why",
			Catalog:  0,
			Verdicts: []Verdict{VerdictUnexplained, VerdictTransport},
			Signature: "Runs last. Every operation that did not reach its goal, was not recovered by a later run, and is covered by no failure-explaining finding gets one, " +
				"naming where it stopped (ping, token server, realm, tunnel, registry) and whether the token request there was anonymous. " +
				"transport-failure when it stopped on a transport error or a tunnel that could not be opened. " +
				"From a log (which lacks the challenges, the Authorization or the token's grants), the rules a wire trace of the same stop could give (a 401 or 403 at the registry or the token server, " +
				"an invalid_token, a 404) are narrowed by what the log does show: one left is named instead, marked suspected, with what would prove it; several are listed as this finding's candidates.",
			ClientsSay: "",
			Fix: "Look at the exchange where it stopped in full (`regtrace explain --flow <id> FILE`); capture the client's own error and debug log " +
				"(skopeo/podman --debug, crane -v, oras --debug, regctl -v trace, dockerd or containerd in debug mode) and the registry's log at that time.",
			CannotProve: "Why it failed: the trace shows where the operation stopped, not the reason. A redacted trace of it would help regtrace learn a rule.",
		},
	}
}
