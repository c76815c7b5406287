//go:build linux

package scenario_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target"
	"github.com/ripple-rt/ripple/bench/target/targettest"
)

// The recovery scenario scaled down against cmd/ripple: 120 clients in 10
// rooms, 60 drops and reconnects a second, on one node and, with a
// redis-server, on three; every client must end with every publication of
// its room exactly once.
func TestRecoveryScaledDown(t *testing.T) {
	bin := targettest.Build(t, "ripple")
	spec := scenario.Spec{
		Scenario: scenario.Recovery, Conns: 120, RoomSize: 12, MsgRate: 200, Churn: 60,
		Duration: scenario.Duration(1500 * time.Millisecond), Drain: scenario.Duration(10 * time.Second),
		Nodes: []int{1, scenario.ClusterNodes},
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Logf("redis-server not installed (apt-get install -y redis-server): one node only: %v", err)
		spec.Nodes = spec.Nodes[:1]
	}
	srv, err := target.Start("ripple", bin, target.Options{
		LogPath: filepath.Join(t.TempDir(), "ripple.log"),
		Args:    []string{"-history", scenario.RecoveryHistory(spec)},
	})
	if err != nil && strings.Contains(err.Error(), "-history") {
		t.Skipf("SKIP: this ripple has no history yet (-history): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	res, err := scenario.Run(context.Background(), scenario.Options{Spec: spec}, scenario.Target{Name: "ripple", URL: srv.URL, PID: srv.PID})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" {
		t.Skipf("SKIP: this ripple cannot run the scenario yet: %s", res.Skipped)
	}
	if !res.OK {
		t.Fatalf("failures: %v", res.Failures)
	}
	if len(res.Recovery) != len(spec.Nodes) {
		t.Fatalf("%d runs, want %d", len(res.Recovery), len(spec.Nodes))
	}
	var skipped []string
	for _, run := range res.Recovery {
		t.Logf("%d node(s): %s", run.Nodes, scenario.RecoveryLine(run))
		if run.Skipped != "" {
			skipped = append(skipped, fmt.Sprintf("%d nodes: %s", run.Nodes, run.Skipped))
			continue
		}
		if run.Conns != 120 || run.Reconnects == 0 || run.Replayed == 0 || run.Replay.N == 0 || run.Expected == 0 ||
			run.Delivered != run.Expected || run.Missing != 0 || run.Dup != 0 || run.Unrecovered != 0 {
			t.Errorf("%d node(s): %+v", run.Nodes, run)
		}
	}
	if len(skipped) > 0 {
		t.Skipf("SKIP (the other setups passed): %s", strings.Join(skipped, "; "))
	}
}
