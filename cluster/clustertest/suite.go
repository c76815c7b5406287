package clustertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/presence"
)

// Factory starts len(sinks) nodes sharing one presence state, in mode with
// maxStale (presence.Config.MaxStaleRefs, 0 = default). Node i delivers to
// sinks[i]; a backend that needs to know about local members registers
// itself with sinks[i].SetMembership. Everything stops when t ends.
type Factory func(t *testing.T, mode presence.Mode, maxStale int, sinks []*Sink) []presence.Backend

// BackendSuite is the conformance suite of presence.Backend: validation
// errors, the messages of every change in both modes across nodes, List,
// Count and Get on every node, and a randomized churn whose final state
// must equal every tracking client's rebuilt view on every node.
func BackendSuite(t *testing.T, f Factory) {
	t.Run("errors", func(t *testing.T) { testErrors(t, f) })
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) {
			t.Run("track_untrack", func(t *testing.T) { testTrackUntrack(t, f, mode) })
			t.Run("set_state", func(t *testing.T) { testSetState(t, f, mode) })
			t.Run("meta", func(t *testing.T) { testMeta(t, f, mode) })
		})
	}
	for _, cfg := range []ChurnConfig{
		{Mode: presence.ModeUser, Seed: 1},
		{Mode: presence.ModeUser, MaxStale: 2, Seed: 2},
		{Mode: presence.ModeConnection, Seed: 3},
	} {
		t.Run(fmt.Sprintf("churn/mode=%s/max_stale=%d", cfg.Mode, cfg.MaxStale), func(t *testing.T) {
			sinks := []*Sink{NewSink(), NewSink(), NewSink()}
			nodes := f(t, cfg.Mode, cfg.MaxStale, sinks)
			Churn(t, cfg, nodes, sinks)
		})
	}
}

// Ctx returns a context for one step of a test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// SyncAll waits until every node delivered every message of channels due
// to the changes made so far on any node. Two passes: the first one also
// flushes every node's queued writes to Redis, the second waits for all of
// them everywhere.
func SyncAll(t testing.TB, nodes []presence.Backend, channels ...string) {
	t.Helper()
	for range 2 {
		for _, n := range nodes {
			for _, ch := range channels {
				if err := n.Sync(Ctx(t), ch); err != nil {
					t.Fatalf("sync %q: %v", ch, err)
				}
			}
		}
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testErrors(t *testing.T, f Factory) {
	s := NewSink()
	b := f(t, presence.ModeUser, 0, []*Sink{s})[0]
	s.Join("c1", "room")
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"no channel", b.Track("", "c1", "u", nil), presence.ErrNoChannel},
		{"no conn", b.Track("room", "", "u", nil), presence.ErrNoConnID},
		{"no user", b.Track("room", "c1", "", nil), presence.ErrNoUserID},
		{"bad user", b.Track("room", "c1", "\xff", nil), presence.ErrBadUserID},
		{"bad state type", b.Track("room", "c1", "u", map[string]any{"state": 5}), presence.ErrBadState},
		{"empty state", b.Track("room", "c1", "u", map[string]any{"state": ""}), presence.ErrBadState},
		{"bad meta", b.Track("room", "c1", "u", map[string]any{"f": func() {}}), presence.ErrBadMeta},
		{"untrack untracked", b.Untrack("room", "c1"), presence.ErrNotTracked},
		{"set untracked", b.SetState("room", "c1", "away"), presence.ErrNotTracked},
		{"track", b.Track("room", "c1", "u", nil), nil},
		{"track again", b.Track("room", "c1", "u", nil), presence.ErrAlreadyTracked},
		{"set empty", b.SetState("room", "c1", ""), presence.ErrBadState},
		{"untrack other channel", b.Untrack("other", "c1"), presence.ErrNotTracked},
		{"untrack", b.Untrack("room", "c1"), nil},
		{"untrack twice", b.Untrack("room", "c1"), presence.ErrNotTracked},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}
	SyncAll(t, []presence.Backend{b}, "room")
	if n, err := b.Count(Ctx(t), "room"); err != nil || n != 0 {
		t.Fatalf("Count after errors = %d, %v", n, err)
	}
}

// expectMsgs checks that client id of sink got exactly want presence
// messages in channel so far and returns them decoded.
func expectMsgs(t *testing.T, s *Sink, id, channel string, want int) []Message {
	t.Helper()
	c := s.Client(id)
	var raw [][]byte
	if c != nil {
		raw = c.Presence[channel]
	}
	if len(raw) != want {
		t.Fatalf("%s got %d presence messages in %s, want %d:\n%s", id, len(raw), channel, want, dump(raw))
	}
	out := make([]Message, len(raw))
	for i, b := range raw {
		m, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

func dump(raw [][]byte) string {
	var s string
	for _, b := range raw {
		s += "  " + string(b) + "\n"
	}
	return s
}

func metaRefs(p wirePresence) []string {
	var out []string
	for _, m := range p.Metas {
		out = append(out, ref(m))
	}
	return out
}

func listRefs(t *testing.T, b presence.Backend, channel, user string) []string {
	t.Helper()
	p, ok, err := b.Get(Ctx(t), channel, user)
	mustNil(t, err)
	if !ok {
		return nil
	}
	var out []string
	for _, m := range p.Metas {
		out = append(out, m.Ref)
	}
	return out
}

// expectAgree checks that List, Count and Get agree on every node and
// returns the list.
func expectAgree(t *testing.T, nodes []presence.Backend, channel string) []presence.Presence {
	t.Helper()
	first, err := nodes[0].List(Ctx(t), channel)
	mustNil(t, err)
	for i, b := range nodes {
		l, err := b.List(Ctx(t), channel)
		mustNil(t, err)
		if !reflect.DeepEqual(wireList(t, l), wireList(t, first)) {
			t.Fatalf("node %d List %v, node 0 %v", i, wireList(t, l), wireList(t, first))
		}
		n, err := b.Count(Ctx(t), channel)
		mustNil(t, err)
		if n != len(first) {
			t.Fatalf("node %d Count %d, List has %d users", i, n, len(first))
		}
		for _, p := range first {
			g, ok, err := b.Get(Ctx(t), channel, p.UserID)
			mustNil(t, err)
			if !ok || !reflect.DeepEqual(wireList(t, []presence.Presence{g}), wireList(t, []presence.Presence{p})) {
				t.Fatalf("node %d Get %s = %v, %v; List has %v", i, p.UserID, g, ok, p)
			}
		}
	}
	return first
}

// wireList renders presences as clients see them (metas as JSON objects).
func wireList(t testing.TB, l []presence.Presence) map[string][]string {
	out := map[string][]string{}
	for _, p := range l {
		for _, m := range p.Metas {
			b, err := m.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			out[p.UserID] = append(out[p.UserID], string(b))
		}
	}
	return out
}

func testTrackUntrack(t *testing.T, f Factory, mode presence.Mode) {
	sa, sb := NewSink(), NewSink()
	nodes := f(t, mode, 0, []*Sink{sa, sb})
	a, b := nodes[0], nodes[1]
	const ch = "room:1"
	sa.Join("a1", ch)
	sb.Join("b1", ch)
	sb.Join("b2", ch)
	sync := func() { t.Helper(); SyncAll(t, nodes, ch) }
	sync() // members get diffs once their node follows the channel

	mustNil(t, a.Track(ch, "a1", "alice", map[string]any{"name": "Alice"}))
	sync()
	m := expectMsgs(t, sa, "a1", ch, 1)[0]
	if m.Event != "presence_state" || len(m.State) != 1 || len(m.State["alice"].Metas) != 1 {
		t.Fatalf("a1 state: %+v", m)
	}
	aliceRef := ref(m.State["alice"].Metas[0])
	if meta := m.State["alice"].Metas[0]; meta["name"] != "Alice" || meta["state"] != "online" || aliceRef == "" {
		t.Fatalf("alice meta: %v", meta)
	}
	for _, id := range []string{"b1", "b2"} {
		d := expectMsgs(t, sb, id, ch, 1)[0]
		if d.Event != "presence_diff" || len(d.Joins) != 1 || len(d.Leaves) != 0 || metaRefs(d.Joins["alice"])[0] != aliceRef {
			t.Fatalf("%s join diff: %+v", id, d)
		}
	}

	mustNil(t, b.Track(ch, "b1", "bob", nil))
	sync()
	if st := expectMsgs(t, sb, "b1", ch, 2)[1]; st.Event != "presence_state" || len(st.State) != 2 {
		t.Fatalf("b1 state: %+v", st)
	}
	expectMsgs(t, sa, "a1", ch, 2)
	expectMsgs(t, sb, "b2", ch, 2)

	// A second connection of alice, on the other node.
	mustNil(t, b.Track(ch, "b2", "alice", nil))
	if err := b.Track(ch, "b2", "alice", nil); !errors.Is(err, presence.ErrAlreadyTracked) {
		t.Fatalf("track twice: %v", err)
	}
	sync()
	st := expectMsgs(t, sb, "b2", ch, 3)[2]
	if st.Event != "presence_state" || len(st.State["alice"].Metas) != 2 {
		t.Fatalf("b2 state: %+v", st)
	}
	others := 2
	if mode == presence.ModeConnection {
		others = 3 // a join of that connection's meta
	}
	expectMsgs(t, sa, "a1", ch, others)
	expectMsgs(t, sb, "b1", ch, others)

	list := expectAgree(t, nodes, ch)
	if len(list) != 2 || list[0].UserID != "alice" || len(list[0].Metas) != 2 || list[1].UserID != "bob" {
		t.Fatalf("List: %+v", list)
	}
	if refs := listRefs(t, a, ch, "alice"); refs[0] != aliceRef {
		t.Fatalf("alice metas out of track order: %v", refs)
	}

	// alice's second tab goes: silent in user mode.
	mustNil(t, b.Untrack(ch, "b2"))
	sync()
	if mode == presence.ModeUser {
		expectMsgs(t, sa, "a1", ch, 2)
		expectMsgs(t, sb, "b1", ch, 2)
	} else {
		d := expectMsgs(t, sa, "a1", ch, 4)[3]
		if len(d.Leaves["alice"].Metas) != 1 || len(d.Joins) != 0 {
			t.Fatalf("connection-mode leave: %+v", d)
		}
		expectMsgs(t, sb, "b1", ch, 4)
	}
	// Her last connection goes: one leave for alice everywhere.
	mustNil(t, a.Untrack(ch, "a1"))
	sync()
	for _, c := range []struct {
		s  *Sink
		id string
	}{{sa, "a1"}, {sb, "b1"}, {sb, "b2"}} {
		msgs := expectMsgs(t, c.s, c.id, ch, len(c.s.Client(c.id).Presence[ch]))
		last := msgs[len(msgs)-1]
		if last.Event != "presence_diff" || len(last.Leaves) != 1 || !slices.Contains(metaRefs(last.Leaves["alice"]), aliceRef) {
			t.Fatalf("%s last message is not alice's leave: %+v", c.id, last)
		}
	}
	if got := expectAgree(t, nodes, ch); len(got) != 1 || got[0].UserID != "bob" {
		t.Fatalf("List after leaves: %+v", got)
	}
	CheckViews(t, mode, sb, []string{"b1"}, ch, expectAgree(t, nodes, ch))
	mustNil(t, b.Untrack(ch, "b1"))
	sync()
	if got := expectAgree(t, nodes, ch); len(got) != 0 {
		t.Fatalf("List after all left: %+v", got)
	}
}

func testSetState(t *testing.T, f Factory, mode presence.Mode) {
	sa, sb := NewSink(), NewSink()
	nodes := f(t, mode, 0, []*Sink{sa, sb})
	a, b := nodes[0], nodes[1]
	const ch = "room:set"
	sa.Join("a1", ch)
	sb.Join("b1", ch)
	SyncAll(t, nodes, ch)
	mustNil(t, a.Track(ch, "a1", "alice", nil))
	mustNil(t, b.Track(ch, "b1", "bob", nil))
	SyncAll(t, nodes, ch)
	oldRef := listRefs(t, a, ch, "alice")[0]
	mustNil(t, a.SetState(ch, "a1", "typing"))
	SyncAll(t, nodes, ch)
	// b1: alice's join and its state (either order), alice's set; a1:
	// state, bob's join, its own set.
	d := expectMsgs(t, sb, "b1", ch, 3)[2]
	expectMsgs(t, sa, "a1", ch, 3)
	p, ok, err := b.Get(Ctx(t), ch, "alice")
	mustNil(t, err)
	if !ok || len(p.Metas) != 1 || p.Metas[0].State != "typing" {
		t.Fatalf("Get after set_state: %+v %v", p, ok)
	}
	joined := d.Joins["alice"].Metas
	if len(joined) != 1 || joined[0]["state"] != "typing" {
		t.Fatalf("set diff joins: %+v", d)
	}
	if mode == presence.ModeUser {
		if len(d.Leaves) != 0 || ref(joined[0]) != oldRef || p.Metas[0].Ref != oldRef {
			t.Fatalf("user-mode set diff: %+v (old ref %s)", d, oldRef)
		}
	} else {
		left := d.Leaves["alice"].Metas
		if len(left) != 1 || ref(left[0]) != oldRef || joined[0]["phx_ref_prev"] != oldRef || ref(joined[0]) == oldRef {
			t.Fatalf("connection-mode set diff: %+v (old ref %s)", d, oldRef)
		}
		if p.Metas[0].PrevRef != oldRef {
			t.Fatalf("Get PrevRef %q, want %q", p.Metas[0].PrevRef, oldRef)
		}
	}
	CheckViews(t, mode, sb, []string{"b1"}, ch, expectAgree(t, nodes, ch))
	CheckViews(t, mode, sa, []string{"a1"}, ch, expectAgree(t, nodes, ch))
}

func testMeta(t *testing.T, f Factory, mode presence.Mode) {
	s := NewSink()
	nodes := f(t, mode, 0, []*Sink{s})
	b := nodes[0]
	const ch = "room:meta"
	s.Join("c1", ch)
	mustNil(t, b.Track(ch, "c1", "ünï \"q\"", map[string]any{
		"state": "away", "channel": "x", "user_id": "y", "phx_ref": "z", "n": 1.5, "tags": []any{"a"},
	}))
	SyncAll(t, nodes, ch)
	list := expectAgree(t, nodes, ch)
	if len(list) != 1 || list[0].UserID != "ünï \"q\"" {
		t.Fatalf("List: %+v", list)
	}
	m := list[0].Metas[0]
	if m.State != "away" || m.Fields["n"] != 1.5 || len(m.Fields) != 2 || m.Ref == "z" {
		t.Fatalf("meta: %+v", m)
	}
	st := expectMsgs(t, s, "c1", ch, 1)[0]
	if got := st.State["ünï \"q\""].Metas; len(got) != 1 || got[0]["state"] != "away" || got[0]["channel"] != nil {
		t.Fatalf("state: %+v", st)
	}
}

// CheckViews rebuilds the view of each listed client of sink from its
// presence messages in channel and compares it with list: users with both
// algorithms (the seed's only in ModeUser, which it cannot follow
// otherwise), metas too in ModeConnection.
func CheckViews(t testing.TB, mode presence.Mode, s *Sink, clients []string, channel string, list []presence.Presence) {
	t.Helper()
	want := map[string][]string{}
	var users []string
	for _, p := range list {
		users = append(users, p.UserID)
		for _, m := range p.Metas {
			want[p.UserID] = append(want[p.UserID], m.Ref+":"+m.State)
		}
		slices.Sort(want[p.UserID])
	}
	slices.Sort(users)
	for _, id := range clients {
		c := s.Client(id)
		if c == nil {
			t.Fatalf("no client %s", id)
		}
		v := NewView()
		for _, msg := range c.Presence[channel] {
			if err := v.Apply(msg); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		if got := v.Users(); !slices.Equal(got, users) && !(len(got) == 0 && len(users) == 0) {
			t.Errorf("%s: phoenix client %s sees %v, List %v\n%s", channel, id, got, users, dump(tail(c.Presence[channel])))
		}
		if mode == presence.ModeUser {
			if got := v.SeedUsers(); !slices.Equal(got, users) && !(len(got) == 0 && len(users) == 0) {
				t.Errorf("%s: seed client %s sees %v, List %v\n%s", channel, id, got, users, dump(tail(c.Presence[channel])))
			}
		} else {
			for u, metas := range v.Phoenix {
				var got []string
				for _, m := range metas {
					s, _ := m["state"].(string)
					got = append(got, ref(m)+":"+s)
				}
				slices.Sort(got)
				if !slices.Equal(got, want[u]) {
					t.Errorf("%s: phoenix client %s metas of %s: %v, want %v", channel, id, u, got, want[u])
				}
			}
		}
	}
}

func tail(msgs [][]byte) [][]byte {
	if len(msgs) > 6 {
		return msgs[len(msgs)-6:]
	}
	return msgs
}

// ChurnConfig sizes a randomized churn run.
type ChurnConfig struct {
	Mode     presence.Mode
	MaxStale int
	Seed     uint64
	Channels int // default 2
	Users    int // default 5
	Tabs     int // connections per user and node, default 2
	Ops      int // per node, default 300
}

// Churn runs, on every node at once, random track / set_state / untrack of
// that node's connections (each a member of every channel), then checks
// that every node's List equals the model and that every tracking client's
// rebuilt view equals List.
func Churn(t *testing.T, cfg ChurnConfig, nodes []presence.Backend, sinks []*Sink) {
	if cfg.Channels == 0 {
		cfg.Channels = 2
	}
	if cfg.Users == 0 {
		cfg.Users = 5
	}
	if cfg.Tabs == 0 {
		cfg.Tabs = 2
	}
	if cfg.Ops == 0 {
		cfg.Ops = 300
		if testing.Short() {
			cfg.Ops = 120
		}
	}
	var chans []string
	for i := 0; i < cfg.Channels; i++ {
		chans = append(chans, fmt.Sprintf("churn:%d", i))
	}
	states := []string{"online", "typing", "away"}
	// model[node][channel][conn] = state; each node's worker owns its map.
	model := make([]map[string]map[string]string, len(nodes))
	var wg sync.WaitGroup
	for i := range nodes {
		model[i] = map[string]map[string]string{}
		var conns []string
		for u := 0; u < cfg.Users; u++ {
			for tab := 0; tab < cfg.Tabs; tab++ {
				id := fmt.Sprintf("n%d-u%d-t%d", i, u, tab)
				conns = append(conns, id)
				for _, ch := range chans {
					sinks[i].Join(id, ch)
				}
			}
		}
		for _, ch := range chans {
			model[i][ch] = map[string]string{}
		}
	}
	SyncAll(t, nodes, chans...)
	for i := range nodes {
		var conns []string
		for u := 0; u < cfg.Users; u++ {
			for tab := 0; tab < cfg.Tabs; tab++ {
				conns = append(conns, fmt.Sprintf("n%d-u%d-t%d", i, u, tab))
			}
		}
		b, m := nodes[i], model[i]
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		wg.Go(func() {
			for op := 0; op < cfg.Ops; op++ {
				id := conns[rng.IntN(len(conns))]
				ch := chans[rng.IntN(len(chans))]
				user := id[len(fmt.Sprintf("n%d-", i)):]
				user = user[:len(user)-len("-t0")]
				x := rng.Float64()
				var err error
				switch cur := m[ch][id]; {
				case cur == "":
					state := states[rng.IntN(len(states))]
					err = b.Track(ch, id, user, map[string]any{"state": state, "conn": id})
					m[ch][id] = state
				case x < 0.4:
					state := states[rng.IntN(len(states))]
					err = b.SetState(ch, id, state)
					m[ch][id] = state
				default:
					err = b.Untrack(ch, id)
					delete(m[ch], id)
				}
				if err != nil {
					t.Errorf("node %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	SyncAll(t, nodes, chans...)
	t.Logf("churn: %d ops on %d nodes", cfg.Ops*len(nodes), len(nodes))
	var npm []PhoenixInput
	for _, ch := range chans {
		list := expectAgree(t, nodes, ch)
		got := map[string][]string{}
		for _, p := range list {
			for _, meta := range p.Metas {
				got[p.UserID] = append(got[p.UserID], fmt.Sprint(meta.Fields["conn"])+":"+meta.State)
			}
			slices.Sort(got[p.UserID])
		}
		want := map[string][]string{}
		for i := range nodes {
			for id, state := range model[i][ch] {
				user := id[len(fmt.Sprintf("n%d-", i)) : len(id)-len("-t0")]
				want[user] = append(want[user], id+":"+state)
			}
		}
		for _, v := range want {
			slices.Sort(v)
		}
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("%s: List %v, model %v", ch, got, want)
		}
		in := PhoenixInput{Channel: ch, Sinks: sinks, List: list}
		for i, s := range sinks {
			var tracked []string
			for id := range model[i][ch] {
				tracked = append(tracked, id)
			}
			slices.Sort(tracked)
			CheckViews(t, cfg.Mode, s, tracked, ch, list)
			in.Clients = append(in.Clients, tracked)
		}
		npm = append(npm, in)
	}
	// The same views through the real phoenix npm package.
	t.Run("phoenix_npm", func(t *testing.T) { PhoenixNPM(t, cfg.Mode, npm) })
}
