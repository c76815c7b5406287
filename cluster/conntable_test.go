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
	var tab connTable[int]
	want := map[string]int{}
	for i, c := range cases {
		if own := keyOf(prefix, c.id).own; own != c.own {
			t.Errorf("keyOf(%q) own = %v, want %v", c.id, own, c.own)
		}
		tab.put(keyOf(prefix, c.id), i+1)
		want[c.id] = i + 1
	}
	if tab.len() != len(want) {
		t.Errorf("len = %d, want %d", tab.len(), len(want))
	}
	for id, v := range want {
		if got, ok := tab.get(keyOf(prefix, id)); !ok || got != v {
			t.Errorf("get(%q) = %d, %v, want %d", id, got, ok, v)
		}
	}
	got := map[string]int{}
	tab.all(prefix, func(id string, v int) { got[id] = v })
	if !maps.Equal(got, want) {
		t.Errorf("all spelled %v, want %v", got, want)
	}
	for id := range want {
		tab.del(keyOf(prefix, id))
		if tab.has(keyOf(prefix, id)) {
			t.Errorf("get(%q) after del: still there", id)
		}
	}
	if tab.len() != 0 {
		t.Errorf("%d entries left after deleting all", tab.len())
	}
}
