// Package engine runs WebSocket connections on gnet event loops.
//
// It owns: accepting connections, the in-loop opening handshake, the frame
// loop, the per-connection timers (handshake deadline, ping, idle timeout,
// close timeout), channel membership sharded per loop, cross-loop fan-out,
// slow-consumer backpressure, inbound rate limits and credentials' expiry
// and refresh (limits.go), handing plain HTTP requests to net/http, and
// graceful shutdown. The codec it speaks is package codec. Presence state
// is a presence.Backend (presence.Memory unless UseCluster), and the other
// servers of a cluster are reached through a Broker (broker.go describes
// every hook); the engine never imports an implementation of either: the
// root package wires package cluster's. Helpers called on a loop never wait
// for another server (helpers.go).
//
// # Data flow
//
// gnet calls OnTraffic on the connection's loop. Until the handshake is whole
// the bytes stay in gnet's inbound buffer (never more than MaxHandshakeSize);
// then codec.Upgrade answers in-loop. After the upgrade OnTraffic decodes only
// whole frames (a half-received frame waits in gnet's buffer) and hands each
// message to the route's Handler. The Handler's Reply becomes actions, applied
// in a fixed order (join, track, set_presence, send, broadcast_room,
// broadcast, untrack, leave). A broadcast is compiled once into one immutable
// frame; each loop that has recipients gets one task carrying that slice and
// writes it to its own connections.
//
// Writes wait for the end of the callback that queued them (OnTraffic, or a
// drain of posted tasks) and then go out in the same poll round, each
// connection's frames in one write: a message read on a loop reaches that
// loop's members with no added wakeup. One flush writes at most writeBudget
// bytes; the rest waits, in order, while the loop keeps polling, and the
// loop's waker (a socket pair the loop watches) brings it back once per poll
// round to write the next budget's worth. New frames join the back of that
// queue, so no connection waits behind more than one budget of others'
// writes per round, however busy the others are (see shard.go).
//
// Every loop accepts its own connections (SO_REUSEPORT): with a separate
// accepting goroutine, a loop that yields the P could wait milliseconds for
// it while that goroutine sat in epoll_wait.
//
// Presence changes of a channel are batched by the registry
// (Config.PresenceInterval) and delivered by deliverPresence: one
// presence_state message for every connection that tracked in the batch and
// one presence_diff for the other members, posted under the channel's lock.
//
// # Phoenix Channels
//
// Channel handlers (HandleChannel) serve Phoenix clients at
// Config.PhoenixPath: a WebSocket whose every message goes through
// package phoenix's serializer to the topic's handler (phoenix.go), or a
// long-poll session, which is a connection of a loop like the others whose
// frames wait for the next poll (longpoll.go). Both dialects meet the same
// Event/Reply model, and a topic is a channel: raw and Phoenix members share
// its memberships, messages and presence. A message is raw bytes
// everywhere; a Phoenix member gets the frame of its dialect, made once per
// message, dialect and topic (phxframes.go).
//
// # Goroutines
//
// There is no goroutine per connection. Each loop (a shard) owns its
// connections' decoders, timers and write paths. The only way into a loop
// from elsewhere is shard.post, a FIFO queue drained by one gnet Execute task
// per batch, so tasks posted to a loop run in the order they were posted
// (gnet's own task queues may reorder). Handlers run on the loop by default
// and must not block; a route registered with Workers runs its handler on a
// bounded worker pool instead, one event of a connection at a time, so each
// connection still sees its events in order.
//
// Membership (shard.rooms) is guarded by the shard's mutex so that helpers such
// as Join and ClientsIn work synchronously from any goroutine. Lock order:
// presence channel lock, then shard.mu, then the room index stripe; no lock is
// ever held while writing to a connection (a failed write closes it, which
// re-enters OnClose).
package engine
