package hist

import (
	"math"
	"math/bits"
)

const (
	// SubBits is log2 of the number of buckets per power-of-two range.
	SubBits = 7
	// MaxExp bounds the trackable range: values >= 2^MaxExp (about 18 minutes in
	// nanoseconds) are clamped.
	MaxExp = 40

	subCount = 1 << SubBits
	nBuckets = subCount + (MaxExp-SubBits)*subCount
	maxValue = int64(1)<<MaxExp - 1
)

// Histogram counts values in log-linear buckets. The zero value is empty and ready.
type Histogram struct {
	counts [nBuckets]uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

// index returns the bucket of v (0 <= v <= maxValue).
func index(v int64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 1 // e >= SubBits
	sub := int(v>>(e-SubBits)) - subCount
	return subCount + (e-SubBits)*subCount + sub
}

// bounds returns the inclusive value range [lo, hi] of bucket i.
func bounds(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	g := (i - subCount) / subCount // power range index: e = g + SubBits
	sub := (i - subCount) % subCount
	shift := uint(g)
	lo = int64(subCount+sub) << shift
	hi = lo + (int64(1) << shift) - 1
	return lo, hi
}

// Record adds one value. Negative values count as 0; huge values are clamped.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	h.counts[index(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the smallest recorded value (0 when empty).
func (h *Histogram) Min() int64 { return h.min }

// Max is the largest recorded value (0 when empty).
func (h *Histogram) Max() int64 { return h.max }

// Mean is the average of the recorded values (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{} }

// Merge adds every value of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Percentile returns the value at percentile p (0 < p <= 100): the highest value
// equivalent to the bucket holding the ceil(p% * count)-th smallest value, capped
// at Max. It returns 0 for an empty histogram.
func (h *Histogram) Percentile(p float64) int64 {
	if h.n == 0 {
		return 0
	}
	if p <= 0 {
		return h.min
	}
	if p >= 100 {
		return h.max
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			_, hi := bounds(i)
			if hi > h.max {
				hi = h.max
			}
			if hi < h.min {
				hi = h.min
			}
			return hi
		}
	}
	return h.max
}

// Snapshot is the sparse serializable form of a Histogram.
type Snapshot struct {
	// Buckets holds [bucket index, count] pairs for non-empty buckets, ascending.
	Buckets [][2]uint64 `json:"buckets,omitempty"`
	N       uint64      `json:"n"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
	Sum     float64     `json:"sum"`
}

// Snapshot returns the sparse form of h.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{N: h.n, Min: h.min, Max: h.max, Sum: h.sum}
	for i, c := range h.counts {
		if c != 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return s
}

// MergeSnapshot adds the values of a snapshot into h. Bucket indexes out of range
// are ignored.
func (h *Histogram) MergeSnapshot(s Snapshot) {
	if s.N == 0 {
		return
	}
	for _, b := range s.Buckets {
		if b[0] < nBuckets {
			h.counts[b[0]] += b[1]
		}
	}
	if h.n == 0 || s.Min < h.min {
		h.min = s.Min
	}
	if s.Max > h.max {
		h.max = s.Max
	}
	h.n += s.N
	h.sum += s.Sum
}

// Summary holds the usual percentiles of a histogram, in the histogram's unit.
type Summary struct {
	N    uint64  `json:"n"`
	Min  int64   `json:"min"`
	Mean float64 `json:"mean"`
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
}

// Summarize computes the Summary of h.
func (h *Histogram) Summarize() Summary {
	return Summary{
		N: h.n, Min: h.min, Mean: h.Mean(),
		P50: h.Percentile(50), P90: h.Percentile(90), P99: h.Percentile(99),
		P999: h.Percentile(99.9), Max: h.max,
	}
}
