//go:build linux

package scenario

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// bcastShared is the broadcast state the loops of one worker share.
type bcastShared struct {
	// Immutable after construction.
	pubs   int
	window int
	owner  []atomic.Pointer[broadcastDriver] // by publisher, nil when remote

	// remaining[p*window + seq%window] counts this worker's receivers that still
	// miss message seq of publisher p. Atomics only.
	remaining []atomic.Int64
	// receivers is this worker's open connections at the start of the run.
	receivers atomic.Int64
}

func newBcastShared(spec *Spec) *bcastShared {
	w := spec.Window
	if w < 1 {
		w = 1
	}
	return &bcastShared{
		pubs:      spec.Publishers,
		window:    w,
		owner:     make([]atomic.Pointer[broadcastDriver], spec.Publishers),
		remaining: make([]atomic.Int64, spec.Publishers*w),
	}
}

type publisher struct {
	id       int
	tag      int
	seq      int64 // next sequence number
	inflight int
	started  int64 // loop clock of the run start (rate pacing)
}

// broadcastDriver puts every connection in one room (or on /ws/shootout) and
// lets Publishers of them publish, each keeping up to Window messages in flight:
// a message stops being in flight once every receiver of this worker has it.
// Every receiver checks per-publisher order and records the latency.
type broadcastDriver struct {
	base
	sh *bcastShared

	// Immutable after construction.
	kind  string // type of published messages
	path  string
	topic string // Phoenix runs: the topic every connection joins; "" otherwise

	// Owned by the event loop; no locks.
	pubs     []*publisher
	last     []int64 // [tag*P + p]: last sequence number received
	count    []int64 // per tag: messages received
	expected int64   // per connection, after settle
	settling func()
	buf      []byte
	ref      []byte
}

func newBroadcastDriver(spec *Spec, idx int, sh *bcastShared) *broadcastDriver {
	d := &broadcastDriver{base: newBase(spec, idx), sh: sh, kind: "room", path: "/ws/room/bench"}
	switch {
	case spec.Protocol == Phoenix:
		d.path, d.topic = phoenixPath, "room:bench" // the channel of /ws/room/bench
	case spec.Route == "shootout":
		d.kind, d.path = "broadcast", "/ws/shootout"
	}
	// Worker connection k runs on loop k%Loops as tag k/Loops; its global
	// index is k*Workers+Worker. Publishers are the global indexes 0…P-1.
	for p := 0; p < spec.Publishers; p++ {
		if p%spec.Workers != spec.Worker {
			continue
		}
		k := p / spec.Workers
		if k%spec.Loops != idx {
			continue
		}
		d.pubs = append(d.pubs, &publisher{id: p, tag: k / spec.Loops})
		sh.owner[p].Store(d)
	}
	return d
}

func (d *broadcastDriver) connect(target int, done func()) {
	d.dialTo(d.loopShare(target), func(int) string { return d.path }, done)
}

func (d *broadcastDriver) OnOpen(c *loadgen.Conn) {
	if d.topic != "" {
		d.buf = phxJoin(c, d.topic, d.buf) // open once the join is answered
		return
	}
	d.opened(c)
}
func (d *broadcastDriver) OnClose(c *loadgen.Conn, err error) { d.closed(c, err) }

// books allocates the per-connection bookkeeping once the connections are
// known: at the run's start, or at the first message when another loop's
// publisher started first (every loop starts its run in turn).
func (d *broadcastDriver) books() {
	if len(d.count) == len(d.conns) {
		return
	}
	P := d.sh.pubs
	d.last = make([]int64, len(d.conns)*P)
	for i := range d.last {
		d.last[i] = -1
	}
	d.count = make([]int64, len(d.conns))
}

func (d *broadcastDriver) startRun() {
	d.books()
	d.beginRun()
	if d.spec.PubRate > 0 {
		d.l.SetTick(time.Millisecond)
	}
	for _, p := range d.pubs {
		p.started = d.runStart
		d.publish(p)
	}
}

// publish sends as many messages as the window and the rate allow.
func (d *broadcastDriver) publish(p *publisher) {
	if !d.running || p.tag >= len(d.conns) {
		return
	}
	c := d.conns[p.tag]
	if c == nil || !c.Open() {
		return
	}
	for p.inflight < d.sh.window {
		if r := d.spec.PubRate; r > 0 {
			due := int64(float64(d.l.Now()-p.started) / float64(time.Second) * r)
			if p.seq >= due+1 {
				return
			}
		}
		d.sh.remaining[p.id*d.sh.window+int(p.seq%int64(d.sh.window))].Store(d.sh.receivers.Load())
		m := benchmsg.Msg{T: d.wall(), S: p.seq, P: int64(p.id), R: -1}
		if d.topic != "" {
			d.ref = strconv.AppendInt(d.ref[:0], p.seq+2, 10) // 1 is the join's
			d.buf = benchmsg.AppendPhoenix(d.buf[:0], phxJoinRef, string(d.ref), d.topic, d.kind, m, d.spec.Size)
		} else {
			d.buf = benchmsg.Append(d.buf[:0], d.kind, m, d.spec.Size)
		}
		d.write(c, d.buf)
		p.seq++
		p.inflight++
		d.sent.Add(1)
	}
}

func (d *broadcastDriver) OnTick(int64) {
	if d.running && d.spec.PubRate > 0 {
		for _, p := range d.pubs {
			d.publish(p)
		}
	}
	d.checkSettled()
}

// complete runs on the publisher's loop when message seq of p reached every
// receiver of this worker.
func (d *broadcastDriver) complete(id int) {
	for _, p := range d.pubs {
		if p.id != id {
			continue
		}
		p.inflight--
		if d.running {
			d.publish(p)
		} else {
			d.checkDrained()
		}
		return
	}
}

func (d *broadcastDriver) checkDrained() {
	if d.running || d.drained == nil {
		return
	}
	for _, p := range d.pubs {
		if p.inflight > 0 {
			return
		}
	}
	d.finishDrain()
}

func (d *broadcastDriver) stopRun(drained func()) {
	d.endRun()
	d.l.SetTick(10 * time.Millisecond)
	d.drained = drained
	d.checkDrained()
}

func (d *broadcastDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, msg []byte) {
	var kind []byte
	var m benchmsg.Msg
	var ok bool
	if d.topic != "" {
		var joined, reply bool
		kind, m, joined, reply, ok = phxMessage(msg)
		switch {
		case joined:
			d.opened(c)
			return
		case reply:
			d.st.Extra++ // the answer to a push
			return
		}
	} else {
		kind, m, ok = benchmsg.Scan(msg)
	}
	if !ok {
		d.st.Invalid++
		return
	}
	if string(kind) == "broadcastResult" {
		d.st.Extra++
		return
	}
	if string(kind) == "error" {
		d.st.Errors++
		return
	}
	d.books()
	P := int64(d.sh.pubs)
	tag := c.Tag
	if string(kind) != d.kind || m.P < 0 || m.P >= P || m.S < 0 || tag < 0 || tag >= len(d.count) {
		d.st.Invalid++
		return
	}
	last := &d.last[int64(tag)*P+m.P]
	switch {
	case m.S <= *last:
		d.st.Dup++
		return
	case m.S > *last+1:
		d.st.Reorder++
	}
	*last = m.S
	d.count[tag]++
	d.record(m.T)
	slot := &d.sh.remaining[int(m.P)*d.sh.window+int(m.S%int64(d.sh.window))]
	if slot.Add(-1) == 0 {
		if owner := d.sh.owner[m.P].Load(); owner == d {
			d.complete(int(m.P))
		} else if owner != nil {
			id := int(m.P)
			owner.l.Execute(func() { owner.complete(id) })
		}
	}
	if d.settling != nil && d.count[tag] == d.expected {
		d.checkSettled()
	}
}

func (d *broadcastDriver) sentByPublisher(dst []int64) {
	for _, p := range d.pubs {
		dst[p.id] += p.seq
	}
}

func (d *broadcastDriver) settle(sent []int64, done func()) {
	d.expected = 0
	for _, n := range sent {
		d.expected += n
	}
	d.settling = done
	d.checkSettled()
}

func (d *broadcastDriver) checkSettled() {
	if d.settling == nil {
		return
	}
	for tag, c := range d.conns {
		if c != nil && c.Open() && d.count[tag] < d.expected {
			return
		}
	}
	f := d.settling
	d.settling = nil
	f()
}

func (d *broadcastDriver) stats() *WorkerStats {
	st := d.baseStats()
	for tag, c := range d.conns {
		if c == nil || tag >= len(d.count) {
			continue
		}
		n := d.count[tag]
		st.Expected += d.expected
		if n < d.expected {
			st.Missing += d.expected - n
		}
		if st.PerConnMin < 0 || n < st.PerConnMin {
			st.PerConnMin = n
		}
		if n > st.PerConnMax {
			st.PerConnMax = n
		}
	}
	return st
}
