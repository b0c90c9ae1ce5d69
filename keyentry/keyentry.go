// Package keyentry lets a person enter a BYOK key in a browser page, so the
// value never passes through the agent, the model or the transcript
// (CONTRACT.md §7).
//
// When provision_workspace refuses a read-write caller with
// MISSING_BYOK_CREDENTIAL, Offer makes a one-time link and adds add_key_url
// and add_key_expires_at to the refusal. The link is "mgk_" + id + "_" +
// secret: the id (public) names it in the audit trail and is what the store
// looks it up by; of the secret (32 random bytes) the store keeps only the
// SHA-256, so the link can be served by any replica and a database dump
// cannot be turned into links. A link is bound to one org and one
// provider's accepted names, expires (TTL, default 15 minutes) and is spent
// by one conditional UPDATE, so two submits cannot both store a key.
//
// The page (page.go) is server-rendered HTML that needs no JavaScript. A
// submitted value goes through provision.Service.SetOrgSecret, the same
// rules as every other way of storing a secret, and is stored encrypted as
// an org secret; the link stays spent only if that succeeds (it is spent
// first and given back otherwise), even if the browser goes away in
// between.
//
// The page needs no bearer token, so anyone who has seen a link's id can
// present it with a wrong secret, or present a spent link, at will. Such
// refusals are audited once per link, method and code per RepeatInterval
// and only counted in between (repeat.go), so they cannot flood the org's
// audit trail.
//
// A client that declared URL-mode elicitation also gets the link as an
// elicitation/create request (mode "url") and, once the key is stored, a
// notifications/elicitation/complete (elicit.go).
package keyentry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/provision"
	"github.com/rs/zerolog"
)

// DefaultTTL is how long a link stays usable unless configured.
const DefaultTTL = 15 * time.Minute

// DefaultMaxLiveLinks is how many unused, unexpired links one org may hold
// unless configured. A person needs one link per provider to store a key,
// and every link stays usable for the TTL, so twenty leaves room for a
// team's refusals on several providers at once, while an agent that keeps
// retrying a refused call does not add a usable secret per retry: past the
// cap each refusal still carries a new link (CONTRACT.md §7 puts one on
// every refusal), and the org's oldest unused link expires in its place.
const DefaultMaxLiveLinks = 20

// PathPrefix is where the page is served, under the public base URL.
const PathPrefix = "/keys/"

const (
	scheme      = "mgk_"
	idLen       = 12
	secretBytes = 32
)

var (
	idEncoding     = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	secretEncoding = base64.RawURLEncoding
	secretLen      = secretEncoding.EncodedLen(secretBytes)
)

// Options configure New. Store and Service are required.
type Options struct {
	// Store holds the links and the audit trail.
	Store modelgate.Store
	// Service stores a submitted key (SetOrgSecret), with every rule that
	// applies to secrets.
	Service *provision.Service
	// TTL is how long a link is usable; 0 means DefaultTTL.
	TTL time.Duration
	// MaxLiveLinks is how many unused, unexpired links one org may hold;
	// a link made past it expires the org's oldest unused one. 0 means
	// DefaultMaxLiveLinks.
	MaxLiveLinks int
	// BaseURL is the public base URL the page is reached at (for example
	// https://modelgate.example.com); links are BaseURL + PathPrefix +
	// token. Empty means: open a loopback listener (127.0.0.1, random port)
	// when the first link is made and serve the page there until Close
	// (what stdio uses).
	BaseURL string
	// Log receives the link events (never a value or a token).
	Log zerolog.Logger
	// Now returns the current time; nil means time.Now (tests move it).
	Now func() time.Time
	// PollInterval is how often a wait for a link made on this replica
	// but used on another re-reads the link; 0 means 2 seconds.
	PollInterval time.Duration
	// Metrics, if not nil, counts link events (made, used, expired,
	// refused) for GET /metrics.
	Metrics *metrics.Metrics
}

// Service makes key links and serves their page. It is safe for concurrent
// use.
type Service struct {
	o Options

	loopOnce sync.Once
	loopURL  string
	loopErr  error
	loopSrv  *http.Server

	mu      sync.Mutex
	waiters map[string][]chan struct{}

	// repeats bounds the audit rows and log lines of refusals that anyone
	// who has seen a link's id can repeat (RepeatInterval).
	repeats repeats

	// stop is closed by Close: it ends the waits of elicitations.
	stop      chan struct{}
	closeOnce sync.Once
}

// New returns a key entry service.
func New(o Options) *Service {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxLiveLinks <= 0 {
		o.MaxLiveLinks = DefaultMaxLiveLinks
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Service{o: o, waiters: map[string][]chan struct{}{}, stop: make(chan struct{})}
}

// Link is a made key link.
type Link struct {
	// ID is the public id (in the audit trail).
	ID string
	// URL is the page's address; it holds the secret token.
	URL       string
	ExpiresAt time.Time
}

// Offer makes a link for a MISSING_BYOK_CREDENTIAL refusal e of caller and
// adds add_key_url and add_key_expires_at to e. It makes none for a
// read-only caller or another error, and returns nil then. A link that
// cannot be made (the store failed) is logged and leaves the refusal as it
// was. It costs one insert, which also deletes a few long-expired links
// and, when the org already holds MaxLiveLinks unused ones, expires its
// oldest (modelgate.KeyLinkStore.CreateKeyLink), counted as "retired".
func (s *Service) Offer(ctx context.Context, caller modelgate.Caller, e *modelgate.Error) *Link {
	if s == nil || e == nil || e.Code != modelgate.EMissingCredential || caller.ReadOnly || caller.Org == "" {
		return nil
	}
	names, _ := e.Details["auth_env"].([]string)
	if len(names) == 0 {
		return nil
	}
	str := func(k string) string { v, _ := e.Details[k].(string); return v }
	l, retired, err := s.create(ctx, caller, str("provider"), names, str("runtime"), str("model"))
	if err != nil {
		s.o.Log.Error().Err(err).Str("org", caller.Org).Msg("key link not made")
		return nil
	}
	for range retired {
		s.o.Metrics.KeyEntryLink("retired")
	}
	if retired > 0 {
		s.o.Log.Info().Str("org", caller.Org).Str("token_prefix", caller.TokenPrefix).Int("retired", retired).
			Int("max_live_links", s.o.MaxLiveLinks).Str("key_link", l.ID).
			Msg("key link made past the org's cap of unused links: its oldest unused links expired")
	}
	e.WithDetail("add_key_url", l.URL).WithDetail("add_key_expires_at", l.ExpiresAt.UTC().Format(time.RFC3339))
	s.o.Metrics.KeyEntryLink("created")
	s.o.Log.Info().Str("audit", "key_link").Str("org", caller.Org).Str("key_link", l.ID).
		Str("provider", str("provider")).Time("expires_at", l.ExpiresAt).Msg("key link made")
	return l
}

// create makes and stores a link; it returns the link and how many of the
// org's older links the store retired to keep it within MaxLiveLinks.
func (s *Service) create(ctx context.Context, caller modelgate.Caller, provider string, names []string, runtime, model string) (*Link, int, error) {
	base, err := s.baseURL()
	if err != nil {
		return nil, 0, err
	}
	buf := make([]byte, 8+secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return nil, 0, err
	}
	id := idEncoding.EncodeToString(buf[:8])[:idLen]
	secret := secretEncoding.EncodeToString(buf[8:])
	now := s.o.Now().UTC()
	l := modelgate.KeyLink{
		ID: id, Org: caller.Org, Provider: provider, Names: names, Runtime: runtime, Model: model,
		TokenPrefix: caller.TokenPrefix, CreatedAt: now, ExpiresAt: now.Add(s.o.TTL),
	}
	retired, err := s.o.Store.CreateKeyLink(ctx, l, auth.Hash(secret), s.o.MaxLiveLinks)
	if err != nil {
		return nil, 0, err
	}
	return &Link{ID: id, URL: base + PathPrefix + scheme + id + "_" + secret, ExpiresAt: l.ExpiresAt.Truncate(time.Second)}, retired, nil
}

// parseToken splits a link token into id and secret; ok is false for
// anything that is not a well-formed token.
func parseToken(tok string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(tok, scheme)
	if !found || len(rest) != idLen+1+secretLen || rest[idLen] != '_' {
		return "", "", false
	}
	id, secret = rest[:idLen], rest[idLen+1:]
	if !only(id, "abcdefghijklmnopqrstuvwxyz234567") ||
		!only(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		return "", "", false
	}
	return id, secret, true
}

// IDFromURL returns the link id of a link URL, or "" when it is not one.
func IDFromURL(u string) string {
	i := strings.LastIndex(u, "/")
	id, _, ok := parseToken(u[i+1:])
	if !ok {
		return ""
	}
	return id
}

func only(s, chars string) bool {
	for _, r := range s {
		if !strings.ContainsRune(chars, r) {
			return false
		}
	}
	return true
}

// formToken is the hidden field of the form: derived from the link's
// secret, so any replica can check it and only someone who loaded the page
// (or holds the link) can produce it.
func formToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("modelgate key entry form"))
	return secretEncoding.EncodeToString(m.Sum(nil))
}

// baseURL returns the configured base URL or, without one, the loopback
// listener's, opening it on first use.
func (s *Service) baseURL() (string, error) {
	if s.o.BaseURL != "" {
		return s.o.BaseURL, nil
	}
	s.loopOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.loopErr = fmt.Errorf("key entry: open loopback listener: %w", err)
			return
		}
		s.loopURL = "http://" + ln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle(PathPrefix, s.Handler())
		s.loopSrv = &http.Server{Handler: loopbackOnly(mux), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := s.loopSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.o.Log.Error().Err(err).Msg("key entry listener stopped")
			}
		}()
		s.o.Log.Info().Str("url", s.loopURL+PathPrefix).Msg("key entry page served on a loopback address")
	})
	return s.loopURL, s.loopErr
}

// loopbackOnly refuses a request whose Host is not the loopback address
// the listener is on: a web page whose domain was rebound to 127.0.0.1
// cannot reach the page.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && !strings.EqualFold(host, "localhost") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Close ends the elicitations' waits and closes the loopback listener, if
// one was opened.
func (s *Service) Close() error {
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() { close(s.stop) })
	s.loopOnce.Do(func() { s.loopErr = errors.New("key entry: closed") }) // no listener after Close
	if s.loopSrv == nil {
		return nil
	}
	return s.loopSrv.Close()
}

// used wakes the waiters of a link spent on this replica.
func (s *Service) used(id string) {
	s.mu.Lock()
	ws := s.waiters[id]
	delete(s.waiters, id)
	s.mu.Unlock()
	for _, c := range ws {
		close(c)
	}
}

// WaitUsed returns nil once the link id has stored a key (on this replica
// or, found by polling the store, on another), and an error when ctx ends
// or the link expires unused.
func (s *Service) WaitUsed(ctx context.Context, id string) error {
	c := make(chan struct{})
	s.mu.Lock()
	s.waiters[id] = append(s.waiters[id], c)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		ws := s.waiters[id]
		for i, w := range ws {
			if w == c {
				s.waiters[id] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(s.waiters[id]) == 0 {
			delete(s.waiters, id)
		}
		s.mu.Unlock()
	}()
	t := time.NewTicker(s.o.PollInterval)
	defer t.Stop()
	for {
		l, _, err := s.o.Store.KeyLinkByID(ctx, id)
		if err == nil && l.UsedAt != nil {
			return nil
		}
		if err == nil && !s.o.Now().Before(l.ExpiresAt) {
			return errors.New("key link expired unused")
		}
		select {
		case <-c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// audit appends a key link event; a failure is logged, never shown.
// unaudited is how many of the same refusal since the last one audited
// were only counted (refuse); it goes to the log line.
func (s *Service) audit(ctx context.Context, l *modelgate.KeyLink, event, code, name string, unaudited int) {
	e := modelgate.AuditEntry{
		At: s.o.Now().UTC(), Org: l.Org, TokenPrefix: l.TokenPrefix, Allowed: event == modelgate.AuditKeyLinkUsed,
		Code: code, Runtime: l.Runtime, Model: l.Model, Provider: l.Provider, Event: event, KeyLink: l.ID, SecretName: name,
	}
	if e.Allowed {
		e.CredentialScope = modelgate.ScopeOrg
	}
	ev := s.o.Log.Info()
	if !e.Allowed {
		ev = s.o.Log.Warn()
	}
	if unaudited > 0 {
		ev = ev.Int("repeats", unaudited)
	}
	s.o.Metrics.KeyEntryLink(strings.TrimPrefix(event, "key_link_"))
	ev.Str("audit", "key_link").Str("event", event).Str("org", l.Org).Str("key_link", l.ID).
		Str("code", code).Str("provider", l.Provider).Str("key", name).Msg("key link event")
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.o.Store.AppendAudit(actx, e); err != nil {
		s.o.Log.Error().Err(err).Str("org", l.Org).Msg("append key link audit entry")
	}
}

// refuse records a refusal of link l that needs no live link to provoke: a
// wrong secret, a used or expired link, a form not sent from its page. It
// is counted every time, and audited (and logged) the first time per link,
// method and code in every RepeatInterval, so that repeating it cannot
// flood the org's audit trail.
func (s *Service) refuse(r *http.Request, l *modelgate.KeyLink, event, code string) {
	ok, unaudited, gone := s.repeats.record(repeatKey{link: l.ID, org: l.Org, method: method(r), event: event, code: code}, s.o.Now(), RepeatInterval)
	s.logForgotten(gone)
	if !ok {
		s.o.Metrics.KeyEntryLink(strings.TrimPrefix(event, "key_link_"))
		return
	}
	s.audit(r.Context(), l, event, code, "", unaudited)
}

// method is r's method as the repeat bound counts it: a HEAD opens the page
// as a GET does, so it is no kind of its own.
func method(r *http.Request) string {
	if r.Method == http.MethodHead {
		return http.MethodGet
	}
	return r.Method
}

// unknownLink records a page opened or submitted with a token that names
// no link. It has no org to audit; it is counted as refused every time and
// logged the first time per method in every RepeatInterval.
func (s *Service) unknownLink(r *http.Request) {
	s.o.Metrics.KeyEntryLink("refused")
	ok, unlogged, gone := s.repeats.record(repeatKey{method: method(r)}, s.o.Now(), RepeatInterval)
	s.logForgotten(gone)
	if !ok {
		return
	}
	ev := s.o.Log.Warn().Str("audit", "key_link").Str("method", r.Method)
	if unlogged > 0 {
		ev = ev.Int("repeats", unlogged)
	}
	ev.Msg("key link page presented with an unknown link")
}

// logForgotten logs how many repeats of each forgotten kind were neither
// audited nor logged one by one: repeats that no later audited refusal
// reports reach the log this way, with the next event after an interval.
func (s *Service) logForgotten(gone []forgotten) {
	for _, f := range gone {
		ev := s.o.Log.Warn().Str("audit", "key_link").Str("method", f.key.method).Int("repeats", f.skipped)
		if f.key.link == "" {
			ev.Msg("key link page presented with an unknown link: repeats not logged one by one")
			continue
		}
		ev.Str("org", f.key.org).Str("key_link", f.key.link).Str("event", f.key.event).Str("code", f.key.code).
			Msg("key link refusals repeated within the interval: counted, not audited")
	}
}

// Attach makes p offer a key link on every MISSING_BYOK_CREDENTIAL refusal
// (Offer), recorded on the refusal's audit entry.
func (s *Service) Attach(p *provision.Service) {
	p.OnMissingCredential(func(ctx context.Context, caller modelgate.Caller, e *modelgate.Error) string {
		if l := s.Offer(ctx, caller, e); l != nil {
			return l.ID
		}
		return ""
	})
}
