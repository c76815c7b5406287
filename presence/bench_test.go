package presence_test

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/presence"
)

var benchModes = []presence.Mode{presence.ModeUser, presence.ModeConnection}

// fill tracks members connections of distinct users in channel, publishing
// nothing.
func fill(b *testing.B, r *presence.Registry, channel string, members int) {
	b.Helper()
	for i := 0; i < members; i++ {
		id := strconv.Itoa(i)
		if err := r.Track(channel, "c"+id, "user-"+id, map[string]any{"name": "User " + id}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrackUntrack measures one Track (with the tracker's full
// presence_state and the join diff) plus one Untrack (the leave diff) of a
// new user in a channel that already has members users.
func BenchmarkTrackUntrack(b *testing.B) {
	for _, mode := range benchModes {
		for _, members := range []int{10, 1000, 10000} {
			b.Run(fmt.Sprintf("mode=%s/members=%d", mode, members), func(b *testing.B) {
				r := presence.NewRegistry(mode)
				fill(b, r, "room", members)
				var msgBytes int
				pub := func(state, diff []byte, _ string) { msgBytes += len(state) + len(diff) }
				meta := map[string]any{"name": "Bench"}
				b.ReportAllocs()
				for b.Loop() {
					if err := r.Track("room", "bench", "bench-user", meta, pub); err != nil {
						b.Fatal(err)
					}
					if err := r.Untrack("room", "bench", pub); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
				b.ReportMetric(float64(msgBytes)/float64(b.N), "msg_bytes/op")
			})
		}
	}
}

// BenchmarkSetState measures a state change of a user with tabs connections
// in a channel of 1000 users.
func BenchmarkSetState(b *testing.B) {
	for _, mode := range benchModes {
		for _, tabs := range []int{1, 10} {
			b.Run(fmt.Sprintf("mode=%s/tabs=%d", mode, tabs), func(b *testing.B) {
				r := presence.NewRegistry(mode)
				fill(b, r, "room", 1000)
				for i := 0; i < tabs; i++ {
					if err := r.Track("room", "tab"+strconv.Itoa(i), "bench-user", map[string]any{"name": "Bench"}, nil); err != nil {
						b.Fatal(err)
					}
				}
				pub := func(_, _ []byte, _ string) {}
				states := []string{"typing", "online"}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if err := r.SetState("room", "tab0", states[i&1], pub); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}

// BenchmarkTrackUntrackParallel runs Track+Untrack from GOMAXPROCS
// goroutines, each in its own channel of 10 users: channels share no lock.
func BenchmarkTrackUntrackParallel(b *testing.B) {
	for _, mode := range benchModes {
		b.Run("mode="+mode.String()+"/members=10", func(b *testing.B) {
			r := presence.NewRegistry(mode)
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ch := "room:" + strconv.FormatInt(next.Add(1), 10)
				for i := 0; i < 10; i++ {
					id := strconv.Itoa(i)
					if err := r.Track(ch, "c"+id, "user-"+id, nil, nil); err != nil {
						b.Error(err)
						return
					}
				}
				pub := func(_, _ []byte, _ string) {}
				for pb.Next() {
					if err := r.Track(ch, "bench", "bench-user", nil, pub); err != nil {
						b.Error(err)
						return
					}
					if err := r.Untrack(ch, "bench", pub); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkList measures List of a channel with 1000 users.
func BenchmarkList(b *testing.B) {
	r := presence.NewRegistry(presence.ModeUser)
	fill(b, r, "room", 1000)
	b.ReportAllocs()
	for b.Loop() {
		if len(r.List("room")) != 1000 {
			b.Fatal("short list")
		}
	}
}

// BenchmarkStorm measures a join storm: burst new users track in a channel
// of members users, then untrack, with and without batching. Without it
// every Track encodes a presence_state of the whole channel and every change
// is a diff; with it a burst costs a few batches. publications/op counts the
// states and diffs handed out, msg_bytes/op their size.
//
// The storms of batch=50ms follow each other at once, so the channel never
// has a token left. Those of quiet=1s start on a channel quiet for a second
// (a fake clock moved on between storms, running the pending timer): each
// storm first spends the channel's DefaultBurst immediate publications;
// bucket=1 (Config.Burst 1: only the first change after a quiet interval
// at once) shows what that burst costs.
func BenchmarkStorm(b *testing.B) {
	const burst = 1000
	cases := []struct {
		interval time.Duration
		burst    int  // Config.Burst
		quiet    bool // a fake clock, a second of quiet before each storm
	}{
		{interval: 0},
		{interval: 50 * time.Millisecond},
		{interval: 50 * time.Millisecond, quiet: true},
		{interval: 50 * time.Millisecond, burst: 1, quiet: true},
	}
	for _, members := range []int{1000, 10000} {
		for _, tc := range cases {
			name := fmt.Sprintf("members=%d/burst=%d/batch=%s", members, burst, tc.interval)
			if tc.burst > 0 {
				name += fmt.Sprintf("/bucket=%d", tc.burst)
			}
			if tc.quiet {
				name += "/quiet=1s"
			}
			b.Run(name, func(b *testing.B) {
				var pubs, msgBytes atomic.Int64
				cfg := presence.Config{}
				if tc.interval > 0 {
					cfg.Interval, cfg.Burst = tc.interval, tc.burst
					cfg.Deliver = func(_ string, state []byte, _ []string, diff []byte) {
						pubs.Add(1)
						msgBytes.Add(int64(len(state) + len(diff)))
					}
				}
				var clk *fakeClock
				r := presence.New(cfg)
				if tc.quiet {
					clk = newFakeClock()
					r = presence.NewWithClock(cfg, clk)
				}
				fill(b, r, "room", members)
				pub := func(state, diff []byte, _ string) {
					pubs.Add(1)
					msgBytes.Add(int64(len(state) + len(diff)))
				}
				ids := make([]string, burst)
				for i := range ids {
					ids[i] = "storm-" + strconv.Itoa(i)
				}
				meta := map[string]any{"name": "Storm"}
				if clk != nil {
					clk.advanceTo(clk.Now().Add(time.Second))
				}
				pubs.Store(0)
				msgBytes.Store(0)
				b.ReportAllocs()
				for b.Loop() {
					for _, id := range ids {
						if err := r.Track("room", id, id, meta, pub); err != nil {
							b.Fatal(err)
						}
					}
					for _, id := range ids {
						if err := r.Untrack("room", id, pub); err != nil {
							b.Fatal(err)
						}
					}
					if clk != nil {
						clk.advanceTo(clk.Now().Add(time.Second))
					}
				}
				r.Flush()
				b.ReportMetric(float64(pubs.Load())/float64(b.N), "publications/op")
				b.ReportMetric(float64(msgBytes.Load())/float64(b.N), "msg_bytes/op")
			})
		}
	}
}
