package phoenix_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ripple-rt/ripple/phoenix"
)

func TestParseVsn(t *testing.T) {
	for in, want := range map[string]phoenix.Vsn{"": phoenix.V1, "1.0.0": phoenix.V1, "2.0.0": phoenix.V2, "2.1": phoenix.V2} {
		if got, err := phoenix.ParseVsn(in); err != nil || got != want {
			t.Errorf("ParseVsn(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"3.0.0", "x", "0.9"} {
		if _, err := phoenix.ParseVsn(in); !errors.Is(err, phoenix.ErrVsn) {
			t.Errorf("ParseVsn(%q) = %v, want ErrVsn", in, err)
		}
	}
}

func TestDecode(t *testing.T) {
	long := string(bytes.Repeat([]byte("t"), 256))
	tests := []struct {
		name   string
		vsn    phoenix.Vsn
		in     string
		binary bool
		want   phoenix.Message
		err    bool
	}{
		{"v2 join", phoenix.V2, `["1","1","room:42","phx_join",{"user_id":"ann"}]`, false,
			phoenix.Message{JoinRef: "1", Ref: "1", Topic: "room:42", Event: "phx_join", Payload: []byte(`{"user_id":"ann"}`)}, false},
		{"v2 heartbeat null join_ref", phoenix.V2, `[null,"5","phoenix","heartbeat",{}]`, false,
			phoenix.Message{Ref: "5", Topic: "phoenix", Event: "heartbeat", Payload: []byte(`{}`)}, false},
		{"v2 extra elements", phoenix.V2, `[null,null,"t","e",1,"extra"]`, false,
			phoenix.Message{Topic: "t", Event: "e", Payload: []byte(`1`)}, false},
		{"v2 escapes", phoenix.V2, "[\"1\",\"2\",\"r\\u00f6om\",\"new\\\"msg\",\"x\"]", false,
			phoenix.Message{JoinRef: "1", Ref: "2", Topic: "röom", Event: `new"msg`, Payload: []byte(`"x"`)}, false},
		{"v2 whitespace", phoenix.V2, ` [ "1" , null , "t" , "e" , { "a" : 1 } ] `, false,
			phoenix.Message{JoinRef: "1", Topic: "t", Event: "e", Payload: []byte(`{ "a" : 1 }`)}, false},
		{"v1", phoenix.V1, `{"topic":"room:1","event":"new","payload":{"a":1},"ref":"7","join_ref":"3"}`, false,
			phoenix.Message{JoinRef: "3", Ref: "7", Topic: "room:1", Event: "new", Payload: []byte(`{"a":1}`)}, false},
		{"v1 null ref", phoenix.V1, `{"topic":"room:1","event":"new","payload":{},"ref":null}`, false,
			phoenix.Message{Topic: "room:1", Event: "new", Payload: []byte(`{}`)}, false},
		{"binary push", phoenix.V2, "\x00\x01\x01\x02\x03" + "1" + "2" + "t1" + "evt" + "\x00\xffdata", true,
			phoenix.Message{JoinRef: "1", Ref: "2", Topic: "t1", Event: "evt", Payload: []byte("\x00\xffdata"), Binary: true}, false},

		{"not json", phoenix.V2, `hello`, false, phoenix.Message{}, true},
		{"object for v2", phoenix.V2, `{"topic":"t"}`, false, phoenix.Message{}, true},
		{"short array", phoenix.V2, `["1","1","t","e"]`, false, phoenix.Message{}, true},
		{"number topic", phoenix.V2, `["1","1",42,"e",{}]`, false, phoenix.Message{}, true},
		{"empty topic", phoenix.V2, `["1","1","","e",{}]`, false, phoenix.Message{}, true},
		{"null event", phoenix.V2, `["1","1","t",null,{}]`, false, phoenix.Message{}, true},
		{"number ref", phoenix.V2, `[1,"1","t","e",{}]`, false, phoenix.Message{}, true},
		{"object ref", phoenix.V2, `["1",{},"t","e",{}]`, false, phoenix.Message{}, true},
		{"long topic", phoenix.V2, `["1","1","` + long + `","e",{}]`, false, phoenix.Message{}, true},
		{"truncated", phoenix.V2, `["1","1","t","e",{"a":`, false, phoenix.Message{}, true},
		{"array for v1", phoenix.V1, `["1","1","t","e",{}]`, false, phoenix.Message{}, true},
		{"v1 no payload", phoenix.V1, `{"topic":"t","event":"e","ref":"1"}`, false, phoenix.Message{}, true},
		{"binary v1", phoenix.V1, "\x00\x00\x00\x01\x01te", true, phoenix.Message{}, true},
		{"binary short header", phoenix.V2, "\x00\x01", true, phoenix.Message{}, true},
		{"binary sizes past end", phoenix.V2, "\x00\x09\x01\x01\x01ab", true, phoenix.Message{}, true},
		{"binary reply kind", phoenix.V2, "\x01\x00\x00\x01\x01te", true, phoenix.Message{}, true},
		{"binary empty topic", phoenix.V2, "\x00\x00\x00\x00\x01e", true, phoenix.Message{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phoenix.Decode(tt.vsn, []byte(tt.in), tt.binary)
			if tt.err {
				if !errors.Is(err, phoenix.ErrMalformed) {
					t.Fatalf("Decode = %+v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.JoinRef != tt.want.JoinRef || got.Ref != tt.want.Ref || got.Topic != tt.want.Topic ||
				got.Event != tt.want.Event || !bytes.Equal(got.Payload, tt.want.Payload) || got.Binary != tt.want.Binary {
				t.Fatalf("Decode = %+v (payload %q), want %+v (payload %q)", got, got.Payload, tt.want, tt.want.Payload)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"v2 broadcast", phoenix.AppendMessage(nil, phoenix.V2, "", "", "room:1", "new", []byte(`{"a":1}`)),
			`[null,null,"room:1","new",{"a":1}]`},
		{"v2 push", phoenix.AppendMessage(nil, phoenix.V2, "3", "", "room:1", "new", nil),
			`["3",null,"room:1","new",{}]`},
		{"v1 broadcast", phoenix.AppendMessage(nil, phoenix.V1, "3", "", "room:1", "new", []byte(`[1]`)),
			`{"topic":"room:1","event":"new","payload":[1],"ref":null}`},
		{"v2 reply", phoenix.AppendReply(nil, phoenix.V2, "1", "2", "room:1", "ok", nil),
			`["1","2","room:1","phx_reply",{"status":"ok","response":{}}]`},
		{"v1 reply", phoenix.AppendReply(nil, phoenix.V1, "1", "2", "room:1", "error", []byte(`{"reason":"x"}`)),
			`{"topic":"room:1","event":"phx_reply","payload":{"status":"error","response":{"reason":"x"}},"ref":"2"}`},
		{"escaped topic", phoenix.AppendMessage(nil, phoenix.V2, "", "", "a\"b\n", "é", nil),
			`[null,null,"a\"b\n","é",{}]`},
		{"invalid utf8", phoenix.AppendString(nil, "a\xffb"), `"a` + "\uFFFD" + `b"`},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestAppendBinary(t *testing.T) {
	b, err := phoenix.AppendBinaryBroadcast(nil, "room:1", "pic", []byte{0, 1, 2})
	if err != nil || string(b) != "\x02\x06\x03room:1pic\x00\x01\x02" {
		t.Fatalf("broadcast %q %v", b, err)
	}
	b, err = phoenix.AppendBinaryPush(nil, "12", "t", "ev", []byte("x"))
	if err != nil || string(b) != "\x00\x02\x01\x0212tevx" {
		t.Fatalf("push %q %v", b, err)
	}
	b, err = phoenix.AppendBinaryReply(nil, "1", "2", "t", "ok", []byte("y"))
	if err != nil || string(b) != "\x01\x01\x01\x01\x0212tok"+"y" {
		t.Fatalf("reply %q %v", b, err)
	}
	long := string(bytes.Repeat([]byte("x"), 256))
	if _, err := phoenix.AppendBinaryBroadcast(nil, long, "e", nil); !errors.Is(err, phoenix.ErrTooLong) {
		t.Fatalf("long topic: %v", err)
	}
}

// TestRoundTrip: what the client side of a test encodes, Decode reads back.
func TestRoundTrip(t *testing.T) {
	for _, vsn := range []phoenix.Vsn{phoenix.V1, phoenix.V2} {
		in := phoenix.AppendMessage(nil, vsn, "", "9", "room:\"x\"", "ev", []byte(`{"k":[1,2]}`))
		m, err := phoenix.Decode(vsn, in, false)
		if err != nil || m.Ref != "9" || m.Topic != `room:"x"` || m.Event != "ev" || string(m.Payload) != `{"k":[1,2]}` {
			t.Errorf("vsn %v: %+v %v", vsn, m, err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	msg := []byte(`["3","17","room:lobby","new_msg",{"body":"hello there","user_id":"ann","t":1234567}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := phoenix.Decode(phoenix.V2, msg, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	payload := []byte(`{"body":"hello there","user_id":"ann","t":1234567}`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = phoenix.AppendMessage(buf[:0], phoenix.V2, "", "", "room:lobby", "new_msg", payload)
	}
}
