package historytest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/history"
)

// Delivery is one publication as a Sink got it.
type Delivery struct {
	Pos     history.Position
	Binary  bool
	Payload string
}

// Recorder is a history.Sink that keeps every delivery by channel.
type Recorder struct {
	mu sync.Mutex
	m  map[string][]Delivery // Guarded by mu.
}

var _ history.Sink = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{m: map[string][]Delivery{}} }

// DeliverPublication records the publication.
func (r *Recorder) DeliverPublication(channel string, pos history.Position, binary bool, payload []byte) {
	r.mu.Lock()
	r.m[channel] = append(r.m[channel], Delivery{Pos: pos, Binary: binary, Payload: string(payload)})
	r.mu.Unlock()
}

// Of returns a copy of channel's deliveries.
func (r *Recorder) Of(channel string) []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.m[channel])
}

// Wait polls until channel has n deliveries, or fails t after 10 s.
func (r *Recorder) Wait(t testing.TB, channel string, n int) []Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := r.Of(channel)
		if len(d) >= n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d deliveries after 10s", channel, len(d), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Harness is one backend under test.
type Harness struct {
	Backend history.Backend
	// Sink is the Recorder the backend delivers to.
	Sink *Recorder
	// Follow, when set, makes the backend's server deliver channel's
	// publications to Sink (a member there) and returns once it does.
	Follow func(t testing.TB, channel string)
}

// Factory makes a fresh backend for one test; t.Cleanup releases it.
type Factory func(t *testing.T) Harness

// BackendSuite runs the conformance tests against the backends newBackend
// makes.
func BackendSuite(t *testing.T, newBackend Factory) {
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"Offsets", testOffsets},
		{"EmptyChannel", testEmptyChannel},
		{"EvictBySize", testEvictBySize},
		{"EvictByTTL", testEvictByTTL},
		{"ConcurrentPublishers", testConcurrent},
		{"ChannelsApart", testChannelsApart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newBackend(t))
		})
	}
}

var opts = history.Options{Size: 100, TTL: time.Minute}

func follow(t *testing.T, h Harness, ch string) {
	if h.Follow != nil {
		h.Follow(t, ch)
	}
}

func read(t *testing.T, h Harness, ch string, o history.Options, since *history.Position, limit int) history.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := h.Backend.Read(ctx, ch, o, since, limit)
	if err != nil {
		t.Fatalf("Read %s: %v", ch, err)
	}
	return res
}

func offsets(pubs []history.Publication) []uint64 {
	out := make([]uint64, len(pubs))
	for i, p := range pubs {
		out[i] = p.Offset
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func testOffsets(t *testing.T, h Harness) {
	const ch = "offsets"
	follow(t, h, ch)
	for i := 1; i <= 5; i++ {
		h.Backend.Publish(ch, opts, i == 3, []byte("m"+strconv.Itoa(i)))
	}
	got := h.Sink.Wait(t, ch, 5)
	epoch := got[0].Pos.Epoch
	if epoch == "" {
		t.Fatal("empty epoch")
	}
	for i, d := range got {
		want := Delivery{Pos: history.Position{Epoch: epoch, Offset: uint64(i + 1)}, Binary: i == 2, Payload: "m" + strconv.Itoa(i+1)}
		if d != want {
			t.Fatalf("delivery %d = %+v, want %+v", i, d, want)
		}
	}
	top := history.Position{Epoch: epoch, Offset: 5}
	cases := []struct {
		name      string
		since     *history.Position
		limit     int
		recovered bool
		want      []uint64
	}{
		{"all", nil, 0, false, seq(1, 5)},
		{"all, limit keeps the oldest", nil, 2, false, seq(1, 2)},
		{"since 2", &history.Position{Epoch: epoch, Offset: 2}, 0, true, seq(3, 5)},
		{"since 2, limit 2", &history.Position{Epoch: epoch, Offset: 2}, 2, true, seq(3, 4)},
		{"since 2, top only", &history.Position{Epoch: epoch, Offset: 2}, -1, true, nil},
		{"since 0", &history.Position{Epoch: epoch, Offset: 0}, 0, true, seq(1, 5)},
		{"since the top", &top, 0, true, nil},
		{"other epoch", &history.Position{Epoch: epoch + "x", Offset: 2}, 0, false, nil},
		{"ahead of the top", &history.Position{Epoch: epoch, Offset: 9}, 0, false, nil},
	}
	for _, tc := range cases {
		res := read(t, h, ch, opts, tc.since, tc.limit)
		if res.Top != top || res.Recovered != tc.recovered || !slices.Equal(offsets(res.Publications), tc.want) {
			t.Errorf("%s: top %v recovered %v offsets %v, want %v %v %v", tc.name,
				res.Top, res.Recovered, offsets(res.Publications), top, tc.recovered, tc.want)
		}
	}
	res := read(t, h, ch, opts, nil, 0)
	for i, p := range res.Publications {
		if string(p.Payload) != "m"+strconv.Itoa(i+1) || p.Binary != (i == 2) {
			t.Errorf("publication %d = %q binary %v", i, p.Payload, p.Binary)
		}
	}
}

func testEmptyChannel(t *testing.T, h Harness) {
	const ch = "empty"
	follow(t, h, ch)
	first := read(t, h, ch, opts, nil, 0)
	if first.Top.Offset != 0 || first.Top.Epoch == "" || len(first.Publications) != 0 {
		t.Fatalf("empty channel: %+v", first)
	}
	again := read(t, h, ch, opts, nil, -1)
	if again.Top != first.Top {
		t.Fatalf("epoch moved between reads: %v then %v", first.Top, again.Top)
	}
	h.Backend.Publish(ch, opts, false, []byte("x"))
	h.Sink.Wait(t, ch, 1)
	res := read(t, h, ch, opts, &first.Top, 0)
	if !res.Recovered || !slices.Equal(offsets(res.Publications), []uint64{1}) || res.Top.Epoch != first.Top.Epoch {
		t.Fatalf("recover from the empty channel's top: %+v", res)
	}
}

func testEvictBySize(t *testing.T, h Harness) {
	const ch = "size"
	o := history.Options{Size: 3, TTL: time.Minute}
	follow(t, h, ch)
	for i := range 5 {
		h.Backend.Publish(ch, o, false, fmt.Appendf(nil, "%d", i))
	}
	epoch := h.Sink.Wait(t, ch, 5)[0].Pos.Epoch
	if res := read(t, h, ch, o, nil, 0); !slices.Equal(offsets(res.Publications), seq(3, 5)) {
		t.Fatalf("retained %v, want 3..5", offsets(res.Publications))
	}
	if res := read(t, h, ch, o, &history.Position{Epoch: epoch, Offset: 1}, 0); res.Recovered || len(res.Publications) != 0 {
		t.Fatalf("since 1 with 2 evicted: %+v", res)
	}
	if res := read(t, h, ch, o, &history.Position{Epoch: epoch, Offset: 2}, 0); !res.Recovered || !slices.Equal(offsets(res.Publications), seq(3, 5)) {
		t.Fatalf("since 2: %+v", res)
	}
}

func testEvictByTTL(t *testing.T, h Harness) {
	const ch = "ttl"
	o := history.Options{Size: 100, TTL: 300 * time.Millisecond}
	follow(t, h, ch)
	h.Backend.Publish(ch, o, false, []byte("a"))
	h.Backend.Publish(ch, o, false, []byte("b"))
	epoch := h.Sink.Wait(t, ch, 2)[0].Pos.Epoch
	since := history.Position{Epoch: epoch, Offset: 0}
	if res := read(t, h, ch, o, &since, 0); !res.Recovered || len(res.Publications) != 2 {
		t.Fatalf("before the TTL: %+v", res)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := read(t, h, ch, o, &since, 0)
		if !res.Recovered {
			if len(res.Publications) != 0 {
				t.Fatalf("not recovered, yet publications: %+v", res)
			}
			// An expired channel may start a new epoch; a same-epoch top
			// still recovers (nothing after it is missing).
			if res.Top.Epoch == epoch {
				top := res.Top
				if r := read(t, h, ch, o, &top, 0); !r.Recovered {
					t.Fatalf("since the top after expiry: %+v", r)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publications older than the TTL still recover: %+v", res)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const ch = "concurrent"
	const writers, each = 4, 50
	o := history.Options{Size: 1000, TTL: time.Minute}
	follow(t, h, ch)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				h.Backend.Publish(ch, o, false, fmt.Appendf(nil, "%d/%d", w, i))
			}
		}()
	}
	wg.Wait()
	got := h.Sink.Wait(t, ch, writers*each)
	res := read(t, h, ch, o, nil, 0)
	if len(res.Publications) != writers*each || len(got) != writers*each {
		t.Fatalf("retained %d, delivered %d, want %d", len(res.Publications), len(got), writers*each)
	}
	last := map[string]int{}
	for i, d := range got {
		p := res.Publications[i]
		if d.Pos.Offset != uint64(i+1) || p.Offset != uint64(i+1) || d.Payload != string(p.Payload) {
			t.Fatalf("position %d: delivered %+v, retained %d %q", i, d, p.Offset, p.Payload)
		}
		var w, n int
		fmt.Sscanf(d.Payload, "%d/%d", &w, &n)
		if prev, ok := last[strconv.Itoa(w)]; ok && n != prev+1 {
			t.Fatalf("writer %d: %d after %d", w, n, prev)
		}
		last[strconv.Itoa(w)] = n
	}
}

func testChannelsApart(t *testing.T, h Harness) {
	follow(t, h, "apart:a")
	follow(t, h, "apart:b")
	h.Backend.Publish("apart:a", opts, false, []byte("a1"))
	h.Backend.Publish("apart:b", opts, false, []byte("b1"))
	h.Backend.Publish("apart:a", opts, false, []byte("a2"))
	a := h.Sink.Wait(t, "apart:a", 2)
	b := h.Sink.Wait(t, "apart:b", 1)
	if a[1].Pos.Offset != 2 || b[0].Pos.Offset != 1 {
		t.Fatalf("offsets are per channel: a %+v b %+v", a, b)
	}
}
