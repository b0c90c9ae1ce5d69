package mcpserver_test

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate/internal/testcert"
	"github.com/modelgate/modelgate/mcpserver"
)

// servedSerial opens a new TLS connection to url, verifying the server
// against pool, and returns the serial number of the certificate served.
func servedSerial(t *testing.T, url string, pool *tls.Config) int64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: pool, DisableKeepAlives: true}}
	res, err := c.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz over TLS: %d", res.StatusCode)
	}
	return res.TLS.PeerCertificates[0].SerialNumber.Int64()
}

func TestServe_TLSServesAVerifiedCertificateAndReloadsIt(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{mcpserver.TransportHTTP, mcpserver.TransportSSE} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			ca, dir := testcert.NewCA(t), t.TempDir()
			certFile, keyFile := ca.Issue(t, dir, 100)
			certs, err := mcpserver.NewCertReloader(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			b := newHandler(t, setupOpts{transport: tr}, mcpserver.HTTPOptions{TLS: certs.TLSConfig()})
			serve(t, &b)
			b.url = strings.Replace(b.url, "http://", "https://", 1)
			trust := &tls.Config{RootCAs: ca.Pool}

			// A client that verifies the chain talks MCP over it.
			httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: trust}}
			t.Cleanup(httpClient.CloseIdleConnections) // runs after the MCP client closed
			c := b.connect(t, b.token(t, "acme", false), mcp.ProtocolVersion20251125, httpClient)
			mustCall(t, c, "list_offered_models", map[string]any{"runtime": "claude-code"})
			if got := servedSerial(t, b.url, trust); got != 100 {
				t.Fatalf("served serial %d, want 100", got)
			}
			// A client that does not trust the CA is refused: the server
			// really serves this CA's certificate, not some default.
			if _, err := http.Get(b.url + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("a client without the CA connected: %v", err)
			}
			// Plain HTTP on the TLS port gets no MCP answer.
			plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			if res, err := plain.Get(strings.Replace(b.url, "https://", "http://", 1) + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					t.Fatal("plain HTTP was served on the TLS listener")
				}
			}

			// Renewal: new files, Reload, and the next connection gets them.
			ca.Issue(t, dir, 101)
			if err := certs.Reload(); err != nil {
				t.Fatal(err)
			}
			if got := servedSerial(t, b.url, trust); got != 101 {
				t.Fatalf("after reload: served serial %d, want 101", got)
			}

			// A broken renewal keeps the certificate being served.
			if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := certs.Reload(); err == nil || !strings.Contains(err.Error(), certFile) {
				t.Fatalf("reload of a broken file: %v, want an error naming %s", err, certFile)
			}
			if got := servedSerial(t, b.url, trust); got != 101 {
				t.Fatalf("after a failed reload: served serial %d, want 101 still", got)
			}
		})
	}
}

func TestNewCertReloader_RefusesAMissingHalfOrAMismatchedPair(t *testing.T) {
	t.Parallel()
	ca := testcert.NewCA(t)
	cert1, _ := ca.Issue(t, t.TempDir(), 1)
	_, key2 := ca.Issue(t, t.TempDir(), 2)
	for _, c := range []struct{ name, cert, key string }{
		{"no key", cert1, ""},
		{"no cert", "", key2},
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), key2},
		{"key of another certificate", cert1, key2},
	} {
		if _, err := mcpserver.NewCertReloader(c.cert, c.key); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
