package engine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"

	"github.com/ripple-rt/ripple/codec"
)

// countingConn is a gnet.Conn that records in which round each write
// happened. Only the methods the write path uses are implemented.
type countingConn struct {
	gnet.Conn
	round  *int
	writes []int // round of each write
}

func (f *countingConn) Write(b []byte) (int, error) {
	f.writes = append(f.writes, *f.round)
	return len(b), nil
}

func (f *countingConn) OutboundBuffered() int { return 0 }

// TestFairRounds counts rounds, not time: N connections get more output than
// one flush may write, then one connection keeps sending (every round its
// OnTraffic queues a reply) while the loop resumes once per round. Every
// queued connection must be written within K rounds, in order, whatever the
// sender does, and the sender is answered in the round it sent.
func TestFairRounds(t *testing.T) {
	frame := make([]byte, 100)
	for _, tc := range []struct{ n, budget int }{
		{n: 50, budget: 8 << 10},
		{n: 1000, budget: 64 << 10},
		{n: 3, budget: writeBudget}, // fits: written in the same round, never behind
	} {
		t.Run(fmt.Sprintf("n=%d/budget=%d", tc.n, tc.budget), func(t *testing.T) {
			e := New(Config{Loops: 1})
			sh := e.shards[0]
			sh.budget = tc.budget
			round := 0
			newConn := func() (*conn, *countingConn) {
				gc := &countingConn{round: &round}
				c := &conn{gc: gc, sh: sh, state: stateOpen}
				sh.add(c)
				return c, gc
			}
			queued := make([]*countingConn, tc.n)
			cs := make([]*conn, tc.n)
			for i := range queued {
				cs[i], queued[i] = newConn()
			}
			sender, senderGC := newConn()

			// Round 0: one callback (a broadcast) queues a frame for each.
			for _, c := range cs {
				c.write(frame)
			}
			sh.flushTurn()

			resumes := 0
			perFlush := (tc.budget + writeCost + len(frame) - 1) / (writeCost + len(frame))
			k := (tc.n+perFlush-1)/perFlush + 1
			for round = 1; round <= k+2; round++ {
				// The sender's OnTraffic: a reply, then the end of the callback.
				sender.write(frame)
				sh.endTraffic(sender)
				// The waker's turn in this poll round.
				if sh.resuming {
					sh.resume()
					resumes++
				}
			}

			last := 0
			for i, gc := range queued {
				if len(gc.writes) != 1 {
					t.Fatalf("queued conn %d written %d times, want once", i, len(gc.writes))
				}
				r := gc.writes[0]
				if r > k {
					t.Errorf("queued conn %d written in round %d, want within %d", i, r, k)
				}
				if r < last {
					t.Errorf("queued conn %d written in round %d, before conn %d (round %d): not in order", i, r, i-1, last)
				}
				last = r
			}
			if len(senderGC.writes) == 0 {
				t.Fatal("the sender was never answered")
			}
			// The sender is answered in every round it sends, backlog or not,
			// without taking the backlog's budget (the bound above).
			for i, r := range senderGC.writes {
				if r != i+1 {
					t.Fatalf("the sender's reply %d went out in round %d, want %d (the round it sent)", i+1, r, i+1)
				}
			}
			// Once the backlog is gone, the sender is answered in the round
			// it sent, with no resume in between.
			if sh.behind {
				t.Fatalf("still behind after %d rounds", k+2)
			}
			if got := senderGC.writes[len(senderGC.writes)-1]; got != k+2 {
				t.Errorf("last reply written in round %d, want %d (same round)", got, k+2)
			}
			if tc.n*(writeCost+len(frame)) <= tc.budget && resumes != 0 {
				t.Errorf("%d resumes for output that fits one flush, want 0", resumes)
			}
			t.Logf("%d queued, %d per flush: last written in round %d (bound %d), %d resumes", tc.n, perFlush, last, k, resumes)
		})
	}
}

// closingConn fails its writes the way gnet does: the connection is closed,
// OnClose runs, and only then does Write return.
type closingConn struct {
	countingConn
	e   *Engine
	ctx any
}

func (f *closingConn) Context() any     { return f.ctx }
func (f *closingConn) SetContext(v any) { f.ctx = v }
func (f *closingConn) Write([]byte) (int, error) {
	f.e.OnClose(f, nil)
	return 0, errClosedForTest
}
func (f *closingConn) Close() error { return nil }

var errClosedForTest = fmt.Errorf("closed")

// TestSweepSurvivesClose: a sweep whose write closes a connection (removed
// from sh.conns at once, the last connection swapped into its slot) still
// reaches every other connection in the same sweep.
func TestSweepSurvivesClose(t *testing.T) {
	e := New(Config{Loops: 1, PingInterval: time.Second, IdleTimeout: time.Hour})
	sh := e.shards[0]
	round := 0
	now := time.Now().UnixNano()
	idle := now - int64(2*time.Second) // silent past the ping interval
	var pinged []*countingConn
	for i := range 5 {
		var gc gnet.Conn
		c := &conn{sh: sh, state: stateOpen, lastRead: idle, timer: idle, uid: newConnID()}
		if i == 1 {
			// Silent past the idle timeout: the sweep closes it, and the
			// close frame's write fails and removes it.
			c.lastRead = now - int64(2*time.Hour)
			cc := &closingConn{countingConn: countingConn{round: &round}, e: e}
			cc.ctx, gc = c, cc
		} else {
			cg := &countingConn{round: &round}
			pinged, gc = append(pinged, cg), cg
		}
		c.gc = gc
		c.rt = &binding{route: &Route{Handler: func(*Event) Reply { return Reply{} }}}
		sh.add(c)
		e.conns.add(c)
	}
	sh.sweep(now)
	sh.flush()
	for i, gc := range pinged {
		if len(gc.writes) != 1 {
			t.Errorf("connection %d got %d pings in one sweep, want 1", i, len(gc.writes))
		}
	}
	if len(sh.conns) != 4 {
		t.Errorf("%d connections left, want 4", len(sh.conns))
	}
}

// TestRouteBindings: connections on one path of a route with params share
// its binding and path string; other paths get their own params; paths of
// routes without params are not kept; the cache stays bounded.
func TestRouteBindings(t *testing.T) {
	e := New(Config{Loops: 1})
	nop := func(*Event) Reply { return Reply{} }
	for _, p := range []string{"/ws/room/:id", "/ws/echo"} {
		if err := e.Handle(Route{Pattern: p, Handler: nop}); err != nil {
			t.Fatal(err)
		}
	}
	sh := e.shards[0]
	// Each request has a path of its own, as a parsed request does.
	req := func(path string) *codec.Request { return &codec.Request{Path: strings.Clone(path)} }

	r1, r2 := req("/ws/room/42"), req("/ws/room/42")
	b1, ok1 := sh.route(r1)
	b2, ok2 := sh.route(r2)
	if !ok1 || !ok2 || b1 != b2 || b1.params.Get("id") != "42" {
		t.Fatalf("same path: bindings %p %p (ok %v %v), id %q; want one binding with id 42", b1, b2, ok1, ok2, b1.params.Get("id"))
	}
	if unsafe.StringData(r1.Path) != unsafe.StringData(r2.Path) {
		t.Error("the second request keeps its own path string, want the first one's")
	}
	if b3, _ := sh.route(req("/ws/room/7")); b3 == b1 || b3.params.Get("id") != "7" {
		t.Errorf("another path: id %q (shared: %v), want its own binding with id 7", b3.params.Get("id"), b3 == b1)
	}
	if _, ok := sh.route(req("/ws/echo")); !ok || len(sh.bindings) != 2 {
		t.Errorf("a route without params: ok %v, %d paths kept, want true and 2", ok, len(sh.bindings))
	}
	if _, ok := sh.route(req("/ws/nope")); ok {
		t.Error("an unrouted path matched")
	}
	for i := range 2 * maxBindings {
		path := "/ws/room/" + strconv.Itoa(i)
		if b, ok := sh.route(req(path)); !ok || b.params.Get("id") != strconv.Itoa(i) {
			t.Fatalf("%s: id %q, ok %v", path, b.params.Get("id"), ok)
		}
		if len(sh.bindings) > maxBindings {
			t.Fatalf("%d paths kept, want at most %d", len(sh.bindings), maxBindings)
		}
	}
}
