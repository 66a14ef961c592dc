package redact

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// makeJWT builds a real HS256 JWT (RFC 7519 §3.1) from claims.
func makeJWT(claims string) (token, headerClaims, sig string) {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	c := enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte("registry-signing-key"))
	mac.Write([]byte(h + "." + c))
	sig = enc.EncodeToString(mac.Sum(nil))
	return h + "." + c + "." + sig, h + "." + c, sig
}

const dockerClaims = `{"iss":"auth.docker.io","sub":"alice","aud":"registry.docker.io","exp":1700000300,"access":[{"type":"repository","name":"library/alpine","actions":["pull"]}]}`

var (
	jwtToken, jwtHeaderClaims, jwtSig = makeJWT(dockerClaims)

	ghcrToken = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" // 40 bytes, GitHub PAT shape
	// ecrToken has the shape of an ECR GetAuthorizationToken password: long
	// base64 with + / and padding.
	ecrToken = strings.Repeat("eHh4K3l5eS96enp8", 80) + "QUJD+/=="
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func opaqueOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("REDACTED(len=%d,sha256:%s)", len(s), hex.EncodeToString(sum[:])[:8])
}

func TestAuthorization(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"basic keeps the user name", basic("alice", "hunter2-Pa55"), "Basic REDACTED(user=alice)"},
		{"basic with an email user", basic("alice@example.com", "pw"), "Basic REDACTED(user=alice@example.com)"},
		{"basic escapes odd user names", basic("a b(c)", "pw"), "Basic REDACTED(user=a%20b%28c%29)"},
		{"basic with a colon in the password", basic("AWS", "tok:en"), "Basic REDACTED(user=AWS)"},
		{"basic with an empty password", basic("alice", ""), "Basic REDACTED(user=alice)"},
		{"basic without padding", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("bob:secret1")), "Basic REDACTED(user=bob)"},
		{"basic that is not user:password", "Basic " + base64.StdEncoding.EncodeToString([]byte("just-a-token")), "Basic REDACTED"},
		{"basic that is not base64", "Basic !!not base64!!", "Basic REDACTED"},
		{"lower-case scheme is kept as written", "basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), "basic REDACTED(user=u)"},
		{"bearer JWT keeps header and claims", "Bearer " + jwtToken, "Bearer " + jwtHeaderClaims + ".REDACTED"},
		{"bearer GHCR token", "Bearer " + ghcrToken, "Bearer " + opaqueOf(ghcrToken)},
		{"bearer ECR-style base64 token", "Bearer " + ecrToken, "Bearer " + opaqueOf(ecrToken)},
		{"extra spaces are normalised", "  Bearer \t " + ghcrToken + " ", "Bearer " + opaqueOf(ghcrToken)},
		{"other scheme keeps its name", "token " + ghcrToken, "token REDACTED"},
		{"aws sigv4", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abcdef0123", "AWS4-HMAC-SHA256 REDACTED"},
		{"scheme alone is kept", "Bearer", "Bearer"},
		{"bare token", ghcrToken, opaqueOf(ghcrToken)},
		{"bare JWT", jwtToken, jwtHeaderClaims + ".REDACTED"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Authorization(tt.in)
			if got != tt.want {
				t.Errorf("Authorization(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Authorization(got); again != got {
				t.Errorf("Authorization not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestJWT(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"HS256 token", jwtToken, jwtHeaderClaims + ".REDACTED", true},
		{"already stripped", jwtHeaderClaims + ".REDACTED", jwtHeaderClaims + ".REDACTED", true},
		{"unsigned token is kept", jwtHeaderClaims + ".", jwtHeaderClaims + ".", true},
		{"two parts", jwtHeaderClaims, jwtHeaderClaims, false},
		{"JWE has five parts", jwtToken + ".x.y", jwtToken + ".x.y", false},
		{"header not JSON", enc([]byte("nope")) + "." + enc([]byte("{}")) + ".sig", enc([]byte("nope")) + "." + enc([]byte("{}")) + ".sig", false},
		{"JSON array is not a JWT part", enc([]byte("[1]")) + "." + enc([]byte("{}")) + ".sig", enc([]byte("[1]")) + "." + enc([]byte("{}")) + ".sig", false},
		{"opaque", ghcrToken, ghcrToken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := JWT(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("JWT(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestOpaque(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"token", ghcrToken, opaqueOf(ghcrToken)},
		{"fixed value", "abc", "REDACTED(len=3,sha256:ba7816bf)"},
		{"empty stays empty", "", ""},
		{"mark is kept", Mark, Mark},
		{"opaque marker is kept", opaqueOf("x"), opaqueOf("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Opaque(tt.in); got != tt.want {
				t.Errorf("Opaque(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if Opaque("same") != Opaque("same") || Opaque("same") == Opaque("other") {
		t.Error("Opaque must show when two flows share a token and when they do not")
	}
}

func TestHeader(t *testing.T) {
	challenge := `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull",error="insufficient_scope"`
	tests := []struct {
		name, header, in, want string
	}{
		{"WWW-Authenticate is evidence and never redacted", "WWW-Authenticate", challenge, challenge},
		{"www-authenticate in HTTP/2 case", "www-authenticate", challenge, challenge},
		{"Proxy-Authenticate is never redacted", "Proxy-Authenticate", `Basic realm="corp proxy"`, `Basic realm="corp proxy"`},
		{"Docker-Content-Digest is kept", "Docker-Content-Digest", "sha256:" + strings.Repeat("ab", 32), "sha256:" + strings.Repeat("ab", 32)},
		{"RateLimit headers are kept", "RateLimit-Remaining", "76;w=21600", "76;w=21600"},
		{"Docker-RateLimit-Source is kept", "Docker-RateLimit-Source", "203.0.113.7", "203.0.113.7"},
		{"Content-Type is kept", "Content-Type", "application/json; charset=utf-8", "application/json; charset=utf-8"},
		{"Authorization", "Authorization", basic("alice", "pw1"), "Basic REDACTED(user=alice)"},
		{"authorization in any case", "AUTHORIZATION", "Bearer " + jwtToken, "Bearer " + jwtHeaderClaims + ".REDACTED"},
		{"Proxy-Authorization", "proxy-authorization", basic("corp", "pw2"), "Basic REDACTED(user=corp)"},
		{"Cookie keeps names", "Cookie", "session=abc123secret; __cfduid=d41d8cd98f00b204", "session=REDACTED; __cfduid=REDACTED"},
		{"Cookie with a bare value", "Cookie", "lonevalue", "REDACTED"},
		{"Set-Cookie keeps name and attributes", "Set-Cookie",
			"__cf_bm=sEcReTvAlUe.123-456; path=/; expires=Wed, 21 Oct 2015 07:28:00 GMT; domain=.docker.com; HttpOnly; Secure; SameSite=None; Max-Age=1800",
			"__cf_bm=REDACTED; path=/; expires=Wed, 21 Oct 2015 07:28:00 GMT; domain=.docker.com; HttpOnly; Secure; SameSite=None; Max-Age=1800"},
		{"Set-Cookie with a Netscape date", "Set-Cookie", "a=b; Expires=Thu, 01-Jan-2026 00:00:00 GMT", "a=REDACTED; Expires=Thu, 01-Jan-2026 00:00:00 GMT"},
		{"Set-Cookie joined by a HAR tool hides no second value", "Set-Cookie", "a=1; Path=/, b=sEcReT2; Path=/", "a=REDACTED; Path=REDACTED; Path=/"},
		{"Set-Cookie unknown attribute", "Set-Cookie", "a=1; Comment=secretish", "a=REDACTED; Comment=REDACTED"},
		{"X-Api-Key", "X-Api-Key", "k-1234567890", opaqueOf("k-1234567890")},
		{"X-Registry-Auth", "X-Registry-Auth", "eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ==", opaqueOf("eyJ1c2VybmFtZSI6ImEiLCJwYXNzd29yZCI6ImIifQ==")},
		{"X-Amz-Security-Token", "x-amz-security-token", "FwoGZXIvYXdzEBYaDH", opaqueOf("FwoGZXIvYXdzEBYaDH")},
		{"any name with token", "X-Custom-Token", "t0k3n", opaqueOf("t0k3n")},
		{"any name with session", "X-Session-Id", "s355", opaqueOf("s355")},
		{"any name with apikey", "Apikey", "k", opaqueOf("k")},
		{"a password header is never hashed", "X-Registry-Password", "hunter2", "REDACTED"},
		{"a JWT in a token header keeps its claims", "X-Auth-Token", jwtToken, jwtHeaderClaims + ".REDACTED"},
		{"token expiry is safe", "X-GitHub-Authentication-Token-Expiration", "2026-01-01 00:00:00 UTC", "2026-01-01 00:00:00 UTC"},
		{"Location with a presigned URL", "Location", "https://s3.amazonaws.com/b/k?X-Amz-Signature=abc", "https://s3.amazonaws.com/b/k?X-Amz-Signature=REDACTED"},
		{"Referer", "Referer", "https://u:pw@example.com/x?token=t", "https://u:REDACTED@example.com/x?token=REDACTED"},
		{"Link pagination is kept", "Link", `</v2/_catalog?last=alpine&n=100>; rel="next"`, `</v2/_catalog?last=alpine&n=100>; rel="next"`},
		{"Link with a signed URL", "Link", `<https://cdn.example.com/x?sig=abc>; rel="alternate"`, `<https://cdn.example.com/x?sig=REDACTED>; rel="alternate"`},
		{"h2 :path", ":path", "/v2/alpine/blobs/uploads/1?_state=abc", "/v2/alpine/blobs/uploads/1?_state=REDACTED"},
		{"other headers go through Text", "X-Debug", "upstream said Bearer " + ghcrToken, "upstream said Bearer " + opaqueOf(ghcrToken)},
		{"User-Agent is untouched", "User-Agent", "docker/27.0.3 go/go1.22.4 git-commit/662f78c kernel/6.5 os/linux arch/amd64", "docker/27.0.3 go/go1.22.4 git-commit/662f78c kernel/6.5 os/linux arch/amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Header(tt.header, tt.in)
			if got != tt.want {
				t.Errorf("Header(%q, %q)\n got %q\nwant %q", tt.header, tt.in, got, tt.want)
			}
			if again := Header(tt.header, got); again != got {
				t.Errorf("Header not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	if Headers(nil) != nil {
		t.Error("Headers(nil) != nil")
	}
	in := http.Header{
		"Authorization":    {basic("alice", "pw-s3cret")},
		"Www-Authenticate": {`Bearer realm="r"`},
		"cookie":           {"a=cookie-s3cret"},
		"X-Empty":          nil,
	}
	before := fmt.Sprint(in)
	got := Headers(in)
	if fmt.Sprint(in) != before {
		t.Errorf("Headers modified its input: %v", in)
	}
	want := http.Header{
		"Authorization":    {"Basic REDACTED(user=alice)"},
		"Www-Authenticate": {`Bearer realm="r"`},
		"cookie":           {"a=REDACTED"},
		"X-Empty":          nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Headers = %v, want %v", got, want)
	}
	got["Authorization"][0] = "x"
	if in["Authorization"][0] == "x" {
		t.Error("Headers shares value slices with its input")
	}
}

func TestURLString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"S3 presigned redirect",
			"https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/abcd-1234/5e2b?X-Amz-Security-Token=FwoGZXIvYXdzEBYaDHsecret%2Ftoken&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Credential=ASIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0123456789abcdef",
			"https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/abcd-1234/5e2b?X-Amz-Security-Token=REDACTED&X-Amz-Algorithm=REDACTED&X-Amz-Date=REDACTED&X-Amz-SignedHeaders=REDACTED&X-Amz-Expires=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"CloudFront signed URL",
			"https://d111111abcdef8.cloudfront.net/registry-v2/blobs/sha256/ab/abcd/data?Expires=1700000000&Policy=eyJTdGF0ZW1lbnQiOlt7fV19&Signature=Nql641NHEUkUaXQHZINK1FZ~SYeUSoBJMxjdgqrzIdzV2gyEXPDNv0pYdWJkflDKJ3xIu7lbwRpSkG98NBlgPi4ZJpRRnVX4kXAJK6tdNx6FucDB7OVqzcxkxHsGFd8VCG1BkC-Afh9~lOCMIYHIaiOB6~5jt9w2EOwi6sIIqrg_&Key-Pair-Id=APKAEIBAERJR2EXAMPLE",
			"https://d111111abcdef8.cloudfront.net/registry-v2/blobs/sha256/ab/abcd/data?Expires=REDACTED&Policy=REDACTED&Signature=REDACTED&Key-Pair-Id=REDACTED"},
		{"Azure SAS",
			"https://myacr.blob.core.windows.net/blobs/x?sv=2021-08-06&se=2024-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=AbC%2BdEf%3D",
			"https://myacr.blob.core.windows.net/blobs/x?sv=REDACTED&se=REDACTED&sr=REDACTED&sp=REDACTED&sig=REDACTED"},
		{"GCS signed URL",
			"https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=abcd",
			"https://storage.googleapis.com/b/o?X-Goog-Algorithm=REDACTED&X-Goog-Credential=REDACTED&X-Goog-Signature=REDACTED"},
		{"distribution upload _state, relative",
			"/v2/library/alpine/blobs/uploads/8a2b?_state=eyJOYW1lIjoibGlicmFyeS9hbHBpbmUifQ%3D%3D",
			"/v2/library/alpine/blobs/uploads/8a2b?_state=REDACTED"},
		{"userinfo password", "https://alice:pw-s3cret@registry.example.com/v2/", "https://alice:REDACTED@registry.example.com/v2/"},
		{"userinfo without password is a token", "https://ghp_tok3n@github.com/org/repo", "https://REDACTED@github.com/org/repo"},
		{"token query", "https://auth.example.com/token?service=registry.example.com&scope=repository:a/b:pull&account=alice&offline_token=true&client_id=docker",
			"https://auth.example.com/token?service=registry.example.com&scope=repository:a/b:pull&account=alice&offline_token=true&client_id=docker"},
		{"query order and repeated keys preserved",
			"https://h/token?scope=b&password=x&scope=a&Signature=y&service=s",
			"https://h/token?scope=b&password=REDACTED&scope=a&Signature=REDACTED&service=s"},
		{"mount and from kept", "/v2/b/blobs/uploads/?mount=sha256:abc&from=library/a", "/v2/b/blobs/uploads/?mount=sha256:abc&from=library/a"},
		{"digest and tag kept", "/v2/r/blobs/uploads/u?digest=sha256%3Aab&tag=v1&artifactType=application%2Fjson", "/v2/r/blobs/uploads/u?digest=sha256%3Aab&tag=v1&artifactType=application%2Fjson"},
		{"semicolons separate too", "/x?n=1;sig=abc", "/x?n=1;sig=REDACTED"},
		{"item without key", "https://h/x?s3cretvalue", "https://h/x?REDACTED"},
		{"empty value stays", "https://h/x?sig=", "https://h/x?sig="},
		{"fragment dropped", "https://h/cb#access_token=abc&state=x", "https://h/cb"},
		{"password with a raw #", "https://u:p#ss@h/x", "https://u:REDACTED@h/x"},
		{"no URL at all", "not a url", "not a url"},
		{"JSON-escaped", `https:\/\/u:pw@h\/x?sig=abc`, `https:\/\/u:REDACTED@h\/x?sig=REDACTED`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := URLString(tt.in)
			if got != tt.want {
				t.Errorf("URLString(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := URLString(got); again != got {
				t.Errorf("URLString not idempotent: %q -> %q", got, again)
			}
			u, err := url.Parse(tt.in)
			if err != nil {
				return
			}
			r := URL(u)
			if u.String() != mustParse(t, tt.in).String() {
				t.Errorf("URL modified its input: %v", u)
			}
			if got := r.String(); strings.Contains(tt.in, "://") && got != tt.want {
				t.Errorf("URL(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
	if URL(nil) != nil {
		t.Error("URL(nil) != nil")
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestURLKeepsQueryOrder(t *testing.T) {
	u := mustParse(t, "https://h/v2/token?service=s&scope=a&x=1&scope=b&account=alice&y=2")
	if got, want := URL(u).RawQuery, "service=s&scope=a&x=REDACTED&scope=b&account=alice&y=REDACTED"; got != want {
		t.Errorf("URL(%v).RawQuery = %q, want %q", u, got, want)
	}
}

func TestBody(t *testing.T) {
	refresh := "opaque-refresh-S3CRET-0123456789"
	tokenResponse := `{"token":"` + jwtToken + `","access_token":"` + jwtToken + `","refresh_token":"` + refresh + `","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}`
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(tokenResponse), "", "  "); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, contentType, in string
		secrets, keep         []string
		want                  string // exact output, if set
	}{
		{name: "token response", contentType: "application/json", in: tokenResponse,
			secrets: []string{jwtSig, refresh},
			want:    `{"token":"` + jwtHeaderClaims + `.REDACTED","access_token":"` + jwtHeaderClaims + `.REDACTED","refresh_token":"` + opaqueOf(refresh) + `","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}`},
		{name: "pretty-printed token response", contentType: "application/json; charset=utf-8", in: pretty.String(),
			secrets: []string{jwtSig, refresh}, keep: []string{jwtHeaderClaims, "\n  \"expires_in\": 300,\n"}},
		{name: "nested and in other case", contentType: "application/json",
			in:      `{"result":{"credentials":[{"Refresh_Token":"` + refresh + `","user":"alice"}]},"REFRESH_TOKEN":"` + refresh + `"}`,
			secrets: []string{refresh}, keep: []string{`"user":"alice"`}},
		{name: "secret field holding an object", contentType: "application/json",
			in: `{"auth":{"value":"` + refresh + `","n":12345678}}`, secrets: []string{refresh, "12345678"}},
		{name: "numeric password", contentType: "application/json", in: `{"username":"alice","password":12345678}`,
			want: `{"username":"alice","password":"REDACTED"}`},
		{name: "passwords are never hashed", contentType: "application/json", in: `{"Username":"alice","Secret":"hunter2"}`,
			want: `{"Username":"alice","Secret":"REDACTED"}`},
		{name: "JSON-escaped JSON inside a string", contentType: "application/json",
			in:      `{"log":"token response: {\"refresh_token\":\"` + refresh + `\",\"expires_in\":300}"}`,
			secrets: []string{refresh}, keep: []string{`\"expires_in\":300`}},
		{name: "escaped slashes in a URL value", contentType: "application/json",
			in: `{"url":"https:\/\/s3.amazonaws.com\/b\/k?X-Amz-Signature=abc123sig\u0026X-Amz-Credential=cred456"}`, secrets: []string{"abc123sig", "cred456"}},
		{name: "presigned URL inside JSON", contentType: "application/json",
			in: `{"url":"https://s3.amazonaws.com/b/k?X-Amz-Signature=abc123sig&n=1"}`, secrets: []string{"abc123sig"}, keep: []string{"https://s3.amazonaws.com/b/k?"}},
		{name: "truncated JSON prefix", contentType: "application/json",
			in: tokenResponse[:strings.Index(tokenResponse, refresh)+len(refresh)-3], secrets: []string{jwtSig, refresh[:len(refresh)-3]},
			keep: []string{jwtHeaderClaims}},
		{name: "truncated inside a JWT signature", contentType: "application/json",
			in: `{"token":"` + jwtToken[:len(jwtToken)-5], secrets: []string{jwtSig[:len(jwtSig)-5]}, keep: []string{jwtHeaderClaims}},
		{name: "token JSON served as text/plain", contentType: "text/plain", in: `{"token":"` + refresh + `"}`,
			want: `{"token":"` + opaqueOf(refresh) + `"}`},
		{name: "invalid JSON with trailing garbage", contentType: "application/json", in: `{"token":"` + refresh + `"} trailing`,
			secrets: []string{refresh}},
		{name: "manifest is untouched", contentType: "application/vnd.oci.image.manifest.v1+json",
			in:   `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:abc","size":7}}`,
			want: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:abc","size":7}}`},
		{name: "registry error body is untouched", contentType: "application/json",
			in:   `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"library/alpine","Action":"pull"}]}]}`,
			want: `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"library/alpine","Action":"pull"}]}]}`},
		{name: "OAuth2 password grant form", contentType: "application/x-www-form-urlencoded",
			in:   "grant_type=password&username=alice&password=hunter2%21&service=registry.example.com&scope=repository%3Alibrary%2Falpine%3Apull&client_id=docker&access_type=offline",
			want: "grant_type=password&username=alice&password=REDACTED&service=registry.example.com&scope=repository%3Alibrary%2Falpine%3Apull&client_id=docker&access_type=offline"},
		{name: "OAuth2 refresh grant form", contentType: "application/x-www-form-urlencoded",
			in:   "grant_type=refresh_token&refresh_token=" + refresh + "&client_secret=cs-123&code=c0de&service=r",
			want: "grant_type=refresh_token&refresh_token=" + opaqueOf(refresh) + "&client_secret=REDACTED&code=REDACTED&service=r"},
		{name: "form sent as text", contentType: "", in: "grant_type=password&username=alice&password=hunter2",
			want: "grant_type=password&username=alice&password=REDACTED"},
		{name: "HTML error page", contentType: "text/html",
			in:      `<a href="https://h/x?sig=abc123sig">retry</a> Authorization: Bearer ` + ghcrToken,
			secrets: []string{"abc123sig", ghcrToken}},
		{name: "empty body", contentType: "application/json", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := Body(tt.contentType, in)
			if string(in) != tt.in {
				t.Fatalf("Body modified its input: %q", in)
			}
			if tt.want != "" || tt.in == "" {
				if string(got) != tt.want {
					t.Errorf("Body(%q, %q)\n got %q\nwant %q", tt.contentType, tt.in, got, tt.want)
				}
			}
			checkSecrets(t, string(got), tt.secrets, tt.keep)
			if again := Body(tt.contentType, got); !bytes.Equal(again, got) {
				t.Errorf("Body not idempotent:\n%q\n->\n%q", got, again)
			}
			if json.Valid(in) && !json.Valid(got) {
				t.Errorf("Body broke valid JSON: %q", got)
			}
		})
	}
	if Body("application/json", nil) != nil {
		t.Error("Body(nil) != nil")
	}
	in := []byte("nothing to redact")
	if out := Body("text/plain", in); &out[0] == &in[0] {
		t.Error("Body returned its input slice")
	}
}

func checkSecrets(t *testing.T, got string, secrets, keep []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(got, s) {
			t.Errorf("secret %q survived in %q", s, got)
		}
	}
	for _, k := range keep {
		if !strings.Contains(got, k) {
			t.Errorf("%q was lost from %q", k, got)
		}
	}
}

func TestText(t *testing.T) {
	challenge := `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`
	tests := []struct {
		name, in, want string
	}{
		{"url.Error with userinfo and a signature",
			`Get "https://u:pw@h/x?X-Amz-Signature=0123abcd": EOF`,
			`Get "https://u:REDACTED@h/x?X-Amz-Signature=REDACTED": EOF`},
		{"challenge quoted in an error is kept",
			`unexpected challenge: ` + challenge,
			`unexpected challenge: ` + challenge},
		{"docker's basic auth message is kept", "no basic auth credentials", "no basic auth credentials"},
		{"prose after Bearer is kept", "the registry wants a Bearer token.", "the registry wants a Bearer token."},
		{"Bearer token in a log", "sending Bearer " + ghcrToken + " to ghcr.io", "sending Bearer " + opaqueOf(ghcrToken) + " to ghcr.io"},
		{"Basic credentials in a log", "sending " + basic("alice", "pw12") + ".", "sending Basic REDACTED(user=alice)."},
		{"Basic credentials with a user name that is not text", "sending Basic " + base64.StdEncoding.EncodeToString([]byte("\xf4:pw12")) + ".", "sending Basic REDACTED."},
		{"curl -v header line", "> Authorization: token " + ghcrToken + "\r\n> Accept: */*", "> Authorization: token REDACTED\r\n> Accept: */*"},
		{"curl -v cookies", "> Cookie: sid=c00kie; theme=dark\r\n< Set-Cookie: sid=n3w; Path=/; HttpOnly\r\n", "> Cookie: sid=REDACTED; theme=REDACTED\r\n< Set-Cookie: sid=REDACTED; Path=/; HttpOnly\r\n"},
		{"authorization as a query parameter", "GET https://h/x?authorization=abc123 HTTP/1.1 200", "GET https://h/x?authorization=REDACTED HTTP/1.1 200"},
		{"Go-printed http.Header", "map[Authorization:[Bearer abc123def] User-Agent:[x]]", "map[Authorization:[Bearer " + opaqueOf("abc123def") + "] User-Agent:[x]]"},
		{"JWT anywhere", "claims in " + jwtToken + " end", "claims in " + jwtHeaderClaims + ".REDACTED end"},
		{"token JSON in a message", `GET https://auth/token: 200: {"token":"abc123","expires_in":60}`, `GET https://auth/token: 200: {"token":"` + opaqueOf("abc123") + `","expires_in":60}`},
		{"form in a log", "body: grant_type=password&username=alice&password=hunter2 sent", "body: grant_type=password&username=alice&password=REDACTED sent"},
		{"exit code is not a secret", "exit code=1", "exit code=1"},
		{"containerd's error after 'authorization:' is words", "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
			"pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"},
		{"an unknown scheme's credentials stay redacted", "Authorization: Custom abc123def", "Authorization: Custom REDACTED"},
		{"ctr --http-dump's Authorization lines", `level=info msg="Authorization: Basic ` + base64.StdEncoding.EncodeToString([]byte("alice:not-the-password")) + `"` + "\n" + `level=info msg="Authorization: Bearer ` + ghcrToken + `"`,
			`level=info msg="Authorization: Basic REDACTED(user=alice)"` + "\n" + `level=info msg="Authorization: Bearer ` + opaqueOf(ghcrToken) + `"`},
		{"ctr --http-dump's token form, glued to the next dump", `msg="client_id=containerd-client&grant_type=password&password=hunter2&username=aliceHTTP/1.1 401 Unauthorized"`,
			`msg="client_id=containerd-client&grant_type=password&password=REDACTED&username=aliceHTTP/1.1 401 Unauthorized"`},
		{"known token formats", "docker login -p dckr_pat_abcdefghijklmnopqrstuvwxyz01", "docker login -p " + opaqueOf("dckr_pat_abcdefghijklmnopqrstuvwxyz01")},
		{"podman echoes --creds in its debug log", `msg="Called pull.PersistentPreRunE(/usr/bin/podman pull --creds alice:s3cr3t registry.test/a:1)"`,
			`msg="Called pull.PersistentPreRunE(/usr/bin/podman pull --creds alice:REDACTED registry.test/a:1)"`},
		{"skopeo --src-creds= and --dest-creds", "skopeo copy --src-creds=bob:pw1 --dest-creds carol:pw:2 docker://a docker://b",
			"skopeo copy --src-creds=bob:REDACTED --dest-creds carol:REDACTED docker://a docker://b"},
		{"docker login -p from shell history", "$ docker login -u alice -p hunter2 registry.test", "$ docker login -u alice -p REDACTED registry.test"},
		{"--password= and --registry-token", "oras login --password=hunter2 r && regctl registry login --registry-token abc123 r",
			"oras login --password=REDACTED r && regctl registry login --registry-token REDACTED r"},
		{"-p outside a login publishes a port", "podman run -p 8080:80 nginx", "podman run -p 8080:80 nginx"},
		{"--identity-token, --token and --pass", "x --identity-token abc && y --token=def && z --pass ghi", "x --identity-token REDACTED && y --token=REDACTED && z --pass REDACTED"},
		{"--password without a login", "crane auth --password\thunter2", "crane auth --password\tREDACTED"},
		{"--password-stdin keeps its place", "docker login --password-stdin -u alice r", "docker login --password-stdin -u alice r"},
		{"URL ending a sentence", "see https://h/x?sig=abc.", "see https://h/x?sig=REDACTED."},
		{"URL in parentheses", "(https://h/x?n=10)", "(https://h/x?n=10)"},
		{"access log line", `"PUT /v2/r/blobs/uploads/8a2b?_state=c3RhdGU%3D&digest=sha256:ab HTTP/1.1" 201`, `"PUT /v2/r/blobs/uploads/8a2b?_state=REDACTED&digest=sha256:ab HTTP/1.1" 201`},
		{"marker followed by more is not a marker", "Bearer REDACTEDabc123", "Bearer " + opaqueOf("REDACTEDabc123")},
		{"host names are not JWTs", "keyboard.eyewear.example.com", "keyboard.eyewear.example.com"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(tt.in)
			if got != tt.want {
				t.Errorf("Text(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Text(got); again != got {
				t.Errorf("Text not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestError(t *testing.T) {
	if Error(nil) != "" {
		t.Error(`Error(nil) != ""`)
	}
	err := &url.Error{Op: "Get", URL: "https://u:pw-s3cret@h/x?X-Amz-Signature=sig-s3cret", Err: io.EOF}
	want := `Get "https://u:REDACTED@h/x?X-Amz-Signature=REDACTED": EOF`
	if got := Error(err); got != want {
		t.Errorf("Error(%v)\n got %q\nwant %q", err, got, want)
	}
	wrapped := fmt.Errorf("pulling layer: %w", errors.New(`redirect to "https://cdn/x?Signature=sig-s3cret&Key-Pair-Id=k"`))
	checkSecrets(t, Error(wrapped), []string{"sig-s3cret", "Key-Pair-Id=k"}, []string{"pulling layer: "})
}

// GHSA-5jhf-2qmf-m8c5: oras --debug logged presigned URLs, cookies and token
// bodies. Every leak it lists is planted here in one flow.
func newTestFlow() *flow.Flow {
	return &flow.Flow{
		ID:         3,
		Start:      time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		ClientAddr: "127.0.0.1:50000",
		Request: flow.Request{
			Method: "POST",
			URL:    &url.URL{Scheme: "https", Host: "auth.example.com", Path: "/token", User: url.UserPassword("alice", "userinfo-S3CRET"), RawQuery: "service=registry.example.com&scope=repository%3Aa%2Fb%3Apull&sig=query-S3CRET"},
			Proto:  "HTTP/1.1",
			Header: http.Header{
				"Authorization": {basic("alice", "basic-S3CRET")},
				"Cookie":        {"sid=cookie-S3CRET"},
				"Content-Type":  {"application/x-www-form-urlencoded"},
			},
			Host: "user:host-S3CRET@auth.example.com",
			Body: flow.Body{
				Captured: []byte("grant_type=refresh_token&refresh_token=form-S3CRET&service=registry.example.com"),
				Size:     80, Complete: true, SHA256: "abc",
			},
		},
		Response: &flow.Response{
			Status: 307,
			Proto:  "HTTP/2.0",
			Header: http.Header{
				"www-authenticate": {`Bearer realm="https://auth.example.com/token",service="registry.example.com"`},
				"location":         {"https://bucket.s3.amazonaws.com/blob?X-Amz-Signature=location-S3CRET&X-Amz-Credential=cred-S3CRET"},
				"set-cookie":       {"__cf_bm=setcookie-S3CRET; Path=/; HttpOnly"},
				"content-type":     {"application/json"},
			},
			Trailer: http.Header{"X-Checksum-Token": {"trailer-S3CRET"}},
			Body: flow.Body{
				Captured: []byte(`{"token":"` + jwtToken + `","refresh_token":"json-S3CRET","expires_in":300}`),
				Size:     4096, Truncated: true, SHA256: "",
			},
		},
		Upstream: &flow.TLSInfo{Version: "TLS 1.3", ServerName: "auth.example.com", Chain: []flow.CertSummary{{Subject: "CN=auth", DNSNames: []string{"auth.example.com"}}}},
		Err:      &flow.Error{Kind: flow.ErrUpstreamClosed, Message: `Get "https://u:err-S3CRET@h/x?X-Amz-Signature=errsig-S3CRET": EOF`},
	}
}

func TestFlow(t *testing.T) {
	if Flow(nil) != nil {
		t.Error("Flow(nil) != nil")
	}
	f := newTestFlow()
	got := Flow(f)
	if !reflect.DeepEqual(f, newTestFlow()) {
		t.Errorf("Flow modified its input:\n%+v", f)
	}
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	// JSON shows []byte as base64 and url.Userinfo as {}: add them as text.
	s := string(out) + "\n" + got.Request.URL.String() + "\n" + string(got.Request.Body.Captured) + "\n" + string(got.Response.Body.Captured)
	if strings.Contains(s, "S3CRET") || strings.Contains(s, jwtSig) {
		t.Errorf("a planted secret survived Flow:\n%s", s)
	}
	for _, keep := range []string{
		`Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\"`,
		"Basic REDACTED(user=alice)",
		jwtHeaderClaims + ".REDACTED",
		"service=registry.example.com",
		"sid=REDACTED",
		"__cf_bm=REDACTED; Path=/; HttpOnly",
	} {
		if !strings.Contains(s, keep) {
			t.Errorf("Flow lost %q:\n%s", keep, s)
		}
	}
	if got.Request.URL.String() != "https://alice:REDACTED@auth.example.com/token?service=registry.example.com&scope=repository%3Aa%2Fb%3Apull&sig=REDACTED" {
		t.Errorf("request URL = %v", got.Request.URL)
	}
	if got.Response.Body.Size != 4096 || !got.Response.Body.Truncated || got.Request.Body.SHA256 != "abc" {
		t.Errorf("Flow changed body metadata: %+v %+v", got.Request.Body, got.Response.Body)
	}
	got.Upstream.Chain[0].DNSNames[0] = "changed"
	if f.Upstream.Chain[0].DNSNames[0] != "auth.example.com" {
		t.Error("Flow shares the certificate chain with its input")
	}
	if again := Flow(got); !reflect.DeepEqual(again, got) {
		t.Errorf("Flow not idempotent:\n%+v\n%+v", got, again)
	}
}

func TestHandshakeFailure(t *testing.T) {
	h := flow.HandshakeFailure{Target: "registry.example.com:443", Message: "remote error: tls: bad certificate", Reason: "the client does not trust the regtrace CA"}
	if got := HandshakeFailure(h); got != h {
		t.Errorf("HandshakeFailure changed a message without secrets: %+v", got)
	}
	h.Message = `tls: first record does not look like a TLS handshake: "GET https://h/x?sig=hs-S3CRET"`
	if got := HandshakeFailure(h); strings.Contains(got.Message, "S3CRET") {
		t.Errorf("HandshakeFailure kept a secret: %q", got.Message)
	}
}

func BenchmarkBodyJSON(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"name":"library/alpine","tags":[`)
	for i := range 20000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `"v1.%d.0-alpine3.%d"`, i, i%20)
	}
	buf.WriteString(`],"token":"` + jwtToken + `"}`)
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Body("application/json", body)
	}
}

func BenchmarkText(b *testing.B) {
	line := `time="2024-01-01T00:00:00Z" level=debug msg="GET https://registry.example.com/v2/library/alpine/manifests/latest?ns=docker.io" status=401 www-authenticate="Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\""` + "\n"
	s := strings.Repeat(line, 4000)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Text(s)
	}
}
