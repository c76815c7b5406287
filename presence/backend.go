package presence

import "context"

// Backend keeps the presences of a server's connections. The engine uses
// one: Memory on a single server, the Redis backend of package cluster on a
// node of a cluster. Its messages go to the Sink it was made with: each
// tracker's presence_state and the diffs for the channel's members, in one
// order per channel.
//
// Track, Untrack and SetState validate and answer at once (ErrNoChannel,
// ErrAlreadyTracked, ErrNotTracked, …); a backend may deliver the messages
// later, but in the order of the changes. List, Count and Get see every
// change made through this backend before them (and, on Redis, every
// change of the cluster that reached Redis); they may wait for another
// server, at most until ctx ends. Sync returns once every message of
// channel that was due when it was called has been delivered here.
type Backend interface {
	Track(channel, connID, userID string, meta map[string]any) error
	Untrack(channel, connID string) error
	SetState(channel, connID, state string) error
	List(ctx context.Context, channel string) ([]Presence, error)
	Count(ctx context.Context, channel string) (int, error)
	Get(ctx context.Context, channel, userID string) (Presence, bool, error)
	Sync(ctx context.Context, channel string) error
}

// Sink receives a backend's messages, in each channel's order.
//
// state, when non-nil, is the presence_state message for the connections
// in trackers that are on this server, which have just been tracked. diff,
// when non-nil, is a presence_diff for every member of channel on this
// server except trackers (their state already holds it). The slices are
// the callee's. A Sink must not block and must not call back into the
// backend: it may be called with a channel's lock held.
type Sink interface {
	DeliverPresence(channel string, state []byte, trackers []string, diff []byte)
}

// SinkFunc is a function that is a Sink.
type SinkFunc func(channel string, state []byte, trackers []string, diff []byte)

// DeliverPresence calls f.
func (f SinkFunc) DeliverPresence(channel string, state []byte, trackers []string, diff []byte) {
	f(channel, state, trackers, diff)
}
