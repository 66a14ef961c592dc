// Package redact is the one redaction policy of regtrace.
//
// regtrace's traces end up in support tickets, so everything regtrace writes
// or prints (HAR, live console, reports, error strings) goes through this
// package first. It sits beside the flow model: it imports only decode/flow
// and the standard library, and decode/har, decode, explain/render and proxy
// call it. It must never import anything that interprets flows.
//
// What is replaced, and with what:
//
//   - Authorization and Proxy-Authorization keep their scheme. Basic keeps the
//     user name ("Basic REDACTED(user=alice)"); the password is dropped, not
//     hashed, because a short hash of a weak password can be brute-forced. A
//     Bearer JWT keeps its header and claims and loses its signature
//     ("Bearer eyJ….eyJ….REDACTED"): explain reads the claims (scopes,
//     audience, expiry) and the token is useless without the signature. An
//     opaque bearer token (GHCR, ECR, ACR refresh tokens) becomes
//     Opaque(token), "REDACTED(len=N,sha256:abcd1234)", so that two flows can
//     be seen to carry the same token without revealing it; 32 bits of a hash
//     of a high-entropy token reveal nothing useful. Other schemes keep only
//     their name.
//   - Cookie keeps cookie names; Set-Cookie keeps the name and the attributes
//     (Path, Domain, Expires, Max-Age, Secure, HttpOnly, SameSite). Values go.
//   - Credential-carrying headers (X-Api-Key, X-Auth-Token, X-Registry-Auth,
//     …, and any name containing token, secret, password, api-key, apikey or
//     session) become Opaque; a JWT among them keeps its claims.
//   - URLs, everywhere (request URL, Location, Content-Location, Referer,
//     Link, URLs inside free text and JSON): the query is an allowlist, as in
//     go-containerregistry: only scope, service, account, client_id,
//     offline_token, mount, from, digest, n, last, ns, grant_type,
//     access_type, artifactType and tag keep their values; every other value
//     becomes REDACTED. Presigned blob redirects (S3 X-Amz-*, CloudFront
//     Signature/Policy/Key-Pair-Id, Azure SAS sig, GCS X-Goog-*) and the
//     distribution upload _state are therefore covered without naming them.
//     Keys and their order are kept. A userinfo password becomes REDACTED; a
//     userinfo without a password is treated as a token (https://TOKEN@host)
//     and replaced whole. Fragments are dropped: OAuth implicit flows carry
//     tokens there.
//   - Bodies: JSON token fields (token, access_token, refresh_token, id_token,
//     identity_token, and Docker's identitytoken and registrytoken) like
//     bearer tokens, and password fields (password, secret, client_secret,
//     Docker's auth) as REDACTED, at any depth and in any case; form fields
//     password, client_secret, code, refresh_token, access_token, token; any
//     other text as Text. A body cut short by the capture limit is not valid
//     JSON, so JSON that does not parse is scrubbed textually.
//   - Free text (error messages, logs, HTML) as Text: JWT signatures,
//     "Basic …"/"Bearer …" credentials, "Authorization:", "Cookie:" and
//     "Set-Cookie:" lines, well-known token formats (ghp_…, glpat-…,
//     dckr_pat_…), token fields of JSON embedded in the text (also
//     JSON-escaped), every URL and the query of every absolute path.
//
// Passwords and other guessable secrets are never hashed, only tokens: a
// 32-bit hash prefix is enough to test a dictionary against.
//
// What is never redacted, because it is the evidence and carries no secret:
// WWW-Authenticate and Proxy-Authenticate (realm, service, scope and error are
// what explain reasons about; unlike Dev Proxy, regtrace keeps them),
// Docker-Distribution-Api-Version, Docker-Content-Digest, RateLimit-*,
// Docker-RateLimit-Source, Retry-After, Content-Type, Content-Length, URL
// paths, user names, JWT claims, and empty values (an empty password or token
// is a finding, not a secret).
//
// Every function is idempotent (redacting twice gives the same result as
// redacting once) and never modifies its input. The markers it writes,
// REDACTED, REDACTED(len=N,sha256:8hex) and REDACTED(user=NAME), are
// recognised and left alone on a second pass.
package redact
