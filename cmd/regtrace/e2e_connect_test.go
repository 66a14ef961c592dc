package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

// TestUnreachableRealmFailsTheConnect is issue 12 with a real client: a
// registry whose token realm is a closed port. The proxy used to answer the
// CONNECT to the realm and then a 502 inside the tunnel, which clients took
// for the token server's answer (regctl reported "unauthorized"); now the
// CONNECT itself fails, as it would through any proxy, and the flow says
// why.
func TestUnreachableRealmFailsTheConnect(t *testing.T) {
	skopeo := need(t, "skopeo")
	pki := testPKI(t)
	ts := newTokenServer(t, t.TempDir())
	realm := fmt.Sprintf("auth.test:%d", freePort(t))
	reg := startRegistry(t, pki, ts.RegistryConfig("https://"+realm+"/token"))
	rec := startRecorder(t, pki, map[string]string{"registry.test": "127.0.0.1", "auth.test": "127.0.0.1"})
	host := fmt.Sprintf("registry.test:%d", reg.Port)

	cmd := exec.Command(skopeo, "inspect", "--raw", "docker://"+host+"/team/app:1.0")
	cmd.Env = clientEnv(t, rec.URL, rec.Bundle)
	out, err := cmd.CombinedOutput()
	// Before: "Requesting bearer token: invalid status code from registry
	// 502 (Bad Gateway)", an HTTP status from the token server.
	msg := strings.ToLower(string(out))
	if err == nil || !strings.Contains(msg, "bad gateway") {
		t.Errorf("skopeo: %v\n%s", err, out)
	}
	for _, says := range []string{"status", "502", "401", "unauthorized"} {
		if strings.Contains(msg, says) {
			t.Errorf("skopeo's error says %q, as if the token server had answered: %s", says, out)
		}
	}

	var connect *decode.Exchange
	for _, x := range rec.Take(t) {
		if x.Kind == decode.KindTunnel {
			connect = x
		}
	}
	if connect == nil {
		t.Fatal("no CONNECT flow recorded")
	}
	if connect.Host != realm || connect.Registry != host || connect.Flow.Err == nil || connect.Flow.Err.Kind != flow.ErrRefused ||
		connect.Flow.Response == nil || connect.Flow.Response.Status != 502 || !connect.Flow.Response.Synthetic {
		t.Errorf("CONNECT flow: host %q registry %q err %v response %+v", connect.Host, connect.Registry, connect.Flow.Err, connect.Flow.Response)
	}
}
