package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/regtrace/regtrace/certs"
)

const bundleFileName = "bundle.pem"

func caFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "ca-dir", EnvVars: []string{"REGTRACE_CA_DIR"},
			Usage: "directory of the regtrace CA (default: $XDG_CONFIG_HOME/regtrace, e.g. ~/.config/regtrace)"},
		&cli.StringFlag{Name: "ca-cert", Usage: "use an existing CA certificate (PEM) instead of regtrace's own; needs --ca-key"},
		&cli.StringFlag{Name: "ca-key", Usage: "private key (PEM) of --ca-cert; must not be readable by group or others"},
	}
}

// caDir is where the CA (and the trust bundle) live.
func caDir(c *cli.Context) (string, error) {
	if d := c.String("ca-dir"); d != "" {
		// Absolute, because the paths printed go into other programs'
		// environments (SSL_CERT_FILE) and other directories.
		return filepath.Abs(d)
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the CA directory: %w (set --ca-dir)", err)
	}
	return filepath.Join(base, "regtrace"), nil
}

// loadCA loads the CA the flags name, creating regtrace's own on first use.
// It says so on stderr when it creates one or when it is near expiry.
func loadCA(c *cli.Context) (*certs.CA, string, error) {
	dir, err := caDir(c)
	if err != nil {
		return nil, "", err
	}
	certFile, keyFile := c.String("ca-cert"), c.String("ca-key")
	var ca *certs.CA
	switch {
	case certFile != "" || keyFile != "":
		if certFile == "" || keyFile == "" {
			return nil, "", usagef("--ca-cert and --ca-key go together")
		}
		ca, err = certs.LoadFiles(certFile, keyFile, certs.Options{})
		if err != nil {
			return nil, "", err
		}
	default:
		var created bool
		ca, created, err = certs.LoadOrCreate(dir, certs.Options{})
		if err != nil {
			return nil, "", err
		}
		if created {
			fmt.Fprintf(c.App.ErrWriter, "regtrace: created a CA for this install in %s (its key never leaves that directory)\n", dir)
		}
	}
	if w := ca.ExpiryWarning(); w != "" {
		fmt.Fprintf(c.App.ErrWriter, "regtrace: warning: %s\n", w)
	}
	return ca, dir, nil
}

// writeBundle (re)writes the trust bundle for SSL_CERT_FILE next to the CA.
func writeBundle(ca *certs.CA, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, bundleFileName)
	if err := certs.WriteBundle(path, ca); err != nil {
		return "", err
	}
	return path, nil
}

func caCommand() *cli.Command {
	return &cli.Command{
		Name:  "ca",
		Usage: "the regtrace CA: where it is, its certificate, a trust bundle, how each client trusts it",
		Description: `The CA is created on first use, once per install, in --ca-dir. Its key is written
with mode 0600 and never printed. Clients must trust the CA to talk through the proxy.

Examples:
   regtrace ca path                        # the CA certificate file
   regtrace ca export > regtrace-ca.crt    # the certificate, PEM
   SSL_CERT_FILE=$(regtrace ca bundle) crane manifest registry.example.com/app:1.0
   regtrace ca trust --client skopeo       # how skopeo trusts it`,
		Subcommands: []*cli.Command{
			{
				Name:  "path",
				Usage: "print the path of the CA certificate",
				Flags: caFlags(),
				Action: func(c *cli.Context) error {
					ca, _, err := loadCA(c)
					if err != nil {
						return err
					}
					if ca.CertFile() == "" {
						return fmt.Errorf("the CA has no file")
					}
					fmt.Fprintln(c.App.Writer, ca.CertFile())
					return nil
				},
			},
			{
				Name:  "export",
				Usage: "print the CA certificate (PEM); never the key",
				Flags: caFlags(),
				Action: func(c *cli.Context) error {
					ca, _, err := loadCA(c)
					if err != nil {
						return err
					}
					_, err = c.App.Writer.Write(ca.CertPEM())
					return err
				},
			},
			{
				Name:  "bundle",
				Usage: "write the system roots plus the CA to a file for SSL_CERT_FILE, and print its path",
				Description: `Go clients on Linux (skopeo, podman, crane, regctl, oras) read SSL_CERT_FILE as
their whole set of roots, so it must be a bundle, not the bare CA. On macOS and Windows Go
ignores SSL_CERT_FILE: see regtrace ca trust.

Example:
   SSL_CERT_FILE=$(regtrace ca bundle) HTTPS_PROXY=http://127.0.0.1:8080 skopeo inspect docker://registry.example.com/app:1.0`,
				Flags: caFlags(),
				Action: func(c *cli.Context) error {
					ca, dir, err := loadCA(c)
					if err != nil {
						return err
					}
					path, err := writeBundle(ca, dir)
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, path)
					return nil
				},
			},
			{
				Name:  "trust",
				Usage: "print how each client (or --client NAME) trusts the CA",
				Flags: append(caFlags(),
					&cli.StringFlag{Name: "client", Usage: "one of: " + fmt.Sprint(certs.Clients())},
					&cli.StringFlag{Name: "proxy", Value: "http://127.0.0.1:8080", Usage: "proxy URL to put in the instructions"},
					&cli.StringFlag{Name: "registry", Usage: "the registry's host[:port] to put in the instructions"},
					&cli.StringFlag{Name: "image", Usage: "an image to put in the instructions (default: a placeholder in --registry)"},
				),
				Action: func(c *cli.Context) error {
					ca, dir, err := loadCA(c)
					if err != nil {
						return err
					}
					bundle, err := writeBundle(ca, dir)
					if err != nil {
						return err
					}
					text, err := certs.Trust(c.String("client"), certs.TrustParams{
						CACert: ca.CertFile(), Bundle: bundle, Proxy: c.String("proxy"),
						Registry: c.String("registry"), Image: c.String("image"),
					})
					if err != nil {
						return usageError{err}
					}
					fmt.Fprint(c.App.Writer, text)
					return nil
				},
			},
		},
	}
}
