package ripple_test

import (
	"context"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix"
)

// History and recovery across the nodes of a cluster (SPEC section 10),
// on a real redis-server.

// TestClusterHistoryRecover is (b): a member of one node disconnects, 50
// publications go out through both nodes, and it recovers on the other.
func TestClusterHistoryRecover(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, ripple.Config{History: histRules})
	recoverScenario(t, nodes[0], nodes[1], nodes[0], "room:b0")
	recoverScenario(t, nodes[1], nodes[0], nodes[0], "room:b1")
}

// TestClusterHistoryEviction is (d) in a cluster: the Redis stream keeps
// only the last publications and each for its TTL.
func TestClusterHistoryEviction(t *testing.T) {
	t.Parallel()
	rules := history.Rules{
		{Pattern: "room:small", Options: history.Options{Size: 10, TTL: time.Minute}},
		{Pattern: "room:brief", Options: history.Options{Size: 100, TTL: 200 * time.Millisecond}},
	}
	nodes := startCluster(t, 2, ripple.Config{History: rules})
	evictionScenario(t, nodes[0], nodes[1])
}

// TestClusterHistoryRedisLoss is (c): Redis restarts without its data, the
// channel gets a new epoch, and a position of the old one does not recover.
func TestClusterHistoryRedisLoss(t *testing.T) {
	t.Parallel()
	r := clustertest.StartRedis(t)
	nodes := []*wstest.Server{
		startClusterNode(t, r.URL(), ripple.Config{History: histRules}, "l0"),
		startClusterNode(t, r.URL(), ripple.Config{History: histRules}, "l1"),
	}
	const topic = "room:loss"
	a := wstest.DialPhx(t, wstest.PhxURL(nodes[0].Addr, phoenix.V2, ""))
	r0 := joinAt(t, a, topic, nil)
	publish(nodes[1], topic, 0, 5)
	got := takePubs(t, a, topic, 5)
	last := got[4].pos
	r.Restart(t) // no persistence: everything is gone
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		res, err := nodes[1].History(ctx, topic, nil, -1)
		if err == nil && res.Top.Epoch != r0.Epoch {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no new epoch after the restart: %+v, %v", res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := wstest.DialPhx(t, wstest.PhxURL(nodes[1].Addr, phoenix.V2, ""))
	rb := joinAt(t, b, topic, &last)
	if rb.Recovered == nil || *rb.Recovered || rb.Epoch == last.Epoch {
		t.Fatalf("recover from %v after losing Redis: %+v", last, rb)
	}
	noMore(t, b, topic)
	// Publications number from 1 in the new epoch, and reach both members.
	publish(nodes[0], topic, 5, 6)
	if p := takePubs(t, b, topic, 1)[0].pos; p.Epoch != rb.Epoch || p.Offset != rb.Offset+1 {
		t.Fatalf("after the loss: %v, want %s:%d", p, rb.Epoch, rb.Offset+1)
	}
}

// TestClusterHistoryConcurrent is (e): three nodes, a publisher on each,
// members dropping and recovering on another node while they publish.
func TestClusterHistoryConcurrent(t *testing.T) {
	t.Parallel()
	concurrentScenario(t, startCluster(t, 3, ripple.Config{History: concurrentRules}))
}
