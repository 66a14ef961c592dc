package proxy

import (
	"io"
	"net"
	"sync"
	"time"
)

// Moving a blob through the proxy costs two TLS records per 16 KiB (one
// decrypted from upstream, one encrypted to the client), and without care
// one write syscall per record. On loopback a 16 KiB write costs about
// twice the CPU per byte of a 64 KiB one (1.05 vs 0.55 CPU s/GiB on the
// 2-core benchmark machine), and syscalls were half of the proxy's CPU
// profile for a 1 GiB pull. So while it copies a large body the proxy
// gathers the records of several reads into one write. A read that blocks
// must not hold back what was gathered: a timer sends it out if the
// upstream is silent for flushAfter. (A reader goroutine that knew when
// nothing was ready cost as much in wake-ups as it saved.)

const (
	// streamChunk is one TLS record's plaintext: tls.Conn.Read returns at
	// most one record per call.
	streamChunk = 16 << 10
	// flushAfter is the longest gathered bytes wait for the upstream.
	flushAfter = time.Millisecond
	// streamBatch is the most bytes gathered into one write syscall.
	streamBatch = 64 << 10
	// streamMin: bodies known to be smaller are copied the plain way; a
	// reader goroutine is not worth it for a manifest.
	streamMin = 4 * streamChunk
)

// batchConn sits under the client's tls.Conn and, while held, gathers what
// TLS writes so that several records go out in one syscall. Writes are
// serialised by its lock so that a record written by another goroutine
// (a TLS alert on close) cannot overtake gathered ones.
type batchConn struct {
	net.Conn
	mu      sync.Mutex
	holding bool
	buf     []byte
	err     error // a failed flush: the connection is broken
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.holding {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold starts gathering writes.
func (c *batchConn) hold() {
	c.mu.Lock()
	c.holding = true
	if c.buf == nil {
		c.buf = batchBufs.Get().([]byte)[:0]
	}
	c.mu.Unlock()
}

// gathered is how many bytes are held, and whether c is still holding
// (the silence timer may have flushed).
func (c *batchConn) gathered() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf), c.holding
}

// flush writes what was gathered and stops gathering. The buffer goes
// back to the pool, so an idle tunnel holds none.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if c.buf == nil {
		return nil
	}
	if len(c.buf) > 0 && c.err == nil {
		_, c.err = c.Conn.Write(c.buf)
	}
	batchBufs.Put(c.buf[:0]) //nolint:staticcheck // a slice header is fine here
	c.buf = nil
	return c.err
}

// batchBufs hold gathered records: a batch plus one record of slack, as
// the last write may overshoot.
var batchBufs = sync.Pool{New: func() any { return make([]byte, 0, streamBatch+streamChunk+1024) }}

// streamBody is a respBody for a large (or unknown-length) body on a
// tunnel whose client connection can gather writes.
type streamBody struct {
	*respBody
	out *batchConn
}

// upstreamConn is the upstream TCP connection under TLS. While a response
// streams in, it reads in gulps of up to readGulp: TLS asks for what fits
// its record buffer, about 32 KiB a syscall, and reads were a third of the
// proxy's CPU for a 1 GiB pull (128 KiB reads cut read syscalls by 4 and
// the proxy's CPU per GiB by about a seventh). The gulp buffer is pooled,
// and held only while it has data or while a streaming read waits: an idle
// connection holds none, so memory grows with downloads in flight only.
type upstreamConn struct {
	net.Conn
	buf       []byte // pooled; nil unless it holds data
	r, w      int
	err       error // from the read that filled buf, returned once it is drained
	streaming bool  // the last read filled what it was given: more is waiting
}

const readGulp = 128 << 10

var gulpBufs = sync.Pool{New: func() any { return make([]byte, readGulp) }}

func (c *upstreamConn) Read(p []byte) (int, error) {
	if c.r < c.w {
		n := copy(p, c.buf[c.r:c.w])
		c.r += n
		c.drained()
		return n, nil
	}
	if err := c.err; err != nil {
		c.err = nil
		return 0, err
	}
	if !c.streaming || len(p) >= readGulp {
		n, err := c.Conn.Read(p)
		c.streaming = n == len(p)
		return n, err
	}
	c.buf = gulpBufs.Get().([]byte)
	n, err := c.Conn.Read(c.buf)
	c.streaming = n >= readGulp/2
	k := copy(p, c.buf[:n])
	c.r, c.w = k, n
	if c.r < c.w {
		c.err, err = err, nil
	}
	c.drained()
	return k, err
}

// drained gives the buffer back once everything in it has been read.
func (c *upstreamConn) drained() {
	if c.r == c.w && c.buf != nil {
		gulpBufs.Put(c.buf) //nolint:staticcheck // a slice header is fine here
		c.buf, c.r, c.w = nil, 0, 0
	}
}

// WriteTo is what io.Copy in goproxy calls to send the body to the client.
func (b *streamBody) WriteTo(w io.Writer) (written int64, err error) {
	buf := make([]byte, streamChunk)
	silent := time.AfterFunc(time.Hour, func() { b.out.flush() })
	silent.Stop()
	defer silent.Stop()
	defer func() {
		if ferr := b.out.flush(); err == nil && ferr != nil {
			err = ferr
		}
	}()
	for gathering := false; ; {
		if gathering {
			silent.Reset(flushAfter)
		}
		n, rerr := b.Read(buf)
		if gathering {
			silent.Stop()
		}
		if n > 0 {
			if !gathering {
				b.out.hold()
				gathering = true
			}
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
		if gathering {
			switch held, holding := b.out.gathered(); {
			case !holding: // the timer sent it
				gathering = false
			case held >= streamBatch:
				if err := b.out.flush(); err != nil {
					return written, err
				}
				gathering = false
			}
		}
	}
}
