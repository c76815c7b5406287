package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

// testConfig is a node configuration with short timings, so deaths and
// resyncs happen within a test's patience.
func testConfig(url string, local cluster.Local, mode presence.Mode) cluster.Config {
	return cluster.Config{
		URL:            url,
		Local:          local,
		PresenceMode:   mode,
		Heartbeat:      100 * time.Millisecond,
		Deadline:       time.Second,
		VerifyInterval: 200 * time.Millisecond,
		Timeout:        2 * time.Second,
		Logger:         quietLogger(),
	}
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{}

func (testWriter) Write(b []byte) (int, error) { fmt.Print(string(b)); return len(b), nil }

// startNode starts a node and closes it when the test ends.
func startNode(t testing.TB, cfg cluster.Config) *cluster.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := cluster.New(ctx, cfg)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// startCluster starts one node per sink on a new redis-server.
func startCluster(t testing.TB, mode presence.Mode, maxStale int, sinks []*clustertest.Sink) (*clustertest.Redis, []*cluster.Node) {
	t.Helper()
	return startClusterWith(t, mode, sinks, func(cfg *cluster.Config) { cfg.MaxStaleRefs = maxStale })
}

// startClusterWith is startCluster with each node's configuration changed
// by set.
func startClusterWith(t testing.TB, mode presence.Mode, sinks []*clustertest.Sink, set func(*cluster.Config)) (*clustertest.Redis, []*cluster.Node) {
	t.Helper()
	r := clustertest.StartRedis(t)
	var nodes []*cluster.Node
	for i, s := range sinks {
		cfg := testConfig(r.URL(), s, mode)
		cfg.NodeID = fmt.Sprintf("node%d", i)
		set(&cfg)
		n := startNode(t, cfg)
		s.SetMembership(n)
		nodes = append(nodes, n)
	}
	return r, nodes
}

func backends(nodes []*cluster.Node) []presence.Backend {
	out := make([]presence.Backend, len(nodes))
	for i, n := range nodes {
		out[i] = n.Presence()
	}
	return out
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctx(t testing.TB) context.Context { return clustertest.Ctx(t) }

// testInterval is the PresenceInterval of the tests that run batched too:
// short, so that batches go out by their timer as well as by Sync.
const testInterval = 20 * time.Millisecond

// batchCase is a presence mode, without batching (interval 0) or with.
type batchCase struct {
	name     string
	mode     presence.Mode
	interval time.Duration
}

// modesAndBatching lists both presence modes, each without batching and
// with testInterval.
func modesAndBatching() []batchCase {
	var out []batchCase
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		for _, iv := range []time.Duration{0, testInterval} {
			out = append(out, batchCase{fmt.Sprintf("mode=%s/interval=%v", mode, iv), mode, iv})
		}
	}
	return out
}
