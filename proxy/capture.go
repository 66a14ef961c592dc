package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/regtrace/regtrace/decode/flow"
)

// textual reports whether a body of this content type is worth capturing:
// JSON (manifests, indexes, token responses, registry errors), text, XML (S3
// errors), forms (OAuth2 token requests). Blobs are octet-stream or a layer
// media type and are never captured.
func textual(contentType string) (yes, sniff bool) {
	if contentType == "" {
		return false, true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/x-www-form-urlencoded",
		mt == "application/javascript":
		return true, false
	}
	return false, false
}

// looksText decides for a body without a content type, from its first bytes.
func looksText(p []byte) bool {
	if len(p) > 512 {
		p = p[:512]
	}
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			// A rune cut at the end of the sniff window is still text.
			return len(p) < utf8.UTFMax
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
		p = p[size:]
	}
	return true
}

// capture records what streams through one body: a bounded prefix of textual
// bodies, the true size, and a sha256 for captured bodies. It never holds more
// than limit bytes, whatever the body's size.
type capture struct {
	mu       sync.Mutex
	limit    int
	decided  bool // whether to keep bytes is known
	keep     bool
	sniff    bool
	buf      []byte
	size     int64
	h        hash.Hash
	complete bool
	first    time.Time // first byte
	last     time.Time // EOF or cut
	err      error     // read error, if any
}

func newCapture(contentType string, limit int) *capture {
	c := &capture{limit: limit}
	keep, sniff := textual(contentType)
	if limit <= 0 {
		keep, sniff = false, false
	}
	c.keep, c.sniff = keep, sniff
	c.decided = !sniff
	if keep {
		c.h = sha256.New()
	}
	return c
}

func (c *capture) write(p []byte) {
	if len(p) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.size == 0 {
		c.first = time.Now()
	}
	if !c.decided {
		c.decided = true
		c.keep = looksText(p)
		if c.keep {
			c.h = sha256.New()
		}
	}
	c.size += int64(len(p))
	if !c.keep {
		return
	}
	c.h.Write(p)
	if room := c.limit - len(c.buf); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		c.buf = append(c.buf, p...)
	}
}

func (c *capture) end(complete bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.complete = c.complete || complete
	if err != nil && c.err == nil {
		c.err = err
	}
	if c.last.IsZero() {
		c.last = time.Now()
	}
}

// body returns the flow.Body recorded so far.
func (c *capture) body() flow.Body {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := flow.Body{Size: c.size, Complete: c.complete}
	if c.keep {
		b.Captured = c.buf
		b.Truncated = c.size > int64(len(c.buf))
		if c.complete && c.h != nil {
			b.SHA256 = hex.EncodeToString(c.h.Sum(nil))
		}
	} else {
		b.Truncated = c.size > 0
	}
	return b
}

func (c *capture) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// reqBody tees a request body into a capture as the transport reads it.
type reqBody struct {
	rc io.ReadCloser
	c  *capture
}

func (b *reqBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.write(p[:n])
	switch {
	case err == io.EOF:
		b.c.end(true, nil)
	case err != nil:
		b.c.end(false, err)
	}
	return n, err
}

func (b *reqBody) Close() error { return b.rc.Close() }

// respBody tees a response body into a capture as goproxy copies it to the
// client, and finishes the flow exactly once: at EOF, on an upstream read
// error, or when closed early (the client went away).
type respBody struct {
	rc     io.ReadCloser
	c      *capture
	once   sync.Once
	finish func(upstreamErr error, complete bool)
}

func (b *respBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.write(p[:n])
	switch {
	case err == io.EOF:
		b.done(nil, true)
	case err != nil:
		b.done(err, false)
	}
	return n, err
}

func (b *respBody) Close() error {
	err := b.rc.Close()
	b.done(nil, false)
	return err
}

func (b *respBody) done(err error, complete bool) {
	b.once.Do(func() {
		b.c.end(complete, err)
		b.finish(err, complete)
	})
}

// bodyless reports whether a response to method with status carries no body
// by definition (RFC 9110 §6.4.1).
func bodyless(method string, status int) bool {
	return method == http.MethodHead || status == http.StatusNoContent ||
		status == http.StatusNotModified || (status >= 100 && status < 200)
}
