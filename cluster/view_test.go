package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/presence"
)

// diffSummary renders a delivery as "state" or "+user[refs] -user[refs]".
func diffSummary(t *testing.T, d delivery) string {
	t.Helper()
	var m struct {
		Payload struct {
			Joins, Leaves map[string]struct {
				Metas []map[string]any `json:"metas"`
			}
		} `json:"payload"`
	}
	if err := json.Unmarshal(d.diff, &m); err != nil {
		t.Fatalf("%s: %v", d.diff, err)
	}
	var out []string
	for sign, part := range map[string]map[string]struct {
		Metas []map[string]any `json:"metas"`
	}{"+": m.Payload.Joins, "-": m.Payload.Leaves} {
		for u, p := range part {
			var refs []string
			for _, meta := range p.Metas {
				refs = append(refs, fmt.Sprint(meta["phx_ref"]))
			}
			out = append(out, fmt.Sprintf("%s%s%v", sign, u, refs))
		}
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

func meta(ref string) []byte { return presence.AppendMeta(nil, ref, "", "online", nil) }

func summaries(t *testing.T, ds []delivery) []string {
	var out []string
	for _, d := range ds {
		if d.diff != nil {
			out = append(out, diffSummary(t, d))
		}
		if d.state != nil {
			out = append(out, "state→"+strings.Join(d.trackers, ","))
		}
	}
	return out
}

// claims makes a claimFunc of a per-connection one.
func claims(f func(id string) bool) claimFunc {
	return func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if f(id) {
				out = append(out, id)
			}
		}
		return out
	}
}

// applyNow applies ev and publishes what is left of its batch, as the
// receive goroutine does without batching.
func applyNow(v *view, ev event, claim claimFunc) ([]delivery, bool) {
	out, ok := v.apply(ev, claim)
	if !ok {
		return nil, false
	}
	return v.flush(out, claim), true
}

type step struct {
	ev   event
	want []string
}

func tr(seq uint64, conn, user, ref string) event {
	return event{kind: kindTrack, epoch: 1, seq: seq, conn: conn, user: userKey(user), meta: meta(ref)}
}
func un(seq uint64, conns ...string) event {
	if len(conns) == 1 {
		return event{kind: kindUntrack, epoch: 1, seq: seq, conn: conns[0]}
	}
	return event{kind: kindBatch, epoch: 1, seq: seq, conns: conns}
}
func st(seq uint64, conn, ref string) event {
	return event{kind: kindSet, epoch: 1, seq: seq, conn: conn, meta: presence.AppendMeta(nil, ref, "", "away", nil)}
}

func TestViewEvents(t *testing.T) {
	none := []string(nil)
	cases := []struct {
		name  string
		mode  presence.Mode
		local string // the local pending tracker
		steps []step
	}{
		{"user: first and second connection", presence.ModeUser, "", []step{
			{tr(1, "c1", "u", "r1"), []string{`[+u[r1]]`}},
			{tr(2, "c2", "u", "r2"), none},
			{un(3, "c2"), none}, // never shown to anyone: not kept
			{un(4, "c1"), []string{`[-u[r1]]`}},
		}},
		{"user: a shown ref is retracted by the final leave", presence.ModeUser, "c3", []step{
			{tr(1, "c1", "u", "r1"), []string{`[+u[r1]]`}},
			{tr(2, "c2", "u", "r2"), none},
			{tr(3, "c3", "v", "r3"), []string{`[+v[r3]]`, "state→c3"}}, // c3's state shows r2
			{un(4, "c2"), none},
			{un(5, "c1"), []string{`[-u[r2 r1]]`}},
		}},
		{"user: set_state joins every meta", presence.ModeUser, "", []step{
			{tr(1, "c1", "u", "r1"), []string{`[+u[r1]]`}},
			{tr(2, "c2", "u", "r2"), none},
			{st(3, "c2", "r2"), []string{`[+u[r1 r2]]`}},
		}},
		{"user: one batch, one leave per user that leaves", presence.ModeUser, "", []step{
			{tr(1, "c1", "u", "r1"), []string{`[+u[r1]]`}},
			{tr(2, "c2", "v", "r2"), []string{`[+v[r2]]`}},
			{tr(3, "c3", "v", "r3"), none},
			{tr(4, "c4", "w", "r4"), []string{`[+w[r4]]`}},
			{un(5, "c1", "c2", "c4"), []string{`[-u[r1] -w[r4]]`}},
		}},
		{"connection: every change is a diff", presence.ModeConnection, "", []step{
			{tr(1, "c1", "u", "r1"), []string{`[+u[r1]]`}},
			{tr(2, "c2", "u", "r2"), []string{`[+u[r2]]`}},
			{st(3, "c2", "r3"), []string{`[+u[r3] -u[r2]]`}},
			{un(4, "c1", "c2"), []string{`[-u[r1 r3]]`}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newView(c.mode, 32, "")
			claim := claims(func(id string) bool { return id == c.local })
			for i, s := range c.steps {
				apply, _ := v.accepts(pos{s.ev.epoch, s.ev.seq})
				if !apply {
					t.Fatalf("step %d not accepted at %v", i, v.at)
				}
				out, ok := applyNow(v, s.ev, claim)
				if !ok {
					t.Fatalf("step %d rejected", i)
				}
				if got := summaries(t, out); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: %v, want %v", i, got, s.want)
				}
			}
		})
	}
}

func TestViewCompaction(t *testing.T) {
	v := newView(presence.ModeUser, 1, "")
	pending := map[string]bool{}
	claim := claims(func(id string) bool { p := pending[id]; delete(pending, id); return p })
	seq := uint64(0)
	do := func(ev event) []string {
		out, ok := applyNow(v, ev, claim)
		if !ok {
			t.Fatal("rejected")
		}
		seq = ev.seq
		return summaries(t, out)
	}
	do(tr(1, "c1", "u", "r1"))
	do(st(2, "c1", "r1")) // announces c1 (it already was)
	do(tr(3, "c2", "u", "r2"))
	do(tr(4, "c3", "u", "r3"))
	do(st(5, "c1", "r1")) // announces c2 and c3
	if got := do(un(6, "c2")); got != nil {
		t.Fatalf("first stale ref: %v", got)
	}
	got := do(un(7, "c3"))
	want := []string{`[-u[r2 r3 r1]]`, `[+u[r1]]`}
	if !slices.Equal(got, want) {
		t.Fatalf("compaction: %v, want %v", got, want)
	}
	_ = seq
}

// TestViewBatch walks the batching rules of a view (those of
// presence.Registry): events join the batch until it is flushed, a second
// change of a user in the batch publishes it first, the trackers still
// waiting share one presence_state, and a tracker gone before its batch
// went out gets none.
func TestViewBatch(t *testing.T) {
	none := []string(nil)
	cases := []struct {
		name    string
		mode    presence.Mode
		pending []string // local trackers waiting for their state
		steps   []step   // want: what apply publishes at once
		flush   []string // then the flush
	}{
		{"user: joins merge, trackers share a state", presence.ModeUser, []string{"c2", "c3"}, []step{
			{tr(1, "c1", "u", "r1"), none},
			{tr(2, "c2", "v", "r2"), none},
			{tr(3, "c3", "w", "r3"), none},
			// u is in the batch: it goes first, c4 starts the next one.
			{tr(4, "c4", "u", "r4"), []string{`[+u[r1] +v[r2] +w[r3]]`, "state→c2,c3"}},
			{un(5, "c2"), none},
		}, []string{`[-v[r2]]`}},
		{"user: a second tab tracked and untracked in one batch is silent", presence.ModeUser, []string{"c2"}, []step{
			{tr(1, "c1", "u", "r1"), none},
			{tr(2, "c3", "w", "r3"), none},
			// w's second tab: a change of w, which is in the batch.
			{tr(3, "c2", "w", "r2"), []string{`[+u[r1] +w[r3]]`}},
			{un(4, "c2"), none}, // gone before its state
		}, nil},
		{"user: a reaper's batch leaves once per user", presence.ModeUser, nil, []step{
			{tr(1, "c1", "u", "r1"), none},
			{tr(2, "c2", "u", "r2"), []string{`[+u[r1]]`}},
			{tr(3, "c3", "v", "r3"), none},
			{un(4, "c1", "c2"), none},
		}, []string{`[+v[r3] -u[r1 r2]]`}},
		{"user: the untrack that empties the view publishes", presence.ModeUser, nil, []step{
			{tr(1, "c1", "u", "r1"), none},
			{un(2, "c1"), []string{`[+u[r1]]`, `[-u[r1]]`}},
		}, nil},
		{"connection: a set of a user in the batch publishes it first", presence.ModeConnection, []string{"c1"}, []step{
			{tr(1, "c1", "u", "r1"), none},
			{tr(2, "c2", "v", "r2"), none},
			{st(3, "c1", "r3"), []string{`[+u[r1] +v[r2]]`, "state→c1"}},
			{tr(4, "c3", "w", "r4"), none},
		}, []string{`[+u[r3] +w[r4] -u[r1]]`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newView(c.mode, 32, "")
			pending := map[string]bool{}
			for _, id := range c.pending {
				pending[id] = true
			}
			claim := claims(func(id string) bool { p := pending[id]; delete(pending, id); return p })
			for i, s := range c.steps {
				if apply, _ := v.accepts(pos{s.ev.epoch, s.ev.seq}); !apply {
					t.Fatalf("step %d not accepted at %v", i, v.at)
				}
				out, ok := v.apply(s.ev, claim)
				if !ok {
					t.Fatalf("step %d rejected", i)
				}
				if got := summaries(t, out); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: %v, want %v", i, got, s.want)
				}
			}
			if got := summaries(t, v.flush(nil, claim)); !slices.Equal(got, c.flush) {
				t.Fatalf("flush: %v, want %v", got, c.flush)
			}
			if !v.b.Empty() {
				t.Fatal("batch not empty after flush")
			}
		})
	}
}

func TestViewAccepts(t *testing.T) {
	v := newView(presence.ModeUser, 32, "")
	v.at = pos{3, 10}
	cases := []struct {
		p           pos
		apply, skip bool
	}{
		{pos{3, 11}, true, false},
		{pos{3, 10}, false, true},
		{pos{3, 2}, false, true},
		{pos{2, 50}, false, true}, // an older epoch
		{pos{3, 12}, false, false},
		{pos{4, 1}, true, false}, // empty view, the channel started again
		{pos{4, 2}, false, false},
	}
	for _, c := range cases {
		if apply, skip := v.accepts(c.p); apply != c.apply || skip != c.skip {
			t.Errorf("accepts(%v) = %v, %v; want %v, %v", c.p, apply, skip, c.apply, c.skip)
		}
	}
	v.conns["x"] = &vconn{}
	if apply, skip := v.accepts(pos{4, 1}); apply || skip {
		t.Errorf("a new epoch over a non-empty view must resync")
	}
}

func ent(conn, user, ref string, pos uint64) entry {
	return entry{conn: conn, user: userKey(user), meta: meta(ref), pos: pos}
}

func TestViewCorrection(t *testing.T) {
	cases := []struct {
		name   string
		mode   presence.Mode
		before []event
		snap   []entry
		want   []string
		// then: an event after the correction and what it must produce.
		then     event
		thenWant []string
	}{
		{
			name:   "user: one diff for a lost join and a lost leave",
			mode:   presence.ModeUser,
			before: []event{tr(1, "c1", "u", "r1"), tr(2, "c2", "v", "r2")},
			snap:   []entry{ent("c2", "v", "r2", 2), ent("c3", "w", "r3", 5)},
			want:   []string{`[+w[r3] -u[r1]]`},
		},
		{
			name:   "user: a staying user is joined, its lost ref kept for its final leave",
			mode:   presence.ModeUser,
			before: []event{tr(1, "c1", "u", "r1"), tr(2, "c2", "u", "r2"), st(3, "c2", "r2")},
			snap:   []entry{ent("c2", "u", "r2", 2), ent("c4", "u", "r4", 7)},
			want:   []string{`[+u[r2 r4]]`},
			then:   event{kind: kindBatch, epoch: 1, seq: 8, conns: []string{"c2", "c4"}},
			// r1 was announced: clients may hold it.
			thenWant: []string{`[-u[r1 r2 r4]]`},
		},
		{
			name:   "connection: changed metas leave and join",
			mode:   presence.ModeConnection,
			before: []event{tr(1, "c1", "u", "r1"), tr(2, "c2", "u", "r2")},
			snap:   []entry{ent("c2", "u", "r5", 6)},
			want:   []string{`[+u[r5] -u[r1 r2]]`},
		},
		{
			name:   "nothing lost: no diff",
			mode:   presence.ModeUser,
			before: []event{tr(1, "c1", "u", "r1")},
			snap:   []entry{ent("c1", "u", "r1", 1)},
			want:   nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newView(c.mode, 32, "")
			no := claims(func(string) bool { return false })
			for _, ev := range c.before {
				if _, ok := applyNow(v, ev, no); !ok {
					t.Fatal("rejected")
				}
			}
			got := summaries(t, v.load(pos{1, 7}, c.snap, true, no))
			if !slices.Equal(got, c.want) {
				t.Fatalf("correction %v, want %v", got, c.want)
			}
			if c.then.kind != 0 {
				out, ok := applyNow(v, c.then, no)
				if !ok {
					t.Fatal("rejected after correction")
				}
				if got := summaries(t, out); !slices.Equal(got, c.thenWant) {
					t.Fatalf("after correction: %v, want %v", got, c.thenWant)
				}
			}
		})
	}
}

func TestViewLoadServesPendingTracker(t *testing.T) {
	v := newView(presence.ModeUser, 32, "")
	pending := map[string]bool{"c2": true, "c3": true}
	claim := claims(func(id string) bool { p := pending[id]; delete(pending, id); return p })
	out := v.load(pos{1, 3}, []entry{ent("c1", "u", "r1", 1), ent("c2", "v", "r2", 2), ent("c3", "v", "r3", 3)}, false, claim)
	if got := summaries(t, out); !slices.Equal(got, []string{"state→c2,c3"}) {
		t.Fatalf("first load: %v", got)
	}
	if !json.Valid(out[0].state) {
		t.Fatalf("state delivery %+v", out[0])
	}
}

func TestWire(t *testing.T) {
	msg := string(encodeFields(kindRoom, []byte("node1"), binFlag(true), []byte("a\x00b")))
	kind, f, ok := splitFields(msg, 3)
	if !ok || kind != kindRoom || f[0] != "node1" || f[1] != "1" || f[2] != "a\x00b" {
		t.Fatalf("splitFields = %c %q %v", kind, f, ok)
	}
	ev, ok := parseEvent("B\x003\x0042\x00c1\x00c2")
	if !ok || ev.epoch != 3 || ev.seq != 42 || !slices.Equal(ev.conns, []string{"c1", "c2"}) {
		t.Fatalf("parseEvent = %+v %v", ev, ok)
	}
	for _, bad := range []string{"", "T", "T\x001", "U\x00x\x001\x00c", "X\x001\x001\x00c"} {
		if _, ok := parseEvent(bad); ok {
			t.Errorf("parseEvent(%q) ok", bad)
		}
	}
	for _, tc := range []struct {
		msg          string
		conn, reason string
		code         codec.CloseCode
		ok           bool
	}{
		{string(encodeFields(kindClose, []byte("n.c1"), []byte("4000"), []byte("kicked\x00out"))), "n.c1", "kicked\x00out", 4000, true},
		{"c\x00n.c1\x001000\x00", "n.c1", "", codec.CloseNormal, true},
		{"c\x00n.c1\x00bye", "n.c1", "bye", codec.CloseNormal, true}, // a node from before codes travelled
		{"c\x00n.c1", "", "", 0, false},
	} {
		conn, code, reason, ok := parseClose(tc.msg)
		if conn != tc.conn || code != tc.code || reason != tc.reason || ok != tc.ok {
			t.Errorf("parseClose(%q) = %q %d %q %v", tc.msg, conn, code, reason, ok)
		}
	}
	e, ok := parseEntry("c1", "12\x00\"u\"\x00{\"phx_ref\":\"r\"}")
	if !ok || e.pos != 12 || e.user != `"u"` || refOf(e.meta) != "r" {
		t.Fatalf("parseEntry = %+v %v", e, ok)
	}
}
