package engine

import (
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// limits is a connection's inbound rate-limit state. It is allocated at the
// upgrade, and only for a connection whose route limits its messages, so
// that the others pay nothing for it (conn holds a nil pointer). Owned by
// the event loop; no locks.
type limits struct {
	// The rate limits as GCRA: each is the time (unix nanoseconds) at
	// which the bucket would be full again.
	msgs  int64
	bytes int64
}

// rateWindow is a bucket's size in time: a rate of N per second holds a
// burst of N.
const rateWindow = int64(time.Second)

// take charges one message of size bytes, received at now, against the
// route's rates and reports whether it fits.
//
// A bucket of N tokens refilled at N per second is kept as one time, tat:
// the moment it would be full again. A message costs 1/N s (size/B s for
// bytes) and fits when it leaves tat at most a second ahead of now (the
// generic cell rate algorithm; one int64 per bucket instead of a count and
// a refill time).
func (l *limits) take(now int64, size int, r *Route) bool {
	return (r.MaxMessagesPerSecond <= 0 || charge(&l.msgs, now, 1, r.MaxMessagesPerSecond)) &&
		(r.MaxBytesPerSecond <= 0 || charge(&l.bytes, now, size, r.MaxBytesPerSecond))
}

// charge moves tat forward by n units at rate units per second unless that
// takes it more than rateWindow past now.
func charge(tat *int64, now int64, n, rate int) bool {
	t := max(*tat, now)
	cost := (int64(n)*int64(time.Second) + int64(rate) - 1) / int64(rate)
	if t+cost-now > rateWindow {
		return false
	}
	*tat = t + cost
	return true
}

// limited reports whether route r limits its connections' messages.
func (r *Route) limited() bool { return r.MaxMessagesPerSecond > 0 || r.MaxBytesPerSecond > 0 }

// rateLimit charges a message of c against its route's rates; a connection
// over either is closed with 1008 "rate limit" and the message dropped.
// now is read once per read (0 until then). Loop only.
func (e *Engine) rateLimit(c *conn, size int, now *int64) bool {
	if c.lim == nil || !c.rt.route.limited() {
		return true
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	if c.lim.take(*now, size, c.rt.route) {
		return true
	}
	e.stats.RateLimited.Add(1)
	c.flushPending() // the answers to the messages that fitted go first
	c.close(codec.ClosePolicyViolation, ReasonRateLimit, true)
	return false
}

// ReasonRateLimit is the close reason of a connection over its rate limit.
const ReasonRateLimit = "rate limit"

// limitOf is a route's rate given its own setting and the server's: the
// route's when positive, none when negative, else the server's.
func limitOf(route, server int) int {
	switch {
	case route > 0:
		return route
	case route < 0:
		return 0
	}
	return max(server, 0)
}
