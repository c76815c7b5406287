package presence_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/presence"
)

// fakeClock is a time source that moves only when advanceTo is called. The
// timers that come due run in deadline order (ties in the order they were
// set), each on the caller's goroutine with the clock at its deadline, so a
// test sees exactly when each batch goes out.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), f: f})
}

// advanceTo moves the clock to t, running every timer due by then.
func (c *fakeClock) advanceTo(t time.Time) {
	for {
		c.mu.Lock()
		next := -1
		for i, tm := range c.timers {
			if !tm.at.After(t) && (next < 0 || tm.at.Before(c.timers[next].at)) {
				next = i
			}
		}
		if next < 0 {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		tm := c.timers[next]
		c.timers = slices.Delete(c.timers, next, next+1)
		if tm.at.After(c.now) {
			c.now = tm.at
		}
		c.mu.Unlock()
		tm.f()
	}
}

// pending returns how many timers are set and not yet run.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// timedRecorder is a Config.Deliver that records each batch as
// "<ms since start>ms <channel>: +joined -left", users sorted, the
// channel omitted when it is "room".
type timedRecorder struct {
	t     *testing.T
	clock *fakeClock
	start time.Time
	mu    sync.Mutex
	got   []string
}

func (rec *timedRecorder) deliver(channel string, _ []byte, _ []string, diff []byte) {
	d, err := decodeDiff(diff)
	if err != nil {
		rec.t.Errorf("batch of %s: %v", channel, err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%dms ", rec.clock.Now().Sub(rec.start).Milliseconds())
	if channel != "room" {
		b.WriteString(channel + ": ")
	}
	var users []string
	for _, u := range slices.Sorted(maps.Keys(d.Joins)) {
		users = append(users, "+"+u)
	}
	for _, u := range slices.Sorted(maps.Keys(d.Leaves)) {
		users = append(users, "-"+u)
	}
	b.WriteString(strings.Join(users, " "))
	rec.mu.Lock()
	rec.got = append(rec.got, b.String())
	rec.mu.Unlock()
}

// change is one presence change at a time since the start: "+a" tracks
// connection a1 of user a, "-a" untracks it, "~a" sets its state;
// "+a@lobby" does so in channel lobby instead of room.
type change struct {
	at time.Duration
	op string
}

func (c change) run(r *presence.Registry) error {
	op, ch, _ := strings.Cut(c.op, "@")
	if ch == "" {
		ch = "room"
	}
	user := op[1:]
	conn := user + "1"
	switch op[0] {
	case '+':
		return r.Track(ch, conn, user, nil, nil)
	case '-':
		return r.Untrack(ch, conn, nil)
	case '~':
		return r.SetState(ch, conn, "away", nil)
	}
	return fmt.Errorf("unknown op %q", c.op)
}

// every returns n changes made by op(i), one each step from at on.
func every(at, step time.Duration, n int, op func(i int) string) []change {
	out := make([]change, n)
	for i := range out {
		out[i] = change{at + time.Duration(i)*step, op(i)}
	}
	return out
}

func letter(i int) string { return string(rune('a' + i)) }

// TestAdaptiveBatch drives the adaptive batching rule on a fake clock with
// an Interval of 50 ms: a channel publishes every change at once while it
// has a token (Burst of them, one back per Interval), merges the changes
// that find none into one batch published when the next token comes back,
// and publishes at once again after a quiet spell.
func TestAdaptiveBatch(t *testing.T) {
	const ms = time.Millisecond
	join := func(i int) string { return "+" + letter(i) }
	cases := []struct {
		name    string
		burst   int // 0: DefaultBurst
		changes []change
		want    []string
	}{
		{
			name:    "quiet channel: one change per interval goes out at once, forever",
			changes: every(0, 50*ms, 12, join),
			want: []string{"0ms +a", "50ms +b", "100ms +c", "150ms +d", "200ms +e", "250ms +f",
				"300ms +g", "350ms +h", "400ms +i", "450ms +j", "500ms +k", "550ms +l"},
		},
		{
			name:    "quiet channel with a burst of one: the same",
			burst:   1,
			changes: every(0, 50*ms, 4, join),
			want:    []string{"0ms +a", "50ms +b", "100ms +c", "150ms +d"},
		},
		{
			name:    "a burst of up to Burst changes goes out at once",
			changes: every(0, ms, 4, join),
			want:    []string{"0ms +a", "1ms +b", "2ms +c", "3ms +d"},
		},
		{
			name: "fast changes: merged, one batch per interval",
			changes: slices.Concat(
				every(0, ms, 10, join), // a–d at once, e–j wait for the token of 50 ms
				[]change{{60 * ms, "+k"}, {70 * ms, "+l"}, {80 * ms, "-a"}, {90 * ms, "-b"}}, // wait for 100 ms
				[]change{{110 * ms, "~c"}, {120 * ms, "-d"}},                                 // wait for 150 ms
			),
			want: []string{"0ms +a", "1ms +b", "2ms +c", "3ms +d", "50ms +e +f +g +h +i +j",
				"100ms +k +l -a -b", "150ms +c -d"},
		},
		{
			name: "fast, then quiet: at once again",
			changes: slices.Concat(
				every(0, ms, 10, join),
				// One quiet interval after the 50 ms batch gives one token
				// back: n goes out at once, o waits for the next.
				[]change{{100 * ms, "+n"}, {101 * ms, "+o"}},
				// Burst quiet intervals after that batch fill the bucket.
				every(350*ms, ms, 4, func(i int) string { return "+" + letter(16+i) }),
			),
			want: []string{"0ms +a", "1ms +b", "2ms +c", "3ms +d", "50ms +e +f +g +h +i +j",
				"100ms +n", "150ms +o", "350ms +q", "351ms +r", "352ms +s", "353ms +t"},
		},
		{
			name:    "a sustained storm: Burst publications, then one batch per interval",
			changes: every(0, 5*ms, 26, join), // a–z, one each 5 ms
			want: []string{"0ms +a", "5ms +b", "10ms +c", "15ms +d",
				"50ms +e +f +g +h +i +j",
				"100ms +k +l +m +n +o +p +q +r +s +t",
				"150ms +u +v +w +x +y +z"},
		},
		{
			name:  "a burst of one: the first change at once, the rest one interval after it",
			burst: 1,
			changes: []change{{0, "+a"}, {10 * ms, "+b"}, {20 * ms, "+c"}, {60 * ms, "+d"},
				{200 * ms, "+e"}},
			want: []string{"0ms +a", "50ms +b +c", "100ms +d", "200ms +e"},
		},
		{
			name:    "a second change of a user in the batch publishes it without a token, and the next batch waits an interval",
			burst:   1,
			changes: []change{{0, "+a"}, {10 * ms, "+b"}, {20 * ms, "~b"}},
			want:    []string{"0ms +a", "20ms +b", "70ms +b"},
		},
		{
			name:    "the untrack that empties the channel publishes at once",
			burst:   1,
			changes: []change{{0, "+a"}, {10 * ms, "+b"}, {20 * ms, "-a"}, {30 * ms, "-b"}},
			// -b finds b in the waiting batch, which goes out first.
			want: []string{"0ms +a", "30ms +b -a", "30ms -b"},
		},
		{
			name: "each channel has its own bucket",
			changes: slices.Concat(
				every(0, ms, 6, join),
				[]change{{6 * ms, "+z@lobby"}, {7 * ms, "+y@lobby"}},
			),
			want: []string{"0ms +a", "1ms +b", "2ms +c", "3ms +d", "6ms lobby: +z", "7ms lobby: +y",
				"50ms +e +f"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			rec := &timedRecorder{t: t, clock: clk, start: clk.Now()}
			r := presence.NewWithClock(presence.Config{Interval: 50 * time.Millisecond, Burst: tc.burst, Deliver: rec.deliver}, clk)
			for _, c := range tc.changes {
				clk.advanceTo(rec.start.Add(c.at))
				if err := c.run(r); err != nil {
					t.Fatalf("%v %s: %v", c.at, c.op, err)
				}
			}
			clk.advanceTo(rec.start.Add(time.Hour))
			if n := clk.pending(); n != 0 {
				t.Errorf("%d timers still set an hour later", n)
			}
			if !slices.Equal(rec.got, tc.want) {
				t.Errorf("batches:\n got %q\nwant %q", rec.got, tc.want)
			}
		})
	}
}
