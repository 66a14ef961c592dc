package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// client is one mode's HTTP client: direct to the origin or through a proxy,
// HTTP/1.1 either way (both proxies offer clients only HTTP/1.1).
type client struct {
	hc   *http.Client
	tr   *http.Transport
	base string // https://host:port the requests go to
}

func newClient(base string, roots *x509.CertPool, proxyURL *url.URL, dialTo string, conns int) *client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		DisableCompression:  true,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
	}
	if proxyURL != nil {
		// An explicit proxy func: ProxyFromEnvironment would skip loopback.
		tr.Proxy = http.ProxyURL(proxyURL)
	}
	if dialTo != "" {
		d := &net.Dialer{}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dialTo)
		}
	}
	return &client{hc: &http.Client{Transport: tr}, tr: tr, base: base}
}

func (c *client) close() { c.tr.CloseIdleConnections() }

// blob downloads the blob, reading and discarding it, and returns bytes/s.
func (c *client) blob(ctx context.Context, path string, want int64) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET blob: %s", resp.Status)
	}
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reading the blob after %d bytes: %w", n, err)
		}
	}
	d := time.Since(start)
	if n != want {
		return 0, fmt.Errorf("blob: got %d bytes, want %d", n, want)
	}
	return float64(n) / d.Seconds(), nil
}

// small sends n manifest requests (HEAD and GET in turn, as a client
// checking then fetching) from workers goroutines over keep-alive
// connections. It returns requests/s and every request's latency.
func (c *client) small(ctx context.Context, n, workers int) (float64, []time.Duration, error) {
	lat := make([]time.Duration, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int, n)
	)
	for i := range n {
		next <- i
	}
	close(next)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d, err := c.manifest(ctx, i%2 == 0)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return 0, nil, first
	}
	return float64(n) / elapsed.Seconds(), lat, nil
}

func (c *client) manifest(ctx context.Context, head bool) (time.Duration, error) {
	method := http.MethodGet
	if head {
		method = http.MethodHead
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/v2/bench/app/manifests/latest", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	req.Header.Set("User-Agent", "regtrace-bench/1")
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s manifest: %s", method, resp.Status)
	}
	if resp.Header.Get("Docker-Content-Digest") == "" || (head && resp.ContentLength <= 0) {
		return 0, errors.New("manifest response lost its Docker-Content-Digest or Content-Length")
	}
	return d, nil
}

func (c *client) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v2/: %s", resp.Status)
	}
	return nil
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func latencies(lat []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(lat)
	slices.Sort(s)
	return percentile(s, 50), percentile(s, 99)
}

func originBase(host string, port int) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}
