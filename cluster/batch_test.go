package cluster_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

// patient gives nodes the default liveness timings: these tests are about
// batching, and a machine busy enough to stall a node for testConfig's
// one-second deadline would have it reaped and fenced meanwhile.
func patient(cfg *cluster.Config) {
	cfg.Heartbeat, cfg.Deadline = cluster.DefaultHeartbeat, cluster.DefaultDeadline
}

// countMsgs returns how many presence_diff and presence_state messages
// client id of s got in channel.
func countMsgs(t testing.TB, s *clustertest.Sink, id, channel string) (diffs, states int) {
	t.Helper()
	for _, b := range s.Client(id).Presence[channel] {
		m, err := clustertest.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if m.Event == "presence_diff" {
			diffs++
		} else {
			states++
		}
	}
	return diffs, states
}

// TestPresenceBatches: a burst of joins into one channel, tracked on three
// nodes at once, reaches each node's members as a few merged diffs (one
// per interval once the node's tokens are spent), each tracker gets one
// presence_state (shared with the others of its batch), and every client's
// view equals the list; then second tabs, state changes and untracks of
// the same users, and the views still agree. Both modes.
func TestPresenceBatches(t *testing.T) {
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) { presenceBatches(t, mode) })
	}
}

func presenceBatches(t *testing.T, mode presence.Mode) {
	const (
		ch       = "room:burst"
		perNode  = 100
		interval = 100 * time.Millisecond
	)
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink(), clustertest.NewSink()}
	_, nodes := startClusterWith(t, mode, sinks, func(cfg *cluster.Config) {
		cfg.PresenceInterval = interval
		patient(cfg)
	})
	bs := backends(nodes)
	ids := make([][]string, len(nodes))
	for i, n := range nodes {
		for range perNode {
			id := n.NewConnID()
			n.Connected(id)
			sinks[i].Join(id, ch)
			ids[i] = append(ids[i], id)
		}
	}
	clustertest.SyncAll(t, bs, ch)
	base := make([]cluster.Stats, len(nodes))
	for i, n := range nodes {
		base[i].Events.Store(n.Stats().Events.Load())
		base[i].Diffs.Store(n.Stats().Diffs.Load())
		base[i].States.Store(n.Stats().States.Load())
		base[i].Resyncs.Store(n.Stats().Resyncs.Load())
	}

	// The burst: every node tracks its connections as fast as it can.
	start := time.Now()
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			for j, id := range ids[i] {
				if err := n.Presence().Track(ch, id, fmt.Sprintf("u%d-%d", i, j), map[string]any{"n": i}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	clustertest.SyncAll(t, bs, ch)
	elapsed := time.Since(start)
	events := int64(len(nodes) * perNode)
	for i, n := range nodes {
		s := n.Stats()
		ev, diffs, states := s.Events.Load()-base[i].Events.Load(), s.Diffs.Load()-base[i].Diffs.Load(), s.States.Load()-base[i].States.Load()
		t.Logf("node %d: %d events, %d diffs, %d states for %d local trackers in %v", i, ev, diffs, states, perNode, elapsed.Round(time.Millisecond))
		// Without batching: one diff per event. With it, at most Burst
		// at once, then one per interval, one per Sync (SyncAll makes
		// two), and a corrective one per resync (a node left behind
		// under load loads a snapshot instead of some events).
		bound := int64(presence.DefaultBurst) + int64(elapsed/interval) + 2 + s.Resyncs.Load() - base[i].Resyncs.Load()
		if diffs > bound || diffs*3 > events {
			t.Errorf("node %d sent %d diffs for %d events in %v (bound %d)", i, diffs, events, elapsed, bound)
		}
		if states > bound {
			t.Errorf("node %d sent %d states for %d trackers (bound %d)", i, states, perNode, bound)
		}
		for _, id := range ids[i] {
			d, st := countMsgs(t, sinks[i], id, ch)
			if st != 1 || int64(d) > bound {
				t.Fatalf("node %d: %s got %d states and %d diffs", i, id, st, d)
			}
		}
	}
	list := expectList(t, nodes, ch, int(events))
	for i, s := range sinks {
		clustertest.CheckViews(t, mode, s, ids[i], ch, list)
	}

	// Churn of the same users: second tabs (on another node), state
	// changes, untracks.
	tabs := make([][]string, len(nodes))
	for i, n := range nodes {
		for range perNode / 2 {
			id := n.NewConnID()
			n.Connected(id)
			sinks[i].Join(id, ch)
			tabs[i] = append(tabs[i], id)
		}
	}
	clustertest.SyncAll(t, bs, ch)
	for i, n := range nodes {
		wg.Go(func() {
			p := n.Presence()
			for j, id := range tabs[i] {
				other := (i + 1) % len(nodes)
				err := p.Track(ch, id, fmt.Sprintf("u%d-%d", other, j), nil)
				if err == nil && j%3 == 0 {
					err = p.SetState(ch, ids[i][j], "away")
				}
				if err == nil && j%4 == 1 {
					err = p.Untrack(ch, ids[i][j])
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	clustertest.SyncAll(t, bs, ch)
	list = expectList(t, nodes, ch, int(events))
	for i, s := range sinks {
		var tracked []string
		for j, id := range ids[i] {
			if j%4 != 1 || j >= perNode/2 {
				tracked = append(tracked, id)
			}
		}
		clustertest.CheckViews(t, mode, s, append(tracked, tabs[i]...), ch, list)
		if t.Failed() {
			for _, n := range nodes {
				st := n.Stats()
				t.Logf("%s: fenced %d reaped %d resyncs %d gaps %d corrections %d events %d diffs %d states %d",
					n.ID(), st.Fenced.Load(), st.Reaped.Load(), st.Resyncs.Load(), st.Gaps.Load(), st.Corrections.Load(),
					st.Events.Load(), st.Diffs.Load(), st.States.Load())
			}
			t.FailNow()
		}
	}
}

// expectList returns the list of channel, the same on every node, with
// users users.
func expectList(t *testing.T, nodes []*cluster.Node, channel string, users int) []presence.Presence {
	t.Helper()
	list, err := nodes[0].Presence().List(ctx(t), channel)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != users {
		t.Fatalf("List has %d users, want %d", len(list), users)
	}
	for _, n := range nodes[1:] {
		if c, err := n.Presence().Count(ctx(t), channel); err != nil || c != users {
			t.Fatalf("%s Count %d, %v; want %d", n.ID(), c, err, users)
		}
	}
	return list
}

// TestPresenceQuietChannel: with an interval far longer than the test, a
// quiet channel's changes still go out at once, up to Burst of them; the
// next ones wait and go out merged (here when Sync publishes them).
func TestPresenceQuietChannel(t *testing.T) {
	const ch = "room:quiet"
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink(), clustertest.NewSink()}
	_, nodes := startClusterWith(t, presence.ModeUser, sinks, func(cfg *cluster.Config) {
		cfg.PresenceInterval = time.Hour
		patient(cfg)
	})
	bs := backends(nodes)
	var watchers, trackers []string // one of each per node
	for i, n := range nodes {
		for _, list := range []*[]string{&watchers, &trackers} {
			id := n.NewConnID()
			n.Connected(id)
			sinks[i].Join(id, ch)
			*list = append(*list, id)
		}
	}
	clustertest.SyncAll(t, bs, ch)
	diffsEverywhere := func(want int) bool {
		for i, id := range watchers {
			if d, _ := countMsgs(t, sinks[i], id, ch); d != want {
				return false
			}
		}
		return true
	}
	// Burst changes, one at a time: each reaches every watcher at once.
	for k := range presence.DefaultBurst {
		i := k % len(nodes)
		id := trackers[i]
		if k >= len(nodes) {
			id = nodes[i].NewConnID()
			nodes[i].Connected(id)
			sinks[i].Join(id, ch)
		}
		if err := nodes[i].Presence().Track(ch, id, fmt.Sprintf("u%d", k), nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, fmt.Sprintf("diff %d at every watcher", k+1), func() bool { return diffsEverywhere(k + 1) })
	}
	// The tokens are spent: the next two changes wait, merged.
	for k, n := range nodes[:2] {
		id := n.NewConnID()
		n.Connected(id)
		sinks[k].Join(id, ch)
		if err := n.Presence().Track(ch, id, fmt.Sprintf("late%d", k), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Both in Redis before any Sync publishes what a node has so far.
	eventually(t, 10*time.Second, "both late changes in Redis", func() bool {
		c, err := nodes[2].Presence().Count(ctx(t), ch)
		return err == nil && c == presence.DefaultBurst+2
	})
	clustertest.SyncAll(t, bs, ch)
	for i, id := range watchers {
		msgs := sinks[i].Client(id).Presence[ch]
		if len(msgs) != presence.DefaultBurst+1 {
			t.Fatalf("watcher on node %d got %d diffs, want %d", i, len(msgs), presence.DefaultBurst+1)
		}
		last, err := clustertest.Decode(msgs[len(msgs)-1])
		if err != nil || len(last.Joins) != 2 || len(last.Leaves) != 0 {
			t.Fatalf("watcher on node %d: last diff %s, want the joins of late0 and late1", i, msgs[len(msgs)-1])
		}
	}
	list := expectList(t, nodes, ch, presence.DefaultBurst+2)
	for i, s := range sinks {
		clustertest.CheckViews(t, presence.ModeUser, s, watchers[i:i+1], ch, list)
	}
}
