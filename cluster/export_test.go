package cluster

import (
	"context"
	"strconv"

	"github.com/ripple-rt/ripple/history"
)

// Test hooks, compiled into the package for its tests only.

// Crash stops the node as kill -9 would, as far as Redis can tell.
func (n *Node) Crash() { n.crash() }

// PauseHeartbeat stops (true) or resumes (false) the heartbeats, as a
// paused process would.
func (n *Node) PauseHeartbeat(p bool) { n.hbPause.Store(p) }

// DropEvents makes the receiver drop the presence events and the history
// publications (messages of kind P) f returns true for (nil: none).
func (n *Node) DropEvents(f func(channel, msg string) bool) {
	if f == nil {
		n.dropEvent.Store(nil)
		return
	}
	n.dropEvent.Store(&f)
}

// PublishHistoryAs runs the publish script at once, as a publication of
// process proc with sequence seq would; it returns the offset (0: a
// publication sent already).
func (n *Node) PublishHistoryAs(ctx context.Context, channel string, opts history.Options, proc string, seq uint64, payload []byte) (int64, error) {
	opts = opts.Normalize()
	return scripts.historyPublish.Run(ctx, n.rdb, []string{n.k.histMeta(channel), n.k.hist(channel)},
		newEpoch(proc, seq), opts.Size, opts.TTL.Milliseconds(), n.k.chanTopic(channel), string(flagText), payload,
		"p:"+n.id, proc+":"+strconv.FormatUint(seq, 10)).Int64()
}

// Retained is what a history read hands history.Recover.
func Retained(top history.Position, first uint64, pubs []history.Publication, since *history.Position, limit int) []history.Publication {
	return retained(top, first, pubs, since, limit)
}
