//go:build linux

package scenario

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ripple-rt/ripple/bench/dialect"
	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// base is the part every driver shares: connect-step bookkeeping, the run
// window, histograms and counters.
type base struct {
	// Immutable after construction.
	spec *Spec
	idx  int            // loop index within the worker
	l    *loadgen.Loop  // set before the loop runs
	dl   dialect.Client // the server's protocol; set before the loop runs

	// Owned by the event loop; no locks.
	conns       []*loadgen.Conn // initial connections by tag
	connecting  bool
	pending     int
	connectDone func()
	running     bool
	runStart    int64 // loop clock
	runEnd      int64
	drained     func()
	lat         hist.Histogram
	join        hist.Histogram
	st          WorkerStats
	win         int64 // deliveries during the run window

	// Read from any goroutine.
	sent      atomic.Int64
	delivered atomic.Int64
}

func newBase(spec *Spec, idx int) base {
	return base{spec: spec, idx: idx, st: WorkerStats{PerConnMin: -1}}
}

func (b *base) core() *base { return b }

// wall is the current time in ns since the run epoch, as embedded in messages.
func (b *base) wall() int64 { return time.Now().UnixNano() - b.spec.Epoch }

// loopShare is this loop's share of the worker's share of n connections.
func (b *base) loopShare(n int) int {
	return fleet.Share(fleet.Share(n, b.spec.Workers, b.spec.Worker), b.spec.Loops, b.idx)
}

// dial dials bench route path as tag, in the server's dialect.
func (b *base) dial(path string, tag int) { b.l.Dial(b.dl.Path(path), tag) }

// write sends bench message msg on c, in the server's dialect.
func (b *base) write(c *loadgen.Conn, msg []byte) { b.dl.Send(c, msg) }

// dialTo dials tags len(b.conns) … n-1 on path(tag) and calls done once all of
// them opened or failed.
func (b *base) dialTo(n int, path func(tag int) string, done func()) {
	start := len(b.conns)
	if n <= start {
		done()
		return
	}
	b.connecting = true
	b.pending = n - start
	b.connectDone = done
	for t := start; t < n; t++ {
		b.conns = append(b.conns, nil)
		b.dial(path(t), t)
	}
}

func (b *base) resolved(n int) {
	if !b.connecting {
		return
	}
	b.pending -= n
	if b.pending <= 0 {
		b.connecting = false
		if f := b.connectDone; f != nil {
			b.connectDone = nil
			f()
		}
	}
}

// opened records an initial connection; it reports whether c was one.
func (b *base) opened(c *loadgen.Conn) bool {
	if !b.connecting || c.Tag < 0 || c.Tag >= len(b.conns) || b.conns[c.Tag] != nil {
		return false
	}
	b.conns[c.Tag] = c
	b.resolved(1)
	return true
}

// closed handles the closing of an initial dial that never opened; on a
// system-limit error it cancels the dials still queued.
func (b *base) closed(c *loadgen.Conn, err error) {
	var de *loadgen.DialError
	if !b.connecting || !errors.As(err, &de) {
		return
	}
	n := 1
	if loadgen.LimitHint(err) != "" {
		n += b.l.CancelDials()
	}
	b.resolved(n)
}

func (b *base) beginRun() {
	b.running = true
	b.runStart = b.l.Now()
}

func (b *base) endRun() {
	if b.running {
		b.running = false
		b.runEnd = b.l.Now()
	}
}

func (b *base) finishDrain() {
	if f := b.drained; f != nil {
		b.drained = nil
		f()
	}
}

// record counts one delivery sent at t (run epoch ns).
func (b *base) record(t int64) {
	if t >= 0 {
		b.lat.Record(b.wall() - t)
	}
	b.delivered.Add(1)
	if b.running {
		b.win++
	}
}

func (b *base) counters(p *Progress) {
	p.Sent += b.sent.Load()
	p.Delivered += b.delivered.Load()
}

func (b *base) baseStats() *WorkerStats {
	st := b.st
	st.Latency = b.lat.Snapshot()
	st.Join = b.join.Snapshot()
	st.Sent = b.sent.Load()
	st.Delivered = b.delivered.Load()
	st.WindowDelivered = b.win
	if b.runEnd > b.runStart {
		st.WindowNs = b.runEnd - b.runStart
	}
	return &st
}

// Defaults for drivers without the corresponding behaviour.
func (b *base) startRun()                                       { b.beginRun() }
func (b *base) stopRun(drained func())                          { b.endRun(); drained() }
func (b *base) settle(_ []int64, done func())                   { done() }
func (b *base) sentByPublisher([]int64)                         {}
func (b *base) stats() *WorkerStats                             { return b.baseStats() }
func (b *base) OnTick(int64)                                    {}
func (b *base) OnMessage(*loadgen.Conn, wsproto.Opcode, []byte) {}

// newDriver builds the driver of spec.Scenario for loop idx.
func newDriver(spec *Spec, idx int, shared any) (driver, error) {
	switch spec.Scenario {
	case Idle:
		return &idleDriver{base: newBase(spec, idx)}, nil
	case Echo:
		return &echoDriver{base: newBase(spec, idx)}, nil
	case Broadcast:
		return newBroadcastDriver(spec, idx, shared.(*bcastShared)), nil
	case Rooms:
		return newRoomsDriver(spec, idx), nil
	case Presence:
		return newPresenceDriver(spec, idx), nil
	case Storm:
		return newStormDriver(spec, idx), nil
	case Latency:
		return newLatencyDriver(spec, idx)
	case C1M:
		return newC1MDriver(spec, idx), nil
	case Recovery:
		return newRecoveryDriver(spec, idx), nil
	}
	return nil, fmt.Errorf("scenario: unknown scenario %q", spec.Scenario)
}

func newShared(spec *Spec) any {
	if spec.Scenario == Broadcast {
		return newBcastShared(spec)
	}
	return nil
}

// idleDriver only connects.
type idleDriver struct{ base }

func (d *idleDriver) connect(target int, done func()) {
	d.dialTo(d.loopShare(target), func(int) string { return "/ws/echo" }, done)
}
func (d *idleDriver) OnOpen(c *loadgen.Conn)             { d.opened(c) }
func (d *idleDriver) OnClose(c *loadgen.Conn, err error) { d.closed(c, err) }
