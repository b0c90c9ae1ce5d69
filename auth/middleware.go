package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/rs/zerolog"
)

// DefaultTouchInterval is how often, at most, one server process records a
// use of one token: last-used is a hint for operators, not an audit trail, so
// it must not cost a database write per request.
const DefaultTouchInterval = time.Minute

// Options configure New. The zero value of each field means the default.
type Options struct {
	// Anonymous, if not nil, is the caller of requests that carry no
	// Authorization header (--allow-no-auth, for loopback development and
	// the conformance suite). A request that does carry a token is still
	// authenticated, and refused if the token is bad.
	Anonymous *modelgate.Caller
	// TouchInterval is the least time between two recorded uses of a token
	// by this process; 0 means DefaultTouchInterval.
	TouchInterval time.Duration
	// CacheTTL is the longest time a verified token is remembered while
	// WatchRevocations runs; 0 means DefaultCacheTTL and a negative value
	// turns the cache off.
	CacheTTL time.Duration
	// CacheSize bounds the remembered tokens; 0 means DefaultCacheSize.
	CacheSize int
	// Now returns the current time (tests replace it); nil means time.Now.
	Now func() time.Time
	// Log receives failures to record a use and store failures.
	Log zerolog.Logger
	// Metrics counts token lookups that failed in the store (nil: not
	// counted).
	Metrics *metrics.Metrics
}

// Authenticator checks bearer tokens against a TokenStore. It is safe for
// concurrent use.
type Authenticator struct {
	store modelgate.TokenStore
	o     Options
	// touched maps a token prefix to the UnixNano of the last use this
	// process recorded (*atomic.Int64).
	touched sync.Map
	// cache remembers verified tokens while WatchRevocations runs; nil
	// when turned off.
	cache *tokenCache
}

// New returns an authenticator over store.
func New(store modelgate.TokenStore, o Options) *Authenticator {
	if o.TouchInterval == 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Authenticator{store: store, o: o}
	if o.CacheTTL >= 0 {
		ttl, size := cmp.Or(o.CacheTTL, DefaultCacheTTL), cmp.Or(o.CacheSize, DefaultCacheSize)
		a.cache = newTokenCache(ttl, size)
	}
	return a
}

// Authenticate returns the caller named by an Authorization header value. It
// returns an EUnauthorized error for a missing, malformed, unknown, wrong or
// revoked token (the message never says which of the last three, nor repeats
// the token), and a wrapped store error if the token could not be looked up.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (modelgate.Caller, error) {
	if authorization == "" {
		if a.o.Anonymous != nil {
			return *a.o.Anonymous, nil
		}
		return modelgate.Caller{}, errMissing
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return modelgate.Caller{}, errMissing
	}
	token = strings.TrimSpace(token)
	prefix, secret, err := Parse(token)
	if err != nil {
		return modelgate.Caller{}, err
	}
	var key cacheKey
	var gen uint64
	if a.cache != nil {
		key = sha256.Sum256([]byte(token))
		var caller modelgate.Caller
		var hit bool
		if caller, hit, gen = a.cache.Get(key, a.o.Now()); hit {
			a.touch(ctx, prefix)
			return caller, nil
		}
	}
	t, hash, err := a.store.TokenByPrefix(ctx, prefix)
	switch {
	case modelgate.ErrorCode(err) == modelgate.ENotFound:
		Verify(secret, nil) // the same work as a wrong secret
		return modelgate.Caller{}, errInvalid
	case err != nil:
		return modelgate.Caller{}, fmt.Errorf("look up token %s: %w", prefix, err)
	}
	// Compare before looking at Revoked, so a revoked token costs the same.
	if !Verify(secret, hash) || t.Revoked {
		return modelgate.Caller{}, errInvalid
	}
	caller := modelgate.Caller{Org: t.Org, TokenPrefix: t.Prefix, ReadOnly: t.ReadOnly}
	if a.cache != nil {
		a.cache.Put(key, caller, gen, a.o.Now())
	}
	a.touch(ctx, prefix)
	return caller, nil
}

// touch records a use of the token unless this process did so less than
// TouchInterval ago. A failure is logged: last-used is not worth refusing a
// request for.
func (a *Authenticator) touch(ctx context.Context, prefix string) {
	now := a.o.Now()
	v, ok := a.touched.Load(prefix)
	if !ok {
		v, _ = a.touched.LoadOrStore(prefix, new(atomic.Int64))
	}
	last := v.(*atomic.Int64)
	prev := last.Load()
	if prev != 0 && now.Sub(time.Unix(0, prev)) < a.o.TouchInterval {
		return
	}
	if !last.CompareAndSwap(prev, now.UnixNano()) {
		return // a concurrent request of the same token is recording it
	}
	if err := a.store.TouchToken(ctx, prefix, now); err != nil {
		a.o.Log.Warn().Err(err).Str("token", prefix).Msg("could not record token use")
	}
}

// Middleware authenticates every request before next sees it and puts the
// caller in the request's context (modelgate.CallerFrom). A request without
// a valid token gets 401 with WWW-Authenticate: Bearer; if the token store
// cannot be reached it gets 503, so a client does not throw away a good
// token because the database blinked.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			var coded *modelgate.Error
			if errors.As(err, &coded) && coded.Code == modelgate.EUnauthorized {
				if coded == errMissing {
					// RFC 6750 §3.1: no error code when no credentials were sent.
					w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate"`)
				} else {
					w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate", error="invalid_token"`)
				}
				WriteError(w, http.StatusUnauthorized, err)
				return
			}
			a.o.Log.Error().Err(err).Msg("token lookup failed")
			a.o.Metrics.StoreError("token_lookup")
			WriteError(w, http.StatusServiceUnavailable, modelgate.Errorf(modelgate.EInternal, "the token could not be checked; retry later"))
			return
		}
		next.ServeHTTP(w, r.WithContext(modelgate.WithCaller(r.Context(), caller)))
	})
}

// WriteError writes the contract's error object {"code", "error"} as an HTTP
// response with status. Only coded errors' messages are shown.
func WriteError(w http.ResponseWriter, status int, err error) {
	b, _ := json.Marshal(map[string]string{"code": modelgate.ErrorCode(err), "error": modelgate.ErrorMessage(err)})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
