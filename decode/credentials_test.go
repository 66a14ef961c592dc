package decode

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseAuthorization(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	j := signedTestJWT(t, "ES256", jwt.MapClaims{"sub": "alice"}, nil)
	jID := TokenID(j)
	for _, c := range []struct {
		name, value string
		want        Credentials
	}{
		{"none", "", Credentials{}},
		{"Basic user", "Basic " + b64([]byte("alice:s3cr3t")), Credentials{Scheme: "Basic", User: "alice"}},
		{"Basic password holding colons", "Basic " + b64([]byte("AWS:a:b:c")), Credentials{Scheme: "Basic", User: "AWS"}},
		{"Basic Og== is empty", "Basic Og==", Credentials{Scheme: "Basic", Empty: true}},
		{"Basic Og without padding", "basic Og", Credentials{Scheme: "basic", Empty: true}},
		{"Basic empty user, a password", "Basic " + b64([]byte(":tok")), Credentials{Scheme: "Basic", Malformed: true}},
		{"Basic URL-safe alphabet", "Basic " + base64.RawURLEncoding.EncodeToString([]byte("r\xfbbot:?>?")), Credentials{Scheme: "Basic", User: "r\xfbbot"}},
		// redact.Authorization("Basic YWxpY2U6czNjcjN0") == "Basic REDACTED(user=alice)"
		{"redacted Basic", "Basic REDACTED(user=alice)", Credentials{Scheme: "Basic", User: "alice", Redacted: true}},
		// redact.Authorization of bob smith@example.com:pw
		{"redacted Basic with escapes", "Basic REDACTED(user=bob%20smith@example.com)", Credentials{Scheme: "Basic", User: "bob smith@example.com", Redacted: true}},
		// redact.Authorization("Basic Og==") == "Basic REDACTED(user=)": the password is unknown
		{"redacted Og==", "Basic REDACTED(user=)", Credentials{Scheme: "Basic", Redacted: true}},
		{"redacted malformed Basic", "Basic REDACTED", Credentials{Scheme: "Basic", Redacted: true}},
		{"malformed Basic", "Basic !!!", Credentials{Scheme: "Basic", Malformed: true}},
		{"Basic without colon", "Basic " + b64([]byte("justatoken")), Credentials{Scheme: "Basic", Malformed: true}},
		{"Basic marker lookalike with bad characters", "Basic REDACTED(user=a b)", Credentials{Scheme: "Basic", Malformed: true}},
		{"Basic scheme alone", "Basic", Credentials{Scheme: "Basic"}},
		{"Bearer JWT", "Bearer " + j, Credentials{Scheme: "Bearer", TokenID: jID}},
		{"Bearer redacted JWT", "Bearer " + redactedTestJWT(j), Credentials{Scheme: "Bearer", TokenID: jID, Redacted: true}},
		{"Bearer opaque", "Bearer " + ghcrTestToken, Credentials{Scheme: "Bearer", TokenID: ghcrTestTokenID}},
		// redact.Authorization("Bearer ghp_…") == "Bearer REDACTED(len=40,sha256:3543c50b)"
		{"Bearer redacted opaque", "Bearer REDACTED(len=40,sha256:3543c50b)", Credentials{Scheme: "Bearer", TokenID: ghcrTestTokenID, Redacted: true}},
		{"Bearer REDACTED", "Bearer REDACTED", Credentials{Scheme: "Bearer", Redacted: true}},
		{"bearer, tabs and spaces", " \tbearer\t  " + ghcrTestToken + " ", Credentials{Scheme: "bearer", TokenID: ghcrTestTokenID}},
		{"Bearer alone", "Bearer", Credentials{Scheme: "Bearer"}},
		{"token without a scheme", ghcrTestToken, Credentials{TokenID: ghcrTestTokenID}},
		{"redacted token without a scheme", "REDACTED(" + ghcrTestTokenID + ")", Credentials{TokenID: ghcrTestTokenID, Redacted: true}},
		{"other scheme", "token ghp_abc", Credentials{Scheme: "token"}},
		{"other scheme redacted", "AWS4-HMAC-SHA256 REDACTED", Credentials{Scheme: "AWS4-HMAC-SHA256", Redacted: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ParseAuthorization(c.value)
			if got != c.want {
				t.Errorf("ParseAuthorization(%q) = %+v, want %+v", c.value, got, c.want)
			}
			for _, secret := range []string{"s3cr3t", ":tok", "?>?", "justatoken", "ghp_abc"} {
				if strings.Contains(c.value, secret) && strings.Contains(fmt.Sprintf("%+v", got), secret) {
					t.Errorf("%+v holds the secret %q", got, secret)
				}
			}
		})
	}
}

func TestParseTokenRequestGET(t *testing.T) {
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw"))}}
	for _, c := range []struct {
		name     string
		query    string
		header   http.Header
		want     TokenRequest
		issueHas []string
	}{
		{
			name:  "two scope params, one holding two scopes",
			query: "service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull&scope=repository:team/app:pull,push+repository:localhost:5000/x:pull",
			want: TokenRequest{Method: "GET", Service: "registry.docker.io", Scopes: []Scope{
				{Type: "repository", Name: "library/nginx", Actions: []string{"pull"}},
				{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}},
				{Type: "repository", Name: "localhost:5000/x", Actions: []string{"pull"}},
			}},
		},
		{
			name:   "docker login",
			query:  "account=alice&client_id=docker&offline_token=true&service=registry.docker.io",
			header: basic,
			want: TokenRequest{Method: "GET", Service: "registry.docker.io", Account: "alice", ClientID: "docker", OfflineToken: true,
				Auth: Credentials{Scheme: "Basic", User: "alice"}},
		},
		{
			name:     "unparsable scope and offline_token",
			query:    "scope=nginx&scope=repository:a:pull&offline_token=yes",
			want:     TokenRequest{Method: "GET", Scopes: []Scope{{Type: "repository", Name: "a", Actions: []string{"pull"}}}},
			issueHas: []string{"want type:name:actions", "offline_token"},
		},
		{
			name:  "no parameters",
			query: "",
			want:  TokenRequest{Method: "GET"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, issues := ParseTokenRequest("get", q, c.header, "", nil, false)
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got\n%+v\nwant\n%+v", *got, c.want)
			}
			checkIssues(t, issues, c.issueHas)
		})
	}
}

// checkIssues wants one issue per entry of has, each containing its text.
func checkIssues(t *testing.T, issues []Issue, has []string) {
	t.Helper()
	if len(issues) != len(has) {
		t.Errorf("issues = %+v, want %d", issues, len(has))
		return
	}
	for i, h := range has {
		if !strings.Contains(issues[i].What+" "+issues[i].Raw, h) {
			t.Errorf("issue %d = %+v, want it to say %q", i, issues[i], h)
		}
	}
}

func TestParseTokenRequestPOST(t *testing.T) {
	const password = "S3cret-p@ss word&="
	const refresh = "rt-8f1e2d3c4b5a"
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name        string
		contentType string
		query       string
		body        string
		truncated   bool
		want        TokenRequest
		issueHas    []string
	}{
		{
			name:        "password grant (containerd)",
			contentType: form + "; charset=utf-8",
			body:        "grant_type=password&username=alice&password=" + url.QueryEscape(password) + "&scope=repository%3Aa%3Apull+repository%3Ab%3Apull%2Cpush&service=registry.example.com&client_id=containerd-client&access_type=offline",
			want: TokenRequest{Method: "POST", GrantType: "password", Username: "alice", HasPassword: true, Service: "registry.example.com",
				ClientID: "containerd-client", AccessType: "offline", Scopes: []Scope{
					{Type: "repository", Name: "a", Actions: []string{"pull"}},
					{Type: "repository", Name: "b", Actions: []string{"pull", "push"}},
				}},
		},
		{
			name:        "refresh_token grant (docker with an identity token)",
			contentType: form,
			body:        "client_id=docker&grant_type=refresh_token&refresh_token=" + refresh + "&scope=repository%3Aa%3Apull&service=registry.docker.io",
			want: TokenRequest{Method: "POST", GrantType: "refresh_token", HasRefreshToken: true, ClientID: "docker", Service: "registry.docker.io",
				Scopes: []Scope{{Type: "repository", Name: "a", Actions: []string{"pull"}}}},
		},
		{
			name:        "redacted form",
			contentType: form,
			body:        "grant_type=password&username=alice&password=REDACTED&refresh_token=REDACTED(len=3,sha256:ba7816bf)",
			want:        TokenRequest{Method: "POST", GrantType: "password", Username: "alice", HasPassword: true, HasRefreshToken: true},
		},
		{
			name:        "query parameters are read, form fields win",
			contentType: form,
			query:       "service=from-query&scope=repository:q:pull",
			body:        "service=from-form&grant_type=password&password=" + url.QueryEscape(password),
			want: TokenRequest{Method: "POST", Service: "from-form", GrantType: "password", HasPassword: true,
				Scopes: []Scope{{Type: "repository", Name: "q", Actions: []string{"pull"}}}},
		},
		{
			name:        "body not captured",
			contentType: form,
			truncated:   true,
			want:        TokenRequest{Method: "POST"},
			issueHas:    []string{"not captured"},
		},
		{
			name:        "empty body",
			contentType: form,
			want:        TokenRequest{Method: "POST"},
			issueHas:    []string{"without a body"},
		},
		{
			name:        "truncated in the password",
			contentType: form,
			body:        "grant_type=password&username=alice&password=" + url.QueryEscape(password)[:7],
			truncated:   true,
			want:        TokenRequest{Method: "POST", GrantType: "password", Username: "alice", HasPassword: true},
			issueHas:    []string{"truncated after"},
		},
		{
			name:        "truncated in the scope: the cut scope is not read",
			contentType: form,
			body:        "grant_type=password&scope=repository%3Aa%3Apu",
			truncated:   true,
			want:        TokenRequest{Method: "POST", GrantType: "password"},
			issueHas:    []string{"truncated after"},
		},
		{
			name:        "JSON body",
			contentType: "application/json",
			body:        `{"password":"` + password + `"}`,
			want:        TokenRequest{Method: "POST"},
			issueHas:    []string{"not application/x-www-form-urlencoded"},
		},
		{
			name:     "no content type",
			body:     "grant_type=refresh_token&refresh_token=" + refresh,
			want:     TokenRequest{Method: "POST", GrantType: "refresh_token", HasRefreshToken: true},
			issueHas: []string{"no Content-Type"},
		},
		{
			name:        "empty password, malformed escapes",
			contentType: form,
			body:        "password=&user%zzname=a&service=%zz&scope=nginx&refresh_token=%zz" + refresh,
			want:        TokenRequest{Method: "POST", HasRefreshToken: true},
			issueHas:    []string{"password field is empty", "malformed %-escape in its name", `"service": malformed %-escape in its value`, "want type:name:actions"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, _ := url.ParseQuery(c.query)
			got, issues := ParseTokenRequest("POST", q, nil, c.contentType, []byte(c.body), c.truncated)
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got\n%+v\nwant\n%+v", *got, c.want)
			}
			checkIssues(t, issues, c.issueHas)
			out := fmt.Sprintf("%+v %+v", got, issues)
			for _, secret := range []string{password, url.QueryEscape(password), password[:7], refresh, "ba7816bf"} {
				if strings.Contains(out, secret) {
					t.Errorf("result holds secret %q: %s", secret, out)
				}
			}
		})
	}
}
