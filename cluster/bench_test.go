package cluster_test

import (
	"fmt"
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
