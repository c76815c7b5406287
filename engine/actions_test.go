package engine_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ripple-rt/ripple/engine"
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
		`{"broadcast_room":{"channel":"c","message":{"a":1}}}`, `{"leave":["a",""]}`, `null`, `{"set_presence":{}}`} {
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
		for _, ch := range append(append(r.Join, r.Leave...), r.Untrack...) {
			if ch == "" {
				t.Fatal("accepted empty channel")
			}
		}
	})
}
