package explain

import (
	"fmt"
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
func clientDistrustsCA(in *Input, _ []*Operation) []Finding {
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
	return []Finding{{
		Verdict:  VerdictClientConfig,
		Registry: strings.Join(names, ", "),
		Why: fmt.Sprintf("%d TLS handshake(s) with the proxy failed (%s: %s): %s. Those requests never reached the registry, "+
			"so the client's own error (often x509: certificate signed by unknown authority) is about regtrace, not the registry.",
			len(in.Handshakes), h.Target, h.Message, h.Reason),
	}}
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
