package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/presence"
)

// The helpers below are safe from any goroutine: HTTP handlers, timers,
// other services, and handlers themselves. They post work to the loops that
// own the connections; none waits for a loop.
//
// In a cluster (UseCluster) they act on the whole cluster: a directed
// helper (Send, Close, CloseWith, Join, Leave) for a connection of another
// server, and the cluster-wide reads (Count, Clients, ClientsIn,
// ListPresence, PresenceCount, GetPresence), wait for another server: the
// plain forms at most helperTimeout, the Context forms until ctx ends.
// The broadcasts deliver at once and then count the recipients of the
// whole cluster (one more round trip to Redis).
//
// On an event loop (a handler of a route without Workers, or anything it
// calls) no helper ever waits for another server, since that would stall
// every connection of the loop:
//
//   - Count, Clients and ClientsIn, and the counts of Broadcast and
//     BroadcastRoom, answer for this server;
//   - ListPresence, PresenceCount and GetPresence answer what the presence
//     backend knows without waiting: everything on a single server, nothing
//     from the Redis backend (the Context forms return ErrOnLoop);
//   - a directed helper for a connection of another server is sent in the
//     background and reports whether the id names another server, not
//     whether the connection still exists there (the Context forms return
//     ErrOnLoop with that answer).
//
// A handler that needs the cluster's answer runs on a Workers route.

// helperTimeout bounds a plain helper that waits for another server.
const helperTimeout = 2 * time.Second

// ErrOnLoop is returned by a Context helper called on an event loop when
// the full answer would have to wait for another server (see above).
var ErrOnLoop = errors.New("engine: would wait for another server on an event loop")

// ErrUnavailable is wrapped by the error of a helper that needed the other
// servers of a cluster (or the presence backend) and got no answer in time:
// Redis is down or too slow. The helper's result is then this server's
// answer, or none.
var ErrUnavailable = errors.New("engine: cluster unavailable")

// Send queues msg (a text message) for connection id. It reports whether the
// connection exists.
func (e *Engine) Send(id string, msg []byte) bool {
	ctx, cancel := helperCtx()
	defer cancel()
	ok, _ := e.SendContext(ctx, id, msg)
	return ok
}

// SendContext is Send for a connection that may be on another server,
// waiting for that server at most until ctx ends.
func (e *Engine) SendContext(ctx context.Context, id string, msg []byte) (bool, error) {
	if c := e.conns.get(id); c != nil {
		msg = append([]byte(nil), msg...)
		return c.sh.post(func() { c.send(codec.OpText, msg) }), nil
	}
	return e.remote(ctx, id, "send", func(ctx context.Context) (bool, error) { return e.broker.Send(ctx, id, false, msg) })
}

// Broadcast sends msg to every connection and returns how many there are
// (of the cluster, in a cluster; this server's when the others do not
// answer, or on a loop).
func (e *Engine) Broadcast(msg []byte) int {
	ctx, cancel := helperCtx()
	defer cancel()
	n, _ := e.BroadcastContext(ctx, msg)
	return n
}

// BroadcastContext is Broadcast waiting for the cluster's count at most
// until ctx ends. On error the count is this server's; the message has
// gone to this server's connections and is on its way to the others.
func (e *Engine) BroadcastContext(ctx context.Context, msg []byte) (int, error) {
	n := e.publishAll(false, msg, nil)
	return clusterRead(e, ctx, "broadcast", e.broker.Count, func() int { return n })
}

// BroadcastRoom sends msg to every member of channel and returns how many
// there are (of the cluster, in a cluster; this server's when the others
// do not answer, or on a loop).
func (e *Engine) BroadcastRoom(channel string, msg []byte) int {
	ctx, cancel := helperCtx()
	defer cancel()
	n, _ := e.BroadcastRoomContext(ctx, channel, msg)
	return n
}

// BroadcastRoomContext is BroadcastRoom waiting for the cluster's count at
// most until ctx ends. On error the count is this server's; the message
// has gone to this server's members and is on its way to the others.
func (e *Engine) BroadcastRoomContext(ctx context.Context, channel string, msg []byte) (int, error) {
	n := e.publishRoom([]string{channel}, false, msg, nil)
	return clusterRead(e, ctx, "broadcast_room",
		func(ctx context.Context) (int, error) { return e.broker.CountIn(ctx, channel) },
		func() int { return n })
}

// Count is the number of open connections (of the cluster, in a cluster;
// this server's when the others do not answer, or on a loop).
func (e *Engine) Count() int {
	ctx, cancel := helperCtx()
	defer cancel()
	n, _ := e.CountContext(ctx)
	return n
}

// CountContext is Count waiting at most until ctx ends; on error the count
// is this server's.
func (e *Engine) CountContext(ctx context.Context) (int, error) {
	return clusterRead(e, ctx, "count", e.broker.Count, e.LocalCount)
}

// LocalCount is the number of open connections of this server alone.
func (e *Engine) LocalCount() int { return int(e.conns.count.Load()) }

// Clients returns the ids of every open connection (of the cluster, in a
// cluster; this server's when the others do not answer, or on a loop).
func (e *Engine) Clients() []string {
	ctx, cancel := helperCtx()
	defer cancel()
	ids, _ := e.ClientsContext(ctx)
	return ids
}

// ClientsContext is Clients waiting at most until ctx ends; on error the
// ids are this server's.
func (e *Engine) ClientsContext(ctx context.Context) ([]string, error) {
	return clusterRead(e, ctx, "clients", e.broker.Clients, e.conns.ids)
}

// ClientsIn returns the ids of the members of channel (of the cluster, in a
// cluster; this server's when the others do not answer, or on a loop).
func (e *Engine) ClientsIn(channel string) []string {
	ctx, cancel := helperCtx()
	defer cancel()
	ids, _ := e.ClientsInContext(ctx, channel)
	return ids
}

// ClientsInContext is ClientsIn waiting at most until ctx ends; on error
// the ids are this server's.
func (e *Engine) ClientsInContext(ctx context.Context, channel string) ([]string, error) {
	return clusterRead(e, ctx, "clients_in",
		func(ctx context.Context) ([]string, error) { return e.broker.ClientsIn(ctx, channel) },
		func() []string { return e.localClientsIn(channel) })
}

// clusterRead answers a read through the broker (this server's answer on a
// single server), or with local when called on a loop or when the other
// servers do not answer in time.
func clusterRead[T any](e *Engine, ctx context.Context, what string, broker func(context.Context) (T, error), local func() T) (T, error) {
	if e.onLoop() {
		return local(), nil // this server's answer is the one promised on a loop
	}
	v, err := broker(ctx)
	if err == nil {
		return v, nil
	}
	e.log.Warn("cluster read failed; answering for this server", "helper", what, "err", err)
	return local(), fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// localCountIn is the number of members of channel on this server.
func (e *Engine) localCountIn(channel string) int {
	bits := e.rooms.loops(channel)
	n := 0
	for _, sh := range e.shards {
		if bits&sh.bit != 0 {
			n += sh.countMembers([]string{channel})
		}
	}
	return n
}

func (e *Engine) localClientsIn(channel string) []string {
	bits := e.rooms.loops(channel)
	var ids []string
	for _, sh := range e.shards {
		if bits&sh.bit == 0 {
			continue
		}
		sh.mu.RLock()
		if set := sh.rooms[channel]; set != nil {
			for c := range set.All {
				ids = append(ids, c.id())
			}
		}
		sh.mu.RUnlock()
	}
	return ids
}

// Join adds connection id to channel; later broadcasts to channel reach it.
func (e *Engine) Join(id, channel string) error {
	ctx, cancel := helperCtx()
	defer cancel()
	return e.JoinContext(ctx, id, channel)
}

// JoinContext is Join for a connection that may be on another server,
// waiting for that server at most until ctx ends.
func (e *Engine) JoinContext(ctx context.Context, id, channel string) error {
	if channel == "" {
		return ErrNoChannel
	}
	if c := e.conns.get(id); c != nil {
		return e.join(c, channel)
	}
	return remoteErr(e.remote(ctx, id, "join", func(ctx context.Context) (bool, error) { return e.broker.Join(ctx, id, channel) }))
}

// Leave removes connection id from channel and untracks its presence there
// (the other members get the leave diff).
func (e *Engine) Leave(id, channel string) error {
	ctx, cancel := helperCtx()
	defer cancel()
	return e.LeaveContext(ctx, id, channel)
}

// LeaveContext is Leave for a connection that may be on another server,
// waiting for that server at most until ctx ends.
func (e *Engine) LeaveContext(ctx context.Context, id, channel string) error {
	if channel == "" {
		return ErrNoChannel
	}
	if c := e.conns.get(id); c != nil {
		return e.leave(c, channel)
	}
	return remoteErr(e.remote(ctx, id, "leave", func(ctx context.Context) (bool, error) { return e.broker.Leave(ctx, id, channel) }))
}

// Close closes connection id with code 1000 and reason, waiting for the
// client's close reply up to CloseTimeout. It reports whether the connection
// existed.
func (e *Engine) Close(id, reason string) bool { return e.CloseWith(id, codec.CloseNormal, reason) }

// CloseWith is Close with a chosen close code (1000, or 3000–4999 for the
// application's own, or a protocol code such as 1008 or 1011), on any
// server of a cluster.
func (e *Engine) CloseWith(id string, code codec.CloseCode, reason string) bool {
	ctx, cancel := helperCtx()
	defer cancel()
	ok, _ := e.CloseContext(ctx, id, code, reason)
	return ok
}

// CloseContext is CloseWith for a connection that may be on another
// server, waiting for that server at most until ctx ends.
func (e *Engine) CloseContext(ctx context.Context, id string, code codec.CloseCode, reason string) (bool, error) {
	if c := e.conns.get(id); c != nil {
		return c.sh.post(func() { c.close(code, reason, true) }), nil
	}
	return e.remote(ctx, id, "close", func(ctx context.Context) (bool, error) { return e.broker.CloseConn(ctx, id, code, reason) })
}

// remote runs a directed helper for a connection that is not on this
// server: false at once when the id names this server (the connection is
// gone) or no server at all. On a loop it runs in the background, bounded
// by helperTimeout, and reports whether the id names another server.
func (e *Engine) remote(ctx context.Context, id, what string, f func(ctx context.Context) (bool, error)) (bool, error) {
	if node, local := e.broker.Route(id); local || node == "" {
		return false, nil
	}
	if e.onLoop() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
			defer cancel()
			if _, err := f(ctx); err != nil {
				e.log.Warn("cluster helper failed", "helper", what, "conn", id, "err", err)
			}
		}()
		return true, ErrOnLoop
	}
	ok, err := f(ctx)
	if err != nil {
		e.log.Warn("cluster helper failed", "helper", what, "conn", id, "err", err)
		return ok, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return ok, nil
}

// remoteErr turns the answer of a directed helper into Join's and Leave's
// error.
func remoteErr(ok bool, err error) error {
	switch {
	case errors.Is(err, ErrOnLoop):
		return nil // sent in the background
	case err != nil:
		return err
	case !ok:
		return ErrUnknownConn
	}
	return nil
}

// ListPresence returns the users present in channel with their metas (nil
// when the presence backend does not answer, or on a loop in a cluster:
// the Context form tells an empty channel from no answer).
func (e *Engine) ListPresence(channel string) []presence.Presence {
	ctx, cancel := helperCtx()
	defer cancel()
	l, _ := e.ListPresenceContext(ctx, channel)
	return l
}

// ListPresenceContext is ListPresence waiting at most until ctx ends.
func (e *Engine) ListPresenceContext(ctx context.Context, channel string) ([]presence.Presence, error) {
	l, err := e.presence.List(e.presenceCtx(ctx), channel)
	return l, e.presenceErr("list_presence", channel, err)
}

// PresenceCount is the number of unique users present in channel (0 when
// the presence backend does not answer, or on a loop in a cluster).
func (e *Engine) PresenceCount(channel string) int {
	ctx, cancel := helperCtx()
	defer cancel()
	n, _ := e.PresenceCountContext(ctx, channel)
	return n
}

// PresenceCountContext is PresenceCount waiting at most until ctx ends.
func (e *Engine) PresenceCountContext(ctx context.Context, channel string) (int, error) {
	n, err := e.presence.Count(e.presenceCtx(ctx), channel)
	return n, e.presenceErr("presence_count", channel, err)
}

// GetPresence returns one user's presence in channel (absent when the
// presence backend does not answer, or on a loop in a cluster).
func (e *Engine) GetPresence(channel, userID string) (presence.Presence, bool) {
	ctx, cancel := helperCtx()
	defer cancel()
	p, ok, _ := e.GetPresenceContext(ctx, channel, userID)
	return p, ok
}

// GetPresenceContext is GetPresence waiting at most until ctx ends.
func (e *Engine) GetPresenceContext(ctx context.Context, channel, userID string) (presence.Presence, bool, error) {
	p, ok, err := e.presence.Get(e.presenceCtx(ctx), channel, userID)
	return p, ok, e.presenceErr("get_presence", channel, err)
}

// presenceCtx is ctx, or on a loop a context that has already ended: a
// backend that answers from memory ignores it, one that would wait for
// another server gives up at once.
func (e *Engine) presenceCtx(ctx context.Context) context.Context {
	if !e.onLoop() {
		return ctx
	}
	done, cancel := context.WithCancelCause(ctx)
	cancel(ErrOnLoop)
	return done
}

// presenceErr logs a failed presence read and returns its error; on a loop
// it is ErrOnLoop.
func (e *Engine) presenceErr(what, channel string, err error) error {
	if err == nil || errors.Is(err, presence.ErrNoChannel) {
		return nil
	}
	if errors.Is(err, context.Canceled) && e.onLoop() {
		return ErrOnLoop
	}
	e.log.Warn("presence read failed", "helper", what, "channel", channel, "err", err)
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// helperCtx bounds a plain helper's wait for another server.
func helperCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), helperTimeout)
}
