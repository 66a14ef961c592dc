package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fleetModes share one proxy among many clients: "fleet" records a HAR per
// client (--proxy-auth, --har-dir), "fleet-otlp" also exports every
// exchange to an OTLP collector.
var fleetModes = []string{"fleet", "fleet-otlp"}

// fleetResult is one fleet mode's measurement in one run.
type fleetResult struct {
	Mode      string  `json:"mode"`
	Clients   int     `json:"clients"`
	BlobBps   float64 `json:"blob_bytes_per_s"` // all clients' blob bytes over the wall time
	Exchanges int     `json:"exchanges"`        // requests the clients sent
	// HAREntries are the exchanges in the per-client HARs, Spans those the
	// collector took ("nothing lost": both equal Exchanges, plus one span
	// per operation).
	HAREntries int   `json:"har_entries"`
	Spans      int   `json:"spans_exported"`
	Dropped    bool  `json:"dropped"` // regtrace said it dropped spans
	RSS        int64 `json:"peak_rss_bytes"`
	// ExportRatio is BlobBps over fleet's (without export) in the same run.
	ExportRatio float64 `json:"export_ratio,omitempty"`
}

// collector is an OTLP/HTTP endpoint that takes every batch and keeps
// nothing: it stands in for Jaeger or a vendor's collector here, where the
// question is what export costs the proxy (the e2e tests use Jaeger).
type collector struct {
	srv *http.Server
	url string
}

func startCollector() (*collector, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &collector{url: "http://" + ln.Addr().String()}
	c.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// An empty body is an empty ExportTraceServiceResponse: all taken.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go c.srv.Serve(ln)
	return c, nil
}

var exportedRE = regexp.MustCompile(`OTLP: (\d+) spans exported`)

// measureFleet starts one regtrace for cfg.clients users and has each pull
// at once: ping, manifest, and the fleet blob.
func measureFleet(ctx context.Context, cfg config, o *origin, mode, dir string) (fleetResult, error) {
	res := fleetResult{Mode: mode, Clients: cfg.clients, RSS: -1}
	var users strings.Builder
	name := func(i int) string { return fmt.Sprintf("client%02d", i) }
	for i := range cfg.clients {
		// The lowest cost: the proxy caches each verdict, so this only
		// shortens the set-up.
		hash, err := bcrypt.GenerateFromPassword([]byte(name(i)+"-pw"), bcrypt.MinCost)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(&users, "%s:%s\n", name(i), hash)
	}
	usersFile, harDir := filepath.Join(dir, "users"), filepath.Join(dir, "hars")
	if err := os.WriteFile(usersFile, []byte(users.String()), 0o600); err != nil {
		return res, err
	}
	extra := []string{"--proxy-auth", usersFile, "--har-dir", harDir}
	if mode == "fleet-otlp" {
		col, err := startCollector()
		if err != nil {
			return res, err
		}
		defer col.srv.Close()
		extra = append(extra, "--otlp-endpoint", col.url)
	}
	p, err := startRegtrace(ctx, cfg.regtrace, dir, o, extra...)
	if err != nil {
		return res, err
	}
	defer p.stop()

	clients := make([]*client, cfg.clients)
	for i := range clients {
		u := *p.url
		u.User = url.UserPassword(name(i), name(i)+"-pw")
		clients[i] = newClient(originBase(originName, o.port), p.roots, &u, "", 1)
		defer clients[i].close()
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	for _, c := range clients {
		wg.Go(func() {
			err := c.ping(ctx)
			if err == nil {
				_, err = c.manifest(ctx, false)
			}
			if err == nil {
				_, err = c.blob(ctx, o.fleetPath, o.fleetSize)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return res, fmt.Errorf("%d of %d clients failed, the first: %w", len(errs), cfg.clients, errs[0])
	}
	res.Exchanges = 3 * cfg.clients
	res.BlobBps = float64(o.fleetSize) * float64(cfg.clients) / elapsed.Seconds()
	res.RSS = p.peakRSS()
	p.stop()
	stderr := p.stderrText()
	if m := exportedRE.FindStringSubmatch(stderr); m != nil {
		res.Spans, _ = strconv.Atoi(m[1])
	}
	res.Dropped = strings.Contains(stderr, "dropped")
	for i := range cfg.clients {
		n, err := harEntries(filepath.Join(harDir, name(i)+".har"))
		if err != nil {
			return res, err
		}
		res.HAREntries += n
	}
	return res, nil
}

func harEntries(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Log struct {
			Entries []json.RawMessage `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return len(doc.Log.Entries), nil
}

// setExportRatios compares fleet-otlp with fleet in the same run.
func setExportRatios(rs []fleetResult) {
	i := slices.IndexFunc(rs, func(r fleetResult) bool { return r.Mode == "fleet" })
	if i < 0 {
		return
	}
	for j := range rs {
		if rs[j].Mode != "fleet" {
			rs[j].ExportRatio = rs[j].BlobBps / rs[i].BlobBps
		}
	}
}

// fleetMedians is, per mode, each metric's median over the runs.
func fleetMedians(runs [][]fleetResult) []fleetResult {
	var out []fleetResult
	if len(runs) == 0 {
		return out
	}
	for i, first := range runs[0] {
		var col []fleetResult
		for _, rs := range runs {
			col = append(col, rs[i])
		}
		med := func(f func(fleetResult) float64) float64 {
			v := make([]float64, len(col))
			for k, r := range col {
				v[k] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		m := first
		m.BlobBps = med(func(r fleetResult) float64 { return r.BlobBps })
		m.RSS = int64(med(func(r fleetResult) float64 { return float64(r.RSS) }))
		m.ExportRatio = med(func(r fleetResult) float64 { return r.ExportRatio })
		m.HAREntries = int(med(func(r fleetResult) float64 { return float64(r.HAREntries) }))
		m.Spans = int(med(func(r fleetResult) float64 { return float64(r.Spans) }))
		for _, r := range col {
			m.Dropped = m.Dropped || r.Dropped
		}
		out = append(out, m)
	}
	return out
}

func printFleet(w io.Writer, rep *report) {
	if len(rep.FleetMedian) == 0 {
		return
	}
	fmt.Fprintf(w, "\nfleet: %d clients at once, each its own proxy user (--proxy-auth, --har-dir), each pulling ping, manifest and a %s blob; median of %d run(s)\n",
		rep.FleetMedian[0].Clients, formatSize(rep.FleetSize), len(rep.Fleet))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tblob MB/s\tx without export\texchanges\tin HARs\tspans exported\tpeak RSS MiB\t")
	for _, r := range rep.FleetMedian {
		ratio, spans := "-", "-"
		if r.Mode != "fleet" {
			ratio = fmt.Sprintf("%.3fx", r.ExportRatio)
			spans = strconv.Itoa(r.Spans)
			if r.Dropped {
				spans += " (dropped some)"
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%d\t%d\t%s\t%.1f\t\n", r.Mode, r.BlobBps/1e6, ratio, r.Exchanges, r.HAREntries, spans, mib(r.RSS))
	}
	tw.Flush()
	fmt.Fprintln(w, "spans: one per exchange and one per operation (a client and registry; the bench client's manifest request has a User-Agent of its own, so two per client)")
	fmt.Fprintln(w, "fleet-otlp exports to an in-process OTLP/HTTP endpoint that takes every batch (what export costs the proxy); the e2e tests export to Jaeger")
}
