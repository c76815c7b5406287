//go:build linux

package scenario

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// member is one seat of a room; churn closes its connection and opens a new
// one, possibly in another room of the same loop.
type member struct {
	conn    *loadgen.Conn
	room    int   // index into roomLayout.rooms
	stable  bool  // never churned
	last    int64 // last sequence number received in the current room, -1: none
	got     int64 // messages received in the current membership
	dialing bool
	user    string // presence user id
}

// roomLayout spreads rooms of RoomSize seats over workers and loops so that
// every room lives on exactly one loop: all verification is local.
type roomLayout struct {
	rooms   []int // global room ids of this loop
	members []member
	size    int
	rng     *rand.Rand
	// per-loop share of the run's rates
	churnRate float64
	msgRate   float64
	// pacing, counted from the run start
	churns    int64
	published int64
	nextRoom  int
}

func newRoomLayout(spec *Spec, idx, stableSeats int) roomLayout {
	size := spec.RoomSize
	if size < stableSeats+1 {
		size = stableSeats + 1
	}
	total := spec.Conns / size
	if total < 1 {
		total = 1
	}
	lay := roomLayout{size: size, rng: rand.New(rand.NewPCG(uint64(spec.Epoch), uint64(spec.Worker*1000+idx)))}
	for k := spec.Worker; k < total; k += spec.Workers {
		if (k/spec.Workers)%spec.Loops == idx {
			lay.rooms = append(lay.rooms, k)
		}
	}
	frac := float64(len(lay.rooms)) / float64(total)
	lay.churnRate = spec.Churn * frac
	lay.msgRate = spec.MsgRate * frac
	for li := range lay.rooms {
		for s := 0; s < size; s++ {
			lay.members = append(lay.members, member{room: li, stable: s < stableSeats, last: -1})
		}
	}
	return lay
}

// due returns how many events at rate per second are due at elapsed ns after
// done have happened.
func due(rate float64, elapsed int64, done int64) int64 {
	n := int64(rate*float64(elapsed)/float64(time.Second)) - done
	if n < 0 {
		return 0
	}
	return n
}

// pickChurner returns a random non-stable member with an open connection, or -1.
func (lay *roomLayout) pickChurner() int {
	if len(lay.members) == 0 {
		return -1
	}
	for try := 0; try < 16; try++ {
		i := lay.rng.IntN(len(lay.members))
		m := &lay.members[i]
		if !m.stable && !m.dialing && m.conn != nil && m.conn.Open() {
			return i
		}
	}
	return -1
}

// roomsDriver: rooms of RoomSize connections on /ws/room/r<id>. Seat 0 of each
// room publishes (MsgRate over all rooms), seats 0 and 1 stay for the whole run
// and must receive every message of their room in order; the other seats churn
// (Churn leave+join cycles per second over all rooms) and must never see a
// message of another room, a duplicate or a gap after their first message.
type roomsDriver struct {
	base
	roomLayout

	// Owned by the event loop; no locks.
	seq []int64 // per local room: messages published
	buf []byte
	ref []byte
}

func newRoomsDriver(spec *Spec, idx int) *roomsDriver {
	d := &roomsDriver{base: newBase(spec, idx), roomLayout: newRoomLayout(spec, idx, 2)}
	d.seq = make([]int64, len(d.rooms))
	return d
}

func (d *roomsDriver) path(m *member) string {
	if d.spec.Protocol == Phoenix {
		return phoenixPath
	}
	return "/ws/room/r" + strconv.Itoa(d.rooms[m.room])
}

// topic is the channel of member m's room: what /ws/room/r<id> joins, and
// what a Phoenix member joins.
func (d *roomsDriver) topic(m *member) string { return "room:r" + strconv.Itoa(d.rooms[m.room]) }

func (d *roomsDriver) connect(_ int, done func()) {
	d.dialTo(len(d.members), func(tag int) string { return d.path(&d.members[tag]) }, done)
}

func (d *roomsDriver) OnOpen(c *loadgen.Conn) {
	if d.spec.Protocol == Phoenix && c.Tag >= 0 && c.Tag < len(d.members) {
		d.buf = phxJoin(c, d.topic(&d.members[c.Tag]), d.buf) // the seat is taken once the join is answered
		return
	}
	openSeat(&d.base, &d.roomLayout, c)
}

func (d *roomsDriver) OnClose(c *loadgen.Conn, err error) {
	closeSeat(&d.base, &d.roomLayout, c, err)
}

// openSeat records c as the connection of seat c.Tag: the initial dial of
// the connect step, or a re-join of a churned seat (its join time counted).
// A connection without a seat is aborted.
func openSeat(b *base, rl *roomLayout, c *loadgen.Conn) {
	if c.Tag < 0 || c.Tag >= len(rl.members) {
		c.Abort()
		return
	}
	m := &rl.members[c.Tag]
	m.conn = c
	if b.opened(c) {
		return
	}
	m.dialing = false
	m.last, m.got = -1, 0
	b.join.Record(b.l.Now() - c.DialStart())
	b.st.Churned++
}

// closeSeat ends c's dial or membership: its seat may be dialed again.
func closeSeat(b *base, rl *roomLayout, c *loadgen.Conn, err error) {
	b.closed(c, err)
	if c.Tag >= 0 && c.Tag < len(rl.members) {
		m := &rl.members[c.Tag]
		if m.conn == nil || m.conn == c {
			m.dialing = false
		}
	}
}

func (d *roomsDriver) startRun() {
	d.beginRun()
	d.l.SetTick(time.Millisecond)
}

func (d *roomsDriver) OnTick(now int64) {
	if d.running {
		elapsed := now - d.runStart
		for n := due(d.msgRate, elapsed, d.published); n > 0; n-- {
			d.publish()
		}
		for n := due(d.churnRate, elapsed, d.churns); n > 0; n-- {
			d.churns++
			d.churn()
		}
		return
	}
	d.checkDrained()
}

func (d *roomsDriver) publish() {
	d.published++
	if len(d.rooms) == 0 {
		return
	}
	li := d.nextRoom
	d.nextRoom = (d.nextRoom + 1) % len(d.rooms)
	anchor := &d.members[li*d.size]
	if anchor.conn == nil || !anchor.conn.Open() {
		return
	}
	k := int64(d.rooms[li])
	m := benchmsg.Msg{T: d.wall(), S: d.seq[li], P: k, R: k}
	if d.spec.Protocol == Phoenix {
		d.ref = strconv.AppendInt(d.ref[:0], d.seq[li]+2, 10) // 1 is the join's
		d.buf = benchmsg.AppendPhoenix(d.buf[:0], phxJoinRef, string(d.ref), d.topic(anchor), "room", m, d.spec.Size)
	} else {
		d.buf = benchmsg.Append(d.buf[:0], "room", m, d.spec.Size)
	}
	d.write(anchor.conn, d.buf)
	d.seq[li]++
	d.sent.Add(1)
}

func (d *roomsDriver) churn() {
	i := d.pickChurner()
	if i < 0 {
		return
	}
	m := &d.members[i]
	m.conn.Close()
	m.conn = nil
	m.room = d.rng.IntN(len(d.rooms))
	m.dialing = true
	d.dial(d.path(m), i)
}

func (d *roomsDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	var kind []byte
	var msg benchmsg.Msg
	var ok bool
	if d.spec.Protocol == Phoenix {
		var joined, reply bool
		kind, msg, joined, reply, ok = phxMessage(p)
		switch {
		case joined:
			openSeat(&d.base, &d.roomLayout, c)
			return
		case reply:
			d.st.Extra++ // the answer to a publish
			return
		}
	} else {
		kind, msg, ok = benchmsg.Scan(p)
	}
	if _, msg, ok := roomCheck(&d.st, &d.roomLayout, c, kind, msg, ok); ok {
		d.record(msg.T)
	}
}

// roomAccept checks room message p received on c against the room of c's
// seat and the seat's last sequence number: it counts an unparseable,
// foreign, duplicate or out-of-order message (a stable seat must see every
// message, a fresh churned one may start anywhere) in st. ok reports a
// message to record; the seat's last and got are then advanced. A message
// on a connection that is no longer its seat's is ignored.
func roomAccept(st *WorkerStats, rl *roomLayout, c *loadgen.Conn, p []byte) (m *member, msg benchmsg.Msg, ok bool) {
	kind, msg, ok := benchmsg.Scan(p)
	return roomCheck(st, rl, c, kind, msg, ok)
}

// roomCheck is roomAccept of a message already scanned (kind, msg, ok as
// benchmsg.Scan returns them).
func roomCheck(st *WorkerStats, rl *roomLayout, c *loadgen.Conn, kind []byte, msg benchmsg.Msg, ok bool) (*member, benchmsg.Msg, bool) {
	if c.Tag < 0 || c.Tag >= len(rl.members) || rl.members[c.Tag].conn != c {
		return nil, msg, false
	}
	m := &rl.members[c.Tag]
	switch {
	case !ok:
		st.Invalid++
		return m, msg, false
	case string(kind) == "error":
		st.Errors++
		return m, msg, false
	case string(kind) != "room" || msg.R < 0 || msg.S < 0:
		st.Invalid++
		return m, msg, false
	case msg.R != int64(rl.rooms[m.room]):
		st.Foreign++
		return m, msg, false
	}
	switch {
	case m.last < 0 && !m.stable:
		// first message of a fresh member: any sequence number starts it
	case msg.S <= m.last:
		st.Dup++
		return m, msg, false
	case msg.S > m.last+1:
		st.Reorder++
		st.Missing += msg.S - m.last - 1
	}
	m.last = msg.S
	m.got++
	return m, msg, true
}

func (d *roomsDriver) stopRun(drained func()) {
	d.endRun()
	d.drained = drained
	d.checkDrained()
}

// checkDrained finishes the drain once every stable member has every message
// of its room.
func (d *roomsDriver) checkDrained() {
	if d.running || d.drained == nil {
		return
	}
	for i := range d.members {
		m := &d.members[i]
		if m.stable && m.conn != nil && m.conn.Open() && m.last+1 < d.seq[m.room] {
			return
		}
	}
	d.l.SetTick(10 * time.Millisecond)
	d.finishDrain()
}

func (d *roomsDriver) stats() *WorkerStats {
	st := d.baseStats()
	for i := range d.members {
		m := &d.members[i]
		if !m.stable {
			continue
		}
		want := d.seq[m.room]
		st.Expected += want
		if m.last+1 < want {
			st.Missing += want - m.last - 1
		}
		if st.PerConnMin < 0 || m.got < st.PerConnMin {
			st.PerConnMin = m.got
		}
		if m.got > st.PerConnMax {
			st.PerConnMax = m.got
		}
	}
	return st
}
