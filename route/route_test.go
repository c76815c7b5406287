package route_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ripple-rt/ripple/route"
)

func TestMatch(t *testing.T) {
	var tb route.Table[string]
	for _, p := range []string{"/ws/chat", "/ws/room/:room_id", "/ws/room/admin", "/ws/a/:x/b/:y", "/ws/echo"} {
		if err := tb.Add(p, p); err != nil {
			t.Fatalf("Add(%q): %v", p, err)
		}
	}
	tests := []struct {
		path   string
		want   string
		params route.Params
		ok     bool
	}{
		{"/ws/chat", "/ws/chat", nil, true},
		{"/ws/room/lobby", "/ws/room/:room_id", route.Params{{"room_id", "lobby"}}, true},
		{"/ws/room/admin", "/ws/room/admin", nil, true},
		{"/ws/a/1/b/2", "/ws/a/:x/b/:y", route.Params{{"x", "1"}, {"y", "2"}}, true},
		{"/ws/room/", "", nil, false},
		{"/ws/room", "", nil, false},
		{"/ws/room/x/y", "", nil, false},
		{"/ws/chat/", "", nil, false},
		{"/nope", "", nil, false},
		{"", "", nil, false},
		{"ws/chat", "", nil, false},
	}
	for _, tt := range tests {
		got, params, ok := tb.Match(tt.path)
		if ok != tt.ok || got != tt.want || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("Match(%q) = %q %v %v, want %q %v %v", tt.path, got, params, ok, tt.want, tt.params, tt.ok)
		}
	}
	if got := (route.Params{{"a", "1"}}).Get("a"); got != "1" {
		t.Errorf("Get = %q", got)
	}
}

func TestAddErrors(t *testing.T) {
	var tb route.Table[int]
	for _, p := range []string{"", "/", "x/y", "/a//b", "/a/:"} {
		if err := tb.Add(p, 1); !errors.Is(err, route.ErrBadPattern) {
			t.Errorf("Add(%q) = %v, want ErrBadPattern", p, err)
		}
	}
	if err := tb.Add("/a/:x", 1); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add("/a/:y/z", 1); !errors.Is(err, route.ErrBadPattern) {
		t.Errorf("conflicting param name: %v", err)
	}
	if err := tb.Add("/a/:x", 2); !errors.Is(err, route.ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
}

func BenchmarkMatch(b *testing.B) {
	var tb route.Table[int]
	_ = tb.Add("/ws/room/:room_id", 1)
	b.ReportAllocs()
	for b.Loop() {
		tb.Match("/ws/room/lobby")
	}
}
