//go:build linux

package scenario

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

type userTimes struct {
	join  int64 // loop clock when the user's dial was started
	leave int64 // loop clock when its connection was closed
}

// presenceDriver: rooms of RoomSize connections on /ws/presence/p<id>, each
// with a unique user id. Seat 0 of each room watches: it applies the
// presence_state it gets and every presence_diff, and at the end must list
// exactly the users whose connections are open. The other seats churn at
// Churn cycles per second; every member records diff latency for users whose
// join or leave happened on this loop. Where the dialect can ask the server
// for a channel's presence (Centrifuge's presence call), each watcher asks
// once its view is complete, and the server's list must hold exactly the
// same users.
type presenceDriver struct {
	base
	roomLayout

	// Owned by the event loop; no locks.
	users   map[string]*userTimes
	lists   []map[string]struct{} // per local room: the watcher's view
	nextUID int
	states  int64
	listed  bool // the servers' lists were asked for
	pending int  // lists asked for and not yet answered
}

func newPresenceDriver(spec *Spec, idx int) *presenceDriver {
	d := &presenceDriver{base: newBase(spec, idx), roomLayout: newRoomLayout(spec, idx, 1), users: map[string]*userTimes{}}
	d.lists = make([]map[string]struct{}, len(d.rooms))
	for i := range d.lists {
		d.lists[i] = map[string]struct{}{}
	}
	for i := range d.members {
		d.members[i].user = d.newUser(i%d.size == 0, d.rooms[d.members[i].room])
	}
	return d
}

func (d *presenceDriver) newUser(watcher bool, room int) string {
	if watcher {
		return "w" + strconv.Itoa(room)
	}
	d.nextUID++
	return "u" + strconv.Itoa(d.spec.Worker) + "-" + strconv.Itoa(d.idx) + "-" + strconv.Itoa(d.nextUID)
}

func (d *presenceDriver) path(m *member) string {
	q := url.Values{"user_id": {m.user}, "name": {m.user}}
	return "/ws/presence/p" + strconv.Itoa(d.rooms[m.room]) + "?" + q.Encode()
}

func (d *presenceDriver) connect(_ int, done func()) {
	d.dialTo(len(d.members), func(tag int) string { return d.path(&d.members[tag]) }, done)
}

func (d *presenceDriver) OnOpen(c *loadgen.Conn) { openSeat(&d.base, &d.roomLayout, c) }

func (d *presenceDriver) OnClose(c *loadgen.Conn, err error) {
	closeSeat(&d.base, &d.roomLayout, c, err)
}

func (d *presenceDriver) startRun() {
	d.beginRun()
	d.l.SetTick(time.Millisecond)
}

func (d *presenceDriver) OnTick(now int64) {
	if d.running {
		for n := due(d.churnRate, now-d.runStart, d.churns); n > 0; n-- {
			d.churns++
			d.churn(now)
		}
		return
	}
	d.checkDrained()
}

func (d *presenceDriver) churn(now int64) {
	i := d.pickChurner()
	if i < 0 {
		return
	}
	m := &d.members[i]
	if u := d.users[m.user]; u != nil {
		u.leave = now
	} else {
		d.users[m.user] = &userTimes{leave: now}
	}
	m.conn.Close()
	m.conn = nil
	m.room = d.rng.IntN(len(d.rooms))
	m.user = d.newUser(false, 0)
	m.dialing = true
	d.users[m.user] = &userTimes{join: now}
	d.dial(d.path(m), i)
}

type presenceMsg struct {
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

type presenceDiff struct {
	Joins  map[string]json.RawMessage `json:"joins"`
	Leaves map[string]json.RawMessage `json:"leaves"`
}

func (d *presenceDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	if c.Tag < 0 || c.Tag >= len(d.members) || d.members[c.Tag].conn != c {
		return
	}
	m := &d.members[c.Tag]
	watcher := c.Tag%d.size == 0
	var msg presenceMsg
	if err := json.Unmarshal(p, &msg); err != nil {
		d.st.Invalid++
		return
	}
	switch msg.Event {
	case "presence_state":
		var state map[string]json.RawMessage
		if err := json.Unmarshal(msg.Payload, &state); err != nil {
			d.st.Invalid++
			return
		}
		d.states++
		if watcher {
			list := map[string]struct{}{}
			for u := range state {
				list[u] = struct{}{}
			}
			d.lists[m.room] = list
		}
	case "presence_diff":
		var diff presenceDiff
		if err := json.Unmarshal(msg.Payload, &diff); err != nil {
			d.st.Invalid++
			return
		}
		now := d.l.Now()
		for u := range diff.Joins {
			if t := d.users[u]; t != nil && d.running && t.join > 0 {
				d.lat.Record(now - t.join)
			}
			if watcher {
				d.lists[m.room][u] = struct{}{}
			}
		}
		for u := range diff.Leaves {
			if t := d.users[u]; t != nil && d.running && t.leave > 0 {
				d.lat.Record(now - t.leave)
			}
			if watcher {
				delete(d.lists[m.room], u)
			}
		}
		d.delivered.Add(1)
		if d.running {
			d.win++
		}
	case "presence_list":
		var list map[string]json.RawMessage
		if err := json.Unmarshal(msg.Payload, &list); err != nil || !watcher {
			d.st.Invalid++
			return
		}
		want := d.expected(m.room)
		for u := range list {
			if _, ok := want[u]; !ok {
				d.st.ListGhosts++
			}
		}
		for u := range want {
			if _, ok := list[u]; !ok {
				d.st.ListAbsent++
			}
		}
		d.st.Listed++
		d.pending--
		d.checkDrained()
	default:
		if msg.Event == "" {
			var e struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(p, &e) == nil && e.Type == "error" {
				d.st.Errors++
				return
			}
		}
		d.st.Invalid++
	}
}

func (d *presenceDriver) stopRun(drained func()) {
	d.endRun()
	d.drained = drained
	d.checkDrained()
}

// expected returns the users with an open connection in local room li.
func (d *presenceDriver) expected(li int) map[string]struct{} {
	want := map[string]struct{}{}
	for i := range d.members {
		m := &d.members[i]
		if m.room == li && m.conn != nil && m.conn.Open() {
			want[m.user] = struct{}{}
		}
	}
	return want
}

func (d *presenceDriver) mismatch() (ghosts, absent int64) {
	for li := range d.rooms {
		want := d.expected(li)
		got := d.lists[li]
		for u := range got {
			if _, ok := want[u]; !ok {
				ghosts++
			}
		}
		for u := range want {
			if _, ok := got[u]; !ok {
				absent++
			}
		}
	}
	return ghosts, absent
}

func (d *presenceDriver) checkDrained() {
	if d.running || d.drained == nil {
		return
	}
	for i := range d.members {
		if d.members[i].dialing {
			return
		}
	}
	if g, a := d.mismatch(); g+a > 0 {
		return
	}
	if !d.listed {
		d.listed = true
		for li := range d.rooms {
			if w := d.members[li*d.size].conn; w != nil && w.Open() && d.dl.ListPresence(w) {
				d.st.ListAsked++
				d.pending++
			}
		}
	}
	if d.pending > 0 {
		return
	}
	d.l.SetTick(10 * time.Millisecond)
	d.finishDrain()
}

func (d *presenceDriver) stats() *WorkerStats {
	st := d.baseStats()
	st.Ghosts, st.Absent = d.mismatch()
	st.Extra = d.states
	return st
}
