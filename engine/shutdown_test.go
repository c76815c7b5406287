package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

func TestShutdownBeforeStart(t *testing.T) {
	e := engine.New(engine.Config{})
	done := make(chan error, 1)
	go func() { done <- e.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown before Start: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown before Start hangs")
	}
	if err := e.Start("127.0.0.1:0"); !errors.Is(err, engine.ErrShuttingDown) {
		t.Fatalf("Start after Shutdown: %v, want ErrShuttingDown", err)
	}
}

// TestShutdownHonoursContext: a Workers handler that never returns does not
// hold Shutdown past its context.
func TestShutdownHonoursContext(t *testing.T) {
	e := engine.New(engine.Config{Workers: 1})
	stuck, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	err := e.Handle(engine.Route{Pattern: "/stuck", Workers: true, Handler: func(ev *engine.Event) engine.Reply {
		if ev.Type == engine.Message {
			close(stuck)
			<-release
		}
		return engine.Reply{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+e.Addr().String()+"/stuck", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("hang")); err != nil {
		t.Fatal(err)
	}
	<-stuck
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a stuck handler: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown ignores its context while a handler is stuck")
	}
}

// verifyNoLeaks is goleak.VerifyNone but for gnet's shared worker pool
// (ants), which runs a loop's Enroll of its waker: its idle workers belong
// to the process, not to an engine, and live until ants expires them, 10 s
// after their last task. Whether a test starts one depends on how many the
// tests before it left idle.
func verifyNoLeaks(t *testing.T, leaks goleak.Option) {
	t.Helper()
	goleak.VerifyNone(t, leaks, goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// lifecycle counts a route's connect and disconnect events and echoes
// messages.
type lifecycle struct {
	connects, disconnects atomic.Int64
}

func (l *lifecycle) handle(ev *engine.Event) engine.Reply {
	switch ev.Type {
	case engine.Connect:
		l.connects.Add(1)
	case engine.Disconnect:
		l.disconnects.Add(1)
	case engine.Message:
		return engine.Reply{Send: ev.Message}
	}
	return engine.Reply{}
}

// startOwned starts an engine whose lifecycle the test owns (no cleanup
// Shutdown), with the demo routes and two counted routes, one on the loop
// and one on the worker pool.
func startOwned(t *testing.T, cfg engine.Config, l *lifecycle) (*engine.Engine, string) {
	t.Helper()
	e := engine.New(cfg)
	routes := append(demoRoutes(),
		engine.Route{Pattern: "/ws/count", Handler: l.handle},
		engine.Route{Pattern: "/ws/count-w", Handler: l.handle, Workers: true})
	for _, r := range routes {
		if err := e.Handle(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return e, e.Addr().String()
}

// shutdown stops an engine started by hand.
func shutdown(t testing.TB, e *engine.Engine) {
	ctx, cancel := contextTimeout(wstest.Timeout)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestShutdownDrains(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	var l lifecycle
	srv, addr := startOwned(t, engine.Config{}, &l)
	stopped := false
	defer func() {
		if !stopped {
			shutdown(t, srv)
		}
	}()

	var clients []*wstest.Client
	for _, path := range []string{
		"/ws/count", "/ws/count", "/ws/count", "/ws/count-w", "/ws/count-w", "/ws/count-w",
		"/ws/room/a", "/ws/room/a", "/ws/chat", "/ws/echo", "/ws/presence/p?user_id=u1", "/ws/shootout",
	} {
		c, err := wstest.DialURL("ws://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	var raws []*wstest.Raw
	for range 3 {
		r, err := wstest.Upgrade(addr, "/ws/count")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		raws = append(raws, r)
	}
	// A client still in its handshake.
	half, err := wstest.DialRaw(addr, wstest.Request("/ws/echo")[:20])
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	const counted = 9 // 6 gorilla + 3 raw clients on the counted routes
	wstest.Eventually(t, "every connection open", func() bool {
		return srv.Count() == len(clients)+len(raws) && l.connects.Load() == counted
	})
	// Everything works before the drain (the chat route's join notice,
	// broadcast to every connection, may come first).
	wstest.Send(t, clients[0], "before")
	for got := ""; got != "before"; {
		if got = wstest.ReadString(t, clients[0]); got != "before" && !strings.Contains(got, `"join"`) {
			t.Fatalf("echo %q", got)
		}
	}

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextTimeout(5 * time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()

	for i, c := range clients {
		code, reason := wstest.ExpectClose(t, c)
		if code != websocket.CloseGoingAway || reason != "going away" {
			t.Fatalf("client %d: close %d %q, want 1001 \"going away\"", i, code, reason)
		}
	}
	for i, r := range raws {
		code, reason, err := r.ReadClose(wstest.Timeout)
		if err != nil || code != codec.CloseGoingAway || reason != "going away" {
			t.Fatalf("raw client %d: close %d %q %v", i, code, reason, err)
		}
		if _, err := r.Write(wstest.CloseFrame(1001, "")); err != nil {
			t.Fatal(err)
		}
		if err := r.ExpectEOF(wstest.Timeout); err != nil {
			t.Fatalf("raw client %d: %v", i, err)
		}
	}
	if err := half.ExpectEOF(wstest.Timeout); err != nil {
		t.Fatalf("handshaking client: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	stopped = true
	d := time.Since(start)
	t.Logf("drained %d connections in %v", len(clients)+len(raws)+1, d)
	if d > 2*time.Second {
		t.Fatalf("Shutdown took %v with clients that answer at once", d)
	}
	if c, dc := l.connects.Load(), l.disconnects.Load(); dc != c || c != counted {
		t.Fatalf("connect events %d, disconnect events %d, want %d each", c, dc, counted)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done not closed after Shutdown")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// The listener is gone; if something accepted, it must not serve.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, wstest.Request("/ws/echo"))
		if n, _ := c.Read(make([]byte, 1)); n > 0 {
			t.Fatal("a stopped server answered a new connection")
		}
		c.Close()
	}
	for _, c := range clients {
		c.Close()
	}
	verifyNoLeaks(t, leaks)
}

// TestShutdownDeadline has a client that never answers the close: Shutdown
// gives up at the context's deadline with its error, and still runs every
// disconnect event.
func TestShutdownDeadline(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	var l lifecycle
	// CloseTimeout far beyond the deadline: only the context ends the wait.
	srv, addr := startOwned(t, engine.Config{CloseTimeout: time.Minute}, &l)

	deaf := make([]*wstest.Raw, 0, 2)
	for _, path := range []string{"/ws/count", "/ws/count-w"} {
		r, err := wstest.Upgrade(addr, path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		deaf = append(deaf, r)
	}
	good, err := wstest.DialURL("ws://" + addr + "/ws/count")
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	wstest.Eventually(t, "3 connect events", func() bool { return l.connects.Load() == 3 })

	const grace = 300 * time.Millisecond
	ctx, cancel := contextTimeout(grace)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	d := time.Since(start)
	t.Logf("Shutdown returned %v after %v", err, d)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's deadline error", err)
	}
	if d < grace || d > grace+3*time.Second {
		t.Fatalf("Shutdown returned after %v, want just after %v", d, grace)
	}
	if dc := l.disconnects.Load(); dc != 3 {
		t.Fatalf("disconnect events %d, want 3", dc)
	}
	if code, _ := wstest.ExpectClose(t, good); code != websocket.CloseGoingAway {
		t.Fatalf("answering client: close %d", code)
	}
	for i, r := range deaf {
		code, reason, err := r.ReadClose(wstest.Timeout)
		if err != nil || code != codec.CloseGoingAway {
			t.Fatalf("deaf client %d: close %d %q %v", i, code, reason, err)
		}
		if err := r.ExpectEOF(wstest.Timeout); err != nil {
			t.Fatalf("deaf client %d: not disconnected: %v", i, err)
		}
		r.Close()
	}
	good.Close()
	verifyNoLeaks(t, leaks)
}

// TestShutdownRefusesNewConnections starts a drain that cannot finish (a
// deaf client) and checks that meanwhile no new connection is served.
func TestShutdownRefusesNewConnections(t *testing.T) {
	var l lifecycle
	srv, addr := startOwned(t, engine.Config{CloseTimeout: time.Minute}, &l)
	deaf, err := wstest.Upgrade(addr, "/ws/count")
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	wstest.Eventually(t, "connected", func() bool { return l.connects.Load() == 1 })

	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextTimeout(time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	if code, _, err := deaf.ReadClose(wstest.Timeout); err != nil || code != codec.CloseGoingAway {
		t.Fatalf("close %d %v", code, err)
	}
	// Draining now: a new upgrade must not succeed.
	r, err := wstest.DialRaw(addr, wstest.Request("/ws/count"))
	if err == nil {
		defer r.Close()
		// Closed at once (an error here) or refused with a status.
		if resp, err := r.Response(); err == nil && resp.StatusCode == 101 {
			t.Fatal("upgraded a new connection while draining")
		}
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	if l.connects.Load() != 1 || l.disconnects.Load() != 1 {
		t.Fatalf("events: %d connects, %d disconnects", l.connects.Load(), l.disconnects.Load())
	}
}

// TestShutdownIdle: Shutdown of an idle server returns once the loops have
// stopped and leaves nothing behind: the port is free again, and neither
// gnet's Stop nor what waits for the loops' end is left running
// (BenchmarkShutdownIdle says how long it takes).
func TestShutdownIdle(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	e := engine.New(engine.Config{Loops: 2})
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := e.Addr().String()
	shutdown(t, e)
	select {
	case <-e.Done():
	default:
		t.Fatal("Shutdown returned before the loops stopped")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still held after Shutdown: %v", err)
	}
	ln.Close()
	verifyNoLeaks(t, leaks)
}

// BenchmarkShutdownIdle times Shutdown of a started server that has no
// connection: what stopping the event loops costs.
func BenchmarkShutdownIdle(b *testing.B) {
	for _, loops := range []int{1, 4} {
		b.Run(fmt.Sprintf("loops=%d", loops), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				e := engine.New(engine.Config{Loops: loops})
				if err := e.Start("127.0.0.1:0"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				shutdown(b, e)
			}
		})
	}
}
