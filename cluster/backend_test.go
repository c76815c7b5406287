package cluster_test

import (
	"testing"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

// memoryFactory: every "node" shares one presence.Registry; its messages go
// to every sink, which keeps what concerns its own connections.
func memoryFactory(t *testing.T, mode presence.Mode, maxStale int, sinks []*clustertest.Sink) []cluster.Backend {
	reg := presence.New(presence.Config{Mode: mode, MaxStaleRefs: maxStale})
	deliver := func(ch string, state []byte, tracker string, diff []byte, exclude string) {
		for _, s := range sinks {
			s.DeliverPresence(ch, state, tracker, diff, exclude)
		}
	}
	out := make([]cluster.Backend, len(sinks))
	for i := range sinks {
		out[i] = cluster.NewMemoryPresenceFunc(reg, deliver)
	}
	return out
}

func redisFactory(t *testing.T, mode presence.Mode, maxStale int, sinks []*clustertest.Sink) []cluster.Backend {
	_, nodes := startCluster(t, mode, maxStale, sinks)
	return backends(nodes)
}

func TestBackendSuite(t *testing.T) {
	t.Run("backend=memory", func(t *testing.T) { clustertest.BackendSuite(t, memoryFactory) })
	t.Run("backend=redis", func(t *testing.T) { clustertest.BackendSuite(t, redisFactory) })
}
