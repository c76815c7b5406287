//go:build linux

package scenario_test

import (
	"context"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target/targettest"
)

// The latency scenario against real servers: tiny absolute rates give an
// exact count of sends (every send scheduled in the step is made and
// verified); without rates it calibrates and offers percentages of the
// server's own closed-loop maximum.
func TestLatency(t *testing.T) {
	const step = 600 * time.Millisecond
	cases := []struct {
		name      string
		server    string
		latency   scenario.LatencySpec
		wantSent  map[string][]int64 // per workload and step; nil: not checked
		calibrate bool
	}{
		{
			name:   "server=ripple/rates=absolute",
			server: "ripple",
			latency: scenario.LatencySpec{Rates: map[string][]float64{
				scenario.WorkloadEcho: {100, 200}, scenario.WorkloadRooms: {20, 40},
			}},
			// ceil(rate × step) sends: echo requests, rooms publishes.
			wantSent: map[string][]int64{scenario.WorkloadEcho: {60, 120}, scenario.WorkloadRooms: {12, 24}},
		},
		{
			name:      "server=gorilla/rates=calibrated",
			server:    "gorilla",
			latency:   scenario.LatencySpec{Load: []float64{10, 20}, Calibrate: scenario.Duration(500 * time.Millisecond)},
			calibrate: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			if tc.server == "ripple" {
				url = startRipple(t, ripple.Config{})
			} else {
				url = targettest.Start(t, "gorilla")
			}
			ls := tc.latency
			ls.Warmup = scenario.Duration(100 * time.Millisecond)
			res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{
				Scenario: scenario.Latency, Conns: 40, RoomSize: 5, Loops: 2,
				Duration: scenario.Duration(step), Drain: scenario.Duration(5 * time.Second), Latency: &ls,
			}}, scenario.Target{Name: tc.server, URL: url})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range res.Notes {
				t.Log(n)
			}
			if !res.OK {
				t.Fatalf("failures: %v", res.Failures)
			}
			if len(res.Workloads) != 2 {
				t.Fatalf("%d workloads, want echo and rooms", len(res.Workloads))
			}
			for _, w := range res.Workloads {
				if w.Conns != 40 || len(w.Steps) != 2 {
					t.Fatalf("%s: %d conns, %d steps; want 40 and 2", w.Workload, w.Conns, len(w.Steps))
				}
				if tc.calibrate {
					if w.Calibration == nil || w.Calibration.Achieved <= 0 || w.MaxRate != w.Calibration.Achieved || w.MaxFrom != "own calibration" {
						t.Fatalf("%s: calibration %+v, max %v from %q", w.Workload, w.Calibration, w.MaxRate, w.MaxFrom)
					}
				}
				perSend := int64(1)
				if w.Workload == scenario.WorkloadRooms {
					perSend = 5
				}
				for i, p := range w.Steps {
					t.Logf("%s %s: offered %.0f achieved %.1f %s, sent %d delivered %d, p50 %v p99 %v, lag p99 %v",
						w.Workload, p.Label(), p.Offered, p.Achieved, w.Unit, p.Sent, p.Delivered,
						time.Duration(p.Latency.P50), time.Duration(p.Latency.P99), time.Duration(p.Lag.P99))
					if want := tc.wantSent[w.Workload]; want != nil && p.Sent != want[i] {
						t.Errorf("%s step %d: sent %d, want %d", w.Workload, i, p.Sent, want[i])
					}
					if p.Delivered != p.Sent*perSend || p.Expected != p.Delivered || p.Missing != 0 {
						t.Errorf("%s step %d: sent %d, delivered %d, expected %d, missing %d", w.Workload, i, p.Sent, p.Delivered, p.Expected, p.Missing)
					}
					// The warm-up is left out of the latency figures.
					if p.Latency.N == 0 || p.Latency.N >= uint64(p.Delivered) || p.Achieved <= 0 {
						t.Errorf("%s step %d: %d latency samples of %d deliveries, achieved %v", w.Workload, i, p.Latency.N, p.Delivered, p.Achieved)
					}
					if i > 0 && p.Offered <= w.Steps[i-1].Offered {
						t.Errorf("%s: offered rates not ascending: %v after %v", w.Workload, p.Offered, w.Steps[i-1].Offered)
					}
				}
			}
		})
	}
}
