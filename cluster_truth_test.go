package ripple_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/httpapi"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// TestClusterCloseWithCode closes connections held by other nodes with
// codes of every kind: the clients see the code and the reason given.
func TestClusterCloseWithCode(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, ripple.Config{})
	A, B := nodes[0], nodes[1]
	for _, tc := range []struct {
		code   uint16
		reason string
	}{{4000, "kicked"}, {1008, "policy"}, {1000, "bye"}, {3001, ""}} {
		c, id := dialID(t, B)
		wstest.Eventually(t, "the connection known on A", func() bool { return slices.Contains(A.Clients(), id) })
		if !A.CloseWith(id, ripple.CloseCode(tc.code), tc.reason) {
			t.Fatalf("CloseWith(%d) of a connection on another node reported it unknown", tc.code)
		}
		if code, reason := wstest.ExpectClose(t, c); code != int(tc.code) || reason != tc.reason {
			t.Errorf("client closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
		}
	}
}

// TestClusterBroadcastCounts: Broadcast and BroadcastRoom, and their API
// calls, count the recipients of the whole cluster, on any node, members
// or not.
func TestClusterBroadcastCounts(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3, ripple.Config{})
	A, B, C := nodes[0], nodes[1], nodes[2]
	a, _ := dialID(t, A)
	b1, _ := dialID(t, B)
	b2, _ := dialID(t, B)
	for _, c := range []*wstest.Client{a, b1} {
		wstest.Send(t, c, `{"join":"room:n","send":"joined"}`)
		expectText(t, c, "joined")
	}
	everyNode(t, nodes, "3 connections, 2 in room:n", func(s *wstest.Server) bool {
		return s.Count() == 3 && len(s.ClientsIn("room:n")) == 2
	})
	syncPresence(t, nodes, "room:n")
	for i, s := range nodes {
		if n := s.BroadcastRoom("room:n", []byte("room")); n != 2 {
			t.Errorf("node %d: BroadcastRoom = %d, want 2", i, n)
		}
		if n := s.Broadcast([]byte("all")); n != 3 {
			t.Errorf("node %d: Broadcast = %d, want 3", i, n)
		}
	}
	if status, out := C.PostAPI(t, "broadcast_room", `{"channel":"room:n","message":"api room"}`); status != 200 || out["recipients"] != 2.0 || out["partial"] != nil {
		t.Errorf("api broadcast_room on a node without members = %d %v", status, out)
	}
	if status, out := C.PostAPI(t, "broadcast", `{"message":"api all"}`); status != 200 || out["recipients"] != 3.0 || out["partial"] != nil {
		t.Errorf("api broadcast on a node without connections = %d %v", status, out)
	}
	// Each node's messages come in order; the nodes' may interleave.
	member := []string{"all", "all", "all", "api all", "api room", "room", "room", "room"}
	for c, want := range map[*wstest.Client][]string{a: member, b1: member, b2: {"all", "all", "all", "api all"}} {
		var got []string
		for range want {
			got = append(got, string(readMsg(t, c)))
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Errorf("a client got %q, want %q", got, want)
		}
	}
}

// TestClusterReadsWhileRedisDown: with Redis down, the reads that need it
// say so (ErrUnavailable, and 503 from the API) instead of answering an
// empty list or this node's part; a broadcast reaches this node's
// connections and says its count is partial. Once Redis is back the
// reads answer again.
func TestClusterReadsWhileRedisDown(t *testing.T) {
	t.Parallel()
	r := clustertest.StartRedis(t)
	nodes := []*wstest.Server{
		startClusterNode(t, r.URL(), ripple.Config{}, "d0"),
		startClusterNode(t, r.URL(), ripple.Config{}, "d1"),
	}
	A := nodes[0]
	a, _ := dialID(t, A)
	wstest.Send(t, a, `{"track":{"channel":"room:d","user_id":"u1"}}`)
	everyNode(t, nodes, "u1 present", func(s *wstest.Server) bool { return s.PresenceCount("room:d") == 1 })
	syncPresence(t, nodes, "room:d")
	_ = wstest.ReadJSON(t, a) // presence_state

	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if l, err := A.ListPresenceContext(ctx, "room:d"); !errors.Is(err, ripple.ErrUnavailable) || l != nil {
		t.Errorf("ListPresenceContext with Redis down = %v, %v; want ErrUnavailable", l, err)
	}
	// The calls wait for Redis up to the API's timeout each, so together.
	var wg sync.WaitGroup
	for _, tc := range []struct {
		call, body string
		status     int
	}{
		{"list_presence", `{"channel":"room:d"}`, 503},
		{"presence_count", `{"channel":"room:d"}`, 503},
		{"get_presence", `{"channel":"room:d","user_id":"u1"}`, 503},
		{"count", `{}`, 503},
		{"clients", `{}`, 503},
		{"clients_in", `{"channel":"room:d"}`, 503},
		{"broadcast_room", `{"channel":"room:d","message":"still here"}`, 200},
	} {
		wg.Go(func() {
			resp, err := http.Post("http://"+A.Addr+httpapi.Prefix+tc.call, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			msg, _ := out["error"].(string)
			switch {
			case resp.StatusCode != tc.status:
				t.Errorf("%s with Redis down = %d %v, want %d", tc.call, resp.StatusCode, out, tc.status)
			case tc.status == 503 && !strings.Contains(msg, "unavailable"):
				t.Errorf("%s with Redis down = %v, want the error", tc.call, out)
			case tc.status == 200 && (out["recipients"] != 1.0 || out["partial"] != true):
				t.Errorf("%s with Redis down = %v, want this node's 1 recipient, partial", tc.call, out)
			}
		})
	}
	wg.Wait()
	expectText(t, a, "still here")

	r.Restart(t)
	wstest.Eventually(t, "list_presence after the restart", func() bool {
		status, out := A.PostAPI(t, "list_presence", `{"channel":"room:d"}`)
		return status == 200 && len(out["presences"].([]any)) == 1
	})
}
