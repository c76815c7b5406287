package ripple_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// Tests of the facade itself: that New, Handle and its options, and the
// Server's methods reach the engine with what they were given. What the
// engine then does is tested in package engine; the HTTP API, the demo
// handlers and cluster mode have their own files here.

// TestWorkersOption runs a handler that blocks, registered with Workers, on
// a server with one event loop: the loop must stay free for another route
// while the handler waits, so the option reached the engine.
func TestWorkersOption(t *testing.T) {
	blocked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	srv := ripple.New(ripple.Config{Loops: 1})
	if err := srv.Handle("/ws/block", func(ev *ripple.Event) ripple.Reply {
		if ev.Type != ripple.Message {
			return ripple.Reply{}
		}
		close(blocked)
		<-release
		return ripple.Reply{Send: []byte("released")}
	}, ripple.Workers()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Handle("/ws/echo", handlers.Echo); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	t.Cleanup(unblock) // runs before Shutdown, should the test fail early
	s := &wstest.Server{Server: srv, Addr: srv.Addr().String()}

	b := s.Dial(t, "/ws/block")
	echo := s.Dial(t, "/ws/echo")
	wstest.Send(t, b, "wait")
	select {
	case <-blocked:
	case <-time.After(wstest.Timeout):
		t.Fatal("the Workers handler never ran")
	}
	wstest.Send(t, echo, "loop free")
	if got := wstest.ReadString(t, echo); got != "loop free" {
		t.Fatalf("echo while the Workers handler blocks = %q", got)
	}
	unblock()
	if got := wstest.ReadString(t, b); got != "released" {
		t.Fatalf("Workers reply = %q", got)
	}
}

// TestServerMethods calls the Server's methods that nothing else here
// reaches and checks each against what the engine did.
func TestServerMethods(t *testing.T) {
	s := wstest.Start(t, ripple.Config{PresenceMode: ripple.PresenceByConnection}, nil)

	// DecodeReply is the engine's parser.
	r, err := ripple.DecodeReply([]byte(`{"send":"hi","join":"room:f"}`))
	if err != nil || string(r.Send) != "hi" || !reflect.DeepEqual(r.Join, []string{"room:f"}) {
		t.Fatalf("DecodeReply = %+v, %v", r, err)
	}
	if _, err := ripple.DecodeReply([]byte(`{"explode":true}`)); err == nil {
		t.Fatal("DecodeReply accepted an unknown action")
	}

	// Presence is the registry the Config's mode built, holding the
	// server's presences.
	if m := s.Presence().Mode(); m != ripple.PresenceByConnection {
		t.Fatalf("Presence().Mode() = %v, want %v", m, ripple.PresenceByConnection)
	}
	c := s.Dial(t, "/ws/presence/f?user_id=u1")
	if st := wstest.ReadJSON(t, c); st["event"] != "presence_state" {
		t.Fatalf("state = %v", st)
	}
	if n := s.Presence().Count("room:f"); n != 1 || s.PresenceCount("room:f") != 1 {
		t.Fatalf("Presence().Count = %d, PresenceCount = %d, want 1", n, s.PresenceCount("room:f"))
	}

	// CloseWith sends the code and reason it is given.
	ids := s.Clients()
	if len(ids) != 1 {
		t.Fatalf("Clients = %v", ids)
	}
	if s.CloseWith("nope", 4000, "") {
		t.Fatal("CloseWith of an unknown connection reported true")
	}
	if !s.CloseWith(ids[0], 4000, "custom") {
		t.Fatal("CloseWith reported an open connection unknown")
	}
	if code, reason := wstest.ExpectClose(t, c); code != 4000 || reason != "custom" {
		t.Fatalf("close = %d %q, want 4000 \"custom\"", code, reason)
	}
	wstest.Eventually(t, "connection gone", func() bool { return s.Count() == 0 })
	if err := s.Join(ids[0], "room:x"); !errors.Is(err, ripple.ErrUnknownConn) {
		t.Fatalf("Join of a closed connection = %v, want ErrUnknownConn", err)
	}

	// Done closes once Shutdown has stopped the server.
	select {
	case <-s.Done():
		t.Fatal("Done closed before Shutdown")
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(wstest.Timeout):
		t.Fatal("Done not closed after Shutdown")
	}
}
