package main

import (
	"bufio"
	"context"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow/flowtest"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
)

// TestHTMLReportInChromium opens the HTML report from file:// in headless
// Chromium with every request sent to a listener of the test's (counted:
// none may arrive), takes screenshots in the light and dark schemes and
// reads the DOM: the verdict is there, the page is drawn, and dark mode is
// dark.
func TestHTMLReportInChromium(t *testing.T) {
	chromium := need(t, "chromium")
	const planted = "s3cr3t-PLANTED"
	const ua = "containerd/1.7.24"
	rep := explain.Explain(explain.Input{Exchanges: decode.NewSession().DecodeAll(flowtest.Seq(
		flowtest.Get("https://registry.test/v2/").UA(ua).Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"`),
		flowtest.Get("https://auth.test/token?scope=repository%3Ateam%2Fapp%3Apull&service=registry.test").UA(ua).
			Basic("alice", planted).Status(200).JSON(`{"token":"opaque-`+planted+`"}`),
		flowtest.Get("https://registry.test/v2/team/app/manifests/1.0").UA(ua).Bearer("opaque-"+planted).Status(401).
			Challenge(`Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull",error="insufficient_scope"`).
			JSON(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`),
	))})
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := render.HTML(f, rep, render.ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Every request the page might make goes to this listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var requests atomic.Int32
	var mu sync.Mutex
	var seen []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if browserOwn.MatchString(line) {
				c.Close()
				continue
			}
			requests.Add(1)
			mu.Lock()
			seen = append(seen, strings.TrimSpace(line))
			mu.Unlock()
			c.Close()
		}
	}()
	chrome := func(extra ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
			// Chromium's own traffic (updates, safe browsing, sync), not the page's.
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
			"--no-pings", "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--safebrowsing-disable-auto-update",
			"--user-data-dir=" + t.TempDir(), "--proxy-server=http://" + ln.Addr().String(), "--proxy-bypass-list=<-loopback>",
			"--window-size=1280,1600"}, extra...)
		out, err := exec.CommandContext(ctx, chromium, append(args, "file://"+page)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", extra, err)
		}
		return out
	}
	dom := string(chrome("--dump-dom"))
	verdict := "Verdict: " + string(rep.Primary().Verdict)
	for _, want := range []string{verdict, "stopped here", "Fix."} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, planted) {
		t.Errorf("a secret in the page")
	}
	light, dark := filepath.Join(dir, "light.png"), filepath.Join(dir, "dark.png")
	chrome("--screenshot=" + light)
	chrome("--screenshot="+dark, "--force-dark-mode", "--blink-settings=preferredColorScheme=0")
	lightBg, lightColors, lightInk := pixels(t, light)
	darkBg, _, darkInk := pixels(t, dark)
	if lightColors < 8 || lightInk < 0.01 {
		t.Errorf("the light screenshot looks blank: %d colors, %.3f of it drawn", lightColors, lightInk)
	}
	if lightBg < 200 || darkBg > 60 || darkInk < 0.01 {
		t.Errorf("background brightness light %d, dark %d (dark %.3f drawn): want a light page and a dark one", lightBg, darkBg, darkInk)
	}
	if n := requests.Load(); n != 0 {
		mu.Lock()
		t.Errorf("%d requests left Chromium: %q", n, seen)
		mu.Unlock()
	}
}

// browserOwn matches the requests Chromium makes for itself whatever the
// page (its clock, component updates, account checks), which flags do not
// all turn off; anything else would be the page's.
var browserOwn = regexp.MustCompile(`^(?:CONNECT |GET |POST )(?:https?://)?[a-z0-9.-]*\.(?:google\.com|googleapis\.com|gvt1\.com|gstatic\.com)[:/ ]`)

// pixels reads a screenshot: the brightness (0-255) of its top-left
// pixel, the number of distinct colors, and the share of pixels that
// differ from that background.
func pixels(t *testing.T, path string) (bg uint8, colors int, ink float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	r := img.Bounds()
	key := func(x, y int) uint32 {
		cr, cg, cb, _ := img.At(x, y).RGBA()
		return cr>>8<<16 | cg>>8<<8 | cb>>8
	}
	back := key(r.Min.X, r.Min.Y)
	seen := map[uint32]bool{}
	other := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			k := key(x, y)
			seen[k] = true
			if k != back {
				other++
			}
		}
	}
	bright := (back>>16&0xff + back>>8&0xff + back&0xff) / 3
	return uint8(bright), len(seen), float64(other) / float64(r.Dx()*r.Dy())
}
