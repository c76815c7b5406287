package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The executor is the one goroutine that writes to Redis for this node (the
// heartbeat, the reaper and the receiver's snapshots aside). Callers append
// ops to Node.queue under Node.mu, together with the local record they
// mirror, so the queue order is the order of the changes; the executor sends
// everything queued in one pipeline, which Redis runs in that order.
//
// A pipeline that fails in transit is sent again: every state op is
// idempotent when replayed in order (track does nothing when the connection
// is tracked, untrack when it is not, sets are sets), so the final state is
// right; a room message may then arrive twice. A script that finds the
// node's incarnation dead answers FENCED and changes nothing: the executor
// then re-announces the node (see refence).

// maxBatch bounds the ops of one pipeline.
const maxBatch = 1024

// maxChanges bounds the encoded member ops the executor keeps for the next
// batch.
const maxChanges = 64 << 10

// op is one unit of queued Redis work.
type op struct {
	// state: the op mirrors a local record, so a re-announce, which replays
	// the records, supersedes it and drops it from the queue.
	state bool
	// member, if set, is the op: a registration or membership change,
	// sent in one script call with the member ops next to it in the
	// queue (see members). add is nil then.
	member member
	// add queues the op's command on p for incarnation inc.
	add func(p redis.Pipeliner, inc string) redis.Cmder
	// done, if set, gets the command once it ran (or failed for good); it
	// runs on the executor goroutine and must not block.
	done func(redis.Cmder)
}

// enqueue appends ops to the queue. Call with n.mu held. Ops queued after
// Close are dropped (their done gets nothing; readers see ErrClosed).
func (n *Node) enqueue(ops ...op) {
	if n.closed {
		return
	}
	if len(n.queue) >= n.cfg.MaxQueue {
		n.overflow()
	}
	if n.queue == nil {
		n.queue, n.spare = n.spare, nil
	}
	n.queue = append(n.queue, ops...)
	signal(n.wake)
}

// overflow empties a full queue but for its reads: room messages are lost,
// state writes are superseded by a forced re-announce. Call with n.mu held.
func (n *Node) overflow() {
	keep := n.queue[:0]
	dropped, states := 0, 0
	for _, o := range n.queue {
		switch {
		case o.state:
			states++
		case o.done != nil:
			keep = append(keep, o)
		default:
			dropped++
		}
	}
	clear(n.queue[len(keep):])
	n.queue = keep
	n.stats.Dropped.Add(int64(dropped))
	if states > 0 {
		n.forceFence.Store(true)
		signal(n.fenceReq)
	}
	n.log.Warn("cluster: write queue full", "dropped_messages", dropped, "state_writes_to_reannounce", states)
}

// read runs one command through the queue (after every write this node
// queued before it) and returns it once done.
func (n *Node) read(ctx context.Context, add func(p redis.Pipeliner, inc string) redis.Cmder) (redis.Cmder, error) {
	res := make(chan redis.Cmder, 1)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	n.enqueue(op{add: add, done: func(c redis.Cmder) { res <- c }})
	n.mu.Unlock()
	select {
	case c := <-res:
		return c, c.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
}

func (n *Node) runExec() {
	defer n.wg.Done()
	defer close(n.execDone)
	for {
		fence := false
		select {
		case <-n.wake:
		case <-n.fenceReq:
			fence = true
		case <-n.execStop:
			n.drain()
			return
		case <-n.ctx.Done():
			return
		}
		if !n.step(fence) {
			return
		}
	}
}

// step handles a fence request (fence, or one pending), then the whole
// queue. false when the node stopped.
func (n *Node) step(fence bool) bool {
	for {
		select {
		case <-n.fenceReq:
			fence = true
		default:
		}
		if fence {
			fence = false
			if !n.refence() {
				return false
			}
		}
		n.mu.Lock()
		batch, whole := n.queue, true
		switch {
		case len(batch) == 0:
			n.mu.Unlock()
			return true
		case len(batch) > maxBatch:
			batch, whole = batch[:maxBatch:maxBatch], false
			n.queue = n.queue[maxBatch:]
		default:
			n.queue = nil // the next enqueue takes the spare array
		}
		n.mu.Unlock()
		fenced, ok := n.execBatch(batch)
		if !ok {
			return false
		}
		if whole && cap(batch) <= maxBatch {
			// The queue's next array: a node queueing an op or two per
			// connection does not grow a new one each time.
			clear(batch)
			n.mu.Lock()
			n.spare = batch[:0]
			n.mu.Unlock()
		}
		if fenced {
			signal(n.fenceReq)
		}
	}
}

// drain runs what is queued when Close is called, without fencing.
func (n *Node) drain() {
	for {
		n.mu.Lock()
		batch := n.queue
		n.queue = nil
		n.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		if _, ok := n.execBatch(batch); !ok {
			return
		}
	}
}

// execBatch sends batch in one pipeline until it gets through. fenced: some
// script answered FENCED. ok is false when the node stopped first.
func (n *Node) execBatch(batch []op) (fenced, ok bool) {
	const firstBackoff = 20 * time.Millisecond
	backoff := firstBackoff
	for {
		inc := n.Incarnation()
		if n.ex.pipe == nil {
			n.ex.pipe = n.rdb.Pipeline()
		}
		pipe := n.ex.pipe
		cmds := append(n.ex.cmds[:0], make([]redis.Cmder, len(batch))...)
		n.ex.changes = n.ex.changes[:0]
		for i := 0; i < len(batch); {
			if batch[i].member.what == "" {
				cmds[i] = batch[i].add(pipe, inc)
				i++
				continue
			}
			j := i + 1
			for j < len(batch) && batch[j].member.what != "" {
				j++
			}
			c := n.members(pipe, inc, batch[i:j])
			for ; i < j; i++ {
				cmds[i] = c
			}
		}
		// The client's timeouts bound the round trip (Config.Timeout).
		_, _ = pipe.Exec(n.ctx)
		transport, noscript := false, false
		fenced = false
		for _, c := range cmds {
			switch err := c.Err(); {
			case err == nil || errors.Is(err, redis.Nil):
			case isFenced(err):
				fenced = true
			case strings.HasPrefix(err.Error(), "NOSCRIPT"):
				noscript = true
			case !isServerError(err):
				transport = true
			}
		}
		if transport || noscript {
			if n.ctx.Err() != nil {
				return false, false
			}
			n.stats.Retries.Add(1)
			if noscript {
				ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
				_ = n.loadScripts(ctx)
				cancel()
			} else {
				if backoff == firstBackoff {
					n.log.Warn("cluster: redis unreachable, retrying", "ops", len(batch), "err", firstErr(cmds))
				}
				if !n.sleep(backoff) {
					return false, false
				}
				backoff = min(2*backoff, time.Second)
			}
			continue
		}
		for i, o := range batch {
			if o.done != nil {
				o.done(cmds[i])
			}
		}
		clear(cmds)
		n.ex.cmds = cmds
		if cap(n.ex.changes) > maxChanges {
			n.ex.changes = nil
		}
		return fenced, true
	}
}

// member is a change to a local connection's registration or
// memberships that Redis mirrors (Connected, Disconnected, Joined, Left).
type member struct {
	what    string // "c+", "c-", "r+" or "r-" (see members.lua)
	conn    string
	channel string // of "r+" and "r-"
}

// execState is what the executor reuses from one batch to the next, so
// that a node sending a batch per connection (a slow ramp) makes little
// garbage. Owned by the executor goroutine.
type execState struct {
	pipe    redis.Pipeliner
	cmds    []redis.Cmder
	changes []byte // the batch's member ops, encoded for members.lua
}

// members queues the member ops run as one script call for incarnation
// inc, the changes in their queue order. Every op of the run answers with
// the one command.
func (n *Node) members(p redis.Pipeliner, inc string, run []op) redis.Cmder {
	// A run's changes follow the previous run's in the same array: the
	// script reads them when the pipeline runs.
	from := len(n.ex.changes)
	for _, o := range run {
		m := &o.member
		n.ex.changes = append(n.ex.changes, m.what...)
		n.ex.changes = append(n.ex.changes, m.conn...)
		n.ex.changes = append(n.ex.changes, 0)
		n.ex.changes = strconv.AppendInt(n.ex.changes, int64(len(m.channel)), 10)
		n.ex.changes = append(n.ex.changes, ':')
		n.ex.changes = append(n.ex.changes, m.channel...)
	}
	changes := n.ex.changes[from:len(n.ex.changes):len(n.ex.changes)]
	return scripts.members.EvalSha(n.ctx, p, n.hbKey, inc, n.k.prefix, owner(n.id, inc), changes)
}

func isFenced(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "FENCED") }

// isServerError reports whether err is a reply from Redis (as opposed to a
// network or timeout error).
func isServerError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if c.Err() != nil {
			return c.Err()
		}
	}
	return nil
}
