// Package cluster makes several Ripple servers one: rooms, broadcasts,
// directed messages, connection counts and presence work across nodes
// through one Redis server (pub/sub and Lua scripts). Without it (no -redis
// flag) a server runs alone as before. A Node is the engine's Broker, its
// RedisPresence the engine's presence.Backend and its RedisHistory the
// engine's history.Backend; the root package's JoinCluster wires them
// (engine.UseCluster), with engine.Inbound as Local.
//
// # What it owns
//
// A Node is one server's membership: a node id, an incarnation, a Redis
// client and one pub/sub connection. It owns
//
//   - routing: connection ids are "<node id>.<uuid>" (Node.NewConnID), so
//     Route tells which node holds a connection;
//   - directed messages: Send, CloseConn, Join and Leave act on a
//     connection of any node, through that node's channel n:<node>;
//   - rooms: the node subscribes c:<ch> while ch has local members
//     (Joined/Left count them) and PublishRoom/PublishAll reach the members
//     of every other node; the publishing node delivers to its own members
//     itself, so nothing is encoded twice and local fan-out is unchanged;
//   - cluster-wide Count, CountIn, Clients and ClientsIn, from per-node
//     sets the node keeps in Redis (Connected, Disconnected, Joined, Left);
//   - presence (RedisPresence, the node's presence.Backend): Lua scripts change a
//     channel's presences, bump its sequence and PUBLISH the event in one
//     step, so every channel has one total order; each node following the
//     channel replays the events into a view and sends its own members
//     exactly the presence_state and presence_diff messages package
//     presence would (both modes), batched as it batches them (see
//     Batches below);
//   - history (RedisHistory, the node's history.Backend): the numbered,
//     retained publications of the channels with history (see History
//     below);
//   - liveness: heartbeats with a deadline, a reaper that claims a dead
//     incarnation with SET NX and removes its connections and presences
//     (one leave diff per user that thereby leaves), and fencing: a node
//     found dead re-announces its live connections under a new incarnation.
//
// It does not own connections, frames or event loops: what other nodes ask
// of this node's connections goes to Local, which the engine implements.
// It does not keep presences for a single server either: that is
// presence.Memory, behind the same presence.Backend interface, and
// clustertest.BackendSuite checks both; likewise history.Memory and
// historytest.BackendSuite. A Node is the engine's Broker (the
// engine never imports this package; the root package wires them).
//
// # Delivery guarantees
//
// Presence diffs reach every member on every node once, in the channel's
// order. Redis pub/sub does lose messages (go-redis drops them when its
// buffer stays full, a reconnect loses what was published meanwhile, a
// restart loses everything), so a node never assumes it got everything: an
// event out of sequence, a (re)subscription, or a channel whose sequence in
// Redis stayed ahead of the view for a VerifyInterval makes the node load a
// snapshot and send its members ONE corrective diff from what they hold to
// the snapshot. Publications of channels with history reach every member
// on every node once, in offset order (see History). Room messages,
// broadcasts and directed messages are best effort, as on a single node a slow consumer may lose them; a write that
// failed in transit is sent again, so one may arrive twice.
//
// A channel's first local member gets the channel's diffs once the node's
// subscription is confirmed, one round trip after Joined; a tracker always
// gets a presence_state consistent with the diffs that follow it.
//
// Writes are queued and pipelined: the engine's hooks never wait for Redis.
// Reads (Count, List, ...) and directed helpers wait one round trip and see
// every write this node queued before them.
//
// # History
//
// A channel with history is a Redis Stream of its publications (entry id
// "<offset>-0", trimmed to the rule's size, with the publish time) and a
// meta hash with its epoch and top offset, both expiring after the rule's
// TTL without a publication. One script (history_publish.lua) numbers a
// publication, appends it and PUBLISHes it on c:<ch>, so every node agrees
// on the offsets and sees them in one order; a client recovers on any
// node. The publishing node does not deliver its publication itself:
// every node following the channel delivers it from pub/sub, in offset
// order. A publication pub/sub lost shows as a gap (the next one is out of
// order, a resubscription or the verify finds the top ahead); the node
// reads the missing ones from the stream and delivers them first (those
// trimmed or expired meanwhile are lost, Stats.HistoryLost). A channel
// that lost its meta (its TTL passed, Redis lost its data) starts a new
// epoch at its next publication or read, so a position of the old one no
// longer recovers. Read waits until the node follows the channel when it
// has members there, then reads the position and the retained
// publications in one script (history_read.lua), dropping those past the
// TTL.
//
// # Batches
//
// With Config.PresenceInterval set (ripple's JoinCluster sets the server's
// PresenceInterval, 50 ms by default), each node batches each channel's
// messages for its own members with the rules and the code of package
// presence (presence.Batch, presence.Pacer; "Batches" in its doc): a token
// bucket of PresenceBurst per channel and node, one token back per interval.
// While a channel's events come slower than that, each goes out at once, as
// without batching; a busier channel sends the node's members one
// presence_diff per interval merging every change (a user at most once per
// diff), and one presence_state, encoded once, to every local connection
// tracked meanwhile (it reflects the view when it goes out, so those
// trackers skip that diff). In a join storm each member thus gets one diff
// per interval instead of one per join. Batching changes none of the
// guarantees above: batches go out in the channel's order, a resync first
// sends what the view held, the reaper's leaves are one per user, and Sync
// sends a channel's pending batch before it returns. Nodes batch
// independently: members on different nodes may see the same changes grouped
// differently, and end with the same presences.
//
// # Goroutines and locks
//
// A Node runs five goroutines: the executor (the only one that writes the
// node's state to Redis, in queue order; it also fences), the heartbeat,
// the reaper, the subscription manager and the receiver (which owns the
// views and their batches, with one timer for the batches waiting for a
// token, and the channels' history positions, and calls Local, one call at
// a time). Node.mu guards the local
// records and the queue; it is a leaf lock: no Local method and no Redis
// call runs under it, so the engine may call the hooks while holding its
// own locks. Local must not block.
//
// # Redis
//
// One standalone Redis server (the scripts compute key names, so Redis
// Cluster is not supported); every key and channel starts with
// Config.Prefix. The key layout is documented on keys.
package cluster
