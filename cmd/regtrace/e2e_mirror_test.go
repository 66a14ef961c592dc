package main

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/explain"
)

// mirrors puts mirror entries before upstream's server in the hosts.toml
// that the trust instructions wrote for upstream (containerd reads it on
// every pull), each with the same ca line, as the instructions tell a user
// to add back a node's mirrors; the file is restored when the test ends.
func (w *clientWorld) mirrors(t *testing.T, upstream string, mirrors ...string) {
	t.Helper()
	before := w.hostsFile(t, upstream, nil)
	var b strings.Builder
	b.Write(before)
	for _, m := range mirrors {
		b.WriteString(mirrorEntry(upstream, m))
	}
	w.hostsFile(t, upstream, []byte(b.String()))
}

// mirrorEntry is a [host] entry for mirror, with the CA the trust
// instructions copied for upstream.
func mirrorEntry(upstream, mirror string) string {
	ca := filepath.Join(containerdHostsDir, upstream, "regtrace-ca.crt")
	return "\n[host.\"https://" + mirror + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"" + ca + "\"\n"
}

// hostsFile returns upstream's hosts.toml and, when content is not nil,
// replaces it until the test ends.
func (w *clientWorld) hostsFile(t *testing.T, upstream string, content []byte) []byte {
	t.Helper()
	path := filepath.Join(w.sb.etc("containerd"), "certs.d", upstream, "hosts.toml")
	before, err := os.ReadFile(path)
	if err != nil && (content == nil || !os.IsNotExist(err)) {
		t.Fatalf("no hosts.toml for %s: %v", upstream, err)
	}
	if content != nil {
		if before == nil {
			os.MkdirAll(filepath.Dir(path), 0o755)
			t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
		} else {
			t.Cleanup(func() { os.WriteFile(path, before, 0o644) })
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return before
}

// wantFinding fails t unless rep has a finding of rule whose why names
// host (and, with secondary, that is not primary).
func wantFinding(t *testing.T, rep *explain.Report, rule explain.Rule, host string, secondary bool) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Rule == rule && strings.Contains(f.Why, host) && !(secondary && f.Primary) {
			return
		}
	}
	t.Errorf("no %s finding names %s (secondary only: %v):\n%s", rule, host, secondary, findingsText(rep))
}

// mirrorScenarios are pulls through a mirror in hosts.toml, for the
// clients that read one (ctr, crictl): which host's answer containerd
// reports is its own ranking (explain/rules_masking.go), measured here.
func mirrorScenarios() []scenario {
	authErr := regexp.MustCompile(`(?i)unauthori[sz]ed|authentication required|denied|401|no basic auth`)
	// mirrorAsked: containerd asked the mirror, naming the upstream in ns=.
	mirrorAsked := func(t *testing.T, xs []*decode.Exchange, mirror, upstream string) {
		t.Helper()
		wantExchange(t, xs, "a manifest request to the mirror "+mirror+" with ns="+upstream, func(x *decode.Exchange) bool {
			if !isManifest(x) || x.Host != mirror {
				return false
			}
			q, _ := url.ParseQuery(x.Flow.Request.URL.RawQuery)
			return q.Get("ns") == upstream
		})
	}
	// fellBack: explain notes that the mirror served nothing, in one
	// operation with the upstream's requests.
	fellBack := func(t *testing.T, xs []*decode.Exchange, mirror string) {
		t.Helper()
		wantFinding(t, explain.Explain(explain.Input{Exchanges: xs}), explain.RuleMirrorFellBack, mirror, false)
	}
	return []scenario{
		{name: "mirror refuses, upstream has no such tag", mirrored: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.hub, w.basic)
				return c.pull(t, w, w.hub+"/library/nginx:9.9", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleEndpointFallbackMasks),
			errRE: authErr,
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.basic, w.hub)
				wantExchange(t, xs, "the upstream's 404 for tag 9.9", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Host == w.hub && x.Ref == "9.9" && status(x) == 404
				})
			},
		},
		{name: "mirror refuses, upstream serves", mirrored: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.hub, w.basic)
				return c.pull(t, w, w.hub+"/library/nginx:1.0", "")
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.basic, w.hub)
				fellBack(t, xs, w.basic)
				wantExchange(t, xs, "the upstream's manifest", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Host == w.hub && status(x) == 200
				})
			},
		},
		{name: "mirror answers 404, upstream refuses", mirrored: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.reg, w.open)
				return c.pull(t, w, w.reg+"/team/app:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleInsufficientScope),
			errRE: authErr,
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.open, w.reg)
				wantExchange(t, xs, "the mirror's 404", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Registry == w.open && status(x) == 404
				})
			},
		},
		{name: "mirror down, upstream serves", mirrored: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.reg, w.deadMirror)
				return c.pull(t, w, w.reg+"/team/app:1.0", alice)
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "a failed tunnel to the mirror", func(x *decode.Exchange) bool {
					return x.Kind == decode.KindTunnel && x.Registry == w.deadMirror && x.Flow.Err != nil
				})
				fellBack(t, xs, w.deadMirror)
			},
		},
		{name: "mirror down, upstream has no such tag", mirrored: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.reg, w.deadMirror)
				return c.pull(t, w, w.reg+"/team/app:9.9", alice)
			},
			ok: always(false), rule: ruleIs(explain.RuleEndpointFallbackMasks),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				wantExchange(t, xs, "the upstream's 404 for tag 9.9", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Registry == w.reg && x.Ref == "9.9" && status(x) == 404
				})
			},
		},
		{name: "mirror trusted, server not", mirrored: true,
			// The first measurement: a ca line under the mirror's
			// [host] only. containerd reports the mirror's answer; the
			// server's failed handshake is a side effect.
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.hostsFile(t, w.reg, []byte("server = \"https://"+w.reg+"\"\n\n[host]\n"+mirrorEntry(w.reg, w.basic)))
				return c.pull(t, w, w.reg+"/team/app:1.0", "")
			},
			ok: always(false), rule: ruleIs(explain.RuleBasicChallengeNoCredentials),
			errRE: authErr,
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.basic, w.reg)
				if len(w.rec.Handshakes) == 0 {
					t.Error("no failed handshake was recorded")
				}
				wantFinding(t, explain.Explain(explain.Input{Exchanges: xs, Handshakes: w.rec.Handshakes}), explain.RuleClientDistrustsCA, w.reg, true)
			},
		},
		{name: "mirror needs credentials the node holds for the upstream only", mirrored: true, only: "crictl",
			// The CRI plugin looks a node's credentials up by host name:
			// the mirror (nginx auth_basic, alice too) gets none.
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.keyed, w.basicFront)
				return c.pull(t, w, w.keyed+"/team/app:1.0", "")
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.basicFront, w.keyed)
				wantExchange(t, xs, "the upstream's manifest read with the node's credentials for it", func(x *decode.Exchange) bool {
					return isManifest(x) && x.Host == w.keyed && x.Auth.User == "alice" && status(x) == 200
				})
				fellBack(t, xs, w.basicFront)
			},
		},
		{name: "mirror relays a realm the node cannot reach, upstream unreachable", mirrored: true,
			// Only the mirror is reachable (an air-gapped node), and its
			// challenge names a token realm that is not: what a mirror
			// relaying its upstream's challenge unrewritten does.
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.hostsFile(t, w.deadUpstream, []byte("server = \"https://"+w.deadUpstream+"\"\n\n[host]\n"+mirrorEntry(w.reg, w.deadRealm)))
				return c.pull(t, w, w.deadUpstream+"/team/app:1.0", alice)
			},
			ok: always(false), rule: ruleIs(explain.RuleRealmUnreachable),
			errRE: regexp.MustCompile(`(?i)bad gateway|proxyconnect|connect|token|refused|502`),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.deadRealm, w.deadUpstream)
				wantExchange(t, xs, "a failed tunnel to the mirror's realm", func(x *decode.Exchange) bool {
					return x.Kind == decode.KindTunnel && x.ToRealm && x.Flow.Err != nil
				})
			},
		},
		{name: "pull-through cache serves what the upstream refuses", mirrored: true,
			// The same anonymous pull twice: straight from the upstream
			// (refused), then with the cache in hosts.toml (served).
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				first, err := c.pull(t, w, w.reg+"/team/app:1.0", "")
				if err == nil {
					t.Fatalf("the anonymous pull from %s worked:\n%s", w.reg, first)
				}
				w.mirrors(t, w.reg, w.cache)
				out, err := c.pull(t, w, w.reg+"/team/app:1.0", "")
				return first + out, err
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.cache, w.reg)
				wantFinding(t, explain.Explain(explain.Input{Exchanges: xs}), explain.RuleMirrorServesRefused, w.cache, false)
			},
		},
		{name: "mirror's token realm unreachable, upstream serves", mirrored: true,
			do: func(t *testing.T, c *client, w *clientWorld) (string, error) {
				w.mirrors(t, w.reg, w.deadRealm)
				return c.pull(t, w, w.reg+"/team/app:1.0", alice)
			},
			ok: always(true), rule: ruleIs(""),
			check: func(t *testing.T, w *clientWorld, _ string, xs []*decode.Exchange) {
				mirrorAsked(t, xs, w.deadRealm, w.reg)
				fellBack(t, xs, w.deadRealm)
			},
		},
	}
}
