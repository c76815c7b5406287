//go:build linux

package dialect

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseRoute(t *testing.T) {
	cases := []struct {
		in   string
		want route
	}{
		{"/ws/echo", route{kind: routePlain}},
		{"/ws/shootout", route{kind: routeEcho}},
		{"/ws/room/r12", route{kind: routeRoom, room: "r12"}},
		{"/ws/room/Lx1-3", route{kind: routeRoom, room: "Lx1-3"}},
		{"/ws/presence/p4?name=u1&user_id=u1", route{kind: routePresence, room: "p4", user: "u1"}},
	}
	for _, tc := range cases {
		if got := parseRoute(tc.in); got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestPaths(t *testing.T) {
	cases := []struct {
		dialect, route, want string
	}{
		{Bench, "/ws/room/r1", "/ws/room/r1"},
		{Centrifuge, "/ws/echo", "/connection/websocket"},
		{Centrifuge, "/ws/shootout", "/connection/websocket?bench=echo"},
		{Centrifuge, "/ws/room/r1", "/connection/websocket?bench=room&ch=room%3Ar1"},
		{Centrifuge, "/ws/presence/p2?user_id=u+1&name=u+1", "/connection/websocket?bench=presence&ch=presence%3Ap2&user=u+1"},
		{SocketIO, "/ws/echo", "/socket.io/?EIO=4&transport=websocket"},
		{SocketIO, "/ws/shootout", "/socket.io/?EIO=4&transport=websocket"},
		{SocketIO, "/ws/room/r1", "/socket.io/?EIO=4&transport=websocket&room=r1"},
	}
	for _, tc := range cases {
		cl, err := New(tc.dialect, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.Path(tc.route); got != tc.want {
			t.Errorf("%s Path(%q) = %q, want %q", tc.dialect, tc.route, got, tc.want)
		}
	}
	if _, err := New("nope", nil); !errors.Is(err, ErrUnknown) {
		t.Errorf("New(nope): %v", err)
	}
}

func TestSupports(t *testing.T) {
	cases := []struct {
		dialect string
		f       Feature
		ok      bool
	}{
		{Bench, Presence, true}, {Bench, Frames, true}, {Bench, ShootoutBroadcast, true},
		{Centrifuge, Presence, true}, {Centrifuge, ShootoutBroadcast, false}, {Centrifuge, Frames, false},
		{SocketIO, Presence, false}, {SocketIO, ShootoutBroadcast, false}, {SocketIO, Frames, false},
	}
	for _, tc := range cases {
		err := Supports(tc.dialect, tc.f)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrUnsupported)) {
			t.Errorf("Supports(%s, %d) = %v, want ok=%v", tc.dialect, tc.f, err, tc.ok)
		}
	}
	if err := Supports("nope", Presence); !errors.Is(err, ErrUnknown) {
		t.Errorf("Supports(nope): %v", err)
	}
}

func TestParseCentrifuge(t *testing.T) {
	cases := []struct {
		line                     string
		id                       uint32
		reply, result, err, push string
		ping, ok                 bool
	}{
		{line: `{}`, ping: true, ok: true},
		{line: `{"id":1,"connect":{"client":"c1","version":"0.0.0","ping":25,"pong":true}}`, id: 1, reply: "connect",
			result: `{"client":"c1","version":"0.0.0","ping":25,"pong":true}`, ok: true},
		{line: `{"id":7,"error":{"code":108,"message":"not available"}}`, id: 7, err: `{"code":108,"message":"not available"}`, ok: true},
		{line: `{"push":{"channel":"room:r1","pub":{"data":{"type":"room"}}}}`, push: `{"channel":"room:r1","pub":{"data":{"type":"room"}}}`, ok: true},
		{line: `{"id":3,"publish":{}}`, id: 3, reply: "publish", result: `{}`, ok: true},
		{line: `{"id":`, ok: false},
	}
	for _, tc := range cases {
		m, ok := parseCentrifuge([]byte(tc.line))
		if ok != tc.ok || m.id != tc.id || string(m.reply) != tc.reply || string(m.result) != tc.result ||
			string(m.err) != tc.err || string(m.push) != tc.push || m.ping != tc.ping {
			t.Errorf("parseCentrifuge(%s) = %+v, %v", tc.line, m, ok)
		}
	}
}

// The synthesized presence events are the JSON the presence driver reads.
func TestPresenceEvents(t *testing.T) {
	type event struct {
		Event   string                                `json:"event"`
		Payload map[string]map[string]json.RawMessage `json:"payload"`
	}
	var st event
	b := presenceEvent(nil, "presence_state", []byte(`{"presence":{"c1":{"user":"u1","client":"c1"},"c2":{"user":"u2","client":"c2"}}}`))
	if err := json.Unmarshal(b, &st); err != nil || st.Event != "presence_state" || len(st.Payload) != 2 || st.Payload["u1"] == nil {
		t.Fatalf("%s: %+v %v", b, st, err)
	}
	b = presenceEvent(nil, "presence_list", []byte(`{"presence":{}}`))
	st = event{}
	if err := json.Unmarshal(b, &st); err != nil || len(st.Payload) != 0 {
		t.Fatalf("%s: %+v %v", b, st, err)
	}
	type diffEvent struct {
		Event   string `json:"event"`
		Payload struct {
			Joins, Leaves map[string]json.RawMessage
		} `json:"payload"`
	}
	for _, join := range []bool{true, false} {
		var diff diffEvent
		b := presenceDiff(nil, []byte("u9"), join)
		if err := json.Unmarshal(b, &diff); err != nil || diff.Event != "presence_diff" ||
			(diff.Payload.Joins["u9"] != nil) != join || (diff.Payload.Leaves["u9"] != nil) == join {
			t.Fatalf("%s: %+v %v", b, diff, err)
		}
	}
	if got := string(field([]byte(`{"user":"u\"1","client":"c"}`), "user")); got != `u\"1` {
		t.Errorf("field = %q", got)
	}
}

func TestParseSocketIO(t *testing.T) {
	cases := []struct {
		in   string
		kind int
		data string
	}{
		{`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, sioOpen, ""},
		{"2", sioPing, ""},
		{"6", sioNoop, ""},
		{`40{"sid":"y"}`, sioConnect, ""},
		{`44{"message":"no"}`, sioConnectError, ""},
		{"41", sioDisconnect, ""},
		{`42["room",{"type":"room","payload":{"t":1,"s":2}}]`, sioEvent, `{"type":"room","payload":{"t":1,"s":2}}`},
		{`42["echo"]`, sioOther, ""},
		{`42["echo",{]`, sioOther, ""},
		{"", sioOther, ""},
		{"x", sioOther, ""},
	}
	for _, tc := range cases {
		pk := parseSocketIO([]byte(tc.in))
		if pk.kind != tc.kind || string(pk.data) != tc.data {
			t.Errorf("parseSocketIO(%q) = %d %q, want %d %q", tc.in, pk.kind, pk.data, tc.kind, tc.data)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"push":{"channel":"presence:p1","join":{"info":{"user":"u","client":"c"}}}}`))
	f.Add([]byte(`{"id":3,"presence":{"presence":{"c":{"user":"u","client":"c"}}}}`))
	f.Add([]byte(`42["room",{"type":"room","payload":{"t":1}}]`))
	f.Add([]byte(`0{"sid":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, ok := parseCentrifuge(b); ok && m.push != nil {
			field(field(m.push, "join"), "info")
			presenceEvent(nil, "presence_state", m.result)
		}
		if pk := parseSocketIO(b); pk.kind == sioEvent && len(pk.data) == 0 {
			t.Fatalf("event without data: %q", b)
		}
	})
}

// The per-message path of both dialects: a publication push and an event.
func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name string
		msg  []byte
		f    func([]byte) int
	}{
		{"dialect=centrifuge/push=pub", []byte(`{"push":{"channel":"room:r1","pub":{"data":{"type":"room","payload":{"t":123456789,"s":42,"p":3,"r":3}},"info":{"user":"","client":"9c57639c-dffd-4199-8161-3c8998371d15"}}}}`),
			func(p []byte) int {
				m, _ := parseCentrifuge(p)
				return len(field(field(m.push, "pub"), "data"))
			}},
		{"dialect=socketio/event=room", []byte(`42["room",{"type":"room","payload":{"t":123456789,"s":42,"p":3,"r":3}}]`),
			func(p []byte) int { return len(parseSocketIO(p).data) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.msg)))
			for b.Loop() {
				if tc.f(tc.msg) == 0 {
					b.Fatal("no data")
				}
			}
		})
	}
}
