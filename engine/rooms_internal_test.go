package engine

import (
	"maps"
	"slices"
	"testing"
)

// TestSharedChans: the members whose one channel is the same share its
// list (shard.only); joining a second channel or leaving gives a member
// its own, and the shared list never changes.
func TestSharedChans(t *testing.T) {
	e := New(Config{Loops: 1})
	sh := e.shards[0]
	a := &conn{sh: sh, uid: newConnID()}
	b := &conn{sh: sh, uid: newConnID()}
	e.conns.add(a)
	e.conns.add(b)
	steps := []struct {
		name       string
		do         func() error
		a, b       []string // channels after the step
		aShr, bShr bool     // shares its list after the step
		only       []string // channels of shard.only
	}{
		{"a joins r", func() error { return e.join(a, "r") }, []string{"r"}, nil, true, false, []string{"r"}},
		{"b joins r", func() error { return e.join(b, "r") }, []string{"r"}, []string{"r"}, true, true, []string{"r"}},
		{"b joins r again", func() error { return e.join(b, "r") }, []string{"r"}, []string{"r"}, true, true, []string{"r"}},
		{"a joins s", func() error { return e.join(a, "s") }, []string{"r", "s"}, []string{"r"}, false, true, []string{"r"}},
		{"a leaves r", func() error { return e.leave(a, "r") }, []string{"s"}, []string{"r"}, false, true, []string{"r"}},
		{"b leaves r", func() error { return e.leave(b, "r") }, []string{"s"}, nil, false, false, nil},
		{"b joins s", func() error { return e.join(b, "s") }, []string{"s"}, []string{"s"}, false, true, []string{"s"}},
		{"b leaves s", func() error { return e.leave(b, "s") }, []string{"s"}, nil, false, false, []string{"s"}},
		{"a leaves s", func() error { return e.leave(a, "s") }, nil, nil, false, false, nil},
		{"b joins t", func() error { return e.join(b, "t") }, nil, []string{"t"}, false, true, []string{"t"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		sh.mu.RLock()
		for _, c := range []struct {
			name  string
			c     *conn
			want  []string
			share bool
		}{{"a", a, s.a, s.aShr}, {"b", b, s.b, s.bShr}} {
			if got := c.c.channels(); !slices.Equal(got, c.want) {
				t.Errorf("%s: %s's channels %q, want %q", s.name, c.name, got, c.want)
			}
			if got := c.c.sharesChans(); got != c.share {
				t.Errorf("%s: %s shares its list: %v, want %v", s.name, c.name, got, c.share)
			}
		}
		if got := slices.Sorted(maps.Keys(sh.only)); !slices.Equal(got, s.only) {
			t.Errorf("%s: shared lists of %q, want %q", s.name, got, s.only)
		}
		for ch, list := range sh.only {
			if !slices.Equal(*list, []string{ch}) {
				t.Errorf("%s: the shared list of %q is %q", s.name, ch, *list)
			}
			if sh.rooms[ch] == nil {
				t.Errorf("%s: a shared list of %q, which has no members", s.name, ch)
			}
		}
		sh.mu.RUnlock()
	}
	e.leaveAll(a)
	e.leaveAll(b)
	if len(sh.rooms)+len(sh.only) != 0 || a.chans != closedChans || b.chans != closedChans {
		t.Fatalf("after leaveAll: %d rooms, %d shared lists", len(sh.rooms), len(sh.only))
	}
}
