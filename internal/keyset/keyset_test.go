package keyset_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ripple-rt/ripple/internal/keyset"
)

type item struct{ k uint64 }

func (it *item) Key() uint64 { return it.k }

func TestSet(t *testing.T) {
	var s keyset.Set[*item]
	a, b, a2 := &item{1}, &item{2}, &item{1}
	for _, tc := range []struct {
		name string
		op   func() bool
		want bool
		len  int
	}{
		{"get from empty", func() bool { return s.Get(1) == nil }, true, 0},
		{"remove from empty", func() bool { return s.Remove(a) }, false, 0},
		{"add a", func() bool { return s.Add(a) }, true, 1},
		{"add a key taken", func() bool { return s.Add(a2) }, false, 1},
		{"get a", func() bool { return s.Get(1) == a }, true, 1},
		{"remove another with a's key", func() bool { return s.Remove(a2) }, false, 1},
		{"add b", func() bool { return s.Add(b) }, true, 2},
		{"remove a", func() bool { return s.Remove(a) }, true, 1},
		{"get a after removal", func() bool { return s.Get(1) == nil }, true, 1},
		{"get b", func() bool { return s.Get(2) == b }, true, 1},
		{"remove a again", func() bool { return s.Remove(a) }, false, 1},
	} {
		if got := tc.op(); got != tc.want || s.Len() != tc.len {
			t.Fatalf("%s: %v with %d elements, want %v with %d", tc.name, got, s.Len(), tc.want, tc.len)
		}
	}
}

// TestSetAgainstMap runs random adds and removes, with keys that share
// their low bits or not, against a map.
func TestSetAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(r *rand.Rand) uint64
	}{
		{"random keys", func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"low bits shared", func(r *rand.Rand) uint64 { return r.Uint64()<<6 | 5 }},
		{"few keys", func(r *rand.Rand) uint64 { return r.Uint64N(300) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var s keyset.Set[*item]
			ref := map[uint64]*item{}
			var live []*item
			for step := range 200000 {
				if len(live) > 0 && r.IntN(100) < 45 {
					i := r.IntN(len(live))
					it := live[i]
					live[i] = live[len(live)-1]
					live = live[:len(live)-1]
					if !s.Remove(it) {
						t.Fatalf("step %d: Remove(%d) found nothing", step, it.k)
					}
					delete(ref, it.k)
				} else {
					it := &item{tc.key(r)}
					_, taken := ref[it.k]
					if s.Add(it) == taken {
						t.Fatalf("step %d: Add(%d) = %v with the key taken %v", step, it.k, !taken, taken)
					}
					if !taken {
						ref[it.k] = it
						live = append(live, it)
					}
				}
				if s.Len() != len(ref) {
					t.Fatalf("step %d: Len %d, want %d", step, s.Len(), len(ref))
				}
				if step%1000 == 0 {
					n := 0
					s.All(func(it *item) bool {
						if ref[it.k] != it {
							t.Fatalf("step %d: All yields %d, not in the set", step, it.k)
						}
						n++
						return true
					})
					for k, it := range ref {
						if s.Get(k) != it {
							t.Fatalf("step %d: Get(%d) lost it", step, k)
						}
					}
					if n != len(ref) {
						t.Fatalf("step %d: All yields %d, want %d", step, n, len(ref))
					}
				}
			}
		})
	}
}

// BenchmarkSet builds a Set of n elements and finds each, and a map of the
// same keys for comparison; B/op is all the memory either allocated while
// growing.
func BenchmarkSet(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		items := make([]*item, n)
		for i := range items {
			items[i] = &item{rand.Uint64()}
		}
		b.Run(fmt.Sprintf("n=%d/kind=keyset", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				var s keyset.Set[*item]
				for _, it := range items {
					s.Add(it)
				}
				for _, it := range items {
					if s.Get(it.k) != it {
						b.Fatal("lost")
					}
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/kind=map", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				m := map[uint64]*item{}
				for _, it := range items {
					m[it.k] = it
				}
				for _, it := range items {
					if m[it.k] != it {
						b.Fatal("lost")
					}
				}
			}
		})
	}
}
