package engine_test

import (
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/presence"
)

// leaveScript greets a connection with its id, leaves the channel named by
// a "ws_leave <channel>" message through Event.Leave (the seed's
// ws_leave), and answers any other message as wstest.Scripted does.
func leaveScript(ev *engine.Event) engine.Reply {
	switch {
	case ev.Type == engine.Connect:
		return engine.Reply{Send: []byte(ev.ConnectionID)}
	case ev.Type == engine.Message && strings.HasPrefix(string(ev.Message), "ws_leave "):
		if err := ev.Leave(strings.TrimPrefix(string(ev.Message), "ws_leave ")); err != nil {
			return engine.Reply{Send: []byte("error: " + err.Error())}
		}
		return engine.Reply{Send: []byte("left")}
	}
	return wstest.Scripted(ev)
}

// TestLeaveUntracks leaves a tracked channel by each of the three ways
// (the leave action, Event.Leave, the Leave helper) in both presence
// modes: the other members get the leave diff (in user mode only for the
// user's last connection), presence reads stop listing the connection at
// once, and the connection that left gets no more diffs.
func TestLeaveUntracks(t *testing.T) {
	ways := []struct {
		name  string
		leave func(t *testing.T, s *wstest.Engine, c *wstest.Client, id string)
	}{
		{"action", func(t *testing.T, _ *wstest.Engine, c *wstest.Client, _ string) {
			wstest.Send(t, c, `{"leave":"room:l","send":"left"}`)
			expectMessage(t, c, "left")
		}},
		{"event", func(t *testing.T, _ *wstest.Engine, c *wstest.Client, _ string) {
			wstest.Send(t, c, "ws_leave room:l")
			expectMessage(t, c, "left")
		}},
		{"helper", func(t *testing.T, s *wstest.Engine, _ *wstest.Client, id string) {
			if err := s.Leave(id, "room:l"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		for _, way := range ways {
			t.Run("mode="+mode.String()+"/by="+way.name, func(t *testing.T) {
				s := wstest.StartEngine(t, engine.Config{PresenceMode: mode},
					engine.Route{Pattern: "/ws/leave", Handler: leaveScript})
				dial := func() (*wstest.Client, string) {
					c := s.Dial(t, "/ws/leave")
					return c, wstest.ReadString(t, c)
				}
				w, _ := dial()
				wstest.Send(t, w, `{"join":"room:l","send":"joined"}`)
				expectMessage(t, w, "joined")

				// u1 on two tabs, a1 and a2.
				a1, id1 := dial()
				a2, id2 := dial()
				for i, a := range []*wstest.Client{a1, a2} {
					wstest.Send(t, a, `{"track":{"channel":"room:l","user_id":"u1"}}`)
					if ev := wstest.ReadJSON(t, a); ev["event"] != "presence_state" {
						t.Fatalf("tracker got %v", ev)
					}
					if i == 0 || mode == presence.ModeConnection {
						expectDiff(t, w, "u1", "")
					}
					if i == 1 && mode == presence.ModeConnection {
						expectDiff(t, a1, "u1", "") // a2's meta
					}
				}
				if i, _ := s.Presence().Get("room:l", "u1"); len(i.Metas) != 2 {
					t.Fatalf("u1 before the leaves = %+v", i)
				}

				// The first tab leaves: a leave diff for its meta in
				// connection mode; in user mode u1 stays, so nothing.
				way.leave(t, s, a1, id1)
				if mode == presence.ModeConnection {
					expectDiff(t, w, "", "u1")
					expectDiff(t, a2, "", "u1") // a1's meta
				}
				if p, ok := s.GetPresence("room:l", "u1"); !ok || len(p.Metas) != 1 {
					t.Fatalf("after the first leave GetPresence(u1) = %+v, %v; want a2's meta only", p, ok)
				}

				// The last tab leaves: a leave diff in both modes, and
				// nothing lists u1 any more.
				way.leave(t, s, a2, id2)
				expectDiff(t, w, "", "u1")
				if l := s.ListPresence("room:l"); len(l) != 0 {
					t.Fatalf("ListPresence after the leaves = %+v", l)
				}
				if n := s.PresenceCount("room:l"); n != 0 {
					t.Fatalf("PresenceCount after the leaves = %d", n)
				}
				if _, ok := s.GetPresence("room:l", "u1"); ok {
					t.Fatal("GetPresence still finds u1")
				}

				// The tabs that left get no diff, not even of their own leave.
				b, _ := dial()
				wstest.Send(t, b, `{"track":{"channel":"room:l","user_id":"u2"}}`)
				_ = wstest.ReadJSON(t, b)
				expectDiff(t, w, "u2", "")
				wstest.ExpectSilence(t, a1, wstest.Quiet)
				wstest.ExpectSilence(t, a2, wstest.Quiet)

				// Untracking after the leave is an error: nothing is tracked.
				wstest.Send(t, a1, `{"untrack":"room:l"}`)
				wstest.ExpectSilence(t, w, wstest.Quiet)
			})
		}
	}
}

// expectMessage reads c's next message and fails unless it is want.
func expectMessage(t *testing.T, c *wstest.Client, want string) {
	t.Helper()
	if got := wstest.ReadString(t, c); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// expectDiff reads a presence_diff from c whose joins are exactly join
// and whose leaves are exactly leave ("" for none).
func expectDiff(t *testing.T, c *wstest.Client, join, leave string) {
	t.Helper()
	m := wstest.ReadJSON(t, c)
	if m["event"] != "presence_diff" {
		t.Fatalf("got %v, want a presence_diff", m)
	}
	payload := m["payload"].(map[string]any)
	for key, want := range map[string]string{"joins": join, "leaves": leave} {
		got := payload[key].(map[string]any)
		if want == "" && len(got) != 0 || want != "" && (len(got) != 1 || got[want] == nil) {
			t.Fatalf("diff %s = %v, want %q", key, got, want)
		}
	}
}
