// Package ratelimit keeps one org (or one token) from starving the others:
// a token bucket per key, refilled at a fixed rate with a burst. The network
// transports check it before MCP handling (HTTP 429); tool calls on any
// transport check it once (a RATE_LIMITED tool error with a retry hint).
//
// Buckets of keys that have been idle long enough to be full again are
// dropped, so memory stays bounded by the number of recently active keys.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter holds the buckets. The zero value is not usable; use New. A nil
// *Limiter allows everything.
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// New returns a limiter allowing perSecond events per key with the given
// burst. It returns nil (no limit) when perSecond <= 0.
func New(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes one token from each key's bucket. When any bucket is empty it
// takes none and returns false and how long until a token is available.
func (l *Limiter) Allow(keys ...string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// The clock is read under the lock, so the buckets see time only move
	// forward: a reading taken before another call's would move a bucket
	// back and refill the interval between them twice.
	return l.allowLocked(l.now(), keys...)
}

// allowAt is Allow at the given time (for tests).
func (l *Limiter) allowAt(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowLocked(now, key)
}

// allowLocked is Allow with l.mu held.
func (l *Limiter) allowLocked(now time.Time, keys ...string) (bool, time.Duration) {
	l.sweep(now)
	reservations := make([]*rate.Reservation, 0, len(keys))
	var wait time.Duration
	for _, k := range keys {
		if k == "" {
			continue
		}
		b := l.buckets[k]
		if b == nil {
			b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
			l.buckets[k] = b
		}
		b.used = now
		r := b.lim.ReserveN(now, 1)
		reservations = append(reservations, r)
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > 0 {
		for _, r := range reservations {
			r.CancelAt(now)
		}
		return false, wait
	}
	return true, 0
}

// sweep drops buckets idle long enough to have refilled completely.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	every := max(full, time.Minute)
	if now.Sub(l.swept) < every {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.used) > full {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of buckets held (for tests and metrics).
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// RetrySeconds rounds a wait up to whole seconds, at least 1, for
// Retry-After headers and retry hints.
func RetrySeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

type checkedKey struct{}

// MarkChecked returns a context saying that the request was already
// counted (by the HTTP layer), so the tool middleware does not count it again.
func MarkChecked(ctx context.Context) context.Context {
	return context.WithValue(ctx, checkedKey{}, true)
}

// Checked reports whether MarkChecked was applied to ctx.
func Checked(ctx context.Context) bool {
	v, _ := ctx.Value(checkedKey{}).(bool)
	return v
}
