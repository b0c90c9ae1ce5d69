package feedcache

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestCache_HoldsNothingWhileTheFeedIsDown(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	_, _, gen := c.Get("a", t0)
	c.Put("a", 1, gen, t0)
	if _, ok, _ := c.Get("a", t0); ok {
		t.Fatal("a cache that was never live answered")
	}
	c.SetLive(true)
	_, _, gen = c.Get("a", t0)
	c.Put("a", 1, gen, t0)
	if v, ok, _ := c.Get("a", t0); !ok || v != 1 {
		t.Fatalf("live cache: got %v %v, want 1 true", v, ok)
	}
	c.SetLive(false)
	if _, ok, _ := c.Get("a", t0); ok {
		t.Fatal("the feed went down, yet the cache answered")
	}
	c.SetLive(true)
	if _, ok, _ := c.Get("a", t0); ok {
		t.Fatal("the feed came back: what was held before may be stale, yet the cache answered")
	}
}

func TestCache_APutThatRacedAChangeIsDropped(t *testing.T) {
	for name, change := range map[string]func(c *Cache[string, int]){
		"Forget":     func(c *Cache[string, int]) { c.Forget("other") },
		"ForgetAll":  func(c *Cache[string, int]) { c.ForgetAll() },
		"ForgetFunc": func(c *Cache[string, int]) { c.ForgetFunc(func(string, int) bool { return false }) },
		"SetLive":    func(c *Cache[string, int]) { c.SetLive(true) },
	} {
		t.Run(name, func(t *testing.T) {
			c := New[string, int](time.Minute, 10)
			c.SetLive(true)
			_, _, gen := c.Get("a", t0) // a miss; the caller reads the store...
			change(c)                   // ...while a change is reported...
			c.Put("a", 1, gen, t0)      // ...and what it read may be stale.
			if _, ok, _ := c.Get("a", t0); ok {
				t.Fatalf("a value read before %s was kept", name)
			}
		})
	}
}

func TestCache_ForgetsWhatItIsTold(t *testing.T) {
	c := New[string, int](time.Minute, 10)
	c.SetLive(true)
	for i, k := range []string{"a", "b", "c"} {
		_, _, gen := c.Get(k, t0)
		c.Put(k, i, gen, t0)
	}
	c.Forget("a")
	c.ForgetFunc(func(_ string, v int) bool { return v == 2 })
	for k, want := range map[string]bool{"a": false, "b": true, "c": false} {
		if _, ok, _ := c.Get(k, t0); ok != want {
			t.Errorf("%s held: %v, want %v", k, ok, want)
		}
	}
	c.ForgetAll()
	if c.Len() != 0 {
		t.Fatalf("ForgetAll left %d entries", c.Len())
	}
}

func TestCache_ExpiresAndStaysBounded(t *testing.T) {
	c := New[int, int](time.Second, 3)
	c.SetLive(true)
	for k := range 10 {
		_, _, gen := c.Get(k, t0)
		c.Put(k, k, gen, t0)
		if c.Len() > 3 {
			t.Fatalf("%d entries, bound 3", c.Len())
		}
	}
	_, _, gen := c.Get(9, t0)
	c.Put(9, 9, gen, t0) // replacing a held key evicts nothing
	if _, ok, _ := c.Get(9, t0.Add(999*time.Millisecond)); !ok {
		t.Fatal("expired early")
	}
	if _, ok, _ := c.Get(9, t0.Add(time.Second)); ok {
		t.Fatal("served after its TTL")
	}
}
