package ripple_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// startScripted runs a server with wstest.Scripted on /ws/script.
func startScripted(t *testing.T, cfg ripple.Config) *wstest.Server {
	return wstest.Start(t, cfg, map[string]ripple.Handler{"/ws/script": wstest.Scripted})
}

func TestChatRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a := s.Dial(t, "/ws/chat")
	joinA := wstest.ReadJSON(t, a)
	if joinA["type"] != "join" || joinA["user"] == "" {
		t.Fatalf("join notice = %v", joinA)
	}
	b := s.Dial(t, "/ws/chat")
	for _, c := range []*wstest.Client{a, b} {
		if m := wstest.ReadJSON(t, c); m["type"] != "join" || m["user"] == joinA["user"] {
			t.Fatalf("second join notice = %v", m)
		}
	}
	wstest.Send(t, b, "hello everyone")
	for _, c := range []*wstest.Client{a, b} {
		if got := wstest.ReadString(t, c); got != "hello everyone" {
			t.Fatalf("broadcast = %q", got)
		}
	}
}

func TestRoomRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a1 := s.Dial(t, "/ws/room/a")
	a2 := s.Dial(t, "/ws/room/a")
	b1 := s.Dial(t, "/ws/room/b")
	wstest.Eventually(t, "3 connections", func() bool { return s.Count() == 3 })

	wstest.Send(t, a1, `{ "text" : "hi" }`)
	for _, c := range []*wstest.Client{a1, a2} {
		if got := wstest.ReadString(t, c); got != `{"text":"hi"}` {
			t.Fatalf("room message = %q, want the re-encoded JSON", got)
		}
	}
	wstest.ExpectSilence(t, b1, wstest.Quiet)

	wstest.Send(t, a2, `not json`)
	if m := wstest.ReadJSON(t, a2); m["type"] != "error" || m["error"] == "" {
		t.Fatalf("error reply = %v", m)
	}
	wstest.ExpectSilence(t, a1, wstest.Quiet)
	if ids := s.ClientsIn("room:a"); len(ids) != 2 {
		t.Fatalf("ClientsIn(room:a) = %v", ids)
	}
}

func TestEchoRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	c := s.Dial(t, "/ws/echo")
	for _, tc := range []struct {
		typ int
		msg string
	}{{websocket.TextMessage, "héllo"}, {websocket.BinaryMessage, "\x00\x01\xff"}, {websocket.TextMessage, ""}} {
		if err := c.WriteMessage(tc.typ, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		typ, got := wstest.Read(t, c)
		if typ != tc.typ || string(got) != tc.msg {
			t.Fatalf("echo = %d %q, want %d %q", typ, got, tc.typ, tc.msg)
		}
	}
}

func TestShootoutRoute(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	a := s.Dial(t, "/ws/shootout")
	b := s.Dial(t, "/ws/shootout")
	wstest.Eventually(t, "2 connections", func() bool { return s.Count() == 2 })

	wstest.Send(t, a, `{"type":"echo","payload":{"n":1}}`)
	if got := wstest.ReadString(t, a); got != `{"type":"echo","payload":{"n":1}}` {
		t.Fatalf("echo = %q", got)
	}
	wstest.Send(t, a, `{"type":"broadcast","payload":"x"}`)
	got := map[string]int{}
	for range 2 {
		got[wstest.ReadString(t, a)]++
	}
	if got[`{"type":"broadcast","payload":"x"}`] != 1 || got[`{"type":"broadcastResult","payload":"x"}`] != 1 {
		t.Fatalf("sender got %v", got)
	}
	if m := wstest.ReadString(t, b); m != `{"type":"broadcast","payload":"x"}` {
		t.Fatalf("other got %q", m)
	}
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
	wstest.ExpectSilence(t, a, wstest.Quiet)
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
