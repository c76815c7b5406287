package cluster

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/ripple-rt/ripple/presence"
)

// A view is one node's replica of a channel's presences, fed by the
// channel's events in sequence order; it turns the events into the messages
// for this node's members with exactly the rules of presence.Registry (see
// package presence): joins only for a user's first connection in ModeUser,
// leaves that retract every phx_ref a local client may hold, compaction
// past MaxStaleRefs, ModeConnection's leave+join per change, and batches.
//
// Batches: a view records each event's diff entries in a presence.Batch,
// and the connections tracked meanwhile (but those of other nodes) as its
// trackers; those still waiting for their presence_state (claimFunc says
// which) get it when the batch goes out. The receive goroutine publishes
// the batch (flush) after every event without batching, or by the
// channel's token bucket (see batch.go): one presence_diff merging every
// change, one presence_state, encoded once, for every tracker. The rules
// are the Registry's: a second change of a user in the batch publishes it
// first (so do a compaction and the untrack that empties the channel, see
// apply's result), and the state reflects the view when the batch goes
// out, so the trackers do not get its diff.
//
// What clients may hold is per node: a view counts the presence_states it
// sent (gen) and remembers which metas went out in its joins or in a state
// sent to another connection (announced), so its stale refs are those of
// its own clients.
//
// A view is owned by the node's receive goroutine; no locks.
type view struct {
	// Immutable after construction.
	mode     presence.Mode
	maxStale int
	node     string // this node's id

	at     pos               // last event applied (or snapshot loaded)
	loaded bool              // a snapshot was loaded: the view speaks for its members
	conns  map[string]*vconn // by connection id
	users  map[string]*vuser // by user key
	gen    uint64            // presence_states sent from this view

	// The changes not yet sent; trackers by connection id.
	b      presence.Batch[string]
	bucket presence.Bucket // the channel's tokens (batching only)
	armed  bool            // a due entry will publish the batch
}

type vconn struct {
	id        string
	u         *vuser
	meta      []byte
	ref       string
	pos       uint64 // order among the user's metas (snapshot loads)
	born      uint64 // gen after this conn's own presence_state, if any
	announced bool   // went out in a joins diff, or in a state sent to another conn
	waiting   bool   // among the batch's trackers
}

type vuser struct {
	key   string
	conns []*vconn
	// stale holds, in ModeUser, metas of untracked connections some local
	// client may still hold; the user's final leave carries them.
	stale [][]byte
	// entry is key:{"metas":[...]} of conns, nil until needed again after
	// a change (see encoded).
	entry []byte
}

// encoded returns u's entry with its current metas.
func (u *vuser) encoded() []byte {
	if u.entry == nil {
		u.entry = encodeEntry(u.key, metasOf(u.conns))
	}
	return u.entry
}

// pos is a point in a channel's event stream. Epochs grow; an empty channel
// in Redis is epoch 0.
type pos struct{ epoch, seq uint64 }

// parsePos reads HMGET pm e s.
func parsePos(vals []any) pos {
	var p pos
	if len(vals) == 2 {
		if s, ok := vals[0].(string); ok {
			p.epoch, _ = strconv.ParseUint(s, 10, 64)
		}
		if s, ok := vals[1].(string); ok {
			p.seq, _ = strconv.ParseUint(s, 10, 64)
		}
	}
	return p
}

// delivery is one call to Local.DeliverPresence: state for trackers, diff
// for every member but the trackers.
type delivery struct {
	state    []byte
	trackers []string
	diff     []byte
}

// claimFunc returns, among connIDs, the local trackers still waiting for
// their presence_state in this channel, and marks them served. The result
// is a new slice.
type claimFunc func(connIDs []string) []string

func newView(mode presence.Mode, maxStale int, node string) *view {
	return &view{mode: mode, maxStale: maxStale, node: node, conns: map[string]*vconn{}, users: map[string]*vuser{}}
}

// mayWait reports whether connID may be a local tracker waiting for its
// presence_state: not when its id routes to another node.
func (v *view) mayWait(connID string) bool {
	node, ok := Route(connID)
	return !ok || node == v.node
}

// empty reports whether the view holds no presence.
func (v *view) empty() bool { return len(v.conns) == 0 }

// accepts says what to do with an event at p: apply it, skip it (already
// in the view) or resync (something is missing).
func (v *view) accepts(p pos) (apply, skip bool) {
	switch {
	case p.epoch < v.at.epoch, p.epoch == v.at.epoch && p.seq <= v.at.seq:
		return false, true
	case p.epoch == v.at.epoch && p.seq == v.at.seq+1:
		return true, false
	case p.epoch > v.at.epoch && p.seq == 1 && v.empty():
		// The channel emptied (which deletes its epoch) and started again.
		return true, false
	}
	return false, false
}

// apply applies one event already accepted: the view changes and the
// event's diff entries join the batch. out holds the publications that
// could not wait (the batch before a second change of a user in it, a
// compaction, the untrack that empties the channel); the caller publishes
// what is left in the batch. ok is false when the event does not fit the
// view (it must be resynced); the view is then unchanged.
func (v *view) apply(ev event, claim claimFunc) (out []delivery, ok bool) {
	switch ev.kind {
	case kindTrack:
		out, ok = v.track(ev.conn, ev.user, ev.meta, ev.seq, claim)
	case kindUntrack:
		out, ok = v.untrack([]string{ev.conn}, claim)
	case kindBatch:
		out, ok = v.untrack(ev.conns, claim)
	case kindSet:
		out, ok = v.set(ev.conn, ev.meta, ev.seq, claim)
	}
	if ok {
		v.at = pos{ev.epoch, ev.seq}
	}
	return out, ok
}

// begin publishes the batch when it holds a change of user.
func (v *view) begin(key string, out []delivery, claim claimFunc) []delivery {
	if v.b.Has(key) {
		out = v.flush(out, claim)
	}
	return out
}

func (v *view) track(id, key string, meta []byte, seq uint64, claim claimFunc) ([]delivery, bool) {
	if v.conns[id] != nil {
		return nil, false
	}
	out := v.begin(key, nil, claim)
	u := v.users[key]
	first := u == nil
	if first {
		u = &vuser{key: key}
		v.users[key] = u
	}
	c := &vconn{id: id, u: u, meta: meta, ref: refOf(meta), pos: seq, born: v.gen}
	u.conns = append(u.conns, c)
	u.entry = nil
	v.conns[id] = c
	if first || v.mode == presence.ModeConnection {
		c.announced = true
		v.b.Join(key, encodeEntry(key, [][]byte{meta}))
	}
	if v.mayWait(id) {
		c.waiting = true
		v.b.AddTracker(id) // claimed, or not, when the batch goes out
	}
	return out, true
}

// untrack removes connections (one, or a reaper's batch): one leave entry
// per user that changes (plus ModeUser compactions).
func (v *view) untrack(ids []string, claim claimFunc) ([]delivery, bool) {
	type gone struct {
		u  *vuser
		cs []*vconn
	}
	var order []*gone
	byUser := map[*vuser]*gone{}
	for _, id := range ids {
		c := v.conns[id]
		if c == nil {
			return nil, false
		}
		g := byUser[c.u]
		if g == nil {
			g = &gone{u: c.u}
			byUser[c.u] = g
			order = append(order, g)
		}
		if !slices.Contains(g.cs, c) {
			g.cs = append(g.cs, c)
		}
	}
	var out []delivery
	for _, g := range order {
		u := g.u
		out = v.begin(u.key, out, claim)
		var all, shown [][]byte // every removed meta; those a local client may hold
		for _, c := range g.cs {
			delete(v.conns, c.id)
			if c.waiting {
				v.b.DropTracker(c.id)
			}
			i := slices.Index(u.conns, c)
			u.conns = slices.Delete(u.conns, i, i+1)
			all = append(all, c.meta)
			if c.announced || v.gen > c.born {
				shown = append(shown, c.meta)
			}
		}
		u.entry = nil
		switch {
		case v.mode == presence.ModeConnection:
			v.b.Leave(u.key, encodeEntry(u.key, all))
		case len(u.conns) == 0:
			// The user leaves: retract every ref a local client may hold.
			v.b.Leave(u.key, encodeEntry(u.key, u.stale, all))
			u.stale = nil
		default:
			u.stale = append(u.stale, shown...)
			if len(u.stale) > v.maxStale {
				out = v.compact(u, out, claim)
			}
		}
		if len(u.conns) == 0 {
			delete(v.users, u.key)
		}
	}
	if v.empty() {
		// As the Registry does when a channel empties.
		out = v.flush(out, claim)
	}
	return out, true
}

// compact retracts every held ref of u and joins its current metas: two
// diffs, as presence.Registry's compaction (the join may merge with later
// changes). u is not in the batch.
func (v *view) compact(u *vuser, out []delivery, claim claimFunc) []delivery {
	v.b.Leave(u.key, encodeEntry(u.key, u.stale, metasOf(u.conns)))
	out = v.flush(out, claim)
	v.b.Join(u.key, u.encoded())
	u.stale = nil
	for _, c := range u.conns {
		c.announced = true
	}
	return out
}

func (v *view) set(id string, meta []byte, seq uint64, claim claimFunc) ([]delivery, bool) {
	c := v.conns[id]
	if c == nil {
		return nil, false
	}
	u := c.u
	out := v.begin(u.key, nil, claim)
	old := c.meta
	c.meta, c.ref = meta, refOf(meta)
	u.entry = nil
	if v.mode == presence.ModeConnection {
		i := slices.Index(u.conns, c)
		u.conns = append(slices.Delete(u.conns, i, i+1), c)
		c.pos = seq
		c.announced = true
		v.b.Join(u.key, encodeEntry(u.key, [][]byte{meta}))
		v.b.Leave(u.key, encodeEntry(u.key, [][]byte{old}))
	} else {
		for _, o := range u.conns {
			o.announced = true
		}
		v.b.Join(u.key, u.encoded())
	}
	return out, true
}

// flush appends the batch's publication to out and empties the batch: the
// trackers still waiting for their state get one presence_state, encoded
// once from the view as it is now (it holds the batch's changes), and the
// other members get the merged diff.
func (v *view) flush(out []delivery, claim claimFunc) []delivery {
	if v.b.Empty() {
		return out
	}
	var d delivery
	cands := v.b.Trackers()
	if len(cands) > 0 {
		d.trackers = claim(cands)
	}
	if len(d.trackers) > 0 {
		v.gen++
		d.state = v.encodeState()
	}
	for _, id := range cands {
		c := v.conns[id]
		c.born, c.waiting = v.gen, false
		if len(d.trackers) > 1 || len(d.trackers) == 1 && d.trackers[0] != id {
			c.announced = true // in a state sent to another connection
		}
	}
	d.diff = v.b.Diff()
	v.b.Reset()
	if d.state == nil && d.diff == nil {
		return out
	}
	return append(out, d)
}

// encodeState returns the presence_state message of the view.
func (v *view) encodeState() []byte {
	entries := make([][]byte, 0, len(v.users))
	for _, u := range v.users {
		entries = append(entries, u.encoded())
	}
	return presence.EncodeState(entries)
}

// load replaces the view's content with a snapshot taken at p; the batch
// must be empty (published first). When correct is set (the view was
// live: a resync) the members get ONE diff taking what they hold to the
// snapshot (plus ModeUser compactions); on a first load they get nothing,
// as a new member of a single node gets only later diffs. Local trackers
// still waiting get their presence_state, one for all of them.
func (v *view) load(p pos, es []entry, correct bool, claim claimFunc) []delivery {
	sortEntries(es)
	nv := newView(v.mode, v.maxStale, v.node)
	nv.gen = v.gen
	nv.at = p
	nv.loaded = true
	nv.bucket, nv.armed = v.bucket, v.armed
	for _, e := range es {
		u := nv.users[e.user]
		if u == nil {
			u = &vuser{key: e.user}
			nv.users[e.user] = u
		}
		c := &vconn{id: e.conn, u: u, meta: e.meta, ref: refOf(e.meta), pos: e.pos, born: nv.gen}
		u.conns = append(u.conns, c)
		nv.conns[e.conn] = c
	}
	var out []delivery
	if correct {
		out = v.correction(nv, claim)
	}
	*v = *nv
	for _, e := range es {
		if v.mayWait(e.conn) {
			v.conns[e.conn].waiting = true
			v.b.AddTracker(e.conn)
		}
	}
	return v.flush(out, claim)
}

// correction records in nv's batch the diff from what v's clients hold to
// nv, and moves the per-node bookkeeping (stale refs, announced, born) over
// to nv. It returns the publications a ModeUser compaction made.
func (v *view) correction(nv *view, claim claimFunc) []delivery {
	var out []delivery
	for key, ou := range v.users {
		if nv.users[key] == nil {
			nv.b.Leave(key, encodeEntry(key, ou.stale, metasOf(ou.conns)))
		}
	}
	same := func(oc, nc *vconn) bool {
		return oc != nil && nc != nil && oc.u.key == nc.u.key && bytes.Equal(oc.meta, nc.meta)
	}
	for key, nu := range nv.users {
		ou := v.users[key]
		if ou == nil {
			nv.b.Join(key, nu.encoded())
			for _, c := range nu.conns {
				c.announced = true
			}
			continue
		}
		nu.stale = ou.stale
		changed := len(ou.conns) != len(nu.conns)
		for _, nc := range nu.conns {
			if oc := v.conns[nc.id]; same(oc, nc) {
				nc.announced, nc.born = oc.announced, oc.born
			} else {
				changed = true
			}
		}
		if !changed {
			continue
		}
		if v.mode == presence.ModeConnection {
			var j, l [][]byte
			for _, oc := range ou.conns {
				if !same(oc, nv.conns[oc.id]) {
					l = append(l, oc.meta)
				}
			}
			for _, nc := range nu.conns {
				if !same(v.conns[nc.id], nc) {
					j = append(j, nc.meta)
					nc.announced = true
				}
			}
			if len(j) > 0 {
				nv.b.Join(key, encodeEntry(key, j))
			}
			if len(l) > 0 {
				nv.b.Leave(key, encodeEntry(key, l))
			}
			continue
		}
		// ModeUser: the user stays, so no leaves (the seed's client would
		// drop it); refs that went away become stale, the joins carry the
		// current metas.
		refs := make(map[string]bool, len(nu.conns))
		for _, nc := range nu.conns {
			refs[nc.ref] = true
			nc.announced = true
		}
		for _, oc := range ou.conns {
			if !refs[oc.ref] {
				nu.stale = append(nu.stale, oc.meta)
			}
		}
		if len(nu.stale) > v.maxStale {
			// Its leave retracts every ref clients may hold, stale or
			// current, and its join brings the current metas back.
			out = nv.compact(nu, out, claim)
			continue
		}
		nv.b.Join(key, nu.encoded())
	}
	return out
}

func metasOf(cs []*vconn) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = c.meta
	}
	return out
}

// sortEntries orders entries as List shows metas: by position, then id.
func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		if a.pos != b.pos {
			if a.pos < b.pos {
				return -1
			}
			return 1
		}
		return strings.Compare(a.conn, b.conn)
	})
}

func sortPresences(ps []presence.Presence) {
	slices.SortFunc(ps, func(a, b presence.Presence) int { return strings.Compare(a.UserID, b.UserID) })
}
