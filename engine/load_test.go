package engine_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// TestHandshakeAndFragmentsOneBytePerWrite sends the upgrade request and a
// three-fragment message one byte per write.
func TestHandshakeAndFragmentsOneBytePerWrite(t *testing.T) {
	s := startDemo(t, engine.Config{})
	r, err := wstest.DialRaw(s.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	trickle := func(b []byte) {
		for i := range b {
			if _, err := r.Write(b[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	trickle([]byte(wstest.Request("/ws/echo")))
	resp, err := r.Response()
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	var msg []byte
	msg = append(msg, wstest.Frame(codec.OpText, false, []byte("frag-"))...)
	msg = append(msg, wstest.Frame(codec.OpPing, true, []byte("p"))...) // interleaved control frame
	msg = append(msg, wstest.Frame(codec.OpContinuation, false, []byte("ment-"))...)
	msg = append(msg, wstest.Frame(codec.OpContinuation, true, []byte("ed ✓"))...)
	trickle(msg)

	h, p, err := r.ReadFrame(wstest.Timeout)
	if err != nil || h.Op != codec.OpPong || string(p) != "p" {
		t.Fatalf("pong = %v %q %v", h.Op, p, err)
	}
	h, p, err = r.ReadFrame(wstest.Timeout)
	if err != nil || h.Op != codec.OpText || string(p) != "frag-ment-ed ✓" {
		t.Fatalf("echo = %v %q %v", h.Op, p, err)
	}
}

// TestManyConnectionsFewGoroutines holds 2,000 connections and checks that
// the server runs no goroutine per connection.
func TestManyConnectionsFewGoroutines(t *testing.T) {
	const n = 2000
	s := startDemo(t, engine.Config{})
	base := runtime.NumGoroutine()

	conns := make([]*wstest.Raw, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	var failed atomic.Value
	for range 16 { // a small pool of dialers; the connections keep no goroutine
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c, err := wstest.Upgrade(s.Addr, "/ws/room/big")
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	wstest.Eventually(t, "all upgraded", func() bool { return s.Count() == n })

	// Goroutines now: the test's own, the server's fixed set (loops, ticker,
	// workers, net/http) and nothing per connection.
	const fixed = 64
	if got := runtime.NumGoroutine(); got > base+fixed {
		t.Fatalf("%d goroutines with %d connections (base %d): goroutines grow with connections", got, n, base)
	}
	if got := s.BroadcastRoom("room:big", []byte(`{"hi":1}`)); got != n {
		t.Fatalf("BroadcastRoom recipients = %d", got)
	}
	for i, c := range conns {
		if _, p, err := c.ReadFrame(wstest.Timeout); err != nil || string(p) != `{"hi":1}` {
			t.Fatalf("conn %d: %q %v", i, p, err)
		}
	}
	t.Logf("%d connections, %d goroutines (base %d)", n, runtime.NumGoroutine(), base)
}

// TestHelpersUnderChurn hammers the helpers from many goroutines while
// clients connect and disconnect, and checks that the connections that stay
// joined get every message, each publisher's in order.
func TestHelpersUnderChurn(t *testing.T) {
	s := startDemo(t, engine.Config{})
	const stable, publishers, perPublisher = 8, 6, 200
	var stay []*wstest.Raw
	for range stable {
		c, err := wstest.Upgrade(s.Addr, "/ws/room/h")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stay = append(stay, c)
	}
	wstest.Eventually(t, "stable members", func() bool { return len(s.ClientsIn("room:h")) == stable })

	stop := make(chan struct{})
	var churn sync.WaitGroup
	for w := range 4 { // churners: connect, join other rooms, leave, disconnect
		churn.Add(1)
		go func() {
			defer churn.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := wstest.Upgrade(s.Addr, fmt.Sprintf("/ws/room/c%d", w))
				if err != nil {
					t.Error(err)
					return
				}
				for _, id := range s.ClientsIn(fmt.Sprintf("room:c%d", w)) {
					_ = s.Join(id, "room:other")
					_ = s.Send(id, []byte("x"))
					_ = s.Leave(id, "room:other")
				}
				_ = s.Count()
				_ = s.Clients()
				if i%2 == 0 {
					c.Close()
				} else {
					_ = c.WriteFrame(codec.OpClose, true, codec.CloseBody(codec.CloseNormal, ""))
					c.Close()
				}
			}
		}()
	}
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := range perPublisher {
				s.BroadcastRoom("room:h", []byte(fmt.Sprintf("%d:%d", p, i)))
				if rand.IntN(10) == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	pubs.Wait()
	for ci, c := range stay {
		next := make([]int, publishers)
		for range publishers * perPublisher {
			_, payload, err := c.ReadFrame(wstest.Timeout)
			if err != nil {
				t.Fatalf("stable conn %d after %v: %v", ci, next, err)
			}
			pp, ii, _ := strings.Cut(string(payload), ":")
			p, _ := strconv.Atoi(pp)
			i, _ := strconv.Atoi(ii)
			if i != next[p] {
				t.Fatalf("stable conn %d: publisher %d message %d, want %d", ci, p, i, next[p])
			}
			next[p]++
		}
	}
	close(stop)
	churn.Wait()
}

// TestWorkersKeepOrder runs a blocking handler on the worker pool and checks
// that each connection's events reach it, and its replies reach the client,
// in order.
func TestWorkersKeepOrder(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	slow := func(ev *engine.Event) engine.Reply {
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // a blocking call
		mu.Lock()
		seen[ev.ConnectionID] = append(seen[ev.ConnectionID], ev.Type.String()+":"+string(ev.Message))
		mu.Unlock()
		if ev.Type == engine.Message {
			return engine.Reply{Send: ev.Message}
		}
		return engine.Reply{}
	}
	s := wstest.StartEngine(t, engine.Config{Workers: 8}, engine.Route{Pattern: "/ws/slow", Handler: slow, Workers: true})
	const conns, msgs = 40, 100
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := wstest.Upgrade(s.Addr, "/ws/slow")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range msgs {
				if err := c.WriteFrame(codec.OpText, true, []byte(strconv.Itoa(i))); err != nil {
					errs <- err
					return
				}
			}
			for i := range msgs {
				_, p, err := c.ReadFrame(wstest.Timeout)
				if err != nil || string(p) != strconv.Itoa(i) {
					errs <- fmt.Errorf("reply %d = %q %v", i, p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wstest.Eventually(t, "disconnects handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		done := 0
		for _, evs := range seen {
			if len(evs) == msgs+2 {
				done++
			}
		}
		return done == conns
	})
	mu.Lock()
	defer mu.Unlock()
	for id, evs := range seen {
		if evs[0] != "connect:" || evs[len(evs)-1] != "disconnect:" {
			t.Fatalf("%s: first/last events %q %q", id, evs[0], evs[len(evs)-1])
		}
		for i, ev := range evs[1 : len(evs)-1] {
			if ev != "message:"+strconv.Itoa(i) {
				t.Fatalf("%s: event %d = %q", id, i, ev)
			}
		}
	}
}

// TestBurstInOneRound queues thousands of messages for the same connections
// within one loop round (more frames than a writev may carry) and checks
// they all arrive, in order.
func TestBurstInOneRound(t *testing.T) {
	s := startDemo(t, engine.Config{})
	var members []*wstest.Raw
	for range 2 {
		c, err := wstest.Upgrade(s.Addr, "/ws/room/burst")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		members = append(members, c)
	}
	wstest.Eventually(t, "members", func() bool { return len(s.ClientsIn("room:burst")) == 2 })
	const n = 5000
	for i := range n {
		s.BroadcastRoom("room:burst", []byte(strconv.Itoa(i)))
	}
	for ci, c := range members {
		for i := range n {
			_, p, err := c.ReadFrame(wstest.Timeout)
			if err != nil || string(p) != strconv.Itoa(i) {
				t.Fatalf("member %d, message %d: %q %v", ci, i, p, err)
			}
		}
	}
}
