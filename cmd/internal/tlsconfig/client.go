package tlsconfig

import (
	"crypto/tls"
	"fmt"
	"log/slog"
)

// Client is the TLS section of an outgoing link, such as trillian.tls or
// database.tls: the CA the server's certificate must chain to, the name it
// must carry, and optionally a client certificate (mutual TLS).
type Client struct {
	// CAFile holds the CA certificates (PEM) the server's certificate must
	// chain to; empty means the system's roots.
	CAFile string `mapstructure:"ca_file"`
	// ServerName is the name the server's certificate must carry; empty
	// means the host of the address dialled.
	ServerName string `mapstructure:"server_name"`
	// CertFile and KeyFile, if set, are a client certificate and its key
	// (PEM; the key readable by its owner only), for a server that asks
	// for one. They are read again when they change.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Enabled reports whether the link uses TLS.
func (c *Client) Enabled() bool {
	return c.CAFile != "" || c.ServerName != "" || c.CertFile != "" || c.KeyFile != ""
}

// Validate checks the section; key is its name, such as "trillian.tls".
func (c *Client) Validate(key string) error {
	_, err := c.config(key, nil)
	return err
}

// Config returns the tls.Config to dial with, or nil when the section is
// empty (the link is not encrypted). key names the section in errors.
func (c *Client) Config(key string, logger *slog.Logger) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	return c.config(key, logger)
}

func (c *Client) config(key string, logger *slog.Logger) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pool, err := loadPool(key+".ca_file", c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		r, err := newReloader(key, c.CertFile, c.KeyFile, logger)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = r.getClientCertificate
	}
	if c.ServerName != "" && (len(c.ServerName) > 253 || c.ServerName[0] == '.') {
		return nil, fmt.Errorf("%s.server_name: must be a DNS name, got %q", key, c.ServerName)
	}
	return cfg, nil
}
