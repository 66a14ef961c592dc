package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenServer is the project's own test token server, written to the
// distribution token spec (docs/spec/auth/token.md, oauth.md, jwt.md): RS256
// JWTs whose x5c chain the registry verifies against its rootcertbundle, a
// per-repository ACL with anonymous access per repository, GET and OAuth2
// POST (password and refresh_token grants), token and access_token. No real
// token server installs here (cesanta/docker_auth is not on the module proxy).
type tokenServer struct {
	Service, Issuer string
	// Users: name -> password.
	Users map[string]string
	// ACL: repository -> user ("" = anonymous) -> actions granted.
	ACL map[string]map[string][]string
	// Fields: which fields a GET response carries ("token", "access_token" or both when empty).
	Fields string

	key      *rsa.PrivateKey
	certDER  []byte
	Bundle   string // PEM file for the registry's rootcertbundle
	mu       sync.Mutex
	refresh  map[string]string // refresh token -> user
	Requests []string          // "GET scope=… user=…" for assertions
	// behind is how far the server's clock lags (ns): its tokens are
	// issued, and expire, that much early.
	behind atomic.Int64
}

// SetBehind sets how far the token server's clock lags behind.
func (ts *tokenServer) SetBehind(d time.Duration) { ts.behind.Store(int64(d)) }

func (ts *tokenServer) now() time.Time { return time.Now().Add(-time.Duration(ts.behind.Load())) }

func newTokenServer(t *testing.T, dir string) *tokenServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "regtrace test token signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenServer{
		Service: "registry.test", Issuer: "regtrace-test-issuer",
		Users: map[string]string{}, ACL: map[string]map[string][]string{},
		key: key, certDER: der, refresh: map[string]string{},
		Bundle: filepath.Join(dir, "token-signer.pem"),
	}
	if err := os.WriteFile(ts.Bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return ts
}

// RegistryConfig is the distribution config block that trusts this server.
func (ts *tokenServer) RegistryConfig(realm string) string {
	return fmt.Sprintf(`auth:
  token:
    realm: %s
    service: %s
    issuer: %s
    rootcertbundle: %s
`, realm, ts.Service, ts.Issuer, ts.Bundle)
}

// grant intersects what was asked with the ACL (the spec: never an error
// for lack of permission, just fewer actions).
func (ts *tokenServer) grant(user string, scopes []string) []map[string]any {
	access := []map[string]any{}
	for _, s := range scopes {
		first, last := strings.IndexByte(s, ':'), strings.LastIndexByte(s, ':')
		if first < 0 || first == last {
			continue
		}
		typ, name, acts := s[:first], s[first+1:last], strings.Split(s[last+1:], ",")
		if typ != "repository" {
			continue
		}
		allowed := append(slices.Clone(ts.ACL[name][""]), ts.ACL[name][user]...)
		var got []string
		for _, a := range acts {
			if slices.Contains(allowed, a) || slices.Contains(allowed, "*") {
				got = append(got, a)
			}
		}
		if len(got) > 0 {
			access = append(access, map[string]any{"type": typ, "name": name, "actions": got})
		}
	}
	return access
}

func (ts *tokenServer) sign(user string, access []map[string]any) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "RS256", "x5c": []string{base64.StdEncoding.EncodeToString(ts.certDER)}})
	now := ts.now()
	jti := make([]byte, 8)
	rand.Read(jti)
	claims, _ := json.Marshal(map[string]any{
		"iss": ts.Issuer, "sub": user, "aud": ts.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-10 * time.Second).Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti), "access": access,
	})
	signing := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64(sig), nil
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, ecode, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, ecode, msg)
	}
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	var user string
	var scopes []string
	var offline bool
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		if q.Get("service") != ts.Service {
			fail(400, "UNSUPPORTED", "unknown service")
			return
		}
		for _, s := range q["scope"] {
			scopes = append(scopes, strings.Fields(s)...)
		}
		offline = q.Get("offline_token") == "true"
		if u, p, ok := r.BasicAuth(); ok {
			if want, known := ts.Users[u]; !known || want != p {
				fail(401, "UNAUTHORIZED", "invalid username or password")
				return
			}
			user = u
		}
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			fail(400, "UNSUPPORTED", "bad form")
			return
		}
		scopes = strings.Fields(r.PostForm.Get("scope"))
		offline = r.PostForm.Get("access_type") == "offline"
		switch r.PostForm.Get("grant_type") {
		case "password":
			u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
			if want, known := ts.Users[u]; !known || want != p {
				fail(401, "UNAUTHORIZED", "invalid username or password")
				return
			}
			user = u
		case "refresh_token":
			ts.mu.Lock()
			u, ok := ts.refresh[r.PostForm.Get("refresh_token")]
			ts.mu.Unlock()
			if !ok {
				fail(401, "UNAUTHORIZED", "invalid refresh token")
				return
			}
			user = u
		default:
			fail(400, "UNSUPPORTED", "unsupported grant_type")
			return
		}
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ts.mu.Lock()
	ts.Requests = append(ts.Requests, fmt.Sprintf("%s scope=%s user=%s", r.Method, strings.Join(scopes, " "), user))
	ts.mu.Unlock()
	tok, err := ts.sign(user, ts.grant(user, scopes))
	if err != nil {
		fail(500, "UNKNOWN", err.Error())
		return
	}
	resp := map[string]any{"expires_in": 300, "issued_at": ts.now().UTC().Format(time.RFC3339)}
	switch {
	case r.Method == http.MethodPost:
		resp["access_token"] = tok // OAuth2 responses use access_token
	case ts.Fields == "token":
		resp["token"] = tok
	case ts.Fields == "access_token":
		resp["access_token"] = tok
	default:
		resp["token"], resp["access_token"] = tok, tok
	}
	if offline && user != "" {
		rt := ts.NewRefreshToken(user)
		resp["refresh_token"] = rt
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// NewRefreshToken mints a refresh token for user (an identity token a
// client may store, as docker login does).
func (ts *tokenServer) NewRefreshToken(user string) string {
	b := make([]byte, 24)
	rand.Read(b)
	rt := "rt-" + hex.EncodeToString(b)
	ts.mu.Lock()
	ts.refresh[rt] = user
	ts.mu.Unlock()
	return rt
}

// startTLS serves h over TLS on loopback with the given PEM files; it
// returns the port.
func startTLS(t *testing.T, certs pemFiles, h http.Handler) int {
	t.Helper()
	cert, err := tlsKeyPair(certs)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cert}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
