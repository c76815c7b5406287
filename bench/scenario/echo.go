//go:build linux

package scenario

import (
	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// echoDriver keeps Window echo requests in flight on every connection of
// /ws/shootout and checks that each reply is the next one expected.
type echoDriver struct {
	base
	echoBook

	// Owned by the event loop; no locks.
	buf []byte
}

// echoBook is the echo drivers' per-connection sequence bookkeeping. Owned
// by the event loop; no locks.
type echoBook struct {
	next        []int64 // per tag: next sequence number to send
	ack         []int64 // per tag: next sequence number expected back
	outstanding int64
}

// lose settles connection tag, closed with replies outstanding: they count
// as missing in st.
func (b *echoBook) lose(tag int, st *WorkerStats) {
	if tag < 0 || tag >= len(b.next) {
		return
	}
	lost := b.next[tag] - b.ack[tag]
	st.Missing += lost
	b.outstanding -= lost
	b.ack[tag] = b.next[tag]
}

func (d *echoDriver) connect(target int, done func()) {
	d.dialTo(d.loopShare(target), func(int) string { return "/ws/shootout" }, done)
}

func (d *echoDriver) OnOpen(c *loadgen.Conn) { d.opened(c) }

func (d *echoDriver) OnClose(c *loadgen.Conn, err error) {
	d.closed(c, err)
	d.lose(c.Tag, &d.st)
	d.checkDrained()
}

func (d *echoDriver) startRun() {
	d.next = make([]int64, len(d.conns))
	d.ack = make([]int64, len(d.conns))
	d.beginRun()
	w := d.spec.Window
	if w < 1 {
		w = 1
	}
	for tag, c := range d.conns {
		if c == nil || !c.Open() {
			continue
		}
		for i := 0; i < w; i++ {
			d.send(c, tag)
		}
	}
}

func (d *echoDriver) send(c *loadgen.Conn, tag int) {
	d.buf = benchmsg.Append(d.buf[:0], "echo", benchmsg.Msg{T: d.wall(), S: d.next[tag], P: -1, R: -1}, d.spec.Size)
	d.write(c, d.buf)
	d.next[tag]++
	d.outstanding++
	d.sent.Add(1)
}

func (d *echoDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	m, settled, ok := echoAccept(&d.st, d.next, d.ack, c.Tag, p)
	if !ok {
		return
	}
	d.outstanding -= settled
	d.record(m.T)
	if d.running {
		d.send(c, c.Tag)
		return
	}
	d.checkDrained()
}

// echoAccept checks echo reply p on connection tag against the sequence
// numbers sent (next) and expected back (ack) per tag: it counts a
// duplicate, a gap or an unexpected message in st and advances ack. ok
// reports a reply to record; settled is how many requests it settles (the
// requests of a gap included).
func echoAccept(st *WorkerStats, next, ack []int64, tag int, p []byte) (m benchmsg.Msg, settled int64, ok bool) {
	kind, m, ok := benchmsg.Scan(p)
	if !ok || string(kind) != "echo" || tag < 0 || tag >= len(next) {
		st.Invalid++
		return m, 0, false
	}
	switch {
	case m.S < ack[tag]:
		st.Dup++
		return m, 0, false
	case m.S >= next[tag]:
		st.Invalid++
		return m, 0, false
	case m.S > ack[tag]:
		st.Reorder++
		st.Missing += m.S - ack[tag]
	}
	settled = m.S - ack[tag] + 1
	ack[tag] = m.S + 1
	return m, settled, true
}

func (d *echoDriver) checkDrained() {
	if !d.running && d.outstanding <= 0 {
		d.finishDrain()
	}
}

func (d *echoDriver) stopRun(drained func()) {
	d.endRun()
	d.drained = drained
	d.checkDrained()
}

func (d *echoDriver) stats() *WorkerStats {
	st := d.baseStats()
	for tag := range d.next {
		st.Missing += d.next[tag] - d.ack[tag]
		n := d.ack[tag]
		if st.PerConnMin < 0 || n < st.PerConnMin {
			st.PerConnMin = n
		}
		if n > st.PerConnMax {
			st.PerConnMax = n
		}
	}
	st.Expected = st.Sent
	return st
}
