package decode

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseErrorBody(t *testing.T) {
	const jsonCT = "application/json; charset=utf-8"
	longDetail := `{"blob":"` + strings.Repeat("a", 400) + `"}`
	truncated3 := `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null},` +
		`{"code":"DENIED","message":"requested access to the resource is denied"},` +
		`{"code":"NAME_UNKNOWN","message":"repository name not kn`
	for _, c := range []struct {
		name        string
		contentType string
		body        string
		truncated   bool
		want        ErrorBody
	}{
		{
			name:        "MANIFEST_UNKNOWN with tag detail",
			contentType: jsonCT,
			body:        `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"1.0"}}]}` + "\n",
			want:        ErrorBody{Format: "errors", Errors: []RegistryError{{Code: "MANIFEST_UNKNOWN", Message: "manifest unknown", Detail: `{"Tag":"1.0"}`}}},
		},
		{
			name:        "NAME_UNKNOWN",
			contentType: jsonCT,
			body:        `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"team/app"}}]}`,
			want:        ErrorBody{Format: "errors", Errors: []RegistryError{{Code: "NAME_UNKNOWN", Message: "repository name not known to registry", Detail: `{"name":"team/app"}`}}},
		},
		{
			name:        "UNAUTHORIZED with the access entries as detail",
			contentType: jsonCT,
			body: `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[` +
				`{"Type":"repository","Class":"","Name":"library/nginx","Action":"pull"},` + "\n\t" +
				`{"Type":"repository","Class":"","Name":"library/nginx","Action":"push"}]}]}`,
			want: ErrorBody{Format: "errors", Errors: []RegistryError{{Code: "UNAUTHORIZED", Message: "authentication required",
				Detail: `[{"Type":"repository","Class":"","Name":"library/nginx","Action":"pull"},{"Type":"repository","Class":"","Name":"library/nginx","Action":"push"}]`}}},
		},
		{
			name:        "DENIED",
			contentType: "application/json",
			body:        `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`,
			want:        ErrorBody{Format: "errors", Errors: []RegistryError{{Code: "DENIED", Message: "requested access to the resource is denied"}}},
		},
		{
			name:        "TOOMANYREQUESTS (Docker Hub)",
			contentType: "application/json",
			body:        `{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}]}`,
			want: ErrorBody{Format: "errors", Errors: []RegistryError{{Code: "TOOMANYREQUESTS",
				Message: "You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}}},
		},
		{
			name:        "detail clipped to 300 bytes, string detail kept as JSON",
			contentType: "application/json",
			body:        `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":` + longDetail + `},{"code":"X","detail":"sha256:abc"}]}`,
			want: ErrorBody{Format: "errors", Errors: []RegistryError{
				{Code: "BLOB_UNKNOWN", Message: "blob unknown to registry", Detail: longDetail[:297] + "…"},
				{Code: "X", Detail: `"sha256:abc"`},
			}},
		},
		{
			name:        "member names match case-insensitively, odd entries",
			contentType: "application/json",
			body:        `{"Errors":[{"Code":"DENIED","Message":"no"},"plain message",42,{"code":403}]}`,
			want: ErrorBody{Format: "errors", Errors: []RegistryError{
				{Code: "DENIED", Message: "no"}, {Message: "plain message"}, {Code: "403"},
			}},
		},
		{
			name:        "empty errors list",
			contentType: "application/json",
			body:        `{"errors":[]}`,
			want:        ErrorBody{Format: "errors"},
		},
		{
			name:        "truncated with two complete errors and a cut third",
			contentType: "application/json",
			body:        truncated3,
			truncated:   true,
			want: ErrorBody{Format: "errors", Truncated: true, Errors: []RegistryError{
				{Code: "UNAUTHORIZED", Message: "authentication required"},
				{Code: "DENIED", Message: "requested access to the resource is denied"},
			}},
		},
		{
			name:        "a body that ends early is marked truncated",
			contentType: "application/json",
			body:        truncated3,
			want: ErrorBody{Format: "errors", Truncated: true, Errors: []RegistryError{
				{Code: "UNAUTHORIZED", Message: "authentication required"},
				{Code: "DENIED", Message: "requested access to the resource is denied"},
			}},
		},
		{
			name:        "legacy details",
			contentType: "application/json",
			body:        `{"details":"incorrect username or password"}`,
			want:        ErrorBody{Format: "details", Errors: []RegistryError{{Message: "incorrect username or password"}}},
		},
		{
			name:        "OAuth2 error JSON",
			contentType: "application/json",
			body:        `{"error":"invalid_grant","error_description":"refresh token expired"}`,
			want:        ErrorBody{Format: "json", Text: "invalid_grant: refresh token expired"},
		},
		{
			name:        "other JSON with a message",
			contentType: "application/json",
			body:        `{"code":404,"message":"Not Found"}`,
			want:        ErrorBody{Format: "json", Text: "Not Found"},
		},
		{
			name:        "other JSON without a message",
			contentType: "application/json",
			body:        `{"status":404,"path":"/v2/x"}`,
			want:        ErrorBody{Format: "json", Text: "JSON object with keys path, status"},
		},
		{
			name:        "JSON array",
			contentType: "application/json",
			body:        `["a", "b"]`,
			want:        ErrorBody{Format: "json", Text: `["a", "b"]`},
		},
		{
			name:        "JSON labelled text/plain",
			contentType: "text/plain; charset=utf-8",
			body:        `{"errors":[{"code":"DENIED","message":"denied"}]}`,
			want:        ErrorBody{Format: "errors", Errors: []RegistryError{{Code: "DENIED", Message: "denied"}}},
		},
		{
			name:        "Docker Hub HTML 404",
			contentType: "text/html; charset=utf-8",
			body: "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
				"<title>404 Page Not Found &middot; Docker Hub</title>\n<script>var x = '<title>no</title>';</script></head>\n<body><h1>Page not found</h1></body></html>",
			want: ErrorBody{Format: "html", Text: "404 Page Not Found · Docker Hub"},
		},
		{
			name:        "nginx 502",
			contentType: "text/html",
			body:        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n",
			want:        ErrorBody{Format: "html", Text: "502 Bad Gateway"},
		},
		{
			name: "HTML heading when no title, sniffed",
			body: "<html><body><center><h2 class=x>Access <b>denied</b></h2></center>",
			want: ErrorBody{Format: "html", Text: "Access denied"},
		},
		{
			name:        "HTML with neither title nor heading",
			contentType: "text/html",
			body:        "<html><body><style>p{}</style><p>Service   Unavailable</p></body></html>",
			want:        ErrorBody{Format: "html", Text: "Service Unavailable"},
		},
		{
			name:        "HTML declared JSON",
			contentType: "application/json",
			body:        "<html><head><title>403 Forbidden</title></head></html>",
			want:        ErrorBody{Format: "html", Text: "403 Forbidden"},
		},
		{
			name:        "S3 AccessDenied",
			contentType: "application/xml",
			body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>`,
			want: ErrorBody{Format: "xml", Text: "AccessDenied: Access Denied", Errors: []RegistryError{{Code: "AccessDenied", Message: "Access Denied"}}},
		},
		{
			name: "S3 expired presigned URL, sniffed, other encoding declared",
			body: `<?xml version="1.0" encoding="ISO-8859-1"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message><Expires>2025-03-01T12:00:00Z</Expires>`,
			want: ErrorBody{Format: "xml", Text: "AccessDenied: Request has expired", Errors: []RegistryError{{Code: "AccessDenied", Message: "Request has expired"}}},
		},
		{
			name:        "XML that is not an error document",
			contentType: "text/xml",
			body:        `<ListBucketResult><Name>b</Name></ListBucketResult>`,
			want:        ErrorBody{Format: "xml", Text: "<ListBucketResult> b"},
		},
		{
			name:        "plain text",
			contentType: "text/plain; charset=utf-8",
			body:        "\n  Too Many Requests \nmore\n",
			want:        ErrorBody{Format: "text", Text: "Too Many Requests"},
		},
		{
			name: "Go's 404, no content type",
			body: "404 page not found\n",
			want: ErrorBody{Format: "text", Text: "404 page not found"},
		},
		{
			name:        "long text line clipped",
			contentType: "text/plain",
			body:        strings.Repeat("é", 150),
			want:        ErrorBody{Format: "text", Text: strings.Repeat("é", 98) + "…"},
		},
		{
			name:        "empty HEAD body",
			contentType: "application/json",
			body:        "",
			want:        ErrorBody{Format: "empty"},
		},
		{
			name:      "body not captured",
			body:      "",
			truncated: true,
			want:      ErrorBody{Format: "empty", Truncated: true},
		},
		{
			name:        "garbage bytes",
			contentType: "application/octet-stream",
			body:        "\x1f\x8b\x08\x00\xff\xfe\x00garbage",
			want:        ErrorBody{Format: "text", Text: "14 bytes of binary data"},
		},
		{
			name:        "garbage after a brace",
			contentType: "application/json",
			body:        "{\x00\xff",
			want:        ErrorBody{Format: "text", Text: "3 bytes of binary data"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ParseErrorBody(c.contentType, []byte(c.body), c.truncated)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, c.want)
			}
			if len(got.Text) > 200 {
				t.Errorf("Text is %d bytes", len(got.Text))
			}
		})
	}
}
