package phoenix_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/ripple-rt/ripple/phoenix"
)

// FuzzDecode feeds the message decoder what clients send, in both
// serializers and as binary frames. It must never panic, every error must
// wrap ErrMalformed, and a decoded message must satisfy the decoder's
// promises and survive a round trip through AppendMessage.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`["1","1","room:42","phx_join",{"user_id":"ann","name":"Ann"}]`,
		`[null,"2","phoenix","heartbeat",{}]`,
		`["1","3","room:42","new_msg",{"body":"hi"}]`,
		`["1","4","room:42","phx_leave",{}]`,
		`{"topic":"room:1","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`,
		`{"topic":"room:1","event":"new","payload":[1,"2",null],"ref":null}`,
		"\x00\x01\x01\x07\x03" + "12room:42pic" + "\x89PNG",
		`["1","1","t","e"]`, `[]`, `{}`, `null`, `"x"`, `[1,2,3,4,5]`,
		"[\"\\ud800\",\"1\",\"t\",\"e\",{}]",
		`[null,null,"t","e",{ "event" : "x\"y" , "payload" : [1,{"a":"}"}] }]`,
		`[null,null,"t","e",{"event":"a","event":"b"}]`,
	} {
		f.Add([]byte(seed), uint8(2), false)
		f.Add([]byte(seed), uint8(1), false)
		f.Add([]byte(seed), uint8(2), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, v uint8, binary bool) {
		vsn := phoenix.V2
		if v%2 == 1 {
			vsn = phoenix.V1
		}
		m, err := phoenix.Decode(vsn, data, binary)
		if err != nil {
			if !errors.Is(err, phoenix.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if m.Topic == "" || m.Event == "" || len(m.Topic) > phoenix.MaxName || len(m.Event) > phoenix.MaxName ||
			len(m.Ref) > phoenix.MaxName || len(m.JoinRef) > phoenix.MaxName || m.Binary != binary {
			t.Fatalf("decoded %+v breaks the decoder's promises", m)
		}
		if binary {
			return
		}
		again, err := phoenix.Decode(vsn, phoenix.AppendMessage(nil, vsn, m.JoinRef, m.Ref, m.Topic, m.Event, m.Payload), false)
		if err != nil || again.Topic != m.Topic || again.Event != m.Event || again.Ref != m.Ref {
			t.Fatalf("round trip of %+v: %+v %v", m, again, err)
		}
		checkFromRaw(t, m.Payload)
	})
}

// checkFromRaw compares FromRaw with a plain decoding of msg.
func checkFromRaw(t *testing.T, msg []byte) {
	ev, p, _ := phoenix.FromRaw(msg, false)
	var obj map[string]json.RawMessage
	isObj := json.Unmarshal(msg, &obj) == nil && obj != nil
	wantEv := "message"
	if isObj && len(obj) == 2 {
		var e string
		if _, ok := obj["payload"]; ok && utf8.Valid(obj["event"]) && json.Unmarshal(obj["event"], &e) == nil &&
			e != "" && len(e) <= phoenix.MaxName && !phoenix.Reserved(e) && utf8.ValidString(e) {
			wantEv = e
		}
	}
	if ev != wantEv {
		t.Fatalf("FromRaw(%q) event %q, want %q", msg, ev, wantEv)
	}
	if ev != "message" && !bytes.Equal(bytes.TrimSpace(p), bytes.TrimSpace(obj["payload"])) {
		t.Fatalf("FromRaw(%q) payload %q, want %q", msg, p, obj["payload"])
	}
}
