package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/presence"
)

// The helpers below are safe from any goroutine: HTTP handlers, timers,
// other services, and handlers themselves. They post work to the loops that
// own the connections; none waits for a loop.
//
// In cluster mode (SetCluster) they act on the whole cluster: a directed
// helper for a connection of another node, and the cluster-wide reads
// (Count, Clients, ClientsIn, ListPresence, PresenceCount, GetPresence),
// wait one Redis round trip, at most clusterTimeout; the broadcasts return
// at once and their counts are this node's.

// Send queues msg (a text message) for connection id. It reports whether the
// connection exists.
func (e *Engine) Send(id string, msg []byte) bool {
	c := e.conns.get(id)
	if c == nil {
		ok, _ := e.remote(id, "send", func(ctx context.Context) (bool, error) { return e.cluster.Send(ctx, id, false, msg) })
		return ok
	}
	msg = append([]byte(nil), msg...)
	return c.sh.post(func() { c.send(codec.OpText, msg) })
}

// Broadcast sends msg to every connection and returns how many there were
// (on this node, in cluster mode).
func (e *Engine) Broadcast(msg []byte) int { return e.publishAll(false, msg, nil) }

// BroadcastRoom sends msg to every member of channel and returns how many
// there were (on this node, in cluster mode).
func (e *Engine) BroadcastRoom(channel string, msg []byte) int {
	return e.publishRoom([]string{channel}, false, msg, nil)
}

// Count is the number of open connections (of the cluster, in cluster
// mode; this node's when Redis does not answer).
func (e *Engine) Count() int {
	return clusterOr(e, "count", func(ctx context.Context) (int, error) { return e.cluster.Count(ctx) }, e.LocalCount)
}

// LocalCount is the number of open connections of this server alone.
func (e *Engine) LocalCount() int { return int(e.conns.count.Load()) }

// Clients returns the ids of every open connection (of the cluster, in
// cluster mode; this node's when Redis does not answer).
func (e *Engine) Clients() []string {
	return clusterOr(e, "clients", e.cluster.Clients, e.conns.ids)
}

// ClientsIn returns the ids of the members of channel (of the cluster, in
// cluster mode; this node's when Redis does not answer).
func (e *Engine) ClientsIn(channel string) []string {
	return clusterOr(e, "clients_in",
		func(ctx context.Context) ([]string, error) { return e.cluster.ClientsIn(ctx, channel) },
		func() []string { return e.localClientsIn(channel) })
}

// clusterOr answers a read with cluster (one Redis round trip, bounded by
// clusterTimeout) in cluster mode, with local on a single server or when
// Redis does not answer.
func clusterOr[T any](e *Engine, what string, cluster func(context.Context) (T, error), local func() T) T {
	if e.cluster != nil {
		ctx, cancel := clusterCtx()
		defer cancel()
		v, err := cluster(ctx)
		if err == nil {
			return v
		}
		e.log.Warn("cluster read failed; answering for this node", "helper", what, "err", err)
	}
	return local()
}

func (e *Engine) localClientsIn(channel string) []string {
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
		if channel == "" {
			return ErrNoChannel
		}
		return e.remoteErr(e.remote(id, "join", func(ctx context.Context) (bool, error) { return e.cluster.Join(ctx, id, channel) }))
	}
	return e.join(c, channel)
}

// Leave removes connection id from channel.
func (e *Engine) Leave(id, channel string) error {
	c := e.conns.get(id)
	if c == nil {
		if channel == "" {
			return ErrNoChannel
		}
		return e.remoteErr(e.remote(id, "leave", func(ctx context.Context) (bool, error) { return e.cluster.Leave(ctx, id, channel) }))
	}
	return e.leave(c, channel)
}

// remoteErr turns the answer of a directed helper into Join's and Leave's
// error.
func (e *Engine) remoteErr(ok bool, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("engine: cluster: %w", err)
	case !ok:
		return ErrUnknownConn
	}
	return nil
}

// Close closes connection id with code 1000 and reason, waiting for the
// client's close reply up to CloseTimeout. It reports whether the connection
// existed.
func (e *Engine) Close(id, reason string) bool { return e.CloseWith(id, codec.CloseNormal, reason) }

// CloseWith is Close with a chosen close code (1000, or 3000–4999 for the
// application's own, or a protocol code such as 1008 or 1011). A connection
// held by another node of a cluster is closed with 1000 whatever code.
func (e *Engine) CloseWith(id string, code codec.CloseCode, reason string) bool {
	c := e.conns.get(id)
	if c == nil {
		ok, _ := e.remote(id, "close", func(ctx context.Context) (bool, error) { return e.cluster.CloseConn(ctx, id, reason) })
		return ok
	}
	return c.sh.post(func() { c.close(code, reason, true) })
}

// ListPresence returns the users present in channel with their metas (in
// cluster mode, read from Redis; nil when it does not answer).
func (e *Engine) ListPresence(channel string) []presence.Presence {
	if e.backend != nil {
		ctx, cancel := clusterCtx()
		defer cancel()
		l, err := e.backend.List(ctx, channel)
		e.presenceErr("list_presence", channel, err)
		return l
	}
	return e.presence.List(channel)
}

// PresenceCount is the number of unique users present in channel (in
// cluster mode, read from Redis; 0 when it does not answer).
func (e *Engine) PresenceCount(channel string) int {
	if e.backend != nil {
		ctx, cancel := clusterCtx()
		defer cancel()
		n, err := e.backend.Count(ctx, channel)
		e.presenceErr("presence_count", channel, err)
		return n
	}
	return e.presence.Count(channel)
}

// GetPresence returns one user's presence in channel (in cluster mode,
// read from Redis; absent when it does not answer).
func (e *Engine) GetPresence(channel, userID string) (presence.Presence, bool) {
	if e.backend != nil {
		ctx, cancel := clusterCtx()
		defer cancel()
		p, ok, err := e.backend.Get(ctx, channel, userID)
		e.presenceErr("get_presence", channel, err)
		return p, ok
	}
	return e.presence.Get(channel, userID)
}

func (e *Engine) presenceErr(what, channel string, err error) {
	if err != nil && !errors.Is(err, presence.ErrNoChannel) {
		e.log.Warn("cluster presence read failed", "helper", what, "channel", channel, "err", err)
	}
}
