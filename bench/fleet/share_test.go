package fleet_test

import (
	"testing"

	"github.com/ripple-rt/ripple/bench/fleet"
)

func TestShare(t *testing.T) {
	for _, tc := range []struct{ n, parts int }{{10, 3}, {19000, 1}, {7, 7}, {3, 5}, {1000000, 51}} {
		sum := 0
		for i := 0; i < tc.parts; i++ {
			s := fleet.Share(tc.n, tc.parts, i)
			if s < tc.n/tc.parts || s > tc.n/tc.parts+1 {
				t.Errorf("Share(%d,%d,%d) = %d", tc.n, tc.parts, i, s)
			}
			sum += s
		}
		if sum != tc.n {
			t.Errorf("shares of %d over %d sum to %d", tc.n, tc.parts, sum)
		}
	}
	if s := fleet.Share(5, 0, 0); s != 0 {
		t.Errorf("Share over no parts = %d, want 0", s)
	}
}
