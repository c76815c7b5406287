package presence

import (
	"math"
	"slices"
	"time"
)

// batch is a channel's changes not yet published: the joins and leaves
// entries of one presence_diff and the connections waiting for their
// presence_state. Guarded by the channel's mu.
//
// A user appears at most once per batch (begin publishes the batch before a
// second change of the same user), so the merged diff means exactly what the
// separate diffs meant, whatever order a client applies joins and leaves in.
type batch struct {
	joins, leaves []byte              // comma-separated entries
	users         map[string]struct{} // ids in joins or leaves
	trackers      []*conn             // tracked in this batch, get the state
}

func (b *batch) mark(userID string) {
	if b.users == nil {
		b.users = make(map[string]struct{})
	}
	b.users[userID] = struct{}{}
}

// join adds one user's entry to the joins.
func (b *batch) join(userID string, entry []byte) {
	if len(b.joins) > 0 {
		b.joins = append(b.joins, ',')
	}
	b.joins = append(b.joins, entry...)
	b.mark(userID)
}

// leave adds one user's entry to the leaves.
func (b *batch) leave(userID string, entry []byte) {
	if len(b.leaves) > 0 {
		b.leaves = append(b.leaves, ',')
	}
	b.leaves = append(b.leaves, entry...)
	b.mark(userID)
}

// dropTracker removes c, untracked before the batch went out, from the
// connections waiting for a state.
func (b *batch) dropTracker(c *conn) {
	if i := slices.Index(b.trackers, c); i >= 0 {
		b.trackers = slices.Delete(b.trackers, i, i+1)
	}
	c.waiting = false
}

func (b *batch) empty() bool {
	return len(b.trackers) == 0 && len(b.joins) == 0 && len(b.leaves) == 0
}

// records says whether changes are recorded at all: always when batching,
// otherwise only for a caller that wants the messages.
func (r *Registry) records(pub Publisher) bool { return r.deliver != nil || pub != nil }

// begin runs before a change of userID: if the batch already holds a change
// of that user, it is published first.
func (r *Registry) begin(ch *channel, userID string, pub Publisher) {
	if _, ok := ch.b.users[userID]; ok {
		r.flush(ch, pub)
	}
}

// changed runs after a change: without batching the change is published now;
// with batching it is published now when the channel has a token left,
// otherwise when the next one comes back (see schedule).
func (r *Registry) changed(ch *channel, pub Publisher) {
	if r.deliver == nil {
		r.flush(ch, pub)
		return
	}
	if !ch.armed && !ch.b.empty() {
		r.schedule(ch)
	}
}

// The token bucket of a batching channel. A channel holds Burst tokens;
// every publication takes one, and one comes back every Interval. The
// bucket is kept as one time, ch.full, when it is full again: at time now
// the channel lacks (ch.full-now)/Interval tokens, so it has one left while
// ch.full-now <= (Burst-1)*Interval = r.slack. This is the generic cell
// rate algorithm: no counter to refill, no timer while the channel is
// quiet.

// wait returns how long ch must wait at now for its next token; 0 when it
// has one. Call with ch.mu held.
func (r *Registry) wait(ch *channel, now time.Time) time.Duration {
	debt := ch.full.Sub(now)
	if debt <= r.slack {
		return 0
	}
	return debt - r.slack
}

// spend takes a token for a publication at now. A publication that found no
// token (one that could not wait: a second change of a user in the batch, a
// compaction, the Untrack that empties the channel, Flush) leaves the
// bucket empty rather than in debt: the next token comes back one Interval
// later, as after any publication that took the last one. Call with ch.mu
// held.
func (r *Registry) spend(ch *channel, now time.Time) {
	full := ch.full
	if full.Before(now) {
		full = now
	}
	full = full.Add(r.interval)
	if limit := now.Add(r.slack).Add(r.interval); full.After(limit) {
		full = limit
	}
	ch.full = full
}

// schedule publishes ch's batch now when the channel has a token, or arms
// a timer that publishes it when the next token comes back. The changes
// made meanwhile join the waiting batch. Call with ch.mu held, the batch
// not empty and no timer armed.
func (r *Registry) schedule(ch *channel) {
	wait := r.wait(ch, r.clock.Now())
	if wait <= 0 {
		r.flush(ch, nil)
		return
	}
	ch.armed = true
	r.clock.AfterFunc(wait, func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		ch.armed = false
		// A publication that could not wait may have taken the token
		// meanwhile: schedule checks again.
		if !ch.dead && !ch.b.empty() {
			r.schedule(ch)
		}
	})
}

// flush publishes the batch: one presence_state, encoded once, for every
// connection tracked in it, and one presence_diff for the members. Call with
// ch.mu held.
func (r *Registry) flush(ch *channel, pub Publisher) {
	b := &ch.b
	if b.empty() {
		return
	}
	var state, diff []byte
	if len(b.trackers) > 0 {
		state = ch.encodeState()
		ch.gen++
		if len(b.trackers) > 1 {
			// Each tracker's meta went to the others in this state.
			for _, t := range b.trackers {
				t.announced = true
			}
		}
	}
	if len(b.joins) > 0 || len(b.leaves) > 0 {
		diff = encodeDiff(b.joins, b.leaves)
	}
	switch {
	case r.deliver != nil:
		var trackers []string
		if len(b.trackers) > 0 {
			trackers = make([]string, len(b.trackers))
			for i, t := range b.trackers {
				trackers[i] = t.id
			}
		}
		r.deliver(ch.name, state, trackers, diff)
		r.spend(ch, r.clock.Now())
	case pub != nil:
		// Without batching a batch is one change: at most one tracker,
		// which gets the state instead of the diff.
		exclude := ""
		if len(b.trackers) > 0 {
			exclude = b.trackers[0].id
		}
		pub(state, diff, exclude)
	}
	for _, t := range b.trackers {
		t.waiting = false
	}
	clear(b.trackers)
	b.trackers = b.trackers[:0]
	b.joins, b.leaves = b.joins[:0], b.leaves[:0]
	clear(b.users)
}

// Flush publishes every channel's pending batch now, without waiting for a
// token. Without batching there is never anything pending.
func (r *Registry) Flush() {
	if r.deliver == nil {
		return
	}
	r.channels.Range(func(_, v any) bool {
		ch := v.(*channel)
		ch.mu.Lock()
		if !ch.dead {
			r.flush(ch, nil)
		}
		ch.mu.Unlock()
		return true
	})
}

// clock is a Registry's time source: the real one, or a fake in tests.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed.
	AfterFunc(d time.Duration, f func())
}

type realClock struct{}

func (realClock) Now() time.Time                      { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

// mulSat returns d*n for d, n >= 0, saturated at the largest Duration.
func mulSat(d time.Duration, n int) time.Duration {
	if d <= 0 || n <= 0 {
		return 0
	}
	if d > math.MaxInt64/time.Duration(n) {
		return math.MaxInt64
	}
	return d * time.Duration(n)
}
