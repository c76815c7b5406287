package cluster

import "sync/atomic"

// Stats counts what a node did. Every field is updated atomically; read them
// with Load.
type Stats struct {
	// Fenced counts the times this node found its incarnation dead and
	// re-announced its connections under a new one.
	Fenced atomic.Int64
	// Reaped counts the dead incarnations this node removed.
	Reaped atomic.Int64
	// Resyncs counts snapshot reloads of a channel that had a view (after a
	// gap, a reconnect or a failed check); each emits at most one
	// corrective diff.
	Resyncs atomic.Int64
	// Verifies counts the periodic checks of the followed channels'
	// positions in Redis that got an answer (every VerifyInterval).
	Verifies atomic.Int64
	// Gaps counts presence events that arrived out of sequence.
	Gaps atomic.Int64
	// Corrections counts corrective diffs emitted by resyncs.
	Corrections atomic.Int64
	// Retries counts Redis pipelines sent again after a transport error.
	Retries atomic.Int64
	// Published counts room and broadcast messages sent to other nodes.
	Published atomic.Int64
	// Dropped counts room messages, broadcasts and history publications
	// dropped because the queue of Redis writes was full.
	Dropped atomic.Int64
	// Received counts room and broadcast messages delivered from other nodes.
	Received atomic.Int64
	// Events counts presence events applied to this node's views.
	Events atomic.Int64
	// Diffs and States count the presence_diff and presence_state messages
	// handed to Local, one each however many local members or trackers it
	// goes to. Without batching a channel makes a diff per event; with
	// batching a busy channel makes far fewer.
	Diffs  atomic.Int64
	States atomic.Int64
	// Publications counts the publications of channels with history
	// handed to Local (from pub/sub or from a stream).
	Publications atomic.Int64
	// HistoryGaps counts the times this node found publications of a
	// channel it follows missing: one arrived out of offset order, a
	// resubscription or a verify found the channel's top ahead.
	HistoryGaps atomic.Int64
	// HistoryFilled counts the missing publications delivered from the
	// channel's stream; HistoryLost those no longer in it (trimmed,
	// expired, or of an epoch that ended), which this node never delivers.
	HistoryFilled atomic.Int64
	HistoryLost   atomic.Int64
}
