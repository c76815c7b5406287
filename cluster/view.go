package cluster

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/ripple-rt/ripple/presence"
)

// A view is one node's replica of a channel's presences, fed by the
// channel's events in sequence order; it turns each event into the messages
// for this node's members with exactly the rules of presence.Registry (see
// package presence): joins only for a user's first connection in ModeUser,
// leaves that retract every phx_ref a local client may hold, compaction
// past MaxStaleRefs, and ModeConnection's leave+join per change.
//
// What clients may hold is per node: a view counts the presence_states it
// sent (gen) and remembers which metas went out in its joins (announced),
// so its stale refs are those of its own clients.
//
// A view is owned by the node's receive goroutine; no locks.
type view struct {
	// Immutable after construction.
	mode     presence.Mode
	maxStale int

	at     pos               // last event applied (or snapshot loaded)
	loaded bool              // a snapshot was loaded: the view speaks for its members
	conns  map[string]*vconn // by connection id
	users  map[string]*vuser // by user key
	gen    uint64            // presence_states sent from this view
}

type vconn struct {
	id        string
	u         *vuser
	meta      []byte
	ref       string
	pos       uint64 // order among the user's metas (snapshot loads)
	born      uint64 // gen after this conn's own presence_state, if any
	announced bool   // went out in a joins diff from this view
}

type vuser struct {
	key   string
	conns []*vconn
	// stale holds, in ModeUser, metas of untracked connections some local
	// client may still hold; the user's final leave carries them.
	stale [][]byte
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

// delivery is one call to Local.DeliverPresence: state for tracker, diff
// for every member but exclude (the tracker, when set).
type delivery struct {
	state   []byte
	tracker string
	diff    []byte
	exclude string
}

// claimFunc reports whether connID is a local tracker still waiting for its
// presence_state in this channel, and marks it served.
type claimFunc func(connID string) bool

func newView(mode presence.Mode, maxStale int) *view {
	return &view{mode: mode, maxStale: maxStale, conns: map[string]*vconn{}, users: map[string]*vuser{}}
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

// apply applies one event already accepted. ok is false when the event does
// not fit the view (it must be resynced).
func (v *view) apply(ev event, claim claimFunc) (out []delivery, ok bool) {
	switch ev.kind {
	case kindTrack:
		out, ok = v.track(ev.conn, ev.user, ev.meta, ev.seq, claim)
	case kindUntrack:
		out, ok = v.untrack([]string{ev.conn})
	case kindBatch:
		out, ok = v.untrack(ev.conns)
	case kindSet:
		out, ok = v.set(ev.conn, ev.meta, ev.seq)
	}
	if ok {
		v.at = pos{ev.epoch, ev.seq}
	}
	return out, ok
}

func (v *view) track(id, key string, meta []byte, seq uint64, claim claimFunc) ([]delivery, bool) {
	if v.conns[id] != nil {
		return nil, false
	}
	u := v.users[key]
	first := u == nil
	if first {
		u = &vuser{key: key}
		v.users[key] = u
	}
	c := &vconn{id: id, u: u, meta: meta, ref: refOf(meta), pos: seq}
	u.conns = append(u.conns, c)
	v.conns[id] = c
	var d delivery
	if first || v.mode == presence.ModeConnection {
		c.announced = true
		d.diff = presence.EncodeDiff([][]byte{encodeEntry(key, [][]byte{meta})}, nil)
	}
	if claim(id) {
		v.gen++
		d.state, d.tracker, d.exclude = v.encodeState(), id, id
	}
	c.born = v.gen
	if d.state == nil && d.diff == nil {
		return nil, true
	}
	return []delivery{d}, true
}

// untrack removes connections (one, or a reaper's batch) and returns one
// diff for all of them (plus ModeUser compactions).
func (v *view) untrack(ids []string) ([]delivery, bool) {
	type gone struct {
		u     *vuser
		all   [][]byte // every removed meta
		shown [][]byte // those a local client may hold
	}
	var order []*gone
	byUser := map[*vuser]*gone{}
	for _, id := range ids {
		c := v.conns[id]
		if c == nil {
			return nil, false
		}
		delete(v.conns, id)
		u := c.u
		i := slices.Index(u.conns, c)
		u.conns = slices.Delete(u.conns, i, i+1)
		g := byUser[u]
		if g == nil {
			g = &gone{u: u}
			byUser[u] = g
			order = append(order, g)
		}
		g.all = append(g.all, c.meta)
		if c.announced || v.gen > c.born {
			g.shown = append(g.shown, c.meta)
		}
	}
	var leaves [][]byte
	var compactions []delivery
	for _, g := range order {
		u := g.u
		switch {
		case v.mode == presence.ModeConnection:
			leaves = append(leaves, encodeEntry(u.key, g.all))
		case len(u.conns) == 0:
			// The user leaves: retract every ref a local client may hold.
			leaves = append(leaves, encodeEntry(u.key, u.stale, g.all))
			u.stale = nil
		default:
			u.stale = append(u.stale, g.shown...)
			if len(u.stale) > v.maxStale {
				compactions = append(compactions, v.compact(u)...)
			}
		}
		if len(u.conns) == 0 {
			delete(v.users, u.key)
		}
	}
	var out []delivery
	if len(leaves) > 0 {
		out = append(out, delivery{diff: presence.EncodeDiff(nil, leaves)})
	}
	return append(out, compactions...), true
}

// compact retracts every held ref of u and joins its current metas: two
// diffs, as presence.Registry's compaction.
func (v *view) compact(u *vuser) []delivery {
	cur := metasOf(u.conns)
	out := []delivery{
		{diff: presence.EncodeDiff(nil, [][]byte{encodeEntry(u.key, u.stale, cur)})},
		{diff: presence.EncodeDiff([][]byte{encodeEntry(u.key, cur)}, nil)},
	}
	u.stale = nil
	for _, c := range u.conns {
		c.announced = true
	}
	return out
}

func (v *view) set(id string, meta []byte, seq uint64) ([]delivery, bool) {
	c := v.conns[id]
	if c == nil {
		return nil, false
	}
	u := c.u
	old := c.meta
	c.meta, c.ref = meta, refOf(meta)
	var diff []byte
	if v.mode == presence.ModeConnection {
		i := slices.Index(u.conns, c)
		u.conns = append(slices.Delete(u.conns, i, i+1), c)
		c.pos = seq
		c.announced = true
		diff = presence.EncodeDiff([][]byte{encodeEntry(u.key, [][]byte{meta})}, [][]byte{encodeEntry(u.key, [][]byte{old})})
	} else {
		for _, o := range u.conns {
			o.announced = true
		}
		diff = presence.EncodeDiff([][]byte{encodeEntry(u.key, metasOf(u.conns))}, nil)
	}
	return []delivery{{diff: diff}}, true
}

// encodeState returns the presence_state message of the view.
func (v *view) encodeState() []byte {
	entries := make([][]byte, 0, len(v.users))
	for _, u := range v.users {
		entries = append(entries, encodeEntry(u.key, metasOf(u.conns)))
	}
	return presence.EncodeState(entries)
}

// load replaces the view's content with a snapshot taken at p. When
// correct is set (the view was live: a resync) the members get ONE diff
// taking what they hold to the snapshot (plus ModeUser compactions); on a
// first load they get nothing, as a new member of a single node gets only
// later diffs. Local trackers still waiting get their presence_state.
func (v *view) load(p pos, es []entry, correct bool, claim claimFunc) []delivery {
	sortEntries(es)
	nv := newView(v.mode, v.maxStale)
	nv.gen = v.gen
	nv.at = p
	nv.loaded = true
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
		out = v.correction(nv)
	}
	*v = *nv
	for _, u := range v.users {
		for _, c := range u.conns {
			if claim(c.id) {
				v.gen++
				c.born = v.gen
				out = append(out, delivery{state: v.encodeState(), tracker: c.id, exclude: c.id})
			}
		}
	}
	return out
}

// correction returns the diff from what v's clients hold to nv, and moves
// the per-node bookkeeping (stale refs, announced, born) over to nv.
func (v *view) correction(nv *view) []delivery {
	var joins, leaves [][]byte
	var compactions []delivery
	for key, ou := range v.users {
		if nv.users[key] == nil {
			leaves = append(leaves, encodeEntry(key, ou.stale, metasOf(ou.conns)))
		}
	}
	same := func(oc, nc *vconn) bool {
		return oc != nil && nc != nil && oc.u.key == nc.u.key && bytes.Equal(oc.meta, nc.meta)
	}
	for key, nu := range nv.users {
		ou := v.users[key]
		if ou == nil {
			joins = append(joins, encodeEntry(key, metasOf(nu.conns)))
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
				joins = append(joins, encodeEntry(key, j))
			}
			if len(l) > 0 {
				leaves = append(leaves, encodeEntry(key, l))
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
		joins = append(joins, encodeEntry(key, metasOf(nu.conns)))
		if len(nu.stale) > v.maxStale {
			compactions = append(compactions, nv.compact(nu)...)
		}
	}
	var out []delivery
	if len(joins) > 0 || len(leaves) > 0 {
		out = append(out, delivery{diff: presence.EncodeDiff(joins, leaves)})
	}
	return append(out, compactions...)
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
