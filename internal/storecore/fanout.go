package storecore

import "sync"

// Fanout passes a change that a store made to the listeners of the same
// store, synchronously, so that the change is seen in this process before
// the method that made it returns: a revoked token's prefix
// (ListenTokenRevocations), the org whose secrets changed
// (ListenOrgSecrets). Changes made by other processes reach the listeners
// another way (NOTIFY, a poll). The zero value is ready to use; it is safe
// for concurrent use.
type Fanout struct {
	mu   sync.Mutex
	subs map[*func(string)]struct{}
}

// Subscribe calls f for every later Publish until cancel is called.
func (r *Fanout) Subscribe(f func(string)) (cancel func()) {
	key := &f
	r.mu.Lock()
	if r.subs == nil {
		r.subs = map[*func(string)]struct{}{}
	}
	r.subs[key] = struct{}{}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.subs, key)
		r.mu.Unlock()
	}
}

// Publish calls every subscriber with v and returns when each has been
// called. Subscribers must not block.
func (r *Fanout) Publish(v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for f := range r.subs {
		(*f)(v)
	}
}
