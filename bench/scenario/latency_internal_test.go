package scenario

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/fleet"
)

func TestParseRates(t *testing.T) {
	both := []string{WorkloadEcho, WorkloadRooms}
	cases := []struct {
		in        string
		workloads []string
		want      map[string][]float64
		err       bool
	}{
		{"", both, map[string][]float64{}, false},
		{"5000,10000", both, map[string][]float64{"echo": {5000, 10000}, "rooms": {5000, 10000}}, false},
		{"10000, 5000,5000", []string{"echo"}, map[string][]float64{"echo": {5000, 10000}}, false},
		{"echo=5000,echo=2500,rooms=800", both, map[string][]float64{"echo": {2500, 5000}, "rooms": {800}}, false},
		{"1000,rooms=50", both, map[string][]float64{"echo": {1000}, "rooms": {50, 1000}}, false},
		{"rooms=800", []string{"echo"}, nil, true}, // workload not run
		{"echo=-1", both, nil, true},
		{"0", both, nil, true},
		{"fast", both, nil, true},
		{"echo=NaN", both, nil, true},
	}
	for _, tc := range cases {
		got, err := ParseRates(tc.in, tc.workloads)
		if (err != nil) != tc.err {
			t.Errorf("ParseRates(%q): error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRates(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseLoadAndWorkloads(t *testing.T) {
	loads := []struct {
		in   string
		want []float64
		err  bool
	}{
		{"25,50,75,100", []float64{25, 50, 75, 100}, false},
		{"100, 50%,50", []float64{50, 100}, false},
		{"150", []float64{150}, false},
		{"", nil, true},
		{"0", nil, true},
		{"half", nil, true},
	}
	for _, tc := range loads {
		got, err := ParseLoad(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ParseLoad(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	workloads := []struct {
		in   string
		want []string
		err  bool
	}{
		{"echo,rooms", []string{"echo", "rooms"}, false},
		{"rooms, echo,rooms", []string{"rooms", "echo"}, false},
		{"echo", []string{"echo"}, false},
		{"broadcast", nil, true},
		{",", nil, true},
	}
	for _, tc := range workloads {
		got, err := ParseWorkloads(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ParseWorkloads(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestOffers(t *testing.T) {
	cases := []struct {
		name  string
		rates []float64
		max   float64
		load  []float64
		want  []Offer
	}{
		{"percent of max", nil, 80000, []float64{25, 50, 75, 100},
			[]Offer{{25, 20000}, {50, 40000}, {75, 60000}, {100, 80000}}},
		{"unsorted load, above 100%", nil, 1000, []float64{120, 10},
			[]Offer{{10, 100}, {120, 1200}}},
		{"absolute rates win over the maximum", []float64{5000, 10000}, 80000, []float64{25},
			[]Offer{{0, 5000}, {0, 10000}}},
		{"rates below 1/s dropped", nil, 3, []float64{25, 50, 100},
			[]Offer{{50, 1.5}, {100, 3}}},
		{"no maximum: nothing to offer", nil, 0, []float64{25, 50}, nil},
		{"duplicate load", nil, 100, []float64{50, 50}, []Offer{{50, 50}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Offers(tc.rates, tc.max, tc.load); !slices.Equal(got, tc.want) {
				t.Errorf("Offers(%v, %v, %v) = %v, want %v", tc.rates, tc.max, tc.load, got, tc.want)
			}
		})
	}
}

func TestReferenceMax(t *testing.T) {
	cases := []struct {
		maxima map[string]float64
		want   float64
		from   string
	}{
		{map[string]float64{"ripple": 90000, "gws": 60000, "nbio": 70000, "gorilla": 20000}, 70000, "nbio"},
		{map[string]float64{"ripple": 90000}, 90000, "ripple"},
		{map[string]float64{"ripple": 90000, "gws": 0}, 90000, "ripple"}, // a peer without a maximum does not count
		{map[string]float64{"gws": 50000, "server": 60000}, 60000, "server"},
		{nil, 0, ""},
	}
	for _, tc := range cases {
		if got, from := ReferenceMax(tc.maxima); got != tc.want || from != tc.from {
			t.Errorf("ReferenceMax(%v) = %v from %q, want %v from %q", tc.maxima, got, from, tc.want, tc.from)
		}
	}
}

func TestShareOffset(t *testing.T) {
	for _, tc := range []struct{ n, parts int }{{10, 3}, {7, 7}, {3, 5}, {10000, 2}} {
		off := 0
		for i := 0; i < tc.parts; i++ {
			if got := shareOffset(tc.n, tc.parts, i); got != off {
				t.Errorf("shareOffset(%d,%d,%d) = %d, want %d", tc.n, tc.parts, i, got, off)
			}
			off += fleet.Share(tc.n, tc.parts, i)
		}
	}
}

// Together, the loops of every worker send exactly the sends scheduled in
// the step, send i at start + i/rate by sender i mod total, each loop in
// time order.
func TestSchedulePartition(t *testing.T) {
	const start = int64(5 * time.Second)
	cases := []struct {
		name              string
		workers, loops    int
		senders           int
		rate              float64
		length            time.Duration
		strided           bool // rooms: sender k on worker k%W, loop (k/W)%L; else contiguous (echo)
		wantSends         int64
		wantLastScheduled int64 // ns after start
	}{
		{"echo/one loop", 1, 1, 4, 1000, 10 * time.Millisecond, false, 10, int64(9 * time.Millisecond)},
		{"echo/2 workers×3 loops", 2, 3, 10, 300, time.Second, false, 300, int64(time.Second) * 299 / 300},
		{"rooms/2 workers×2 loops", 2, 2, 7, 70, 500 * time.Millisecond, true, 35, int64(34 * time.Second / 70)},
		{"fraction of a period", 1, 2, 5, 3, 1500 * time.Millisecond, false, 5, int64(4 * time.Second / 3)},
		{"more loops than senders", 2, 2, 3, 30, 100 * time.Millisecond, true, 3, int64(2 * time.Second / 30)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[int64]bool{}
			var last int64
			for w := 0; w < tc.workers; w++ {
				for l := 0; l < tc.loops; l++ {
					var mine []int
					if tc.strided {
						for k := 0; k < tc.senders; k++ {
							if k%tc.workers == w && (k/tc.workers)%tc.loops == l {
								mine = append(mine, k)
							}
						}
					} else {
						ws := fleet.Share(tc.senders, tc.workers, w)
						g0 := shareOffset(tc.senders, tc.workers, w) + shareOffset(ws, tc.loops, l)
						for i := 0; i < fleet.Share(ws, tc.loops, l); i++ {
							mine = append(mine, g0+i)
						}
					}
					s := schedule{start: start, end: start + int64(tc.length), rate: tc.rate, total: tc.senders, mine: mine}
					prev := int64(math.MinInt64)
					for {
						local, at, ok := s.next()
						if !ok {
							break
						}
						s.advance()
						if at < prev {
							t.Fatalf("worker %d loop %d: %d scheduled after %d", w, l, at, prev)
						}
						prev = at
						// i is the global send index of at.
						i := int64(math.Round(float64(at-start) * tc.rate / 1e9))
						if i%int64(tc.senders) != int64(mine[local]) {
							t.Errorf("send %d by sender %d, want %d", i, mine[local], i%int64(tc.senders))
						}
						if seen[i] {
							t.Errorf("send %d scheduled twice", i)
						}
						seen[i] = true
						last = max(last, at-start)
					}
				}
			}
			if int64(len(seen)) != tc.wantSends {
				t.Errorf("%d sends, want %d", len(seen), tc.wantSends)
			}
			for i := int64(0); i < tc.wantSends; i++ {
				if !seen[i] {
					t.Errorf("send %d never scheduled", i)
				}
			}
			if last != tc.wantLastScheduled {
				t.Errorf("last send at +%v, want +%v", time.Duration(last), time.Duration(tc.wantLastScheduled))
			}
		})
	}
}

func TestScheduleStop(t *testing.T) {
	s := schedule{start: 0, end: int64(time.Second), rate: 10, total: 1, mine: []int{0}}
	if _, _, ok := s.next(); !ok {
		t.Fatal("a fresh schedule has nothing to send")
	}
	s.stop()
	if _, _, ok := s.next(); ok {
		t.Fatal("a stopped schedule still sends")
	}
	if _, _, ok := (&schedule{rate: 0, total: 1, mine: []int{0}, end: 1 << 40}).next(); ok {
		t.Fatal("a zero rate (closed loop) schedules sends")
	}
}

func TestLatencyDefaults(t *testing.T) {
	cases := []struct {
		name       string
		in         *LatencySpec
		step       time.Duration
		wantWarmup time.Duration
		need       []string
	}{
		{"nil", nil, 2 * time.Second, defaultWarmup, []string{"echo", "rooms"}},
		{"warm-up capped at a quarter", &LatencySpec{Warmup: Duration(time.Second)}, 2 * time.Second, 500 * time.Millisecond, []string{"echo", "rooms"}},
		{"max for echo only", &LatencySpec{MaxRate: map[string]float64{"echo": 5000}}, 5 * time.Second, defaultWarmup, []string{"rooms"}},
		{"rates for rooms, one workload", &LatencySpec{Workloads: []string{"rooms"}, Rates: map[string][]float64{"rooms": {100}}}, time.Second, 250 * time.Millisecond, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.in.withDefaults(tc.step)
			if time.Duration(d.Warmup) != tc.wantWarmup || len(d.Load) != 4 || d.Calibrate != Duration(defaultCalibrate) {
				t.Errorf("defaults: warmup %v load %v calibrate %v", time.Duration(d.Warmup), d.Load, time.Duration(d.Calibrate))
			}
			if got := tc.in.NeedsCalibration(); !slices.Equal(got, tc.need) {
				t.Errorf("NeedsCalibration = %v, want %v", got, tc.need)
			}
		})
	}
}
