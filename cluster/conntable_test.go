package cluster

import (
	"maps"
	"testing"
)

func TestConnTable(t *testing.T) {
	const prefix = "n1."
	cases := []struct {
		id  string
		own bool
	}{
		{"n1.6ba7b810-9dad-41d1-80b4-00c04fd430c8", true},
		{"n1.6BA7B810-9DAD-41D1-80B4-00C04FD430C8", false}, // upper case: kept whole, spelled as given
		{"n2.6ba7b810-9dad-41d1-80b4-00c04fd430c8", false}, // another node's prefix
		{"n1.6ba7b810x9dad-41d1-80b4-00c04fd430c8", false},
		{"n1.6ba7b810-9dad-41d1-80b4-00c04fd430c", false},
		{"n1.", false},
		{"x.1", false},
		{"", false},
	}
	tab := newConnTable(prefix)
	want := map[string]*localConn{}
	for _, c := range cases {
		if _, own := tab.ownKey(c.id); own != c.own {
			t.Errorf("ownKey(%q) own = %v, want %v", c.id, own, c.own)
		}
		lc := &localConn{connected: true}
		tab.put(c.id, lc)
		want[c.id] = lc
	}
	for id, lc := range want {
		if got := tab.get(id); got != lc {
			t.Errorf("get(%q) = %p, want %p", id, got, lc)
		}
	}
	got := map[string]*localConn{}
	tab.all(func(id string, lc *localConn) { got[id] = lc })
	if !maps.Equal(got, want) {
		t.Errorf("all spelled %v, want %v", got, want)
	}
	for id := range want {
		tab.del(id)
		if tab.get(id) != nil {
			t.Errorf("get(%q) after del: still there", id)
		}
	}
	if len(tab.own)+len(tab.other) != 0 {
		t.Errorf("%d records left after deleting all", len(tab.own)+len(tab.other))
	}
}
