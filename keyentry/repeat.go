package keyentry

import (
	"sync"
	"time"
)

// RepeatInterval is how long a refusal that needs no live link to provoke
// (a wrong secret, a used or expired link, a form that did not come from
// its page) is audited only once per link, method and code. The page needs
// no bearer token, so anyone who has seen a link's id (in a log, in an old
// spent link) can present it with a wrong secret as often as they like:
// audited every time, each request would add a row to the org's audit
// trail. The first of each kind is audited; the repeats within the
// interval are counted in the metrics and their number is logged. Ten
// minutes keeps a day of such requests to about 150 rows per kind and
// replica, while the rows of a link's 15 minutes still show when the
// attempts began and that they went on.
const RepeatInterval = 10 * time.Minute

// repeatKey is a kind of event recorded at most once per interval. A link
// refusal is keyed by its link's id (an id that exists: an unknown one has
// no org to audit), the request's method, the event and the code; an
// unknown link by the method alone. The org is the link's, for the log.
type repeatKey struct {
	link, org, method, event, code string
}

// repeats remembers when each kind of event was last recorded, so an event
// anyone can repeat is recorded at most once per interval. It is per
// replica: with n replicas a kind is recorded at most n times per interval,
// and it holds nothing another replica needs. Kinds not seen for an
// interval are forgotten, so its size is bounded by the kinds seen within
// the last interval, which are bounded by the links in the store.
type repeats struct {
	mu    sync.Mutex
	seen  map[repeatKey]*repeat
	swept time.Time
}

type repeat struct {
	at      time.Time // when the kind was last recorded
	skipped int       // how many since then were not recorded
}

// forgotten is a kind dropped with repeats that were never recorded.
type forgotten struct {
	key     repeatKey
	skipped int
}

// record reports whether an event of kind k at now is to be recorded: the
// first, and then the first after every interval. When it is, skipped is
// how many of its kind since the last one recorded were not. gone lists
// the other kinds forgotten now (not seen for an interval) that had
// unrecorded repeats, so the caller can say how many there were.
func (r *repeats) record(k repeatKey, now time.Time, every time.Duration) (ok bool, skipped int, gone []forgotten) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[repeatKey]*repeat{}
	}
	e := r.seen[k]
	switch {
	case e == nil:
		r.seen[k] = &repeat{at: now}
		ok = true
	case now.Sub(e.at) < every:
		e.skipped++
	default:
		ok, skipped = true, e.skipped
		*e = repeat{at: now}
	}
	if now.Sub(r.swept) >= every {
		r.swept = now
		for key, e := range r.seen {
			if now.Sub(e.at) >= every {
				if e.skipped > 0 {
					gone = append(gone, forgotten{key, e.skipped})
				}
				delete(r.seen, key)
			}
		}
	}
	return ok, skipped, gone
}
