package ripple_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix"
)

// The demo's Phoenix topics (SPEC section 9), with a Go Phoenix client;
// the phoenix.js tests (phoenixjs_test.go) run the real client.

func TestRoomChannel(t *testing.T) {
	s := wstest.Start(t, ripple.Config{PresenceInterval: -1}, nil)
	url := wstest.PhxURL(s.Addr, phoenix.V2, "")
	raw := s.Dial(t, "/ws/presence/42?user_id=rita&name=Rita")
	wstest.ReadJSON(t, raw) // its presence_state

	ann := wstest.DialPhx(t, url)
	if m := ann.Join(t, "room:42", map[string]any{"user_id": "ann", "name": "Ann"}); m.Status() != "ok" || string(m.Response()) != "{}" {
		t.Fatalf("join: %v", m)
	}
	st := ann.Event(t, "room:42", "presence_state")
	if !strings.Contains(string(st.Payload), `"ann":{"metas":[{"phx_ref"`) || !strings.Contains(string(st.Payload), `"rita"`) ||
		!strings.Contains(string(st.Payload), `"name":"Ann"`) {
		t.Fatalf("presence_state: %v", st)
	}
	if m := wstest.ReadJSON(t, raw); m["event"] != "presence_diff" || !strings.Contains(mustJSON(t, m), `"ann"`) {
		t.Fatalf("the raw member's diff: %v", m)
	}
	// An anonymous member joins untracked; name defaults to user_id.
	anon := wstest.DialPhx(t, url)
	anon.Join(t, "room:42", nil)
	bob := wstest.DialPhx(t, url)
	bob.Join(t, "room:42", map[string]any{"user_id": 7})
	if m := ann.Event(t, "room:42", "presence_diff"); !strings.Contains(string(m.Payload), `"7":{"metas":[{"phx_ref"`) ||
		!strings.Contains(string(m.Payload), `"name":"7"`) {
		t.Fatalf("bob's join diff: %v", m)
	}
	wstest.ReadJSON(t, raw)

	// A push: broadcast to the topic, sender included, stamped with the
	// sender's identity; replied ok {}.
	if m := ann.Call(t, "room:42", "new_msg", map[string]any{"body": "hi", "user_id": "mallory"}); m.Status() != "ok" || string(m.Response()) != "{}" {
		t.Fatalf("push: %v", m)
	}
	for _, p := range []*wstest.Phx{ann, anon, bob} {
		if m := p.Event(t, "room:42", "new_msg"); !sameJSON(string(m.Payload), `{"body":"hi","name":"Ann","user_id":"ann"}`) {
			t.Fatalf("broadcast: %v", m)
		}
	}
	if m := wstest.ReadString(t, raw); !sameJSON(m, `{"event":"new_msg","payload":{"body":"hi","name":"Ann","user_id":"ann"}}`) {
		t.Fatalf("raw member: %s", m)
	}
	// An untracked sender's payload goes as it is.
	anon.Call(t, "room:42", "new_msg", map[string]any{"body": "anon"})
	if m := ann.Event(t, "room:42", "new_msg"); string(m.Payload) != `{"body":"anon"}` {
		t.Fatalf("anonymous broadcast: %v", m)
	}
	// typing / stop_typing set the presence state.
	bob.Call(t, "room:42", "typing", map[string]any{})
	if m := ann.Event(t, "room:42", "presence_diff"); !strings.Contains(string(m.Payload), `"state":"typing"`) {
		t.Fatalf("typing: %v", m)
	}
	bob.Call(t, "room:42", "stop_typing", map[string]any{})
	if m := ann.Event(t, "room:42", "presence_diff"); !strings.Contains(string(m.Payload), `"state":"online"`) {
		t.Fatalf("stop_typing: %v", m)
	}
	// A raw member's message reaches the Phoenix members.
	wstest.Send(t, raw, `{"event":"wave","payload":{"x":1}}`)
	if m := ann.Event(t, "room:42", "message"); !strings.Contains(string(m.Payload), `"user_id":"rita"`) {
		t.Fatalf("raw message: %v", m)
	}
	// Refused: presence events, payloads that are not objects.
	for event, payload := range map[string]any{"presence_diff": map[string]any{}, "new_msg": "text", "other": []int{1}} {
		if m := ann.Call(t, "room:42", event, payload); m.Status() != "error" {
			t.Fatalf("%s %v: %v", event, payload, m)
		}
	}
	// Leaving untracks.
	bob.Push(t, "room:42", phoenix.EventLeave, map[string]any{})
	if m := ann.Event(t, "room:42", "presence_diff"); !strings.Contains(string(m.Payload), `"leaves":{"7"`) {
		t.Fatalf("leave: %v", m)
	}
	wstest.Eventually(t, "ann and rita present", func() bool { return s.PresenceCount("room:42") == 2 })
}

func TestEchoChannel(t *testing.T) {
	s := wstest.Start(t, ripple.Config{}, nil)
	p := wstest.DialPhx(t, wstest.PhxURL(s.Addr, phoenix.V2, ""))
	if m := p.Join(t, "echo:a:b", nil); m.Status() != "ok" {
		t.Fatalf("join: %v", m)
	}
	for _, payload := range []any{map[string]any{"x": []int{1, 2}}, "text", 42} {
		m := p.Call(t, "echo:a:b", "anything", payload)
		if m.Status() != "ok" || !sameJSON(string(m.Response()), mustJSON(t, payload)) {
			t.Fatalf("echo %v: %v", payload, m)
		}
	}
	if m := p.Join(t, "echo", nil); m.Status() != "error" {
		t.Fatalf("echo without a suffix: %v", m)
	}
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
