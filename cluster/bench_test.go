package cluster_test

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

// countingLocal counts room deliveries and presence diffs.
type countingLocal struct {
	cluster.NopLocal
	rooms, diffs atomic.Int64
}

func (c *countingLocal) DeliverRoom([]string, bool, []byte) { c.rooms.Add(1) }
func (c *countingLocal) DeliverPresence(_ string, _ []byte, _ []string, diff []byte) {
	if diff != nil {
		c.diffs.Add(1)
	}
}

// window bounds the messages in flight, so a benchmark measures sustained
// throughput instead of filling the node's queue.
const window = 5000

func waitCount(b *testing.B, c *atomic.Int64, want int64) {
	deadline := time.Now().Add(30 * time.Second)
	for c.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("got %d of %d deliveries", c.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkConnectJoin: a node registers connections and makes each a
// member of one of 1,000 channels, as a ramp of connections does; the time
// and allocations are per connection, until Redis has them. every: the
// connections between two waits for Redis (1: each its own round trip, as
// on a node that gets a connection at a time).
func BenchmarkConnectJoin(b *testing.B) {
	for _, every := range []int{1, 100} {
		b.Run(fmt.Sprintf("every=%d", every), func(b *testing.B) {
			r := clustertest.StartRedis(b)
			n := startNode(b, testConfig(r.URL(), cluster.NopLocal{}, presence.ModeUser))
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = n.NewConnID()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i, id := range ids {
				n.Connected(id)
				n.Joined(id, "c"+strconv.Itoa(i%1000))
				if (i+1)%every == 0 {
					flush(b, n)
				}
			}
			flush(b, n)
		})
	}
}

// BenchmarkPublishRoom: one node publishes room messages that another node
// delivers; the time is until the last one arrived.
func BenchmarkPublishRoom(b *testing.B) {
	for _, size := range []int{64, 512, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			r := clustertest.StartRedis(b)
			recv := &countingLocal{}
			a := startNode(b, testConfig(r.URL(), cluster.NopLocal{}, presence.ModeUser))
			n := startNode(b, testConfig(r.URL(), recv, presence.ModeUser))
			n.Joined("x.1", "bench")
			if err := n.Presence().Sync(ctx(b), "bench"); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for int64(i)-recv.rooms.Load() > window {
					time.Sleep(50 * time.Microsecond)
				}
				a.PublishRoom([]string{"bench"}, false, payload)
			}
			waitCount(b, &recv.rooms, int64(b.N))
		})
	}
}

// BenchmarkTrackUntrack: one node tracks and untracks connections; the
// other node delivers every diff. The time is until the last one arrived.
func BenchmarkTrackUntrack(b *testing.B) {
	r := clustertest.StartRedis(b)
	recv := &countingLocal{}
	a := startNode(b, testConfig(r.URL(), cluster.NopLocal{}, presence.ModeUser))
	n := startNode(b, testConfig(r.URL(), recv, presence.ModeUser))
	n.Joined("x.1", "bench")
	if err := n.Presence().Sync(ctx(b), "bench"); err != nil {
		b.Fatal(err)
	}
	p := a.Presence()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for 2*int64(i)-recv.diffs.Load() > window {
			time.Sleep(50 * time.Microsecond)
		}
		id := fmt.Sprintf("%s.%d", a.ID(), i)
		if err := p.Track("bench", id, fmt.Sprint("u", i), map[string]any{"name": "x"}); err != nil {
			b.Fatal(err)
		}
		if err := p.Untrack("bench", id); err != nil {
			b.Fatal(err)
		}
	}
	waitCount(b, &recv.diffs, int64(2*b.N))
}

// memberLocal counts what a node's engine would write for its presence
// messages: each diff to every local member of its channel but the
// trackers, each state to its trackers.
type memberLocal struct {
	cluster.NopLocal
	mu      sync.Mutex
	members map[string]int // Guarded by mu.
	// diffs counts diff messages, deliveries their copies to members,
	// states the presence_states delivered.
	diffs, deliveries, states atomic.Int64
}

func (l *memberLocal) join(ch string) {
	l.mu.Lock()
	if l.members == nil {
		l.members = map[string]int{}
	}
	l.members[ch]++
	l.mu.Unlock()
}

func (l *memberLocal) DeliverPresence(ch string, state []byte, trackers []string, diff []byte) {
	if state != nil {
		l.states.Add(int64(len(trackers)))
	}
	if diff != nil {
		l.mu.Lock()
		m := l.members[ch]
		l.mu.Unlock()
		l.diffs.Add(1)
		l.deliveries.Add(int64(m - len(trackers)))
	}
}

// BenchmarkPresenceJoins: a join storm. 2,000 users join one channel as
// members and are tracked, spread over three nodes, as fast as the nodes
// queue them (rate=max) or 4,000 a second; every node follows the channel
// (one watcher each). The time is until every node has delivered every
// message. deliveries/join is the number of presence_diff copies members
// get per join, counting the channel's local members when the node hands
// the diff over (what the engine would write then); diffs/join the diff
// messages the nodes encode, states/join the presence_states trackers get;
// resyncs/op counts the snapshots nodes loaded after falling behind (their
// events then cost no diffs). interval=0s is the unbatched cluster,
// interval=50ms the server's default PresenceInterval.
func BenchmarkPresenceJoins(b *testing.B) {
	const joins, nodes = 2000, 3
	for _, bc := range []struct {
		rate int // joins per second, 0: as fast as they queue
		iv   time.Duration
	}{{0, 0}, {0, 50 * time.Millisecond}, {4000, 0}, {4000, 50 * time.Millisecond}} {
		rate := "max"
		if bc.rate > 0 {
			rate = fmt.Sprintf("%d/s", bc.rate)
		}
		iv := bc.iv
		b.Run(fmt.Sprintf("joins=%d/nodes=%d/rate=%s/interval=%v", joins, nodes, rate, iv), func(b *testing.B) {
			r := clustertest.StartRedis(b)
			var ns []*cluster.Node
			var locals []*memberLocal
			for i := range nodes {
				l := &memberLocal{}
				cfg := testConfig(r.URL(), l, presence.ModeUser)
				cfg.NodeID = fmt.Sprintf("node%d", i)
				cfg.PresenceInterval = iv
				ns = append(ns, startNode(b, cfg))
				locals = append(locals, l)
			}
			syncAll := func(ch string) {
				for range 2 {
					for _, n := range ns {
						if err := n.Presence().Sync(ctx(b), ch); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			var diffs, deliveries, states int64
			b.ReportAllocs()
			b.ResetTimer()
			for it := range b.N {
				b.StopTimer()
				ch := fmt.Sprintf("room:%d", it)
				for i, n := range ns {
					id := n.NewConnID()
					n.Connected(id)
					n.Joined(id, ch)
					locals[i].join(ch)
				}
				syncAll(ch)
				for _, l := range locals {
					diffs -= l.diffs.Load()
					deliveries -= l.deliveries.Load()
					states -= l.states.Load()
				}
				b.StartTimer()
				start := time.Now()
				for j := range joins {
					if bc.rate > 0 {
						if wait := time.Until(start.Add(time.Duration(j) * time.Second / time.Duration(bc.rate))); wait > 0 {
							time.Sleep(wait)
						}
					}
					n, l := ns[j%nodes], locals[j%nodes]
					id := n.NewConnID()
					n.Connected(id)
					n.Joined(id, ch)
					l.join(ch)
					if err := n.Presence().Track(ch, id, fmt.Sprint("u", j), map[string]any{"name": "x"}); err != nil {
						b.Fatal(err)
					}
				}
				syncAll(ch)
				b.StopTimer()
				for _, l := range locals {
					diffs += l.diffs.Load()
					deliveries += l.deliveries.Load()
					states += l.states.Load()
				}
				b.StartTimer()
			}
			all := float64(b.N * joins)
			b.ReportMetric(float64(deliveries)/all, "deliveries/join")
			b.ReportMetric(float64(diffs)/all, "diffs/join")
			b.ReportMetric(float64(states)/all, "states/join")
			var resyncs int64
			for _, n := range ns {
				resyncs += n.Stats().Resyncs.Load()
			}
			b.ReportMetric(float64(resyncs)/float64(b.N), "resyncs/op")
		})
	}
}
