package decode

import (
	"net/http"
	"net/url"
	"strings"
)

// Kind is what an exchange is, in registry terms.
type Kind uint8

const (
	KindOther Kind = iota
	KindPing
	KindManifestGet
	KindManifestHead
	KindManifestPut
	KindManifestDelete
	KindBlobGet
	KindBlobHead
	KindBlobDelete
	KindUploadStart
	KindUploadChunk
	KindUploadFinish
	KindUploadStatus
	KindUploadCancel
	KindBlobMount
	KindTagsList
	KindCatalog
	KindReferrers
	KindTokenRequest
	KindBlobRedirect
	KindV1Ping
	KindV1Images
	KindV1Tags
	KindV1Search
	KindV1Users
	KindV1Other
	// KindTunnel is a CONNECT: a proxy's record of a tunnel it tried to
	// open (regtrace and mitmproxy record one that failed).
	KindTunnel
)

// kindNames are stable: they appear in HAR files, reports and tickets.
var kindNames = [...]string{
	KindOther:          "other",
	KindPing:           "ping",
	KindManifestGet:    "manifest-get",
	KindManifestHead:   "manifest-head",
	KindManifestPut:    "manifest-put",
	KindManifestDelete: "manifest-delete",
	KindBlobGet:        "blob-get",
	KindBlobHead:       "blob-head",
	KindBlobDelete:     "blob-delete",
	KindUploadStart:    "upload-start",
	KindUploadChunk:    "upload-chunk",
	KindUploadFinish:   "upload-finish",
	KindUploadStatus:   "upload-status",
	KindUploadCancel:   "upload-cancel",
	KindBlobMount:      "blob-mount",
	KindTagsList:       "tags-list",
	KindCatalog:        "catalog",
	KindReferrers:      "referrers",
	KindTokenRequest:   "token-request",
	KindBlobRedirect:   "blob-redirect",
	KindV1Ping:         "v1-ping",
	KindV1Images:       "v1-images",
	KindV1Tags:         "v1-tags",
	KindV1Search:       "v1-search",
	KindV1Users:        "v1-users",
	KindV1Other:        "v1-other",
	KindTunnel:         "tunnel",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

// ParseKind is the inverse of String; unknown names give KindOther, false.
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n == s {
			return Kind(k), true
		}
	}
	return KindOther, false
}

// IsV1 reports whether the kind is a V1 registry API endpoint.
func (k Kind) IsV1() bool { return k >= KindV1Ping && k <= KindV1Other }

// IsManifest reports whether the kind is a manifest operation.
func (k Kind) IsManifest() bool { return k >= KindManifestGet && k <= KindManifestDelete }

// IsBlob reports whether the kind reads, writes or deletes a blob.
func (k Kind) IsBlob() bool {
	return k >= KindBlobGet && k <= KindBlobMount || k == KindBlobRedirect
}

// IsRegistry reports whether the kind is a V2 registry API request (the
// ones that need a token scope).
func (k Kind) IsRegistry() bool { return k >= KindPing && k <= KindReferrers }

// route is what the URL path alone says.
type route struct {
	kind Kind
	repo string
	ref  string // tag or digest, upload session ID, or mount digest
	from string // mount source repository
	// need and realmKey are the scopes the request needs and its URL's
	// RealmKey, worked out with the route (on every core in DecodeAll)
	// for the in-order part of decoding to use.
	need     []Scope
	realmKey string
}

// classifyPath maps a method and URL to a registry endpoint, per the OCI
// distribution spec's endpoint table (end-1 … end-13) and the V1 API that
// docker fell back to. Repository names may have several components, so the
// path is read from its end: /v2/<name>/manifests/<reference>.
func classifyPath(method string, u *url.URL) route {
	p := u.Path
	if p == "" {
		p = "/"
	}
	switch {
	case p == "/v2" || p == "/v2/":
		return route{kind: KindPing}
	case p == "/v2/_catalog":
		return route{kind: KindCatalog}
	case strings.HasPrefix(p, "/v2/"):
		return classifyV2(method, u, strings.TrimPrefix(p, "/v2/"))
	case strings.HasPrefix(p, "/v1/") || p == "/v1":
		return classifyV1(strings.TrimPrefix(p, "/v1"))
	}
	return route{kind: KindOther}
}

func classifyV2(method string, u *url.URL, rest string) route {
	segs := strings.Split(rest, "/")
	n := len(segs)
	name := func(k int) string { return strings.Join(segs[:k], "/") }
	switch {
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		return named(route{kind: KindTagsList, repo: name(n - 2)})
	case n >= 3 && segs[n-2] == "manifests":
		k := KindManifestGet
		switch method {
		case http.MethodHead:
			k = KindManifestHead
		case http.MethodPut:
			k = KindManifestPut
		case http.MethodDelete:
			k = KindManifestDelete
		}
		return named(route{kind: k, repo: name(n - 2), ref: segs[n-1]})
	case n >= 3 && segs[n-2] == "referrers":
		return named(route{kind: KindReferrers, repo: name(n - 2), ref: segs[n-1]})
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		r := route{repo: name(n - 3), ref: segs[n-1]}
		if segs[n-1] == "" {
			return named(uploadStart(method, u, r))
		}
		switch method {
		case http.MethodPatch:
			r.kind = KindUploadChunk
		case http.MethodPut:
			r.kind = KindUploadFinish
		case http.MethodDelete:
			r.kind = KindUploadCancel
		default:
			r.kind = KindUploadStatus
		}
		return named(r)
	case n >= 3 && segs[n-2] == "blobs":
		if segs[n-1] == "uploads" {
			return named(uploadStart(method, u, route{repo: name(n - 2)}))
		}
		k := KindBlobGet
		switch method {
		case http.MethodHead:
			k = KindBlobHead
		case http.MethodDelete:
			k = KindBlobDelete
		}
		return named(route{kind: k, repo: name(n - 2), ref: segs[n-1]})
	}
	return route{kind: KindOther}
}

// uploadStart is POST /v2/<name>/blobs/uploads/, or a mount when the query
// has mount= (and usually from=).
func uploadStart(method string, u *url.URL, r route) route {
	q := u.Query()
	if m := q.Get("mount"); m != "" && method == http.MethodPost {
		r.kind, r.ref, r.from = KindBlobMount, m, q.Get("from")
		return r
	}
	r.kind = KindUploadStart
	r.ref = q.Get("digest")
	return r
}

// named drops a route whose repository name is empty (e.g. /v2//manifests/x).
func named(r route) route {
	if r.repo == "" || strings.HasPrefix(r.repo, "/") || strings.Contains(r.repo, "//") {
		return route{kind: KindOther}
	}
	return r
}

// classifyV1 reads the V1 endpoints docker used before it dropped V1
// (removed in docker 17.12): _ping, repositories/<name>/images|tags, search,
// users.
func classifyV1(rest string) route {
	switch {
	case rest == "/_ping":
		return route{kind: KindV1Ping}
	case rest == "/search" || strings.HasPrefix(rest, "/search/"):
		return route{kind: KindV1Search}
	case rest == "/users" || strings.HasPrefix(rest, "/users/"):
		return route{kind: KindV1Users}
	case strings.HasPrefix(rest, "/repositories/"):
		r := strings.TrimPrefix(rest, "/repositories/")
		if i := strings.LastIndex(r, "/images"); i > 0 && r[i:] == "/images" {
			return route{kind: KindV1Images, repo: r[:i]}
		}
		if i := strings.LastIndex(r, "/tags"); i > 0 {
			tail := r[i+len("/tags"):]
			if tail == "" || strings.HasPrefix(tail, "/") && !strings.Contains(tail[1:], "/") {
				return route{kind: KindV1Tags, repo: r[:i], ref: strings.TrimPrefix(tail, "/")}
			}
		}
	}
	return route{kind: KindV1Other}
}

// needs returns the scopes a registry request needs, per distribution's
// registry/handlers/app.go appendAccessRecords: GET/HEAD pull, POST/PUT/PATCH
// pull and push, DELETE delete, the catalog registry:catalog:*, and a mount
// also pull on its source repository.
func needs(method string, r route) []Scope {
	switch {
	case r.kind == KindCatalog:
		return []Scope{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}
	case r.kind == KindPing || r.repo == "" || !r.kind.IsRegistry():
		return nil
	}
	var acts []string
	switch method {
	case http.MethodGet, http.MethodHead:
		acts = []string{"pull"}
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		acts = []string{"pull", "push"}
	case http.MethodDelete:
		acts = []string{"delete"}
	default:
		return nil
	}
	out := []Scope{{Type: "repository", Name: r.repo, Actions: acts}}
	if r.kind == KindBlobMount && r.from != "" {
		out = append(out, Scope{Type: "repository", Name: r.from, Actions: []string{"pull"}})
	}
	return out
}
