package provision

import "time"

// SetWaitPoll sets how often Wait reads the row without a signal.
func SetWaitPoll(s *Service, d time.Duration) { s.waitPoll = d }

// SetCredCache sets the TTL, the size and the clock of discovery's cache of
// usable credential names. Call it before the service is used.
func SetCredCache(s *Service, ttl time.Duration, size int, now func() time.Time) {
	s.creds = newCredCache(ttl, size, now)
}

// OfferCacheLen returns how many encoded answers of OfferedJSON s keeps.
func OfferCacheLen(s *Service) int {
	s.offers.mu.RLock()
	defer s.offers.mu.RUnlock()
	return len(s.offers.entries)
}
