package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// htpasswd holds the users of a shared proxy: an htpasswd file of bcrypt
// entries (`htpasswd -B`), the only kind Apache and nginx still recommend.
type htpasswd struct {
	users map[string][]byte

	mu sync.Mutex
	// seen caches verdicts by a hash of the header value: bcrypt costs
	// tens of milliseconds, and a client sends the same credential with
	// every CONNECT (and a flood of wrong ones must not cost that each).
	seen map[[32]byte]string // "" refused, else the user
}

// maxSeen bounds the verdict cache.
const maxSeen = 4096

// readHtpasswd reads path; an entry that is not bcrypt is an error naming
// its line, never silently skipped (it would lock its user out).
func readHtpasswd(path string) (*htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--proxy-auth: %w", err)
	}
	defer f.Close()
	h := &htpasswd{users: map[string][]byte{}, seen: map[[32]byte]string{}}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || user == "":
			return nil, fmt.Errorf("--proxy-auth %s, line %d: want USER:BCRYPT-HASH (htpasswd -B)", path, n)
		case !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$"):
			return nil, fmt.Errorf("--proxy-auth %s, line %d: user %q has no bcrypt hash (only htpasswd -B entries are accepted: MD5, SHA1, crypt and plain text are weak)", path, n, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("--proxy-auth %s, line %d: user %q: %v", path, n, user, err)
		}
		if _, dup := h.users[user]; dup {
			return nil, fmt.Errorf("--proxy-auth %s, line %d: user %q appears twice", path, n, user)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--proxy-auth %s: %w", path, err)
	}
	if len(h.users) == 0 {
		return nil, fmt.Errorf("--proxy-auth %s: no users in it", path)
	}
	return h, nil
}

// Authenticate checks a Proxy-Authorization value (proxy.Options.Authenticate).
func (h *htpasswd) Authenticate(value string) (string, bool) {
	key := sha256.Sum256([]byte(value))
	h.mu.Lock()
	user, ok := h.seen[key]
	h.mu.Unlock()
	if ok {
		return user, user != ""
	}
	user = h.check(value)
	h.mu.Lock()
	if len(h.seen) >= maxSeen {
		clear(h.seen)
	}
	h.seen[key] = user
	h.mu.Unlock()
	return user, user != ""
}

func (h *htpasswd) check(value string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return ""
	}
	user, pass, ok := strings.Cut(string(b), ":")
	hash, known := h.users[user]
	if !ok || !known || bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return ""
	}
	return user
}
