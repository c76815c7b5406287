//go:build linux

package scenario_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/dialect"
	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target"
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
//
// Both peers add a connection to their hub only after its 101 went out
// (nbio calls its open handler after writing the response, gws runs OnOpen
// in the connection's read loop), so on a loaded machine a broadcast sent
// right after the last connection opened can miss it there. A broadcast run
// that misses messages is therefore run once more; twice is a failure.
func TestOtherPeers(t *testing.T) {
	for _, name := range []string{"gws", "nbio"} {
		url := targettest.Start(t, name)
		for _, sc := range []string{scenario.Echo, scenario.Broadcast} {
			t.Run("peer="+name+"/scenario="+sc, func(t *testing.T) {
				for attempt := 1; ; attempt++ {
					res, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{
						Scenario: sc, Conns: 40, Publishers: 2, Duration: scenario.Duration(500 * time.Millisecond),
						Drain: scenario.Duration(5 * time.Second),
					}}, scenario.Target{Name: name, URL: url})
					if err != nil {
						t.Fatal(err)
					}
					if res.OK && res.Delivered > 0 {
						return
					}
					if sc != scenario.Broadcast || attempt == 2 {
						t.Fatalf("delivered %d, failures %v", res.Delivered, res.Failures)
					}
					t.Logf("attempt %d: delivered %d, failures %v; once more", attempt, res.Delivered, res.Failures)
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

// Centrifuge and Socket.IO speak protocols of their own (bench/dialect):
// every scenario they support runs against them with the same checks;
// Socket.IO's presence is skipped as not supported.
func TestDialectPeers(t *testing.T) {
	for _, name := range []string{"centrifuge", "socketio"} {
		url := targettest.Start(t, name)
		cases := []struct {
			name string
			spec scenario.Spec
			unit string
		}{
			{"scenario=echo", scenario.Spec{Scenario: scenario.Echo, Conns: 40, Window: 2, Loops: 2}, "msgs/s"},
			{"scenario=broadcast", scenario.Spec{Scenario: scenario.Broadcast, Conns: 40, Publishers: 3, Window: 2, Loops: 2}, "deliveries/s"},
			{"scenario=rooms", scenario.Spec{Scenario: scenario.Rooms, Conns: 60, RoomSize: 6, Churn: 40, MsgRate: 200}, "deliveries/s"},
			{"scenario=presence", scenario.Spec{Scenario: scenario.Presence, Conns: 40, RoomSize: 5, Churn: 30}, "diffs/s"},
			{"scenario=latency", scenario.Spec{Scenario: scenario.Latency, Conns: 20, RoomSize: 5, Latency: &scenario.LatencySpec{
				Rates: map[string][]float64{scenario.WorkloadEcho: {100}, scenario.WorkloadRooms: {20}}, Warmup: scenario.Duration(100 * time.Millisecond),
			}}, ""},
			{"scenario=idle", scenario.Spec{Scenario: scenario.Idle, Conns: 60}, ""},
		}
		for _, tc := range cases {
			t.Run("peer="+name+"/"+tc.name, func(t *testing.T) {
				tc.spec.Dialect = target.Dialect(name)
				tc.spec.Duration = scenario.Duration(time.Second)
				if tc.spec.Scenario == scenario.Latency {
					tc.spec.Duration = scenario.Duration(600 * time.Millisecond)
				}
				tc.spec.Drain = scenario.Duration(5 * time.Second)
				res, err := scenario.Run(context.Background(), scenario.Options{
					Spec: tc.spec, Checkpoints: []int{30}, Settle: 300 * time.Millisecond,
				}, scenario.Target{Name: name, URL: url})
				if err != nil {
					t.Fatal(err)
				}
				if tc.spec.Scenario == scenario.Presence && name == "socketio" {
					if res.Skipped != "not supported: socket.io has no presence" || !res.OK {
						t.Fatalf("presence against socket.io: skipped %q, ok %v", res.Skipped, res.OK)
					}
					return
				}
				if !res.OK || res.Skipped != "" {
					t.Fatalf("skipped %q, failures: %v", res.Skipped, res.Failures)
				}
				if tc.unit != "" && (res.Throughput <= 0 || res.ThroughputUnit != tc.unit || res.Latency.N == 0) {
					t.Errorf("throughput %v %s, latency n=%d", res.Throughput, res.ThroughputUnit, res.Latency.N)
				}
				if tc.spec.Scenario == scenario.Presence && (res.ListAsked == 0 || res.Listed != res.ListAsked) {
					t.Errorf("the server's lists: asked %d, answered %d", res.ListAsked, res.Listed)
				}
				t.Logf("%s: opened=%d sent=%d delivered=%d thr=%.0f %s p50=%v p99=%v churned=%d",
					tc.name, res.Opened, res.Sent, res.Delivered, res.Throughput, res.ThroughputUnit,
					time.Duration(res.Latency.P50), time.Duration(res.Latency.P99), res.Churned)
			})
		}
	}
}

func TestDialectUnsupported(t *testing.T) {
	_, err := scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{
		Scenario: scenario.Broadcast, Route: "shootout", Dialect: dialect.SocketIO, Conns: 2,
	}}, scenario.Target{Name: "socketio", URL: "ws://127.0.0.1:9"})
	if !errors.Is(err, dialect.ErrUnsupported) {
		t.Errorf("broadcast over the shootout route in the socketio dialect: %v", err)
	}
	_, err = scenario.Run(context.Background(), scenario.Options{Spec: scenario.Spec{Scenario: scenario.Echo, Dialect: "nope"}},
		scenario.Target{Name: "x", URL: "ws://127.0.0.1:9"})
	if !errors.Is(err, dialect.ErrUnknown) {
		t.Errorf("unknown dialect: %v", err)
	}
}
