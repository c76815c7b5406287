package benchmsg

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/bytedance/sonic"
)

func TestScan(t *testing.T) {
	cases := []struct {
		name string
		in   string
		kind string
		m    Msg
		ok   bool
	}{
		{"plain", `{"type":"echo","payload":{"t":123,"s":4,"p":5,"r":6}}`, "echo", Msg{123, 4, 5, 6}, true},
		{"reordered", `{"payload":{"s":4,"t":123},"type":"broadcast"}`, "broadcast", Msg{123, 4, -1, -1}, true},
		{"whitespace", " {\n \"type\" : \"room\" ,\t\"payload\" : { \"t\" : 7 } } ", "room", Msg{7, -1, -1, -1}, true},
		{"float", `{"type":"room","payload":{"t":1.234567e9,"s":2.0}}`, "room", Msg{1234567000, 2, -1, -1}, true},
		{"negative", `{"type":"x","payload":{"t":-5}}`, "x", Msg{-5, -1, -1, -1}, true},
		{"extra fields", `{"a":[1,{"b":null}],"type":"echo","payload":{"x":"p\"ad","t":1,"n":{"t":9}},"z":true}`, "echo", Msg{1, -1, -1, -1}, true},
		{"payload not object", `{"type":"echo","payload":[1,2]}`, "echo", Msg{-1, -1, -1, -1}, true},
		{"error reply", `{"type":"error","error":"invalid JSON"}`, "error", Msg{-1, -1, -1, -1}, true},
		{"empty object", `{}`, "", Msg{-1, -1, -1, -1}, true},
		{"not json", `hello`, "", Msg{}, false},
		{"truncated", `{"type":"echo","payload":{"t":1`, "", Msg{}, false},
		{"trailing", `{"type":"echo"} x`, "", Msg{}, false},
		{"bad number", `{"type":"echo","payload":{"t":1e}}`, "", Msg{}, false},
		{"array", `[1]`, "", Msg{}, false},
	}
	for _, tc := range cases {
		t.Run("msg="+tc.name, func(t *testing.T) {
			kind, m, ok := Scan([]byte(tc.in))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if string(kind) != tc.kind || m != tc.m {
				t.Errorf("got %q %+v, want %q %+v", kind, m, tc.kind, tc.m)
			}
		})
	}
}

// Servers decode into `any` and encode again (floats, sorted keys): the fields
// must survive exactly as long as t stays below 2^53.
func TestRoundTripThroughReencoding(t *testing.T) {
	in := Msg{T: 1<<53 - 1, S: 123456, P: 9, R: 1000}
	b := Append(nil, "room", in, 16)
	var v any
	if err := sonic.ConfigDefault.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for name, enc := range map[string]func(any) ([]byte, error){
		"sonic": sonic.ConfigDefault.Marshal, "encoding/json": json.Marshal,
	} {
		out, err := enc(v)
		if err != nil {
			t.Fatal(err)
		}
		kind, m, ok := Scan(out)
		if !ok || string(kind) != "room" || m != in {
			t.Errorf("%s: %s → %q %+v ok=%v", name, out, kind, m, ok)
		}
	}
}

func TestPhoenix(t *testing.T) {
	b := AppendPhoenix(nil, "1", "7", "room:bench", "room", Msg{T: 5, S: 6, P: 7, R: -1}, 3)
	if string(b) != `["1","7","room:bench","room",{"t":5,"s":6,"p":7,"x":"xxx"}]` {
		t.Fatalf("AppendPhoenix = %s", b)
	}
	cases := []struct {
		name, in, ref, topic, event string
		m                           Msg
		ok                          bool
	}{
		{"push", string(b), "7", "room:bench", "room", Msg{5, 6, 7, -1}, true},
		{"broadcast", ` [null, null, "room:r3", "room", {"r":3,"t":1.5e3}] `, "", "room:r3", "room", Msg{1500, -1, -1, 3}, true},
		{"reply", `["1","9","room:1","phx_reply",{"status":"ok","response":{}}]`, "9", "room:1", "phx_reply", Msg{-1, -1, -1, -1}, true},
		{"string payload", `[null,null,"t","e","x"]`, "", "t", "e", Msg{-1, -1, -1, -1}, true},
		{"null topic", `[null,null,null,"e",{}]`, "", "", "", Msg{}, false},
		{"short", `["1","1","t","e"]`, "", "", "", Msg{}, false},
		{"long", `["1","1","t","e",{},1]`, "", "", "", Msg{}, false},
		{"object", `{"type":"room"}`, "", "", "", Msg{}, false},
	}
	for _, tc := range cases {
		ref, topic, event, m, ok := ScanPhoenix([]byte(tc.in))
		if ok != tc.ok || ok && (string(ref) != tc.ref || string(topic) != tc.topic || string(event) != tc.event || m != tc.m) {
			t.Errorf("%s: %q %q %q %+v %v", tc.name, ref, topic, event, m, ok)
		}
	}
}

func TestPosition(t *testing.T) {
	cases := []struct {
		in, epoch string
		offset    int64
		ok        bool
	}{
		{"k3f9:42", "k3f9", 42, true},
		{"a:b:0", "a:b", 0, true},
		{":7", "", 7, true},
		{"e:999999999999999999", "e", 999999999999999999, true},
		{"e:9999999999999999999", "", 0, false},
		{"e:", "", 0, false},
		{"e:-1", "", 0, false},
		{"e:1.5", "", 0, false},
		{"42", "", 0, false},
		{"", "", 0, false},
	}
	for _, tc := range cases {
		epoch, off, ok := Position([]byte(tc.in))
		if ok != tc.ok || ok && (string(epoch) != tc.epoch || off != tc.offset) {
			t.Errorf("Position(%q) = %q %d %v", tc.in, epoch, off, ok)
		}
	}
	ref, _, _, m, ok := ScanPhoenix([]byte(`[null,"k3f9:42","room:rec1","msg",{"t":1,"s":41,"p":1,"r":1,"user_id":"u"}]`))
	if epoch, off, pok := Position(ref); !ok || !pok || string(epoch) != "k3f9" || off != 42 || m.S != 41 {
		t.Errorf("publication: ref %q, %+v", ref, m)
	}
	if n := testing.AllocsPerRun(100, func() { Position([]byte("k3f9:42")) }); n != 0 {
		t.Errorf("Position allocates %.0f times", n)
	}
}

func TestFields(t *testing.T) {
	cases := []struct {
		in   string
		want []string // key=value
		ok   bool
	}{
		{`{}`, nil, true},
		{` {"a" : 1, "b":{"c":[1,"x]"]} ,"d\"e":"f"} `, []string{`a=1`, `b={"c":[1,"x]"]}`, `d\"e="f"`}, true},
		{`{"push":{"channel":"room:r1","pub":{"data":{"type":"room"}}}}`, []string{`push={"channel":"room:r1","pub":{"data":{"type":"room"}}}`}, true},
		{`{"a":1,}`, []string{"a=1"}, false},
		{`{"a":1} x`, []string{"a=1"}, false},
		{`[1]`, nil, false},
		{`{"a":tru}`, nil, false},
	}
	for _, tc := range cases {
		var got []string
		ok := Fields([]byte(tc.in), func(k, v []byte) bool {
			got = append(got, string(k)+"="+string(v))
			return true
		})
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("Fields(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	n := 0
	if !Fields([]byte(`{"a":1,"b":2}`), func(k, v []byte) bool { n++; return false }) || n != 1 {
		t.Errorf("Fields did not stop after f returned false: %d calls", n)
	}
}

func TestElements(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{`["room",{"type":"room","payload":{"t":1}}]`, []string{`"room"`, `{"type":"room","payload":{"t":1}}`}, true},
		{` [ 1 , [2] , null ] `, []string{"1", "[2]", "null"}, true},
		{`[1,]`, []string{"1"}, false},
		{`{}`, nil, false},
	}
	for _, tc := range cases {
		var got []string
		ok := Elements([]byte(tc.in), func(v []byte) bool {
			got = append(got, string(v))
			return true
		})
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("Elements(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"type":"echo","payload":{"t":1,"s":2,"p":3,"r":4}}`))
	f.Add([]byte(`{"payload":{"s":4,"t":1.5e3},"type":"broadcast"}`))
	f.Add([]byte(`{"type":"error","error":"x\"y"}`))
	f.Add([]byte(`{"a":[[[[{}]]]],"type":"t"}`))
	f.Add([]byte(`{"type":"echo","payload":{"t":99999999999999999999999}}`))
	f.Add([]byte(`["1","7","room:bench","room",{"t":5,"s":6}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, topic, _, _, ok := ScanPhoenix(b); ok && !bytes.Contains(b, topic) {
			t.Fatalf("topic %q not in %q", topic, b)
		}
		// Fields and Elements never panic, and what they hand out lies in b.
		Fields(b, func(k, v []byte) bool {
			if !bytes.Contains(b, k) || !bytes.Contains(b, v) {
				t.Fatalf("member %q=%q not in %q", k, v, b)
			}
			return true
		})
		Elements(b, func(v []byte) bool {
			if !bytes.Contains(b, v) {
				t.Fatalf("element %q not in %q", v, b)
			}
			return true
		})
		kind, _, ok := Scan(b)
		if !ok {
			return
		}
		// Whatever Scan accepts is an object, and kind lies inside b.
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("accepted %q", b)
		}
		if len(kind) > 0 && !bytes.Contains(b, kind) {
			t.Fatalf("kind %q not in %q", kind, b)
		}
	})
}

func BenchmarkScan(b *testing.B) {
	msg := Append(nil, "broadcast", Msg{T: 123456789, S: 42, P: 3, R: -1}, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		Scan(msg)
	}
}
