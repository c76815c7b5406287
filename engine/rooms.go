package engine

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/ripple-rt/ripple/internal/keyset"
)

// roomIndex says which loops have members of a channel, so a broadcast posts
// one task to each of those loops and none to the others.
type roomIndex struct {
	// Immutable after construction.
	seed maphash.Seed

	stripes [64]roomStripe
}

type roomStripe struct {
	mu sync.RWMutex
	m  map[string]uint64 // Guarded by mu: channel -> bit per shard with members
}

func newRoomIndex() *roomIndex {
	ri := &roomIndex{seed: maphash.MakeSeed()}
	for i := range ri.stripes {
		ri.stripes[i].m = make(map[string]uint64)
	}
	return ri
}

func (ri *roomIndex) stripe(channel string) *roomStripe {
	return &ri.stripes[maphash.String(ri.seed, channel)%uint64(len(ri.stripes))]
}

// loops returns the bit set of shards that have members of channel.
func (ri *roomIndex) loops(channel string) uint64 {
	st := ri.stripe(channel)
	st.mu.RLock()
	bits := st.m[channel]
	st.mu.RUnlock()
	return bits
}

func (ri *roomIndex) set(channel string, bit uint64, on bool) {
	st := ri.stripe(channel)
	st.mu.Lock()
	if on {
		st.m[channel] |= bit
	} else if b := st.m[channel] &^ bit; b == 0 {
		delete(st.m, channel)
	} else {
		st.m[channel] = b
	}
	st.mu.Unlock()
}

// join adds c to channel. Safe from any goroutine; when it returns, every
// later broadcast to channel reaches c.
func (e *Engine) join(c *conn, channel string) error {
	if channel == "" {
		return ErrNoChannel
	}
	sh := c.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c.chans == closedChans {
		return ErrConnClosed
	}
	if slices.Contains(c.channels(), channel) {
		return nil
	}
	set := sh.rooms[channel]
	if set == nil {
		set = new(keyset.Set[*conn])
		sh.rooms[channel] = set
		e.rooms.set(channel, sh.bit, true)
	}
	set.Add(c)
	switch {
	case c.chans == nil:
		// Its first channel: the list every member with no other shares.
		one := sh.only[channel]
		if one == nil {
			one = &[]string{channel}
			sh.only[channel] = one
		}
		c.chans = one
	case c.sharesChans():
		own := append(make([]string, 0, 2), (*c.chans)[0], channel)
		c.chans = &own
	default:
		*c.chans = append(*c.chans, channel)
	}
	e.broker.Joined(c.id(), channel) // must not block: shard.mu is held
	return nil
}

// leave removes c from channel and, as Phoenix does, untracks its presence
// there: the other members get the leave diff (in user mode, when it was
// the user's last connection) and presence reads stop listing it as soon
// as leave returns. Safe from any goroutine.
func (e *Engine) leave(c *conn, channel string) error {
	if channel == "" {
		return ErrNoChannel
	}
	sh := c.sh
	sh.mu.Lock()
	e.leaveLocked(c, channel)
	tracked := c.dropTracked(channel)
	sh.mu.Unlock()
	if tracked {
		// After the leave: the connection does not get its own leave diff.
		_ = e.untrackID(channel, c.id())
	}
	return nil
}

// leaveLocked removes c from channel; sh.mu must be held.
func (e *Engine) leaveLocked(c *conn, channel string) {
	i := slices.Index(c.channels(), channel)
	if i < 0 {
		return
	}
	if c.sharesChans() {
		c.chans = nil
	} else {
		*c.chans = slices.Delete(*c.chans, i, i+1)
	}
	sh := c.sh
	set := sh.rooms[channel]
	set.Remove(c)
	if set.Len() == 0 {
		delete(sh.rooms, channel)
		delete(sh.only, channel)
		e.rooms.set(channel, sh.bit, false)
	}
	e.broker.Left(c.id(), channel)
}

// leaveAll removes c from every channel and marks it gone so that no helper
// can join it again. Called once, when the connection closes.
func (e *Engine) leaveAll(c *conn) {
	sh := c.sh
	sh.mu.Lock()
	for chans := c.channels(); len(chans) > 0; chans = c.channels() {
		e.leaveLocked(c, chans[len(chans)-1])
	}
	c.chans = closedChans
	sh.mu.Unlock()
}

// channelsOf returns a copy of the channels c has joined.
func (e *Engine) channelsOf(c *conn) []string {
	c.sh.mu.RLock()
	defer c.sh.mu.RUnlock()
	return slices.Clone(c.channels())
}

// sharesChans reports whether c.chans is the list its one channel's
// members share (shard.only), which c must not change; sh.mu must be held.
func (c *conn) sharesChans() bool {
	return c.chans != nil && len(*c.chans) == 1 && c.sh.only[(*c.chans)[0]] == c.chans
}

// channels is the channels c has joined; sh.mu must be held.
func (c *conn) channels() []string {
	if c.chans == nil {
		return nil
	}
	return *c.chans
}
