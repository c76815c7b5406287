//go:build linux

package scenario_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/peers/gorillahub"
	"github.com/ripple-rt/ripple/bench/peers/gwspeer"
	"github.com/ripple-rt/ripple/bench/peers/nbiopeer"
	"github.com/ripple-rt/ripple/bench/peers/peermain"
	"github.com/ripple-rt/ripple/bench/scenario"
)

func startPeer(t *testing.T, serve peermain.ServeFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = serve(ctx, ln, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "ws://" + ln.Addr().String()
}

func TestScenariosAgainstGorilla(t *testing.T) {
	url := startPeer(t, gorillahub.Serve)
	cases := []struct {
		name string
		spec scenario.Spec
		unit string
	}{
		{"scenario=echo", scenario.Spec{Scenario: scenario.Echo, Conns: 50, Window: 2}, "msgs/s"},
		{"scenario=broadcast/route=room", scenario.Spec{Scenario: scenario.Broadcast, Conns: 50, Publishers: 3, Window: 2}, "deliveries/s"},
		{"scenario=broadcast/route=shootout", scenario.Spec{Scenario: scenario.Broadcast, Conns: 50, Publishers: 2, Route: "shootout"}, "deliveries/s"},
		{"scenario=rooms", scenario.Spec{Scenario: scenario.Rooms, Conns: 60, RoomSize: 6, Churn: 40, MsgRate: 200}, "deliveries/s"},
		{"scenario=idle", scenario.Spec{Scenario: scenario.Idle, Conns: 80}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Duration = scenario.Duration(time.Second)
			tc.spec.Drain = scenario.Duration(5 * time.Second)
			res, err := scenario.Run(context.Background(), scenario.Options{
				Spec: tc.spec, Checkpoints: []int{40}, Settle: 300 * time.Millisecond,
			}, scenario.Target{Name: "gorilla", URL: url})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK {
				t.Fatalf("failures: %v", res.Failures)
			}
			if res.Opened < int64(tc.spec.Conns) {
				t.Errorf("opened %d, want %d", res.Opened, tc.spec.Conns)
			}
			if tc.unit != "" && (res.Throughput <= 0 || res.ThroughputUnit != tc.unit || res.Latency.N == 0) {
				t.Errorf("throughput %v %s, latency n=%d", res.Throughput, res.ThroughputUnit, res.Latency.N)
			}
			t.Logf("%s: opened=%d sent=%d delivered=%d thr=%.0f %s p50=%v p99=%v",
				tc.name, res.Opened, res.Sent, res.Delivered, res.Throughput, res.ThroughputUnit,
				time.Duration(res.Latency.P50), time.Duration(res.Latency.P99))
		})
	}
}

// The other peers speak the same protocol: echo and broadcast verify.
func TestOtherPeers(t *testing.T) {
	for name, serve := range map[string]peermain.ServeFunc{"gws": gwspeer.Serve, "nbio": nbiopeer.Serve} {
		if name == "nbio" && raceEnabled {
			// nbio v1.6.8 races on the accepted conn's address between its
			// listener goroutine and its poller; the suite runs it as a binary.
			t.Log("skipping nbio under the race detector")
			continue
		}
		url := startPeer(t, serve)
		for _, sc := range []string{scenario.Echo, scenario.Broadcast} {
			t.Run("peer="+name+"/scenario="+sc, func(t *testing.T) {
				res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{
					Scenario: sc, Conns: 40, Publishers: 2, Duration: scenario.Duration(500 * time.Millisecond),
					Drain: scenario.Duration(5 * time.Second),
				}}, scenario.Target{Name: name, URL: url})
				if err != nil {
					t.Fatal(err)
				}
				if !res.OK || res.Delivered == 0 {
					t.Fatalf("delivered %d, failures %v", res.Delivered, res.Failures)
				}
			})
		}
	}
}

func TestPresenceSkippedOn404(t *testing.T) {
	url := startPeer(t, gorillahub.Serve)
	res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{Scenario: scenario.Presence, Conns: 20}},
		scenario.Target{Name: "gorilla", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == "" || !res.OK {
		t.Fatalf("presence against a server without the route: %+v", res)
	}
}
