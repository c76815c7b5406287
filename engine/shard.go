package engine

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/internal/keyset"
)

// maxLoops bounds the number of event loops: the room index keeps one bit per
// loop in a uint64.
const maxLoops = 64

// shard is one event loop's share of the server: its connections, its channel
// memberships and its task queue.
type shard struct {
	// Immutable after construction.
	e     *Engine
	idx   int
	bit   uint64
	check func(*codec.Request) (http.Header, error) // e.check of upgrading

	// loop is set once, by the first connection accepted on this loop, and
	// gid to the id of the loop's goroutine (see onLoop).
	loop atomic.Pointer[gnet.EventLoop]
	gid  atomic.Int64

	// queuedPubs counts the history publications posted to the loop and not
	// written yet (fanoutPublication).
	queuedPubs atomic.Int64

	// Guarded by qmu.
	qmu       sync.Mutex
	q         []func()
	scheduled bool  // a drain task is queued in gnet and has not swapped q yet
	since     int64 // time.Now().UnixNano() when the oldest queued task was posted

	// Owned by the event loop; no locks.
	spare    []func()             // drained queue kept for reuse
	conns    []*conn              // every connection of this loop, handshaking ones too
	due      []int64              // due[i]: the engine time from which sweep looks at conns[i] again
	scratch  []*conn              // member snapshot for one fan-out
	topics   []int32              // with several channels: scratch[i] is a member of channels[topics[i]]
	phx      map[*conn]*phxSocket // the Phoenix connections' channels
	ev       Event                // reused for handlers that run on the loop
	mark     uint32               // fan-out serial, for de-duplicating recipients
	dirty    []*conn              // connections with frames waiting, in first-write order, from head on
	head     int                  // dirty[:head] are flushed (nil), waiting to be reclaimed
	pending  [][][]byte           // pending[i]: the frames waiting for dirty[i]
	budget   int                  // bytes one flush may write (writeBudget; tests lower it)
	behind   bool                 // the last flush ran out of budget; the rest waits for resume
	resuming bool                 // a resume is asked for and has not run yet
	waker    *waker               // brings the loop back after a poll round; nil until enrolled
	coalesce []byte               // reused to write several small frames at once
	inflated []byte               // decompressed message, valid until the next one
	lastID   connID               // the connection whose id idOf spelled out last
	lastText string               // and that id

	// Owned by the event loop, for the handshakes: one reused Upgrader and
	// response buffer, so that answering an upgrade allocates no more than
	// the request's own strings.
	upgrader  codec.Upgrader
	upgrading *conn                  // the connection upgrader answers for
	hsOut     bytes.Buffer           // the response to the request
	bindings  map[string]pathBinding // route's, by request path

	// Guarded by mu. Written by any goroutine (Join helpers), read by the
	// loop for fan-out and by ClientsIn.
	mu    sync.RWMutex
	rooms map[string]*keyset.Set[*conn] // members by channel, a pointer each
	// only holds, for each channel of rooms, the channel list shared by
	// the members whose one channel it is (most connections join one
	// room): conn.chans points to it until the connection joins another.
	only map[string]*[]string
}

func newShard(e *Engine, idx int) *shard {
	sh := &shard{e: e, idx: idx, bit: 1 << idx, budget: writeBudget, rooms: make(map[string]*keyset.Set[*conn]),
		only: make(map[string]*[]string), phx: make(map[*conn]*phxSocket)}
	sh.check = func(r *codec.Request) (http.Header, error) { return e.check(sh.upgrading, r) }
	return sh
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

// drain runs on the loop: it takes every queued task and runs them in order,
// then writes what they queued. Tasks posted meanwhile schedule the next
// drain.
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
	sh.flushTurn()
	if cap(q) <= 4096 {
		sh.qmu.Lock()
		if sh.spare == nil {
			sh.spare = q[:0]
		}
		sh.qmu.Unlock()
	}
	return nil
}

// Write scheduling.
//
// A frame for a connection waits in the connection's pending list until the
// callback that produced it ends (OnTraffic, a drain of posted tasks), then
// flushTurn writes it: a message read on a loop reaches that loop's members
// in the same poll round, with no wakeup in between, and a connection that
// got several frames in one callback gets them in one write.
//
// One flush writes at most writeBudget (connections with frames waiting are
// written in the order they got their first frame). What does not fit waits,
// in that order, and the loop is then behind: later frames join the back of
// the queue, the loop goes on polling and reading its sockets, and the
// shard's waker brings it back once per poll round (resume) to write the
// next budget's worth from the front. A connection that sends something
// meanwhile gets its own answer at once (OnTraffic): the backlog still gets
// its budget every round, so senders cannot starve it, and an interactive
// reply never waits behind a join storm's megabytes. So a big fan-out or a
// storm never keeps a loop from reading, and no connection, however busy
// the others are, waits behind more than one budget of others' writes per
// round: one queued at position p is written within
// p/(writeBudget/writeCost)+1 rounds.

// writeBudget bounds what one flush writes, in bytes, each connection written
// counting writeCost bytes more than its frames (a small write costs a
// syscall whatever its size). 256 KiB is about 120 small writes, or a
// quarter of a big presence_state: a couple of milliseconds of a loop's
// time on loopback, where a write also does the receiver's TCP work. Larger
// budgets measured worse for fan-out throughput as well as for latency:
// the loop reads less often, so fewer messages join each write.
const (
	writeBudget = 256 << 10
	writeCost   = 2 << 10
)

// flushTurn ends a callback: it writes what the callback queued, unless the
// loop is behind, in which case the queue is the next resume's. Loop only.
func (sh *shard) flushTurn() {
	if !sh.behind {
		sh.flush()
	}
}

// endTraffic ends c's OnTraffic. When the loop has a backlog (served a
// budget per poll round whatever the senders do), the sender's own answer
// goes now, so a chat line is not stuck behind a join storm; the rest is
// flushTurn's. Loop only.
func (sh *shard) endTraffic(c *conn) {
	if sh.behind {
		c.flushPending()
	}
	sh.flushTurn()
}

// resume runs once per poll round while the loop is behind (see waker): it
// writes the next budget's worth of the queue. Loop only.
//
// It yields the P first. A loop that is behind never finds its poll round
// empty, so gnet never reaches its own runtime.Gosched and the runtime's
// other work on this P (GC mark workers, timers) waits for sysmon to preempt
// the loop; yielding once per round measured 1.25-1.6x the broadcast
// throughput of not yielding (10,000 members, server on one CPU).
func (sh *shard) resume() {
	sh.resuming = false
	runtime.Gosched()
	sh.flush()
}

// flush writes waiting frames, oldest connection first, for at most one
// budget: one write (or writev) per connection, whatever the number of
// frames it got. What does not fit stays queued, in order, and a resume is
// asked for. Loop only.
func (sh *shard) flush() {
	budget := sh.budget
	for i := sh.head; i < len(sh.dirty); i++ {
		if budget <= 0 {
			sh.keep(i)
			return
		}
		c := sh.dirty[i]
		budget -= writeCost + c.flushPending()
		c.out = 0
		sh.dirty[i] = nil
	}
	sh.behind = false
	sh.dirty, sh.head = sh.dirty[:0], 0
}

// keep leaves dirty[from:] queued and asks for a resume in the next poll
// round. The queue starts at head; its flushed front is reclaimed once it
// is at least as long as what remains, so that a connection moves at most
// once per connection flushed before it, however many rounds a fan-out
// takes.
func (sh *shard) keep(from int) {
	sh.head = from
	if n := len(sh.dirty) - from; from >= n {
		for j := range n {
			c := sh.dirty[from+j]
			sh.dirty[j], sh.dirty[from+j] = c, nil
			// The slots before from are flushed and empty; swap one to the end.
			sh.pending[j], sh.pending[from+j] = sh.pending[from+j], sh.pending[j]
			c.out = int32(j + 1)
		}
		sh.dirty, sh.head = sh.dirty[:n], 0
	}
	if !sh.behind {
		sh.behind = true
		sh.e.stats.FlushYields.Add(1)
	}
	if !sh.resuming {
		sh.resuming = true
		sh.wakeNextRound()
	}
}

// idOf returns c's id for its events. The id is spelled out when asked for
// (connID); the last one is kept, so the events of a connection read
// together share one string. Loop only.
func (sh *shard) idOf(c *conn) string {
	if sh.lastText == "" || c.uid != sh.lastID {
		sh.lastID, sh.lastText = c.uid, c.id()
	}
	return sh.lastText
}

// maxBindings bounds a shard's bindings by path (route); past it they are
// forgotten and made again.
const maxBindings = 4096

// pathBinding is a request path and the binding its route gave.
type pathBinding struct {
	path string
	b    *binding
}

// route matches the path of an upgrade request. A route with params gives
// each path its own binding: the connections on one path (a room's
// members) share it, and the path's string, instead of each keeping its
// own. Loop only.
func (sh *shard) route(r *codec.Request) (*binding, bool) {
	if pb, ok := sh.bindings[r.Path]; ok {
		r.Path = pb.path
		return pb.b, true
	}
	rt, params, ok := sh.e.routes.Match(r.Path)
	if !ok || len(params) == 0 {
		return rt, ok
	}
	rt = &binding{route: rt.route, params: params}
	if len(sh.bindings) >= maxBindings {
		clear(sh.bindings)
	}
	if sh.bindings == nil {
		sh.bindings = make(map[string]pathBinding)
	}
	sh.bindings[r.Path] = pathBinding{path: r.Path, b: rt}
	return rt, true
}

// intern makes the path of an upgrade request that route pattern matched
// share the pattern's string when equal, as it is for a route without
// params: each connection keeps its request. Loop only.
func (sh *shard) intern(r *codec.Request, pattern string) {
	if r.Path == pattern {
		r.Path = pattern
	}
}

// add registers a new connection with the loop; the next sweep looks at
// it.
func (sh *shard) add(c *conn) {
	c.idx = int32(len(sh.conns))
	sh.conns = append(sh.conns, c)
	sh.due = append(sh.due, 0)
}

// holds reports whether c is one of the loop's connections, at c.idx.
func (sh *shard) holds(c *conn) bool {
	return c.idx >= 0 && int(c.idx) < len(sh.conns) && sh.conns[c.idx] == c
}

// recheck has the next sweep look at c: one of its deadlines may have come
// earlier. Loop only.
func (sh *shard) recheck(c *conn) {
	if sh.holds(c) {
		sh.due[c.idx] = 0
	}
}

// remove forgets c; O(1) by swapping the last connection into its place.
func (sh *shard) remove(c *conn) {
	if !sh.holds(c) {
		return
	}
	last := int32(len(sh.conns) - 1)
	moved := sh.conns[last]
	sh.conns[c.idx], moved.idx = moved, c.idx
	sh.due[c.idx] = sh.due[last]
	sh.conns[last] = nil
	sh.conns = sh.conns[:last]
	sh.due = sh.due[:last]
	c.idx = -1
}

// members copies the members of the given channels into sh.scratch, each
// once; with several channels, sh.topics says which channel each entry is a
// member of. A Phoenix member of several of them is listed once per channel:
// each is a topic of its own to it. Loop only.
func (sh *shard) members(channels []string) []*conn {
	sh.scratch = sh.scratch[:0]
	sh.topics = sh.topics[:0]
	sh.mark++
	sh.mu.RLock()
	if len(channels) == 1 {
		if set := sh.rooms[channels[0]]; set != nil {
			for c := range set.All {
				c.mark = sh.mark
				sh.scratch = append(sh.scratch, c)
			}
		}
	} else {
		for i, ch := range channels {
			set := sh.rooms[ch]
			if set == nil {
				continue
			}
			for c := range set.All {
				if c.mark != sh.mark || c.dialect() != 0 {
					c.mark = sh.mark
					sh.scratch = append(sh.scratch, c)
					sh.topics = append(sh.topics, int32(i))
				}
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
