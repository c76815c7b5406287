package engine

import (
	"testing"
	"time"
)

// arrival is n units at at (nanoseconds from the start), and whether they
// fit the bucket.
type arrival struct {
	at  int64
	n   int
	fit bool
}

// TestCharge drives one GCRA bucket through a table of arrivals: a rate of
// N per second holds a burst of N, refills at N per second, and never
// holds more than N however long it stays idle.
func TestCharge(t *testing.T) {
	const s = int64(time.Second)
	every := func(gap int64, k int) (a []arrival) {
		for i := range k {
			a = append(a, arrival{int64(i) * gap, 1, true})
		}
		return a
	}
	for _, tc := range []struct {
		name     string
		rate     int
		arrivals []arrival
	}{
		{"burst of N then one too many", 4, []arrival{{0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, false}}},
		{"one more per 1/N s", 4, []arrival{{0, 4, true}, {s / 8, 1, false}, {s / 4, 1, true}, {s / 4, 1, false}, {s / 2, 1, true}}},
		{"idle refills to N, not more", 2, []arrival{{0, 2, true}, {10 * s, 2, true}, {10 * s, 1, false}}},
		{"bytes: more than the rate at once never fits", 1000, []arrival{{0, 1001, false}, {0, 1000, true}, {s / 2, 500, true}, {s / 2, 1, false}}},
		{"half the rate fits forever", 10, every(s/5, 100)},
		{"the rate itself fits forever", 10, every(s/10, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now().UnixNano()
			var tat int64
			for i, a := range tc.arrivals {
				if got := charge(&tat, start+a.at, a.n, tc.rate); got != a.fit {
					t.Fatalf("arrival %d (%d units at +%v): fit = %v, want %v", i, a.n, time.Duration(a.at), got, a.fit)
				}
			}
		})
	}
}
