package cluster

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The receive goroutine owns every view. It reads the node's one pub/sub
// connection: the node's directed channel, the broadcast channel, and c:<ch>
// for each channel with local members (room messages and presence events
// share it, so they arrive in publish order).
//
// A view is (re)loaded from a snapshot whenever Redis confirms a
// subscription to its channel — the first one, and every one go-redis makes
// again after a reconnect (a Redis restart is one) — and whenever an event
// does not follow the view's sequence (go-redis drops messages when its
// buffer stays full, so gaps happen and are detected here). A lost last
// event cannot show as a gap; every VerifyInterval the goroutine therefore
// compares each view with the channel's sequence in Redis one interval
// earlier and resyncs the views left behind.
//
// The same goroutine delivers the publications of channels with history
// (see history_redis.go): a snapshot also loads the channel's history
// position, and the verify also compares it.

// syncReq waits until the view of channel has reached at. newest is the
// cluster's newest epoch when at was read: a later epoch started after.
// With loaded set it waits until the view is loaded only (a history Read).
type syncReq struct {
	channel string
	at      pos
	newest  uint64
	loaded  bool
	done    chan struct{}
}

// receiver is the state of the receive goroutine. Owned by it; no locks.
type receiver struct {
	views   map[string]*view
	broken  map[string]bool      // views whose resync failed; retried
	checked map[string]pos       // Redis positions at the last verify
	waiters map[string][]syncReq // Sync calls by channel
	copies  map[string]int       // multi-channel messages: copies still due
	verify  chan verifyResult    // results of a verify fetch
	busy    bool                 // a verify fetch is running
	chans   []string             // the channels of the running fetch, the fetch's until it answers
	spare   verifyResult         // maps of an earlier check, cleared, for the next fetch
	due     dueQueue             // views waiting for a token (batch.go)
	timer   *time.Timer          // fires when due[0] is due

	hist        map[string]*histState // history positions of followed channels
	histChecked map[string]histPos    // their Redis positions at the last verify
}

// verifyResult is what a verify fetch read: the presence and history
// positions of the channels followed (both nil on error).
type verifyResult struct {
	pres map[string]pos
	hist map[string]histPos
}

func (n *Node) runReceive() {
	defer n.wg.Done()
	r := &receiver{
		views:   map[string]*view{},
		broken:  map[string]bool{},
		checked: map[string]pos{},
		waiters: map[string][]syncReq{},
		copies:  map[string]int{},
		verify:  make(chan verifyResult, 1),
		timer:   time.NewTimer(time.Hour),
		hist:    map[string]*histState{},
	}
	r.timer.Stop()
	defer r.timer.Stop()
	t := time.NewTicker(n.cfg.VerifyInterval)
	defer t.Stop()
	chanPrefix := n.k.prefix + "c:"
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if ch, ok := strings.CutPrefix(m.Channel, chanPrefix); ok {
					n.subscription(r, ch, m.Kind)
				}
			case *redis.Message:
				if ch, ok := strings.CutPrefix(m.Channel, chanPrefix); ok {
					n.channelMessage(r, ch, m.Payload)
				} else {
					n.nodeMessage(m.Payload)
				}
			}
		case req := <-n.syncReqs:
			r.waiters[req.channel] = append(r.waiters[req.channel], req)
			n.wakeWaiters(r, req.channel)
		case <-t.C:
			for ch := range r.broken {
				n.resync(r, ch)
			}
			if !r.busy && len(r.views) > 0 {
				r.busy = true
				r.chans = r.chans[:0]
				for ch := range r.views {
					r.chans = append(r.chans, ch)
				}
				go n.fetchPositions(r.chans, r.spare, r.verify)
				r.spare = verifyResult{}
			}
		case res := <-r.verify:
			r.busy = false
			prev := verifyResult{pres: r.checked, hist: r.histChecked}
			n.compare(r, res.pres)
			n.compareHistory(r, res.hist)
			if res.pres != nil {
				n.stats.Verifies.Add(1)
				// The previous check's maps hold the next one's answer.
				clear(prev.pres)
				clear(prev.hist)
				r.spare = prev
			}
		case <-r.timer.C:
			n.fire(r)
		case <-n.ctx.Done():
			return
		}
	}
}

// subscription handles Redis' confirmation of a (re)subscription.
func (n *Node) subscription(r *receiver, ch, kind string) {
	switch kind {
	case "subscribe":
		n.resync(r, ch)
	case "unsubscribe":
		if !n.isMember(ch) {
			delete(r.views, ch)
			delete(r.broken, ch)
			delete(r.hist, ch)
			n.wakeWaiters(r, ch)
		}
	}
}

// channelMessage handles a room message, a presence event or a history
// publication of ch.
func (n *Node) channelMessage(r *receiver, ch, msg string) {
	if len(msg) > 0 && msg[0] == kindRoom {
		if _, f, ok := splitFields(msg, 3); ok && f[0] != n.id {
			n.stats.Received.Add(1)
			n.local.DeliverRoom([]string{ch}, f[1] == string(flagBinary), []byte(f[2]))
		}
		return
	}
	if len(msg) > 0 && msg[0] == kindRooms {
		n.roomsMessage(r, msg)
		return
	}
	if drop := n.dropEvent.Load(); drop != nil && (*drop)(ch, msg) {
		return
	}
	if len(msg) > 0 && msg[0] == kindPub {
		n.publication(r, ch, msg)
		return
	}
	v := r.views[ch]
	if v == nil || r.broken[ch] {
		return // not following (yet), or waiting for a snapshot anyway
	}
	ev, ok := parseEvent(msg)
	if !ok {
		n.log.Warn("cluster: malformed presence event", "channel", ch)
		return
	}
	apply, skip := v.accepts(pos{ev.epoch, ev.seq})
	if skip {
		return
	}
	if apply {
		out, ok := v.apply(ev, n.claimer(ch))
		if ok {
			n.stats.Events.Add(1)
			n.send(ch, v, out)
			n.changed(r, ch, v)
			n.wakeWaiters(r, ch)
			return
		}
	}
	n.stats.Gaps.Add(1)
	n.resync(r, ch)
}

// roomsMessage delivers a message for several channels once: on the first
// of its copies to arrive (one per channel this node follows), to the
// members of all of them; later copies are skipped.
func (n *Node) roomsMessage(r *receiver, msg string) {
	_, f, ok := splitFields(msg, 4)
	if !ok {
		return
	}
	id := f[0]
	if node, _, _ := strings.Cut(id, "."); node == n.id {
		return
	}
	if left, seen := r.copies[id]; seen {
		if left <= 1 {
			delete(r.copies, id)
		} else {
			r.copies[id] = left - 1
		}
		return
	}
	var channels []string
	if err := jsonAPI.UnmarshalFromString(f[2], &channels); err != nil {
		return
	}
	following := 0
	for _, ch := range channels {
		if r.views[ch] != nil {
			following++
		}
	}
	if following > 1 {
		if len(r.copies) >= maxCopies {
			clear(r.copies) // copies lost to unsubscriptions; start over
		}
		r.copies[id] = following - 1
	}
	n.stats.Received.Add(1)
	n.local.DeliverRoom(channels, f[1] == string(flagBinary), []byte(f[3]))
}

// maxCopies bounds the multi-channel messages waiting for more copies.
const maxCopies = 10_000

// nodeMessage handles a directed or broadcast message.
func (n *Node) nodeMessage(msg string) {
	if len(msg) == 0 {
		return
	}
	switch msg[0] {
	case kindAll:
		if _, f, ok := splitFields(msg, 3); ok && f[0] != n.id {
			n.stats.Received.Add(1)
			n.local.DeliverAll(f[1] == string(flagBinary), []byte(f[2]))
		}
	case kindSend:
		if _, f, ok := splitFields(msg, 3); ok {
			n.local.Send(f[1], f[0] == string(flagBinary), []byte(f[2]))
		}
	case kindClose:
		if conn, code, reason, ok := parseClose(msg); ok {
			n.local.Close(conn, code, reason)
		}
	case kindJoin:
		if _, f, ok := splitFields(msg, 2); ok {
			n.local.Join(f[0], f[1])
		}
	case kindLeave:
		if _, f, ok := splitFields(msg, 2); ok {
			n.local.Leave(f[0], f[1])
		}
	}
}

// resync loads a snapshot of ch into its view: a first load when there is
// no view, a correction otherwise. On failure the view is marked broken
// (events are ignored) and retried at the next verify tick.
func (n *Node) resync(r *receiver, ch string) {
	if !n.isMember(ch) {
		delete(r.views, ch)
		delete(r.broken, ch)
		delete(r.hist, ch)
		n.wakeWaiters(r, ch)
		return
	}
	// What the view holds goes out first: the correction starts from it.
	if v := r.views[ch]; v != nil {
		n.flushView(ch, v)
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	flat, err := scripts.snapshot.Run(ctx, n.rdb, []string{n.k.entries(ch), n.k.meta(ch), n.k.histMeta(ch)}).StringSlice()
	cancel()
	if err != nil || len(flat) < 4 {
		if n.ctx.Err() == nil {
			n.log.Warn("cluster: presence snapshot failed", "channel", ch, "err", err)
		}
		if r.views[ch] == nil {
			r.views[ch] = n.newView()
		}
		r.broken[ch] = true
		return
	}
	at := parsePos([]any{flat[0], flat[1]})
	htop, _ := strconv.ParseUint(flat[3], 10, 64)
	es := make([]entry, 0, (len(flat)-4)/2)
	for i := 4; i+1 < len(flat); i += 2 {
		if e, ok := parseEntry(flat[i], flat[i+1]); ok {
			es = append(es, e)
		}
	}
	v := r.views[ch]
	if v == nil {
		v = n.newView()
		r.views[ch] = v
	}
	correct := v.loaded
	if correct {
		n.stats.Resyncs.Add(1)
	}
	delete(r.broken, ch)
	out := v.load(at, es, correct, n.claimer(ch))
	if correct && slices.ContainsFunc(out, func(d delivery) bool { return d.diff != nil }) {
		n.stats.Corrections.Add(1)
	}
	n.send(ch, v, out)
	n.loadHistory(r, ch, !correct, flat[2], htop)
	n.wakeWaiters(r, ch)
}

// fetchPositions reads the Redis presence and history positions of every
// channel into res's maps (new ones if nil) and sends the result (nil maps
// on error). Runs on its own goroutine. One script call reads
// positionsChunk channels and answers for those that have a position only.
func (n *Node) fetchPositions(chans []string, res verifyResult, out chan<- verifyResult) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	pipe := n.rdb.Pipeline()
	var cmds []*redis.Cmd
	for from := 0; from < len(chans); from += positionsChunk {
		part := chans[from:min(from+positionsChunk, len(chans))]
		args := make([]any, 0, 1+len(part))
		args = append(args, n.k.prefix)
		for _, ch := range part {
			args = append(args, ch)
		}
		cmds = append(cmds, scripts.positions.EvalSha(ctx, pipe, nil, args...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		if strings.HasPrefix(err.Error(), "NOSCRIPT") {
			_ = n.loadScripts(ctx)
		}
		out <- verifyResult{}
		return
	}
	if res.pres == nil || res.hist == nil {
		res.pres = make(map[string]pos, len(chans))
		res.hist = make(map[string]histPos, len(chans))
	}
	for _, ch := range chans {
		res.pres[ch], res.hist[ch] = pos{}, histPos{}
	}
	for c, cmd := range cmds {
		vals, _ := cmd.Slice()
		for i := 0; i+4 < len(vals); i += 5 {
			k, _ := vals[i].(int64)
			if k < 1 || int(k) > positionsChunk || c*positionsChunk+int(k) > len(chans) {
				continue
			}
			ch := chans[c*positionsChunk+int(k)-1]
			res.pres[ch] = parsePos(vals[i+1 : i+3])
			res.hist[ch] = parseHistPos(vals[i+3 : i+5])
		}
	}
	out <- res
}

// positionsChunk is the number of channels one positions script reads.
const positionsChunk = 500

// compare resyncs the views that are behind what Redis had one verify
// interval ago, the channel's epoch being unchanged since.
func (n *Node) compare(r *receiver, res map[string]pos) {
	if res == nil {
		return
	}
	for ch, cur := range res {
		prev, had := r.checked[ch]
		v := r.views[ch]
		if !had || v == nil || r.broken[ch] || prev.epoch != cur.epoch {
			continue
		}
		behind := v.at.epoch != prev.epoch || v.at.seq < prev.seq
		if prev.epoch == 0 {
			behind = !v.empty()
		}
		if behind {
			n.stats.Gaps.Add(1)
			n.resync(r, ch)
		}
	}
	r.checked = res
}

// wakeWaiters releases the Sync calls on ch that the view has satisfied,
// after publishing its pending batch (as presence.Memory's Sync does).
func (n *Node) wakeWaiters(r *receiver, ch string) {
	ws := r.waiters[ch]
	if len(ws) == 0 {
		return
	}
	v := r.views[ch]
	keep := ws[:0]
	for _, w := range ws {
		switch {
		case v == nil && !n.isMember(ch):
			close(w.done)
		case v != nil && !r.broken[ch] && w.loaded:
			close(w.done)
		case v != nil && !r.broken[ch] && reached(v, w.at, w.newest):
			n.flushView(ch, v)
			close(w.done)
		default:
			keep = append(keep, w)
		}
	}
	if len(keep) == 0 {
		delete(r.waiters, ch)
	} else {
		r.waiters[ch] = keep
	}
}

// reached reports whether v has applied everything up to at (read when
// newest was the cluster's newest epoch).
func reached(v *view, at pos, newest uint64) bool {
	switch {
	case at.epoch == 0:
		return v.empty() || v.at.epoch > newest
	case v.at.epoch > at.epoch:
		return true
	case v.at.epoch == at.epoch:
		return v.at.seq >= at.seq
	}
	return false
}

// newView returns an empty view of a channel for this node.
func (n *Node) newView() *view {
	return newView(n.cfg.PresenceMode, n.cfg.MaxStaleRefs, n.id)
}

// claimer returns the claimFunc of channel ch.
func (n *Node) claimer(ch string) claimFunc {
	return func(connIDs []string) []string {
		var out []string
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, id := range connIDs {
			trs, _ := n.tracks.get(n.key(id))
			if t := trs[ch]; t != nil && t.pending {
				t.pending = false
				out = append(out, id)
			}
		}
		return out
	}
}

func (n *Node) deliver(ch string, out []delivery) {
	for _, d := range out {
		if d.diff != nil {
			n.stats.Diffs.Add(1)
		}
		if d.state != nil {
			n.stats.States.Add(1)
		}
		n.local.DeliverPresence(ch, d.state, d.trackers, d.diff)
	}
}

// runSubscriptions applies membership changes to the pub/sub connection:
// a channel is subscribed while it has local members.
func (n *Node) runSubscriptions() {
	defer n.wg.Done()
	subscribed := map[string]bool{}
	for {
		select {
		case <-n.subWake:
		case <-n.ctx.Done():
			return
		}
		n.mu.Lock()
		var sub, unsub []string
		for ch := range n.subDirty {
			want := n.rooms[ch] != nil
			if want != subscribed[ch] {
				if want {
					sub = append(sub, n.k.chanTopic(ch))
					subscribed[ch] = true
				} else {
					unsub = append(unsub, n.k.chanTopic(ch))
					delete(subscribed, ch)
				}
			}
		}
		clear(n.subDirty)
		n.mu.Unlock()
		// go-redis remembers the channels even when the command fails and
		// subscribes them again on its next connection.
		if len(unsub) > 0 {
			if err := n.ps.Unsubscribe(n.ctx, unsub...); err != nil && n.ctx.Err() == nil {
				n.log.Warn("cluster: unsubscribe", "err", err)
			}
		}
		if len(sub) > 0 {
			if err := n.ps.Subscribe(n.ctx, sub...); err != nil && n.ctx.Err() == nil {
				n.log.Warn("cluster: subscribe", "err", err)
			}
		}
	}
}
