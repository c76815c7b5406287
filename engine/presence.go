package engine

import (
	"slices"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/presence"
)

// track joins c to channel (diffs go to members) and tracks its presence.
// Loop only.
//
// A Leave from another goroutine may come between the join and the end of
// track: the connection is tracked only while it is a member, so whichever
// of the two sees the other's change untracks it, once.
func (e *Engine) track(c *conn, channel, userID string, meta map[string]any) error {
	if channel == "" {
		return ErrNoChannel
	}
	// The join comes first: a cluster's backend follows the channel from
	// then on, so the tracker gets its presence_state.
	if err := e.join(c, channel); err != nil {
		return err
	}
	id := c.id()
	if err := e.presence.Track(channel, id, userID, meta); err != nil {
		return err
	}
	x, sh := c.extra(), c.sh
	sh.mu.Lock()
	member := slices.Contains(c.channels(), channel)
	if member && !slices.Contains(x.tracked, channel) {
		x.tracked = append(x.tracked, channel)
	}
	sh.mu.Unlock()
	if !member {
		_ = e.untrackID(channel, id) // left meanwhile: leaving untracks
	}
	return nil
}

// untrack stops tracking c in channel. Loop only.
func (e *Engine) untrack(c *conn, channel string) error {
	c.sh.mu.Lock()
	tracked := c.dropTracked(channel)
	c.sh.mu.Unlock()
	if !tracked {
		return presence.ErrNotTracked
	}
	return e.untrackID(channel, c.id())
}

// untrackID untracks connection id in channel.
func (e *Engine) untrackID(channel, id string) error {
	return e.presence.Untrack(channel, id)
}

// setPresence changes c's state in channel. Loop only.
func (e *Engine) setPresence(c *conn, channel, state string) error {
	if channel == "" {
		return ErrNoChannel
	}
	return e.presence.SetState(channel, c.id(), state)
}

// deliverPresence sends one presence message of the backend (presence.Sink;
// a batch, see Config.PresenceInterval). It runs with the channel's lock
// held, from a loop, a timer goroutine or a cluster's receive goroutine, so
// it only posts one task to each loop with trackers or members: the state
// (one message for every tracker) to the trackers, then the diff to the
// other members. Each tracker's state already holds the change, so it does
// not get the diff. The shard queues are FIFO, so every member gets the
// channel's messages in one order.
func (e *Engine) deliverPresence(channel string, state []byte, trackers []string, diff []byte) {
	var byShard [maxLoops][]*conn
	if state != nil {
		for _, id := range trackers {
			if c := e.conns.get(id); c != nil {
				byShard[c.sh.idx] = append(byShard[c.sh.idx], c)
			}
		}
	}
	var stateMsg, diffMsg *message
	if state != nil {
		stateMsg = newMessage(codec.OpText, state)
	}
	var bits uint64
	if diff != nil {
		diffMsg = newMessage(codec.OpText, diff)
		bits = e.rooms.loops(channel)
		e.stats.Broadcasts.Add(1)
	}
	for _, sh := range e.shards {
		cs := byShard[sh.idx]
		if len(cs) > 0 || bits&sh.bit != 0 {
			sh.post(func() { sh.writeBatch(channel, cs, stateMsg, diffMsg) })
		}
	}
}

// writeBatch writes state to this loop's trackers of a presence batch and
// diff to the channel's other members here. Loop only.
func (sh *shard) writeBatch(channel string, trackers []*conn, state, diff *message) {
	e := sh.e
	for _, c := range trackers {
		c.write(state.frameFor(c, channel))
	}
	n := 0
	if diff != nil {
		members := sh.members([]string{channel}) // marks each with sh.mark
		for _, c := range trackers {
			if c.mark == sh.mark {
				c.mark-- // a member, skipped below
			}
		}
		for _, c := range members {
			if c.mark == sh.mark {
				c.write(diff.frameFor(c, channel))
				n++
			}
		}
		sh.done()
	}
	e.stats.FramesOut.Add(int64(len(trackers) + n))
	if state != nil {
		e.stats.BytesOut.Add(int64(len(trackers) * len(state.plain)))
	}
	if diff != nil {
		e.stats.BytesOut.Add(int64(n * len(diff.plain)))
	}
}
