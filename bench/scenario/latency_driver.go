//go:build linux

package scenario

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// paceBurst bounds the sends of one timer callback, so a generator that
// fell behind still reads its replies between bursts.
const paceBurst = 1024

// paceQuantum is the shortest sleep between two timer callbacks. Waking for
// every message would cost the generator three syscalls per message (arm,
// wake, read the timer), enough at high rates to make the generator, not
// the server, the bottleneck; messages due meanwhile go out together, up to
// this much late, which counts as latency for every server alike.
const paceQuantum = 100 * time.Microsecond

// stepDriver is a driver that runs timed steps (the latency scenario).
type stepDriver interface {
	// startStep resets the step's figures and starts step st.
	startStep(st Step)
}

func newLatencyDriver(spec *Spec, idx int) (driver, error) {
	if spec.Latency == nil {
		return nil, fmt.Errorf("scenario: latency run without latency settings")
	}
	switch spec.Latency.Workload {
	case WorkloadEcho:
		return newLatencyEchoDriver(spec, idx), nil
	case WorkloadRooms:
		return newLatencyRoomsDriver(spec, idx), nil
	}
	return nil, fmt.Errorf("scenario: unknown latency workload %q", spec.Latency.Workload)
}

// latencyBase is the part the latency drivers share: the current step, its
// schedule, its figures, and the pacing of open-loop sends by the loop's
// Wake timer (OnTick paces too, coarsely, should the timer be unavailable).
//
// Open loop, the sends of a step follow the schedule whatever the server
// does, each stamped with its scheduled time: a generator that falls behind
// sends late but still stamps the scheduled time, so the delay counts as
// latency (coordinated omission corrected). Closed loop (Step.Offered 0,
// calibration), the driver keeps Spec.Window messages in flight per sender
// and stamps the actual send time.
type latencyBase struct {
	base

	// Immutable after construction: the driver's hooks.
	send  func(local int, at int64) bool // sends sender local's next message stamped at; false when it cannot
	prime func()                         // closed loop: fills every sender's window

	// Owned by the event loop; no locks.
	step       Step
	from, end  int64 // measured window, ns since the run epoch
	closedLoop bool
	started    bool // the step's start time came
	sched      schedule
	lag        hist.Histogram // actual minus scheduled send time
	stepSent   int64
	stepGot    int64 // messages of this step received, at every receiver
	window     int64 // of those, received within [from, end)
	lastPace   int64 // wall time of the last timer callback
}

// begin resets the figures and starts step st for this loop's senders mine
// (global ids, ascending) out of total.
func (b *latencyBase) begin(st Step, mine []int, total int) {
	b.step = st
	b.from, b.end = st.measureFrom(), st.end()
	b.closedLoop = st.Offered <= 0
	b.started = false
	b.lat.Reset()
	b.lag.Reset()
	b.st = WorkerStats{PerConnMin: -1}
	b.stepSent, b.stepGot, b.window = 0, 0, 0
	b.sched = schedule{start: st.Start, end: b.end, rate: st.Offered, total: total, mine: mine}
	b.beginRun()
	b.wakeAt(st.Start)
}

// wakeAt arms the loop's timer for at (ns since the run epoch), but no
// sooner than paceQuantum after the last callback.
func (b *latencyBase) wakeAt(at int64) {
	at = max(at, b.lastPace+int64(paceQuantum))
	_ = b.l.Wake(b.l.Now()+(at-b.wall()), b.pace)
}

// pace sends every message due by now, then sleeps until the next one.
func (b *latencyBase) pace() {
	if !b.running {
		return
	}
	now := b.wall()
	b.lastPace = now
	if !b.started {
		if now < b.step.Start {
			b.wakeAt(b.step.Start)
			return
		}
		b.started = true
		if b.closedLoop {
			b.prime()
			return
		}
	}
	if b.closedLoop {
		return
	}
	for n := 0; n < paceBurst; n++ {
		local, at, ok := b.sched.next()
		if !ok {
			return
		}
		if at > now {
			if now = b.wall(); at > now {
				b.wakeAt(at)
				return
			}
		}
		b.sched.advance()
		if b.send(local, at) {
			b.lag.Record(now - at)
		}
		if n&63 == 63 {
			now = b.wall()
		}
	}
	b.wakeAt(now) // more is due: read first
}

// got counts a message of this step stamped t, received now.
func (b *latencyBase) got(t int64) {
	now := b.wall()
	b.delivered.Add(1)
	b.stepGot++
	if t >= b.from && t < b.end {
		b.lat.Record(now - t)
	}
	if now >= b.from && now < b.end {
		b.window++
	}
}

// sentOne counts a send.
func (b *latencyBase) sentOne() {
	b.sent.Add(1)
	b.stepSent++
}

func (b *latencyBase) halt(drained func()) {
	b.endRun()
	b.sched.stop()
	b.drained = drained
}

// stepStats returns the step's figures common to both workloads.
func (b *latencyBase) stepStats() *WorkerStats {
	st := b.st
	st.Latency = b.lat.Snapshot()
	st.Lag = b.lag.Snapshot()
	st.Sent = b.stepSent
	st.Delivered = b.stepGot
	st.WindowDelivered = b.window
	st.WindowNs = b.end - b.from
	return &st
}

// OnTick paces coarsely, in case the timer could not be armed.
func (b *latencyBase) OnTick(int64) { b.pace() }

// latencyEchoDriver: every connection on /ws/shootout is a sender of echo
// requests; the reply is checked against the sequence numbers of its
// connection and its latency recorded.
type latencyEchoDriver struct {
	latencyBase
	echoBook

	// Owned by the event loop; no locks.
	total   int     // senders over all workers: Spec.Conns
	gid0    int     // global id of this loop's tag 0
	first   []int64 // per tag: first sequence number of the step
	replies []int64 // per tag: replies of the step
	buf     []byte
}

func newLatencyEchoDriver(spec *Spec, idx int) *latencyEchoDriver {
	d := &latencyEchoDriver{latencyBase: latencyBase{base: newBase(spec, idx)}, total: spec.Conns}
	mine := fleet.Share(spec.Conns, spec.Workers, spec.Worker)
	d.gid0 = shareOffset(spec.Conns, spec.Workers, spec.Worker) + shareOffset(mine, spec.Loops, idx)
	d.send, d.prime = d.sendAt, d.fill
	return d
}

func (d *latencyEchoDriver) connect(target int, done func()) {
	d.dialTo(d.loopShare(target), func(int) string { return "/ws/shootout" }, done)
}

func (d *latencyEchoDriver) OnOpen(c *loadgen.Conn) { d.opened(c) }

func (d *latencyEchoDriver) OnClose(c *loadgen.Conn, err error) {
	d.closed(c, err)
	d.lose(c.Tag, &d.st)
	d.checkDrained()
}

func (d *latencyEchoDriver) startStep(st Step) {
	n := len(d.conns)
	if d.next == nil {
		d.next, d.ack = make([]int64, n), make([]int64, n)
	}
	d.first = append(d.first[:0], d.next...)
	d.replies = make([]int64, n)
	mine := make([]int, n)
	for i := range mine {
		mine[i] = d.gid0 + i
	}
	d.begin(st, mine, d.total)
}

// sendAt sends the next echo request of connection tag, stamped at.
func (d *latencyEchoDriver) sendAt(tag int, at int64) bool {
	c := d.conns[tag]
	if c == nil || !c.Open() {
		return false
	}
	d.buf = benchmsg.Append(d.buf[:0], "echo", benchmsg.Msg{T: at, S: d.next[tag], P: -1, R: -1}, d.spec.Size)
	d.write(c, d.buf)
	d.next[tag]++
	d.outstanding++
	d.sentOne()
	return true
}

// fill starts the closed loop: Window requests on every connection.
func (d *latencyEchoDriver) fill() {
	for tag := range d.conns {
		for i := 0; i < max(d.spec.Window, 1); i++ {
			d.sendAt(tag, d.wall())
		}
	}
}

func (d *latencyEchoDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	m, settled, ok := echoAccept(&d.st, d.next, d.ack, c.Tag, p)
	if !ok {
		return
	}
	d.outstanding -= settled
	if m.S < d.first[c.Tag] {
		d.st.Late++
	} else {
		d.replies[c.Tag]++
		d.got(m.T)
	}
	if d.running && d.closedLoop {
		d.sendAt(c.Tag, d.wall())
	}
	d.checkDrained()
}

func (d *latencyEchoDriver) stopRun(drained func()) {
	d.halt(drained)
	d.checkDrained()
}

func (d *latencyEchoDriver) checkDrained() {
	if !d.running && d.outstanding <= 0 {
		d.finishDrain()
	}
}

func (d *latencyEchoDriver) stats() *WorkerStats {
	if d.first == nil {
		return d.baseStats()
	}
	st := d.stepStats()
	for tag := range d.replies {
		st.Missing += d.next[tag] - max(d.ack[tag], d.first[tag])
		n := d.replies[tag]
		if st.PerConnMin < 0 || n < st.PerConnMin {
			st.PerConnMin = n
		}
		st.PerConnMax = max(st.PerConnMax, n)
	}
	st.Expected = st.Sent
	return st
}

// latencyRoomsDriver: rooms of RoomSize connections on
// /ws/room/L<run>-<id>; seat 0 of every room is a sender, every seat
// (seat 0 included) must get every message of its room once and in order
// and records its latency. No churn.
type latencyRoomsDriver struct {
	latencyBase
	roomLayout

	// Immutable after construction.
	prefix string // room path prefix, fresh per run
	total  int    // rooms over all workers

	// Owned by the event loop; no locks.
	seq      []int64 // per local room: messages published
	first    []int64 // per local room: first sequence number of the step
	left     []int   // closed loop, [room*window + seq%window]: members missing the message
	inflight []int   // closed loop, per local room
	buf      []byte
}

func newLatencyRoomsDriver(spec *Spec, idx int) *latencyRoomsDriver {
	d := &latencyRoomsDriver{latencyBase: latencyBase{base: newBase(spec, idx)}, roomLayout: newRoomLayout(spec, idx, 1)}
	for i := range d.members {
		d.members[i].stable = true
	}
	d.total = max(spec.Conns/d.size, 1)
	d.prefix = "/ws/room/L" + strconv.FormatInt(spec.Epoch, 36) + "-"
	d.seq = make([]int64, len(d.rooms))
	d.send, d.prime = d.publishAt, d.fill
	return d
}

func (d *latencyRoomsDriver) path(m *member) string {
	return d.prefix + strconv.Itoa(d.rooms[m.room])
}

func (d *latencyRoomsDriver) connect(_ int, done func()) {
	d.dialTo(len(d.members), func(tag int) string { return d.path(&d.members[tag]) }, done)
}

func (d *latencyRoomsDriver) OnOpen(c *loadgen.Conn) { openSeat(&d.base, &d.roomLayout, c) }

func (d *latencyRoomsDriver) OnClose(c *loadgen.Conn, err error) {
	closeSeat(&d.base, &d.roomLayout, c, err)
}

// depth is the closed loop's messages in flight per room.
func (d *latencyRoomsDriver) depth() int { return max(d.spec.Window, 1) }

func (d *latencyRoomsDriver) startStep(st Step) {
	d.first = append(d.first[:0], d.seq...)
	d.left = make([]int, len(d.rooms)*d.depth())
	d.inflight = make([]int, len(d.rooms))
	d.begin(st, d.rooms, d.total)
}

// openMembers counts the open connections of local room li.
func (d *latencyRoomsDriver) openMembers(li int) int {
	n := 0
	for _, m := range d.members[li*d.size : (li+1)*d.size] {
		if m.conn != nil && m.conn.Open() {
			n++
		}
	}
	return n
}

// publishAt publishes the next message of local room li from its seat 0,
// stamped at.
func (d *latencyRoomsDriver) publishAt(li int, at int64) bool {
	anchor := &d.members[li*d.size]
	if anchor.conn == nil || !anchor.conn.Open() {
		return false
	}
	if d.closedLoop {
		d.left[li*d.depth()+int(d.seq[li]%int64(d.depth()))] = d.openMembers(li)
		d.inflight[li]++
	}
	k := int64(d.rooms[li])
	d.buf = benchmsg.Append(d.buf[:0], "room", benchmsg.Msg{T: at, S: d.seq[li], P: k, R: k}, d.spec.Size)
	d.write(anchor.conn, d.buf)
	d.seq[li]++
	d.sentOne()
	return true
}

// fill starts the closed loop: Window messages in every room.
func (d *latencyRoomsDriver) fill() {
	for li := range d.rooms {
		for d.inflight[li] < d.depth() && d.publishAt(li, d.wall()) {
		}
	}
}

func (d *latencyRoomsDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	m, msg, ok := roomAccept(&d.st, &d.roomLayout, c, p)
	if !ok {
		return
	}
	li := m.room
	if msg.S < d.first[li] {
		d.st.Late++
		return
	}
	d.got(msg.T)
	if !d.closedLoop {
		return
	}
	slot := li*d.depth() + int(msg.S%int64(d.depth()))
	if d.left[slot]--; d.left[slot] == 0 {
		d.inflight[li]--
		if d.running {
			d.publishAt(li, d.wall())
		}
	}
}

func (d *latencyRoomsDriver) OnTick(int64) {
	if d.running {
		d.pace()
		return
	}
	d.checkDrained()
}

func (d *latencyRoomsDriver) stopRun(drained func()) {
	d.halt(drained)
	d.checkDrained()
}

// checkDrained finishes the drain once every open member has every message
// of its room.
func (d *latencyRoomsDriver) checkDrained() {
	if d.running || d.drained == nil {
		return
	}
	for i := range d.members {
		m := &d.members[i]
		if m.conn != nil && m.conn.Open() && m.last+1 < d.seq[m.room] {
			return
		}
	}
	d.finishDrain()
}

func (d *latencyRoomsDriver) stats() *WorkerStats {
	if d.first == nil {
		return d.baseStats()
	}
	st := d.stepStats()
	for i := range d.members {
		m := &d.members[i]
		want := d.seq[m.room] - d.first[m.room]
		have := max(m.last+1-d.first[m.room], 0)
		st.Expected += want
		st.Missing += max(want-have, 0)
		if st.PerConnMin < 0 || have < st.PerConnMin {
			st.PerConnMin = have
		}
		st.PerConnMax = max(st.PerConnMax, have)
	}
	return st
}
