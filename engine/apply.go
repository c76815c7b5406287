package engine

import (
	"errors"
	"fmt"

	"github.com/ripple-rt/ripple/phoenix"
)

// apply carries out a reply's actions for c in the documented order. It runs
// on c's loop. An action that fails is reported in the returned error; the
// others still run. ch is the channel of a channel handler's reply, nil on
// a raw route: Send then goes to the channel's topic and BroadcastRoom
// defaults to it.
func (e *Engine) apply(c *conn, r Reply, ch *phxChan) error {
	var errs []error
	for _, ch := range r.Join {
		if err := e.join(c, ch); err != nil {
			errs = append(errs, fmt.Errorf("join %q: %w", ch, err))
		}
	}
	if t := r.Track; t != nil {
		if err := e.track(c, t.Channel, t.UserID, t.Meta); err != nil {
			errs = append(errs, fmt.Errorf("track %q: %w", t.Channel, err))
		}
	}
	if p := r.SetPresence; p != nil {
		if err := e.setPresence(c, p.Channel, p.State); err != nil {
			errs = append(errs, fmt.Errorf("set_presence %q: %w", p.Channel, err))
		}
	}
	if r.Send != nil {
		if ch != nil {
			e.phxSend(c, ch, r.Binary, r.Send)
		} else {
			c.send(opOf(r.Binary), r.Send)
		}
	}
	if r.BroadcastRoom != nil {
		channels := []string{r.Room}
		switch {
		case r.Room != "":
		case ch != nil:
			channels = []string{ch.topic}
		default:
			channels = e.channelsOf(c)
		}
		if len(channels) == 0 {
			errs = append(errs, errors.New("broadcast_room: connection has joined no channel"))
		} else {
			e.publishRoom(channels, r.Binary, r.BroadcastRoom, c.sh)
		}
	}
	if r.Broadcast != nil {
		e.publishAll(r.Binary, r.Broadcast, c.sh)
	}
	for _, ch := range r.Untrack {
		if err := e.untrack(c, ch); err != nil {
			errs = append(errs, fmt.Errorf("untrack %q: %w", ch, err))
		}
	}
	for _, ch := range r.Leave {
		if err := e.leave(c, ch); err != nil {
			errs = append(errs, fmt.Errorf("leave %q: %w", ch, err))
		}
	}
	return errors.Join(errs...)
}

// publishRoom sends payload to every member of channels: here through
// fanout (one frame for all), on the other servers through the broker. It
// returns the number of members on this server.
func (e *Engine) publishRoom(channels []string, binary bool, payload []byte, here *shard) int {
	channels, n := e.publishHistory(channels, binary, payload, here)
	if len(channels) == 0 {
		return n
	}
	n += e.fanout(channels, newMessage(opOf(binary), payload), here, nil)
	e.broker.PublishRoom(channels, binary, payload)
	return n
}

// publishAll sends payload to every connection, here and on the other
// servers. It returns the number of connections on this server.
func (e *Engine) publishAll(binary bool, payload []byte, here *shard) int {
	n := e.broadcast(newMessage(opOf(binary), payload), here)
	e.broker.PublishAll(binary, payload)
	return n
}

// fanout writes frame to every member of channels (each once) but except,
// and returns how many members there were. The members on the loop we run on
// (here; nil when unknown) are written inline; every other loop with members
// gets one task.
func (e *Engine) fanout(channels []string, msg *message, here *shard, except *conn) int {
	var bits uint64
	for _, ch := range channels {
		bits |= e.rooms.loops(ch)
	}
	if bits == 0 {
		return 0
	}
	e.stats.Broadcasts.Add(1)
	n := 0
	for _, sh := range e.shards {
		if bits&sh.bit == 0 {
			continue
		}
		n += sh.countMembers(channels)
		switch {
		case sh == here:
			sh.writeMembers(channels, msg, except)
		case msg.pos != nil:
			sh.queuedPubs.Add(1)
			sh.post(func() {
				sh.writeMembers(channels, msg, except)
				sh.queuedPubs.Add(-1)
			})
		default:
			sh.post(func() { sh.writeMembers(channels, msg, except) })
		}
	}
	return n
}

// writeMembers writes msg to the shard's members of channels but except.
// A Phoenix member gets it on each of its topics among channels (see
// members); consecutive members of one dialect and topic share the frame
// without asking msg again. Loop only.
func (sh *shard) writeMembers(channels []string, msg *message, except *conn) {
	e := sh.e
	members := sh.members(channels)
	var last struct {
		d       dialect
		topic   string
		deflate bool
		frame   []byte
	}
	for i, c := range members {
		if c == except {
			continue
		}
		if c.dialect() == 0 {
			c.write(msg.frameFor(c, ""))
			continue
		}
		topic := channels[0]
		if len(channels) > 1 {
			topic = channels[sh.topics[i]]
		}
		if msg.pos != nil && !sh.admit(c, topic, msg) {
			continue
		}
		if last.frame == nil || last.d != c.dialect() || last.topic != topic || last.deflate != c.deflate() {
			last.d, last.topic, last.deflate, last.frame = c.dialect(), topic, c.deflate(), msg.frameFor(c, topic)
		}
		c.write(last.frame)
	}
	e.stats.FramesOut.Add(int64(len(members)))
	e.stats.BytesOut.Add(int64(len(members) * len(msg.plain)))
	sh.done()
}

// broadcast writes frame to every open connection and returns their number.
func (e *Engine) broadcast(msg *message, here *shard) int {
	e.stats.Broadcasts.Add(1)
	for _, sh := range e.shards {
		if sh == here {
			sh.writeAll(msg)
		} else {
			sh.post(func() { sh.writeAll(msg) })
		}
	}
	return int(e.conns.count.Load())
}

// writeAll writes msg to every open connection of the shard. Loop only.
func (sh *shard) writeAll(msg *message) {
	e := sh.e
	sh.scratch = append(sh.scratch[:0], sh.conns...)
	n := 0
	for _, c := range sh.scratch {
		if c.state == stateOpen {
			c.write(msg.frameFor(c, phoenix.TopicPhoenix))
			n++
		}
	}
	e.stats.FramesOut.Add(int64(n))
	e.stats.BytesOut.Add(int64(n * len(msg.plain)))
	sh.done()
}

// countMembers is the number of connections of this shard in channels (a
// connection in several counts once per channel; close enough for a reply).
func (sh *shard) countMembers(channels []string) int {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	n := 0
	for _, ch := range channels {
		if set := sh.rooms[ch]; set != nil {
			n += set.Len()
		}
	}
	return n
}
