package presence

import "time"

// Clock is a Registry's time source, for tests that drive time by hand.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has elapsed.
	AfterFunc(d time.Duration, f func())
}

// NewWithClock is New with c as the time source.
func NewWithClock(cfg Config, c Clock) *Registry { return newRegistry(cfg, c) }
