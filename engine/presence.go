package engine

import (
	"slices"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/presence"
)

// track joins c to channel (diffs go to members) and tracks its presence.
// Loop only.
func (e *Engine) track(c *conn, channel, userID string, meta map[string]any) error {
	if channel == "" {
		return ErrNoChannel
	}
	if err := e.join(c, channel); err != nil {
		return err
	}
	if err := e.presence.Track(channel, c.id, userID, meta, e.publisher(channel, c)); err != nil {
		return err
	}
	if x := c.extra(); !slices.Contains(x.tracked, channel) {
		x.tracked = append(x.tracked, channel)
	}
	return nil
}

// untrack stops tracking c in channel. Loop only.
func (e *Engine) untrack(c *conn, channel string) error {
	i := -1
	if c.x != nil {
		i = slices.Index(c.x.tracked, channel)
	}
	if i < 0 {
		return presence.ErrNotTracked
	}
	c.x.tracked = slices.Delete(c.x.tracked, i, i+1)
	return e.presence.Untrack(channel, c.id, e.publisher(channel, nil))
}

// setPresence changes c's state in channel. Loop only.
func (e *Engine) setPresence(c *conn, channel, state string) error {
	if channel == "" {
		return ErrNoChannel
	}
	return e.presence.SetState(channel, c.id, state, e.publisher(channel, nil))
}

// publisher returns the presence.Publisher for changes made by tracker (nil
// when the change is not a track). The registry calls it with the channel's
// lock held, so it only compiles frames and posts them: the state to the
// tracking connection's loop, the diff to every loop with members. Posting
// under the lock is what gives every member the channel's diffs in one
// order.
func (e *Engine) publisher(channel string, tracker *conn) presence.Publisher {
	return func(state, diff []byte, exclude string) {
		if state != nil && tracker != nil {
			state = append([]byte(nil), state...)
			tracker.sh.post(func() { tracker.send(codec.OpText, state) })
		}
		if diff != nil {
			var except *conn
			if tracker != nil && exclude == tracker.id {
				except = tracker
			}
			e.fanout([]string{channel}, newMessage(codec.OpText, diff), nil, except)
		}
	}
}
