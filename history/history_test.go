package history_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/history"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		in   string
		want string // Rule.String, or "" for ErrBadRule
	}{
		{"room:*=100,5m", "room:*=100,5m0s"},
		{"room:*=7", "room:*=7,5m0s"},
		{"room:*", "room:*=100,5m0s"},
		{"news=3,1s", "news=3,1s"},
		{"", ""},
		{"=100,5m", ""},
		{"a*b=1,1s", ""},
		{"room:*=0,5m", ""},
		{"room:*=x,5m", ""},
		{"room:*=10,-1s", ""},
		{"room:*=10,soon", ""},
	}
	for _, tc := range tests {
		r, err := history.ParseRule(tc.in)
		if tc.want == "" {
			if !errors.Is(err, history.ErrBadRule) {
				t.Errorf("ParseRule(%q) = %v, %v; want ErrBadRule", tc.in, r, err)
			}
			continue
		}
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseRule(%q) = %q, %v; want %q", tc.in, r, err, tc.want)
		}
	}
}

func TestRulesMatch(t *testing.T) {
	rs := history.Rules{
		{Pattern: "room:lobby", Options: history.Options{Size: 1}},
		{Pattern: "room:*", Options: history.Options{Size: 2}},
	}
	tests := []struct {
		channel string
		size    int
		ok      bool
	}{
		{"room:lobby", 1, true},
		{"room:42", 2, true},
		{"room:", 2, true},
		{"rooms", 0, false},
		{"chat", 0, false},
	}
	for _, tc := range tests {
		o, ok := rs.Match(tc.channel)
		if ok != tc.ok || o.Size != tc.size {
			t.Errorf("Match(%q) = %v %v, want size %d %v", tc.channel, o, ok, tc.size, tc.ok)
		}
	}
	if _, ok := history.Rules(nil).Match("room:1"); ok {
		t.Error("the zero Rules match")
	}
}

func TestPosition(t *testing.T) {
	p := history.Position{Epoch: "ab12-3", Offset: 42}
	if s := p.String(); s != "ab12-3:42" || string(p.AppendText([]byte("x"))) != "xab12-3:42" {
		t.Fatalf("text form %q", s)
	}
	if q, err := history.ParsePosition("ab12-3:42"); err != nil || q != p {
		t.Fatalf("ParsePosition = %v, %v", q, err)
	}
	for _, bad := range []string{"", "42", ":42", "e:", "e:-1", "e:x"} {
		if _, err := history.ParsePosition(bad); !errors.Is(err, history.ErrBadPosition) {
			t.Errorf("ParsePosition(%q) = %v, want ErrBadPosition", bad, err)
		}
	}
}

// TestMemorySweep: a channel idle past its TTL gives its memory back, and
// comes back with a new epoch.
func TestMemorySweep(t *testing.T) {
	now := time.Unix(1000, 0)
	var got []history.Position
	m := history.NewMemory(history.MemoryConfig{Now: func() time.Time { return now }},
		history.SinkFunc(func(_ string, pos history.Position, _ bool, _ []byte) { got = append(got, pos) }))
	o := history.Options{Size: 10, TTL: time.Minute}
	m.Publish("a", o, false, []byte(strings.Repeat("x", 100)))
	m.Publish("a", o, false, []byte(strings.Repeat("x", 100)))
	m.Publish("b", o, false, []byte("y"))
	if s := m.Stats(); s != (history.MemoryStats{Channels: 2, Publications: 3, Bytes: 201 + 3*48}) {
		t.Fatalf("stats %+v", s)
	}
	now = now.Add(30 * time.Second)
	m.Publish("b", o, false, []byte("z"))
	now = now.Add(31 * time.Second)
	m.Sweep()
	// a: idle for 61 s, everything expired: forgotten. b: its last
	// publication is 31 s old.
	if s := m.Stats(); s != (history.MemoryStats{Channels: 1, Publications: 1, Bytes: 1 + 48}) {
		t.Fatalf("after the sweep: %+v", s)
	}
	m.Publish("a", o, false, []byte("again"))
	if last := got[len(got)-1]; last.Offset != 1 || last.Epoch == got[0].Epoch {
		t.Fatalf("a forgotten channel restarts at offset 1 in a new epoch: %v after %v", last, got[0])
	}
}
