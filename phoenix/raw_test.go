package phoenix_test

import (
	"testing"

	"github.com/ripple-rt/ripple/phoenix"
)

func TestFromRaw(t *testing.T) {
	tests := []struct {
		in      string
		binary  bool
		event   string
		payload string
	}{
		{`{"event":"new_msg","payload":{"body":"hi"}}`, false, "new_msg", `{"body":"hi"}`},
		{`{"payload":[1,2],"event":"x"}`, false, "x", `[1,2]`},
		{`{"event":"presence_diff","payload":{"joins":{},"leaves":{}}}`, false, "presence_diff", `{"joins":{},"leaves":{}}`},
		{`{"event":"e","payload":null}`, false, "e", `null`},
		{` { "event" : "x\"y" , "payload" : [1,{"a":"}"}] } `, false, `x"y`, `[1,{"a":"}"}]`},
		{`{"event":"a","event":"b"}`, false, "message", `{"event":"a","event":"b"}`},
		{`{"payload":{"event":"inner","payload":1},"event":"outer"}`, false, "outer", `{"event":"inner","payload":1}`},
		// Not an envelope: another key, a non-string event, an empty event.
		{`{"event":"e","payload":{},"user_id":"u"}`, false, "message", `{"event":"e","payload":{},"user_id":"u"}`},
		{`{"event":1,"payload":{}}`, false, "message", `{"event":1,"payload":{}}`},
		{`{"event":"","payload":{}}`, false, "message", `{"event":"","payload":{}}`},
		{`{"type":"chat","text":"hi"}`, false, "message", `{"type":"chat","text":"hi"}`},
		// Reserved events from raw members never reach a channel as such.
		{`{"event":"phx_close","payload":{}}`, false, "message", `{"event":"phx_close","payload":{}}`},
		{`{"event":"phx_reply","payload":{"status":"ok"}}`, false, "message", `{"event":"phx_reply","payload":{"status":"ok"}}`},
		// Anything else is a body.
		{`hello "world"`, false, "message", `{"body":"hello \"world\""}`},
		{`[1,2]`, false, "message", `{"body":"[1,2]"}`},
		{`42`, false, "message", `{"body":"42"}`},
		{`{"broken":`, false, "message", `{"body":"{\"broken\":"}`},
		{``, false, "message", `{"body":""}`},
		{"\x00\x01", true, "message", "\x00\x01"},
	}
	for _, tt := range tests {
		ev, p, bin := phoenix.FromRaw([]byte(tt.in), tt.binary)
		if ev != tt.event || string(p) != tt.payload || bin != tt.binary {
			t.Errorf("FromRaw(%q) = %q %s %v, want %q %s", tt.in, ev, p, bin, tt.event, tt.payload)
		}
	}
}

// TestEnvelopeRoundTrip: a Phoenix broadcast reaches raw members as an
// envelope and Phoenix members (through FromRaw) as itself.
func TestEnvelopeRoundTrip(t *testing.T) {
	raw := phoenix.Envelope(nil, "new_msg", []byte(`{"body":"hi"}`))
	if string(raw) != `{"event":"new_msg","payload":{"body":"hi"}}` {
		t.Fatalf("Envelope = %s", raw)
	}
	ev, p, _ := phoenix.FromRaw(raw, false)
	if ev != "new_msg" || string(p) != `{"body":"hi"}` {
		t.Fatalf("FromRaw(Envelope) = %q %s", ev, p)
	}
	if got := string(phoenix.BinaryBody([]byte{0xff, 0})); got != `{"body":"/wA=","encoding":"base64"}` {
		t.Fatalf("BinaryBody = %s", got)
	}
}

func BenchmarkFromRaw(b *testing.B) {
	for _, tc := range []struct{ name, msg string }{
		{"kind=envelope", `{"event":"room","payload":{"t":123456789,"s":42,"p":3,"r":7}}`},
		{"kind=object", `{"type":"room","payload":{"t":123456789,"s":42,"p":3,"r":7}}`},
		{"kind=text", `hello there, general kenobi`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			msg := []byte(tc.msg)
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				phoenix.FromRaw(msg, false)
			}
		})
	}
}
