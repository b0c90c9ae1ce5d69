package mcpserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// CertReloader serves a certificate read from two PEM files and reads them
// again on Reload, so a renewed certificate needs no restart: connections
// opened after a reload get the new one; open ones keep theirs. It is safe
// for concurrent use.
type CertReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertReloader reads the certificate chain and key once. It returns an
// error naming the file when either cannot be read or they do not match, or
// when the certificate has expired.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: give both files")
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again and, if they hold a valid pair, serves it
// from the next handshake on. On error it keeps serving the certificate it
// had, so a half-written renewal does not take the server down; the error
// says which file is wrong.
func (r *CertReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return fmt.Errorf("parse TLS certificate %s: %w", r.certFile, err)
	}
	if time.Now().After(leaf.NotAfter) {
		return fmt.Errorf("TLS certificate %s expired on %s", r.certFile, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	c.Leaf = leaf
	r.cert.Store(&c)
	return nil
}

// Leaf returns the certificate being served (for logs: its subject and
// expiry).
func (r *CertReloader) Leaf() *x509.Certificate { return r.cert.Load().Leaf }

// GetCertificate is the tls.Config hook: it returns the current certificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// TLSConfig returns a server configuration that serves r's certificate,
// TLS 1.2 or later, with HTTP/2 and HTTP/1.1 offered.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}
