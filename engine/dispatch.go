package engine

import (
	"fmt"
	"runtime/debug"

	"github.com/ripple-rt/ripple/codec"
)

// dispatch delivers one event of c to its route's handler: on the loop, or,
// for a Workers route, through the connection's queue to the pool. Loop only.
func (e *Engine) dispatch(c *conn, typ EventType, msg []byte, binary bool) {
	if typ == Message && msg == nil {
		msg = []byte{} // an empty message is still a message: a handler echoing it sends it
	}
	if c.rt.route.Workers {
		x := c.extra()
		if len(x.pending) >= e.cfg.MaxPending && typ == Message {
			c.close(codec.ClosePolicyViolation, "too many pending messages", false)
			return
		}
		ev := &Event{Type: typ, ConnectionID: c.sh.idOf(c), Binary: binary, Params: c.rt.params,
			Request: &c.req, User: x.user, e: e, c: c}
		if msg != nil {
			ev.Message = append(make([]byte, 0, len(msg)), msg...)
		}
		x.pending = append(x.pending, ev)
		e.runNext(c)
		return
	}
	ev := &c.sh.ev
	*ev = Event{Type: typ, ConnectionID: c.sh.idOf(c), Message: msg, Binary: binary, Params: c.rt.params,
		Request: &c.req, User: c.user(), e: e, c: c}
	reply, ok := e.call(c, ev)
	*ev = Event{}
	e.finish(c, typ, reply, ok)
}

// runnable reports whether a queued event must still run: a channel's
// message is dropped once its channel has ended (left, replaced, closed).
func runnable(ev *Event) bool {
	return ev.ch == nil || ev.Type != Message || ev.ch.state == chanJoined
}

// runNext hands c's oldest pending event to the pool unless one is already
// running there. The reply comes back to the loop, in order. Loop only.
func (e *Engine) runNext(c *conn) {
	x := c.extra()
	if c.running {
		return
	}
	var ev *Event
	for ev == nil || !runnable(ev) {
		if len(x.pending) == 0 {
			x.pending = nil
			return
		}
		ev = x.pending[0]
		x.pending[0] = nil
		x.pending = x.pending[1:]
	}
	if len(x.pending) == 0 {
		x.pending = nil
	}
	c.running = true
	e.pool.submit(func() {
		reply, ok := e.call(c, ev)
		if !c.sh.post(func() {
			c.running = false
			if ev.ch != nil {
				e.finishChannel(c, ev.ch, ev.Type, ev.Ref, reply, ok)
			} else {
				e.finish(c, ev.Type, reply, ok)
			}
			e.runNext(c)
		}) && ev.Type == Disconnect {
			e.disconnects.Add(-1) // the loop is gone; nothing left to apply
		}
	})
}

// finish applies a handler's reply, or closes the connection with 1011 when
// the handler panicked. Loop only.
func (e *Engine) finish(c *conn, typ EventType, reply Reply, ok bool) {
	if !ok {
		c.close(codec.CloseInternalError, "internal error", false)
	} else if err := e.apply(c, reply, nil); err != nil {
		id := c.sh.idOf(c)
		e.log.Warn("action failed", "conn", id, "route", c.rt.route.Pattern, "event", typ.String(), "err", err)
		if f := c.rt.route.ActionError; f != nil {
			f(id, typ, err)
		}
	}
	if typ == Disconnect {
		e.disconnects.Add(-1)
	}
}

// call runs the handler (the route's, or a channel event's channel's),
// turning a panic into ok=false.
func (e *Engine) call(c *conn, ev *Event) (reply Reply, ok bool) {
	rt := c.rt.route
	if ev.ch != nil {
		rt = ev.ch.b.route
	}
	defer func() {
		if r := recover(); r != nil {
			e.stats.Panics.Add(1)
			e.log.Error("handler panic", "conn", c.id(), "route", rt.Pattern, "topic", ev.Topic, "event", ev.Type.String(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	return rt.Handler(ev), true
}
