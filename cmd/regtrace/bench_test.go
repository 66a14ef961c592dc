package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode/flow"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/decode/har"
)

// BenchmarkExplain100kHAR reads, decodes and explains a 100,000-entry HAR
// (target: < 2 s per run on the 2-core machine, ARCHITECTURE.md).
func BenchmarkExplain100kHAR(b *testing.B) { benchExplain(b, false) }

// BenchmarkExplain100kFailingHAR: every run fails (anonymous token, empty
// access, 401 insufficient_scope), so every rule's failure path runs.
func BenchmarkExplain100kFailingHAR(b *testing.B) { benchExplain(b, true) }

// BenchmarkRead100kHAR is the reading part alone (har.ReadTrace, as
// regtrace explain reads), with the collector set as explain sets it.
func BenchmarkRead100kHAR(b *testing.B) {
	path := writeBigHAR(b, false)
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	b.ResetTimer()
	for b.Loop() {
		if _, err := har.ReadTrace(path); err != nil {
			b.Fatal(err)
		}
	}
}

func benchExplain(b *testing.B, failing bool) {
	path := writeBigHAR(b, failing)
	want := 0
	if failing {
		want = exitFound
	}
	b.ResetTimer()
	for b.Loop() {
		if code := run(context.Background(), []string{"regtrace", "explain", "--format", "json", path}, io.Discard, io.Discard); code != want {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64(n100k), "entries")
}

const n100k = 100_000

// writeBigHAR writes 100,000 entries: runs of ping, token, manifest, blob
// over 97 repositories.
func writeBigHAR(b *testing.B, failing bool) string {
	path := filepath.Join(b.TempDir(), "big.har")
	w, err := har.Create(path, har.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n100k; i += 4 {
		repo := fmt.Sprintf("team/app%d", i%97)
		for j, fb := range []*flowtest.Builder{
			flowtest.Get("https://registry.test/v2/").UA("skopeo/1.9.3").Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test"`),
			flowtest.Get("https://auth.test/token?scope=repository:" + repo + ":pull&service=registry.test").UA("skopeo/1.9.3").Status(200).JSON(`{"token":"opaque-token"}`),
			manifest(repo, failing),
			flowtest.Get("https://registry.test/v2/" + repo + "/blobs/sha256:aa").UA("skopeo/1.9.3").Bearer("opaque-token").Status(200).Blob(1 << 20),
		} {
			if err := w.Add(fb.Build(flowID(i+j), flowtest.Epoch), har.Annotation{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func flowID(i int) flow.ID { return flow.ID(i + 1) }

func manifest(repo string, failing bool) *flowtest.Builder {
	b := flowtest.Get("https://registry.test/v2/" + repo + "/manifests/1.0").UA("skopeo/1.9.3").Bearer("opaque-token")
	if failing {
		return b.Status(401).Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:` + repo + `:pull",error="insufficient_scope"`).
			JSON(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	}
	return b.Status(200).JSON(`{"schemaVersion":2}`)
}

// benchLogMB is the log size BenchmarkExplain100MBLog builds:
// REGTRACE_BENCH_LOG_MB sets a smaller one to profile with.
func benchLogMB() int {
	if n, err := strconv.Atoi(os.Getenv("REGTRACE_BENCH_LOG_MB")); err == nil && n > 0 {
		return n
	}
	return 100
}

// BenchmarkExplain100MBLog explains a 100 MB log of each format (the
// target is under 3 s): a recorded failing run repeated, each copy with
// its own repository, so every copy is an operation of its own.
func BenchmarkExplain100MBLog(b *testing.B) {
	for _, c := range []struct{ name, file, repo string }{
		{"skopeo", "containers-image/skopeo-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"crane", "ggcr/crane-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"oras", "oras/oras-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"regctl", "regclient/regctl-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"kubernetes", "kubernetes/describe-insufficient-scope-private.log", "acmecorp/ingest-worker"},
		// CRI-O's errors take the reader's generic path (24 s for 100 MB
		// while it renumbered every flow at each failure).
		{"kubernetes-crio", "kubernetes/describe-crio-manifest-unknown.log", "ci-op-7f2k/pipeline"},
		// A rate-limit message wrapped over several lines, each line
		// asked whether it starts an event.
		{"kubernetes-wrapped", "kubernetes/describe-rate-limit-wrapped.log", "busybox"},
		// kubectl get events -o yaml: messages folded over lines.
		{"kubernetes-yaml", "kubernetes/get-events-yaml-anonymous-token-401.log", "amazoncorretto"},
		{"dockerd", "dockerd/dockerd-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"dockerd-json", "dockerd/dockerd-json-docker-hub-rate-limit.log", "nginx"},
		{"containerd", "containerd/containerd-anonymous-pull-from-a-Basic-auth-registry.log", "team/app"},
		{"containerd-json", "containerd/containerd-json-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"ctr", "ctr/ctr-anonymous-pull-of-a-missing-repository.log", "team/nope"},
		{"ctr-nodump", "ctr/ctr-nodump-anonymous-pull-of-a-missing-repository.log", "team/nope"},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchExplainLog(b, c.file, c.repo, nil)
		})
	}
}

// BenchmarkExplain100MBJournal explains what a node's 100 MB log mostly
// is: the daemon's own chatter at debug level (API calls, events, health
// checks, garbage collection) or, for Kubernetes, healthy pods described,
// with one recorded failed pull (its own repository) in every MB.
// BenchmarkExplain100MBLog is the worst case: nothing but failed pulls.
func BenchmarkExplain100MBJournal(b *testing.B) {
	const ts = `time="2026-12-04T10:%02d:%02d.%06d000Z" `
	for _, c := range []struct {
		name, file, repo string
		noise            []string // fmt formats taking the line's number
	}{
		{"dockerd", "dockerd/dockerd-anonymous-pull-of-a-missing-repository.log", "team/nope", []string{
			ts + `level=debug msg="Calling HEAD /_ping"`,
			ts + `level=debug msg="Calling GET /v1.43/containers/json?all=1&filters=%%7B%%22status%%22%%3A%%5B%%22running%%22%%5D%%7D"`,
			ts + `level=info msg="ignoring event" container=3f2a%08x module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"`,
			ts + `level=debug msg="Health check for container 3f2a%08x done (exitCode=0)"`,
			ts + `level=debug msg="Calling GET /v1.43/containers/3f2a%08x/json"`,
		}},
		{"containerd", "containerd/containerd-anonymous-pull-from-a-Basic-auth-registry.log", "team/app", []string{
			ts + `level=debug msg=ImageFsInfo`,
			ts + `level=debug msg="garbage collected" d="1.%dms"`,
			ts + `level=info msg="ListContainers with filter &ContainerFilter{Id:,State:nil,PodSandboxId:,LabelSelector:map[string]string{},}"`,
			ts + `level=debug msg="ExecSync for \"3f2a%08x\" with command [/bin/sh -c pg_isready] and timeout 1 (s)"`,
			ts + `level=info msg="StartContainer for \"3f2a%08x\" returns successfully"`,
		}},
		{"kubernetes", "kubernetes/describe-insufficient-scope-private.log", "acmecorp/ingest-worker", []string{
			"Name:             web-%d", "Namespace:        shop", "Priority:         0", "Node:             worker-3/10.0.3.17",
			"Start Time:       Fri, 04 Dec 2026 10:00:00 +0000", "Labels:           app=web", "Status:           Running", "Containers:", "  web:",
			"    Container ID:   containerd://3f2a%08x", "    Image:          registry.example.com/shop/web:1.4.%d",
			"    Image ID:       registry.example.com/shop/web@sha256:4f7d2c1a9e8b3f6d5c4b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918%07x",
			"    State:          Running", "    Ready:          True", "    Restart Count:  0", "Conditions:", "  Type              Status", "  Ready             True",
			"Events:", "  Type    Reason   Age   From     Message", "  ----    ------   ----  ----     -------",
			`  Normal  Pulled   5m    kubelet  Container image "registry.example.com/shop/web:1.4.%d" already present on machine`,
			"  Normal  Created  5m    kubelet  Created container web", "  Normal  Started  5m    kubelet  Started container web", "",
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			benchExplainLog(b, c.file, c.repo, func(w *bufio.Writer) (size int) {
				for ; size < 1<<20; n++ {
					line := c.noise[n%len(c.noise)]
					if strings.HasPrefix(line, ts) {
						line = fmt.Sprintf(line, n/60000%60, n/1000%60, n%1000, n)
					} else if strings.Contains(line, "%") {
						line = fmt.Sprintf(line, n)
					}
					k, _ := w.WriteString(line + "\n")
					size += k
				}
				return size
			})
		})
	}
}

// benchExplainLog writes a log of benchLogMB MB from the failing run in
// testdata file, each copy with its own repository (repo numbered), each
// after what noise writes (nil: nothing), and explains it.
func benchExplainLog(b *testing.B, file, repo string, noise func(w *bufio.Writer) int) {
	one, err := os.ReadFile(filepath.Join("..", "..", "decode", "logs", "testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "big.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	size := 0
	for i := 0; size < benchLogMB()<<20; i++ {
		if noise != nil {
			size += noise(w)
		}
		n, _ := w.WriteString(strings.ReplaceAll(string(one), repo, fmt.Sprintf("%s%d", repo, i)))
		size += n
	}
	w.Flush()
	f.Close()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		if code := run(context.Background(), []string{"regtrace", "explain", "--format", "json", path}, io.Discard, io.Discard); code != exitFound {
			b.Fatalf("exit %d", code)
		}
	}
}

// BenchmarkExplainLogGrowth explains every recorded log fixture repeated
// to 4 MB and to 16 MB (each copy naming its own repositories, so each is
// a failure of its own) and reports the worst ratio of the two times: 4 is
// linear. A reader or rule that looks across the whole trace for each
// failure shows here as 10 and more (three did: ctr's and dockerd's logs
// of wrong passwords, CRI-O's Kubernetes events).
func BenchmarkExplainLogGrowth(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("..", "..", "decode", "logs", "testdata", "*", "*.log"))
	if err != nil || len(files) < 50 {
		b.Fatalf("fixtures: %v (%d)", err, len(files))
	}
	names := regexp.MustCompile(`(/v2/|docker://|image ")([a-z0-9._-]+)`)
	dir := b.TempDir()
	write := func(one string, mb int) string {
		path := filepath.Join(dir, fmt.Sprintf("%d.log", mb))
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for i := 0; i < max(1, mb<<20/len(one)); i++ {
			w.WriteString(names.ReplaceAllString(one, "${1}${2}x"+strconv.Itoa(i)))
		}
		w.Flush()
		f.Close()
		return path
	}
	explainTime := func(path string) time.Duration {
		start := time.Now()
		run(context.Background(), []string{"regtrace", "explain", "--format", "json", path}, io.Discard, io.Discard)
		return time.Since(start)
	}
	for b.Loop() {
		worst, worstFile := 0.0, ""
		slowest, slowestFile := time.Duration(0), ""
		for _, file := range files {
			one, err := os.ReadFile(file)
			if err != nil || len(one) == 0 {
				continue
			}
			small := explainTime(write(string(one), 4))
			big := explainTime(write(string(one), 16))
			if r := big.Seconds() / max(small.Seconds(), 0.01); r > worst {
				worst, worstFile = r, file
			}
			if big > slowest {
				slowest, slowestFile = big, file
			}
		}
		b.ReportMetric(worst, "worst-16MB/4MB")
		b.ReportMetric(slowest.Seconds(), "slowest-16MB-s")
		b.Logf("worst growth %.1fx: %s; slowest at 16 MB %v: %s", worst, worstFile, slowest.Round(time.Millisecond), slowestFile)
	}
}
