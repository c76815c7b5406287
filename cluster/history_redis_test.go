package cluster_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/history/historytest"
	"github.com/ripple-rt/ripple/presence"
)

// followChannel makes a new connection of n a member of channel and
// returns once n follows the channel (its subscription confirmed, its view
// loaded).
func followChannel(t testing.TB, n *cluster.Node, s *clustertest.Sink, channel string) {
	t.Helper()
	id := n.NewConnID()
	s.Add(id)
	n.Connected(id)
	s.Join(id, channel)
	if err := n.Presence().Sync(ctx(t), channel); err != nil {
		t.Fatalf("follow %s: %v", channel, err)
	}
}

func TestHistoryBackendSuite(t *testing.T) {
	historytest.BackendSuite(t, func(t *testing.T) historytest.Harness {
		s := clustertest.NewSink()
		_, nodes := startCluster(t, presence.ModeUser, 0, []*clustertest.Sink{s})
		n := nodes[0]
		return historytest.Harness{
			Backend: n.History(),
			Sink:    s.History,
			Follow:  func(t testing.TB, ch string) { followChannel(t, n, s, ch) },
		}
	})
}

var histOpts = history.Options{Size: 1000, TTL: time.Minute}

// readAll reads channel's whole history through n.
func readAll(t testing.TB, n *cluster.Node, channel string, since *history.Position) history.Result {
	t.Helper()
	res, err := n.History().Read(ctx(t), channel, histOpts, since, 0)
	if err != nil {
		t.Fatalf("Read %s: %v", channel, err)
	}
	return res
}

// checkSequence fails unless got is offsets 1..len(got) of one epoch, each
// once, in order.
func checkSequence(t testing.TB, who string, got []historytest.Delivery) {
	t.Helper()
	for i, d := range got {
		if d.Pos.Offset != uint64(i+1) || d.Pos.Epoch != got[0].Pos.Epoch {
			t.Fatalf("%s: delivery %d at %v, want %s:%d", who, i, d.Pos, got[0].Pos.Epoch, i+1)
		}
	}
}

func historyStats(n *cluster.Node) string {
	s := n.Stats()
	return fmt.Sprintf("%s: publications %d gaps %d filled %d lost %d", n.ID(), s.Publications.Load(),
		s.HistoryGaps.Load(), s.HistoryFilled.Load(), s.HistoryLost.Load())
}

// TestHistoryTwoNodes: publishers on two nodes interleave; both nodes
// deliver the one sequence Redis numbered, equal to what a Read returns,
// each publisher's publications in its order.
func TestHistoryTwoNodes(t *testing.T) {
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink()}
	_, nodes := startCluster(t, presence.ModeUser, 0, sinks)
	const ch, writers, each = "room:h", 3, 100
	for i, n := range nodes {
		followChannel(t, n, sinks[i], ch)
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					n.History().Publish(ch, histOpts, k%7 == 0, fmt.Appendf(nil, "%d/%d/%d", i, w, k))
				}
			}()
		}
	}
	wg.Wait()
	const total = 2 * writers * each
	a := sinks[0].History.Wait(t, ch, total)
	b := sinks[1].History.Wait(t, ch, total)
	res := readAll(t, nodes[1], ch, nil)
	if len(a) != total || len(b) != total || len(res.Publications) != total || res.Top.Offset != total {
		t.Fatalf("delivered %d and %d, read %d (top %v), want %d", len(a), len(b), len(res.Publications), res.Top, total)
	}
	if !slices.Equal(a, b) {
		t.Fatal("the nodes delivered different sequences")
	}
	checkSequence(t, "node0", a)
	last := map[string]int{}
	for i, d := range a {
		p := res.Publications[i]
		if d.Pos.Epoch != res.Top.Epoch || p.Offset != d.Pos.Offset || string(p.Payload) != d.Payload || p.Binary != d.Binary {
			t.Fatalf("delivery %d %+v, read %d %q binary %v", i, d, p.Offset, p.Payload, p.Binary)
		}
		var node, w, k int
		fmt.Sscanf(d.Payload, "%d/%d/%d", &node, &w, &k)
		if d.Binary != (k%7 == 0) {
			t.Fatalf("delivery %d: binary %v for %q", i, d.Binary, d.Payload)
		}
		who := fmt.Sprint(node, "/", w)
		if prev, ok := last[who]; ok && k != prev+1 {
			t.Fatalf("publisher %s: %d after %d", who, k, prev)
		}
		last[who] = k
	}
	for _, n := range nodes {
		t.Log(historyStats(n))
	}
}

// TestHistoryRedisRestart: Redis restarts without its data; the channel
// gets a new epoch, a position of the old one no longer recovers, and both
// nodes deliver the new epoch from its first offset.
func TestHistoryRedisRestart(t *testing.T) {
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink()}
	r, nodes := startCluster(t, presence.ModeUser, 0, sinks)
	const ch = "room:restart"
	for i, n := range nodes {
		followChannel(t, n, sinks[i], ch)
	}
	for i := range 3 {
		nodes[0].History().Publish(ch, histOpts, false, fmt.Appendf(nil, "before %d", i))
	}
	old := sinks[1].History.Wait(t, ch, 3)[2].Pos
	sinks[0].History.Wait(t, ch, 3)
	r.Restart(t)
	var res history.Result
	eventually(t, 10*time.Second, "a read after the restart", func() bool {
		var err error
		res, err = nodes[1].History().Read(ctx(t), ch, histOpts, &old, 0)
		return err == nil
	})
	if res.Recovered || len(res.Publications) != 0 || res.Top.Epoch == old.Epoch || res.Top.Offset != 0 {
		t.Fatalf("read since %v after the restart: %+v", old, res)
	}
	nodes[0].History().Publish(ch, histOpts, false, []byte("after"))
	want := historytest.Delivery{Pos: history.Position{Epoch: res.Top.Epoch, Offset: 1}, Payload: "after"}
	for i, s := range sinks {
		got := s.History.Wait(t, ch, 4)
		if len(got) != 4 || got[3] != want {
			t.Fatalf("node%d delivered %+v after the restart, want %+v", i, got[3:], want)
		}
	}
	if res := readAll(t, nodes[0], ch, &res.Top); !res.Recovered || len(res.Publications) != 1 {
		t.Fatalf("recover from the new epoch's start: %+v", res)
	}
}

// TestHistoryIdleEpoch: a channel idle past its TTL loses its history in
// Redis; its next publication starts a new epoch at offset 1, which every
// node delivers.
func TestHistoryIdleEpoch(t *testing.T) {
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink()}
	r, nodes := startCluster(t, presence.ModeUser, 0, sinks)
	const ch = "room:idle"
	o := history.Options{Size: 10, TTL: 200 * time.Millisecond}
	for i, n := range nodes {
		followChannel(t, n, sinks[i], ch)
	}
	nodes[0].History().Publish(ch, o, false, []byte("first"))
	first := sinks[1].History.Wait(t, ch, 1)[0].Pos
	admin := r.Client(t)
	eventually(t, 10*time.Second, "the channel's history to expire", func() bool {
		k, err := admin.Exists(ctx(t), cluster.DefaultPrefix+"hm:"+ch, cluster.DefaultPrefix+"h:"+ch).Result()
		return err == nil && k == 0
	})
	nodes[1].History().Publish(ch, o, false, []byte("second"))
	for i, s := range sinks {
		got := s.History.Wait(t, ch, 2)
		if len(got) != 2 || got[0].Pos != first || got[1].Pos.Offset != 1 || got[1].Pos.Epoch == first.Epoch || got[1].Payload != "second" {
			t.Fatalf("node%d delivered %+v", i, got)
		}
	}
}

// offsetOf returns the offset of a P message, "" for any other message.
func offsetOf(msg string) string {
	f := strings.Split(msg, "\x00")
	if len(f) < 3 || f[0] != "P" {
		return ""
	}
	return f[2]
}

// TestHistoryGap: a publication lost by a node's pub/sub (as when go-redis
// drops it) is delivered from the stream: when the next one arrives out of
// order, or, when it was the last one, by the verify. The node's members
// get every offset once, in order.
func TestHistoryGap(t *testing.T) {
	for _, last := range []bool{false, true} {
		t.Run(fmt.Sprintf("last=%v", last), func(t *testing.T) {
			sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink()}
			_, nodes := startCluster(t, presence.ModeUser, 0, sinks)
			a, b := nodes[0], nodes[1]
			const ch = "room:gap"
			for i, n := range nodes {
				followChannel(t, n, sinks[i], ch)
			}
			var once sync.Once
			b.DropEvents(func(_, msg string) bool {
				dropped := false
				if offsetOf(msg) == "2" {
					once.Do(func() { dropped = true })
				}
				return dropped
			})
			n := 3
			if last {
				n = 2
			}
			for i := range n {
				a.History().Publish(ch, histOpts, false, fmt.Appendf(nil, "m%d", i+1))
			}
			sinks[1].History.Wait(t, ch, n)
			// One more, so that a publication delivered twice would show.
			a.History().Publish(ch, histOpts, false, []byte("end"))
			for i, s := range sinks {
				got := s.History.Wait(t, ch, n+1)
				if len(got) != n+1 {
					t.Fatalf("node%d delivered %d, want %d", i, len(got), n+1)
				}
				checkSequence(t, fmt.Sprint("node", i), got)
			}
			st := b.Stats()
			if st.HistoryGaps.Load() < 1 || st.HistoryFilled.Load() != 1 || st.HistoryLost.Load() != 0 {
				t.Fatal(historyStats(b))
			}
		})
	}
}

// TestHistoryPubSubReconnect: the pub/sub connections are killed while a
// node publishes; each node fills what it missed when it resubscribes, and
// delivers every offset once, in order.
func TestHistoryPubSubReconnect(t *testing.T) {
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink()}
	r, nodes := startCluster(t, presence.ModeUser, 0, sinks)
	const ch, total = "room:reconnect", 40
	for i, n := range nodes {
		followChannel(t, n, sinks[i], ch)
	}
	admin := r.Client(t)
	for i := range total {
		if i == total/4 {
			if err := admin.ClientKillByFilter(ctx(t), "TYPE", "pubsub").Err(); err != nil {
				t.Fatal(err)
			}
		}
		nodes[0].History().Publish(ch, histOpts, false, fmt.Appendf(nil, "m%d", i))
	}
	for i, s := range sinks {
		got := s.History.Wait(t, ch, total)
		checkSequence(t, fmt.Sprint("node", i), got)
		if len(got) != total {
			t.Fatalf("node%d delivered %d, want %d", i, len(got), total)
		}
	}
	for _, n := range nodes {
		t.Log(historyStats(n))
	}
}

// TestHistoryPublishOnce: the publish script counts a publication sent
// twice (its pipeline sent again) once; another process of the same node
// starts its own sequence.
func TestHistoryPublishOnce(t *testing.T) {
	s := clustertest.NewSink()
	_, nodes := startCluster(t, presence.ModeUser, 0, []*clustertest.Sink{s})
	n := nodes[0]
	const ch = "room:once"
	followChannel(t, n, s, ch)
	steps := []struct {
		proc string
		seq  uint64
		want int64
	}{
		{"proc1", 1, 1},
		{"proc1", 1, 0}, // sent again
		{"proc1", 12, 2},
		{"proc1", 9, 0}, // an older one
		{"proc2", 1, 3}, // a new process
		{"proc2", 2, 4},
	}
	for i, st := range steps {
		got, err := n.PublishHistoryAs(ctx(t), ch, histOpts, st.proc, st.seq, fmt.Appendf(nil, "%s/%d", st.proc, st.seq))
		if err != nil || got != st.want {
			t.Fatalf("step %d (%s:%d): offset %d, %v; want %d", i, st.proc, st.seq, got, err, st.want)
		}
	}
	got := s.History.Wait(t, ch, 4)
	checkSequence(t, "node0", got)
	if res := readAll(t, n, ch, nil); len(res.Publications) != 4 || len(got) != 4 {
		t.Fatalf("read %d, delivered %d, want 4", len(res.Publications), len(got))
	}
}

// TestHistoryRetained: a read fetches only the publications Recover may
// return; what it hands Recover gives the same result as the whole
// retained history would.
func TestHistoryRetained(t *testing.T) {
	const epoch, top = "e", 5
	pub := func(off uint64) history.Publication {
		return history.Publication{Offset: off, Payload: fmt.Appendf(nil, "p%d", off)}
	}
	var sinces []*history.Position
	sinces = append(sinces, nil, &history.Position{Epoch: "other", Offset: 3})
	for off := range uint64(top + 3) {
		sinces = append(sinces, &history.Position{Epoch: epoch, Offset: off})
	}
	for _, first := range []uint64{1, 3, top, top + 1} {
		var all []history.Publication
		for off := first; off <= top; off++ {
			all = append(all, pub(off))
		}
		for _, since := range sinces {
			for _, limit := range []int{-1, 0, 1, 2, 10} {
				// What the read script sends: from max(since+1, first)
				// on, limit of them; none for limit < 0 or another epoch.
				var fetched []history.Publication
				if limit >= 0 && (since == nil || since.Epoch == epoch) {
					from := first
					if since != nil {
						from = max(from, since.Offset+1)
					}
					for off := from; off <= top && (limit == 0 || len(fetched) < limit); off++ {
						fetched = append(fetched, pub(off))
					}
				}
				pos := history.Position{Epoch: epoch, Offset: top}
				got := history.Recover(pos, cluster.Retained(pos, first, fetched, since, limit), since, limit)
				want := history.Recover(pos, all, since, limit)
				if len(got.Publications) == 0 && len(want.Publications) == 0 {
					got.Publications, want.Publications = nil, nil
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("first %d since %v limit %d: got %+v, want %+v", first, since, limit, got, want)
				}
			}
		}
	}
}
