package hist

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestIndexBounds(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, maxValue} {
		i := index(v)
		lo, hi := bounds(i)
		if v < lo || v > hi {
			t.Errorf("v=%d in bucket %d [%d,%d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/subCount+1e-12 {
			t.Errorf("v=%d bucket width %d too wide for lo=%d", v, hi-lo+1, lo)
		}
	}
	// Buckets tile the range without gaps.
	prevHi := int64(-1)
	for i := 0; i < nBuckets; i++ {
		lo, hi := bounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		prevHi = hi
	}
	if prevHi != maxValue {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, maxValue)
	}
}

func TestPercentiles(t *testing.T) {
	cases := []struct {
		name   string
		values []int64
		p      float64
		want   int64
		tol    float64 // relative
	}{
		{"empty", nil, 50, 0, 0},
		{"single", []int64{42}, 99, 42, 0},
		{"exact small", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5, 0},
		{"exact p90", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9, 0},
		{"p100 is max", []int64{5, 1_000_000}, 100, 1_000_000, 0},
		{"large", []int64{1_000_000, 2_000_000, 3_000_000, 4_000_000}, 50, 2_000_000, 1.0 / subCount},
		{"clamped", []int64{-5, 0}, 50, 0, 0},
	}
	for _, tc := range cases {
		t.Run("case="+tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			got := h.Percentile(tc.p)
			diff := float64(got - tc.want)
			if diff < 0 {
				diff = -diff
			}
			if diff > tc.tol*float64(tc.want) {
				t.Errorf("p%v = %d, want %d (±%.1f%%)", tc.p, got, tc.want, tc.tol*100)
			}
		})
	}
}

func TestPercentilesAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * 2e6)
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, p := range []float64{50, 90, 99, 99.9} {
		exact := vals[int(p/100*float64(len(vals)))-1]
		got := h.Percentile(p)
		if rel := float64(got-exact) / float64(exact); rel < -0.01 || rel > 0.01 {
			t.Errorf("p%v = %d, exact %d (%.2f%%)", p, got, exact, rel*100)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != uint64(len(vals)) {
		t.Errorf("min/max/count = %d/%d/%d", h.Min(), h.Max(), h.Count())
	}
}

func TestMerge(t *testing.T) {
	var a, b, all Histogram
	for i := int64(1); i <= 1000; i++ {
		v := i * 997
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	if m.Summarize() != all.Summarize() {
		t.Errorf("merged %+v, want %+v", m.Summarize(), all.Summarize())
	}
	// Through the JSON snapshot form, as worker processes send it.
	var viaJSON Histogram
	for _, h := range []*Histogram{&a, &b} {
		raw, err := json.Marshal(h.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var s Snapshot
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		viaJSON.MergeSnapshot(s)
	}
	if viaJSON.Summarize() != all.Summarize() {
		t.Errorf("merged snapshots %+v, want %+v", viaJSON.Summarize(), all.Summarize())
	}
	// Merging an empty histogram changes nothing.
	before := m.Summarize()
	m.Merge(&Histogram{})
	m.MergeSnapshot(Snapshot{})
	if m.Summarize() != before {
		t.Errorf("merge of empty changed %+v to %+v", before, m.Summarize())
	}
}

func BenchmarkRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	for i := 0; i < b.N; i++ {
		h.Record(int64(i) * 7919)
	}
}
