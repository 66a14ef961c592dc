package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSniffPastChatter: a daemon's journal can open with far more than
// sniffLines lines of its own chatter before the first pull; the log is
// still recognised, by a window around the lines that speak of images.
// Chatter alone is still no known log.
func TestSniffPastChatter(t *testing.T) {
	chatter := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format+"\n", i)
		}
		return b.String()
	}
	fixture := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		name, log string
		want      Format
	}{
		{"containerd after GC and CRI chatter",
			chatter(5000, `time="2026-12-04T10:00:00.%06d000Z" level=debug msg="garbage collected" d="1.2ms"`) +
				fixture("containerd/containerd-anonymous-pull-from-a-Basic-auth-registry.log"), FormatContainerd},
		{"dockerd after API chatter",
			chatter(3000, `time="2026-12-04T10:00:00.%06d000Z" level=debug msg="Calling HEAD /_ping"`) +
				fixture("dockerd/dockerd-anonymous-pull-of-a-missing-repository.log"), FormatDockerd},
		{"kubernetes events after healthy pods",
			chatter(2000, `  Normal  Pulled   5m    kubelet  Container image "registry.example.com/shop/web:1.4.%d" already present on machine`) +
				fixture("kubernetes/describe-insufficient-scope-private.log"), FormatKubernetesEvents},
		{"a pull after chatter that mentions images 80 times over",
			strings.Repeat(chatter(200, `time="2026-12-04T10:00:00.%06d000Z" level=info msg="ImageUpdate event"`), 80) +
				fixture("containerd/containerd-anonymous-pull-from-a-Basic-auth-registry.log"), FormatContainerd},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := Read(strings.NewReader(c.log))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Format != c.want {
				t.Errorf("read as %s, want %s", tr.Format, c.want)
			}
		})
	}
	_, err := Read(strings.NewReader(chatter(5000, `systemd[1]: Started session %d of user root; pull requests are welcome`)))
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("chatter alone: %v, want %v", err, ErrUnknownFormat)
	}
}
