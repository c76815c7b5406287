package cluster

import (
	"container/heap"
	"time"
)

// Batching of presence messages, per channel, on the receive goroutine:
// each view's batch (see view) goes out by the rules of package presence
// ("Batches" in its doc), with a token bucket per view under the node's
// presence.Pacer (Config.PresenceInterval and PresenceBurst). A channel
// whose events come at most one per interval (or Burst of them after a
// quiet spell) publishes each at once; a busier one publishes one batch
// per interval. The views waiting for a token are kept in a heap by
// deadline, under one timer.

// dueView is a view waiting for its next token.
type dueView struct {
	at time.Time
	ch string
	v  *view
}

// dueQueue is a min-heap of dueView by deadline (container/heap).
type dueQueue []dueView

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(dueView)) }
func (q *dueQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	old[len(old)-1] = dueView{}
	*q = old[:len(old)-1]
	return d
}

// batching reports whether the node batches presence messages.
func (n *Node) batching() bool { return n.pace.Interval() > 0 }

// send delivers publications of ch's view and takes their tokens.
func (n *Node) send(ch string, v *view, out []delivery) {
	if len(out) == 0 {
		return
	}
	n.deliver(ch, out)
	if n.batching() {
		now := time.Now()
		for range out {
			n.pace.Spend(&v.bucket, now)
		}
	}
}

// flushView publishes v's batch now, token or not.
func (n *Node) flushView(ch string, v *view) {
	n.send(ch, v, v.flush(nil, n.claimer(ch)))
}

// changed runs after an event was applied to v: without batching its
// batch goes out now; with batching now when the channel has a token
// left, otherwise when the next one comes back.
func (n *Node) changed(r *receiver, ch string, v *view) {
	if v.armed || v.b.Empty() {
		return
	}
	if !n.batching() {
		n.flushView(ch, v)
		return
	}
	n.schedule(r, ch, v, time.Now())
}

// schedule publishes v's batch when the channel has a token at now, or
// queues v for the time the next one comes back. v's batch is not empty
// and v is not queued.
func (n *Node) schedule(r *receiver, ch string, v *view, now time.Time) {
	wait := n.pace.Wait(&v.bucket, now)
	if wait <= 0 {
		n.flushView(ch, v)
		return
	}
	v.armed = true
	heap.Push(&r.due, dueView{at: now.Add(wait), ch: ch, v: v})
	if r.due[0].v == v {
		r.timer.Reset(wait)
	}
}

// fire publishes the batches whose token came back, and sets the timer
// for the next one.
func (n *Node) fire(r *receiver) {
	now := time.Now()
	for len(r.due) > 0 && !r.due[0].at.After(now) {
		d := heap.Pop(&r.due).(dueView)
		if r.views[d.ch] != d.v || !d.v.armed {
			continue // the view is gone
		}
		d.v.armed = false
		// A publication that could not wait may have taken the token
		// meanwhile: schedule checks again.
		if !r.broken[d.ch] && !d.v.b.Empty() {
			n.schedule(r, d.ch, d.v, now)
		}
	}
	if len(r.due) > 0 {
		r.timer.Reset(r.due[0].at.Sub(now))
	}
}
