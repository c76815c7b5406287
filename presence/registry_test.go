package presence_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"github.com/ripple-rt/ripple/presence"
)

// P maps a user id to its metas as sorted "conn:state" labels.
type P = map[string][]string

type pubCall struct {
	state, diff []byte
	exclude     string
}

type recorder struct{ calls []pubCall }

func (r *recorder) pub(state, diff []byte, exclude string) {
	r.calls = append(r.calls, pubCall{state, diff, exclude})
}

// wantPub describes one Publisher call. A diff is expected when joins or
// leaves is set (the other is then an empty object).
type wantPub struct {
	state         P // nil: no presence_state
	joins, leaves P
	exclude       string
}

type step struct {
	op    string // track, untrack, set
	ch    string // default "room"; noChannel for ""
	conn  string
	user  string
	state string         // set: the new state
	meta  map[string]any // track: metadata besides "conn"
	err   error
	pubs  []wantPub // compared unless anyPubs
	// anyPubs skips the publication check (setup steps).
	anyPubs bool
	list    P // when non-nil: List (and Count) after the step
}

const noChannel = "<none>"

func track(conn, user string) step { return step{op: "track", conn: conn, user: user, anyPubs: true} }

func (s step) run(r *presence.Registry, pub presence.Publisher) error {
	ch := s.ch
	switch ch {
	case "":
		ch = "room"
	case noChannel:
		ch = ""
	}
	switch s.op {
	case "track":
		meta := map[string]any{"conn": s.conn}
		for k, v := range s.meta {
			meta[k] = v
		}
		return r.Track(ch, s.conn, s.user, meta, pub)
	case "untrack":
		return r.Untrack(ch, s.conn, pub)
	case "set":
		return r.SetState(ch, s.conn, s.state, pub)
	}
	panic("unknown op " + s.op)
}

func TestRegistryTable(t *testing.T) {
	user, conn := presence.ModeUser, presence.ModeConnection
	cases := []struct {
		name     string
		mode     presence.Mode
		maxStale int
		steps    []step
	}{
		{name: "first connection joins", mode: user, steps: []step{
			{op: "track", conn: "c1", user: "alice",
				pubs: []wantPub{{state: P{"alice": {"c1:online"}}, joins: P{"alice": {"c1:online"}}, exclude: "c1"}},
				list: P{"alice": {"c1:online"}}},
		}},
		{name: "second connection is silent", mode: user, steps: []step{
			track("c1", "alice"),
			{op: "track", conn: "c2", user: "alice",
				pubs: []wantPub{{state: P{"alice": {"c1:online", "c2:online"}}, exclude: "c2"}},
				list: P{"alice": {"c1:online", "c2:online"}}},
		}},
		{name: "another user joins", mode: user, steps: []step{
			track("c1", "alice"),
			{op: "track", conn: "c3", user: "bob",
				pubs: []wantPub{{state: P{"alice": {"c1:online"}, "bob": {"c3:online"}}, joins: P{"bob": {"c3:online"}}, exclude: "c3"}},
				list: P{"alice": {"c1:online"}, "bob": {"c3:online"}}},
		}},
		{name: "untracking a non-last connection is silent", mode: user, steps: []step{
			track("c1", "alice"), track("c2", "alice"),
			{op: "untrack", conn: "c1", pubs: nil, list: P{"alice": {"c2:online"}}},
		}},
		{name: "last leave retracts every announced ref", mode: user, steps: []step{
			track("c1", "alice"), track("c2", "alice"), track("c3", "bob"),
			{op: "untrack", conn: "c1", pubs: nil},
			{op: "untrack", conn: "c2", pubs: []wantPub{{leaves: P{"alice": {"c1:online", "c2:online"}}}},
				list: P{"bob": {"c3:online"}}},
		}},
		{name: "a ref nobody else saw is not retained", mode: user, steps: []step{
			track("c1", "alice"), track("c2", "alice"),
			{op: "untrack", conn: "c2", pubs: nil},
			{op: "untrack", conn: "c1", pubs: []wantPub{{leaves: P{"alice": {"c1:online"}}}}, list: P{}},
		}},
		{name: "set_presence joins the full metas", mode: user, steps: []step{
			track("c1", "alice"), track("c2", "alice"),
			{op: "set", conn: "c2", state: "typing",
				pubs: []wantPub{{joins: P{"alice": {"c1:online", "c2:typing"}}}},
				list: P{"alice": {"c1:online", "c2:typing"}}},
			{op: "untrack", conn: "c2", pubs: nil},
			{op: "untrack", conn: "c1", pubs: []wantPub{{leaves: P{"alice": {"c1:online", "c2:typing"}}}}, list: P{}},
		}},
		{name: "set_presence to the same state publishes", mode: user, steps: []step{
			track("c1", "alice"),
			{op: "set", conn: "c1", state: "online", pubs: []wantPub{{joins: P{"alice": {"c1:online"}}}}},
		}},
		{name: "initial state from metadata, reserved keys dropped", mode: user, steps: []step{
			{op: "track", conn: "c1", user: "alice", meta: map[string]any{"state": "away", "channel": "x", "user_id": "y", "phx_ref": "z"},
				pubs: []wantPub{{state: P{"alice": {"c1:away"}}, joins: P{"alice": {"c1:away"}}, exclude: "c1"}},
				list: P{"alice": {"c1:away"}}},
		}},
		{name: "re-track is an error", mode: user, steps: []step{
			track("c1", "alice"),
			{op: "track", conn: "c1", user: "alice", err: presence.ErrAlreadyTracked, list: P{"alice": {"c1:online"}}},
			{op: "track", conn: "c1", user: "bob", err: presence.ErrAlreadyTracked, list: P{"alice": {"c1:online"}}},
		}},
		{name: "track again after untrack", mode: user, steps: []step{
			track("c1", "alice"),
			{op: "untrack", conn: "c1", pubs: []wantPub{{leaves: P{"alice": {"c1:online"}}}}, list: P{}},
			{op: "track", conn: "c1", user: "alice", meta: map[string]any{"state": "away"},
				pubs: []wantPub{{state: P{"alice": {"c1:away"}}, joins: P{"alice": {"c1:away"}}, exclude: "c1"}}},
		}},
		{name: "channels are independent", mode: user, steps: []step{
			track("c1", "alice"),
			{op: "track", ch: "other", conn: "c1", user: "alice",
				pubs: []wantPub{{state: P{"alice": {"c1:online"}}, joins: P{"alice": {"c1:online"}}, exclude: "c1"}}},
			{op: "untrack", ch: "other", conn: "c1", pubs: []wantPub{{leaves: P{"alice": {"c1:online"}}}}},
			{op: "untrack", conn: "c9", err: presence.ErrNotTracked, list: P{"alice": {"c1:online"}}},
		}},
		{name: "errors", mode: user, steps: []step{
			{op: "track", conn: "c1", user: "alice", meta: map[string]any{"state": 5}, err: presence.ErrBadState},
			{op: "track", conn: "c1", user: "alice", meta: map[string]any{"state": ""}, err: presence.ErrBadState},
			{op: "track", conn: "c1", user: "alice", meta: map[string]any{"f": func() {}}, err: presence.ErrBadMeta},
			{op: "track", conn: "", user: "alice", err: presence.ErrNoConnID},
			{op: "track", conn: "c1", user: "", err: presence.ErrNoUserID},
			{op: "track", conn: "c1", user: "a\xff", err: presence.ErrBadUserID},
			{op: "untrack", conn: "c1", err: presence.ErrNotTracked},
			{op: "set", conn: "c1", state: "typing", err: presence.ErrNotTracked},
			track("c2", "alice"),
			{op: "set", conn: "c2", state: "", err: presence.ErrBadState},
			{op: "set", conn: "c1", state: "typing", err: presence.ErrNotTracked, list: P{"alice": {"c2:online"}}},
		}},
		{name: "compaction", mode: user, maxStale: 2, steps: []step{
			track("c0", "alice"), track("c1", "alice"), track("c2", "alice"), track("c3", "alice"),
			track("b1", "bob"), // c3 goes out in bob's state
			{op: "untrack", conn: "c1", pubs: nil},
			{op: "untrack", conn: "c2", pubs: nil},
			{op: "untrack", conn: "c3", pubs: []wantPub{
				{leaves: P{"alice": {"c0:online", "c1:online", "c2:online", "c3:online"}}},
				{joins: P{"alice": {"c0:online"}}},
			}, list: P{"alice": {"c0:online"}, "bob": {"b1:online"}}},
			// The compaction emptied the retained refs.
			{op: "untrack", conn: "c0", pubs: []wantPub{{leaves: P{"alice": {"c0:online"}}}}, list: P{"bob": {"b1:online"}}},
		}},
		{name: "first connection joins", mode: conn, steps: []step{
			{op: "track", conn: "c1", user: "alice",
				pubs: []wantPub{{state: P{"alice": {"c1:online"}}, joins: P{"alice": {"c1:online"}}, exclude: "c1"}},
				list: P{"alice": {"c1:online"}}},
		}},
		{name: "second connection joins", mode: conn, steps: []step{
			track("c1", "alice"),
			{op: "track", conn: "c2", user: "alice",
				pubs: []wantPub{{state: P{"alice": {"c1:online", "c2:online"}}, joins: P{"alice": {"c2:online"}}, exclude: "c2"}},
				list: P{"alice": {"c1:online", "c2:online"}}},
		}},
		{name: "every untrack leaves", mode: conn, steps: []step{
			track("c1", "alice"), track("c2", "alice"),
			{op: "untrack", conn: "c1", pubs: []wantPub{{leaves: P{"alice": {"c1:online"}}}}, list: P{"alice": {"c2:online"}}},
			{op: "untrack", conn: "c2", pubs: []wantPub{{leaves: P{"alice": {"c2:online"}}}}, list: P{}},
		}},
		{name: "set_presence is leave plus join", mode: conn, steps: []step{
			track("c1", "alice"), track("c2", "alice"),
			{op: "set", conn: "c1", state: "typing",
				pubs: []wantPub{{joins: P{"alice": {"c1:typing"}}, leaves: P{"alice": {"c1:online"}}}},
				list: P{"alice": {"c1:typing", "c2:online"}}},
			{op: "untrack", conn: "c1", pubs: []wantPub{{leaves: P{"alice": {"c1:typing"}}}}},
		}},
		{name: "re-track is an error", mode: conn, steps: []step{
			track("c1", "alice"),
			{op: "track", conn: "c1", user: "alice", err: presence.ErrAlreadyTracked, list: P{"alice": {"c1:online"}}},
		}},
		{name: "errors", mode: conn, steps: []step{
			{op: "track", conn: "c1", user: "", err: presence.ErrNoUserID},
			{op: "track", ch: noChannel, conn: "c1", user: "alice", err: presence.ErrNoChannel},
			{op: "untrack", ch: noChannel, conn: "c1", err: presence.ErrNotTracked},
			{op: "untrack", conn: "c1", err: presence.ErrNotTracked},
			{op: "set", conn: "c1", state: "typing", err: presence.ErrNotTracked, list: P{}},
		}},
	}
	for _, tc := range cases {
		t.Run("mode="+tc.mode.String()+"/"+strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			r := presence.New(presence.Config{Mode: tc.mode, MaxStaleRefs: tc.maxStale})
			for i, s := range tc.steps {
				var rec recorder
				err := s.run(r, rec.pub)
				if !errors.Is(err, s.err) {
					t.Fatalf("step %d %s %s: err %v, want %v", i, s.op, s.conn, err, s.err)
				}
				if s.err != nil && len(rec.calls) != 0 {
					t.Fatalf("step %d: failed %s published %d messages", i, s.op, len(rec.calls))
				}
				if !s.anyPubs {
					checkPubs(t, i, rec.calls, s.pubs)
				}
				if s.list != nil {
					checkList(t, i, r, "room", s.list)
				}
			}
			if tc.maxStale > 0 && r.Compactions() != 1 {
				t.Errorf("Compactions() = %d, want 1", r.Compactions())
			}
		})
	}
}

func checkPubs(t *testing.T, i int, got []pubCall, want []wantPub) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("step %d: %d publications, want %d: %q", i, len(got), len(want), got)
	}
	for j, w := range want {
		g := got[j]
		if g.exclude != w.exclude {
			t.Errorf("step %d pub %d: exclude %q, want %q", i, j, g.exclude, w.exclude)
		}
		if (g.state != nil) != (w.state != nil) {
			t.Fatalf("step %d pub %d: state %q, want %v", i, j, g.state, w.state)
		}
		if g.state != nil {
			st, err := decodeState(g.state)
			if err != nil {
				t.Fatalf("step %d pub %d: %v", i, j, err)
			}
			if s := summarize(st); !reflect.DeepEqual(s, w.state) {
				t.Errorf("step %d pub %d: state %v, want %v", i, j, s, w.state)
			}
		}
		wantDiff := w.joins != nil || w.leaves != nil
		if (g.diff != nil) != wantDiff {
			t.Fatalf("step %d pub %d: diff %q, want joins %v leaves %v", i, j, g.diff, w.joins, w.leaves)
		}
		if g.diff == nil {
			continue
		}
		d, err := decodeDiff(g.diff)
		if err != nil {
			t.Fatalf("step %d pub %d: %v", i, j, err)
		}
		if w.joins == nil {
			w.joins = P{}
		}
		if w.leaves == nil {
			w.leaves = P{}
		}
		if s := summarize(d.Joins); !reflect.DeepEqual(s, w.joins) {
			t.Errorf("step %d pub %d: joins %v, want %v", i, j, s, w.joins)
		}
		if s := summarize(d.Leaves); !reflect.DeepEqual(s, w.leaves) {
			t.Errorf("step %d pub %d: leaves %v, want %v", i, j, s, w.leaves)
		}
	}
}

// listWire returns List through its JSON encoding, as the HTTP API shows it.
func listWire(t *testing.T, r *presence.Registry, ch string) map[string]wirePresence {
	t.Helper()
	b, err := sonic.Marshal(r.List(ch))
	if err != nil {
		t.Fatal(err)
	}
	var l []struct {
		UserID string     `json:"user_id"`
		Metas  []wireMeta `json:"metas"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("List JSON %s: %v", b, err)
	}
	out := make(map[string]wirePresence, len(l))
	for i, p := range l {
		if i > 0 && l[i-1].UserID >= p.UserID {
			t.Fatalf("List not sorted by user id: %s", b)
		}
		out[p.UserID] = wirePresence{Metas: p.Metas}
	}
	return out
}

func checkList(t *testing.T, i int, r *presence.Registry, ch string, want P) {
	t.Helper()
	if got := summarize(listWire(t, r, ch)); !reflect.DeepEqual(got, want) {
		t.Errorf("step %d: List %v, want %v", i, got, want)
	}
	if n := r.Count(ch); n != len(want) {
		t.Errorf("step %d: Count %d, want %d", i, n, len(want))
	}
	for u, metas := range want {
		p, ok := r.Get(ch, u)
		if !ok || p.UserID != u || len(p.Metas) != len(metas) {
			t.Errorf("step %d: Get(%q) = %+v, %v; want %d metas", i, u, p, ok, len(metas))
		}
	}
	if _, ok := r.Get(ch, "nobody"); ok {
		t.Errorf("step %d: Get(nobody) found", i)
	}
	if len(want) == 0 && slices.Contains(r.Channels(), ch) {
		t.Errorf("step %d: empty channel %q still held: %v", i, ch, r.Channels())
	}
}

// TestMetaEncoding checks the exact bytes of a presence_state and that
// List's JSON is the same meta.
func TestMetaEncoding(t *testing.T) {
	r := presence.New(presence.Config{RefPrefix: "n1."})
	var rec recorder
	meta := map[string]any{"channel": "room", "user_id": "u1", "name": "Alice \"A\"", "avatar": "/a.png", "n": 3}
	if err := r.Track("room", "c1", "u1", meta, rec.pub); err != nil {
		t.Fatal(err)
	}
	p, ok := r.Get("room", "u1")
	if !ok || len(p.Metas) != 1 {
		t.Fatalf("Get = %+v, %v", p, ok)
	}
	m := p.Metas[0]
	if !strings.HasPrefix(m.Ref, "n1.") || m.State != "online" || m.PrevRef != "" || len(m.Fields) != 3 {
		t.Fatalf("meta %+v", m)
	}
	wantMeta := `{"phx_ref":"` + m.Ref + `","state":"online","avatar":"/a.png","n":3,"name":"Alice \"A\""}`
	wantState := `{"event":"presence_state","payload":{"u1":{"metas":[` + wantMeta + `]}}}`
	wantDiff := `{"event":"presence_diff","payload":{"joins":{"u1":{"metas":[` + wantMeta + `]}},"leaves":{}}}`
	if got := string(rec.calls[0].state); got != wantState {
		t.Errorf("state\n got %s\nwant %s", got, wantState)
	}
	if got := string(rec.calls[0].diff); got != wantDiff {
		t.Errorf("diff\n got %s\nwant %s", got, wantDiff)
	}
	b, err := sonic.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"user_id":"u1","metas":[` + wantMeta + `]}`; string(b) != want {
		t.Errorf("Presence JSON\n got %s\nwant %s", b, want)
	}
	// A hand-built Meta encodes the same way, and decoding round-trips.
	var back presence.Meta
	if err := json.Unmarshal([]byte(wantMeta), &back); err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(back)
	if err != nil || string(b) != wantMeta {
		t.Errorf("round trip %s, %v; want %s", b, err, wantMeta)
	}
	// Caller's map changes after Track do not reach the registry.
	meta["name"] = "Mallory"
	if p, _ := r.Get("room", "u1"); p.Metas[0].Fields["name"] != `Alice "A"` {
		t.Errorf("registry shares the caller's map: %v", p.Metas[0].Fields)
	}
}

// TestConnectionModeRefs checks phx_ref and phx_ref_prev on a Phoenix update.
func TestConnectionModeRefs(t *testing.T) {
	r := presence.NewRegistry(presence.ModeConnection)
	if err := r.Track("room", "c1", "u1", nil, nil); err != nil {
		t.Fatal(err)
	}
	p, _ := r.Get("room", "u1")
	oldRef := p.Metas[0].Ref
	var rec recorder
	if err := r.SetState("room", "c1", "away", rec.pub); err != nil {
		t.Fatal(err)
	}
	d, err := decodeDiff(rec.calls[0].diff)
	if err != nil {
		t.Fatal(err)
	}
	join, leave := d.Joins["u1"].Metas[0], d.Leaves["u1"].Metas[0]
	p, _ = r.Get("room", "u1")
	m := p.Metas[0]
	if m.Ref == oldRef || m.PrevRef != oldRef || m.State != "away" {
		t.Fatalf("meta after update %+v (old ref %s)", m, oldRef)
	}
	if join["phx_ref"] != m.Ref || join["phx_ref_prev"] != oldRef || leave["phx_ref"] != oldRef || leave["state"] != "online" {
		t.Errorf("diff join %v leave %v", join, leave)
	}
}

// TestUserModeKeepsRef checks that a ModeUser update keeps the phx_ref.
func TestUserModeKeepsRef(t *testing.T) {
	r := presence.NewRegistry(presence.ModeUser)
	if err := r.Track("room", "c1", "u1", nil, nil); err != nil {
		t.Fatal(err)
	}
	p, _ := r.Get("room", "u1")
	if err := r.SetState("room", "c1", "typing", nil); err != nil {
		t.Fatal(err)
	}
	q, _ := r.Get("room", "u1")
	if q.Metas[0].Ref != p.Metas[0].Ref || q.Metas[0].State != "typing" || q.Metas[0].PrevRef != "" {
		t.Errorf("before %+v after %+v", p.Metas[0], q.Metas[0])
	}
}

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want presence.Mode
		err  error
	}{
		{"", presence.ModeUser, nil},
		{"user", presence.ModeUser, nil},
		{"Connection", presence.ModeConnection, nil},
		{"phoenix", 0, presence.ErrBadMode},
	} {
		got, err := presence.ParseMode(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
