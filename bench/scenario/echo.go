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

	// Owned by the event loop; no locks.
	next        []int64 // per tag: next sequence number to send
	ack         []int64 // per tag: next sequence number expected back
	outstanding int64
	buf         []byte
}

func (d *echoDriver) connect(target int, done func()) {
	d.dialTo(d.loopShare(target), func(int) string { return "/ws/shootout" }, done)
}

func (d *echoDriver) OnOpen(c *loadgen.Conn) { d.opened(c) }

func (d *echoDriver) OnClose(c *loadgen.Conn, err error) {
	d.closed(c, err)
	if c.Tag >= 0 && c.Tag < len(d.next) {
		lost := d.next[c.Tag] - d.ack[c.Tag]
		d.st.Missing += lost
		d.outstanding -= lost
		d.ack[c.Tag] = d.next[c.Tag]
		d.checkDrained()
	}
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
	c.WriteText(d.buf)
	d.next[tag]++
	d.outstanding++
	d.sent.Add(1)
}

func (d *echoDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	tag := c.Tag
	kind, m, ok := benchmsg.Scan(p)
	if !ok || string(kind) != "echo" || tag < 0 || tag >= len(d.next) {
		d.st.Invalid++
		return
	}
	switch {
	case m.S < d.ack[tag]:
		d.st.Dup++
		return
	case m.S >= d.next[tag]:
		d.st.Invalid++
		return
	case m.S > d.ack[tag]:
		d.st.Reorder++
		d.st.Missing += m.S - d.ack[tag]
	}
	d.outstanding -= m.S - d.ack[tag] + 1
	d.ack[tag] = m.S + 1
	d.record(m.T)
	if d.running {
		d.send(c, tag)
		return
	}
	d.checkDrained()
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
