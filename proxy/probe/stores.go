package probe

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Stores says where the credential stores are. The caller fills it from
// the environment once; the lookups never read the environment.
type Stores struct {
	Home         string // $HOME
	DockerConfig string // $DOCKER_CONFIG (a directory)
	// RegistryAuthFile is $REGISTRY_AUTH_FILE; AuthFile an --authfile,
	// which only podman, skopeo and buildah take (it wins over the
	// variable for them).
	RegistryAuthFile string
	AuthFile         string
	XDGRuntimeDir    string // $XDG_RUNTIME_DIR
	XDGConfigHome    string // $XDG_CONFIG_HOME
	UID              int
	// PullSecret is a Kubernetes pull secret: a .dockerconfigjson or
	// .dockercfg file, or the Secret itself as JSON or YAML.
	PullSecret string
	// KubeletRoot is the kubelet's --root-dir, whose config.json it reads
	// first; empty means /var/lib/kubelet.
	KubeletRoot string
	// PATH is searched for docker-credential-* helpers; empty means no
	// helper can be found.
	PATH string
	// HelperTimeout bounds one helper call; zero means 10 seconds.
	HelperTimeout time.Duration
}

// Client families whose credential lookup the probe follows. Each finds
// credentials its own way (the files it reads, the key it asks for, how it
// compares keys, the fields it uses): the same config can give a credential
// to one and nothing to another.
const (
	AsDocker     = "docker"     // docker CLI (and so dockerd), docker/cli's configfile
	AsCrane      = "crane"      // go-containerregistry's DefaultKeychain (crane, ko)
	AsContainers = "containers" // containers/image (podman, skopeo, buildah, CRI-O)
	AsKubelet    = "kubelet"    // the kubelet's keyring (pull secrets, the node's config.json)
)

// Families lists the lookups in the order they are reported.
var Families = []string{AsDocker, AsCrane, AsContainers, AsKubelet}

// Lookup is what one client family would find for an image.
type Lookup struct {
	As string
	// Credential is nil when the client would go anonymous.
	Credential *Credential
	// Err is set when the client would fail before sending a request (a
	// helper missing from PATH, a broken file).
	Err error
	// Read are the stores consulted, in order.
	Read []string
	// Misses are entries that name the image's registry but that this
	// client does not use, each with the reason.
	Misses []string
}

// LookupAll runs every family's lookup.
func LookupAll(ctx context.Context, st Stores, im Image) []Lookup {
	var out []Lookup
	for _, as := range Families {
		out = append(out, Find(ctx, st, as, im))
	}
	return out
}

// Find looks up the credential family as would use for im.
func Find(ctx context.Context, st Stores, as string, im Image) Lookup {
	switch as {
	case AsDocker:
		return findDocker(ctx, st, im)
	case AsCrane:
		return findCrane(ctx, st, im)
	case AsContainers:
		return findContainers(ctx, st, im)
	case AsKubelet:
		return findKubelet(st, im)
	}
	return Lookup{As: as, Err: fmt.Errorf("no such client family %q (want one of %s)", as, strings.Join(Families, ", "))}
}

// hubAuthKey is the key docker and go-containerregistry store and look up
// Docker Hub under (docker/cli configfile getAuthConfigKey).
const hubAuthKey = "https://index.docker.io/v1/"

// authEntry is one "auths" entry of a docker config.json or auth.json.
type authEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// configFile is a docker config.json, a containers auth.json, or a pull
// secret's .dockerconfigjson.
type configFile struct {
	path        string
	Auths       map[string]authEntry `json:"auths"`
	CredsStore  string               `json:"credsStore"`
	CredHelpers map[string]string    `json:"credHelpers"`
}

// readConfig reads a config file, or with legacy ~/.dockercfg (a bare
// map of entries); a missing file is (nil, nil).
func readConfig(p string, legacy bool) (*configFile, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cf := &configFile{path: p}
	if legacy {
		err = json.Unmarshal(b, &cf.Auths)
	} else {
		err = json.Unmarshal(b, cf)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a credentials file: %v", p, jsonErr(b, err))
	}
	return cf, nil
}

// jsonErr says where in b a JSON error is.
func jsonErr(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, err)
	}
	return err
}

// decodeEntry turns an entry into a credential the way docker does: "auth"
// (base64 user:password) wins over username/password.
func decodeEntry(e authEntry) (*Credential, error) {
	c := &Credential{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
	if e.Auth != "" {
		user, pass, err := decodeAuth(e.Auth)
		if err != nil {
			return nil, err
		}
		c.Username, c.Password = user, pass
	}
	if c.Username == "" && c.Password == "" && c.IdentityToken == "" && c.RegistryToken == "" {
		return nil, nil
	}
	return c, nil
}

func decodeAuth(s string) (string, string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return "", "", errors.New(`"auth" is not base64`)
		}
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok || user == "" {
		return "", "", errors.New(`"auth" is not base64 of user:password`)
	}
	return user, strings.Trim(pass, "\x00"), nil
}

// dockerHostname is docker/cli's ConvertToHostname: a key with a scheme
// loses it and its path; one without loses everything from the first "/".
func dockerHostname(key string) string {
	s := key
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	h, _, _ := strings.Cut(s, "/")
	return h
}

// dockerKey is the key docker asks for: Hub's URL, else host[:port].
func dockerKey(im Image) string {
	if im.Registry == "docker.io" {
		return hubAuthKey
	}
	return im.Registry
}

// dockerGet is docker/cli's lookup in one config file for key: a helper
// for the key, else credsStore, else auths by exact key, else by hostname.
func dockerGet(ctx context.Context, st Stores, cf *configFile, key string) (*Credential, error) {
	helper := cf.CredHelpers[key]
	where := fmt.Sprintf("credHelpers[%q] in %s", key, cf.path)
	if helper == "" && cf.CredsStore != "" {
		helper, where = cf.CredsStore, fmt.Sprintf("credsStore in %s", cf.path)
	}
	if helper != "" {
		return runHelper(ctx, st, helper, key, where)
	}
	if e, ok := cf.Auths[key]; ok {
		return entryCredential(e, cf.path, key)
	}
	// docker scans a Go map, so with two candidates it takes either; in
	// order, the probe's answer is at least the same every time.
	for _, k := range slices.Sorted(maps.Keys(cf.Auths)) {
		if dockerHostname(k) == key {
			return entryCredential(cf.Auths[k], cf.path, k)
		}
	}
	return nil, nil
}

func entryCredential(e authEntry, file, key string) (*Credential, error) {
	c, err := decodeEntry(e)
	if err != nil {
		return nil, fmt.Errorf("%s, entry %q: %v", file, key, err)
	}
	if c != nil {
		c.From, c.Key = file, key
	}
	return c, nil
}

func (st Stores) dockerConfigPath() string {
	if st.DockerConfig != "" {
		return filepath.Join(st.DockerConfig, "config.json")
	}
	return filepath.Join(st.Home, ".docker", "config.json")
}

func findDocker(ctx context.Context, st Stores, im Image) Lookup {
	l := Lookup{As: AsDocker}
	p := st.dockerConfigPath()
	l.Read = []string{p}
	cf, err := readConfig(p, false)
	if err != nil {
		// docker prints "WARNING: Error loading config file" and goes on
		// without credentials.
		l.Misses = append(l.Misses, fmt.Sprintf("docker cannot load its config (%v): it warns and pulls without credentials", err))
		return l
	}
	if cf == nil {
		return l
	}
	key := dockerKey(im)
	l.Credential, l.Err = dockerGet(ctx, st, cf, key)
	l.Misses = misses(cf, im, func(k string) string {
		switch {
		case k == key || dockerHostname(k) == key:
			return ""
		case im.Registry == "docker.io":
			return fmt.Sprintf("docker looks Docker Hub up under %q exactly", hubAuthKey)
		}
		return fmt.Sprintf("docker looks up %q (the host and port as in the image name, scheme and path ignored)", key)
	}, l.Credential)
	return l
}

// findCrane follows go-containerregistry's DefaultKeychain: one file
// (docker's, else REGISTRY_AUTH_FILE, else containers' auth.json read with
// docker's rules), asked first for the repository, then for the registry.
func findCrane(ctx context.Context, st Stores, im Image) Lookup {
	l := Lookup{As: AsCrane}
	var p string
	home := filepath.Join(st.Home, ".docker", "config.json")
	switch {
	case exists(home) || st.DockerConfig != "" && exists(filepath.Join(st.DockerConfig, "config.json")):
		p = st.dockerConfigPath()
	case st.RegistryAuthFile != "" && exists(st.RegistryAuthFile):
		p = st.RegistryAuthFile
	case st.XDGRuntimeDir != "" && exists(filepath.Join(st.XDGRuntimeDir, "containers", "auth.json")):
		p = filepath.Join(st.XDGRuntimeDir, "containers", "auth.json")
	default:
		p = filepath.Join(st.configHome(), "containers", "auth.json")
	}
	l.Read = []string{p}
	cf, err := readConfig(p, false)
	if err != nil || cf == nil {
		l.Err = err
		return l
	}
	reg := im.Registry
	if reg == "docker.io" {
		reg = "index.docker.io"
	}
	keys := []string{reg + "/" + im.Repo, dockerKey(im)}
	for _, k := range keys {
		c, err := dockerGet(ctx, st, cf, k)
		if err != nil || c != nil {
			l.Credential, l.Err = c, err
			break
		}
	}
	l.Misses = misses(cf, im, func(k string) string {
		if slices.Contains(keys, k) || slices.Contains(keys, dockerHostname(k)) {
			return ""
		}
		return fmt.Sprintf("crane looks up %q, then %q", keys[0], keys[1])
	}, l.Credential)
	return l
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (st Stores) configHome() string {
	if st.XDGConfigHome != "" {
		return st.XDGConfigHome
	}
	return filepath.Join(st.Home, ".config")
}

// containersRegistry is containers/image's normalizeRegistry: every Docker
// Hub name is index.docker.io.
func containersRegistry(r string) string {
	switch r {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return r
}

// containersKey is normalizeAuthFileKey: a key with a scheme loses it and
// its path; a key without keeps its path unless the file is legacy.
func containersKey(k string, legacy bool) string {
	s := k
	scheme := false
	for _, p := range []string{"http://", "https://"} {
		if strings.HasPrefix(s, p) {
			s, scheme = s[len(p):], true
		}
	}
	if scheme || legacy {
		s, _, _ = strings.Cut(s, "/")
	}
	return containersRegistry(s)
}

// findContainers follows containers/image (podman, skopeo, buildah): the
// auth files in order, in each a credHelpers entry for the registry, then
// "auths" from the most specific key (host/ns/repo) to the registry, then
// any key that normalises to the registry. credsStore is not read.
func findContainers(ctx context.Context, st Stores, im Image) Lookup {
	l := Lookup{As: AsContainers}
	type file struct {
		path   string
		legacy bool
	}
	var files []file
	user := st.AuthFile
	if user == "" {
		user = st.RegistryAuthFile
	}
	if user != "" {
		// A file named by the user is the only one read.
		files = []file{{user, false}}
	} else {
		run := st.XDGRuntimeDir
		if run == "" {
			run = filepath.Join("/run", "containers", strconv.Itoa(st.UID))
		} else {
			run = filepath.Join(run, "containers")
		}
		// $DOCKER_CONFIG only stands in for ~/.docker (getAuthFilePaths).
		files = []file{{filepath.Join(run, "auth.json"), false}, {filepath.Join(st.configHome(), "containers", "auth.json"), false},
			{st.dockerConfigPath(), false}, {filepath.Join(st.Home, ".dockercfg"), true}}
	}
	reg := im.Registry // containers/image names Docker Hub docker.io
	full := reg + "/" + im.Repo
	var cands []string
	for s := full; ; {
		cands = append(cands, s)
		i := strings.LastIndexByte(s, '/')
		if i < 0 {
			break
		}
		s = s[:i]
	}
	var all []*configFile
	for _, f := range files {
		l.Read = append(l.Read, f.path)
		cf, err := readConfig(f.path, f.legacy)
		if err != nil {
			l.Err = err
			return l
		}
		if cf == nil {
			continue
		}
		all = append(all, cf)
		if h := cf.CredHelpers[reg]; h != "" {
			c, err := runHelper(ctx, st, h, reg, fmt.Sprintf("credHelpers[%q] in %s", reg, cf.path))
			if err != nil || c != nil {
				l.Credential, l.Err = c, err
				break
			}
			continue
		}
		c, key, found, err := containersAuths(cf, cands, reg, f.legacy)
		if err != nil {
			l.Err = err
			break
		}
		if found && c == nil {
			l.Misses = append(l.Misses, fmt.Sprintf("entry %q in %s holds no \"auth\" or \"identitytoken\" (podman and skopeo read only those): it ends the search in that file", key, cf.path))
		}
		if c != nil {
			c.From, c.Key = cf.path, key
			l.Credential = c
			break
		}
	}
	for _, cf := range all {
		l.Misses = append(l.Misses, misses(cf, im, func(k string) string {
			if slices.Contains(cands, k) || containersKey(k, false) == containersRegistry(reg) {
				return ""
			}
			return fmt.Sprintf("podman and skopeo look up %s, or a key naming the registry (scheme and path are dropped only when the key has a scheme)", quoteList(cands))
		}, l.Credential)...)
	}
	return l
}

// containersAuths is one file's "auths" lookup; found reports an entry
// matched even when it held no usable credential.
func containersAuths(cf *configFile, cands []string, reg string, legacy bool) (*Credential, string, bool, error) {
	check := func(k string) (*Credential, string, bool, error) {
		e := cf.Auths[k]
		// Only "auth" and "identitytoken" are read (decodeDockerAuth).
		c, err := decodeEntry(authEntry{Auth: e.Auth, IdentityToken: e.IdentityToken})
		if err != nil {
			return nil, k, true, fmt.Errorf("%s, entry %q: %v", cf.path, k, err)
		}
		if c != nil && e.Auth == "" {
			c.Username = "" // an identity token alone
		}
		return c, k, true, nil
	}
	if !legacy {
		for _, k := range cands {
			if _, ok := cf.Auths[k]; ok {
				return check(k)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cf.Auths)) {
		if containersKey(k, legacy) == containersRegistry(reg) {
			return check(k)
		}
	}
	return nil, "", false, nil
}

// kubeletKey is how the kubelet's keyring stores a key: https:// added when
// there is no scheme, a leading /v1/ or /v2/ dropped, host[:port] plus what
// remains of the path.
func kubeletKey(k string) (string, bool) {
	v := k
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", false
	}
	p := u.Path
	if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/") {
		p = p[3:]
	}
	if p == "" || p == "/" {
		return u.Host, true
	}
	return u.Host + p, true
}

// kubeletMatch is the keyring's URLsMatch: the same port, as many host
// labels, each matched as a glob, and the key's path a string prefix of
// the image's.
func kubeletMatch(key, image string) bool {
	kh, kp, _ := strings.Cut(key, "/")
	ih, ip, _ := strings.Cut(image, "/")
	khost, kport := splitPort(kh)
	ihost, iport := splitPort(ih)
	if kport != iport {
		return false
	}
	kl, il := strings.Split(khost, "."), strings.Split(ihost, ".")
	if len(kl) != len(il) {
		return false
	}
	for i := range kl {
		if ok, _ := path.Match(kl[i], il[i]); !ok {
			return false
		}
	}
	return strings.HasPrefix(ip, kp)
}

func splitPort(h string) (string, string) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i], h[i+1:]
	}
	return h, ""
}

// findKubelet follows the kubelet: the pull secret's entries first, then
// the node's config.json (no helpers, no identity tokens); Docker Hub
// falls back to the "index.docker.io" entry.
func findKubelet(st Stores, im Image) Lookup {
	l := Lookup{As: AsKubelet}
	var files []*configFile
	if st.PullSecret != "" {
		l.Read = append(l.Read, st.PullSecret)
		cf, err := readPullSecret(st.PullSecret)
		if err != nil {
			l.Err = err
			return l
		}
		files = append(files, cf)
	}
	root := st.KubeletRoot
	if root == "" {
		root = "/var/lib/kubelet"
	}
	// The node's own: the root dir's, then the kubelet's home's (it runs
	// as root: this user's only when that is root).
	for _, node := range []string{filepath.Join(root, "config.json"), filepath.Join(st.Home, ".docker", "config.json")} {
		l.Read = append(l.Read, node)
		if cf, err := readConfig(node, false); err == nil && cf != nil {
			files = append(files, cf)
			break
		}
	}
	// The image as the kubelet normalises it: docker.io/library/nginx.
	image := im.Registry + "/" + im.Repo
	for _, cf := range files {
		var best string
		for _, k := range slices.Sorted(maps.Keys(cf.Auths)) {
			nk, ok := kubeletKey(k)
			if ok && kubeletMatch(nk, image) && (best == "" || len(nk) > len(mustKey(best))) {
				best = k
			}
		}
		if best == "" && im.Registry == "docker.io" {
			for _, k := range slices.Sorted(maps.Keys(cf.Auths)) {
				if nk, _ := kubeletKey(k); nk == "index.docker.io" {
					best = k
				}
			}
		}
		if best != "" && l.Credential != nil {
			// The kubelet tries every matching credential in turn.
			l.Misses = append(l.Misses, fmt.Sprintf("entry %q in %s matches too: the kubelet tries it if the first is refused", best, cf.path))
			continue
		}
		if best != "" {
			e := cf.Auths[best]
			c, err := entryCredential(authEntry{Auth: e.Auth, Username: e.Username, Password: e.Password}, cf.path, best)
			if err != nil {
				l.Err = err
				return l
			}
			if c != nil {
				l.Credential = c
			}
		}
	}
	for _, cf := range files {
		l.Misses = append(l.Misses, misses(cf, im, func(k string) string {
			nk, ok := kubeletKey(k)
			switch {
			case !ok:
				return "the kubelet cannot read it as a URL"
			case kubeletMatch(nk, image) || im.Registry == "docker.io" && nk == "index.docker.io":
				return ""
			}
			return fmt.Sprintf("the kubelet reads it as %q, which does not match %q (same port, same host labels, the key's path a prefix of the image's)", nk, image)
		}, l.Credential)...)
	}
	return l
}

func mustKey(k string) string {
	nk, _ := kubeletKey(k)
	return nk
}

var yamlDockerConfigRE = regexp.MustCompile(`(?m)^\s*\.docker(?:config)?(json|cfg)\s*:\s*["']?([A-Za-z0-9+/=]+)["']?\s*$`)

// readPullSecret reads a pull secret: the .dockerconfigjson (or .dockercfg)
// content itself, or the Secret as `kubectl get secret -o json|yaml`
// prints it.
func readPullSecret(p string) (*configFile, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("--pull-secret: %w", err)
	}
	var secret struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	payload, kind := b, ""
	if json.Unmarshal(b, &secret) == nil && secret.Kind == "Secret" {
		switch {
		case secret.Data[".dockerconfigjson"] != "":
			kind, payload = "json", []byte(secret.Data[".dockerconfigjson"])
		case secret.Data[".dockercfg"] != "":
			kind, payload = "cfg", []byte(secret.Data[".dockercfg"])
		default:
			return nil, fmt.Errorf("--pull-secret %s: the Secret has no .dockerconfigjson or .dockercfg in data", p)
		}
	} else if m := yamlDockerConfigRE.FindSubmatch(b); m != nil {
		kind, payload = string(m[1]), m[2]
	}
	if kind != "" {
		dec, err := base64.StdEncoding.DecodeString(string(payload))
		if err != nil {
			return nil, fmt.Errorf("--pull-secret %s: the .docker%s value is not base64", p, map[string]string{"json": "configjson", "cfg": "cfg"}[kind])
		}
		payload = dec
	}
	cf := &configFile{path: p}
	if err := json.Unmarshal(payload, cf); err != nil {
		return nil, fmt.Errorf("--pull-secret %s: not a .dockerconfigjson: %v", p, jsonErr(payload, err))
	}
	if cf.Auths == nil {
		// .dockercfg: a bare map of entries.
		var legacy map[string]authEntry
		if json.Unmarshal(payload, &legacy) == nil && len(legacy) > 0 {
			cf.Auths = legacy
		}
	}
	if len(cf.Auths) == 0 {
		return nil, fmt.Errorf("--pull-secret %s: no registry entries in it (want {\"auths\":{\"HOST\":{\"auth\":…}}})", p)
	}
	return cf, nil
}

// misses lists cf's entries that name im's registry (by host, any Docker
// Hub alias, with or without scheme, path or port) but that a client's
// lookup passes by; why returns "" for an entry the lookup uses.
func misses(cf *configFile, im Image, why func(key string) string, found *Credential) []string {
	var out []string
	want := containersRegistry(im.Registry)
	wantHost, _ := splitPort(want)
	for _, k := range slices.Sorted(maps.Keys(cf.Auths)) {
		if found != nil && found.Key == k && found.From == cf.path {
			continue
		}
		h := containersKey(k, true)
		hostOnly, _ := splitPort(h)
		if h != want && hostOnly != wantHost {
			continue
		}
		if r := why(k); r != "" {
			if h != want {
				r += "; its port differs from the image's"
			}
			out = append(out, fmt.Sprintf("entry %q in %s names this registry, but %s", k, cf.path, r))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cf.CredHelpers)) {
		if h := containersKey(k, true); h == want {
			if r := why(k); r != "" {
				out = append(out, fmt.Sprintf("credHelpers entry %q in %s names this registry, but %s", k, cf.path, r))
			}
		}
	}
	return out
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// helperNotFound is what docker-credential-helpers print for a server they
// hold nothing for (credentials/error.go).
const helperNotFound = "credentials not found in native keychain"

// runHelper asks docker-credential-NAME for serverURL by the helpers'
// protocol: "get", the URL on stdin, {"ServerURL","Username","Secret"} on
// stdout; a Username of "<token>" makes Secret an identity token.
func runHelper(ctx context.Context, st Stores, name, serverURL, where string) (*Credential, error) {
	bin := "docker-credential-" + name
	p := lookPath(bin, st.PATH)
	if p == "" || p == "/" {
		return nil, fmt.Errorf("%s names the credential helper %q, but %s is not in PATH: docker, crane and podman fail before sending a request", where, name, bin)
	}
	to := st.HelperTimeout
	if to == 0 {
		to = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, "get")
	cmd.Stdin = strings.NewReader(serverURL)
	out := &capped{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, io.Discard
	// A helper's child holding stdout open must not outlive the timeout.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	msg := strings.TrimSpace(out.String())
	if err != nil {
		if msg == helperNotFound {
			return nil, nil
		}
		// Its output is not echoed: a failing helper may have printed
		// the secret before it failed.
		return nil, fmt.Errorf("%s: %s get %q failed: %v", where, bin, serverURL, err)
	}
	var r struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		return nil, fmt.Errorf("%s: %s get %q printed something that is not its JSON answer", where, bin, serverURL)
	}
	c := &Credential{From: fmt.Sprintf("%s (%s)", bin, where), Key: serverURL}
	if r.Username == "<token>" {
		c.IdentityToken = r.Secret
	} else {
		c.Username, c.Password = r.Username, r.Secret
	}
	if c.Username == "" && c.Password == "" && c.IdentityToken == "" {
		return nil, nil
	}
	return c, nil
}

func lookPath(bin, pathList string) string {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, bin)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// capped keeps the first max bytes written to it.
type capped struct {
	b   bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.b.String() }
