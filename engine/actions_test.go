package engine_test

import (
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

func TestDecodeReply(t *testing.T) {
	tests := []struct {
		in   string
		want engine.Reply
		err  bool
	}{
		{`{}`, engine.Reply{}, false},
		{`null`, engine.Reply{}, false},
		{`{"send":"hi"}`, engine.Reply{Send: []byte("hi")}, false},
		{`{"broadcast":{"type":"x"}}`, engine.Reply{Broadcast: []byte(`{"type":"x"}`)}, false},
		{`{"join":"room:1","leave":["a","b"]}`, engine.Reply{Join: []string{"room:1"}, Leave: []string{"a", "b"}}, false},
		{`{"broadcast_room":"m"}`, engine.Reply{BroadcastRoom: []byte("m")}, false},
		{`{"broadcast_room":{"channel":"c","message":"m"}}`, engine.Reply{BroadcastRoom: []byte("m"), Room: "c"}, false},
		{`{"track":{"channel":"c","user_id":"u","name":"N"}}`, engine.Reply{Track: &engine.Track{Channel: "c", UserID: "u", Meta: map[string]any{"name": "N"}}}, false},
		{`{"track":{"channel":"c","user_id":42}}`, engine.Reply{Track: &engine.Track{Channel: "c", UserID: "42", Meta: map[string]any{}}}, false},
		{`{"set_presence":{"channel":"c","state":"typing"}}`, engine.Reply{SetPresence: &engine.SetPresence{Channel: "c", State: "typing"}}, false},
		{`{"untrack":"c"}`, engine.Reply{Untrack: []string{"c"}}, false},
		{`{"reply":{"status":"ok","response":{"a":1}}}`, engine.Reply{Reply: &engine.ChannelReply{Status: "ok", Response: []byte(`{"a":1}`)}}, false},
		{`{"reply":{"status":"error"}}`, engine.Reply{Reply: &engine.ChannelReply{Status: "error"}}, false},
		{`{"reply":{"response":{}}}`, engine.Reply{}, true},
		{`{"reply":"ok"}`, engine.Reply{}, true},
		{`{"track":{"channel":"c"}}`, engine.Reply{}, true},
		{`{"track":{"user_id":"u"}}`, engine.Reply{}, true},
		{`{"set_presence":{"channel":"c"}}`, engine.Reply{}, true},
		{`{"join":""}`, engine.Reply{}, true},
		{`{"join":5}`, engine.Reply{}, true},
		{`{"explode":true}`, engine.Reply{}, true},
		{`[1]`, engine.Reply{}, true},
		{`{`, engine.Reply{}, true},
	}
	for _, tt := range tests {
		got, err := engine.DecodeReply([]byte(tt.in))
		if tt.err {
			if !errors.Is(err, engine.ErrBadActions) {
				t.Errorf("%s: err = %v, want ErrBadActions", tt.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzDecodeReply(f *testing.F) {
	for _, s := range []string{`{"send":"hi","join":"r"}`, `{"track":{"channel":"c","user_id":"u","x":[1,{}]}}`,
		`{"broadcast_room":{"channel":"c","message":{"a":1}}}`, `{"leave":["a",""]}`, `null`, `{"set_presence":{}}`,
		`{"reply":{"status":"ok","response":[1]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := engine.DecodeReply(data)
		if err != nil {
			return
		}
		if r.Track != nil && (r.Track.Channel == "" || r.Track.UserID == "") {
			t.Fatalf("accepted incomplete track %+v", r.Track)
		}
		if r.Reply != nil && r.Reply.Status == "" {
			t.Fatal("accepted a reply without status")
		}
		for _, ch := range append(append(r.Join, r.Leave...), r.Untrack...) {
			if ch == "" {
				t.Fatal("accepted empty channel")
			}
		}
	})
}

func TestActions(t *testing.T) {
	s := startScripted(t, engine.Config{})
	a := s.Dial(t, "/ws/script")
	b := s.Dial(t, "/ws/script")
	c := s.Dial(t, "/ws/script")
	wstest.Eventually(t, "3 connections", func() bool { return s.Count() == 3 })

	// send: only the sender.
	wstest.Send(t, a, `{"send":"just you"}`)
	if got := wstest.ReadString(t, a); got != "just you" {
		t.Fatalf("send = %q", got)
	}
	wstest.ExpectSilence(t, b, wstest.Quiet)

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
	wstest.ExpectSilence(t, b, wstest.Quiet)

	// An explicit channel, sent by a non-member.
	wstest.Send(t, c, `{"broadcast_room":{"channel":"room:y","message":"to y"}}`)
	if got := wstest.ReadString(t, b); got != "to y" {
		t.Fatalf("explicit room = %q", got)
	}
	wstest.ExpectSilence(t, a, wstest.Quiet)

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
	wstest.ExpectSilence(t, a, wstest.Quiet)

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
	s := startScripted(t, engine.Config{})
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

func TestHandlerPanicCloses1011(t *testing.T) {
	var panics atomic.Int32
	s := startDemo(t, engine.Config{}, engine.Route{Pattern: "/ws/panic", Handler: func(ev *engine.Event) engine.Reply {
		if ev.Type == engine.Message && string(ev.Message) == "boom" {
			panics.Add(1)
			panic("boom")
		}
		return wstest.Scripted(ev)
	}})
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
	s := startDemo(t, engine.Config{}, engine.Route{Pattern: "/ws/ev/:room", Handler: func(ev *engine.Event) engine.Reply {
		events <- rec{ev.Type.String(), ev.ConnectionID, ev.Params.Get("room"), string(ev.Message)}
		return engine.Reply{}
	}})
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

// TestActionError: a reply whose actions fail reaches the route's
// ActionError hook with the connection's id, the event and the error;
// the actions that could be applied still are.
func TestActionError(t *testing.T) {
	type report struct {
		id    string
		event engine.EventType
		err   error
	}
	reports := make(chan report, 8)
	s := startDemo(t, engine.Config{}, engine.Route{Pattern: "/ws/hooked", Handler: leaveScript,
		ActionError: func(id string, event engine.EventType, err error) { reports <- report{id, event, err} }})
	c := s.Dial(t, "/ws/hooked")
	id := wstest.ReadString(t, c)
	for _, tc := range []struct{ actions, want string }{
		{`{"set_presence":{"channel":"room:a","state":"typing"},"send":"sent"}`, `set_presence "room:a": presence: not tracked`},
		{`{"broadcast_room":"x","send":"sent"}`, "broadcast_room: connection has joined no channel"},
		{`{"untrack":"room:a","send":"sent"}`, `untrack "room:a": presence: not tracked`},
	} {
		wstest.Send(t, c, tc.actions)
		expectMessage(t, c, "sent")
		select {
		case r := <-reports:
			if r.id != id || r.event != engine.Message || r.err == nil || r.err.Error() != tc.want {
				t.Errorf("%s: reported %q %v %v, want %q message %q", tc.actions, r.id, r.event, r.err, id, tc.want)
			}
		case <-time.After(wstest.Timeout):
			t.Fatalf("%s: no report", tc.actions)
		}
	}
	wstest.Send(t, c, `{"send":"fine"}`)
	expectMessage(t, c, "fine")
	select {
	case r := <-reports:
		t.Fatalf("a valid reply reported %v", r.err)
	case <-time.After(wstest.Quiet):
	}
}
