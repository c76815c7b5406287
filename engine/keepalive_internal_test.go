package engine

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// idleConn is a connection's socket for a test of the sweep: it records
// the engine time of each write (the only writes here are pings).
type idleConn struct {
	countingConn
	now    *int64
	pinged []int64
}

func (f *idleConn) Write(b []byte) (int, error) {
	f.pinged = append(f.pinged, *f.now)
	return len(b), nil
}

func (f *idleConn) RemoteAddr() net.Addr { return nil }

// TestPingsSpread opens k connections at the same engine time and sweeps
// every tick for three ping intervals, each client answering a ping at
// once. Each connection gets its first ping at its phase, in the second half
// of the first interval, and then one ping every interval; no sweep sends
// more than about its share of the pings, where without phases all k would
// go out in one sweep every interval.
func TestPingsSpread(t *testing.T) {
	const (
		ping = 8 * time.Second
		tick = 250 * time.Millisecond
	)
	for _, k := range []int{1, 1000} {
		t.Run(fmt.Sprintf("conns=%d", k), func(t *testing.T) {
			e := New(Config{Loops: 1, PingInterval: ping, IdleTimeout: time.Hour})
			rt := &binding{route: &Route{Handler: func(*Event) Reply { return Reply{} }}}
			sh := e.shards[0]
			t0 := e.clock()
			now := t0
			socks := make([]*idleConn, k)
			conns := make([]*conn, k)
			for i := range conns {
				socks[i] = &idleConn{now: &now}
				c := &conn{gc: socks[i], sh: sh, rt: rt, lastRead: t0}
				sh.add(c)
				e.handshakes.Add(1)
				e.open(c)
				conns[i] = c
			}

			perSweep := map[int64]int{}
			for now = t0 + int64(tick); now <= t0+3*int64(ping); now += int64(tick) {
				sh.sweep(now)
				sh.flush()
				for i, s := range socks {
					if n := len(s.pinged); n > 0 && s.pinged[n-1] == now {
						conns[i].lastRead = now // the pong
						perSweep[now]++
					}
				}
			}

			for i, c := range conns {
				phase := c.pingPhase(int64(ping))
				if phase < 0 || phase >= int64(ping/pingSpread) {
					t.Fatalf("conn %d: phase %v outside [0, %v)", i, time.Duration(phase), ping/pingSpread)
				}
				// The first sweep at or after the phase's due time, then one
				// interval apart.
				first := t0 + int64(ping) - phase
				first = t0 + (first-t0+int64(tick)-1)/int64(tick)*int64(tick)
				want := []int64{first, first + int64(ping), first + 2*int64(ping)}
				got := socks[i].pinged
				if len(got) > len(want) {
					got = got[:len(want)] // a fourth interval may start within the run
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("conn %d (phase %v): pinged at %v, want %v", i, time.Duration(phase), rel(got, t0), rel(want, t0))
				}
			}
			sweeps := int(ping / pingSpread / tick) // sweeps a phase spreads the pings over
			most := 0
			for _, n := range perSweep {
				most = max(most, n)
			}
			// k/sweeps per sweep on average; twice that is eight standard
			// deviations away for k=1000 (a binomial with p=1/16).
			if limit := max(1, 2*k/sweeps); most > limit {
				t.Fatalf("%d pings in one sweep, want at most %d (%d connections over %d sweeps)", most, limit, k, sweeps)
			}
			t.Logf("%d connections: at most %d pings in one sweep (%.1f on average over %d sweeps)", k, most, float64(k)/float64(sweeps), sweeps)
		})
	}
}

// rel shows engine times relative to t0.
func rel(ts []int64, t0 int64) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = time.Duration(t - t0)
	}
	return out
}

// TestPingPhaseNeverLate: a connection's first ping is due PingInterval
// less its phase after the later of its open and its last frame, and its
// phase never exceeds half the interval: it is pinged no later than
// without phases, and not while it sends more often than that.
func TestPingPhaseNeverLate(t *testing.T) {
	const (
		s    = int64(time.Second)
		ping = 10 * s
		step = s / 20
	)
	e := New(Config{Loops: 1, PingInterval: time.Duration(ping), IdleTimeout: time.Hour})
	sh := e.shards[0]
	for _, tc := range []struct {
		name     string
		phase    uint64 // the id's last 8 bytes, as a little-endian number
		silentAt int64  // when the connection stops sending
		wantPing int64  // the sweep that pings it first
	}{
		{"phase 0", 0, 0, ping},
		{"phase 2.5s", 1 << 63, 0, ping - ping/4},
		{"phase 3.75s", 3 << 62, 0, ping - ping*3/8},
		{"phase 2.5s, active until 7s", 1 << 63, 7 * s, 7*s + ping - ping/4},
		{"phase 3.75s, active until 40s", 3 << 62, 40 * s, 40*s + ping - ping*3/8},
		{"phase 0, active until 40s", 0, 40 * s, 40*s + ping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := &idleConn{}
			var now int64
			sock.now = &now
			c := &conn{gc: sock, sh: sh, state: stateOpen}
			for i := range 8 {
				c.uid[8+i] = byte(tc.phase >> (8 * i))
			}
			c.timer = -c.pingPhase(ping) // opened at 0, as open does
			sh.add(c)
			defer sh.remove(c)
			for now = step; now <= tc.wantPing && len(sock.pinged) == 0; now += step {
				if now <= tc.silentAt {
					c.lastRead = now
				}
				sh.sweep(now)
				sh.flush()
			}
			if len(sock.pinged) != 1 || sock.pinged[0] != tc.wantPing {
				t.Fatalf("pinged at %v, want once at %v", rel(sock.pinged, 0), time.Duration(tc.wantPing))
			}
			if tc.wantPing > max(tc.silentAt, 0)+ping {
				t.Fatalf("the table wants a ping later than PingInterval of silence")
			}
		})
	}
}

// closeCounter is a connection's socket that counts its closes.
type closeCounter struct {
	countingConn
	closes int
}

func (f *closeCounter) Close() error { f.closes++; return nil }

// TestSweepDue: the sweep looks at a connection again when its earliest
// deadline comes, and at once when one came earlier: a close started long
// before the next ping or idle check is still cut off CloseTimeout later.
func TestSweepDue(t *testing.T) {
	const (
		ping  = 10 * time.Second
		close = 2 * time.Second
	)
	e := New(Config{Loops: 1, PingInterval: ping, IdleTimeout: time.Hour, CloseTimeout: close})
	sh := e.shards[0]
	round := 0
	sock := &closeCounter{countingConn: countingConn{round: &round}}
	now := time.Now().UnixNano()
	c := &conn{gc: sock, sh: sh, state: stateOpen, lastRead: now, timer: now, uid: newConnID()}
	c.rt = &binding{route: &Route{Handler: func(*Event) Reply { return Reply{} }}}
	sh.add(c)
	e.conns.add(c)

	sh.sweep(now)
	wantDue := max(now+int64(ping), now+int64(ping)-c.pingPhase(int64(ping)))
	if sh.due[c.idx] != wantDue {
		t.Fatalf("due %v after the first sweep, want the ping at %v", time.Duration(sh.due[c.idx]-now), time.Duration(wantDue-now))
	}
	sh.sweep(wantDue - 1)
	if len(sock.writes) != 0 {
		t.Fatalf("%d writes before the ping was due", len(sock.writes))
	}

	c.close(codec.CloseGoingAway, "bye", true)
	if c.state != stateClosing || len(sock.writes) != 1 {
		t.Fatalf("state %v, %d writes after close; want closing and the close frame", c.state, len(sock.writes))
	}
	cut := c.timer + 1
	if sh.due[c.idx] > cut {
		t.Fatalf("due %v after the close, want at most the close deadline %v", time.Duration(sh.due[c.idx]-now), time.Duration(cut-now))
	}
	sh.sweep(cut - 1)
	if sock.closes != 0 {
		t.Fatal("closed before CloseTimeout passed")
	}
	sh.sweep(cut)
	if sock.closes != 1 || c.state != stateClosed {
		t.Fatalf("%d closes, state %v at the close deadline; want 1, closed", sock.closes, c.state)
	}
}

// BenchmarkSweep: one sweep of a loop's idle connections, none of them due
// (the ping is minutes away), as every tick does; per connection.
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{10_000, 200_000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			e := New(Config{Loops: 1, PingInterval: 5 * time.Minute, IdleTimeout: 11 * time.Minute})
			sh := e.shards[0]
			now := time.Now().UnixNano()
			rt := &binding{route: &Route{Handler: func(*Event) Reply { return Reply{} }}}
			for range n {
				c := &conn{gc: &idleConn{now: &now}, sh: sh, rt: rt, state: stateOpen, lastRead: now, timer: now, uid: newConnID()}
				sh.add(c)
			}
			sh.sweep(now)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				now += int64(time.Second)
				sh.sweep(now)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/conn")
		})
	}
}
