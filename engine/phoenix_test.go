package engine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix"
)

// endLog records the Disconnects of channel handlers: "topic name".
type endLog struct {
	mu   sync.Mutex
	ends []string
}

func (l *endLog) add(s string) { l.mu.Lock(); l.ends = append(l.ends, s); l.mu.Unlock() }

func (l *endLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ends {
		if e == s {
			return true
		}
	}
	return false
}

// testChannel is a channel handler driven by the join params and the
// events the client pushes.
func testChannel(log *endLog) engine.Handler {
	return func(ev *engine.Event) engine.Reply {
		switch ev.Type {
		case engine.Connect:
			var p struct {
				Refuse string `json:"refuse"`
				Panic  bool   `json:"panic"`
				Track  string `json:"track"`
			}
			_ = json.Unmarshal(ev.Message, &p)
			switch {
			case p.Refuse != "":
				return engine.Reply{Reply: engine.ReplyError(p.Refuse)}
			case p.Panic:
				panic("join")
			case p.Track != "":
				return engine.Reply{Track: &engine.Track{Channel: ev.Topic, UserID: p.Track, Meta: map[string]any{"name": p.Track}}}
			}
			resp := fmt.Sprintf(`{"id":%q,"topic":%q}`, ev.Params.Get("id"), ev.Topic)
			return engine.Reply{Reply: engine.ReplyOK([]byte(resp))}
		case engine.Message:
			switch ev.Name {
			case "echo":
				return engine.Reply{Reply: engine.ReplyOK(append([]byte(nil), ev.Message...))}
			case "shout":
				return engine.Reply{BroadcastRoom: engine.ChannelMessage("shout", ev.Message), Reply: engine.ReplyOK(nil)}
			case "send":
				return engine.Reply{Send: engine.ChannelMessage("private", ev.Message)}
			case "raw":
				var text string
				_ = json.Unmarshal(ev.Message, &text)
				return engine.Reply{BroadcastRoom: []byte(text)}
			case "bin":
				return engine.Reply{BroadcastRoom: append([]byte(nil), ev.Message...), Binary: true}
			case "status":
				return engine.Reply{Reply: &engine.ChannelReply{Status: "custom", Response: append([]byte(nil), ev.Message...)}}
			case "typing":
				return engine.Reply{SetPresence: &engine.SetPresence{Channel: ev.Topic, State: "typing"}}
			case "leave_me":
				return engine.Reply{Leave: []string{ev.Topic}}
			case "join_side":
				return engine.Reply{Join: []string{"side"}, Reply: engine.ReplyOK(nil)}
			case "leave_side":
				return engine.Reply{Leave: []string{"side"}, Reply: engine.ReplyOK(nil)}
			case "to_side":
				return engine.Reply{BroadcastRoom: engine.ChannelMessage("aside", ev.Message), Room: "side", Reply: engine.ReplyOK(nil)}
			case "everyone":
				return engine.Reply{Broadcast: engine.ChannelMessage("all", ev.Message), Reply: engine.ReplyOK(nil)}
			case "track":
				return engine.Reply{Track: &engine.Track{Channel: ev.Topic, UserID: "late"}, Reply: engine.ReplyOK(nil)}
			case "untrack":
				return engine.Reply{Untrack: []string{ev.Topic}, Reply: engine.ReplyOK(nil)}
			case "crash":
				panic("message")
			case "binary?":
				return engine.Reply{Reply: engine.ReplyOK([]byte(fmt.Sprintf(`{"binary":%v,"len":%d}`, ev.Binary, len(ev.Message))))}
			}
			return engine.Reply{}
		case engine.Disconnect:
			log.add(ev.Topic + " " + ev.Name)
		}
		return engine.Reply{}
	}
}

// startPhoenix runs an engine with the test channel on "test::id" and a
// raw route /ws/room/:id in channel test:<id> that broadcasts every message
// to it unchanged.
func startPhoenix(t *testing.T, cfg engine.Config, opts ...func(*engine.Route)) (*wstest.Engine, *endLog) {
	log := &endLog{}
	ch := engine.Route{Pattern: "test::id", Handler: testChannel(log)}
	for _, o := range opts {
		o(&ch)
	}
	raw := engine.Route{Pattern: "/ws/room/:id", Handler: func(ev *engine.Event) engine.Reply {
		room := "test:" + ev.Params.Get("id")
		switch ev.Type {
		case engine.Connect:
			return engine.Reply{Join: []string{room}}
		case engine.Message:
			return engine.Reply{BroadcastRoom: append([]byte(nil), ev.Message...), Binary: ev.Binary, Room: room}
		}
		return engine.Reply{}
	}}
	return wstest.StartPhoenix(t, cfg, []engine.Route{raw}, ch), log
}

func isReply(ref string) func(wstest.PhxMsg) bool {
	return func(m wstest.PhxMsg) bool { return m.Event == phoenix.EventReply && m.Ref == ref }
}

func TestPhoenixProtocol(t *testing.T) {
	s, log := startPhoenix(t, engine.Config{})
	a := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))

	// Heartbeat: ok on topic phoenix, no join_ref.
	if m := a.ReplyTo(t, a.SendRaw(t, "", a.NextRef(), "phoenix", "heartbeat", map[string]any{})); m.Topic != "phoenix" || m.Status() != "ok" || m.JoinRef != "" {
		t.Fatalf("heartbeat reply %v", m)
	}
	// A topic without a handler, joined or pushed to.
	for _, topic := range []string{"nope:1", "test", "phoenix"} {
		if m := a.Join(t, topic, nil); m.Status() != "error" || string(m.Response()) != `{"reason":"unmatched topic"}` || m.JoinRef != "" {
			t.Fatalf("join %s: %v", topic, m)
		}
	}
	if m := a.Call(t, "test:9", "echo", map[string]any{}); string(m.Response()) != `{"reason":"unmatched topic"}` {
		t.Fatalf("push to an unjoined topic: %v", m)
	}
	// A refused join leaves nothing joined.
	if m := a.Join(t, "test:1", map[string]any{"refuse": "not you"}); m.Status() != "error" || string(m.Response()) != `{"reason":"not you"}` {
		t.Fatalf("refused join: %v", m)
	}
	if m := a.Call(t, "test:1", "echo", map[string]any{}); m.Status() != "error" {
		t.Fatalf("push after a refused join: %v", m)
	}
	// A join: the handler's response, with the topic's params.
	m := a.Join(t, "test:1", map[string]any{})
	if m.Status() != "ok" || string(m.Response()) != `{"id":"1","topic":"test:1"}` || m.JoinRef != a.JoinRef("test:1") {
		t.Fatalf("join: %v", m)
	}
	// Pushes answered with a reply, with none, with any status.
	if m := a.Call(t, "test:1", "echo", map[string]any{"n": 1}); m.Status() != "ok" || string(m.Response()) != `{"n":1}` || m.JoinRef != a.JoinRef("test:1") {
		t.Fatalf("echo: %v", m)
	}
	ref := a.Push(t, "test:1", "noreply", map[string]any{})
	a.ExpectNone(t, "reply to noreply", isReply(ref))
	if m := a.Call(t, "test:1", "status", []int{1}); m.Status() != "custom" || string(m.Response()) != `[1]` {
		t.Fatalf("custom status: %v", m)
	}

	// A topic is a channel: a Phoenix broadcast reaches Phoenix members as
	// the event and raw members as its envelope; a raw message reaches
	// Phoenix members as SPEC section 9 says.
	b := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	b.Join(t, "test:1", nil)
	raw := s.Dial(t, "/ws/room/1")
	wstest.Eventually(t, "3 members", func() bool { return len(s.ClientsIn("test:1")) == 3 })
	a.Call(t, "test:1", "shout", map[string]any{"body": "hi"})
	for _, p := range []*wstest.Phx{a, b} {
		if m := p.Event(t, "test:1", "shout"); string(m.Payload) != `{"body":"hi"}` || m.JoinRef != "" || m.Ref != "" {
			t.Fatalf("broadcast: %v", m)
		}
	}
	if got := wstest.ReadString(t, raw); got != `{"event":"shout","payload":{"body":"hi"}}` {
		t.Fatalf("raw member got %s", got)
	}
	for in, want := range map[string]wstest.PhxMsg{
		`{"event":"typing","payload":{"who":"r"}}`: {Event: "typing", Payload: json.RawMessage(`{"who":"r"}`)},
		`{"text":"hi"}`:                      {Event: "message", Payload: json.RawMessage(`{"text":"hi"}`)},
		`hello`:                              {Event: "message", Payload: json.RawMessage(`{"body":"hello"}`)},
		`{"event":"phx_close","payload":{}}`: {Event: "message", Payload: json.RawMessage(`{"event":"phx_close","payload":{}}`)},
	} {
		wstest.Send(t, raw, in)
		wstest.ReadString(t, raw) // its own copy
		for _, p := range []*wstest.Phx{a, b} {
			m := p.Expect(t, "raw "+in, func(m wstest.PhxMsg) bool { return m.Topic == "test:1" && m.Event == want.Event })
			if string(m.Payload) != string(want.Payload) {
				t.Fatalf("raw %s reached a Phoenix member as %v", in, m)
			}
		}
	}

	// Send: to the pusher alone, on the topic, with the join_ref.
	a.Push(t, "test:1", "send", map[string]any{"x": 1})
	if m := a.Event(t, "test:1", "private"); m.JoinRef != a.JoinRef("test:1") || string(m.Payload) != `{"x":1}` {
		t.Fatalf("send: %v", m)
	}
	b.ExpectNone(t, "another's send", func(m wstest.PhxMsg) bool { return m.Event == "private" })

	// A second join of the topic closes the first.
	old := a.JoinRef("test:1")
	if m := a.Join(t, "test:1", nil); m.Status() != "ok" {
		t.Fatalf("rejoin: %v", m)
	}
	if m := a.Event(t, "test:1", phoenix.EventClose); m.JoinRef != old {
		t.Fatalf("phx_close of the first join: %v", m)
	}
	wstest.Eventually(t, "the first join's disconnect", func() bool { return log.has("test:1 phx_close") })
	stale := a.SendRaw(t, old, a.NextRef(), "test:1", "echo", map[string]any{})
	a.ExpectNone(t, "a reply to a stale join_ref", isReply(stale))

	// Leave: ok, phx_close, Disconnect "phx_leave"; broadcasts stop.
	ref = a.Push(t, "test:1", phoenix.EventLeave, map[string]any{})
	if m := a.ReplyTo(t, ref); m.Status() != "ok" {
		t.Fatalf("leave: %v", m)
	}
	a.Event(t, "test:1", phoenix.EventClose)
	wstest.Eventually(t, "the leave's disconnect", func() bool { return log.has("test:1 phx_leave") })
	b.Call(t, "test:1", "shout", map[string]any{})
	a.ExpectNone(t, "a broadcast after leaving", func(m wstest.PhxMsg) bool { return m.Event == "shout" })

	// A handler that leaves the topic closes the channel.
	a.Join(t, "test:2", nil)
	a.Push(t, "test:2", "leave_me", map[string]any{})
	a.Event(t, "test:2", phoenix.EventClose)
	wstest.Eventually(t, "the left channel's disconnect", func() bool { return log.has("test:2 phx_close") })

	// A handler that panics: phx_error on the channel, the socket lives.
	a.Join(t, "test:3", nil)
	a.Push(t, "test:3", "crash", map[string]any{})
	if m := a.Event(t, "test:3", phoenix.EventError); string(m.Payload) != `{"reason":"channel_crash"}` {
		t.Fatalf("crash: %v", m)
	}
	wstest.Eventually(t, "the crashed channel's disconnect", func() bool { return log.has("test:3 phx_error") })
	if m := a.Join(t, "test:4", map[string]any{"panic": true}); string(m.Response()) != `{"reason":"join crashed"}` {
		t.Fatalf("join panic: %v", m)
	}
	if m := a.Join(t, "test:3", nil); m.Status() != "ok" {
		t.Fatalf("rejoin after a crash: %v", m)
	}

	// The socket closes: every joined channel gets its Disconnect.
	a.Join(t, "test:5", nil)
	_ = a.Close()
	wstest.Eventually(t, "the close's disconnects", func() bool { return log.has("test:3 phx_close") && log.has("test:5 phx_close") })
}

func TestPhoenixV1(t *testing.T) {
	s, _ := startPhoenix(t, engine.Config{})
	a := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V1, ""))
	a.Vsn = phoenix.V1
	if m := a.Join(t, "test:7", nil); m.Status() != "ok" || string(m.Response()) != `{"id":"7","topic":"test:7"}` {
		t.Fatalf("join: %v", m)
	}
	a.Call(t, "test:7", "shout", map[string]any{"v": 1})
	if m := a.Event(t, "test:7", "shout"); string(m.Payload) != `{"v":1}` {
		t.Fatalf("broadcast: %v", m)
	}
	// Without vsn, a client speaks V1 too.
	c := wstest.DialPhx(t, "ws://"+s.Addr+"/socket/websocket")
	c.Vsn = phoenix.V1
	if m := c.Join(t, "test:7", nil); m.Status() != "ok" {
		t.Fatalf("join without vsn: %v", m)
	}
}

func TestPhoenixBinary(t *testing.T) {
	s, _ := startPhoenix(t, engine.Config{})
	v2 := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	v1 := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V1, ""))
	v1.Vsn = phoenix.V1
	v2.Join(t, "test:b", nil)
	v1.Join(t, "test:b", nil)
	// A binary push reaches the handler as binary.
	if m := v2.ReplyTo(t, v2.SendBinary(t, "test:b", "binary?", []byte{0, 1, 2})); string(m.Response()) != `{"binary":true,"len":3}` {
		t.Fatalf("binary push: %v", m)
	}
	// A binary broadcast: a binary frame for V2, base64 text for V1.
	v2.SendBinary(t, "test:b", "bin", []byte{0xff, 0})
	if m := v2.Event(t, "test:b", "message"); !m.Binary || string(m.Payload) != "\xff\x00" {
		t.Fatalf("V2 binary broadcast: %v", m)
	}
	if m := v1.Event(t, "test:b", "message"); string(m.Payload) != `{"body":"/wA=","encoding":"base64"}` {
		t.Fatalf("V1 binary broadcast: %v", m)
	}
}

// TestPhoenixBadInput: malformed messages and wrong types close the
// connection with 1003 and a reason, an oversize one with 1009, joins past
// the cap are refused, and a join flood closes with 1008.
func TestPhoenixBadInput(t *testing.T) {
	s, _ := startPhoenix(t, engine.Config{MaxChannels: 2, MaxMessageSize: 1 << 10})
	for _, tc := range []struct {
		name, msg string
		code      int
		reason    string
	}{
		{"not json", `hello`, 1003, "want a JSON array"},
		{"short array", `["1","1","t","e"]`, 1003, "want 5 elements"},
		{"number topic", `["1","1",42,"phx_join",{}]`, 1003, "topic must be a non-empty"},
		{"object ref", `[{},"1","t","e",{}]`, 1003, "join_ref must be"},
		{"oversize", `["1","1","test:1","echo",{"x":"` + strings.Repeat("x", 2<<10) + `"}]`, 1009, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
			wstest.Send(t, c.Client, tc.msg)
			_, _, err := c.Client.Next(wstest.Timeout)
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != tc.code || !strings.Contains(ce.Text, tc.reason) {
				t.Fatalf("got %v, want close %d %q", err, tc.code, tc.reason)
			}
		})
	}
	t.Run("bad vsn", func(t *testing.T) {
		if _, err := wstest.DialURL("ws://" + s.Addr + "/socket/websocket?vsn=9.0.0"); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("vsn 9: %v", err)
		}
	})
	t.Run("cap and flood", func(t *testing.T) {
		c := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
		c.Join(t, "test:1", nil)
		c.Join(t, "test:2", nil)
		if m := c.Join(t, "test:3", nil); string(m.Response()) != `{"reason":"too many channels joined"}` {
			t.Fatalf("join past the cap: %v", m)
		}
		// A rejoin of a joined topic is not past the cap.
		if m := c.Join(t, "test:2", nil); m.Status() != "ok" {
			t.Fatalf("rejoin at the cap: %v", m)
		}
		for i := range 5 {
			// The server may close before the last ones: their writes
			// then fail, which is what a flood gets.
			msg := fmt.Sprintf(`["%d","%d","test:x%d","phx_join",{}]`, 100+i, 100+i, i)
			if err := c.Client.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				break
			}
		}
		ce := closeOf(t, c)
		if ce.Code != 1008 || ce.Text != "join flood" {
			t.Fatalf("flood: %v", ce)
		}
		if s.Stats().ChannelFloods.Load() != 1 {
			t.Fatalf("ChannelFloods = %d", s.Stats().ChannelFloods.Load())
		}
	})
}

// closeOf reads c until its close frame.
func closeOf(t *testing.T, c *wstest.Phx) *websocket.CloseError {
	t.Helper()
	for {
		_, _, err := c.Client.Next(wstest.Timeout)
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			t.Fatalf("no close frame: %v", err)
		}
		return ce
	}
}

// TestPhoenixWorkers: a channel whose handler runs on the worker pool sees
// a connection's events in order, a push sent before its join is answered
// included.
func TestPhoenixWorkers(t *testing.T) {
	s, log := startPhoenix(t, engine.Config{}, func(r *engine.Route) { r.Workers = true })
	a := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	join := a.JoinAsync(t, "test:w", nil)
	var refs []string
	for i := range 20 {
		refs = append(refs, a.Push(t, "test:w", "echo", map[string]int{"i": i}))
	}
	if m := a.ReplyTo(t, join); m.Status() != "ok" {
		t.Fatalf("join: %v", m)
	}
	for i, ref := range refs {
		if m := a.ReplyTo(t, ref); string(m.Response()) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("push %d: %v", i, m)
		}
	}
	// Leave while a join is in flight: the join's Disconnect still comes.
	a.JoinAsync(t, "test:v", nil)
	a.Push(t, "test:v", phoenix.EventLeave, map[string]any{})
	wstest.Eventually(t, "the in-flight join's disconnect", func() bool { return log.has("test:v phx_leave") })
}

// TestPhoenixPresence: a join that tracks gets presence_state as an event
// of its topic; the others get presence_diff; raw members of the channel
// get the same presence messages in the seed's form.
func TestPhoenixPresence(t *testing.T) {
	s, _ := startPhoenix(t, engine.Config{PresenceInterval: -1})
	raw := s.Dial(t, "/ws/room/p")
	a := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	b := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V1, ""))
	b.Vsn = phoenix.V1
	a.Join(t, "test:p", map[string]any{"track": "ann"})
	if m := a.Event(t, "test:p", "presence_state"); !strings.Contains(string(m.Payload), `"ann":{"metas":[{"phx_ref":`) {
		t.Fatalf("presence_state: %v", m)
	}
	if got := wstest.ReadString(t, raw); !strings.HasPrefix(got, `{"event":"presence_diff","payload":{"joins":{"ann":`) {
		t.Fatalf("raw member: %s", got)
	}
	b.Join(t, "test:p", map[string]any{"track": "bob"})
	b.Event(t, "test:p", "presence_state")
	if m := a.Event(t, "test:p", "presence_diff"); !strings.Contains(string(m.Payload), `"joins":{"bob":`) {
		t.Fatalf("presence_diff: %v", m)
	}
	b.Push(t, "test:p", "typing", map[string]any{})
	if m := a.Event(t, "test:p", "presence_diff"); !strings.Contains(string(m.Payload), `"state":"typing"`) {
		t.Fatalf("typing diff: %v", m)
	}
	// Leaving the channel untracks.
	b.Push(t, "test:p", phoenix.EventLeave, map[string]any{})
	if m := a.Event(t, "test:p", "presence_diff"); !strings.Contains(string(m.Payload), `"leaves":{"bob":`) {
		t.Fatalf("leave diff: %v", m)
	}
	wstest.Eventually(t, "ann alone", func() bool { return s.PresenceCount("test:p") == 1 })
}

// TestPhoenixSendToSocket: Send to a Phoenix connection (a helper, or
// another route's action) is pushed on topic "phoenix"; Broadcast too.
func TestPhoenixSendToSocket(t *testing.T) {
	s, _ := startPhoenix(t, engine.Config{})
	a := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	a.Join(t, "test:s", nil)
	id := s.ClientsIn("test:s")[0]
	if !s.Send(id, []byte(`{"event":"notice","payload":{"n":1}}`)) {
		t.Fatal("Send: unknown connection")
	}
	if m := a.Event(t, "phoenix", "notice"); string(m.Payload) != `{"n":1}` || m.JoinRef != "" {
		t.Fatalf("Send: %v", m)
	}
	s.Broadcast([]byte("all"))
	if m := a.Event(t, "phoenix", "message"); string(m.Payload) != `{"body":"all"}` {
		t.Fatalf("Broadcast: %v", m)
	}
	s.BroadcastRoom("test:s", []byte(`{"event":"x","payload":1}`))
	if m := a.Event(t, "test:s", "x"); string(m.Payload) != `1` {
		t.Fatalf("BroadcastRoom: %v", m)
	}
}

// TestPhoenixRegistration: channel patterns are checked, and the socket
// path cannot be taken by a route.
func TestPhoenixRegistration(t *testing.T) {
	e := engine.New(engine.Config{})
	nop := func(*engine.Event) engine.Reply { return engine.Reply{} }
	if err := e.HandleChannel(engine.Route{Pattern: "room:", Handler: nop}); err == nil {
		t.Error("bad pattern accepted")
	}
	if err := e.HandleChannel(engine.Route{Pattern: "room:*"}); err == nil {
		t.Error("nil handler accepted")
	}
	if err := e.Handle(engine.Route{Pattern: "/socket/websocket", Handler: nop}); err != nil {
		t.Fatal(err)
	}
	if err := e.HandleChannel(engine.Route{Pattern: "room:*", Handler: nop}); err == nil {
		t.Error("channel registered over a route at /socket/websocket")
	}
}

// TestPhoenixActions: every action of a channel handler works as on a raw
// route: join and leave of another channel, broadcast_room to it,
// broadcast, track and untrack.
func TestPhoenixActions(t *testing.T) {
	s, _ := startPhoenix(t, engine.Config{PresenceInterval: -1})
	a := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	raw := s.Dial(t, "/ws/room/z")
	a.Join(t, "test:a", nil)
	id := s.ClientsIn("test:a")[0]

	a.Call(t, "test:a", "join_side", map[string]any{})
	if got := s.ClientsIn("side"); len(got) != 1 || got[0] != id {
		t.Fatalf("after join: side has %v", got)
	}
	a.Call(t, "test:a", "to_side", map[string]any{"n": 1})
	if m := a.Event(t, "side", "aside"); string(m.Payload) != `{"n":1}` {
		t.Fatalf("broadcast_room to another channel: %v", m)
	}
	a.Call(t, "test:a", "leave_side", map[string]any{})
	if got := s.ClientsIn("side"); len(got) != 0 {
		t.Fatalf("after leave: side has %v", got)
	}
	a.Call(t, "test:a", "everyone", map[string]any{"n": 2})
	if m := a.Event(t, "phoenix", "all"); string(m.Payload) != `{"n":2}` {
		t.Fatalf("broadcast to the pusher: %v", m)
	}
	if got := wstest.ReadString(t, raw); got != `{"event":"all","payload":{"n":2}}` {
		t.Fatalf("broadcast to a raw connection: %s", got)
	}
	a.Call(t, "test:a", "track", map[string]any{})
	a.Event(t, "test:a", "presence_state")
	wstest.Eventually(t, "tracked", func() bool { return s.PresenceCount("test:a") == 1 })
	a.Call(t, "test:a", "untrack", map[string]any{})
	wstest.Eventually(t, "untracked", func() bool { return s.PresenceCount("test:a") == 0 })
	if got := s.ClientsIn("test:a"); len(got) != 1 {
		t.Fatalf("untrack left the channel: %v", got)
	}
}
