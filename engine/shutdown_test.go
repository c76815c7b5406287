package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/engine"
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
