package provision

import "time"

// SetWaitPoll sets how often Wait reads the row without a signal.
func SetWaitPoll(s *Service, d time.Duration) { s.waitPoll = d }
