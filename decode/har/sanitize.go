package har

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/regtrace/regtrace/decode/redact"
)

// Redact returns a copy of h with regtrace's redaction policy applied to
// every entry, whoever wrote the file: headers, URLs and query strings,
// cookies, post data, response text (base64 text too when it decodes to
// text), redirect URLs, errors and comments. Extension fields of other tools
// ("_initiator", "_webSocketMessages", …) are not carried over: they may
// hold anything.
func Redact(h *File) *File {
	out := &File{Log: Log{
		Version: h.Log.Version, Creator: h.Log.Creator, Browser: h.Log.Browser, Pages: h.Log.Pages,
		Comment:  "secrets redacted by regtrace redact (Authorization keeps its scheme and Basic user; JWTs keep header and claims; cookies, passwords, tokens and signed URL parameters are replaced)",
		Regtrace: &LogExt{Version: 1, Redacted: true},
	}}
	if out.Log.Version == "" {
		out.Log.Version = "1.2"
	}
	if out.Log.Pages == nil {
		out.Log.Pages = []Page{}
	}
	if ext := h.Log.Regtrace; ext != nil {
		for _, t := range ext.TLSErrors {
			t.Message = redact.Text(t.Message)
			out.Log.Regtrace.TLSErrors = append(out.Log.Regtrace.TLSErrors, t)
		}
		out.Log.Regtrace.Findings = ext.Findings
	}
	out.Log.Entries = make([]Entry, 0, len(h.Log.Entries))
	for _, e := range h.Log.Entries {
		out.Log.Entries = append(out.Log.Entries, redactEntry(e))
	}
	return out
}

func redactNV(nvs []NameValue, header bool) []NameValue {
	out := make([]NameValue, 0, len(nvs))
	for _, nv := range nvs {
		if header {
			nv.Value = redact.Header(nv.Name, nv.Value)
		}
		nv.Comment = redact.Text(nv.Comment)
		out = append(out, nv)
	}
	return out
}

func redactCookies(cs []Cookie) []Cookie {
	out := make([]Cookie, 0, len(cs))
	for _, c := range cs {
		c.Value = redact.Mark
		out = append(out, c)
	}
	return out
}

func redactEntry(e Entry) Entry {
	e.Comment, e.Error = redact.Text(e.Comment), redact.Text(e.Error)
	r := &e.Request
	r.URL = redact.URLString(r.URL)
	r.Headers = redactNV(r.Headers, true)
	r.Cookies = redactCookies(r.Cookies)
	r.Comment = redact.Text(r.Comment)
	if u, err := url.Parse(r.URL); err == nil {
		r.QueryString = query(u)
	} else {
		r.QueryString = []NameValue{}
	}
	if pd := r.PostData; pd != nil {
		p := *pd
		p.Text = string(redact.Body(p.MimeType, []byte(p.Text)))
		p.Comment = redact.Text(p.Comment)
		if base, _, _ := mime.ParseMediaType(p.MimeType); base == "application/x-www-form-urlencoded" && p.Text != "" {
			p.Params = nil
			if vals, err := url.ParseQuery(p.Text); err == nil {
				for k, vs := range vals {
					for _, v := range vs {
						p.Params = append(p.Params, NameValue{Name: k, Value: v})
					}
				}
			}
		} else if len(p.Params) > 0 {
			// Params without a form text: redact them as a form.
			v := url.Values{}
			for _, nv := range p.Params {
				v.Add(nv.Name, nv.Value)
			}
			red, _ := url.ParseQuery(string(redact.Body("application/x-www-form-urlencoded", []byte(v.Encode()))))
			p.Params = nil
			for k, vs := range red {
				for _, x := range vs {
					p.Params = append(p.Params, NameValue{Name: k, Value: x})
				}
			}
		}
		r.PostData = &p
	}
	s := &e.Response
	s.Headers = redactNV(s.Headers, true)
	s.Cookies = redactCookies(s.Cookies)
	s.RedirectURL = redact.URLString(s.RedirectURL)
	s.Comment, s.Error = redact.Text(s.Comment), redact.Text(s.Error)
	c := &s.Content
	c.Comment = redact.Text(c.Comment)
	if c.Text != "" {
		if c.Encoding == "base64" {
			if b, err := base64.StdEncoding.DecodeString(c.Text); err == nil && utf8.Valid(b) {
				c.Text = base64.StdEncoding.EncodeToString(redact.Body(c.MimeType, b))
			}
		} else {
			c.Text = string(redact.Body(c.MimeType, []byte(c.Text)))
		}
	}
	if x := e.Regtrace; x != nil {
		cp := *x
		if cp.RequestBody != nil {
			rb := *cp.RequestBody
			if rb.Base64 != "" {
				if b, err := base64.StdEncoding.DecodeString(rb.Base64); err == nil {
					rb.Base64 = base64.StdEncoding.EncodeToString(redact.Body("", b))
				}
			}
			cp.RequestBody = &rb
		}
		e.Regtrace = &cp
	}
	return e
}

// WriteFile writes h to path atomically (a temp file renamed into place),
// mode 0600: never a half-written file in place of a good one.
func WriteFile(path string, h *File) error {
	b, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".regtrace-*.har")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
