package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"1GiB", 1 << 30}, {"512MiB", 512 << 20}, {"1.5KiB", 1536}, {"100MB", 100e6},
		{"1G", 1 << 30}, {"4096", 4096}, {"7B", 7},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "GiB", "lots", "1TiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = no error, want one", bad)
		}
	}
}

func TestRatiosAreWithinARun(t *testing.T) {
	runs := [][]result{
		{{Mode: "direct", BlobBps: 100, ReqPerSec: 10}, {Mode: "regtrace", BlobBps: 50, ReqPerSec: 4}},
		{{Mode: "direct", BlobBps: 300, ReqPerSec: 30}, {Mode: "regtrace", BlobBps: 120, ReqPerSec: 9}},
		{{Mode: "direct", BlobBps: 200, ReqPerSec: 20}, {Mode: "regtrace", BlobBps: 90, ReqPerSec: 6}},
	}
	for _, rs := range runs {
		setRatios(rs)
	}
	m := medians(runs)
	if m[1].BlobRatio != 0.45 || m[1].ReqRatio != 0.3 || m[0].BlobRatio != 1 {
		t.Errorf("median ratios = %v, %v (direct %v); want 0.45, 0.3 (1)", m[1].BlobRatio, m[1].ReqRatio, m[0].BlobRatio)
	}
}

func TestMedianAndPercentile(t *testing.T) {
	runs := [][]result{
		{{Mode: "direct", BlobBps: 3, P50: 30}},
		{{Mode: "direct", BlobBps: 1, P50: 10}},
		{{Mode: "direct", BlobBps: 2, P50: 20}},
	}
	m := medians(runs)
	if len(m) != 1 || m[0].BlobBps != 2 || m[0].P50 != 20 {
		t.Errorf("medians = %+v, want BlobBps 2, P50 20", m)
	}
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100 - i)
	}
	if p50, p99 := latencies(lat); p50 != 50 || p99 != 99 {
		t.Errorf("latencies = %d, %d, want 50, 99", p50, p99)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--size", "x"}, {"--modes", "direct,nginx"}, {"--runs", "0"}, {"--nope"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

// TestDirectJSON runs the whole harness in-process, direct mode only.
func TestDirectJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--modes", "direct", "--size", "3MiB", "--requests", "40", "--runs", "2", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(rep.Runs) != 2 || len(rep.Median) != 1 || rep.Median[0].BlobBps <= 0 || rep.Median[0].ReqPerSec <= 0 || rep.Median[0].P99 <= 0 {
		t.Errorf("report = %+v, want 2 runs and a median with every metric", rep)
	}
}

// TestRegtraceTable builds regtrace and runs it with --har and a CPU
// profile, as a user of the benchmark would.
func TestRegtraceTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds regtrace")
	}
	prof := t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--modes", "direct,regtrace,regtrace-har", "--size", "2MiB", "--requests", "20", "--cpuprofile", prof}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	table := out.String()
	for _, want := range []string{"regtrace-har", "x direct", "peak RSS", "registry.bench.test via --resolve"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, name := range []string{"regtrace-1.pprof", "regtrace-har-1.pprof"} {
		if fi, err := os.Stat(filepath.Join(prof, name)); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}

// TestFleetJSON runs the fleet modes small: every exchange is in the
// per-client HARs and, with export on, reached the collector.
func TestFleetJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds regtrace")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--modes", "fleet,fleet-otlp", "--clients", "6", "--fleet-size", "1MiB", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(rep.FleetMedian) != 2 || len(rep.Runs) != 0 {
		t.Fatalf("report = %+v, want the two fleet modes only", rep)
	}
	for _, r := range rep.FleetMedian {
		if r.Clients != 6 || r.Exchanges != 18 || r.HAREntries != r.Exchanges || r.BlobBps <= 0 || r.RSS <= 0 || r.Dropped {
			t.Errorf("%+v", r)
		}
		if r.Mode == "fleet-otlp" && (r.Spans < r.Exchanges || r.ExportRatio <= 0) {
			t.Errorf("export: %+v, want a span per exchange at least", r)
		}
	}
}
