package probe

import (
	"fmt"
	"slices"
	"strings"
)

// Code is a probe's result: stable, for scripts and tickets (like
// `az acr check-health`'s error codes). A released code never changes
// meaning; a retired one stays out of use.
type Code string

const (
	CodePullable            Code = "PULLABLE"
	CodePushable            Code = "PUSHABLE"
	CodePingUnreachable     Code = "PING_UNREACHABLE"
	CodeTLSUntrusted        Code = "TLS_UNTRUSTED"
	CodeNotARegistry        Code = "NOT_A_REGISTRY"
	CodeChallengeMissing    Code = "CHALLENGE_MISSING"
	CodeRealmUnreachable    Code = "REALM_UNREACHABLE"
	CodeTokenFailed         Code = "TOKEN_FAILED"
	CodeCredentialsRequired Code = "CREDENTIALS_REQUIRED"
	CodeCredentialsRejected Code = "CREDENTIALS_REJECTED"
	CodeTokenScopeEmpty     Code = "TOKEN_SCOPE_EMPTY"
	CodeTokenRejected       Code = "TOKEN_REJECTED"
	CodePrivateOrMissing    Code = "PRIVATE_OR_MISSING"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeRateLimited         Code = "RATE_LIMITED"
	CodeDenied              Code = "DENIED"
	CodePushDenied          Code = "PUSH_DENIED"
	CodePushUnknown         Code = "PUSH_UNKNOWN"
	CodeRegistryUnreachable Code = "REGISTRY_UNREACHABLE"
	CodeNoPlatform          Code = "NO_PLATFORM"
	CodeBlobFailed          Code = "BLOB_FAILED"
	CodeUnexpected          Code = "UNEXPECTED"
	CodeCredentialStore     Code = "CREDENTIAL_STORE_FAILED"
	CodeBrokenIndex         Code = "INDEX_BROKEN"
)

// Exit statuses of `regtrace probe`, one per class of result.
const (
	ExitOK           = 0
	ExitOther        = 1 // unreachable, TLS, not a registry, a broken token server
	ExitUnauthorized = 3 // unauthorized, or the registry will not say
	ExitNotFound     = 4 // proven not found
	ExitRateLimited  = 5
	ExitDenied       = 6 // authenticated, but denied
)

// CodeDoc documents one code: what it means, its fix and its exit status.
type CodeDoc struct {
	Code  Code
	Exit  int
	Means string
	Fix   string
}

// Codes is every code, documented; `regtrace probe --codes` and
// proxy/probe/CODES.md are generated from it.
func Codes() []CodeDoc {
	return []CodeDoc{
		{CodePullable, ExitOK, "The manifest (and the platform's manifest from an index) and its config blob answered 200.",
			"Nothing to fix at the registry. If a client still fails, run it through `regtrace run -- …` and compare."},
		{CodePushable, ExitOK, "With --push: the image is pullable and the token grants push (and pull on --mount-from).",
			"Nothing to fix."},
		{CodePingUnreachable, ExitOther, "GET /v2/ failed before any answer: the name does not resolve, nothing listens, a firewall or a proxy is in the way.",
			"Check the host and port (`curl -v https://HOST/v2/`), DNS, HTTPS_PROXY/NO_PROXY and firewalls on the machine that pulls."},
		{CodeTLSUntrusted, ExitOther, "A TLS handshake failed: the certificate is not trusted here, has expired or names another host.",
			"Trust the registry's CA (--upstream-ca FILE here; for clients: `/etc/docker/certs.d/HOST/ca.crt`, `/etc/containers/certs.d/HOST/`, containerd's hosts.toml `ca`)."},
		{CodeNotARegistry, ExitOther, "GET /v2/ answered something other than 200 or 401: no registry API at that address (a web server, a wrong port, a path prefix).",
			"Point the image at the registry's API host; registries serve /v2/ at the root of their host."},
		{CodeChallengeMissing, ExitOther, "A 401 came without a WWW-Authenticate challenge a client can follow (Bearer with a realm URL, or Basic).",
			"Fix the registry or the proxy in front of it: it must send `WWW-Authenticate: Bearer realm=…,service=…` (or Basic) with every 401."},
		{CodeRealmUnreachable, ExitOther, "The token server named by the challenge's realm could not be reached.",
			"Make the realm URL reachable from the machine that pulls (DNS, firewall, proxy), or fix the realm the registry advertises."},
		{CodeTokenFailed, ExitOther, "The token server answered an error (not 401/403) or a 200 without a token.",
			"Check the token server's logs; the answer is in the report."},
		{CodeCredentialsRequired, ExitUnauthorized, "The registry asks for Basic credentials and none were found for it.",
			"Log in for the exact registry host (`docker login HOST[:PORT]`, `podman login`), or pass --creds-stdin."},
		{CodeCredentialsRejected, ExitUnauthorized, "The token server or the registry refused the credential that was found.",
			"Log in again (the password or token may have expired or been revoked); the report names the key the credential was found under."},
		{CodeTokenScopeEmpty, ExitUnauthorized, "The token grants nothing on the repository and the registry answered 401: a private repository the account cannot read, or one that does not exist — token servers answer both the same way.",
			"Check the repository name (on Docker Hub, `library/` for official images), then the account's access to it."},
		{CodeTokenRejected, ExitUnauthorized, "The token grants pull, yet the registry refused it: the registry does not trust its issuer, audience or key, or it had expired.",
			"Check that the registry's token settings (issuer, service, root certificate) match the token server's."},
		{CodePrivateOrMissing, ExitUnauthorized, "The registry hides whether the repository exists: without a token that can read it, a private repository and a missing one look the same.",
			"Probe with credentials that can pull from that namespace: a 404 with a token that grants pull proves it missing."},
		{CodeNameUnknown, ExitNotFound, "The repository does not exist: a 404 that nothing hides (an open registry, or a token that grants pull) and a tag list that answers 404.",
			"Check the repository name and the registry; on Docker Hub an official image is `library/NAME`."},
		{CodeManifestUnknown, ExitNotFound, "The repository exists but the tag or digest does not.",
			"Check the tag (the report lists how many tags the repository has): `regctl tag ls`, `crane ls`, `skopeo list-tags`."},
		{CodeRateLimited, ExitRateLimited, "A request answered 429 Too Many Requests.",
			"Wait for the Retry-After, log in (Docker Hub limits anonymous pulls per IP more), or pull through a mirror or cache."},
		{CodeDenied, ExitDenied, "The registry answered 403 or DENIED: it knows the caller and refuses (no permission, a policy, an IP allow-list).",
			"Grant the account pull on the repository, or check the registry's access policy and the proxy in front of it."},
		{CodePushDenied, ExitDenied, "With --push: the token does not grant push (or pull on --mount-from).",
			"Grant the account push on the repository (and pull on the mount source); anonymous push is never granted."},
		{CodePushUnknown, ExitUnauthorized, "With --push: whether push would be allowed cannot be read without writing (Basic auth, or an opaque token).",
			"Try a push of a small test image to a scratch tag."},
		{CodeRegistryUnreachable, ExitOther, "A registry request after the ping failed without an answer (reset, timeout, a redirect to a blob store that could not be reached).",
			"The report names the host; check the path from this machine to it (blob stores often live on another host)."},
		{CodeNoPlatform, ExitOther, "The image is an index without a manifest for the platform asked for.",
			"Pick a platform the index has (--platform os/arch[/variant]) or build the image for yours."},
		{CodeBrokenIndex, ExitOther, "The index answered 200 but the manifest it names for the platform answered 404: the index points at a manifest the registry no longer has.",
			"Push the image again, or exempt untagged manifests that an index names from the registry's cleanup policy (ECR lifecycle rules, Harbor tag retention)."},
		{CodeBlobFailed, ExitOther, "The manifest answered 200 but its config blob did not.",
			"The registry's storage is missing the blob or refuses it: check its storage and any blob-store redirect."},
		{CodeCredentialStore, ExitOther, "The client's credential lookup fails before any request: a credential helper named by credsStore or credHelpers is not in PATH or fails, or a credentials file does not parse.",
			"Install the helper (docker-credential-NAME in PATH), fix or remove credsStore/credHelpers, or repair the file; the report names the file and the entry."},
		{CodeUnexpected, ExitOther, "An answer the probe does not expect (a 5xx, an odd status).",
			"The report has the answer; check the registry's logs."},
	}
}

// Doc returns c's documentation.
func (c Code) Doc() CodeDoc {
	for _, d := range Codes() {
		if d.Code == c {
			return d
		}
	}
	return CodeDoc{Code: c, Exit: ExitOther, Means: "unknown code"}
}

// conclude settles the question across the phases: the credentials phase
// decides (it is what the client would do), the anonymous phase says
// whether the image is public.
func conclude(opts Options, phases []Outcome) (Code, string) {
	anon := phases[0]
	last := phases[len(phases)-1]
	code, why := last.Code, last.Why
	if opts.CredentialErr != nil {
		return CodeCredentialStore, fmt.Sprintf("The client would stop before sending a request: %v. Anonymously, %s: %s.",
			opts.CredentialErr, strings.ToLower(string(anon.Code)), anon.Why)
	}
	if opts.Push && code == CodePullable {
		code, why = pushVerdict(opts, last)
	}
	var b strings.Builder
	if opts.Mirror != "" {
		fmt.Fprintf(&b, "Through the mirror %s (asked with ns=%s): ", opts.Mirror, opts.Image.Registry)
	}
	switch {
	case len(phases) == 1 && anon.Code == CodePullable:
		fmt.Fprintf(&b, "%s is pullable anonymously: %s.", opts.Image, anon.Why)
	case len(phases) == 1 && opts.Credential != nil:
		fmt.Fprintf(&b, "%s: %s (so the credential was not tried).", verdictWords(code, opts.Image), why)
	case len(phases) == 1:
		fmt.Fprintf(&b, "%s, and no credential was found to try: %s.", verdictWords(code, opts.Image), why)
	case anon.Code == CodePullable && last.Code == CodePullable:
		fmt.Fprintf(&b, "%s is public and pullable, anonymously and with %s.", opts.Image, opts.Credential.Source())
	case last.Code == CodePullable:
		fmt.Fprintf(&b, "%s exists and is private: pullable with %s, not anonymously (%s).", opts.Image, opts.Credential.Source(), anon.Why)
	case anon.Code == CodePullable:
		fmt.Fprintf(&b, "%s is public, but the credential a client would send breaks the pull (%s): %s. Fix or remove that credential, or pull anonymously.",
			opts.Image, opts.Credential.Source(), why)
	default:
		fmt.Fprintf(&b, "%s with %s: %s. Anonymously: %s.", verdictWords(code, opts.Image), opts.Credential.Source(), why, anon.Why)
	}
	if code != last.Code {
		fmt.Fprintf(&b, " %s", why)
	}
	return code, b.String()
}

func verdictWords(c Code, im Image) string {
	switch c.Doc().Exit {
	case ExitNotFound:
		return fmt.Sprintf("%s is not found", im)
	case ExitUnauthorized:
		return fmt.Sprintf("%s cannot be pulled (unauthorized, or the registry will not say)", im)
	case ExitRateLimited:
		return fmt.Sprintf("%s is rate limited", im)
	case ExitDenied:
		return fmt.Sprintf("%s is denied", im)
	}
	return fmt.Sprintf("%s cannot be reached", im)
}

// pushVerdict reads whether the last token grants push (and pull on the
// mount source).
func pushVerdict(opts Options, o Outcome) (Code, string) {
	g := o.push
	switch {
	case opts.Credential == nil:
		return CodeCredentialsRequired, "A push needs credentials (registries grant no anonymous push), and none were found."
	case g == nil:
		return CodePushUnknown, "Whether the registry would accept a push cannot be read without writing: it uses no token whose grants regtrace can read (Basic auth, or a registry token)."
	case g.refused != "":
		return CodePushDenied, "Asked for push, " + g.refused + "."
	case !g.known:
		return CodePushUnknown, "Whether the registry would accept a push cannot be read without writing: the push token is opaque."
	case !slices.Contains(g.granted, "push") && !slices.Contains(g.granted, "*"):
		return CodePushDenied, fmt.Sprintf("Asked for push, the token grants %s on repository:%s: no push.", grantText(g.granted), opts.Image.Repo)
	case opts.MountFrom != "" && !g.mountOK:
		return CodePushDenied, fmt.Sprintf("The token grants push on %s but not pull on %s: a cross-repository mount from it would be refused (clients then upload the blob instead).",
			opts.Image.Repo, opts.MountFrom)
	}
	s := fmt.Sprintf("The token asked for push grants %s on repository:%s", grantText(g.granted), opts.Image.Repo)
	if opts.MountFrom != "" {
		s += " and pull on " + opts.MountFrom
	}
	return CodePushable, s + "."
}
