package ripple_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// TestClusterHelpersOnLoop: with Redis stopped by SIGSTOP, a handler on the
// event loop calls every helper, for a connection of another node too. None
// waits for Redis: the handler answers, and another connection of the same
// loop gets its echo, before Redis is resumed. The Context forms say
// ErrOnLoop where the full answer would have waited.
func TestClusterHelpersOnLoop(t *testing.T) {
	r := clustertest.StartRedis(t)
	var self atomic.Pointer[ripple.Server]
	ask := func(ev *ripple.Event) ripple.Reply {
		if ev.Type != ripple.Message {
			return ripple.Reply{}
		}
		s, remote := self.Load(), string(ev.Message)
		var notes []string
		note := func(what string, err error) {
			if err != nil {
				notes = append(notes, what+": "+err.Error())
			}
		}
		ctx := context.Background() // no deadline: only the loop rule keeps these from waiting
		_, err := s.CountContext(ctx)
		note("count", err)
		_, err = s.ClientsContext(ctx)
		note("clients", err)
		_, err = s.ClientsInContext(ctx, "room:x")
		note("clients_in", err)
		_, err = s.ListPresenceContext(ctx, "room:x")
		note("list_presence", errOnLoop(err))
		_, err = s.PresenceCountContext(ctx, "room:x")
		note("presence_count", errOnLoop(err))
		_, _, err = s.GetPresenceContext(ctx, "room:x", "u")
		note("get_presence", errOnLoop(err))
		ok, err := s.SendContext(ctx, remote, []byte("hi"))
		note("send", errOnLoop(err))
		note("join", s.JoinContext(ctx, remote, "room:y"))
		note("leave", s.LeaveContext(ctx, remote, "room:y"))
		// The plain forms on a loop, too.
		s.Count()
		s.Clients()
		s.ClientsIn("room:x")
		s.ListPresence("room:x")
		s.PresenceCount("room:x")
		s.GetPresence("room:x", "u")
		s.Send(remote, []byte("hi"))
		_ = s.Join(remote, "room:y")
		if !ok {
			notes = append(notes, "send: a connection of another node reported unknown")
		}
		return ripple.Reply{Send: []byte("asked " + strings.Join(notes, "; "))}
	}
	A := startClusterNodeWith(t, r.URL(), ripple.Config{Loops: 1}, "a", map[string]ripple.Handler{"/ws/ask": ask})
	self.Store(A.Server)
	B := startClusterNode(t, r.URL(), ripple.Config{}, "b")
	_, remoteID := dialID(t, B)
	asker := A.Dial(t, "/ws/ask")
	echo := A.Dial(t, "/ws/echo")
	wstest.Eventually(t, "both nodes see 3 connections", func() bool { return A.Count() == 3 && B.Count() == 3 })

	r.Pause(t)
	paused := time.Now()
	wstest.Send(t, asker, remoteID)
	wstest.Send(t, echo, "still here")
	if got := wstest.ReadString(t, echo); got != "still here" {
		t.Fatalf("echo = %q", got)
	}
	got := wstest.ReadString(t, asker)
	if got != "asked " {
		t.Errorf("helpers on the loop: %q, want no error but ErrOnLoop", got)
	}
	t.Logf("echo and helper answers %v after SIGSTOP, Redis still stopped", time.Since(paused).Round(time.Millisecond))
	r.Resume()
}

// errOnLoop is nil for ErrOnLoop, the expected answer of a Context helper
// that would have waited for another server.
func errOnLoop(err error) error {
	if errors.Is(err, ripple.ErrOnLoop) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("no ErrOnLoop")
	}
	return err
}
