// Package verify asks a provider whether a key is good before modelgate
// stores it or starts a workspace with it (CONTRACT.md §8).
//
// A provider of the catalog may declare one cheap authenticated request
// (registry.Check). The Checker sends it with the key and reads only the
// status: a status the check lists as valid is a good key, one it lists as
// rejected is a key the provider refuses (mistyped, revoked, out of
// credit), and anything else (no answer, a timeout, 429, 5xx, a redirect)
// is no verdict: the caller stores the key unchecked and never refuses on
// it. A provider that is down must not stop anyone from saving a key.
//
// Safety is the design, not an option:
//   - the key goes only to the check's URL (the catalog's base URL or the
//     operator's override), over https, or plain http to a loopback
//     address; no proxy from the environment, redirects are not followed;
//   - the request carries the key header, the check's fixed headers and a
//     User-Agent, and nothing else of the org;
//   - the response body is read up to a small bound and discarded, never
//     logged or stored;
//   - with Options.Off nothing is ever sent;
//   - only a name the check lists (registry.Check.Names) is ever sent.
//
// Concurrent checks of the same org, provider, name and value share one
// request (keyed by a SHA-256 of them, never the value itself). Every
// request is logged and appended to the audit trail without the value.
package verify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/registry"
)

// DefaultTimeout bounds one check: a key is stored unchecked after it.
const DefaultTimeout = 5 * time.Second

// maxBody is how much of a response is read (and discarded) so that the
// connection can be reused; the rest is dropped with the connection.
const maxBody = 4 << 10

// userAgent names modelgate to the provider; it carries nothing of the org.
const userAgent = "modelgate-credential-check/1"

// Options configures New. The zero value checks with the catalog's URLs,
// the system's roots and DefaultTimeout, and audits nothing.
type Options struct {
	// Off turns checks off: nothing is sent anywhere, every key is stored
	// unchecked (--verify-credentials=off).
	Off bool
	// Timeout bounds each check (default DefaultTimeout).
	Timeout time.Duration
	// BaseURLs overrides the base URL of providers' checks, by provider
	// name (--verify-base-url). Each must name a provider that declares a
	// check and pass registry.CheckBaseURL.
	BaseURLs map[string]string
	// RootCAs, if not nil, replaces the system's roots (tests inject the
	// CA of their fake providers).
	RootCAs *x509.CertPool
	// Audit, if not nil, receives every check.
	Audit modelgate.AuditStore
	// Metrics, if not nil, counts checks by provider and verdict.
	Metrics *metrics.Metrics
	// Log receives one line per check, without the value.
	Log zerolog.Logger
}

// Checker checks keys with their providers. A nil *Checker checks nothing
// (as Options.Off). It is safe for concurrent use.
type Checker struct {
	cat    *registry.Catalog
	opts   Options
	client *http.Client
	flight singleflight.Group
	// joined, if set (by tests), is called once a Check has joined its
	// flight, before it waits for the answer.
	joined func()
}

// New returns a checker for the providers of cat. It returns an error when
// a base URL override names an unknown provider, one without a check, or is
// not an https URL (plain http only to loopback).
func New(cat *registry.Catalog, o Options) (*Checker, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	for name, base := range o.BaseURLs {
		p, ok := cat.Provider(name)
		if !ok {
			return nil, fmt.Errorf("verify base URL for %q: no such provider in the catalog", name)
		}
		if p.Check == nil {
			return nil, fmt.Errorf("verify base URL for %q: the provider declares no check", name)
		}
		if err := registry.CheckBaseURL(base); err != nil {
			return nil, fmt.Errorf("verify base URL for %q: %w", name, err)
		}
	}
	transport := &http.Transport{
		// No proxy from the environment: the key goes to the declared URL
		// only. An operator who needs a proxy overrides the base URL.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: o.Timeout}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Checker{cat: cat, opts: o, client: &http.Client{
		Transport: transport,
		// A redirect is no verdict, and its target never gets the key.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Enabled reports whether the checker sends checks at all.
func (c *Checker) Enabled() bool { return c != nil && !c.opts.Off }

// Request is one key to check.
type Request struct {
	// Org owns the key; Scope is modelgate.ScopeOrg or ScopeWorkspace;
	// WorkspaceID names the workspace of a stored workspace secret ("" at
	// provision time, before the workspace exists).
	Org, Scope, WorkspaceID string
	// Provider is whose check is made; Name and Value are the key.
	Provider *registry.Provider
	Name     string
	Value    string
}

// Result is the outcome of a check. It never holds the value.
type Result struct {
	// Verdict is modelgate.VerdictValid, VerdictRejected or VerdictUnchecked.
	Verdict string
	// Status is the HTTP status the provider answered (0: none).
	Status int
	// Reason says why there is no verdict ("" with one).
	Reason string
	// At is when the check started; Latency how long it took.
	At      time.Time
	Latency time.Duration
	// Provider and Name say what was checked.
	Provider, Name string
}

// Err returns the INVALID_CREDENTIAL refusal for a rejected key (details:
// provider, name, provider_status; never the value) and nil otherwise.
func (r Result) Err() error {
	if r.Verdict != modelgate.VerdictRejected {
		return nil
	}
	return modelgate.Errorf(modelgate.EInvalidCredential,
		"provider %s rejected the key in %s (HTTP %d): it is mistyped, revoked or out of credit; store a working key under that name",
		r.Provider, r.Name, r.Status).
		WithDetail("provider", r.Provider).WithDetail("name", r.Name).WithDetail("provider_status", r.Status)
}

// Applies reports whether a check would be sent for name with provider p:
// checks are on, p declares a check and the check lists name. When it
// returns false nothing is ever sent.
func (c *Checker) Applies(p *registry.Provider, name string) bool {
	return c.Enabled() && p != nil && !p.PlatformBilled() && p.Check.Covers(name)
}

// OrgProvider returns the provider whose check applies to an org secret
// named name, or nil when none does. An org secret is stored for no
// particular provider, so its check must be unambiguous: every provider
// of the catalog that accepts the name declares a check that covers it,
// and all of those checks send the key to the same URL the same way. A
// name that several providers accept with different meanings (for
// example ANTHROPIC_API_KEY, which some providers use for their own
// Anthropic-compatible keys) is not checked when it is stored; the
// provisioner checks it with the derived provider before it starts a
// workspace.
func (c *Checker) OrgProvider(name string) *registry.Provider {
	if !c.Enabled() {
		return nil
	}
	var first *registry.Provider
	for _, p := range c.cat.Providers() {
		if !p.Accepts(name) || p.PlatformBilled() {
			continue
		}
		if !p.Check.Covers(name) {
			return nil
		}
		if first == nil {
			first = p
			continue
		}
		if !p.Check.SameRequest(first.Check) || c.baseURL(p) != c.baseURL(first) {
			return nil
		}
	}
	return first
}

// baseURL returns the base URL p's check is sent to.
func (c *Checker) baseURL(p *registry.Provider) string {
	if u, ok := c.opts.BaseURLs[p.Name]; ok {
		return u
	}
	return p.Check.BaseURL
}

// Check asks req.Provider about req.Value. It returns false, having sent
// nothing, when no check applies (see Applies). Otherwise it returns the
// result; it never fails: every failure to get a verdict is
// VerdictUnchecked. Concurrent calls for the same org, provider, name and
// value share one request, made with the checker's timeout whatever ctx
// says (a caller that gives up must not cut the others' check short).
func (c *Checker) Check(ctx context.Context, req Request) (Result, bool) {
	if !c.Applies(req.Provider, req.Name) {
		return Result{}, false
	}
	h := sha256.New()
	for _, s := range []string{req.Org, req.Provider.Name, req.Name, req.Value} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))
	ch := c.flight.DoChan(key, func() (any, error) {
		return c.do(context.WithoutCancel(ctx), req), nil
	})
	if c.joined != nil {
		c.joined()
	}
	select {
	case r := <-ch:
		return r.Val.(Result), true
	case <-ctx.Done():
		return Result{Verdict: modelgate.VerdictUnchecked, Reason: "caller gave up", Provider: req.Provider.Name, Name: req.Name}, true
	}
}

// do sends one check, logs it and appends it to the audit trail.
func (c *Checker) do(ctx context.Context, req Request) Result {
	chk := req.Provider.Check
	r := Result{Verdict: modelgate.VerdictUnchecked, Provider: req.Provider.Name, Name: req.Name, At: time.Now().UTC()}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, chk.Method, chk.URL(c.baseURL(req.Provider)), nil)
	if err != nil {
		r.Reason = "bad check URL"
	} else {
		hr.Header.Set("User-Agent", userAgent)
		for k, v := range chk.Headers {
			hr.Header.Set(k, v)
		}
		hr.Header.Set(chk.KeyHeader, chk.KeyPrefix+req.Value)
		start := time.Now()
		resp, err := c.client.Do(hr)
		r.Latency = time.Since(start)
		if err != nil {
			r.Reason = reason(err)
		} else {
			// The body is never read into anything: a provider's error
			// page may echo the key.
			_, _ = io.CopyN(io.Discard, resp.Body, maxBody)
			resp.Body.Close()
			r.Status = resp.StatusCode
			switch {
			case slices.Contains(chk.Valid, resp.StatusCode):
				r.Verdict = modelgate.VerdictValid
			case slices.Contains(chk.Rejected, resp.StatusCode):
				r.Verdict = modelgate.VerdictRejected
			case resp.StatusCode >= 300 && resp.StatusCode < 400:
				r.Reason = "redirect not followed"
			default:
				r.Reason = fmt.Sprintf("status %d", resp.StatusCode)
			}
		}
	}
	c.record(ctx, req, r)
	return r
}

// reason classifies a transport error without quoting it: an error text
// may hold the request's URL or header values.
func reason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return "TLS certificate not trusted"
	}
	var re tls.RecordHeaderError
	if errors.As(err, &re) {
		return "not a TLS server"
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return "host not found"
	}
	return "no answer"
}

// record logs the check and appends it to the audit trail. An audit write
// that fails is logged and changes nothing.
func (c *Checker) record(ctx context.Context, req Request, r Result) {
	ev := c.opts.Log.Info()
	if r.Verdict == modelgate.VerdictRejected {
		ev = c.opts.Log.Warn()
	}
	ev.Str("audit", "credential_check").Str("org", req.Org).Str("provider", r.Provider).Str("name", r.Name).
		Str("scope", req.Scope).Str("workspace", req.WorkspaceID).Str("verdict", r.Verdict).Int("provider_status", r.Status).
		Str("reason", r.Reason).Dur("latency", r.Latency).Msg("credential check")
	c.opts.Metrics.CredentialCheck(r.Provider, r.Verdict)
	if c.opts.Audit == nil {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := c.opts.Audit.AppendCredentialCheck(actx, modelgate.CredentialCheck{
		At: r.At, Org: req.Org, Provider: r.Provider, Name: r.Name, Scope: req.Scope, WorkspaceID: req.WorkspaceID,
		Verdict: r.Verdict, Status: r.Status, Reason: r.Reason, Latency: r.Latency,
	}); err != nil {
		c.opts.Log.Error().Err(err).Str("org", req.Org).Msg("append credential check")
	}
}
