// Command regtrace-bench measures regtrace side by side with a direct
// connection and with mitmdump, against a TLS origin on loopback that
// answers like a registry: one large blob, and small manifest requests over
// keep-alive connections. Each proxy runs as its own process, so its peak
// RSS (VmHWM) and CPU time are its own. ARCHITECTURE.md ("Targets") says
// what regtrace must reach.
//
//	go run ./cmd/regtrace-bench [--size 1GiB] [--requests 20000] [--runs 3]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	size     int64
	requests int
	workers  int
	runs     int
	json     bool
	regtrace string // binary; empty: build it
	mitmdump string // binary; "none": skip
	modes    []string
	originH2 bool
	profile  string // directory for regtrace CPU profiles
	keep     bool
	clients  int   // fleet modes: concurrent clients
	fleetSz  int64 // fleet modes: each client's blob
}

var allModes = append([]string{"direct", "regtrace", "regtrace-har", "mitmdump"}, fleetModes...)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("regtrace-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg   config
		size  = fs.String("size", "1GiB", "blob size (bytes, or with KiB/MiB/GiB/KB/MB/GB)")
		modes = fs.String("modes", strings.Join(allModes, ","), "modes to run, in order")
		fleet = fs.String("fleet-size", "16MiB", "fleet modes: the blob each client pulls")
	)
	fs.IntVar(&cfg.clients, "clients", 50, "fleet modes: clients pulling at once, each its own proxy user")
	fs.IntVar(&cfg.requests, "requests", 20000, "small manifest requests (HEAD and GET in turn) per mode")
	fs.IntVar(&cfg.workers, "workers", 4, "concurrent keep-alive connections for the small requests")
	fs.IntVar(&cfg.runs, "runs", 1, "runs of every mode, in turns; the table shows each metric's median")
	fs.BoolVar(&cfg.json, "json", false, "print JSON (every run and the medians) instead of a table")
	fs.StringVar(&cfg.regtrace, "regtrace", "", "regtrace binary (default: go build ./cmd/regtrace of this module)")
	fs.StringVar(&cfg.mitmdump, "mitmdump", "mitmdump", `mitmdump binary ("none" to skip; skipped when not installed)`)
	fs.BoolVar(&cfg.originH2, "origin-h2", false, "the origin also offers HTTP/2 (the proxies may then use it upstream)")
	fs.StringVar(&cfg.profile, "cpuprofile", "", "write a CPU profile of each regtrace proxy to this directory")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (CAs, HAR files)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: regtrace-bench [flags]\n\nMeasures direct, regtrace and mitmdump against a loopback TLS registry.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var err error
	if cfg.size, err = parseSize(*size); err != nil || cfg.size <= 0 {
		fmt.Fprintf(stderr, "regtrace-bench: --size %q: want a positive size such as 1GiB\n", *size)
		return 2
	}
	if cfg.fleetSz, err = parseSize(*fleet); err != nil || cfg.fleetSz <= 0 {
		fmt.Fprintf(stderr, "regtrace-bench: --fleet-size %q: want a positive size such as 16MiB\n", *fleet)
		return 2
	}
	if cfg.requests < 1 || cfg.workers < 1 || cfg.runs < 1 || cfg.clients < 1 {
		fmt.Fprintln(stderr, "regtrace-bench: --requests, --workers, --runs and --clients must be at least 1")
		return 2
	}
	for _, m := range strings.Split(*modes, ",") {
		if !slices.Contains(allModes, m) {
			fmt.Fprintf(stderr, "regtrace-bench: --modes: unknown mode %q (want %s)\n", m, strings.Join(allModes, ","))
			return 2
		}
		cfg.modes = append(cfg.modes, m)
	}
	if err := bench(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "regtrace-bench: %v\n", err)
		return 1
	}
	return 0
}

// result is one mode's measurement in one run.
type result struct {
	Mode      string        `json:"mode"`
	Addressed string        `json:"addressed"`
	BlobBps   float64       `json:"blob_bytes_per_s"`
	ReqPerSec float64       `json:"requests_per_s"`
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	// Ratios to direct in the same run (in medians: the median of those).
	BlobRatio  float64       `json:"blob_ratio"`
	ReqRatio   float64       `json:"requests_ratio"`
	RSSBlob    int64         `json:"peak_rss_blob_bytes"`       // VmHWM after the blob
	RSSEnd     int64         `json:"peak_rss_bytes"`            // VmHWM at the end
	CPUBlob    time.Duration `json:"proxy_cpu_blob_ns"`         // proxy CPU time for the blob
	ReadsBlob  int64         `json:"proxy_read_syscalls_blob"`  // proxy read syscalls for the blob
	WritesBlob int64         `json:"proxy_write_syscalls_blob"` // proxy write syscalls for the blob
	CPUSmall   time.Duration `json:"proxy_cpu_small_ns"`        // proxy CPU time for the small requests
	SelfBlob   time.Duration `json:"bench_cpu_blob_ns"`         // client and origin CPU time for the blob
	SelfSmall  time.Duration `json:"bench_cpu_small_ns"`        // client and origin CPU time for the small requests
}

type report struct {
	Size     int64      `json:"size"`
	Requests int        `json:"requests"`
	Workers  int        `json:"workers"`
	Runs     [][]result `json:"runs"`
	Median   []result   `json:"median"`
	// Fleet: the fleet modes' runs and medians (--clients at once).
	FleetSize   int64           `json:"fleet_size,omitempty"`
	Fleet       [][]fleetResult `json:"fleet,omitempty"`
	FleetMedian []fleetResult   `json:"fleet_median,omitempty"`
	LoadBefore  string          `json:"load_before"`
	LoadAfter   string          `json:"load_after"`
	Skipped     []string        `json:"skipped,omitempty"`
}

func bench(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "regtrace-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Fprintf(stderr, "regtrace-bench: keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	rep := &report{Size: cfg.size, Requests: cfg.requests, Workers: cfg.workers}
	modes := cfg.modes
	if slices.ContainsFunc(modes, func(m string) bool { return m != "direct" && m != "mitmdump" }) && cfg.regtrace == "" {
		fmt.Fprintln(stderr, "regtrace-bench: building regtrace")
		if cfg.regtrace, err = buildRegtrace(tmp); err != nil {
			return err
		}
	}
	if slices.Contains(modes, "mitmdump") {
		path, err := exec.LookPath(cfg.mitmdump)
		if cfg.mitmdump == "none" || err != nil {
			rep.Skipped = append(rep.Skipped, "mitmdump (not installed: Debian package mitmproxy)")
			modes = slices.DeleteFunc(slices.Clone(modes), func(m string) bool { return m == "mitmdump" })
		} else {
			cfg.mitmdump = path
		}
	}
	if cfg.profile != "" {
		if err := os.MkdirAll(cfg.profile, 0o755); err != nil {
			return err
		}
	}
	o, err := newOrigin(cfg.size, cfg.fleetSz, cfg.originH2)
	if err != nil {
		return err
	}
	defer o.Close()

	rep.LoadBefore = loadavg()
	for r := range cfg.runs {
		var rs []result
		var fs []fleetResult
		for _, m := range modes {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if slices.Contains(fleetModes, m) {
				fmt.Fprintf(stderr, "regtrace-bench: run %d/%d: %s (%d clients)\n", r+1, cfg.runs, m, cfg.clients)
				dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", m, r+1))
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return err
				}
				res, err := measureFleet(ctx, cfg, o, m, dir)
				if err != nil {
					return fmt.Errorf("%s: %w", m, err)
				}
				fs = append(fs, res)
				continue
			}
			fmt.Fprintf(stderr, "regtrace-bench: run %d/%d: %s\n", r+1, cfg.runs, m)
			dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", m, r+1))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			res, err := measure(ctx, cfg, o, m, dir, r)
			if err != nil {
				return fmt.Errorf("%s: %w", m, err)
			}
			rs = append(rs, res)
		}
		if len(rs) > 0 {
			rep.Runs = append(rep.Runs, rs)
		}
		if len(fs) > 0 {
			setExportRatios(fs)
			rep.Fleet = append(rep.Fleet, fs)
		}
	}
	if len(rep.Fleet) > 0 {
		rep.FleetSize = cfg.fleetSz
		rep.FleetMedian = fleetMedians(rep.Fleet)
	}
	rep.LoadAfter = loadavg()
	for _, rs := range rep.Runs {
		setRatios(rs)
	}
	rep.Median = medians(rep.Runs)
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if len(rep.Runs) > 0 {
		printTable(stdout, rep)
	}
	printFleet(stdout, rep)
	return nil
}

// measure runs one mode: a warm-up (connections, leaf certificates), the
// blob, then the small requests.
func measure(ctx context.Context, cfg config, o *origin, mode, dir string, run int) (result, error) {
	res := result{Mode: mode, RSSBlob: -1, RSSEnd: -1, CPUBlob: -1, CPUSmall: -1, ReadsBlob: -1, WritesBlob: -1}
	var (
		c *client
		p *proxyProc
	)
	conns := cfg.workers + 1
	switch mode {
	case "direct":
		res.Addressed = originName + " dialled at 127.0.0.1"
		c = newClient(originBase(originName, o.port), o.caPool, nil, fmt.Sprintf("127.0.0.1:%d", o.port), conns)
	case "regtrace", "regtrace-har":
		var extra []string
		if mode == "regtrace-har" {
			extra = append(extra, "--har", filepath.Join(dir, "trace.har"))
		}
		if cfg.profile != "" {
			extra = append(extra, "--cpuprofile", filepath.Join(cfg.profile, fmt.Sprintf("%s-%d.pprof", mode, run+1)))
		}
		var err error
		if p, err = startRegtrace(ctx, cfg.regtrace, dir, o, extra...); err != nil {
			return res, err
		}
		res.Addressed = originName + " via --resolve"
		c = newClient(originBase(originName, o.port), p.roots, p.url, "", conns)
	case "mitmdump":
		var err error
		if p, err = startMitmdump(ctx, cfg.mitmdump, dir, o); err != nil {
			return res, err
		}
		res.Addressed = "127.0.0.1 (it cannot resolve a made-up name)"
		c = newClient(originBase("127.0.0.1", o.port), p.roots, p.url, "", conns)
	}
	defer c.close()
	if p != nil {
		defer p.stop()
	}
	if err := c.ping(ctx); err != nil {
		return res, err
	}
	if _, _, err := c.small(ctx, min(200, cfg.requests), cfg.workers); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	var (
		cpu0     time.Duration
		rd0, wr0 int64
	)
	self0 := selfCPU()
	if p != nil {
		cpu0 = p.cpu()
		rd0, wr0 = p.ioCounts()
	}
	bps, err := c.blob(ctx, o.blobPath, o.size)
	if err != nil {
		return res, err
	}
	res.BlobBps = bps
	res.SelfBlob = selfCPU() - self0
	self0 = selfCPU()
	if p != nil {
		res.CPUBlob = p.cpu() - cpu0
		res.RSSBlob = p.peakRSS()
		rd, wr := p.ioCounts()
		res.ReadsBlob, res.WritesBlob = rd-rd0, wr-wr0
		cpu0 = p.cpu()
	}
	rps, lat, err := c.small(ctx, cfg.requests, cfg.workers)
	if err != nil {
		return res, err
	}
	res.ReqPerSec = rps
	res.SelfSmall = selfCPU() - self0
	res.P50, res.P99 = latencies(lat)
	if p != nil {
		res.RSSEnd = p.peakRSS()
		res.CPUSmall = p.cpu() - cpu0
	}
	return res, nil
}

// setRatios compares each mode with direct in the same run: measurements
// close in time share the machine's load.
func setRatios(rs []result) {
	for _, d := range rs {
		if d.Mode != "direct" {
			continue
		}
		for i := range rs {
			rs[i].BlobRatio = rs[i].BlobBps / d.BlobBps
			rs[i].ReqRatio = rs[i].ReqPerSec / d.ReqPerSec
		}
	}
}

func medians(runs [][]result) []result {
	if len(runs) == 0 {
		return nil
	}
	out := make([]result, len(runs[0]))
	for i := range out {
		col := make([]result, len(runs))
		for r := range runs {
			col[r] = runs[r][i]
		}
		out[i] = result{
			Mode: col[0].Mode, Addressed: col[0].Addressed,
			BlobBps:    median(col, func(x result) float64 { return x.BlobBps }),
			ReqPerSec:  median(col, func(x result) float64 { return x.ReqPerSec }),
			BlobRatio:  median(col, func(x result) float64 { return x.BlobRatio }),
			ReqRatio:   median(col, func(x result) float64 { return x.ReqRatio }),
			P50:        time.Duration(median(col, func(x result) float64 { return float64(x.P50) })),
			P99:        time.Duration(median(col, func(x result) float64 { return float64(x.P99) })),
			RSSBlob:    int64(median(col, func(x result) float64 { return float64(x.RSSBlob) })),
			RSSEnd:     int64(median(col, func(x result) float64 { return float64(x.RSSEnd) })),
			CPUBlob:    time.Duration(median(col, func(x result) float64 { return float64(x.CPUBlob) })),
			CPUSmall:   time.Duration(median(col, func(x result) float64 { return float64(x.CPUSmall) })),
			SelfBlob:   time.Duration(median(col, func(x result) float64 { return float64(x.SelfBlob) })),
			SelfSmall:  time.Duration(median(col, func(x result) float64 { return float64(x.SelfSmall) })),
			ReadsBlob:  int64(median(col, func(x result) float64 { return float64(x.ReadsBlob) })),
			WritesBlob: int64(median(col, func(x result) float64 { return float64(x.WritesBlob) })),
		}
	}
	return out
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func printTable(w io.Writer, rep *report) {
	fmt.Fprintf(w, "regtrace-bench: %s blob, %d manifest requests (HEAD/GET) over %d keep-alive connections, %d run(s), median (ratios: median of each run's ratio to direct)\n",
		formatSize(rep.Size), rep.Requests, rep.Workers, len(rep.Runs))
	fmt.Fprintf(w, "load average before: %s  after: %s  (%d CPUs)\n\n", rep.LoadBefore, rep.LoadAfter, numCPU())
	var direct *result
	for i := range rep.Median {
		if rep.Median[i].Mode == "direct" {
			direct = &rep.Median[i]
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tblob MB/s\tx direct\treq/s\tx direct\tp50 ms\tp99 ms\t+p50 ms\t+p99 ms\tpeak RSS MiB\tproxy CPU s/GiB\t")
	for _, r := range rep.Median {
		ratioB, ratioR, addP50, addP99 := "-", "-", "-", "-"
		if direct != nil && r.Mode != "direct" {
			ratioB = fmt.Sprintf("%.2fx", r.BlobRatio)
			ratioR = fmt.Sprintf("%.2fx", r.ReqRatio)
			addP50 = fmt.Sprintf("%+.3f", ms(r.P50-direct.P50))
			addP99 = fmt.Sprintf("%+.3f", ms(r.P99-direct.P99))
		}
		rss, cpu := "-", "-"
		if r.RSSEnd >= 0 {
			rss = fmt.Sprintf("%.1f / %.1f", mib(r.RSSBlob), mib(r.RSSEnd))
		}
		if r.CPUBlob >= 0 {
			cpu = fmt.Sprintf("%.2f", r.CPUBlob.Seconds()/(float64(rep.Size)/(1<<30)))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f\t%s\t%.3f\t%.3f\t%s\t%s\t%s\t%s\t\n",
			r.Mode, r.BlobBps/1e6, ratioB, r.ReqPerSec, ratioR, ms(r.P50), ms(r.P99), addP50, addP99, rss, cpu)
	}
	tw.Flush()

	// Where the CPU went: on 2 cores a proxy that doubles the work per
	// byte or per request cannot pass 0.5x, whatever the wall clock says.
	fmt.Fprintln(w)
	gib := float64(rep.Size) / (1 << 30)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode	client+origin CPU s/GiB	proxy CPU s/GiB	proxy KiB/write	client+origin CPU µs/req	proxy CPU µs/req	")
	for _, r := range rep.Median {
		pb, pw, pr := "-", "-", "-"
		if r.CPUBlob >= 0 {
			pb = fmt.Sprintf("%.2f", r.CPUBlob.Seconds()/gib)
			pr = fmt.Sprintf("%.0f", float64(r.CPUSmall.Microseconds())/float64(rep.Requests))
		}
		if r.WritesBlob > 0 {
			pw = fmt.Sprintf("%.0f", float64(rep.Size)/1024/float64(r.WritesBlob))
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%.0f\t%s\t\n", r.Mode, r.SelfBlob.Seconds()/gib, pb, pw,
			float64(r.SelfSmall.Microseconds())/float64(rep.Requests), pr)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range rep.Median {
		fmt.Fprintf(w, "  %-13s %s\n", r.Mode, r.Addressed)
	}
	fmt.Fprintln(w, "peak RSS: VmHWM after the blob / at the end; proxies' live output goes to /dev/null")
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", s)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
func mib(n int64) float64        { return float64(n) / (1 << 20) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// parseSize reads "1GiB", "512MiB", "100MB", "1G" or a byte count.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil {
				return 0, err
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
