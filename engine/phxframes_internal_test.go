package engine

import (
	"testing"
	"unsafe"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/phoenix"
)

// TestPhoenixFramesOncePerDialect: a message reaching many members is
// encoded once per dialect and topic, whatever the number of members.
func TestPhoenixFramesOncePerDialect(t *testing.T) {
	e := New(Config{})
	sh := e.shards[0]
	msg := newMessage(codec.OpText, []byte(`{"event":"new","payload":{"a":1}}`))
	member := func(d dialect) *conn { return &conn{sh: sh, rt: &binding{phx: d}} }
	v2, v1, lp := phxDialect(phoenix.V2), phxDialect(phoenix.V1), phxDialect(phoenix.V2)|dialectLongPoll

	first := msg.frameFor(member(v2), "room:1")
	for range 100 {
		if f := msg.frameFor(member(v2), "room:1"); unsafe.SliceData(f) != unsafe.SliceData(first) {
			t.Fatal("a second V2 member got a frame of its own")
		}
	}
	if msg.frameFor(member(0), "room:1") != nil && unsafe.SliceData(msg.frameFor(member(0), "")) != unsafe.SliceData(msg.plain) {
		t.Fatal("a raw member did not get the plain frame")
	}
	for _, tc := range []struct {
		d     dialect
		topic string
		want  string
	}{
		{v2, "room:1", `[null,null,"room:1","new",{"a":1}]`},
		{v2, "room:2", `[null,null,"room:2","new",{"a":1}]`},
		{v1, "room:1", `{"topic":"room:1","event":"new","payload":{"a":1},"ref":null}`},
		{lp, "room:1", `[null,null,"room:1","new",{"a":1}]`},
	} {
		f := msg.frameFor(member(tc.d), tc.topic)
		h, n, _ := codec.ParseHeader(f)
		if got := string(f[n : n+int(h.Length)]); got != tc.want {
			t.Errorf("dialect %#x topic %s: %s, want %s", tc.d, tc.topic, got, tc.want)
		}
	}
	if n := len(msg.phx.Load().variants); n != 4 {
		t.Fatalf("%d frames made, want 4 (V2 on two topics, V1, long-poll)", n)
	}
}

// BenchmarkPhoenixFrame is what a message costs once for its Phoenix
// members: the raw payload mapped to an event (phoenix.FromRaw) and the
// frame of one dialect and topic, which every member of that dialect then
// shares (see TestPhoenixFramesOncePerDialect).
func BenchmarkPhoenixFrame(b *testing.B) {
	e := New(Config{})
	member := &conn{sh: e.shards[0], rt: &binding{phx: phxDialect(phoenix.V2)}}
	for _, tc := range []struct{ name, payload string }{
		{"kind=envelope", `{"event":"room","payload":{"t":123456789,"s":42,"p":3,"r":7}}`},
		{"kind=object", `{"type":"room","payload":{"t":123456789,"s":42,"p":3,"r":7}}`},
		{"kind=text", `hello there`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			payload := []byte(tc.payload)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				newMessage(codec.OpText, payload).frameFor(member, "room:1")
			}
		})
	}
}
