package presence_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/presence"
)

// batchRecorder is a Config.Deliver that records each batch as a pubCall
// whose exclude field lists the trackers, comma-separated.
type batchRecorder struct {
	mu    sync.Mutex
	calls []pubCall
}

func (b *batchRecorder) deliver(channel string, state []byte, trackers []string, diff []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, pubCall{state: state, diff: diff, exclude: channel + ":" + strings.Join(trackers, ",")})
}

func (b *batchRecorder) take() []pubCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.calls
	b.calls = nil
	return c
}

// TestBatch walks the merging rules with an interval too long to expire and
// a burst of one (a token bucket of one token): only the first change, a
// second change of a user in the batch, the last untrack of a channel and
// Flush publish.
func TestBatch(t *testing.T) {
	rec := &batchRecorder{}
	r := presence.New(presence.Config{Interval: time.Hour, Burst: 1, Deliver: rec.deliver})
	steps := []struct {
		name string
		step step
		// flush calls Flush after the step.
		flush bool
		pubs  []wantPub
	}{
		{"first change of a quiet channel goes out at once", track("a1", "a"), false, []wantPub{
			{state: P{"a": {"a1:online"}}, joins: P{"a": {"a1:online"}}, exclude: "room:a1"},
		}},
		{"then changes wait", track("b1", "b"), false, nil},
		{"of several users", track("c1", "c"), false, nil},
		{"a second change of b publishes the batch first", step{op: "set", conn: "b1", state: "away"}, false, []wantPub{
			{state: P{"a": {"a1:online"}, "b": {"b1:online"}, "c": {"c1:online"}},
				joins: P{"b": {"b1:online"}, "c": {"c1:online"}}, exclude: "room:b1,c1"},
		}},
		{"joins and leaves of different users merge", step{op: "untrack", conn: "a1"}, true, []wantPub{
			{joins: P{"b": {"b1:away"}}, leaves: P{"a": {"a1:online"}}, exclude: "room:"},
		}},
		{"a second tab tracked", track("b2", "b"), false, nil},
		{"and untracked in one batch publishes nothing", step{op: "untrack", conn: "b2"}, true, nil},
		{"leaves wait", step{op: "untrack", conn: "c1"}, false, nil},
		{"until the channel empties", step{op: "untrack", conn: "b1"}, false, []wantPub{
			{leaves: P{"b": {"b1:away"}, "c": {"c1:online"}}, exclude: "room:"},
		}},
	}
	for i, s := range steps {
		if err := s.step.run(r, nil); err != nil {
			t.Fatalf("step %d (%s): %v", i, s.name, err)
		}
		if s.flush {
			r.Flush()
		}
		checkPubs(t, i, rec.take(), s.pubs)
	}
	if ch := r.Channels(); len(ch) != 0 {
		t.Fatalf("channels left: %v", ch)
	}
}

// TestBatchTimer checks, on the real clock, that a held batch goes out by
// itself one interval after the publication that took the channel's last
// token.
func TestBatchTimer(t *testing.T) {
	rec := &batchRecorder{}
	r := presence.New(presence.Config{Interval: 20 * time.Millisecond, Burst: 1, Deliver: rec.deliver})
	start := time.Now()
	for i, s := range []step{track("a1", "a"), track("b1", "b"), track("c1", "c")} {
		if err := s.run(r, nil); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	var got []pubCall
	for deadline := time.Now().Add(5 * time.Second); len(got) < 2 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		got = append(got, rec.take()...)
	}
	if elapsed := time.Since(start); elapsed < 20*time.Millisecond {
		t.Errorf("second batch after %v, before the interval", elapsed)
	}
	checkPubs(t, 0, got, []wantPub{
		{state: P{"a": {"a1:online"}}, joins: P{"a": {"a1:online"}}, exclude: "room:a1"},
		{state: P{"a": {"a1:online"}, "b": {"b1:online"}, "c": {"c1:online"}},
			joins: P{"b": {"b1:online"}, "c": {"c1:online"}}, exclude: "room:b1,c1"},
	})
}

// TestPacer: Burst publications at once, then one per Interval; a
// publication that found no token leaves the bucket empty, not in debt; a
// quiet spell refills it; the zero Pacer never waits.
func TestPacer(t *testing.T) {
	const iv = 10 * time.Millisecond
	p := presence.NewPacer(iv, 3)
	var b presence.Bucket
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at    time.Duration // since t0
		spend int           // publications at that time, after the wait is read
		wait  time.Duration
	}{
		{0, 3, 0},
		{0, 1, iv},             // no token: a forced publication
		{0, 0, iv},             // still one interval, no debt
		{iv, 1, 0},             // one token back
		{iv + iv/2, 0, iv / 2}, // the next one in half an interval
		{time.Hour, 3, 0},      // a quiet spell refills the bucket
		{time.Hour, 0, iv},
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if got := p.Wait(&b, now); got != s.wait {
			t.Fatalf("step %d: wait %v, want %v", i, got, s.wait)
		}
		for range s.spend {
			p.Spend(&b, now)
		}
	}
	var zero presence.Pacer
	for range 10 {
		zero.Spend(&b, t0)
	}
	if w := zero.Wait(&b, t0); w != 0 || zero.Interval() != 0 {
		t.Fatalf("zero Pacer waits %v", w)
	}
}

// TestBatchEntries: joins and leaves merge into one diff, Has knows the
// users in it, trackers come and go, Reset empties it.
func TestBatchEntries(t *testing.T) {
	var b presence.Batch[string]
	if !b.Empty() || b.Diff() != nil {
		t.Fatal("zero Batch not empty")
	}
	b.AddTracker("c1")
	b.AddTracker("c2")
	b.Join("a", []byte(`"a":{"metas":[1]}`))
	b.Join("b", []byte(`"b":{"metas":[2]}`))
	b.Leave("c", []byte(`"c":{"metas":[3]}`))
	if !b.DropTracker("c1") || b.DropTracker("c9") || !b.Has("a") || !b.Has("c") || b.Has("c1") {
		t.Fatal("Has or DropTracker wrong")
	}
	want := `{"event":"presence_diff","payload":{"joins":{"a":{"metas":[1]},"b":{"metas":[2]}},"leaves":{"c":{"metas":[3]}}}}`
	if got := string(b.Diff()); got != want || strings.Join(b.Trackers(), ",") != "c2" {
		t.Fatalf("diff %s trackers %v", got, b.Trackers())
	}
	b.Reset()
	if !b.Empty() || b.Has("a") || b.Diff() != nil {
		t.Fatal("not empty after Reset")
	}
}
