package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// maxLoops bounds the number of event loops: the room index keeps one bit per
// loop in a uint64.
const maxLoops = 64

// shard is one event loop's share of the server: its connections, its channel
// memberships and its task queue.
type shard struct {
	// Immutable after construction.
	e   *Engine
	idx int
	bit uint64

	// loop is set once, by the first connection accepted on this loop.
	loop atomic.Pointer[gnet.EventLoop]

	// Guarded by qmu.
	qmu       sync.Mutex
	q         []func()
	scheduled bool  // a drain task is queued in gnet and has not swapped q yet
	since     int64 // time.Now().UnixNano() when the oldest queued task was posted

	// Owned by the event loop; no locks.
	spare    []func()   // drained queue kept for reuse
	conns    []*conn    // every connection of this loop, handshaking ones too
	scratch  []*conn    // member snapshot for one fan-out
	ev       Event      // reused for handlers that run on the loop
	mark     uint32     // fan-out serial, for de-duplicating recipients
	flushing bool       // writes are waiting and a drain that flushes them is queued
	behind   bool       // the last flush ran out of time; the rest waits for the next round
	dirty    []*conn    // connections with frames waiting, in first-write order
	pending  [][][]byte // pending[i]: the frames waiting for dirty[i]
	coalesce []byte     // reused to write several small frames at once
	inflated []byte     // decompressed message, valid until the next one

	// Guarded by mu. Written by any goroutine (Join helpers), read by the
	// loop for fan-out and by ClientsIn.
	mu    sync.RWMutex
	rooms map[string]map[*conn]struct{}
}

func newShard(e *Engine, idx int) *shard {
	return &shard{e: e, idx: idx, bit: 1 << idx, rooms: make(map[string]map[*conn]struct{})}
}

// post queues fn to run on the shard's loop. Tasks run in the order they were
// posted. It reports false when the loop is gone (the engine stopped).
func (sh *shard) post(fn func()) bool {
	lp := sh.loop.Load()
	if lp == nil {
		return false
	}
	sh.qmu.Lock()
	sh.q = append(sh.q, fn)
	wake := !sh.scheduled
	if wake {
		sh.scheduled = true
		sh.since = time.Now().UnixNano()
	}
	sh.qmu.Unlock()
	if wake {
		if err := (*lp).Execute(context.Background(), gnet.RunnableFunc(sh.drain)); err != nil {
			sh.qmu.Lock()
			sh.q, sh.scheduled = sh.q[:0], false
			sh.qmu.Unlock()
			return false
		}
	}
	return true
}

// drain runs on the loop: it takes every queued task and runs them in order.
// Tasks posted meanwhile schedule the next drain.
func (sh *shard) drain(context.Context) error {
	sh.qmu.Lock()
	q := sh.q
	sh.q, sh.spare = sh.spare[:0], nil
	sh.scheduled = false
	since := sh.since
	sh.qmu.Unlock()
	sh.e.cfg.Observer.QueueDelay(time.Duration(time.Now().UnixNano() - since))
	for i, fn := range q {
		fn()
		q[i] = nil
	}
	sh.flush()
	if cap(q) <= 4096 {
		sh.qmu.Lock()
		if sh.spare == nil {
			sh.spare = q[:0]
		}
		sh.qmu.Unlock()
	}
	return nil
}

// flushBudget bounds the time one round spends writing. Past it the other
// waiting connections are written in the next round, after the loop has
// polled its sockets again: a storm of large writes (a join burst into a big
// presence channel sends every joiner the whole channel) must not keep the
// loop from reading, and from answering, everybody else.
const flushBudget = 2 * time.Millisecond

// flush writes every frame the batch queued: one write (or writev) per
// connection, whatever the number of messages it got, for at most
// flushBudget. Loop only.
func (sh *shard) flush() {
	start := time.Now()
	for i, c := range sh.dirty {
		c.flushPending()
		c.out = 0
		sh.dirty[i] = nil
		if i+1 < len(sh.dirty) && time.Since(start) > flushBudget {
			sh.resumeLater(i + 1)
			return
		}
	}
	sh.flushing, sh.behind = false, false
	sh.dirty = sh.dirty[:0]
}

// resumeLater keeps the connections from dirty[from:] waiting, in order, and
// has a later round write them. The drain that does it is posted from
// another goroutine, so that gnet's loop polls its sockets before running it
// (a task posted from the running drain could run in the same round).
// Meanwhile the loop is behind: a connection that sent something gets its
// answer written at once (see OnTraffic) instead of after the backlog.
func (sh *shard) resumeLater(from int) {
	n := len(sh.dirty) - from
	for j := range n {
		c := sh.dirty[from+j]
		sh.dirty[j], sh.dirty[from+j] = c, nil
		// The slots before from are flushed and empty; swap one to the end.
		sh.pending[j], sh.pending[from+j] = sh.pending[from+j], sh.pending[j]
		c.out = int32(j + 1)
	}
	sh.dirty = sh.dirty[:n]
	sh.behind = true
	sh.e.stats.FlushYields.Add(1)
	go sh.post(noop) // flushing stays set: later writes join the backlog
}

func noop() {}

// add registers a new connection with the loop.
func (sh *shard) add(c *conn) {
	c.idx = int32(len(sh.conns))
	sh.conns = append(sh.conns, c)
}

// remove forgets c; O(1) by swapping the last connection into its place.
func (sh *shard) remove(c *conn) {
	last := int32(len(sh.conns) - 1)
	if c.idx < 0 || c.idx > last || sh.conns[c.idx] != c {
		return
	}
	moved := sh.conns[last]
	sh.conns[c.idx], moved.idx = moved, c.idx
	sh.conns[last] = nil
	sh.conns = sh.conns[:last]
	c.idx = -1
}

// members copies the members of the given channels into sh.scratch, each once.
// Loop only.
func (sh *shard) members(channels []string) []*conn {
	sh.scratch = sh.scratch[:0]
	sh.mark++
	sh.mu.RLock()
	for _, ch := range channels {
		for c := range sh.rooms[ch] {
			if c.mark != sh.mark {
				c.mark = sh.mark
				sh.scratch = append(sh.scratch, c)
			}
		}
	}
	sh.mu.RUnlock()
	return sh.scratch
}

// done clears the scratch snapshot so it pins no connection.
func (sh *shard) done() {
	clear(sh.scratch)
	sh.scratch = sh.scratch[:0]
}
