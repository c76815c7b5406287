package presence

import (
	"math"
	"slices"
	"time"
)

// Batch holds a channel's changes not yet published: the joins and leaves
// entries of one presence_diff and the connections (of type T) waiting for
// their presence_state. The Registry keeps one per channel, and so does
// each node's view of a channel in package cluster: both batch by the
// rules of "Batches" in the package doc. The zero value is empty. A Batch
// is not safe for concurrent use; its owner guards it.
//
// A user appears at most once per batch: the owner publishes the batch
// before a second change of a user the batch Has, so the merged diff means
// exactly what the separate diffs meant, whatever order a client applies
// joins and leaves in. (One change may add a join and a leave of the same
// user, as ModeConnection's SetState does.)
type Batch[T comparable] struct {
	joins, leaves []byte              // comma-separated entries
	users         map[string]struct{} // users in joins or leaves
	trackers      []T                 // tracked in this batch, get the state
}

// Has reports whether the batch holds a change of user.
func (b *Batch[T]) Has(user string) bool {
	_, ok := b.users[user]
	return ok
}

func (b *Batch[T]) mark(user string) {
	if b.users == nil {
		b.users = make(map[string]struct{})
	}
	b.users[user] = struct{}{}
}

// Join adds one user's entry (see AppendEntry) to the joins.
func (b *Batch[T]) Join(user string, entry []byte) {
	if len(b.joins) > 0 {
		b.joins = append(b.joins, ',')
	}
	b.joins = append(b.joins, entry...)
	b.mark(user)
}

// Leave adds one user's entry to the leaves.
func (b *Batch[T]) Leave(user string, entry []byte) {
	if len(b.leaves) > 0 {
		b.leaves = append(b.leaves, ',')
	}
	b.leaves = append(b.leaves, entry...)
	b.mark(user)
}

// AddTracker adds a connection waiting for the batch's presence_state.
func (b *Batch[T]) AddTracker(t T) { b.trackers = append(b.trackers, t) }

// DropTracker removes t, untracked before the batch went out, from the
// connections waiting for a state; false when it was not there.
func (b *Batch[T]) DropTracker(t T) bool {
	i := slices.Index(b.trackers, t)
	if i < 0 {
		return false
	}
	b.trackers = slices.Delete(b.trackers, i, i+1)
	return true
}

// Trackers returns the connections waiting for the batch's state, in
// track order. The slice is the batch's until Reset.
func (b *Batch[T]) Trackers() []T { return b.trackers }

// Empty reports whether the batch holds nothing to publish.
func (b *Batch[T]) Empty() bool {
	return len(b.trackers) == 0 && len(b.joins) == 0 && len(b.leaves) == 0
}

// Diff returns the batch's presence_diff, a new slice; nil when it has no
// joins or leaves.
func (b *Batch[T]) Diff() []byte {
	if len(b.joins) == 0 && len(b.leaves) == 0 {
		return nil
	}
	return encodeDiff(b.joins, b.leaves)
}

// Reset empties the batch after its publication, keeping its buffers.
func (b *Batch[T]) Reset() {
	clear(b.trackers)
	b.trackers = b.trackers[:0]
	b.joins, b.leaves = b.joins[:0], b.leaves[:0]
	clear(b.users)
}

// Pacer is the token bucket rule of adaptive batching, shared by every
// channel of its owner. A channel holds Burst tokens; every publication
// takes one, and one comes back every Interval. A channel's Bucket is kept
// as one time, when it is full again: at time now the channel lacks
// (full-now)/Interval tokens, so it has one left while full-now <=
// (Burst-1)*Interval (the slack). This is the generic cell rate algorithm:
// no counter to refill, no timer while the channel is quiet.
//
// The zero Pacer (Interval 0) always has a token: every change goes out at
// once. A Pacer is immutable.
type Pacer struct {
	interval time.Duration
	// slack is (burst-1)*interval: how far ahead of now a channel's
	// bucket may be full again with a token still left.
	slack time.Duration
}

// NewPacer returns the Pacer of Config.Interval and Config.Burst: burst
// below 1 means DefaultBurst, interval below 0 means 0.
func NewPacer(interval time.Duration, burst int) Pacer {
	if burst < 1 {
		burst = DefaultBurst
	}
	interval = max(interval, 0)
	return Pacer{interval: interval, slack: mulSat(interval, burst-1)}
}

// Interval is the batching period; 0 publishes every change at once.
func (p Pacer) Interval() time.Duration { return p.interval }

// Bucket is one channel's tokens under a Pacer: the time the bucket is
// full again (the zero value: full now). Its owner guards it.
type Bucket struct{ full time.Time }

// Wait returns how long a channel with bucket b must wait at now for its
// next token; 0 when it has one.
func (p Pacer) Wait(b *Bucket, now time.Time) time.Duration {
	debt := b.full.Sub(now)
	if debt <= p.slack {
		return 0
	}
	return debt - p.slack
}

// Spend takes a token from b for a publication at now. A publication that
// found no token (one that could not wait: a second change of a user in
// the batch, a compaction, the Untrack that empties the channel, Flush)
// leaves the bucket empty rather than in debt: the next token comes back
// one Interval later, as after any publication that took the last one.
func (p Pacer) Spend(b *Bucket, now time.Time) {
	full := b.full
	if full.Before(now) {
		full = now
	}
	full = full.Add(p.interval)
	if limit := now.Add(p.slack).Add(p.interval); full.After(limit) {
		full = limit
	}
	b.full = full
}

// records says whether changes are recorded at all: always when batching,
// otherwise only for a caller that wants the messages.
func (r *Registry) records(pub Publisher) bool { return r.deliver != nil || pub != nil }

// begin runs before a change of userID: if the batch already holds a change
// of that user, it is published first.
func (r *Registry) begin(ch *channel, userID string, pub Publisher) {
	if ch.b.Has(userID) {
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
	if !ch.armed && !ch.b.Empty() {
		r.schedule(ch)
	}
}

// schedule publishes ch's batch now when the channel has a token, or arms
// a timer that publishes it when the next token comes back. The changes
// made meanwhile join the waiting batch. Call with ch.mu held, the batch
// not empty and no timer armed.
func (r *Registry) schedule(ch *channel) {
	wait := r.pace.Wait(&ch.bucket, r.clock.Now())
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
		if !ch.dead && !ch.b.Empty() {
			r.schedule(ch)
		}
	})
}

// flush publishes the batch: one presence_state, encoded once, for every
// connection tracked in it, and one presence_diff for the members. Call with
// ch.mu held.
func (r *Registry) flush(ch *channel, pub Publisher) {
	b := &ch.b
	if b.Empty() {
		return
	}
	var state []byte
	trackers := b.Trackers()
	if len(trackers) > 0 {
		state = ch.encodeState()
		ch.gen++
		if len(trackers) > 1 {
			// Each tracker's meta went to the others in this state.
			for _, t := range trackers {
				t.announced = true
			}
		}
	}
	diff := b.Diff()
	switch {
	case r.deliver != nil:
		var ids []string
		if len(trackers) > 0 {
			ids = make([]string, len(trackers))
			for i, t := range trackers {
				ids[i] = t.id
			}
		}
		r.deliver(ch.name, state, ids, diff)
		r.pace.Spend(&ch.bucket, r.clock.Now())
	case pub != nil:
		// Without batching a batch is one change: at most one tracker,
		// which gets the state instead of the diff.
		exclude := ""
		if len(trackers) > 0 {
			exclude = trackers[0].id
		}
		pub(state, diff, exclude)
	}
	for _, t := range trackers {
		t.waiting = false
	}
	b.Reset()
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
