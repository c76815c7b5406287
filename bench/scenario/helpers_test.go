//go:build linux

package scenario

import (
	"slices"
	"testing"
)

func TestSourceAddr(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 3*254; i++ {
		a := sourceAddr(i)
		b := a.As4()
		if b[0] != 127 || b[3] == 0 || b[3] == 255 || (b[1] == 0 && b[2] == 0 && b[3] < 2) {
			t.Fatalf("sourceAddr(%d) = %v", i, a)
		}
		if seen[a.String()] {
			t.Fatalf("sourceAddr(%d) = %v repeats", i, a)
		}
		seen[a.String()] = true
	}
	if got := sourceAddr(0).String(); got != "127.0.0.2" {
		t.Errorf("first source = %s", got)
	}
}

func TestCheckpoints(t *testing.T) {
	cases := []struct {
		in   []int
		n    int
		want []int
	}{
		{nil, 19000, []int{2000, 19000}},
		{nil, 100, []int{25, 100}},
		{[]int{2000, 6000, 12000}, 19000, []int{2000, 6000, 12000, 19000}},
		{[]int{6000, 2000, 30000}, 19000, []int{6000, 19000}},
	}
	for _, tc := range cases {
		if got := checkpoints(tc.in, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("checkpoints(%v, %d) = %v, want %v", tc.in, tc.n, got, tc.want)
		}
	}
}
