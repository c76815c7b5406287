package protocol

import (
	"encoding/json"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		path  string
		route Route
		room  string
	}{
		{"/ws/shootout", RouteShootout, ""},
		{"/ws/echo", RouteEcho, ""},
		{"/ws/room/lobby", RouteRoom, "room:lobby"},
		{"/ws/room/", RouteNotFound, ""},
		{"/ws/room/a/b", RouteNotFound, ""},
		{"/ws/presence/x", RouteNotFound, ""},
		{"/", RouteNotFound, ""},
	}
	for _, tc := range cases {
		r, room := Match(tc.path)
		if r != tc.route || room != tc.room {
			t.Errorf("Match(%q) = %v %q, want %v %q", tc.path, r, room, tc.route, tc.room)
		}
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func TestShootout(t *testing.T) {
	reply, all, err := Shootout([]byte(`{"type":"echo","payload":{"t":1,"s":2}}`))
	if err != nil || all != nil || decode(t, reply)["type"] != "echo" {
		t.Fatalf("echo: %s %s %v", reply, all, err)
	}
	reply, all, err = Shootout([]byte(`{"type":"broadcast","payload":[1,"x"]}`))
	if err != nil || decode(t, reply)["type"] != "broadcastResult" || decode(t, all)["type"] != "broadcast" {
		t.Fatalf("broadcast: %s %s %v", reply, all, err)
	}
	if p := decode(t, all)["payload"].([]any); len(p) != 2 || p[1] != "x" {
		t.Errorf("payload not kept: %s", all)
	}
	if _, _, err := Shootout([]byte(`{"type":"nope"}`)); err != ErrUnknownType {
		t.Errorf("unknown type: %v", err)
	}
	if _, _, err := Shootout([]byte(`nope`)); err == nil {
		t.Error("invalid JSON accepted")
	}
	out, err := Reencode([]byte(` {"b": 1, "a" : [true]} `))
	if err != nil || decode(t, out)["b"] != float64(1) {
		t.Errorf("Reencode: %s %v", out, err)
	}
	if _, err := Reencode([]byte(`{`)); err == nil {
		t.Error("Reencode accepted invalid JSON")
	}
	if m := decode(t, ErrorMessage(ErrUnknownType)); m["type"] != "error" || m["error"] == "" {
		t.Errorf("ErrorMessage: %v", m)
	}
}
