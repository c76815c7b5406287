package cluster_test

import (
	"testing"
	"time"

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

func redisFactory(t *testing.T, mode presence.Mode, maxStale int, sinks []*clustertest.Sink) []presence.Backend {
	_, nodes := startCluster(t, mode, maxStale, sinks)
	return backends(nodes)
}

func TestBackendSuite(t *testing.T) {
	t.Run("backend=memory", func(t *testing.T) { clustertest.BackendSuite(t, memoryFactory(0)) })
	t.Run("backend=memory/batched", func(t *testing.T) { clustertest.BackendSuite(t, memoryFactory(2*time.Millisecond)) })
	t.Run("backend=redis", func(t *testing.T) { clustertest.BackendSuite(t, redisFactory) })
}
