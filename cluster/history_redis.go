package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/ripple-rt/ripple/history"
)

// RedisHistory is the history.Backend of a Node: each channel with history
// is a Redis Stream of its retained publications and a meta hash with its
// epoch and top offset (see keys). One script numbers a publication,
// appends it and publishes it on the channel's topic, so Redis gives every
// channel one order that all nodes see; every node following the channel
// (the publishing one too) delivers the publication from pub/sub to
// Local.DeliverPublication, in offset order, filling from the stream what
// pub/sub lost.
//
// Publish queues the script and never waits. Read waits for Redis, behind
// every write this node queued before it.
type RedisHistory struct {
	n *Node // Immutable after construction.
}

var _ history.Backend = (*RedisHistory)(nil)

// History returns the node's history backend.
func (n *Node) History() *RedisHistory { return &RedisHistory{n: n} }

// Publish appends payload to channel's history and publishes it to every
// node following channel, this one included: it reaches Local from Redis,
// like the others' publications, not here. It is queued like the node's
// other writes (a full queue drops it, see Config.MaxQueue) and sent once
// even when its pipeline is sent again.
func (h *RedisHistory) Publish(channel string, opts history.Options, binary bool, payload []byte) {
	n := h.n
	opts = opts.Normalize()
	keys := []string{n.k.histMeta(channel), n.k.hist(channel)}
	topic := n.k.chanTopic(channel)
	flag := string(binFlag(binary))
	ttl := max(opts.TTL.Milliseconds(), 1)
	publisher := "p:" + n.id
	n.mu.Lock()
	defer n.mu.Unlock()
	// Taken under mu, the sequence grows in queue order, as the script's
	// check of a publication sent twice wants.
	seq := n.refSeq.Add(1)
	n.enqueue(op{add: func(p redis.Pipeliner, inc string) redis.Cmder {
		return scripts.historyPublish.EvalSha(n.ctx, p, keys, newEpoch(inc, seq), opts.Size, ttl, topic,
			flag, payload, publisher, inc+":"+strconv.FormatUint(seq, 10))
	}})
}

// newEpoch returns an epoch candidate: the start of the node's incarnation
// (random) and a sequence number of this process, "<8 chars>-<seq>".
func newEpoch(inc string, seq uint64) string {
	return inc[:min(8, len(inc))] + "-" + strconv.FormatUint(seq, 36)
}

// Read returns channel's history as history.Backend documents. When the
// node has members of channel it first waits until it follows the channel
// (its subscription confirmed and its position loaded), so that a
// publication either is in the result or reaches Local afterwards (maybe
// both: the engine skips what it has). The position, the retained
// publications and the epoch of a channel without one are read and made
// in one script, behind this node's queued publications.
func (h *RedisHistory) Read(ctx context.Context, channel string, opts history.Options, since *history.Position, limit int) (history.Result, error) {
	n := h.n
	opts = opts.Normalize()
	if n.isMember(channel) {
		if err := n.follow(ctx, channel); err != nil {
			return history.Result{}, err
		}
	}
	given, sinceEpoch, from := "0", "", uint64(0)
	if since != nil {
		given, sinceEpoch, from = "1", since.Epoch, since.Offset+1
	}
	count := limit // the script's count: 0 all, -1 none
	if limit < 0 {
		count = -1
	}
	keys := []string{n.k.histMeta(channel), n.k.hist(channel)}
	ttl := max(opts.TTL.Milliseconds(), 1)
	seq := n.refSeq.Add(1)
	c, err := n.read(ctx, func(p redis.Pipeliner, inc string) redis.Cmder {
		return scripts.historyRead.EvalSha(n.ctx, p, keys, newEpoch(inc, seq), ttl, given, sinceEpoch, from, count)
	})
	if err != nil {
		return history.Result{}, err
	}
	vals, err := c.(*redis.Cmd).Slice()
	if err != nil {
		return history.Result{}, err
	}
	if len(vals) < 3 {
		return history.Result{}, fmt.Errorf("cluster: history read of %q: short reply", channel)
	}
	epoch, _ := vals[0].(string)
	last, first := replyUint(vals[1]), replyUint(vals[2])
	pubs := parsePublications(vals[3:])
	if epoch == "" {
		return history.Result{}, fmt.Errorf("cluster: history read of %q: no epoch", channel)
	}
	top := history.Position{Epoch: epoch, Offset: last}
	return history.Recover(top, retained(top, first, pubs, since, limit), since, limit), nil
}

// retained returns what history.Recover wants from a read at top: the
// retained publications, oldest first, from first to top.Offset. The
// script sent only those Recover may return (from since on, limit of
// them), so the older ones are offsets without payloads, which Recover
// only counts; when it returns no publication at all, the oldest offset is
// all it needs.
func retained(top history.Position, first uint64, pubs []history.Publication, since *history.Position, limit int) []history.Publication {
	switch {
	case first > top.Offset:
		return nil
	case limit < 0, since != nil && (since.Epoch != top.Epoch || since.Offset > top.Offset || since.Offset+1 < first):
		return []history.Publication{{Offset: first}}
	}
	start := top.Offset + 1
	if len(pubs) > 0 {
		start = pubs[0].Offset
	}
	if start <= first {
		return pubs
	}
	out := make([]history.Publication, 0, int(start-first)+len(pubs))
	for off := first; off < start; off++ {
		out = append(out, history.Publication{Offset: off})
	}
	return append(out, pubs...)
}

// parsePublications reads the offset, flag, payload triples of a script's
// reply.
func parsePublications(vals []any) []history.Publication {
	pubs := make([]history.Publication, 0, len(vals)/3)
	for i := 0; i+2 < len(vals); i += 3 {
		flag, _ := vals[i+1].(string)
		payload, _ := vals[i+2].(string)
		pubs = append(pubs, history.Publication{Offset: replyUint(vals[i]), Binary: flag == string(flagBinary), Payload: []byte(payload)})
	}
	return pubs
}

// replyUint reads a number of a script's reply.
func replyUint(v any) uint64 {
	switch v := v.(type) {
	case int64:
		if v > 0 {
			return uint64(v)
		}
	case string:
		u, _ := strconv.ParseUint(v, 10, 64)
		return u
	}
	return 0
}

// follow returns once the node follows channel: Redis confirmed its
// subscription and the receiver loaded the channel's view and history
// position (or the node has no member there any more).
func (n *Node) follow(ctx context.Context, channel string) error {
	req := syncReq{channel: channel, loaded: true, done: make(chan struct{})}
	select {
	case n.syncReqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrClosed
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.ctx.Done():
		return ErrClosed
	}
}

// Delivery. The receive goroutine keeps, per channel it follows, the
// position of the last publication it delivered (histState) and hands
// Local each publication once, in offset order:
//
//   - a publication at or before that position is skipped (it was filled
//     from the stream already);
//   - one past the next offset means pub/sub lost some: they are read from
//     the stream and delivered first (a gap);
//   - one of another epoch starts that epoch (from its first offset: the
//     ones before it are filled too), and the old epoch is retired: its
//     late publications are stale and skipped;
//   - a snapshot (the subscription confirmed, again after a reconnect, or
//     a presence resync) loads the channel's epoch and top: the channel's
//     first load only sets the position (the publications that arrive
//     afterwards came after the subscription, so those at or before it
//     are new here until one is delivered); a later one fills what the
//     node missed meanwhile;
//   - the verify compares the position with the top Redis had one
//     VerifyInterval earlier, which catches a lost last publication.
//
// A fill that fails marks the channel broken: its publications are ignored
// until the next verify fills from the stream again.

// histPos is a channel's history position in Redis: its epoch ("" when it
// has none) and top offset.
type histPos struct {
	epoch string
	top   uint64
}

// parseHistPos reads HMGET hm e t.
func parseHistPos(vals []any) histPos {
	var p histPos
	if len(vals) == 2 {
		p.epoch, _ = vals[0].(string)
		if s, ok := vals[1].(string); ok {
			p.top, _ = strconv.ParseUint(s, 10, 64)
		}
	}
	return p
}

// histState is the history position of one channel on this node. Owned by
// the receive goroutine; no locks.
type histState struct {
	epoch   string   // "" before the first epoch seen
	last    uint64   // the newest offset delivered (or loaded first)
	retired []string // epochs left, oldest first, at most maxRetired
	broken  bool     // a fill failed: ignore publications until the verify
	// fresh: last was loaded by the channel's first snapshot and nothing
	// was delivered since, so a publication at or before it is not one
	// delivered already (it came after the subscription).
	fresh bool
}

// maxRetired bounds the epochs a channel remembers having left.
const maxRetired = 4

// move starts epoch, retiring the current one.
func (st *histState) move(epoch string) {
	if st.epoch != "" {
		if len(st.retired) == maxRetired {
			st.retired = slices.Delete(st.retired, 0, 1)
		}
		st.retired = append(st.retired, st.epoch)
	}
	st.epoch, st.last, st.fresh = epoch, 0, false
}

// publication handles a P message of ch.
func (n *Node) publication(r *receiver, ch, msg string) {
	v := r.views[ch]
	if v == nil {
		return // not following
	}
	_, f, ok := splitFields(msg, 4)
	var off uint64
	var err error
	if ok {
		off, err = strconv.ParseUint(f[1], 10, 64)
	}
	if !ok || err != nil || off == 0 || f[0] == "" {
		n.log.Warn("cluster: malformed publication", "channel", ch)
		return
	}
	epoch, binary, payload := f[0], f[2] == string(flagBinary), f[3]
	st := r.hist[ch]
	if st == nil {
		st = &histState{}
		r.hist[ch] = st
		if !v.loaded {
			// No snapshot yet: this publication is where the node starts.
			st.epoch, st.last = epoch, off-1
		}
		// Else the snapshot found no history: its epoch started since.
	}
	if st.broken || slices.Contains(st.retired, epoch) {
		return
	}
	if epoch != st.epoch {
		st.move(epoch)
	}
	if st.fresh && off <= st.last {
		st.last = off - 1
	}
	if off <= st.last {
		return
	}
	if off > st.last+1 {
		n.stats.HistoryGaps.Add(1)
		if !n.fillHistory(ch, st, off-1) {
			return
		}
	}
	n.deliverPublication(ch, st, off, binary, []byte(payload))
}

// loadHistory brings ch's history state up to what Redis had at (epoch,
// top), delivering from the stream the publications the node missed. first
// is the channel's first load since the node follows it, which only sets
// where the node starts.
func (n *Node) loadHistory(r *receiver, ch string, first bool, epoch string, top uint64) {
	st := r.hist[ch]
	if epoch == "" {
		if st != nil {
			st.broken = false // nothing left to fill
		}
		return
	}
	if st == nil {
		st = &histState{}
		r.hist[ch] = st
		if first {
			st.epoch, st.last, st.fresh = epoch, top, true
			return
		}
	}
	st.broken = false
	if slices.Contains(st.retired, epoch) {
		return
	}
	if epoch != st.epoch {
		st.move(epoch)
	}
	if top > st.last {
		n.stats.HistoryGaps.Add(1)
		n.fillHistory(ch, st, top)
	}
}

// compareHistory loads, for every channel followed, the history position
// Redis had at the previous verify (its epoch unchanged since), and the
// current one for the channels whose fill failed.
func (n *Node) compareHistory(r *receiver, res map[string]histPos) {
	if res == nil {
		return
	}
	for ch, cur := range res {
		v := r.views[ch]
		if v == nil || !v.loaded || r.broken[ch] {
			continue // the presence resync loads the history too
		}
		if st := r.hist[ch]; st != nil && st.broken {
			n.loadHistory(r, ch, false, cur.epoch, cur.top)
			continue
		}
		if prev, had := r.histChecked[ch]; had && prev.epoch != "" && prev.epoch == cur.epoch {
			n.loadHistory(r, ch, false, prev.epoch, prev.top)
		}
	}
	r.histChecked = res
}

// fillHistory delivers the publications of st's epoch after st.last up to
// to from the stream. Those no longer there are lost; so are all of them
// when the channel's epoch has changed. false when Redis did not answer:
// st is then broken.
func (n *Node) fillHistory(ch string, st *histState, to uint64) bool {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	vals, err := scripts.historyRange.Run(ctx, n.rdb, []string{n.k.histMeta(ch), n.k.hist(ch)},
		st.epoch, st.last+1, to).Slice()
	cancel()
	if err != nil || len(vals) == 0 {
		if n.ctx.Err() == nil {
			n.log.Warn("cluster: history fill failed", "channel", ch, "err", err)
		}
		st.broken = true
		return false
	}
	if epoch, _ := vals[0].(string); epoch == st.epoch {
		for _, p := range parsePublications(vals[1:]) {
			if p.Offset <= st.last || p.Offset > to {
				continue
			}
			n.stats.HistoryLost.Add(int64(p.Offset - st.last - 1))
			n.stats.HistoryFilled.Add(1)
			n.deliverPublication(ch, st, p.Offset, p.Binary, p.Payload)
		}
	}
	if to > st.last {
		n.stats.HistoryLost.Add(int64(to - st.last))
		st.last = to
	}
	st.fresh = false
	return true
}

// deliverPublication hands one publication to Local and moves st to it.
func (n *Node) deliverPublication(ch string, st *histState, off uint64, binary bool, payload []byte) {
	st.last, st.fresh = off, false
	n.stats.Publications.Add(1)
	n.local.DeliverPublication(ch, history.Position{Epoch: st.epoch, Offset: off}, binary, payload)
}
