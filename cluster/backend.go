package cluster

import (
	"context"

	"github.com/ripple-rt/ripple/presence"
)

// Backend keeps the presences a node's engine tracks. Its messages go to a
// PresenceSink given when it is made: the tracker's presence_state and the
// diffs for the channel's members, in one order per channel.
//
// Track, Untrack and SetState validate and answer at once (the errors are
// package presence's: ErrNoChannel, ErrAlreadyTracked, ErrNotTracked, ...);
// a backend may deliver the messages later, but in the order of the
// changes. List, Count and Get see every change made through this backend
// before them (and, on Redis, every change of the cluster that reached
// Redis). Sync returns once every message of channel that was due when it
// was called has been delivered here.
//
// Implementations: *MemoryPresence (one process, over presence.Registry)
// and *RedisPresence (a cluster, Node.Presence).
type Backend interface {
	Track(channel, connID, userID string, meta map[string]any) error
	Untrack(channel, connID string) error
	SetState(channel, connID, state string) error
	List(ctx context.Context, channel string) ([]presence.Presence, error)
	Count(ctx context.Context, channel string) (int, error)
	Get(ctx context.Context, channel, userID string) (presence.Presence, bool, error)
	Sync(ctx context.Context, channel string) error
}

var (
	_ Backend = (*MemoryPresence)(nil)
	_ Backend = (*RedisPresence)(nil)
)
