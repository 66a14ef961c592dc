package explain

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/flow"
)

const (
	RuleClientDistrustsCA Rule = "client-does-not-trust-regtrace-ca"
	RuleNoRegistryTraffic Rule = "no-registry-traffic"
)

// globalRules are about the trace as a whole: a client that never got past
// the proxy's TLS, or a trace without registry traffic at all.
func globalRules() []rule {
	return []rule{
		{id: RuleClientDistrustsCA, group: 0, explains: true, global: clientDistrustsCA},
		{id: RuleNoRegistryTraffic, group: 10, explains: true, global: noRegistryTraffic},
	}
}

// clientDistrustsCA: the most common first-run failure. The client refused
// the proxy's certificate, so nothing it did reached the registry.
func clientDistrustsCA(in *Input, ops []*Operation) []Finding {
	if len(in.Handshakes) == 0 {
		return nil
	}
	targets := map[string]bool{}
	var names []string
	for _, h := range in.Handshakes {
		if !targets[h.Target] {
			targets[h.Target] = true
			names = append(names, h.Target)
		}
	}
	h := in.Handshakes[0]
	f := Finding{
		Verdict:  VerdictClientConfig,
		Registry: strings.Join(names, ", "),
		Why: fmt.Sprintf("%d TLS handshake(s) with the proxy failed (%s: %s): %s. Those requests never reached the registry, "+
			"so the client's own error (often x509: certificate signed by unknown authority) is about regtrace, not the registry.",
			len(in.Handshakes), h.Target, h.Message, h.Reason),
	}
	// containerd tries its hosts in turn: a mirror trusted through its own
	// [host] ca line answered, then the server, without one, failed the
	// handshake. containerd reports the mirror's answer, which explains the
	// failure; the handshake is what to fix for the fallback to work.
	mirrors := map[string]bool{}
	for _, h := range in.Handshakes {
		m := distrustAfterMirror(ops, h)
		if m == "" {
			return []Finding{f}
		}
		mirrors[m] = true
	}
	hosts := slices.Sorted(maps.Keys(mirrors))
	f.sideEffect = true
	f.Why = fmt.Sprintf("%d TLS handshake(s) with the proxy failed (%s: %s): %s. The client tried %s after %s had answered for the same image, "+
		"so it trusted the regtrace CA for %s but not for %s: what it reported is %s's answer (the findings above), and what %s would have said is unknown.",
		len(in.Handshakes), h.Target, h.Message, h.Reason, strings.Join(names, ", "), strings.Join(hosts, ", "),
		strings.Join(hosts, ", "), strings.Join(names, ", "), strings.Join(hosts, ", "), strings.Join(names, ", "))
	f.Fix = "Trust the regtrace CA for every host the client tries: in containerd's hosts.toml a ca line at the top level (the server's) " +
		"as well as under each [host.\"…\"] (regtrace ca trust --client containerd prints both), then pull again to see the server's own answer."
	return []Finding{f}
}

// distrustAfterMirror returns the mirror host whose answer came before the
// failed handshake h with the registry a containerd operation asked that
// mirror on behalf of (ns=), or "".
func distrustAfterMirror(ops []*Operation, h flow.HandshakeFailure) string {
	host := h.Target
	if hh, port, err := net.SplitHostPort(host); err == nil && port == "443" {
		host = hh
	}
	reg := decode.NormalizeRegistry(host)
	for _, op := range ops {
		if op.Registry != reg {
			continue
		}
		for _, x := range op.Exchanges {
			if x.Upstream == reg && x.Flow.Response != nil && x.Flow.Err == nil && !x.Flow.Start.After(h.Time) {
				return x.Host
			}
		}
	}
	return ""
}

// noRegistryTraffic: nothing that looks like a registry went through the
// proxy, so there is nothing to explain — say why that usually happens.
func noRegistryTraffic(in *Input, ops []*Operation) []Finding {
	for _, x := range in.Exchanges {
		if x.Kind != decode.KindOther {
			return nil
		}
	}
	if len(in.Handshakes) > 0 {
		return nil
	}
	var ev []flow.ID
	for _, x := range in.Exchanges {
		ev = append(ev, x.Flow.ID)
	}
	why := "No registry request went through the proxy."
	if len(in.Exchanges) > 0 {
		why = fmt.Sprintf("%d exchange(s) went through the proxy, none of them to a registry API (/v2/, /v1/ or a token endpoint).", len(in.Exchanges))
	}
	return []Finding{{
		Verdict:  VerdictNoTraffic,
		Evidence: ev,
		Why:      why,
	}}
}
