package redact

import (
	"net/url"
	"strings"
)

// queryAllowlist names the query parameters whose values are kept: the
// registry protocol's own (token service: scope, service, account, client_id,
// offline_token, grant_type, access_type; distribution: mount, from, digest,
// n, last, ns, artifactType, tag). They name repositories, digests and
// accounts, which a trace needs and which are not secret. Every other value
// is a possible signature (S3 X-Amz-*, CloudFront Signature/Policy/Key-Pair-Id,
// Azure SAS sig/se/sp, GCS X-Goog-*, the distribution upload _state), so the
// list allows rather than denies, as go-containerregistry's redact does.
var queryAllowlist = []string{
	"scope", "service", "account", "client_id", "offline_token",
	"mount", "from", "digest", "n", "last", "ns",
	"grant_type", "access_type", "artifactType", "tag",
}

func allowedQueryKey(rawKey string) bool {
	k, err := url.QueryUnescape(rawKey)
	if err != nil {
		k = rawKey
	}
	for _, a := range queryAllowlist {
		if strings.EqualFold(k, a) {
			return true
		}
	}
	return false
}

// URL returns a redacted copy of u: a userinfo password becomes REDACTED (a
// userinfo without a password is taken for a token, as in
// https://TOKEN@github.com, and replaced whole), query values outside the
// allowlist become REDACTED with keys and order kept, a JWT in the path loses
// its signature, and the fragment is dropped. nil gives nil.
func URL(u *url.URL) *url.URL {
	if u == nil {
		return nil
	}
	c := *u
	if u.User != nil {
		if p, ok := u.User.Password(); !ok {
			c.User = url.User(Mark)
		} else if p != "" {
			c.User = url.UserPassword(u.User.Username(), Mark)
		}
	}
	if c.Opaque != "" && !strings.HasPrefix(c.Opaque, "/") {
		// "https:user:pass@host/x" parses with the authority in Opaque.
		c.Opaque = strings.TrimPrefix(scrubURL("//"+c.Opaque), "//")
	}
	c.Path = stripJWTs(c.Path)
	c.RawPath = stripJWTs(c.RawPath)
	c.RawQuery = scrubQuery(c.RawQuery)
	c.Fragment, c.RawFragment = "", ""
	return &c
}

// URLString is URL for a URL held as a string (Location, Referer, a URL in a
// message). It works on the text, so the URL is not re-encoded and a string
// that does not parse is still scrubbed: the authority's userinfo, the query
// and the fragment are found the way a lenient parser would, and the result
// then goes through Text.
func URLString(s string) string {
	return Text(scrubURL(s))
}

// scrubURL redacts the userinfo, the query and the fragment of a URL-shaped
// string. It never fails: whatever does not look like a URL is left as it is.
// JSON-escaped slashes (https:\/\/host\/path) are understood.
func scrubURL(s string) string {
	// No userinfo, query or fragment: nothing to scrub or drop.
	if !strings.ContainsAny(s, "@?#") {
		return s
	}
	authStart := -1
	if i := strings.Index(s, "://"); i >= 0 && !strings.ContainsAny(s[:i], "/?#") {
		authStart = i + 3
	} else if i := strings.Index(s, `:\/\/`); i >= 0 && !strings.ContainsAny(s[:i], "/?#") {
		authStart = i + 5
	} else if strings.HasPrefix(s, "//") {
		authStart = 2
	}
	var b strings.Builder
	rest := s
	if authStart >= 0 {
		// The authority ends at the path or the query. A '#' does not end it
		// here: a password may hold a raw '#', and dropping everything after
		// it would keep the start of the password.
		end := len(s)
		if j := strings.IndexAny(s[authStart:], `/?\`); j >= 0 {
			end = authStart + j
		}
		b.WriteString(s[:authStart])
		auth := s[authStart:end]
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			b.WriteString(scrubUserinfo(auth[:at]))
			auth = auth[at:]
		}
		rest = auth + s[end:]
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	path, query, ok := strings.Cut(rest, "?")
	b.WriteString(path)
	if ok {
		b.WriteByte('?')
		b.WriteString(scrubQuery(query))
	}
	return b.String()
}

// scrubUserinfo keeps the user name before a password and replaces the
// password; a userinfo that is only a name is replaced whole.
func scrubUserinfo(ui string) string {
	if ui == "" {
		return ui
	}
	user, pass, ok := strings.Cut(ui, ":")
	if !ok {
		return Mark
	}
	if pass == "" {
		return ui
	}
	return user + ":" + Mark
}

// scrubQuery redacts a raw query string item by item, keeping separators,
// keys and order. Both '&' and ';' separate items: Go rejects ';' but other
// servers split on it, and treating it as a separator only redacts more. An
// allowlisted value is kept unless it holds a backslash: in JSON-escaped text
// "n=1\u0026sig=…" is one item to us but two to the reader. An empty value
// stays empty; an item without '=' is a value without a key and is replaced
// unless it is an allowlisted key.
func scrubQuery(q string) string {
	if q == "" {
		return q
	}
	var b strings.Builder
	for {
		i := strings.IndexAny(q, "&;")
		item := q
		if i >= 0 {
			item = q[:i]
		}
		b.WriteString(scrubQueryItem(item))
		if i < 0 {
			break
		}
		b.WriteByte(q[i])
		q = q[i+1:]
	}
	return b.String()
}

func scrubQueryItem(item string) string {
	if item == "" {
		return item
	}
	k, v, ok := strings.Cut(item, "=")
	if !ok {
		if allowedQueryKey(k) {
			return item
		}
		return Mark
	}
	if v == "" || v == Mark || allowedQueryKey(k) && !strings.Contains(v, `\`) {
		return item
	}
	return k + "=" + Mark
}
