package ripple_test

import (
	"encoding/json"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// scripted answers every message with the actions it spells in the seed's
// dict format, so a test can drive any combination over the wire.
func scripted(ev *ripple.Event) ripple.Reply {
	if ev.Type != ripple.Message {
		return ripple.Reply{}
	}
	r, err := ripple.DecodeReply(ev.Message)
	if err != nil {
		return ripple.Reply{Send: []byte("error: " + err.Error())}
	}
	return r
}

func startScripted(t *testing.T, cfg ripple.Config) *wstest.Server {
	return wstest.Start(t, cfg, map[string]ripple.Handler{"/ws/script": scripted})
}

func TestActions(t *testing.T) {
	s := startScripted(t, ripple.Config{})
	a := s.Dial(t, "/ws/script")
	b := s.Dial(t, "/ws/script")
	c := s.Dial(t, "/ws/script")
	wstest.Eventually(t, "3 connections", func() bool { return s.Count() == 3 })

	// send: only the sender.
	wstest.Send(t, a, `{"send":"just you"}`)
	if got := wstest.ReadString(t, a); got != "just you" {
		t.Fatalf("send = %q", got)
	}
	wstest.ExpectSilence(t, b, quiet)

	// broadcast: everyone, sender included.
	wstest.Send(t, b, `{"broadcast":"all"}`)
	for _, conn := range []*wstest.Client{a, b, c} {
		if got := wstest.ReadString(t, conn); got != "all" {
			t.Fatalf("broadcast = %q", got)
		}
	}

	// join + broadcast_room in one reply: join applies first, so the sender
	// receives its own room message.
	wstest.Send(t, a, `{"join":"room:x","broadcast_room":"to x"}`)
	if got := wstest.ReadString(t, a); got != "to x" {
		t.Fatalf("join+broadcast_room = %q", got)
	}
	wstest.Send(t, b, `{"join":["room:x","room:y"]}`)
	wstest.Eventually(t, "b in room:y", func() bool { return len(s.ClientsIn("room:y")) == 1 })

	// A member of several joined channels gets a message once.
	wstest.Send(t, b, `{"broadcast_room":"once"}`)
	if got := wstest.ReadString(t, b); got != "once" {
		t.Fatalf("multi-room = %q", got)
	}
	if got := wstest.ReadString(t, a); got != "once" {
		t.Fatalf("multi-room to a = %q", got)
	}
	wstest.ExpectSilence(t, b, quiet)

	// An explicit channel, sent by a non-member.
	wstest.Send(t, c, `{"broadcast_room":{"channel":"room:y","message":"to y"}}`)
	if got := wstest.ReadString(t, b); got != "to y" {
		t.Fatalf("explicit room = %q", got)
	}
	wstest.ExpectSilence(t, a, quiet)

	// broadcast_room then leave in one reply: leave applies last.
	wstest.Send(t, a, `{"broadcast_room":"bye","leave":"room:x"}`)
	for _, conn := range []*wstest.Client{a, b} {
		if got := wstest.ReadString(t, conn); got != "bye" {
			t.Fatalf("broadcast_room before leave = %q", got)
		}
	}
	wstest.Send(t, b, `{"broadcast_room":{"channel":"room:x","message":"a left"}}`)
	if got := wstest.ReadString(t, b); got != "a left" {
		t.Fatalf("after leave = %q", got)
	}
	wstest.ExpectSilence(t, a, quiet)

	// A malformed action is reported, nothing crashes, the conn lives on.
	wstest.Send(t, c, `{"track":{"channel":"room:x"}}`)
	if got := wstest.ReadString(t, c); !strings.Contains(got, "user_id required") {
		t.Fatalf("malformed track = %q", got)
	}
	wstest.Send(t, c, `{"send":"still here"}`)
	if got := wstest.ReadString(t, c); got != "still here" {
		t.Fatalf("after error = %q", got)
	}
}

func TestPresenceActions(t *testing.T) {
	s := startScripted(t, ripple.Config{})
	a := s.Dial(t, "/ws/script")
	b := s.Dial(t, "/ws/script")

	// track joins the channel and sends the tracker the full state.
	wstest.Send(t, a, `{"track":{"channel":"room:p","user_id":"u1","name":"Ann"}}`)
	st := wstest.ReadJSON(t, a)
	if st["event"] != "presence_state" {
		t.Fatalf("state = %v", st)
	}
	wstest.Send(t, b, `{"join":"room:p"}`)
	wstest.Eventually(t, "b joined", func() bool { return len(s.ClientsIn("room:p")) == 2 })

	// set_presence: joins carrying the new state reach the other members.
	wstest.Send(t, a, `{"set_presence":{"channel":"room:p","state":"typing"}}`)
	diff := wstest.ReadJSON(t, b)
	joins := diff["payload"].(map[string]any)["joins"].(map[string]any)
	metas := joins["u1"].(map[string]any)["metas"].([]any)
	if diff["event"] != "presence_diff" || metas[0].(map[string]any)["state"] != "typing" {
		t.Fatalf("set_presence diff = %v", diff)
	}
	if p, ok := s.GetPresence("room:p", "u1"); !ok || p.Metas[0].State != "typing" || s.PresenceCount("room:p") != 1 {
		t.Fatalf("GetPresence = %+v %v", p, ok)
	}

	// untrack: a leave for the user.
	wstest.Send(t, a, `{"untrack":"room:p"}`)
	diff = wstest.ReadJSON(t, b)
	if leaves := diff["payload"].(map[string]any)["leaves"].(map[string]any); leaves["u1"] == nil {
		t.Fatalf("untrack diff = %v", diff)
	}
	if n := s.PresenceCount("room:p"); n != 0 {
		t.Fatalf("PresenceCount after untrack = %d", n)
	}

	// Disconnect untracks automatically.
	wstest.Send(t, a, `{"track":{"channel":"room:p","user_id":"u1"}}`)
	_ = wstest.ReadJSON(t, a)
	_ = wstest.ReadJSON(t, b) // join
	a.Close()
	diff = wstest.ReadJSON(t, b)
	if leaves := diff["payload"].(map[string]any)["leaves"].(map[string]any); leaves["u1"] == nil {
		t.Fatalf("disconnect diff = %v", diff)
	}
	wstest.Eventually(t, "presence gone", func() bool { return s.PresenceCount("room:p") == 0 })
}

func TestPresenceRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a := s.Dial(t, "/ws/presence/lobby?user_id=ann&name=Ann")
	st := wstest.ReadJSON(t, a)
	payload := st["payload"].(map[string]any)
	if st["event"] != "presence_state" || payload["ann"] == nil {
		t.Fatalf("state = %v", st)
	}
	b := s.Dial(t, "/ws/presence/lobby?user_id=bob&name=Bob")
	_ = wstest.ReadJSON(t, b)
	diff := wstest.ReadJSON(t, a)
	joins := diff["payload"].(map[string]any)["joins"].(map[string]any)
	meta := joins["bob"].(map[string]any)["metas"].([]any)[0].(map[string]any)
	if meta["name"] != "Bob" || meta["state"] != "online" || meta["phx_ref"] == "" {
		t.Fatalf("join diff = %v", diff)
	}
	wstest.Send(t, b, `{"event":"typing"}`)
	diff = wstest.ReadJSON(t, a)
	if !strings.Contains(mustJSON(t, diff), `"typing"`) {
		t.Fatalf("typing diff = %v", diff)
	}
	if d := wstest.ReadJSON(t, b); d["event"] != "presence_diff" { // b's own state change
		t.Fatalf("typing diff to b = %v", d)
	}
	wstest.Send(t, b, `{"event":"chat","text":"yo","user_id":"ann","name":"Mallory"}`)
	for _, c := range []*wstest.Client{a, b} {
		if m := wstest.ReadJSON(t, c); m["text"] != "yo" || m["user_id"] != "bob" || m["name"] != "Bob" {
			t.Fatalf("chat = %v, want the sender's own identity stamped", m)
		}
	}
	wstest.Send(t, b, `{"event":"presence_diff","payload":{"joins":{},"leaves":{"ann":{"metas":[]}}}}`)
	if m := wstest.ReadJSON(t, b); m["type"] != "error" {
		t.Fatalf("forged diff = %v, want an error to the sender", m)
	}
	wstest.ExpectSilence(t, a, quiet)
	users := s.ListPresence("room:lobby")
	if len(users) != 2 {
		t.Fatalf("ListPresence = %+v", users)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerPanicCloses1011(t *testing.T) {
	var panics atomic.Int32
	s := wstest.Start(t, ripple.Config{}, map[string]ripple.Handler{
		"/ws/panic": func(ev *ripple.Event) ripple.Reply {
			if ev.Type == ripple.Message && string(ev.Message) == "boom" {
				panics.Add(1)
				panic("boom")
			}
			return scripted(ev)
		},
	})
	bad := s.Dial(t, "/ws/panic")
	good := s.Dial(t, "/ws/panic")
	wstest.Send(t, bad, "boom")
	if code, _ := wstest.ExpectClose(t, bad); code != websocket.CloseInternalServerErr {
		t.Fatalf("close code = %d, want 1011", code)
	}
	wstest.Send(t, good, `{"send":"fine"}`)
	if got := wstest.ReadString(t, good); got != "fine" {
		t.Fatalf("other connection = %q", got)
	}
	if panics.Load() != 1 || s.Stats().Panics.Load() != 1 {
		t.Fatalf("panics = %d/%d", panics.Load(), s.Stats().Panics.Load())
	}
}

func TestEventOrderAndParams(t *testing.T) {
	type rec struct{ typ, id, room, msg string }
	events := make(chan rec, 16)
	s := wstest.Start(t, ripple.Config{}, map[string]ripple.Handler{
		"/ws/ev/:room": func(ev *ripple.Event) ripple.Reply {
			events <- rec{ev.Type.String(), ev.ConnectionID, ev.Params.Get("room"), string(ev.Message)}
			return ripple.Reply{}
		},
	})
	c := s.Dial(t, "/ws/ev/r1?x=1")
	wstest.Send(t, c, "m1")
	wstest.Send(t, c, "m2")
	c.Close()
	var got []rec
	for range 4 {
		got = append(got, <-events)
	}
	id := got[0].id
	want := []rec{{"connect", id, "r1", ""}, {"message", id, "r1", "m1"}, {"message", id, "r1", "m2"}, {"disconnect", id, "r1", ""}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(id) != 36 {
		t.Fatalf("connection id %q is not a UUID", id)
	}
}

func sorted(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}
