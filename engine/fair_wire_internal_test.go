package engine

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBacklogOverTheWire runs the write scheduler on a real loop with real
// clients: a room broadcast of more than one flush's budget to every member,
// while another connection keeps echoing. Every member gets every message in
// order, the echoes keep coming while the backlog is written, and the loop
// resumed through its waker (not a goroutine), a budget per poll round.
func TestBacklogOverTheWire(t *testing.T) {
	e := New(Config{Loops: 1, PingInterval: -1, IdleTimeout: -1})
	must(t, e.Handle(Route{Pattern: "/sub", Handler: func(ev *Event) Reply {
		if ev.Type == Connect {
			return Reply{Join: []string{"room"}}
		}
		return Reply{}
	}}))
	must(t, e.Handle(Route{Pattern: "/echo", Handler: func(ev *Event) Reply {
		if ev.Type == Message {
			return Reply{Send: ev.Message}
		}
		return Reply{}
	}}))
	must(t, e.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	base := "ws://" + e.Addr().String()

	const members, messages, size = 40, 5, 32 << 10 // 40 × 160 KiB: 6 MiB, 25 budgets
	subs := make([]*websocket.Conn, members)
	for i := range subs {
		subs[i] = dial(t, base+"/sub")
	}
	echo := dial(t, base+"/echo")
	waitFor(t, "members joined", func() bool { return len(e.ClientsIn("room")) == members })
	sh := e.shards[0]
	waitFor(t, "the loop's waker", func() bool {
		done := make(chan bool)
		sh.post(func() { done <- sh.waker != nil })
		return <-done
	})

	// Members read concurrently: their sockets must drain for the backlog to.
	var wg sync.WaitGroup
	errs := make(chan error, members)
	for i, c := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range messages {
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, got, err := c.ReadMessage()
				if err != nil {
					errs <- fmt.Errorf("member %d, message %d: %w", i, m, err)
					return
				}
				if len(got) != size || got[0] != byte('a'+m) {
					errs <- fmt.Errorf("member %d: message %d out of order or cut (%d bytes, first %q)", i, m, len(got), got[0])
					return
				}
			}
		}()
	}
	yields := e.stats.FlushYields.Load()
	for m := range messages {
		e.BroadcastRoom("room", bytes.Repeat([]byte{byte('a' + m)}, size))
	}
	// Echoes round-trip while the backlog is written.
	for i := range 20 {
		msg := fmt.Appendf(nil, "ping %d", i)
		must(t, echo.WriteMessage(websocket.TextMessage, msg))
		_ = echo.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, got, err := echo.ReadMessage()
		must(t, err)
		if !bytes.Equal(got, msg) {
			t.Fatalf("echo %d: got %q", i, got)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e.stats.FlushYields.Load() == yields {
		t.Error("the broadcasts fitted one flush: the backlog path was not exercised")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
