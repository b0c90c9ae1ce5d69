package verify

// SetJoined sets the hook called once a Check has joined its flight.
func (c *Checker) SetJoined(f func()) { c.joined = f }
