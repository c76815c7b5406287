//go:build linux

package scenario_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target/targettest"
)

// The c1m run scaled down: 600 connections over 3 cluster nodes of 200 on a
// real redis-server, every stage verified.
func TestC1MScaledDown(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skipf("SKIP: redis-server not installed (apt-get install -y redis-server): %v", err)
	}
	url := targettest.Start(t, "ripple")
	spec := scenario.Spec{
		Scenario: scenario.C1M, Conns: 600, PerProc: 200, RoomSize: 20, MsgRate: 200,
		Duration: scenario.Duration(time.Second), Drain: scenario.Duration(10 * time.Second),
	}
	res, err := scenario.Run(context.Background(), scenario.Options{Spec: spec, Settle: 300 * time.Millisecond},
		scenario.Target{Name: "ripple", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("failures: %v", res.Failures)
	}
	c := res.C1M
	if c == nil {
		t.Fatal("no c1m figures")
	}
	if c.Nodes != 3 || c.Open != 600 || c.Failed != 0 {
		t.Errorf("nodes %d, open %d, failed %d; want 3, 600, 0", c.Nodes, c.Open, c.Failed)
	}
	if b := c.Broadcast; b.Delivered != 600 || b.Expected != 600 || b.Missing != 0 || b.Dup != 0 {
		t.Errorf("broadcast: %+v", b)
	}
	if f := c.Floor; f == nil || f.Conns != 600 || f.Procs != 6 || len(f.Rounds) != 2 || f.Best <= 0 || c.FloorRatio <= 0 {
		t.Errorf("floor %+v, ratio %v: want 600 connections over 6 processes of 100, two rounds", f, c.FloorRatio)
	}
	if c.Rooms != 30 || c.RoomStats.Expected == 0 || c.RoomStats.Delivered != c.RoomStats.Expected {
		t.Errorf("rooms %d: %d of %d delivered", c.Rooms, c.RoomStats.Delivered, c.RoomStats.Expected)
	}
	if p := c.Presence; c.PresenceSeats != 60 || p.Expected != 60 || p.Missing != 0 || p.States < 60 || c.PresenceFill <= 0 {
		t.Errorf("presence: %d seats, %+v, fill %.2fs", c.PresenceSeats, p, c.PresenceFill)
	}
	for k, n := range c.PresenceCounts {
		if n != 6 || c.PresenceListed[k] != 6 {
			t.Errorf("presence room %d: count %d, listed %d; want 6", k, n, c.PresenceListed[k])
		}
	}
	if c.CloseCodes[1001] != 600 || c.Exited != 3 {
		t.Errorf("close codes %v, %d of 3 nodes exited", c.CloseCodes, c.Exited)
	}
	if len(c.Timeline) == 0 || len(c.BroadcastCDF) == 0 || c.ServerRSS <= c.ServerRSS0 {
		t.Errorf("timeline %d points, CDF %d points, RSS %d → %d", len(c.Timeline), len(c.BroadcastCDF), c.ServerRSS0, c.ServerRSS)
	}
	t.Logf("ramp %.0f/s, %.0f B per connection, broadcast last %.2fs, rooms %.0f deliveries/s p99 %v, presence whole at %.2fs quiet at %.2fs",
		c.ConnectRate, c.ServerPerConn, c.BroadcastLast, c.RoomDeliveries, time.Duration(c.RoomLat.P99), c.PresenceFill, c.PresenceQuiet)
}
