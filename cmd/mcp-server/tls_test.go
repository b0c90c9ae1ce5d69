package main_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/testcert"
)

// waitLog waits until the server's stderr contains s, failing the test if
// it has not after 30 s (a bound on a failure, not a synchronisation).
func waitLog(t *testing.T, stderr *watchedBuffer, s string) {
	t.Helper()
	give := time.After(30 * time.Second)
	for {
		changed := stderr.changed()
		if strings.Contains(stderr.String(), s) {
			return
		}
		select {
		case <-changed:
		case <-give:
			t.Fatalf("no %q in the server's log:\n%s", s, stderr)
		}
	}
}

// TestNetwork_HTTPSWithACertificateRenewedBySIGHUP is the operator's
// journey with TLS: serve HTTPS with a certificate from their CA, renew the
// files, send SIGHUP, and new connections get the new certificate; a broken
// renewal keeps the old one and says so in the log. The page for browsers
// and /metrics (on by default on loopback) are served over the same TLS.
func TestNetwork_HTTPSWithACertificateRenewedBySIGHUP(t *testing.T) {
	t.Parallel()
	ca, dir := testcert.NewCA(t), t.TempDir()
	certFile, keyFile := ca.Issue(t, dir, 10)
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir(), "MODELGATE_SECRETS_KEY=" + testKey}
	cmd, url, stderr := startNetwork(t, env, "--transport", "http", "--tls-cert", certFile, "--tls-key", keyFile)
	url = strings.Replace(url, "http://", "https://", 1)
	if !strings.Contains(stderr.String(), "serving MCP at https://") {
		t.Fatalf("start-up line does not say https:\n%s", stderr)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, DisableKeepAlives: true}}
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, stderr)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	serial := func() int64 {
		t.Helper()
		res, _ := get("/healthz", "")
		return res.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 10 {
		t.Fatalf("serial %d, want 10", got)
	}
	if res, body := get("/", "text/html"); res.StatusCode != http.StatusOK || !strings.Contains(body, url+"/mcp") {
		t.Fatalf("GET / from a browser: %d, want a page naming %s/mcp:\n%s", res.StatusCode, url, body)
	}
	if res, body := get("/metrics", ""); res.StatusCode != http.StatusOK || !strings.Contains(body, "modelgate_gate_fail_open_total 0") || !strings.Contains(body, "modelgate_provisioner_backlog 0") {
		t.Fatalf("GET /metrics on a loopback listener: %d\n%s", res.StatusCode, body)
	}

	ca.Issue(t, dir, 11)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, stderr, "SIGHUP: TLS certificate reloaded")
	if got := serial(); got != 11 {
		t.Fatalf("after SIGHUP: serial %d, want 11", got)
	}

	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("-----BEGIN PRIVATE KEY-----\ntruncated"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, stderr, "TLS certificate not reloaded")
	if got := serial(); got != 11 {
		t.Fatalf("after a failed reload: serial %d, want 11 still", got)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := stderr.wait(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
	}
}

func TestNetwork_TLSFlagsAreCheckedAtStart(t *testing.T) {
	t.Parallel()
	ca, dir := testcert.NewCA(t), t.TempDir()
	certFile, keyFile := ca.Issue(t, dir, 1)
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir()}
	for _, args := range [][]string{
		{"serve", "--transport", "http", "--addr", "127.0.0.1:0", "--tls-cert", certFile},
		{"serve", "--transport", "http", "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", filepath.Join(dir, "missing.pem")},
		{"serve", "--tls-cert", certFile, "--tls-key", keyFile}, // stdio
	} {
		if _, stderr, err := run(t, env, args...); err == nil || !strings.Contains(stderr, "--tls-") {
			t.Errorf("%v: %v %s, want a refusal naming the TLS flags", args, err, stderr)
		}
	}
}
