package route_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ripple-rt/ripple/route"
)

func TestTopicMatch(t *testing.T) {
	var tb route.Topics[string]
	for _, p := range []string{"room::room_id", "room:lobby", "game::id:moves", "echo:*", "user:*name", "lobby", "a::x:b::y"} {
		if err := tb.Add(p, p); err != nil {
			t.Fatalf("Add(%q): %v", p, err)
		}
	}
	tests := []struct {
		topic  string
		want   string
		params route.Params
		ok     bool
	}{
		{"room:42", "room::room_id", route.Params{{"room_id", "42"}}, true},
		{"room:lobby", "room:lobby", nil, true},
		{"room:", "", nil, false},
		{"room", "", nil, false},
		{"room:1:2", "", nil, false},
		{"game:7:moves", "game::id:moves", route.Params{{"id", "7"}}, true},
		{"game:7", "", nil, false},
		{"echo:a", "echo:*", nil, true},
		{"echo:a:b:c", "echo:*", nil, true},
		{"echo:", "", nil, false},
		{"user:ann:phone", "user:*name", route.Params{{"name", "ann:phone"}}, true},
		{"lobby", "lobby", nil, true},
		{"lobby:x", "", nil, false},
		{"a:1:b:2", "a::x:b::y", route.Params{{"x", "1"}, {"y", "2"}}, true},
		{"", "", nil, false},
		{"nope", "", nil, false},
	}
	for _, tt := range tests {
		got, params, ok := tb.Match(tt.topic)
		if ok != tt.ok || got != tt.want || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("Match(%q) = %q %v %v, want %q %v %v", tt.topic, got, params, ok, tt.want, tt.params, tt.ok)
		}
	}
}

// TestTopicPrecedence: a literal beats a param, a param beats the rest.
func TestTopicPrecedence(t *testing.T) {
	var tb route.Topics[string]
	for _, p := range []string{"room:*", "room::id", "room:admin"} {
		if err := tb.Add(p, p); err != nil {
			t.Fatal(err)
		}
	}
	for topic, want := range map[string]string{"room:admin": "room:admin", "room:7": "room::id", "room:7:x": "room:*"} {
		if got, _, _ := tb.Match(topic); got != want {
			t.Errorf("Match(%q) = %q, want %q", topic, got, want)
		}
	}
}

func TestTopicAddErrors(t *testing.T) {
	var tb route.Topics[int]
	for _, p := range []string{"", ":", "room:", "room::", "a::b::", "*:a", "a:*:b", "a:b*", "a::x*", "room:**", "a:::b"} {
		if err := tb.Add(p, 1); !errors.Is(err, route.ErrBadTopic) {
			t.Errorf("Add(%q) = %v, want ErrBadTopic", p, err)
		}
		if route.ValidTopic(p) {
			t.Errorf("ValidTopic(%q) = true", p)
		}
	}
	if err := tb.Add("a::x", 1); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add("a::y:z", 1); !errors.Is(err, route.ErrBadTopic) {
		t.Errorf("conflicting param name: %v", err)
	}
	if err := tb.Add("a::x", 2); !errors.Is(err, route.ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
}

func BenchmarkTopicMatch(b *testing.B) {
	var tb route.Topics[int]
	_ = tb.Add("room::room_id", 1)
	b.ReportAllocs()
	for b.Loop() {
		tb.Match("room:lobby")
	}
}
