//go:build linux

package scenario_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target/targettest"
)

// The peers are a module of their own (bench/peers): the tests start their
// binaries, built once per test binary, as the suite does.
func TestMain(m *testing.M) { os.Exit(targettest.Main(m)) }

func TestScenariosAgainstGorilla(t *testing.T) {
	url := targettest.Start(t, "gorilla")
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
	for _, name := range []string{"gws", "nbio"} {
		url := targettest.Start(t, name)
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
	url := targettest.Start(t, "gorilla")
	res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{Scenario: scenario.Presence, Conns: 20}},
		scenario.Target{Name: "gorilla", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == "" || !res.OK {
		t.Fatalf("presence against a server without the route: %+v", res)
	}
}

// TestPhoenixProtocol runs broadcast and rooms over Phoenix Channels
// against ripple: every message verified as on the raw routes, every push
// answered.
func TestPhoenixProtocol(t *testing.T) {
	url := targettest.Start(t, "ripple")
	for _, spec := range []scenario.Spec{
		{Scenario: scenario.Broadcast, Conns: 50, Publishers: 3, Window: 2},
		{Scenario: scenario.Rooms, Conns: 60, RoomSize: 6, Churn: 40, MsgRate: 200},
	} {
		t.Run("scenario="+spec.Scenario, func(t *testing.T) {
			spec.Protocol = scenario.Phoenix
			spec.Duration = scenario.Duration(time.Second)
			spec.Drain = scenario.Duration(5 * time.Second)
			res, err := scenario.Run(context.Background(), scenario.Options{Spec: spec}, scenario.Target{Name: "ripple/phoenix", URL: url})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Delivered == 0 || res.Opened < int64(spec.Conns) {
				t.Fatalf("opened %d, delivered %d, failures %v", res.Opened, res.Delivered, res.Failures)
			}
			if spec.Scenario == scenario.Rooms && res.Churned == 0 {
				t.Fatal("no member churned")
			}
			t.Logf("opened=%d sent=%d delivered=%d replies=%d thr=%.0f %s churned=%d", res.Opened, res.Sent, res.Delivered,
				res.Extra, res.Throughput, res.ThroughputUnit, res.Churned)
		})
	}
}
