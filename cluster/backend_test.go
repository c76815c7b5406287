package cluster_test

import (
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

// memoryFactory: every "node" shares one presence.Registry; its messages go
// to every sink, which keeps what concerns its own connections.
//
// It is the single server's backend, presence.Memory, as the engine makes
// it: batched (a 2 ms interval, so Sync has batches to publish) or not.
func memoryFactory(interval time.Duration) clustertest.Factory {
	return func(t *testing.T, mode presence.Mode, maxStale int, sinks []*clustertest.Sink) []presence.Backend {
		deliver := presence.SinkFunc(func(ch string, state []byte, trackers []string, diff []byte) {
			for _, s := range sinks {
				s.DeliverPresence(ch, state, trackers, diff)
			}
		})
		m := presence.NewMemory(presence.Config{Mode: mode, MaxStaleRefs: maxStale, Interval: interval}, deliver)
		out := make([]presence.Backend, len(sinks))
		for i := range sinks {
			out[i] = m
		}
		return out
	}
}

// redisFactory: one node per sink on one redis-server, batching with
// interval (0: every event at once; 2 ms gives Sync batches to publish).
func redisFactory(interval time.Duration) clustertest.Factory {
	return func(t *testing.T, mode presence.Mode, maxStale int, sinks []*clustertest.Sink) []presence.Backend {
		_, nodes := startClusterWith(t, mode, sinks, func(cfg *cluster.Config) {
			cfg.MaxStaleRefs = maxStale
			cfg.PresenceInterval = interval
		})
		t.Cleanup(func() {
			if t.Failed() {
				for _, n := range nodes {
					s := n.Stats()
					t.Logf("%s: fenced %d reaped %d resyncs %d gaps %d corrections %d events %d diffs %d states %d",
						n.ID(), s.Fenced.Load(), s.Reaped.Load(), s.Resyncs.Load(), s.Gaps.Load(), s.Corrections.Load(),
						s.Events.Load(), s.Diffs.Load(), s.States.Load())
				}
			}
		})
		return backends(nodes)
	}
}

func TestBackendSuite(t *testing.T) {
	t.Run("backend=memory", func(t *testing.T) { clustertest.BackendSuite(t, memoryFactory(0)) })
	t.Run("backend=memory/batched", func(t *testing.T) { clustertest.BackendSuite(t, memoryFactory(2*time.Millisecond)) })
	t.Run("backend=redis", func(t *testing.T) { clustertest.BackendSuite(t, redisFactory(0)) })
	t.Run("backend=redis/batched", func(t *testing.T) { clustertest.BackendSuite(t, redisFactory(2*time.Millisecond)) })
}
