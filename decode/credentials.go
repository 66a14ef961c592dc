package decode

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// redactBasicRE matches decode/redact's marker for Basic credentials,
// REDACTED(user=NAME), NAME %-escaped outside [A-Za-z0-9._@+~-].
var redactBasicRE = regexp.MustCompile(`^REDACTED\(user=([A-Za-z0-9._@+~%-]*)\)$`)

// ParseAuthorization reads the value of an Authorization header, live or as
// decode/redact wrote it, and returns what it says without the secret:
//
//	Basic dXNlcjpwYXNz          -> Scheme Basic, User "user"
//	Basic Og==                  -> Scheme Basic, Empty (no user, no password)
//	Basic REDACTED(user=alice)  -> Scheme Basic, User "alice", Redacted
//	Bearer <token>              -> Scheme Bearer, TokenID (see TokenID)
//	Bearer h.c.REDACTED         -> Scheme Bearer, TokenID "h.c", Redacted
//
// Basic credentials that are not base64 of "user:password" have no User.
// A redacted "Basic REDACTED(user=)" has an empty User, but whether its
// password was empty too (Og==) is not known, so Empty stays false. A single
// word that is not a scheme name is taken for a token sent without a scheme:
// Scheme is empty and TokenID is set. The password or token itself is never
// returned or kept.
func ParseAuthorization(value string) Credentials {
	v := strings.Trim(value, " \t")
	if v == "" {
		return Credentials{}
	}
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		if isSchemeName(v) {
			return Credentials{Scheme: v}
		}
		return Credentials{TokenID: TokenID(v), Redacted: isRedactedToken(v)}
	}
	cr := Credentials{Scheme: v[:i]}
	cred := strings.Trim(v[i:], " \t")
	switch strings.ToLower(cr.Scheme) {
	case "basic":
		switch m := redactBasicRE.FindStringSubmatch(cred); {
		case m != nil:
			cr.User, cr.Redacted = percentUnescape(m[1]), true
		case cred == redactMark:
			cr.Redacted = true
		default:
			b, ok := decodeBasicToken(cred)
			user, _, found := strings.Cut(string(b), ":")
			switch {
			case !ok || !found:
				// Not base64 of user-id ":" password (RFC 7617 §2).
				cr.Malformed = true
			case user == "" && len(b) > 1:
				// A password without a user name: a mangled login.
				cr.Malformed = true
			default:
				cr.User = user
				cr.Empty = len(b) == 1
			}
		}
	case "bearer":
		cr.TokenID = TokenID(cred)
		cr.Redacted = isRedactedToken(cred)
	default:
		cr.Redacted = cred == redactMark
	}
	return cr
}

// isSchemeName reports whether a one-word Authorization value is an auth
// scheme sent without credentials.
func isSchemeName(v string) bool {
	switch strings.ToLower(v) {
	case "basic", "bearer", "digest", "negotiate", "ntlm", "token", "aws4-hmac-sha256":
		return true
	}
	return false
}

// decodeBasicToken decodes Basic credentials (RFC 7617), leniently: standard
// or URL-safe alphabet, with or without padding.
func decodeBasicToken(cred string) ([]byte, bool) {
	s := strings.TrimRight(cred, "=")
	if s == "" {
		return nil, false
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// percentUnescape undoes %XX escapes; a malformed escape is kept as is.
func percentUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// ParseTokenRequest reads a request to a token server: a GET with query
// parameters (service, scope — repeated, and each value may itself hold
// several space-separated scopes —, account, client_id, offline_token), or an
// OAuth2 POST with an application/x-www-form-urlencoded body (grant_type,
// service, scope space-separated, client_id, access_type, username, password,
// refresh_token). Query parameters are read for a POST too; form fields win.
// The password and refresh token are only noted as present (HasPassword,
// HasRefreshToken): their values are never kept, nor quoted in an Issue.
// Auth is ParseAuthorization of the Authorization header.
//
// ParseTokenRequest is total: unparsable scopes, a POST body that is not a
// form, missing (not captured) or truncated, and malformed form fields
// become Issues.
func ParseTokenRequest(method string, query url.Values, header http.Header, contentType string, body []byte, bodyTruncated bool) (*TokenRequest, []Issue) {
	tr := &TokenRequest{Method: strings.ToUpper(method)}
	var issues []Issue
	if header != nil {
		tr.Auth = ParseAuthorization(header.Get("Authorization"))
	}
	addScopes := func(v string) {
		sc, is := ParseScopes(v)
		tr.Scopes = append(tr.Scopes, sc...)
		issues = append(issues, is...)
	}
	tr.Service = query.Get("service")
	for _, v := range query["scope"] {
		addScopes(v)
	}
	tr.Account = query.Get("account")
	tr.ClientID = query.Get("client_id")
	if v := query.Get("offline_token"); v != "" {
		b, err := strconv.ParseBool(v)
		tr.OfflineToken = b
		if err != nil {
			issues = append(issues, Issue{Where: "token request", What: "offline_token is not a boolean", Raw: clip(v)})
		}
	}
	if tr.Method != http.MethodPost {
		return tr, issues
	}

	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case len(body) == 0 && bodyTruncated:
		return tr, append(issues, Issue{Where: "token request", What: "POST body was not captured: form fields unknown"})
	case len(body) == 0:
		return tr, append(issues, Issue{Where: "token request", What: "POST without a body: no grant_type or other form fields"})
	case mt == "":
		issues = append(issues, Issue{Where: "token request", What: "POST body has no Content-Type; read as a form"})
	case mt != "application/x-www-form-urlencoded":
		return tr, append(issues, Issue{Where: "token request", What: "POST body is not application/x-www-form-urlencoded: form fields unknown", Raw: clip(contentType)})
	}

	form := string(body)
	last := ""
	if bodyTruncated {
		// The last field may be cut short: note only which secret it
		// carried, if any.
		if j := strings.LastIndexByte(form, '&'); j >= 0 {
			form, last = form[:j], form[j+1:]
		} else {
			form, last = "", form
		}
		issues = append(issues, Issue{Where: "token request", What: fmt.Sprintf("POST body truncated after %d bytes: fields after that are unknown", len(body))})
	}
	seen := map[string]bool{}
	for i, pair := range strings.Split(form, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			issues = append(issues, Issue{Where: "token request", What: fmt.Sprintf("form field %d: malformed %%-escape in its name", i+1)})
			continue
		}
		if secret := formSecret(key); secret {
			// Never unescape or quote a secret.
			markSecret(tr, key, rawVal, &issues)
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			issues = append(issues, Issue{Where: "token request", What: fmt.Sprintf("form field %q: malformed %%-escape in its value", clip(key))})
			continue
		}
		if key == "scope" {
			addScopes(val)
			continue
		}
		if seen[key] {
			continue // first value wins, as url.Values.Get
		}
		seen[key] = true
		switch key {
		case "grant_type":
			tr.GrantType = val
		case "service":
			tr.Service = val
		case "client_id":
			tr.ClientID = val
		case "access_type":
			tr.AccessType = val
		case "username":
			tr.Username = val
		case "account":
			if tr.Account == "" {
				tr.Account = val
			}
		}
	}
	if last != "" {
		if k, v, ok := strings.Cut(last, "="); ok {
			if key, err := url.QueryUnescape(k); err == nil && formSecret(key) && v != "" {
				markSecret(tr, key, v, &issues)
			}
		}
	}
	return tr, issues
}

// formSecret reports whether a form field holds a secret whose value must
// not be kept.
func formSecret(key string) bool {
	switch key {
	case "password", "refresh_token", "client_secret", "code", "code_verifier", "secret", "access_token", "id_token":
		return true
	}
	return false
}

// markSecret records that the form carried a secret field.
func markSecret(tr *TokenRequest, key, rawVal string, issues *[]Issue) {
	if rawVal == "" {
		switch key {
		case "password", "refresh_token":
			*issues = append(*issues, Issue{Where: "token request", What: key + " field is empty"})
		}
		return
	}
	switch key {
	case "password":
		tr.HasPassword = true
	case "refresh_token":
		tr.HasRefreshToken = true
	}
}
