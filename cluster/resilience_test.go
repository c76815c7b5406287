package cluster_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

// world is two or three nodes with one tracked connection per user listed,
// each connection a member of room.
type world struct {
	r     *clustertest.Redis
	nodes []*cluster.Node
	sinks []*clustertest.Sink
	conns [][]string // per node
	room  string
}

func newWorld(t *testing.T, mode presence.Mode, users ...[]string) *world {
	return newBatchedWorld(t, mode, 0, users...)
}

// newBatchedWorld is newWorld with nodes batching presence messages with
// interval.
func newBatchedWorld(t *testing.T, mode presence.Mode, interval time.Duration, users ...[]string) *world {
	w := &world{room: "room:w"}
	for range users {
		w.sinks = append(w.sinks, clustertest.NewSink())
	}
	w.r, w.nodes = startClusterWith(t, mode, w.sinks, func(cfg *cluster.Config) { cfg.PresenceInterval = interval })
	for i, us := range users {
		var ids []string
		for range us {
			id := w.nodes[i].NewConnID()
			w.nodes[i].Connected(id)
			w.sinks[i].Join(id, w.room)
			ids = append(ids, id)
		}
		w.conns = append(w.conns, ids)
	}
	w.sync(t)
	for i, us := range users {
		for j, u := range us {
			if err := w.nodes[i].Presence().Track(w.room, w.conns[i][j], u, map[string]any{"n": i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.sync(t)
	return w
}

func (w *world) sync(t *testing.T) { t.Helper(); clustertest.SyncAll(t, backends(w.nodes), w.room) }

func (w *world) users(t *testing.T, n *cluster.Node) string {
	t.Helper()
	l, err := n.Presence().List(ctx(t), w.room)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range l {
		s = append(s, fmt.Sprintf("%s×%d", p.UserID, len(p.Metas)))
	}
	return fmt.Sprint(s)
}

// agree waits until every node lists want, then checks every client's view.
func (w *world) agree(t *testing.T, mode presence.Mode, want string, within time.Duration) {
	t.Helper()
	eventually(t, within, "every node to list "+want, func() bool {
		for _, n := range w.nodes {
			if got := w.users(t, n); got != want {
				if testing.Verbose() {
					t.Logf("%s lists %s", n.ID(), got)
				}
				return false
			}
		}
		return true
	})
	w.sync(t)
	list, err := w.nodes[0].Presence().List(ctx(t), w.room)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range w.sinks {
		clustertest.CheckViews(t, mode, s, w.conns[i], w.room, list)
	}
}

// TestFenced: a node paused past its deadline is reaped by the others (one
// leave per user), then fences itself and re-announces its connections
// under a new incarnation (joins), and every view ends right.
func TestFenced(t *testing.T) {
	for _, c := range modesAndBatching() {
		mode := c.mode
		t.Run(c.name, func(t *testing.T) {
			w := newBatchedWorld(t, mode, c.interval, []string{"alice", "shared"}, []string{"bob", "shared"})
			a, b := w.nodes[0], w.nodes[1]
			const all = "[alice×1 bob×1 shared×2]"
			w.agree(t, mode, all, 5*time.Second)
			inc := a.Incarnation()
			a.PauseHeartbeat(true)
			eventually(t, 5*time.Second, "B to reap A", func() bool {
				return w.users(t, b) == "[bob×1 shared×1]"
			})
			if c, _ := b.Count(ctx(t)); c != 2 {
				t.Fatalf("Count while A is dead = %d, want 2", c)
			}
			a.PauseHeartbeat(false)
			w.agree(t, mode, all, 5*time.Second)
			if a.Incarnation() == inc || a.Stats().Fenced.Load() != 1 || b.Stats().Reaped.Load() != 1 {
				t.Fatalf("incarnation %s -> %s, fenced %d, reaped %d", inc, a.Incarnation(),
					a.Stats().Fenced.Load(), b.Stats().Reaped.Load())
			}
			eventually(t, 5*time.Second, "A's connections back in Count", func() bool {
				c, err := b.Count(ctx(t))
				return err == nil && c == 4
			})
			// And its memberships, in the room's own count.
			eventually(t, 5*time.Second, "A's members back in CountIn", func() bool {
				c, err := b.CountIn(ctx(t), w.room)
				return err == nil && c == 4
			})
			// A works normally under its new incarnation.
			if err := a.Presence().Untrack(w.room, w.conns[0][0]); err != nil {
				t.Fatal(err)
			}
			w.agree(t, mode, "[bob×1 shared×2]", 5*time.Second)
		})
	}
}

// TestRedisRestart: SHUTDOWN NOSAVE then a new redis-server on the same
// port. Every node resyncs (one corrective diff where its clients hold
// something Redis lost) and re-announces its connections; every view ends
// right.
func TestRedisRestart(t *testing.T) {
	w := newWorld(t, presence.ModeUser, []string{"alice", "shared"}, []string{"bob", "shared"}, []string{"carol"})
	const all = "[alice×1 bob×1 carol×1 shared×2]"
	w.agree(t, presence.ModeUser, all, 5*time.Second)
	w.r.Restart(t)
	w.agree(t, presence.ModeUser, all, 10*time.Second)
	for _, n := range w.nodes {
		s := n.Stats()
		if s.Fenced.Load() < 1 || s.Resyncs.Load() < 1 {
			t.Errorf("%s: fenced %d, resyncs %d", n.ID(), s.Fenced.Load(), s.Resyncs.Load())
		}
		t.Logf("%s: fenced %d resyncs %d corrections %d retries %d", n.ID(), s.Fenced.Load(),
			s.Resyncs.Load(), s.Corrections.Load(), s.Retries.Load())
	}
	// And everything works afterwards.
	if err := w.nodes[2].Presence().Untrack(w.room, w.conns[2][0]); err != nil {
		t.Fatal(err)
	}
	w.agree(t, presence.ModeUser, "[alice×1 bob×1 shared×2]", 5*time.Second)
	if c, err := w.nodes[0].Count(ctx(t)); err != nil || c != 5 {
		t.Fatalf("Count after the restart = %d, %v", c, err)
	}
}

// TestGap: a presence event lost by one node (as when go-redis drops it)
// is detected by the next event's sequence, or, when it was the last one,
// by the periodic check; the node resyncs and emits one corrective diff.
func TestGap(t *testing.T) {
	for _, c := range []struct {
		last     bool
		interval time.Duration
	}{{false, 0}, {true, 0}, {false, testInterval}, {true, testInterval}} {
		last := c.last
		t.Run(fmt.Sprintf("last=%v/interval=%v", last, c.interval), func(t *testing.T) {
			w := newBatchedWorld(t, presence.ModeUser, c.interval, []string{"alice"}, []string{"bob"})
			a, b := w.nodes[0], w.nodes[1]
			var once sync.Once
			b.DropEvents(func(string, string) bool {
				dropped := false
				once.Do(func() { dropped = true })
				return dropped
			})
			carol, dave := a.NewConnID(), a.NewConnID()
			w.sinks[0].Add(carol)
			w.sinks[0].Join(carol, w.room)
			w.sinks[0].Add(dave)
			w.sinks[0].Join(dave, w.room)
			w.conns[0] = append(w.conns[0], carol)
			w.sync(t)
			mark := len(w.sinks[1].Client(w.conns[1][0]).Presence[w.room])
			if err := a.Presence().Track(w.room, carol, "carol", nil); err != nil { // dropped on B
				t.Fatal(err)
			}
			want := "[alice×1 bob×1 carol×1]"
			if !last {
				if err := a.Presence().Track(w.room, dave, "dave", nil); err != nil {
					t.Fatal(err)
				}
				w.conns[0] = append(w.conns[0], dave)
				want = "[alice×1 bob×1 carol×1 dave×1]"
			}
			w.agree(t, presence.ModeUser, want, 5*time.Second)
			s := b.Stats()
			if s.Gaps.Load() < 1 || s.Resyncs.Load() < 1 || s.Corrections.Load() != 1 {
				t.Fatalf("gaps %d resyncs %d corrections %d", s.Gaps.Load(), s.Resyncs.Load(), s.Corrections.Load())
			}
			// bob's client got exactly one message for the two changes: the
			// correction (or for the last-event case, the correction alone).
			got := w.sinks[1].Client(w.conns[1][0]).Presence[w.room][mark:]
			if len(got) != 1 {
				t.Fatalf("bob got %d messages after the drop, want 1 corrective diff:\n%q", len(got), got)
			}
		})
	}
}

// TestVerifyQuiet: the periodic check finds the views of quiet channels
// in step with Redis, with presences or without, so it resyncs none; more
// channels than one script call reads, so every call's answers land on
// their own channels.
func TestVerifyQuiet(t *testing.T) {
	w := newWorld(t, presence.ModeUser, []string{"alice"}, []string{"bob"})
	a, b := w.nodes[0], w.nodes[1]
	alice, bob := w.conns[0][0], w.conns[1][0]
	chans := []string{w.room}
	for i := range 1100 {
		ch := fmt.Sprintf("q%d", i)
		chans = append(chans, ch)
		w.sinks[0].Join(alice, ch)
		w.sinks[1].Join(bob, ch)
		if i%2 == 0 { // every other channel has a presence
			if err := a.Presence().Track(ch, alice, "alice", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	clustertest.SyncAll(t, backends(w.nodes), chans...)
	resyncs, verifies := b.Stats().Resyncs.Load(), b.Stats().Verifies.Load()
	eventually(t, 10*time.Second, "three more checks", func() bool { return b.Stats().Verifies.Load() >= verifies+3 })
	if got := b.Stats().Resyncs.Load(); got != resyncs {
		t.Fatalf("%d resyncs over three checks of channels in step, want none", got-resyncs)
	}
}

// TestPubSubReconnect: the pub/sub connections are killed and an event is
// published while they are down; every node resyncs when go-redis
// resubscribes.
func TestPubSubReconnect(t *testing.T) {
	w := newWorld(t, presence.ModeUser, []string{"alice"}, []string{"bob"})
	a, b := w.nodes[0], w.nodes[1]
	admin := w.r.Client(t)
	if err := admin.ClientKillByFilter(ctx(t), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	carol := a.NewConnID()
	w.sinks[0].Add(carol)
	w.sinks[0].Join(carol, w.room)
	w.conns[0] = append(w.conns[0], carol)
	if err := a.Presence().Track(w.room, carol, "carol", nil); err != nil {
		t.Fatal(err)
	}
	w.agree(t, presence.ModeUser, "[alice×1 bob×1 carol×1]", 10*time.Second)
	if b.Stats().Resyncs.Load() < 1 {
		t.Fatalf("B did not resync after its reconnect")
	}
}

// TestChurnWithDrops is the 3-node churn with every node dropping 3% of
// the presence events it receives: gaps are detected and corrected, and the
// final state still equals every client's rebuilt view.
func TestChurnWithDrops(t *testing.T) {
	for _, c := range modesAndBatching() {
		mode := c.mode
		t.Run(c.name, func(t *testing.T) {
			sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink(), clustertest.NewSink()}
			// No node dies here: a liveness deadline of a second would let
			// a busy test machine reap and fence one mid-check.
			_, nodes := startClusterWith(t, mode, sinks, func(cfg *cluster.Config) {
				cfg.PresenceInterval = c.interval
				cfg.Deadline = cluster.DefaultDeadline
			})
			var gaps int64
			for i, n := range nodes {
				var mu sync.Mutex
				rng := rand.New(rand.NewPCG(7, uint64(i)))
				n.DropEvents(func(string, string) bool {
					mu.Lock()
					defer mu.Unlock()
					return rng.Float64() < 0.03
				})
			}
			clustertest.Churn(t, clustertest.ChurnConfig{Mode: mode, Seed: 11}, backends(nodes), sinks)
			for _, n := range nodes {
				gaps += n.Stats().Gaps.Load()
			}
			if gaps == 0 {
				t.Fatal("no gap detected: the test dropped nothing?")
			}
			t.Logf("gaps detected and resynced: %d", gaps)
		})
	}
}

// TestQueueOverflow: Redis stalls (CLIENT PAUSE) while the node queues far
// more writes than MaxQueue; room messages are dropped, state writes are
// replaced by a re-announce, and the cluster state ends equal to the node's.
func TestQueueOverflow(t *testing.T) {
	r := clustertest.StartRedis(t)
	s := clustertest.NewSink()
	cfg := testConfig(r.URL(), s, presence.ModeUser)
	cfg.MaxQueue = 50
	cfg.Deadline = 3 * time.Second // the pause must not kill the node
	n := startNode(t, cfg)
	s.SetMembership(n)
	const room = "room:burst"
	first := n.NewConnID()
	s.Add(first)
	n.Connected(first)
	s.Join(first, room)
	if err := n.Presence().Sync(ctx(t), room); err != nil {
		t.Fatal(err)
	}
	admin := r.Client(t)
	if err := admin.Do(ctx(t), "CLIENT", "PAUSE", "500", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	ids := []string{first}
	for i := 0; i < 200; i++ {
		id := n.NewConnID()
		s.Add(id)
		n.Connected(id)
		s.Join(id, room)
		if err := n.Presence().Track(room, id, fmt.Sprintf("u%03d", i), nil); err != nil {
			t.Fatal(err)
		}
		n.PublishRoom([]string{room}, false, []byte("x"))
		ids = append(ids, id)
	}
	if err := n.Presence().Track(room, first, "first", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the re-announced state", func() bool {
		c, err1 := n.Count(ctx(t))
		k, err2 := n.Presence().Count(ctx(t), room)
		in, err3 := n.ClientsIn(ctx(t), room)
		return err1 == nil && err2 == nil && err3 == nil && c == len(ids) && k == len(ids) && len(in) == len(ids)
	})
	st := n.Stats()
	if st.Fenced.Load() < 1 || st.Dropped.Load() < 1 {
		t.Fatalf("fenced %d dropped %d: the queue did not overflow", st.Fenced.Load(), st.Dropped.Load())
	}
	t.Logf("dropped %d room messages, re-announced %d times", st.Dropped.Load(), st.Fenced.Load())
	if err := n.Presence().Sync(ctx(t), room); err != nil {
		t.Fatal(err)
	}
	list, err := n.Presence().List(ctx(t), room)
	if err != nil {
		t.Fatal(err)
	}
	clustertest.CheckViews(t, presence.ModeUser, s, ids, room, list)
}

// TestCloseWithoutRedis: Close returns even when Redis is gone.
func TestCloseWithoutRedis(t *testing.T) {
	r := clustertest.StartRedis(t)
	cfg := testConfig(r.URL(), cluster.NopLocal{}, presence.ModeUser)
	cfg.Timeout = 300 * time.Millisecond
	n := startNode(t, cfg)
	id := n.NewConnID()
	n.Connected(id)
	r.Stop()
	n.Joined(id, "room")
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- n.Close() }()
	select {
	case <-done:
		t.Logf("Close returned after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs without Redis")
	}
}
