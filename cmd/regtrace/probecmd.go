package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/decode"
	"github.com/regtrace/regtrace/decode/har"
	"github.com/regtrace/regtrace/explain"
	"github.com/regtrace/regtrace/explain/render"
	"github.com/regtrace/regtrace/proxy/probe"
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "walk a pull's auth flow against a registry and settle \"missing or private?\"",
		ArgsUsage: "IMAGE[:TAG|@DIGEST]",
		Description: `Does what a pull does — GET /v2/, follow the challenge, ask the realm for a token,
GET the manifest (the platform's from an index) and the config blob — once anonymously and
once with the credential a client would send, and says what the answers prove:

   regtrace probe registry.example.com/team/app:1.0
   regtrace probe --format markdown nginx          # docker.io/library/nginx:latest
   regtrace probe --push --mount-from team/base registry.example.com/team/app:1.0

Nothing is written to the registry. Exit status: 0 pullable (pushable with --push),
3 unauthorized or the registry will not say, 4 proven not found, 5 rate limited,
6 authenticated but denied, 1 other failure (unreachable, TLS), 2 usage.
--codes lists every result code with its fix.`,
		Flags: append(upstreamFlags(),
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, markdown or json"},
			&cli.StringFlag{Name: "har", Usage: "also write the probe's exchanges to this HAR file (secrets redacted unless --no-redact)"},
			&cli.StringFlag{Name: "as", Usage: "find the credential as this client does: docker, crane, podman (skopeo, buildah: containers/image) or kubelet (default docker; kubelet with --pull-secret)"},
			&cli.StringFlag{Name: "authfile", Usage: "containers auth.json to read (as podman --authfile; default $REGISTRY_AUTH_FILE)"},
			&cli.StringFlag{Name: "pull-secret", Usage: "a Kubernetes pull secret: .dockerconfigjson content or the Secret as JSON or YAML"},
			&cli.BoolFlag{Name: "creds-stdin", Usage: "read the credential from standard input as USER:PASSWORD (first line)"},
			&cli.BoolFlag{Name: "anonymous", Usage: "probe without credentials only"},
			&cli.BoolFlag{Name: "push", Usage: "also ask for push and say whether the token grants it (nothing is written)"},
			&cli.StringFlag{Name: "mount-from", Usage: "with --push: the repository a cross-repository mount would read from"},
			&cli.BoolFlag{Name: "plain-http", Usage: "speak HTTP, not HTTPS, to the registry (an insecure registry without TLS)"},
			&cli.StringFlag{Name: "mirror", Usage: "ask this registry mirror (host[:port], as in containerd's hosts.toml) with ns=REGISTRY; the credential is the mirror's own except --as docker or kubelet, which send the registry's"},
			&cli.StringFlag{Name: "platform", Usage: "os/arch[/variant] to pick from an index (default linux/amd64)"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "time allowed for each request"},
			&cli.BoolFlag{Name: "no-color", EnvVars: []string{"REGTRACE_NO_COLOR"}, Usage: "no colors (also NO_COLOR, or when not a terminal)"},
			&cli.BoolFlag{Name: "no-redact", Usage: "print secrets as they are (dangerous: never paste such output into a ticket)"},
			&cli.BoolFlag{Name: "codes", Usage: "list every result code with its meaning, fix and exit status (no IMAGE)"},
		),
		Action: runProbe,
	}
}

func runProbe(c *cli.Context) error {
	format := c.String("format")
	switch format {
	case "text", "markdown", "json":
	default:
		return usagef("--format %q: want text, markdown or json", format)
	}
	if c.Bool("codes") {
		if c.NArg() > 0 {
			return usagef("probe --codes takes no IMAGE")
		}
		return render.ProbeCodes(c.App.Writer, probeCodeDocs(), format)
	}
	if c.NArg() != 1 {
		return usagef("probe: want one IMAGE, such as registry.example.com/team/app:1.0")
	}
	im, err := probe.ParseImage(c.Args().First())
	if err != nil {
		return usageError{err}
	}
	if c.String("mount-from") != "" && !c.Bool("push") {
		return usagef("--mount-from is about a push: add --push")
	}
	popts, err := proxyConfig(c)
	if err != nil {
		return err
	}
	if !c.IsSet("upstream-proxy") {
		// Clients reach a registry through the proxy in their environment;
		// so does the probe (regtrace proxy never reads it: it may point
		// at regtrace itself).
		if pu := envProxy(os.Getenv, im.Host, c.Bool("plain-http")); pu != nil {
			popts.UpstreamProxy = pu
			fmt.Fprintf(c.App.ErrWriter, "regtrace: reaching %s through %s from the environment (HTTPS_PROXY), as clients do; --upstream-proxy overrides\n", im.Host, pu.Redacted())
		}
	}
	if popts.InsecureUpstream {
		fmt.Fprintln(c.App.ErrWriter, "regtrace: warning: --insecure-upstream: certificates are not verified; flows are marked insecure")
	}
	opts := probe.Options{
		Image: im, Push: c.Bool("push"), MountFrom: c.String("mount-from"), Platform: c.String("platform"),
		StepTimeout: c.Duration("timeout"), UserAgent: "regtrace-probe/" + buildVersion(), Proxy: popts, PlainHTTP: c.Bool("plain-http"),
	}
	if m := c.String("mirror"); m != "" {
		host, err := mirrorHost(m)
		if err != nil {
			return usageError{err}
		}
		opts.Mirror = host
	}
	if c.Bool("creds-stdin") && c.Bool("anonymous") {
		return usagef("--creds-stdin and --anonymous contradict each other")
	}
	var notes []string
	switch {
	case c.Bool("creds-stdin"):
		cred, err := readStdinCredential(c.App.Reader)
		if err != nil {
			return usageError{err}
		}
		opts.Credential = cred
	case !c.Bool("anonymous"):
		as, err := probeFamily(c.String("as"), c.String("pull-secret") != "")
		if err != nil {
			return err
		}
		st := probeStores(c)
		// dockerd sends a registry mirror Docker Hub's credential, and
		// containerd's CRI the kubelet's pull secret, whatever host it goes
		// to; ctr, nerdctl and containers/image look a mirror up by its
		// own host.
		credFor := im
		ownHost := opts.Mirror != "" && as != probe.AsDocker && as != probe.AsKubelet
		if ownHost {
			credFor = probe.Image{Registry: opts.Mirror, Host: opts.Mirror, Repo: im.Repo, Tag: im.Tag, Digest: im.Digest}
		}
		ls := probe.LookupAll(c.Context, st, credFor)
		mine := pickLookup(ls, as)
		opts.Credential, opts.CredentialErr = mine.Credential, mine.Err
		notes = lookupNotes(mine, ls, as == probe.AsKubelet || c.String("pull-secret") != "")
		if ownHost {
			if up := pickLookup(probe.LookupAll(c.Context, st, im), as); up.Credential != nil && mine.Credential == nil {
				notes = append(notes, fmt.Sprintf("%s is stored for %s, but %s looks a mirror up by the mirror's own host (%s) and finds nothing there: the mirror is asked anonymously",
					up.Credential.Source(), im.Registry, familyNames[as], opts.Mirror))
			}
		}
	}
	res, err := probe.Run(c.Context, opts)
	if err != nil {
		return usageError{err}
	}
	xs := decode.NewSession().DecodeAll(res.Flows)
	rep := explain.Explain(explain.Input{Exchanges: xs})
	if path := c.String("har"); path != "" {
		if err := writeProbeHAR(path, c.Bool("no-redact"), res, rep); err != nil {
			return err
		}
	}
	p := probeView(res)
	p.Notes = notes
	ropts := render.ReportOptions{Color: format == "text" && !c.Bool("no-color") && colorWanted(c, c.App.Writer), NoRedact: c.Bool("no-redact")}
	switch format {
	case "markdown":
		err = render.ProbeMarkdown(c.App.Writer, p, rep, ropts)
	case "json":
		err = render.ProbeJSON(c.App.Writer, p, rep, ropts)
	default:
		err = render.ProbeText(c.App.Writer, p, rep, ropts)
	}
	if err != nil {
		return err
	}
	if p.Exit != 0 {
		return cli.Exit("", p.Exit)
	}
	return nil
}

// readStdinCredential reads USER:PASSWORD from the first line.
func readStdinCredential(r io.Reader) (*probe.Credential, error) {
	if r == nil {
		return nil, fmt.Errorf("--creds-stdin: no standard input")
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("--creds-stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" {
		return nil, fmt.Errorf("--creds-stdin: want USER:PASSWORD on the first line of standard input")
	}
	return &probe.Credential{Username: user, Password: pass, From: "standard input"}, nil
}

func probeView(res *probe.Result) *render.Probe {
	d := res.Code.Doc()
	p := &render.Probe{Image: res.Image.String(), Credential: res.Credential, Code: string(res.Code), Exit: d.Exit,
		Conclusion: res.Conclusion, Fix: d.Fix}
	for _, s := range res.Steps {
		p.Steps = append(p.Steps, render.ProbeStep{Phase: string(s.Phase), Name: s.Name, What: s.What, Flows: s.Flows, Status: s.Status, Says: s.Says})
	}
	return p
}

func probeCodeDocs() []render.CodeDoc {
	var out []render.CodeDoc
	for _, d := range probe.Codes() {
		out = append(out, render.CodeDoc{Code: string(d.Code), Exit: d.Exit, Means: d.Means, Fix: d.Fix})
	}
	return out
}

func writeProbeHAR(path string, noRedact bool, res *probe.Result, rep *explain.Report) error {
	hw, err := har.Create(path, har.Options{NoRedact: noRedact, CreatorVersion: buildVersion()})
	if err != nil {
		return fmt.Errorf("--har: %w", err)
	}
	xs := decode.NewSession().DecodeAll(res.Flows)
	for i, f := range res.Flows {
		if err := hw.Add(f, har.Annotation{Kind: xs[i].Kind.String()}); err != nil {
			hw.Close()
			return fmt.Errorf("--har: %w", err)
		}
	}
	notes := []string{fmt.Sprintf("probe %s %s", res.Code, res.Image)}
	for _, f := range rep.Findings {
		notes = append(notes, fmt.Sprintf("%s %s %v", f.Rule, f.Verdict, f.Evidence))
	}
	hw.SetFindings(notes)
	if err := hw.Close(); err != nil {
		return fmt.Errorf("--har: %w", err)
	}
	return nil
}

// probeFamily maps --as to the lookup it follows.
func probeFamily(as string, pullSecret bool) (string, error) {
	switch strings.ToLower(as) {
	case "":
		if pullSecret {
			return probe.AsKubelet, nil
		}
		return probe.AsDocker, nil
	case "docker", "dockerd", "nerdctl":
		return probe.AsDocker, nil
	case "crane", "ko", "go-containerregistry", "ggcr":
		return probe.AsCrane, nil
	case "podman", "skopeo", "buildah", "cri-o", "crio", "containers":
		return probe.AsContainers, nil
	case "kubelet", "kubernetes", "k8s":
		return probe.AsKubelet, nil
	}
	return "", usagef("--as %q: want docker, crane, podman, skopeo, buildah or kubelet", as)
}

// probeStores reads where the credential stores are from the environment
// and flags, once.
func probeStores(c *cli.Context) probe.Stores {
	home, _ := os.UserHomeDir()
	st := probe.Stores{
		Home: home, DockerConfig: os.Getenv("DOCKER_CONFIG"), RegistryAuthFile: os.Getenv("REGISTRY_AUTH_FILE"),
		XDGRuntimeDir: os.Getenv("XDG_RUNTIME_DIR"), XDGConfigHome: os.Getenv("XDG_CONFIG_HOME"), UID: os.Getuid(),
		PullSecret: c.String("pull-secret"), PATH: os.Getenv("PATH"),
	}
	if f := c.String("authfile"); f != "" {
		st.AuthFile = f
	}
	return st
}

var familyNames = map[string]string{
	probe.AsDocker:     "docker",
	probe.AsCrane:      "crane (go-containerregistry)",
	probe.AsContainers: "podman, skopeo and buildah",
	probe.AsKubelet:    "the kubelet",
}

// lookupNotes says what the chosen lookup passed by, and where other
// clients would find something else.
func pickLookup(ls []probe.Lookup, as string) probe.Lookup {
	for _, l := range ls {
		if l.As == as {
			return l
		}
	}
	return probe.Lookup{As: as}
}

// mirrorHost reads --mirror: host[:port], or a hosts.toml server URL.
func mirrorHost(s string) (string, error) {
	v := s
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Scheme != "https" || strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "v2" || u.RawQuery != "" {
		return "", fmt.Errorf("--mirror %q: want host[:port] or https://host[:port] (the probe speaks HTTPS)", s)
	}
	return strings.ToLower(u.Host), nil
}

// lookupNotes says what the chosen lookup passed by, and where other
// clients would find something else; the kubelet's only when asked about.
func lookupNotes(mine probe.Lookup, all []probe.Lookup, kubelet bool) []string {
	var notes []string
	if mine.Credential == nil && mine.Err == nil {
		notes = append(notes, fmt.Sprintf("%s finds no credential for this image (read: %s)", familyNames[mine.As], strings.Join(mine.Read, ", ")))
	}
	if mine.Err != nil {
		notes = append(notes, fmt.Sprintf("%s fails to look its credential up: %v", familyNames[mine.As], mine.Err))
	}
	notes = append(notes, mine.Misses...)
	for _, l := range all {
		if l.As == mine.As || sameCredential(l, mine) || l.As == probe.AsKubelet && !kubelet {
			continue
		}
		switch {
		case l.Err != nil:
			notes = append(notes, fmt.Sprintf("%s would fail to look its credential up: %v", familyNames[l.As], l.Err))
		case l.Credential == nil:
			notes = append(notes, fmt.Sprintf("%s would go anonymous: it finds no credential for this image", familyNames[l.As]))
		default:
			notes = append(notes, fmt.Sprintf("%s would use %s", familyNames[l.As], l.Credential.Source()))
		}
	}
	return notes
}

func sameCredential(a, b probe.Lookup) bool {
	if (a.Err == nil) != (b.Err == nil) || (a.Credential == nil) != (b.Credential == nil) {
		return false
	}
	if a.Credential == nil {
		return true
	}
	return a.Credential.Source() == b.Credential.Source()
}

// envProxy is the proxy a client would use for host from its environment
// (HTTPS_PROXY or HTTP_PROXY, NO_PROXY, as net/http reads them; never for
// loopback). net/http's own reader caches the environment for the
// process's life.
func envProxy(getenv func(string) string, hostport string, plain bool) *url.URL {
	get := func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return getenv(strings.ToLower(k))
	}
	raw := get("HTTPS_PROXY")
	if plain {
		raw = get("HTTP_PROXY")
	}
	if raw == "" {
		return nil
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	for _, e := range strings.Split(get("NO_PROXY"), ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if h, _, err := net.SplitHostPort(e); err == nil {
			e = h
		}
		switch {
		case e == "":
		case e == "*":
			return nil
		case strings.Contains(e, "/"):
			if _, n, err := net.ParseCIDR(e); err == nil && n.Contains(net.ParseIP(host)) {
				return nil
			}
		case host == strings.TrimPrefix(e, ".") || strings.HasSuffix(host, "."+strings.TrimPrefix(e, ".")):
			return nil
		}
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil
	}
	return u
}
