package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
)

// TestOnFlowRunsAfterTheClientHasTheResponse: a slow OnFlow (decoding,
// printing, writing the HAR) must not delay the response it records.
func TestOnFlowRunsAfterTheClientHasTheResponse(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		next := o.OnFlow
		o.OnFlow = func(f *flow.Flow) {
			<-release
			next(f)
		}
	})
	req, _ := http.NewRequest("GET", e.base+"/v2/", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the client got no response while OnFlow was busy")
	}
	close(release)
	if f := e.flow(); f.Response == nil || f.Response.Status != 200 {
		t.Fatalf("flow = %+v", f)
	}
}

// TestGatheredBytesAreNotHeldWhileUpstreamIsSilent: the proxy gathers
// TLS records of a large body into fewer writes (up to 64 KiB), but what it
// has must reach the client while the upstream pauses mid-body. (net/http's
// response buffers may keep a few KiB, as they always did: the upstream's
// first records are small, and goproxy does not flush a body of known
// length.)
func TestGatheredBytesAreNotHeldWhileUpstreamIsSilent(t *testing.T) {
	const first, total, slack = 200 << 10, 400 << 10, 8 << 10
	part := bytes.Repeat([]byte{0xAB}, first)
	resume := make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(total))
		w.Write(part)
		w.(http.Flusher).Flush()
		select {
		case <-resume:
		case <-r.Context().Done():
			return
		}
		w.Write(part)
	}), nil)
	resp, err := e.client.Get(e.base + "/v2/team/app/blobs/sha256:aa")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, first-slack)
	read := make(chan error, 1)
	go func() { _, err := io.ReadFull(resp.Body, got); read <- err }()
	select {
	case err := <-read:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		close(resume)
		t.Fatal("the first part never reached the client: the proxy held it while the upstream was silent")
	}
	close(resume)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(got)+len(rest) != total || !bytes.Equal(got, part[:len(got)]) {
		t.Fatalf("got %d+%d bytes, %v; want %d", len(got), len(rest), err, total)
	}
	if f := e.flow(); f.Response.Body.Size != total || !f.Response.Body.Complete || f.Err != nil {
		t.Fatalf("flow body = %+v, err %v", f.Response.Body, f.Err)
	}
}

// TestLargeChunkedBodyArrivesWhole: an unknown-length blob takes the
// gathering path too, and stays chunked.
func TestLargeChunkedBodyArrivesWhole(t *testing.T) {
	payload := make([]byte, 3<<20+12345)
	for i := range payload {
		payload[i] = byte(i * 31 >> 3)
	}
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		for p := payload; len(p) > 0; {
			n := min(len(p), 100_000)
			w.Write(p[:n])
			w.(http.Flusher).Flush()
			p = p[n:]
		}
	}), nil)
	resp, got := e.do(mustRequest(t, "GET", e.base+"/v2/team/app/blobs/sha256:bb"))
	if !bytes.Equal(got, payload) {
		t.Fatalf("client got %d bytes, want %d identical", len(got), len(payload))
	}
	if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 {
		t.Errorf("response framing: Content-Length %d, Transfer-Encoding %v; want chunked", resp.ContentLength, resp.TransferEncoding)
	}
	if f := e.flow(); f.Response.Body.Size != int64(len(payload)) || !f.Response.Body.Complete {
		t.Fatalf("flow body = %+v", f.Response.Body)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// scriptConn returns its reads as scripted, whatever the caller asks for
// up to that size, then err.
type scriptConn struct {
	net.Conn
	data []byte
	max  int // bytes per read at most
	err  error
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := copy(p, c.data[:min(len(c.data), c.max)])
	c.data = c.data[n:]
	return n, nil
}

// TestUpstreamConnGulps: reads through the gulp buffer give the stream
// unchanged whatever the callers' sizes, the error after the data, and
// hold no buffer once drained.
func TestUpstreamConnGulps(t *testing.T) {
	src := make([]byte, 1<<20+777)
	for i := range src {
		src[i] = byte(i*131 + i>>9)
	}
	sentinel := errors.New("upstream closed")
	for _, c := range []struct {
		name      string
		perRead   int // what the socket has per read
		askFor    []int
		wantGulps bool
	}{
		{"streaming, TLS-sized asks", 1 << 30, []int{5, 16384 + 17, 40000, 512}, true},
		{"trickle", 3000, []int{5, 16384 + 17, 40000}, false},
		{"large asks", 1 << 30, []int{readGulp, readGulp * 2}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			uc := &upstreamConn{Conn: &scriptConn{data: src, max: c.perRead, err: sentinel}}
			var got []byte
			gulped := false
			var err error
			for i := 0; err == nil; i++ {
				p := make([]byte, c.askFor[i%len(c.askFor)])
				var n int
				n, err = uc.Read(p)
				got = append(got, p[:n]...)
				gulped = gulped || uc.buf != nil
				if uc.r == uc.w && uc.buf != nil {
					t.Fatal("a drained gulp buffer is still held")
				}
			}
			if err != sentinel || !bytes.Equal(got, src) {
				t.Fatalf("read %d bytes (identical: %v), then %v; want %d bytes, then %v", len(got), bytes.Equal(got, src), err, len(src), sentinel)
			}
			if gulped != c.wantGulps {
				t.Errorf("used the gulp buffer: %v, want %v", gulped, c.wantGulps)
			}
			if uc.buf != nil {
				t.Error("buffer held after the end")
			}
		})
	}
}

// TestShutdownWaitsForHeldFlows: flows wait for their response to be
// written before OnFlow; Shutdown must not return before OnFlow has had
// them (the HAR is closed right after it). OnFlow is released only once
// Shutdown has closed the client's idle connection, which is when, without
// the wait, Shutdown returns.
func TestShutdownWaitsForHeldFlows(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var running atomic.Bool
	e := newEnv(t, http.HandlerFunc(echoHandler), func(o *Options, _ *httptest.Server) {
		next := o.OnFlow
		o.OnFlow = func(f *flow.Flow) {
			running.Store(true)
			close(entered)
			<-release
			next(f)
			running.Store(false)
		}
	})
	raw, err := net.Dial("tcp", e.proxyURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	target := strings.TrimPrefix(e.base, "https://")
	fmt.Fprintf(raw, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(raw)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: e.mitmCA.pool, ServerName: "registry.test"})
	fmt.Fprintf(tc, "GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n", target)
	tbr := bufio.NewReader(tc)
	resp, err := http.ReadResponse(tbr, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		e.proxy.Shutdown(ctx)
		close(done)
	}()
	tbr.ReadByte() // EOF: Shutdown has closed the idle connection
	select {
	case <-done:
		t.Fatal("Shutdown returned while OnFlow was still running")
	default:
	}
	close(release)
	<-done
	if running.Load() {
		t.Fatal("Shutdown returned while OnFlow was still running")
	}
	if f := e.flow(); f.Response == nil {
		t.Fatalf("flow = %+v", f)
	}
}
