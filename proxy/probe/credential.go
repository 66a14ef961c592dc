package probe

import "fmt"

// Credential is what a client would send to a registry. Its secret fields
// are never printed: Source names where it was found.
type Credential struct {
	Username string
	Password string
	// IdentityToken is an OAuth2 refresh token (docker config.json
	// "identitytoken", a helper's Username "<token>"): it is exchanged at
	// the realm with grant_type=refresh_token.
	IdentityToken string
	// RegistryToken is a bearer token sent to the registry as is (docker
	// config.json "registrytoken").
	RegistryToken string
	// From names the store: a file path, "standard input", or a helper
	// ("docker-credential-pass via /root/.docker/config.json").
	From string
	// Key is the entry of the store that matched ("https://index.docker.io/v1/").
	Key string
}

// Source names the credential without its secret: the key, the store and
// the user name.
func (c *Credential) Source() string {
	if c == nil {
		return "no credential"
	}
	s := "the credential"
	if c.Key != "" {
		s += fmt.Sprintf(" stored under %q", c.Key)
	}
	if c.From != "" {
		s += " in " + c.From
	}
	switch {
	case c.IdentityToken != "":
		s += " (an identity token)"
	case c.RegistryToken != "":
		s += " (a registry token)"
	case c.Username != "":
		s += fmt.Sprintf(" (user %q)", c.Username)
	}
	return s
}
