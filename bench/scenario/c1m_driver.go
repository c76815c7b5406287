//go:build linux

package scenario

import (
	"errors"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// C1M phases, sent to the workers one after another on the same
// connections (Command{Op: "phase"}).
const (
	// PhaseArm resets the figures: the phases after it count from here.
	PhaseArm = "arm"
	// PhaseBroadcast waits until every open connection received broadcast
	// Phase.ID (kind "all"), published by the parent through the HTTP API.
	PhaseBroadcast = "broadcast"
	// PhaseRooms has seat 0 of every room publish Phase.Rate messages per
	// second over all rooms for Phase.Duration; the result carries the
	// messages sent per room.
	PhaseRooms = "rooms"
	// PhaseRoomsSettle waits until every member got Phase.Sent[room]
	// messages of its room, then reports what is missing.
	PhaseRoomsSettle = "rooms-settle"
	// PhasePresence moves every presence seat (c1mPresenceSeat) from its
	// room to presence room j % c1mPresenceRooms as user j / rooms: it
	// closes the seat's connection and dials /ws/presence/q<room>. It waits
	// until every such seat's view (its presence_state, then every diff)
	// lists exactly its room's users, and no presence message came for
	// c1mPresenceQuiet.
	PhasePresence = "presence"
	// PhaseClosed waits until the server closed every connection and
	// counts the close codes.
	PhaseClosed = "closed"
)

// Stage (e): c1mPresenceRooms rooms of N/100 tracked users. Every
// c1mPresenceEvery-th connection (gid % c1mPresenceEvery == 0) is one, so
// that each presence room spans every node.
const (
	c1mPresenceRooms = 10
	c1mPresenceEvery = 10
	c1mPresenceQuiet = time.Second
	c1mCacheBytes    = 16 << 20 // parsed presence messages kept per loop
	// A presence dial that fails is tried again after c1mRedial times
	// its tries, at most c1mRedials times, as a client reconnects.
	c1mRedial  = 500 * time.Millisecond
	c1mRedials = 5
)

// c1mPresence describes stage (e) for N connections: seats j = gid /
// c1mPresenceEvery for gid % c1mPresenceEvery == 0, user j / rooms of room
// j % rooms.
type c1mPresence struct {
	seats  int     // presence seats over all workers
	target []int32 // users per room
	max    int32   // users in the largest room
}

func newC1MPresence(n int) c1mPresence {
	p := c1mPresence{seats: (n + c1mPresenceEvery - 1) / c1mPresenceEvery}
	p.target = make([]int32, c1mPresenceRooms)
	for k := range p.target {
		if k < p.seats {
			p.target[k] = int32((p.seats - k + c1mPresenceRooms - 1) / c1mPresenceRooms)
		}
		p.max = max(p.max, p.target[k])
	}
	return p
}

// PresenceRoom is the channel of presence room k.
func PresenceRoom(k int) string { return "room:q" + strconv.Itoa(k) }

// c1mPresSeat is one presence seat's view in stage (e).
type c1mPresSeat struct {
	tag      int32
	j        int32    // presence seat number: room j % rooms, user j / rooms
	count    int32    // users in view
	hasState bool     // got its presence_state
	failed   bool     // its dial failed c1mRedials+1 times
	tries    int8     // failed dials
	redialAt int64    // loop clock: dial again (0: not waiting)
	view     []uint64 // nil until stage (e)
}

// Phase is one C1M phase for the workers.
type Phase struct {
	Name     string   `json:"name"`
	Seq      int      `json:"seq"`                // numbers the phases of a run: a late answer is never taken for a later phase's
	ID       int64    `json:"id,omitempty"`       // broadcast: the message's sequence number
	Rate     float64  `json:"rate,omitempty"`     // rooms: publishes per second, all rooms together
	Duration Duration `json:"duration,omitempty"` // rooms: how long to publish
	Sent     []int64  `json:"sent,omitempty"`     // rooms-settle: messages published per room
	Wait     Duration `json:"wait,omitempty"`     // longest wait for the phase to complete
}

// PhaseStats is one worker's figures of a phase.
type PhaseStats struct {
	Conns     int64         `json:"conns"`     // connections open at the start of the phase
	Delivered int64         `json:"delivered"` // messages of the phase received
	Expected  int64         `json:"expected"`
	Missing   int64         `json:"missing"`
	Dup       int64         `json:"dup"`
	Reorder   int64         `json:"reorder"`
	Foreign   int64         `json:"foreign"`
	Invalid   int64         `json:"invalid"`
	First     int64         `json:"first"` // ns since the run epoch: first receipt (-1: none)
	Last      int64         `json:"last"`  // ns since the run epoch: last receipt
	Latency   hist.Snapshot `json:"latency"`
	Sent      []int64       `json:"sent,omitempty"`  // rooms: per room
	Codes     map[int]int64 `json:"codes,omitempty"` // closed: close code → connections (0: no close frame)
	Complete  bool          `json:"complete"`        // every connection got what it should before Wait

	// presence
	FullAt       int64 `json:"full_at,omitempty"`       // ns since the run epoch: the last seat's view became whole
	States       int64 `json:"states,omitempty"`        // presence_state messages received
	Diffs        int64 `json:"diffs,omitempty"`         // presence_diff messages received
	Failed       int64 `json:"failed,omitempty"`        // presence seats whose every dial failed
	Redials      int64 `json:"redials,omitempty"`       // presence dials tried again
	ForeignUsers int64 `json:"foreign_users,omitempty"` // user ids not of the run
}

// Merge adds o into s.
func (s *PhaseStats) Merge(o *PhaseStats) {
	s.Conns += o.Conns
	s.Delivered += o.Delivered
	s.Expected += o.Expected
	s.Missing += o.Missing
	s.Dup += o.Dup
	s.Reorder += o.Reorder
	s.Foreign += o.Foreign
	s.Invalid += o.Invalid
	if o.First >= 0 && (s.First < 0 || o.First < s.First) {
		s.First = o.First
	}
	s.Last = max(s.Last, o.Last)
	var h hist.Histogram
	h.MergeSnapshot(s.Latency)
	h.MergeSnapshot(o.Latency)
	s.Latency = h.Snapshot()
	for i, v := range o.Sent {
		for len(s.Sent) <= i {
			s.Sent = append(s.Sent, 0)
		}
		s.Sent[i] += v
	}
	s.FullAt = max(s.FullAt, o.FullAt)
	s.States += o.States
	s.Diffs += o.Diffs
	s.Failed += o.Failed
	s.Redials += o.Redials
	s.ForeignUsers += o.ForeignUsers
	for k, v := range o.Codes {
		if s.Codes == nil {
			s.Codes = map[int]int64{}
		}
		s.Codes[k] += v
	}
}

// phaser is a driver that runs C1M phases.
type phaser interface {
	phase(ph Phase, done func(*PhaseStats))
}

// c1mSeat is one connection of the C1M run: a member of room gid % Rooms.
type c1mSeat struct {
	conn  *loadgen.Conn
	last  int32 // last room sequence number received, -1: none
	got   int32 // room messages received
	bcast int32 // broadcasts received
	code  int32 // close code once closed (-1: open)
}

// c1mDriver holds one loop's share of the C1M connections, all on
// /ws/room/c<gid % rooms>: rooms of Spec.RoomSize members spread over every
// node, seat 0 (gid < rooms) publishing.
type c1mDriver struct {
	base

	// Immutable after construction.
	gid0  int // global id of tag 0
	rooms int

	// Owned by the event loop; no locks.
	seats   []c1mSeat
	cur     Phase
	ps      PhaseStats
	lat     hist.Histogram
	done    func(*PhaseStats)
	deadln  int64 // loop clock: give up waiting
	started int64 // loop clock: publishing began
	pending int   // phase: connections still waited for
	seq     []int64
	pubs    int64
	buf     []byte

	// stage (e)
	prs        c1mPresence
	j0         int           // presence seat number of pres[0]
	pres       []c1mPresSeat // this loop's presence seats
	presOn     bool          // the seats are on their presence rooms
	full       int           // presence seats whose view is whole
	lastPres   int64         // wall: last presence message
	redials    int           // presence seats waiting to dial again
	cache      map[string]*stormMsg
	cacheBytes int
}

func newC1MDriver(spec *Spec, idx int) *c1mDriver {
	mine := fleet.Share(spec.Conns, spec.Workers, spec.Worker)
	d := &c1mDriver{base: newBase(spec, idx), rooms: c1mRooms(spec)}
	d.gid0 = shareOffset(spec.Conns, spec.Workers, spec.Worker) + shareOffset(mine, spec.Loops, idx)
	d.seats = make([]c1mSeat, fleet.Share(mine, spec.Loops, idx))
	for i := range d.seats {
		d.seats[i] = c1mSeat{last: -1, code: -1}
	}
	d.prs = newC1MPresence(spec.Conns)
	d.j0 = (d.gid0 + c1mPresenceEvery - 1) / c1mPresenceEvery
	for gid := d.j0 * c1mPresenceEvery; gid < d.gid0+len(d.seats); gid += c1mPresenceEvery {
		d.pres = append(d.pres, c1mPresSeat{tag: int32(gid - d.gid0), j: int32(gid / c1mPresenceEvery)})
	}
	return d
}

// presSeat returns the presence seat of tag, or nil.
func (d *c1mDriver) presSeat(tag int) *c1mPresSeat {
	gid := d.gid0 + tag
	if gid%c1mPresenceEvery != 0 {
		return nil
	}
	return &d.pres[gid/c1mPresenceEvery-d.j0]
}

func (p *c1mPresSeat) room() int   { return int(p.j) % c1mPresenceRooms }
func (p *c1mPresSeat) user() int32 { return p.j / c1mPresenceRooms }

// whole reports whether p's view lists exactly its room's users (the
// bits are set only for users of the room, so the count says it).
func (d *c1mDriver) whole(p *c1mPresSeat) bool {
	return p.hasState && p.count == d.prs.target[p.room()]
}

// startPresence moves the presence seats to their presence rooms.
func (d *c1mDriver) startPresence() {
	d.presOn = true
	d.pending = len(d.pres)
	d.full = 0
	d.redials = 0
	d.lastPres = d.wall()
	if d.cache == nil {
		d.cache = map[string]*stormMsg{}
	}
	words := (int(d.prs.max) + 63) / 64
	for i := range d.pres {
		p := &d.pres[i]
		p.count, p.hasState, p.failed, p.tries, p.redialAt = 0, false, false, 0, 0
		p.view = make([]uint64, words)
		s := &d.seats[p.tag]
		if c := s.conn; c != nil {
			s.conn = nil // its close is not this seat's any more
			c.Close()
		}
		d.dialPresence(p)
	}
	if d.pending == 0 {
		d.finish(true)
	}
}

func (d *c1mDriver) dialPresence(p *c1mPresSeat) {
	u := "u" + strconv.Itoa(int(p.user()))
	d.l.Dial("/ws/presence/q"+strconv.Itoa(p.room())+"?user_id="+u, int(p.tag))
}

// redialPresence dials again the presence seats whose wait is over.
func (d *c1mDriver) redialPresence(now int64) {
	if d.redials == 0 {
		return
	}
	for i := range d.pres {
		if p := &d.pres[i]; p.redialAt > 0 && now >= p.redialAt {
			p.redialAt = 0
			d.redials--
			d.dialPresence(p)
		}
	}
}

// presenceMsg applies a presence message to p's view.
func (d *c1mDriver) presenceMsg(p *c1mPresSeat, b []byte) {
	e, ok := d.cache[string(b)]
	if !ok {
		if e, ok = parseStormMsg(b, d.prs.max, d.prs.max, len(p.view)); !ok {
			d.ps.Invalid++
			return
		}
		if d.cacheBytes+len(b) > c1mCacheBytes {
			clear(d.cache)
			d.cacheBytes = 0
		}
		d.cache[string(b)] = e
		d.cacheBytes += len(b)
	}
	d.ps.ForeignUsers += e.foreign
	was := d.whole(p)
	switch e.kind {
	case stormState:
		d.ps.States++
		p.hasState = true
		copy(p.view, e.bits)
		p.count = e.count
	case stormDiff:
		d.ps.Diffs++
		for _, u := range e.joins {
			if w, bit := u>>6, uint64(1)<<(u&63); p.view[w]&bit == 0 {
				p.view[w] |= bit
				p.count++
			}
		}
		for _, u := range e.leaves {
			if w, bit := u>>6, uint64(1)<<(u&63); p.view[w]&bit != 0 {
				p.view[w] &^= bit
				p.count--
			}
		}
	default:
		d.ps.Invalid++
		return
	}
	now := d.wall()
	d.lastPres = now
	d.ps.Delivered++
	d.delivered.Add(1)
	if d.ps.First < 0 {
		d.ps.First = now
	}
	d.ps.Last = now
	switch is := d.whole(p); {
	case is && !was:
		d.full++
		d.pending--
		d.ps.FullAt = now
	case was && !is:
		d.full--
		d.pending++
	}
}

// c1mRooms is the number of rooms: Conns/RoomSize, at least 1.
func c1mRooms(spec *Spec) int {
	if spec.RoomSize <= 0 {
		return 1
	}
	return max(1, spec.Conns/spec.RoomSize)
}

func (d *c1mDriver) room(tag int) int { return (d.gid0 + tag) % d.rooms }

func (d *c1mDriver) connect(_ int, done func()) {
	d.dialTo(len(d.seats), func(tag int) string { return "/ws/room/c" + strconv.Itoa(d.room(tag)) }, done)
}

func (d *c1mDriver) OnOpen(c *loadgen.Conn) {
	if c.Tag < 0 || c.Tag >= len(d.seats) {
		c.Abort()
		return
	}
	d.seats[c.Tag].conn = c
	d.opened(c)
}

func (d *c1mDriver) OnClose(c *loadgen.Conn, err error) {
	d.closed(c, err)
	if c.Tag < 0 || c.Tag >= len(d.seats) {
		return
	}
	var de *loadgen.DialError
	if d.seats[c.Tag].conn == nil && d.presOn && errors.As(err, &de) {
		// A presence seat's dial failed: dial again a little later, or
		// give up on it.
		p := d.presSeat(c.Tag)
		switch {
		case p == nil || p.failed:
		case p.tries < c1mRedials:
			p.tries++
			d.ps.Redials++
			p.redialAt = d.l.Now() + int64(p.tries)*int64(c1mRedial)
			d.redials++
		default:
			p.failed = true
			d.ps.Failed++
			if d.done != nil && d.cur.Name == PhasePresence {
				d.pending--
			}
		}
		return
	}
	if d.seats[c.Tag].conn != c {
		return
	}
	code := int32(0)
	var ce *loadgen.CloseError
	if errors.As(err, &ce) {
		code = int32(ce.Code)
	}
	s := &d.seats[c.Tag]
	if d.done != nil && d.cur.Name != PhaseRooms && d.wants(c.Tag) {
		d.pending-- // closed: nothing more to wait for on it
	}
	s.code = code
	if d.done != nil && d.pending <= 0 && d.settlesOnCount() {
		d.finish(true)
	}
}

// settlesOnCount reports whether the phase is over as soon as no
// connection is pending (rooms publish for a time; presence also waits for
// quiet).
func (d *c1mDriver) settlesOnCount() bool {
	return d.cur.Name != PhaseRooms && d.cur.Name != PhasePresence
}

func (d *c1mDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	if c.Tag < 0 || c.Tag >= len(d.seats) || d.seats[c.Tag].conn != c {
		return
	}
	if d.presOn {
		if ps := d.presSeat(c.Tag); ps != nil {
			// Once stage (e) is over, what is left of its backlog is
			// read and dropped unparsed: (f) waits for close frames only.
			if d.done != nil && d.cur.Name == PhasePresence {
				d.presenceMsg(ps, p)
			}
			return
		}
	}
	s := &d.seats[c.Tag]
	kind, m, ok := benchmsg.Scan(p)
	if !ok {
		d.ps.Invalid++
		return
	}
	now := d.wall()
	switch string(kind) {
	case "all":
		if m.S < 0 || int64(s.bcast) != m.S {
			d.ps.Dup++ // a repeat (or one from the future): not the broadcast awaited
			return
		}
		s.bcast++
		if d.done != nil && d.cur.Name == PhaseBroadcast && int64(s.bcast) == d.cur.ID+1 {
			d.pending--
		}
	case "room":
		switch {
		case m.R != int64(d.room(c.Tag)):
			d.ps.Foreign++
			return
		case m.S <= int64(s.last):
			d.ps.Dup++
			return
		case m.S > int64(s.last)+1:
			d.ps.Reorder++
		}
		s.last = int32(m.S)
		s.got++
		if d.done != nil && d.cur.Name == PhaseRoomsSettle && int64(s.got) == d.expect(c.Tag) {
			d.pending--
		}
	default:
		d.ps.Invalid++
		return
	}
	d.delivered.Add(1)
	d.ps.Delivered++
	if d.ps.First < 0 {
		d.ps.First = now
	}
	d.ps.Last = max(d.ps.Last, now)
	if m.T >= 0 {
		d.lat.Record(now - m.T)
	}
	if d.done != nil && d.pending <= 0 && d.settlesOnCount() {
		d.finish(true)
	}
}

// phase starts ph; done gets the phase's figures once it completed or its
// wait ran out.
func (d *c1mDriver) phase(ph Phase, done func(*PhaseStats)) {
	d.cur, d.done = ph, done
	d.deadln = d.l.Now() + int64(ph.Wait)
	d.l.SetTick(time.Millisecond)
	switch ph.Name {
	case PhaseArm:
		d.ps = PhaseStats{First: -1}
		d.lat.Reset()
		for i := range d.seats {
			if c := d.seats[i].conn; c != nil && c.Open() {
				d.ps.Conns++
			}
		}
		d.finish(true)
	case PhaseRooms:
		d.seq = make([]int64, d.rooms)
		d.pubs = 0
		d.started = d.l.Now()
		d.deadln = d.started + int64(ph.Duration)
	case PhasePresence:
		d.ps = PhaseStats{First: -1}
		d.lat.Reset()
		d.startPresence()
	default:
		d.check()
	}
}

func (d *c1mDriver) OnTick(now int64) {
	if d.done == nil {
		return
	}
	if d.cur.Name == PhaseRooms {
		d.publish(now)
		return
	}
	d.redialPresence(now)
	if d.cur.Name == PhasePresence && d.pending <= 0 && d.wall()-d.lastPres >= int64(c1mPresenceQuiet) {
		d.finish(true)
		return
	}
	if now >= d.deadln {
		d.finish(false)
	}
}

// publish sends the messages due by now from this loop's seat-0 members.
func (d *c1mDriver) publish(now int64) {
	if now >= d.deadln {
		d.finish(true)
		return
	}
	// Publishers are the seats with gid < rooms; this loop owns those with
	// tags 0 … n-1.
	n := max(0, min(len(d.seats), d.rooms-d.gid0))
	if n == 0 {
		return
	}
	rate := d.cur.Rate * float64(n) / float64(d.rooms)
	for k := due(rate, now-d.started, d.pubs); k > 0; k-- {
		tag := int(d.pubs % int64(n))
		d.pubs++
		c := d.seats[tag].conn
		if c == nil || !c.Open() {
			continue
		}
		r := d.room(tag)
		d.buf = benchmsg.Append(d.buf[:0], "room", benchmsg.Msg{T: d.wall(), S: d.seq[r], P: int64(r), R: int64(r)}, 0)
		c.WriteText(d.buf)
		d.seq[r]++
		d.sent.Add(1)
	}
}

// check counts the connections the phase still waits for and finishes it
// when there are none; the messages and closes count them down from there.
func (d *c1mDriver) check() {
	d.pending = 0
	for i := range d.seats {
		if !d.satisfied(i) {
			d.pending++
		}
	}
	if d.pending == 0 {
		d.finish(true)
	}
}

// satisfied reports whether seat tag needs nothing more in this phase: a
// closed seat never does, except for PhaseClosed, which waits for it.
func (d *c1mDriver) satisfied(tag int) bool {
	if d.cur.Name == PhaseClosed {
		return !d.wants(tag)
	}
	c := d.seats[tag].conn
	return c == nil || !c.Open() || !d.wants(tag)
}

// wants reports whether seat tag still lacks what the phase waits for,
// open or not.
func (d *c1mDriver) wants(tag int) bool {
	s := &d.seats[tag]
	switch d.cur.Name {
	case PhaseBroadcast:
		return int64(s.bcast) <= d.cur.ID
	case PhaseRoomsSettle:
		return int64(s.got) < d.expect(tag)
	case PhaseClosed:
		return s.conn != nil && s.code < 0
	case PhasePresence:
		p := d.presSeat(tag)
		return p != nil && !p.failed && !d.whole(p)
	}
	return false
}

func (d *c1mDriver) expect(tag int) int64 {
	if r := d.room(tag); r < len(d.cur.Sent) {
		return d.cur.Sent[r]
	}
	return 0
}

func (d *c1mDriver) finish(complete bool) {
	f := d.done
	if f == nil {
		return
	}
	d.done = nil
	d.l.SetTick(time.Second)
	ps := d.ps
	ps.Complete = complete
	ps.Latency = d.lat.Snapshot()
	switch d.cur.Name {
	case PhaseRooms:
		ps.Sent = d.seq
		ps.Complete = true
	case PhaseBroadcast:
		for i := range d.seats {
			if s := &d.seats[i]; s.conn != nil && s.conn.Open() {
				ps.Expected++
				if int64(s.bcast) <= d.cur.ID {
					ps.Missing++
				}
			}
		}
	case PhaseRoomsSettle:
		for i := range d.seats {
			if s := &d.seats[i]; s.conn != nil && s.conn.Open() {
				want := d.expect(i)
				ps.Expected += want
				ps.Missing += max(0, want-int64(s.got))
			}
		}
	case PhasePresence:
		ps.Expected = int64(len(d.pres))
		ps.Missing = int64(len(d.pres) - d.full)
	case PhaseClosed:
		ps.Codes = map[int]int64{}
		for i := range d.seats {
			if s := &d.seats[i]; s.conn != nil {
				ps.Codes[int(s.code)]++
			}
		}
	}
	f(&ps)
}
