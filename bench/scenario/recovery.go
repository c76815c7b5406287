//go:build linux

package scenario

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// Recovery is the recovery scenario: rooms of RoomSize Phoenix clients on
// topics room:rec<run>-<k> of a server that keeps their history (SPEC §10);
// seat 0 of every room publishes (MsgRate publishes/s over all rooms, event
// "msg", its sequence number in the payload) and never churns; the other
// seats drop their connection at random (Churn per second over all rooms:
// half of them reset the TCP connection, half send a close frame) and dial
// again after up to recoveryMaxOffline, joining with
// {"recover":{"epoch":E,"offset":N}}, N the offset of the last publication
// they got. On a cluster every client dials a node of its own and every
// reconnect another one, so recovery runs on a node that never saw the
// client. Every client must end with every publication of its room from
// its first join's offset on exactly once, in offset order, each payload
// the publisher's: no loss, no duplicate, no "recovered": false. Replay
// latency runs from the recovering join's send to the publication at the
// reply's offset (to the reply when nothing was missed). It runs on one
// node, then on three (Spec.Nodes); ripple only; not in all.
const Recovery = "recovery"

// The recovery scenario's defaults.
const (
	recoveryConns    = 2000
	recoveryRoomSize = 50
	recoveryMsgRate  = 1000
	recoveryChurn    = 200
	// recoveryMaxOffline bounds the random time a dropped client waits
	// before it dials again.
	recoveryMaxOffline = 250 * time.Millisecond
	// recoveryMaxRedials bounds the dials in a row that fail for one
	// client; then it gives up (and counts as offline).
	recoveryMaxRedials = 5
)

// RecoveryHistory is the history rule the recovery scenario's servers need
// (ripple -history): every room:… channel keeps enough publications to
// cover at least ten seconds of its share of spec's publishes (at least
// 1,000; zero settings are the scenario's defaults), each for five minutes, so that no client's recovery may fail for
// want of history.
func RecoveryHistory(spec Spec) string {
	size := recoveryRoomSize
	if spec.RoomSize > 0 {
		size = spec.RoomSize
	}
	conns := spec.Conns
	if conns <= 0 {
		conns = recoveryConns
	}
	rooms := max(1, conns/max(size, 2))
	rate := spec.MsgRate
	if rate <= 0 {
		rate = recoveryMsgRate
	}
	keep := max(1000, int(rate/float64(rooms)*10)+1)
	return "room:*=" + strconv.Itoa(keep) + ",5m"
}

// recoverySpec fills the recovery settings' defaults.
func recoverySpec(s *Spec) {
	if s.RoomSize <= 0 {
		s.RoomSize = recoveryRoomSize
	}
	s.RoomSize = max(s.RoomSize, 2) // a publisher and a client
	if s.MsgRate <= 0 {
		s.MsgRate = recoveryMsgRate
	}
	if s.Churn < 0 {
		s.Churn = recoveryChurn
	}
	s.Protocol = Phoenix
}

// recoveryTopic is the topic of room k of the run.
func recoveryTopic(spec *Spec, k int) string {
	return "room:rec" + strconv.FormatInt(spec.Epoch, 36) + "-" + strconv.Itoa(k)
}

// recState is where a recovery client is.
type recState uint8

const (
	recOffline recState = iota // no connection; dials at redial
	recDialing                 // dialed, upgrade under way
	recJoining                 // join sent, reply awaited
	recJoined                  // join answered
)

// recRoom is one room of a loop.
type recRoom struct {
	id    int    // global room id
	topic string // its topic
	ready bool   // the publisher's first join was answered
	base  int64  // the offset its reply gave: publication s is at base+s+1
	seq   int64  // publications pushed
	acked int64  // pushes answered ok
}

// recMember is one client: seat 0 of a room publishes.
type recMember struct {
	conn   *loadgen.Conn
	room   int // index into recoveryDriver.rooms
	node   int // index into recoveryDriver.nodes
	pub    bool
	state  recState
	gone   bool // its join was refused, or it gave up dialing
	hasPos bool // epoch and last are set (its first join was answered)
	epoch  string
	first  int64 // offset of the first join reply: it must get first+1 …
	last   int64 // offset of the last publication it got
	joinAt int64 // loop clock of the join's send
	// replayTop is the offset of a recovering join's reply while the
	// publications up to it are being replayed.
	replayTop int64
	replaying bool
	redial    int64 // loop clock of the next dial, while offline
	failures  int   // dials in a row that never opened
}

// recoveryDriver drives the recovery scenario on one loop. Every room
// lives on exactly one loop: all verification is local.
type recoveryDriver struct {
	base

	// Immutable after construction.
	nodes []netip.AddrPort
	size  int

	// Owned by the event loop; no locks.
	rooms     []recRoom
	members   []recMember
	rng       *rand.Rand
	churnRate float64 // this loop's share
	msgRate   float64
	churns    int64 // churns due so far in the run
	published int64 // publishes due so far in the run
	nextRoom  int
	offline   []int // members waiting to dial again
	buf, ref  []byte
}

func newRecoveryDriver(spec *Spec, idx int) *recoveryDriver {
	d := &recoveryDriver{base: newBase(spec, idx), size: max(spec.RoomSize, 2)}
	d.rng = rand.New(rand.NewPCG(uint64(spec.Epoch), uint64(spec.Worker*1000+idx)))
	addrs := spec.Addrs
	if len(addrs) == 0 {
		addrs = []string{spec.Addr}
	}
	for _, a := range addrs {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			d.nodes = append(d.nodes, ap)
		}
	}
	total := max(1, spec.Conns/d.size)
	for k := spec.Worker; k < total; k += spec.Workers {
		if (k/spec.Workers)%spec.Loops == idx {
			d.rooms = append(d.rooms, recRoom{id: k, topic: recoveryTopic(spec, k)})
		}
	}
	frac := float64(len(d.rooms)) / float64(total)
	d.churnRate = spec.Churn * frac
	d.msgRate = spec.MsgRate * frac
	for ri, r := range d.rooms {
		for s := 0; s < d.size; s++ {
			d.members = append(d.members, recMember{room: ri, node: (r.id + s) % max(1, len(d.nodes)), pub: s == 0})
		}
	}
	return d
}

// dialMember dials member i on its node.
func (d *recoveryDriver) dialMember(i int) {
	m := &d.members[i]
	m.state = recDialing
	if len(d.nodes) == 0 {
		d.dial(phoenixPath, i)
		return
	}
	d.l.DialAddr(d.nodes[m.node], d.dl.Path(phoenixPath), i)
}

func (d *recoveryDriver) connect(_ int, done func()) {
	n := len(d.members)
	if n == 0 {
		done()
		return
	}
	d.connecting = true
	d.pending = n
	d.connectDone = done
	d.conns = make([]*loadgen.Conn, n)
	for i := range d.members {
		d.dialMember(i)
	}
}

func (d *recoveryDriver) member(c *loadgen.Conn) *recMember {
	if c.Tag < 0 || c.Tag >= len(d.members) || d.members[c.Tag].conn != c {
		return nil
	}
	return &d.members[c.Tag]
}

// OnOpen sends the join: a first one, or one that recovers from the
// member's position.
func (d *recoveryDriver) OnOpen(c *loadgen.Conn) {
	if c.Tag < 0 || c.Tag >= len(d.members) {
		c.Abort()
		return
	}
	m := &d.members[c.Tag]
	if m.state != recDialing || m.conn != nil {
		c.Abort() // not this member's dial
		return
	}
	m.conn, m.state, m.failures = c, recJoining, 0
	topic := d.rooms[m.room].topic
	if m.hasPos {
		d.buf = appendRecoverJoin(d.buf[:0], topic, m.epoch, m.last)
	} else {
		d.buf = append(append(append(d.buf[:0], `["1","1","`...), topic...), `","phx_join",{}]`...)
	}
	m.joinAt = d.l.Now()
	c.WriteText(d.buf)
}

// appendRecoverJoin appends the join of topic that recovers from position
// epoch:offset.
func appendRecoverJoin(dst []byte, topic, epoch string, offset int64) []byte {
	dst = append(dst, `["1","1","`...)
	dst = append(dst, topic...)
	dst = append(dst, `","phx_join",{"recover":{"epoch":"`...)
	dst = append(dst, epoch...)
	dst = append(dst, `","offset":`...)
	dst = strconv.AppendInt(dst, offset, 10)
	return append(dst, `}}]`...)
}

// OnClose: a connection of a member that the driver did not close itself
// (dropped by the server, a dial that failed) leaves the member offline, to
// dial again; a member that never joined is not dialed again.
func (d *recoveryDriver) OnClose(c *loadgen.Conn, err error) {
	d.closed(c, err) // a first dial that failed
	if c.Tag < 0 || c.Tag >= len(d.members) {
		return
	}
	m := &d.members[c.Tag]
	switch {
	case m.gone:
		return
	case m.conn == c: // open, and not closed by the driver
		m.conn = nil
		if !m.hasPos {
			d.resolved(1) // a first connection that never got its join's reply
		}
	case m.conn == nil && m.state == recDialing: // a dial that never opened
		m.failures++
	default:
		return // a connection the driver closed
	}
	m.replaying = false
	if !m.hasPos || m.failures >= recoveryMaxRedials {
		m.gone, m.state = true, recOffline
		return
	}
	d.goOffline(c.Tag)
}

// goOffline schedules member i's next dial after a random pause, on
// another node when there are several.
func (d *recoveryDriver) goOffline(i int) {
	m := &d.members[i]
	m.state = recOffline
	m.redial = d.l.Now() + int64(time.Millisecond) + d.rng.Int64N(int64(recoveryMaxOffline))
	if n := len(d.nodes); n > 1 {
		m.node = (m.node + 1 + d.rng.IntN(n-1)) % n
	}
	d.offline = append(d.offline, i)
}

func (d *recoveryDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	m := d.member(c)
	if m == nil {
		return // a connection the driver already closed
	}
	ref, topic, event, msg, ok := benchmsg.ScanPhoenix(p)
	r := &d.rooms[m.room]
	switch {
	case !ok:
		d.st.Invalid++
		return
	case string(topic) != r.topic:
		d.st.Foreign++
		return
	}
	switch string(event) {
	case "phx_reply":
		if string(ref) == phxJoinRef {
			d.joined(c, m, p)
			return
		}
		if rep, ok := scanReply(p); ok && rep.ok && m.pub {
			r.acked++
		} else {
			d.st.Errors++
		}
		d.st.Extra++
	case "msg":
		d.publication(m, r, ref, msg)
	default:
		d.st.Invalid++
	}
}

// joined handles the reply to member m's join on c.
func (d *recoveryDriver) joined(c *loadgen.Conn, m *recMember, p []byte) {
	if m.state != recJoining {
		d.st.Invalid++
		return
	}
	first := !m.hasPos
	if first {
		d.opened(c) // the connect step's bookkeeping
	}
	rep, ok := scanReply(p)
	switch {
	case !ok:
		d.st.Invalid++
	case !rep.ok:
		d.st.Errors++
	case rep.epoch == nil || rep.offset < 0:
		d.st.NoHistory++
		ok = false
	}
	if !ok || !rep.ok {
		m.gone, m.conn, m.state = true, nil, recOffline
		c.Abort()
		return
	}
	m.state = recJoined
	r := &d.rooms[m.room]
	if first {
		m.hasPos, m.epoch, m.first, m.last = true, string(rep.epoch), rep.offset, rep.offset
		if m.pub && !r.ready {
			r.ready, r.base = true, rep.offset
		}
		return
	}
	d.st.Churned++
	now := d.l.Now()
	switch {
	case rep.recovered != 1:
		if rep.recovered < 0 {
			d.st.Invalid++ // a recovering join's reply must say
		}
		d.st.Unrecovered++
		if string(rep.epoch) == m.epoch && rep.offset > m.last {
			d.st.Missing += rep.offset - m.last
		}
		m.epoch, m.last = string(rep.epoch), rep.offset
	case string(rep.epoch) != m.epoch || rep.offset < m.last:
		d.st.Invalid++ // recovered into another epoch, or behind what the client had
	case rep.offset == m.last:
		d.join.Record(now - m.joinAt) // nothing missed
	default:
		m.replaying, m.replayTop = true, rep.offset
	}
}

// publication checks one publication pushed to member m of room r.
func (d *recoveryDriver) publication(m *recMember, r *recRoom, ref []byte, msg benchmsg.Msg) {
	epoch, off, ok := benchmsg.Position(ref)
	if m.state != recJoined || !ok || string(epoch) != m.epoch {
		d.st.Invalid++ // before the join's reply, without a position, or of another epoch
		return
	}
	if !r.ready || msg.R != int64(r.id) || msg.S != off-r.base-1 {
		d.st.Invalid++ // not the publisher's publication at that offset
	}
	switch {
	case off <= m.last:
		d.st.Dup++
		return
	case off > m.last+1:
		d.st.Reorder++
		d.st.Missing += off - m.last - 1
	}
	m.last = off
	if m.replaying && off <= m.replayTop {
		d.st.Replayed++
		d.record(-1) // its latency is the replay's
		if off == m.replayTop {
			m.replaying = false
			d.join.Record(d.l.Now() - m.joinAt)
		}
		return
	}
	m.replaying = false
	d.record(msg.T)
}

func (d *recoveryDriver) startRun() {
	d.beginRun()
	d.l.SetTick(time.Millisecond)
}

func (d *recoveryDriver) OnTick(now int64) {
	if d.running {
		elapsed := now - d.runStart
		for n := due(d.msgRate, elapsed, d.published); n > 0; n-- {
			d.published++
			d.publish()
		}
		for n := due(d.churnRate, elapsed, d.churns); n > 0; n-- {
			d.churns++
			d.churn()
		}
	}
	d.redial(now)
	d.checkDrained()
}

// publish pushes the next room's next publication from its publisher.
func (d *recoveryDriver) publish() {
	if len(d.rooms) == 0 {
		return
	}
	ri := d.nextRoom
	d.nextRoom = (d.nextRoom + 1) % len(d.rooms)
	r := &d.rooms[ri]
	pub := &d.members[ri*d.size]
	if !r.ready || pub.state != recJoined || pub.conn == nil {
		return
	}
	m := benchmsg.Msg{T: d.wall(), S: r.seq, P: int64(r.id), R: int64(r.id)}
	d.ref = strconv.AppendInt(d.ref[:0], r.seq+2, 10) // 1 is the join's
	d.buf = benchmsg.AppendPhoenix(d.buf[:0], phxJoinRef, string(d.ref), r.topic, "msg", m, d.spec.Size)
	pub.conn.WriteText(d.buf)
	r.seq++
	d.sent.Add(1)
}

// churn drops a random client that is joined and not replaying.
func (d *recoveryDriver) churn() {
	if len(d.members) == 0 {
		return
	}
	for try := 0; try < 16; try++ {
		i := d.rng.IntN(len(d.members))
		m := &d.members[i]
		if m.pub || m.gone || m.state != recJoined || m.replaying || m.conn == nil {
			continue
		}
		c := m.conn
		m.conn = nil
		if d.rng.IntN(2) == 0 {
			c.Abort()
		} else {
			c.Close()
		}
		d.goOffline(i)
		return
	}
}

// redial dials the offline members whose pause is over.
func (d *recoveryDriver) redial(now int64) {
	kept := d.offline[:0]
	for _, i := range d.offline {
		m := &d.members[i]
		switch {
		case m.gone || m.state != recOffline:
		case m.redial <= now:
			d.dialMember(i)
		default:
			kept = append(kept, i)
		}
	}
	d.offline = kept
}

func (d *recoveryDriver) stopRun(drained func()) {
	d.endRun()
	d.drained = drained
	d.checkDrained()
}

// checkDrained finishes the drain once every client is joined again, done
// replaying and has its room's last publication, and every push was
// answered.
func (d *recoveryDriver) checkDrained() {
	if d.running || d.drained == nil {
		return
	}
	for i := range d.rooms {
		if r := &d.rooms[i]; r.acked < r.seq {
			return
		}
	}
	for i := range d.members {
		m := &d.members[i]
		if m.gone {
			continue
		}
		r := &d.rooms[m.room]
		if m.state != recJoined || m.replaying || (r.ready && m.last < r.base+r.seq) {
			return
		}
	}
	d.l.SetTick(10 * time.Millisecond)
	d.finishDrain()
}

func (d *recoveryDriver) stats() *WorkerStats {
	st := d.baseStats()
	for i := range d.members {
		m := &d.members[i]
		r := &d.rooms[m.room]
		if m.state != recJoined {
			st.Offline++
		}
		if !m.hasPos || !r.ready {
			continue
		}
		top := r.base + r.seq
		st.Expected += max(0, top-m.first)
		if m.last < top {
			st.Missing += top - m.last
		}
	}
	return st
}

// reply is a scanned phx_reply: its status and the fields of its response
// a join on a history channel has.
type reply struct {
	ok        bool   // "status": "ok"
	epoch     []byte // response.epoch (raw string bytes); nil: absent
	offset    int64  // response.offset; -1: absent
	recovered int8   // response.recovered: 1 true, 0 false, -1 absent
}

// scanReply scans the phx_reply p ([join_ref, ref, topic, "phx_reply",
// {"status":…,"response":{…}}]). ok is false when p is not such a message.
func scanReply(p []byte) (rep reply, ok bool) {
	rep = reply{offset: -1, recovered: -1}
	var payload []byte
	n := 0
	if !benchmsg.Elements(p, func(v []byte) bool {
		if n == 4 {
			payload = v
		}
		n++
		return true
	}) || n != 5 {
		return rep, false
	}
	var resp []byte
	if !benchmsg.Fields(payload, func(k, v []byte) bool {
		switch string(k) {
		case "status":
			rep.ok = string(v) == `"ok"`
		case "response":
			resp = v
		}
		return true
	}) {
		return rep, false
	}
	if len(resp) == 0 || resp[0] != '{' {
		return rep, true
	}
	benchmsg.Fields(resp, func(k, v []byte) bool {
		switch string(k) {
		case "epoch":
			if len(v) >= 2 && v[0] == '"' {
				rep.epoch = v[1 : len(v)-1]
			}
		case "offset":
			if off, err := strconv.ParseInt(string(v), 10, 64); err == nil && off >= 0 {
				rep.offset = off
			}
		case "recovered":
			switch string(v) {
			case "true":
				rep.recovered = 1
			case "false":
				rep.recovered = 0
			}
		}
		return true
	})
	return rep, true
}
