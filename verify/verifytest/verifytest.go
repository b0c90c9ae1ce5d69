// Package verifytest plays a provider for tests of live credential checks:
// a real TLS server with its own CA that answers a check by the key it
// receives, records every request it gets, and can hold, slow down or
// revoke.
package verifytest

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Seen is one request the fake provider received.
type Seen struct {
	Method, Path string
	// Key is the key as received (after the header's prefix).
	Key string
	// Header holds every header of the request.
	Header http.Header
}

// Provider is a fake provider. Keys it was told to accept answer 200,
// revoked and unknown keys 401, unless Answer set another status.
type Provider struct {
	server    *httptest.Server
	keyHeader string
	keyPrefix string

	mu       sync.Mutex
	status   map[string]int
	seen     []Seen
	hold     chan struct{}
	arrived  chan struct{}
	delay    time.Duration
	redirect string
}

// New starts a fake provider over TLS that reads the key from keyHeader
// after keyPrefix, and closes it when tb ends.
func New(tb testing.TB, keyHeader, keyPrefix string) *Provider {
	p := &Provider{keyHeader: keyHeader, keyPrefix: keyPrefix, status: map[string]int{}}
	p.server = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.server.Close)
	return p
}

// NewLoopback starts a fake provider over plain HTTP on a loopback address
// (the one place a check may use plain HTTP), for tests of the real binary,
// which cannot be given the test's CA.
func NewLoopback(tb testing.TB, keyHeader, keyPrefix string) *Provider {
	p := &Provider{keyHeader: keyHeader, keyPrefix: keyPrefix, status: map[string]int{}}
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.server.Close)
	return p
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get(p.keyHeader), p.keyPrefix)
	p.mu.Lock()
	p.seen = append(p.seen, Seen{Method: r.Method, Path: r.URL.RequestURI(), Key: key, Header: r.Header.Clone()})
	status, ok := p.status[key]
	if !ok {
		status = http.StatusUnauthorized
	}
	hold, arrived, delay, redirect := p.hold, p.arrived, p.delay, p.redirect
	p.mu.Unlock()
	if arrived != nil {
		select {
		case arrived <- struct{}{}:
		default:
		}
	}
	// A request the client gave up on is aborted, not answered: a handler
	// that merely returned would make net/http send an empty 200, which a
	// client still reading could take for "valid".
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusTemporaryRedirect)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An error body that echoes the key, as some providers do: it must
	// never reach a log or an error.
	_, _ = w.Write([]byte(`{"error":"invalid key ` + key + `"}`))
}

// URL returns the base URL of the provider.
func (p *Provider) URL() string { return p.server.URL }

// Pool returns a pool holding the provider's CA, for verify.Options.RootCAs.
func (p *Provider) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.server.Certificate())
	return pool
}

// Accept makes the provider answer 200 for key.
func (p *Provider) Accept(key string) { p.Answer(key, http.StatusOK) }

// Revoke makes the provider answer 401 for key.
func (p *Provider) Revoke(key string) { p.Answer(key, http.StatusUnauthorized) }

// Answer makes the provider answer status for key.
func (p *Provider) Answer(key string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[key] = status
}

// Delay makes every answer wait d.
func (p *Provider) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// RedirectTo makes every answer a 307 redirect to url.
func (p *Provider) RedirectTo(url string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirect = url
}

// Hold makes requests wait, unanswered, until release is called (or the
// client gives up); arrived receives one value per request that starts
// waiting (if nobody is receiving, the value is dropped).
func (p *Provider) Hold() (arrived <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	hold := make(chan struct{})
	ch := make(chan struct{}, 64)
	p.hold, p.arrived = hold, ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			p.mu.Lock()
			p.hold, p.arrived = nil, nil
			p.mu.Unlock()
			close(hold)
		})
	}
}

// Requests returns every request received so far.
func (p *Provider) Requests() []Seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Seen(nil), p.seen...)
}

// Close stops the provider: later connections are refused.
func (p *Provider) Close() { p.server.Close() }
