package engine

import (
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/presence"
)

// The helpers below are safe from any goroutine: HTTP handlers, timers,
// other services, and handlers themselves. They post work to the loops that
// own the connections; none waits for a loop.

// Send queues msg (a text message) for connection id. It reports whether the
// connection exists.
func (e *Engine) Send(id string, msg []byte) bool {
	c := e.conns.get(id)
	if c == nil {
		return false
	}
	msg = append([]byte(nil), msg...)
	return c.sh.post(func() { c.send(codec.OpText, msg) })
}

// Broadcast sends msg to every connection and returns how many there were.
func (e *Engine) Broadcast(msg []byte) int {
	return e.broadcast(newMessage(codec.OpText, msg), nil)
}

// BroadcastRoom sends msg to every member of channel and returns how many
// there were.
func (e *Engine) BroadcastRoom(channel string, msg []byte) int {
	return e.fanout([]string{channel}, newMessage(codec.OpText, msg), nil, nil)
}

// Count is the number of open connections.
func (e *Engine) Count() int { return int(e.conns.count.Load()) }

// Clients returns the ids of every open connection.
func (e *Engine) Clients() []string { return e.conns.ids() }

// ClientsIn returns the ids of the members of channel.
func (e *Engine) ClientsIn(channel string) []string {
	bits := e.rooms.loops(channel)
	var ids []string
	for _, sh := range e.shards {
		if bits&sh.bit == 0 {
			continue
		}
		sh.mu.RLock()
		for c := range sh.rooms[channel] {
			ids = append(ids, c.id)
		}
		sh.mu.RUnlock()
	}
	return ids
}

// Join adds connection id to channel; later broadcasts to channel reach it.
func (e *Engine) Join(id, channel string) error {
	c := e.conns.get(id)
	if c == nil {
		return ErrUnknownConn
	}
	return e.join(c, channel)
}

// Leave removes connection id from channel.
func (e *Engine) Leave(id, channel string) error {
	c := e.conns.get(id)
	if c == nil {
		return ErrUnknownConn
	}
	return e.leave(c, channel)
}

// Close closes connection id with code 1000 and reason, waiting for the
// client's close reply up to CloseTimeout. It reports whether the connection
// existed.
func (e *Engine) Close(id, reason string) bool { return e.CloseWith(id, codec.CloseNormal, reason) }

// CloseWith is Close with a chosen close code (1000, or 3000–4999 for the
// application's own, or a protocol code such as 1008 or 1011).
func (e *Engine) CloseWith(id string, code codec.CloseCode, reason string) bool {
	c := e.conns.get(id)
	if c == nil {
		return false
	}
	return c.sh.post(func() { c.close(code, reason, true) })
}

// ListPresence returns the users present in channel with their metas.
func (e *Engine) ListPresence(channel string) []presence.Presence { return e.presence.List(channel) }

// PresenceCount is the number of unique users present in channel.
func (e *Engine) PresenceCount(channel string) int { return e.presence.Count(channel) }

// GetPresence returns one user's presence in channel.
func (e *Engine) GetPresence(channel, userID string) (presence.Presence, bool) {
	return e.presence.Get(channel, userID)
}
