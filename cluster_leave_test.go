package ripple_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/presence"
)

// TestClusterLeaveUntracks leaves a tracked channel in cluster mode, in
// both presence modes: one tab by its own leave action, the other by
// /api/leave called on another node. The members on every node get the
// leave diffs (in user mode one, for the user's last tab), and no node
// lists the user any more.
func TestClusterLeaveUntracks(t *testing.T) {
	t.Parallel()
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) {
			t.Parallel()
			nodes := startCluster(t, 2, ripple.Config{PresenceMode: mode})
			A, B := nodes[0], nodes[1]
			w, _ := dialID(t, A)
			v, _ := dialID(t, B)
			for _, c := range []*wstest.Client{w, v} {
				wstest.Send(t, c, `{"join":"room:l","send":"joined"}`)
				expectText(t, c, "joined")
			}
			a1, _ := dialID(t, A)
			a2, a2ID := dialID(t, B)
			for i, a := range []*wstest.Client{a1, a2} {
				wstest.Send(t, a, `{"track":{"channel":"room:l","user_id":"u1"}}`)
				everyNode(t, nodes, "the track in Redis", func(s *wstest.Server) bool {
					p, _ := s.GetPresence("room:l", "u1")
					return len(p.Metas) == i+1
				})
			}
			marker := 0
			// sync sends a marker through room:l after every presence
			// message due so far and returns the diffs each client got
			// before it, as "+user" and "-user".
			sync := func(clients ...*wstest.Client) [][]string {
				t.Helper()
				syncPresence(t, nodes, "room:l")
				marker++
				want := fmt.Sprintf(`"marker %d"`, marker)
				A.BroadcastRoom("room:l", []byte(want))
				var got [][]string
				for _, c := range clients {
					got = append(got, diffsUntil(t, c, want))
				}
				return got
			}
			sync(w, v, a1, a2)

			// a1 leaves by its own action on A.
			wstest.Send(t, a1, `{"leave":"room:l","send":"left"}`)
			expectText(t, a1, "left")
			got := sync(w, v, a2)
			want := []string{"-u1"}
			if mode == presence.ModeUser {
				want = nil // u1 is still there on a2
			}
			for i, name := range []string{"A's member", "B's member", "u1's other tab"} {
				if !slices.Equal(got[i], want) {
					t.Errorf("after the first leave %s got %v, want %v", name, got[i], want)
				}
			}
			for i, s := range nodes {
				if l := s.ListPresence("room:l"); len(l) != 1 || len(l[0].Metas) != 1 {
					t.Errorf("node %d lists %+v after the first leave, want u1 with one meta", i, l)
				}
			}

			// a2 (on B) leaves through the API of A.
			if status, out := A.PostAPI(t, "leave", fmt.Sprintf(`{"connection_id":%q,"channel":"room:l"}`, a2ID)); status != 200 {
				t.Fatalf("api leave: %d %v", status, out)
			}
			everyNode(t, nodes, "a2 out of room:l", func(s *wstest.Server) bool { return len(s.ClientsIn("room:l")) == 2 })
			got = sync(w, v)
			for i, name := range []string{"A's member", "B's member"} {
				if !slices.Equal(got[i], []string{"-u1"}) {
					t.Errorf("after the last leave %s got %v, want [-u1]", name, got[i])
				}
			}
			for i, s := range nodes {
				if l := s.ListPresence("room:l"); len(l) != 0 {
					t.Errorf("node %d lists %+v after the last leave", i, l)
				}
				if _, out := s.PostAPI(t, "list_presence", `{"channel":"room:l"}`); len(out["presences"].([]any)) != 0 {
					t.Errorf("node %d: /api/list_presence = %v after the last leave", i, out)
				}
			}
			wstest.ExpectSilence(t, a1, wstest.Quiet)
			wstest.ExpectSilence(t, a2, wstest.Quiet)
		})
	}
}

// diffsUntil reads c's messages up to marker and returns the presence_diff
// changes among them, as "+user" for a join and "-user" for a leave.
func diffsUntil(t *testing.T, c *wstest.Client, marker string) []string {
	t.Helper()
	var out []string
	for {
		msg := string(readMsg(t, c))
		if msg == marker {
			return out
		}
		var m struct {
			Event   string
			Payload struct{ Joins, Leaves map[string]json.RawMessage }
		}
		if json.Unmarshal([]byte(msg), &m) != nil || m.Event != "presence_diff" {
			continue
		}
		for _, u := range slices.Sorted(maps.Keys(m.Payload.Joins)) {
			out = append(out, "+"+u)
		}
		for _, u := range slices.Sorted(maps.Keys(m.Payload.Leaves)) {
			out = append(out, "-"+u)
		}
	}
}
