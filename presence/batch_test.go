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
