// Package presence tracks who is present in each channel, Phoenix style, and
// encodes the presence_state and presence_diff messages clients apply.
//
// # What it owns
//
// A Registry holds, per channel, user_id → metas with one meta per tracked
// connection:
//
//	{"phx_ref": "1k", "state": "online", "name": "Alice", ...}
//
// phx_ref is unique per tracked connection: Config.RefPrefix (a node id in a
// cluster, "" by default) followed by a process-wide counter in base 36.
// state is "online" unless the track metadata carries a string "state" or
// SetState changes it. The other fields are the track metadata minus
// channel, user_id, phx_ref and phx_ref_prev, encoded once (with sonic, map
// keys sorted) when the connection is tracked.
//
// It does not deliver anything, know room membership or own connections:
// every change hands its encoded messages to a Publisher supplied by the
// caller (the engine), which fans them out. It does not remember which
// channels a connection tracked either: on disconnect the caller untracks
// each of them (ErrNotTracked may be ignored there).
//
// # Messages
//
// Track publishes the full state to the tracking connection, itself
// included,
//
//	{"event":"presence_state","payload":{"alice":{"metas":[...]},...}}
//
// and, when the mode says so, a diff to the channel's other members:
//
//	{"event":"presence_diff","payload":{"joins":{...},"leaves":{...}}}
//
// ModeUser (the default, the multi-device rule): a user appears in joins
// only when its first connection is tracked, with that meta, and in leaves
// only when its last connection is untracked. A second tab of a present user
// gets the state but sends no diff; closing a tab that is not the last sends
// none. SetState sends joins with the user's full current metas and no
// leaves; the meta keeps its phx_ref.
//
// ModeConnection (exact Phoenix): every Track is a join of that meta, every
// Untrack a leave of it, and SetState one diff with leave(old meta) and
// join(new meta with a new phx_ref and "phx_ref_prev": old ref); the updated
// meta moves to the end of the user's metas, as on Phoenix clients.
//
// Tracking a connection already tracked in the channel returns
// ErrAlreadyTracked and changes nothing, as Phoenix does. Untrack and
// SetState of a connection not tracked there return ErrNotTracked and
// publish nothing. SetState always publishes, even when the state is
// unchanged.
//
// # The invariant
//
// A client that applies the presence_state it got and then every diff in
// arrival order ends with exactly the users of List, in ModeConnection with
// exactly its metas too. This holds for the phoenix npm package's
// Presence.syncState/syncDiff (which merge joins by phx_ref and remove
// leaves by phx_ref, dropping a user left without metas) in both modes, and
// for the seed's client code (joins replace presences[user], leaves delete
// it) in ModeUser. The seed's code cannot follow ModeConnection: there a
// user with two connections loses one in a leaves entry, and that code
// deletes the whole user.
//
// In ModeUser a phoenix.js client keeps the refs of connections that left
// silently, so the user's final leave must carry every phx_ref any client
// may still hold: the metas sent in a joins diff, and those included in a
// presence_state sent to another connection while the user stayed present.
// The registry keeps these "stale" metas per user and channel, and the final
// leave lists them with the last meta. A connection that was never shown to
// anyone else (tracked and untracked with no other Track in between) is not
// kept.
//
// # Bound and compaction
//
// At most Config.MaxStaleRefs (default 32) stale metas are kept per user and
// channel. The untrack that would keep one more publishes a compaction
// instead: one diff whose leaves carry every stale and current meta of the
// user, immediately followed by one diff whose joins carry the current
// metas. Both client algorithms end with exactly the current metas and no
// stale ref, but clients see the user leave and come back at once (a brief
// flicker, and onLeave/onJoin callbacks on Phoenix clients). It happens only
// to a user that keeps at least one connection while more than
// MaxStaleRefs others come and go, so the memory per present user is at
// most MaxStaleRefs encoded metas beyond its current ones. Compactions
// counts them.
//
// # Batches
//
// Without batching every change is published at once, one presence_diff
// per change and one presence_state per Track: filling a channel of n users
// costs O(n²) messages, and a burst of joins into a big channel sends each
// member one diff per join. With Config.Deliver and Config.Interval set
// (the engine's default, 50 ms), a channel batches its changes, but only
// while they come faster than one per Interval:
//
//   - each channel has a bucket of Config.Burst tokens (default 4): every
//     publication takes one, and one comes back every Interval. A change
//     made while a token is left is published at once, so a quiet channel
//     (at most one change per Interval, or a burst of up to Burst changes
//     after a quiet spell) publishes every change at once;
//   - a change that finds no token waits, the channel's next changes join
//     it, and the batch is published (by a timer) when the next token
//     comes back. Once batching has started a channel publishes at most
//     one batch per Interval however many connections come and go; a storm
//     costs at most Burst-1 publications more than with a Burst of 1 (the
//     rule "the first change after a quiet Interval at once, the rest one
//     Interval after the previous publication");
//   - when changes slow down the tokens come back: after one quiet
//     Interval the next change is published at once, after Burst of them
//     the next Burst changes are;
//   - a batch is one presence_diff whose joins and leaves hold every user
//     that changed, and one presence_state, encoded once, for all the
//     connections that tracked in it (Deliver's trackers); it reflects the
//     channel when the batch goes out, so it holds the batch's changes and
//     the trackers do not need its diff;
//   - a user appears at most once per batch: a second change of a user
//     already in it publishes the batch first. The merged diff then means
//     what the separate diffs meant, whichever order a client applies
//     joins and leaves in (the seed's code deletes a user on any leave, so a
//     leave and a join of one user must not share a diff);
//   - the Untrack that empties a channel publishes at once, and Flush
//     publishes every pending batch. These publications, and the one a
//     second change of a user forces, do not wait for a token: they take
//     one if one is left, and with none left the next one comes back one
//     Interval after them (the channel never owes tokens).
//
// The invariant above holds for every member and tracker (the churn tests
// run with and without batching, through both client algorithms and the
// phoenix npm package). Batch (a channel's pending changes) and Pacer (its
// token bucket) are exported for package cluster, whose nodes batch each
// channel's messages for their own members by the same rules. A tracker that untracks before its batch goes out
// gets no state. The stale-ref bookkeeping counts a meta as shown to others
// when it was in a presence_state delivered to another connection: a later
// batch's state, or its own batch's when that batch had other trackers.
//
// # Goroutines and locks
//
// A Registry is safe for concurrent use. Each channel has its own mutex;
// there is no registry-wide lock (the channel table is a sync.Map). An empty
// channel is removed from the table, with its token bucket, so channels
// without presences cost nothing, and a quiet channel costs no timer either.
//
// The Publisher (or Deliver) runs while its channel's mutex is held: the order of
// Publisher calls is the order of the channel's changes, and a caller that
// enqueues the bytes into FIFO queues inside the callback keeps that order
// for every recipient. The Publisher must not block and must not call back
// into the Registry. Lock order: a channel's mutex, then whatever the
// Publisher takes; the registry never holds two channel mutexes. Under the
// mutex the registry only updates its maps and copies pre-encoded bytes
// (metas and user ids are encoded before the lock is taken; each user's
// encoded entry is kept, so a presence_state is one sized allocation and
// one copy per user).
//
// The byte slices passed to a Publisher are new for each call and never
// modified afterwards; the Publisher may keep them. Metas returned by List
// and Get share their Fields with the registry: treat them as read-only.
package presence
