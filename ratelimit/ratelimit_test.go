package ratelimit

import (
	"context"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newAt(perSecond float64, burst int) (*Limiter, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l := New(perSecond, burst)
	l.now = c.now
	return l, c
}

func TestLimiter_BurstThenRefill(t *testing.T) {
	t.Parallel()
	l, c := newAt(2, 3)
	for i := range 3 {
		if ok, _ := l.Allow("org:a"); !ok {
			t.Fatalf("call %d within the burst refused", i)
		}
	}
	ok, wait := l.Allow("org:a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("4th call: ok=%v wait=%v, want refused with a wait of at most 0.5s", ok, wait)
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("org:a"); !ok {
		t.Fatal("refused after the refill time")
	}
}

func TestLimiter_OneOrgDoesNotConsumeAnother(t *testing.T) {
	t.Parallel()
	l, _ := newAt(1, 1)
	l.Allow("org:a")
	if ok, _ := l.Allow("org:a"); ok {
		t.Fatal("org a not limited")
	}
	if ok, _ := l.Allow("org:b"); !ok {
		t.Fatal("org b limited by org a's use")
	}
}

func TestLimiter_RefusalTakesNoTokenFromTheOtherKeys(t *testing.T) {
	t.Parallel()
	l, _ := newAt(1, 1)
	l.Allow("token:t1") // t1 is now empty
	if ok, _ := l.Allow("org:a", "token:t1"); ok {
		t.Fatal("allowed with an empty token bucket")
	}
	if ok, _ := l.Allow("org:a", "token:t2"); !ok {
		t.Fatal("the refused call consumed org a's token")
	}
}

func TestLimiter_IdleBucketsAreDropped(t *testing.T) {
	t.Parallel()
	l, c := newAt(10, 10)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k)
	}
	c.t = c.t.Add(2 * time.Minute)
	l.Allow("d")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after the others went idle, want 1", n)
	}
}

func TestLimiter_NilAllowsEverything(t *testing.T) {
	t.Parallel()
	var l *Limiter = New(0, 5)
	if ok, _ := l.Allow("x"); !ok || l != nil {
		t.Fatal("rate 0 must mean no limit")
	}
	if Checked(context.Background()) || !Checked(MarkChecked(context.Background())) {
		t.Fatal("MarkChecked/Checked")
	}
	if RetrySeconds(10*time.Millisecond) != 1 || RetrySeconds(1500*time.Millisecond) != 2 {
		t.Fatal("RetrySeconds")
	}
}

// TestLimiter_TimeNeverRunsBackwards: a call whose clock reading is older
// than one another call already used must not move a bucket's time back,
// or the interval between the two is refilled twice and the limiter
// admits more than its rate under contention (seen as 132 admitted calls
// where 123 were the most allowed). The clock below makes that
// interleaving happen: while call A reads the time, call B runs to the end
// with a later time — which only a limiter that reads the clock outside
// its lock allows.
func TestLimiter_TimeNeverRunsBackwards(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 0)
	l := New(1, 1)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return start.Add(d) } }
	allow := func(now func() time.Time) bool {
		l.mu.Lock()
		l.now = now
		l.mu.Unlock()
		ok, _ := l.Allow("org:a")
		return ok
	}
	if !allow(at(0)) {
		t.Fatal("first call refused")
	}
	// Call A reads t=1s; meanwhile call B, at t=2s, runs if it can.
	bDone := make(chan bool, 1)
	aClock := func() time.Time {
		go func() {
			ok, _ := l.allowAt("org:a", start.Add(2*time.Second))
			bDone <- ok
		}()
		select {
		case <-bDone: // B ran while A held its reading of the clock
			bDone <- true
		case <-time.After(100 * time.Millisecond): // B waits for A's lock
		}
		return start.Add(time.Second)
	}
	l.mu.Lock()
	l.now = aClock
	l.mu.Unlock()
	l.Allow("org:a")
	<-bDone
	// At 2.5 s the bucket has refilled half a token since B's call at 2 s.
	if allow(at(2500 * time.Millisecond)) {
		t.Fatal("a call at 2.5 s was admitted: the interval between A's and B's readings was refilled twice")
	}
}
