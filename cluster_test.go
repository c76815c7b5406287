package ripple_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/httpapi"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/presence"
)

// Cluster mode over the wire: several real servers in this process share
// one real redis-server, real WebSocket clients connect to each, and every
// action and helper is checked across them. The killed-process test is in
// cmd/ripple (a real ripple process, SIGKILL and SIGSTOP).

// clusterScript greets every connection with {"id":<its id>} and answers
// every message with the actions it spells (see wstest.Scripted).
func clusterScript(ev *ripple.Event) ripple.Reply {
	if ev.Type == ripple.Connect {
		return ripple.Reply{Send: []byte(`{"id":"` + ev.ConnectionID + `"}`)}
	}
	return wstest.Scripted(ev)
}

// startCluster starts n servers on port 0 joined through one new
// redis-server, with short liveness timings. Everything stops when the
// test ends, the servers before Redis.
func startCluster(t *testing.T, n int, cfg ripple.Config) []*wstest.Server {
	t.Helper()
	r := clustertest.StartRedis(t)
	var nodes []*wstest.Server
	for i := range n {
		nodes = append(nodes, startClusterNode(t, r.URL(), cfg, fmt.Sprintf("n%d", i)))
	}
	return nodes
}

func startClusterNode(t *testing.T, url string, cfg ripple.Config, id string) *wstest.Server {
	t.Helper()
	return startClusterNodeWith(t, url, cfg, id, nil)
}

// startClusterNodeWith is startClusterNode with extra routes.
func startClusterNodeWith(t *testing.T, url string, cfg ripple.Config, id string, extra map[string]ripple.Handler) *wstest.Server {
	t.Helper()
	mux := http.NewServeMux()
	cfg.HTTPHandler = mux
	cfg.Logger = quietLogger()
	srv := ripple.New(cfg)
	mux.Handle(httpapi.Prefix, httpapi.New(srv, httpapi.Config{}))
	if err := handlers.Register(srv); err != nil {
		t.Fatal(err)
	}
	if err := srv.Handle("/ws/script", clusterScript); err != nil {
		t.Fatal(err)
	}
	for p, h := range extra {
		if err := srv.Handle(p, h); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.JoinCluster(ctx, ripple.ClusterConfig{
		URL:            url,
		NodeID:         id,
		Heartbeat:      100 * time.Millisecond,
		Deadline:       time.Second,
		VerifyInterval: 200 * time.Millisecond,
		Timeout:        2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		_ = srv.Node().Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %s: %v", id, err)
		}
	})
	return &wstest.Server{Server: srv, Addr: srv.Addr().String()}
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dialID connects to the scripted route of s and returns the client and its
// connection id.
func dialID(t *testing.T, s *wstest.Server) (*wstest.Client, string) {
	t.Helper()
	c := s.Dial(t, "/ws/script")
	var hello struct {
		ID string `json:"id"`
	}
	if _, msg := wstest.Read(t, c); json.Unmarshal(msg, &hello) != nil || hello.ID == "" {
		t.Fatalf("greeting %q", msg)
	}
	return c, hello.ID
}

func expectText(t *testing.T, c *wstest.Client, want string) {
	t.Helper()
	if got := wstest.ReadString(t, c); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func sortedIDs(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// everyNode waits until cond holds on every node.
func everyNode(t *testing.T, nodes []*wstest.Server, what string, cond func(s *wstest.Server) bool) {
	t.Helper()
	for i, s := range nodes {
		wstest.Eventually(t, fmt.Sprintf("node %d: %s", i, what), func() bool { return cond(s) })
	}
}

// syncPresence waits until every node has delivered every presence message
// of channels due to the changes queued so far on any node; a node that
// has just gained a member of a channel also has its subscription
// confirmed, so room messages published after it reach that member.
func syncPresence(t *testing.T, nodes []*wstest.Server, channels ...string) {
	t.Helper()
	var bs []presence.Backend
	for _, s := range nodes {
		bs = append(bs, s.Node().Presence())
	}
	clustertest.SyncAll(t, bs, channels...)
}

// TestClusterHelpers checks every action and helper across three nodes:
// routable ids, Count, Clients, ClientsIn, Join and Leave of a connection
// held elsewhere, broadcast_room (one and several channels, each member
// once), broadcast (text and binary), Send and Close across nodes.
func TestClusterHelpers(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3, ripple.Config{})
	A, B, C := nodes[0], nodes[1], nodes[2]
	a, aID := dialID(t, A)
	b, bID := dialID(t, B)
	c, cID := dialID(t, C)
	for i, id := range []string{aID, bID, cID} {
		if node, ok := cluster.Route(id); !ok || node != nodes[i].Node().ID() {
			t.Fatalf("id %s routes to %q, want %s", id, node, nodes[i].Node().ID())
		}
	}

	all := sortedIDs(aID, bID, cID)
	everyNode(t, nodes, "Count 3, Clients all", func(s *wstest.Server) bool {
		return s.Count() == 3 && slices.Equal(sortedIDs(s.Clients()...), all)
	})
	for i, s := range nodes {
		if s.LocalCount() != 1 {
			t.Fatalf("node %d LocalCount %d", i, s.LocalCount())
		}
	}

	// Join: a by its own action, b by a helper on A (b is on B), c stays out.
	wstest.Send(t, a, `{"join":"room:x"}`)
	if err := A.Join(bID, "room:x"); err != nil {
		t.Fatalf("remote Join: %v", err)
	}
	inX := sortedIDs(aID, bID)
	everyNode(t, nodes, "ClientsIn(room:x) = a, b", func(s *wstest.Server) bool {
		return slices.Equal(sortedIDs(s.ClientsIn("room:x")...), inX)
	})
	syncPresence(t, nodes, "room:x")

	wstest.Send(t, a, `{"broadcast_room":"to x","room":"room:x"}`)
	expectText(t, a, "to x")
	expectText(t, b, "to x")
	if n := C.BroadcastRoom("room:x", []byte("helper x")); n != 2 {
		t.Fatalf("BroadcastRoom on a node without members = %d, want the cluster's 2", n)
	}
	expectText(t, a, "helper x")
	expectText(t, b, "helper x")
	wstest.ExpectSilence(t, c, wstest.Quiet)

	// broadcast: everyone once, the sender included; binary stays binary.
	wstest.Send(t, c, `{"broadcast":"all"}`)
	for _, cl := range []*wstest.Client{a, b, c} {
		expectText(t, cl, "all")
	}
	wstest.Send(t, b, `{"broadcast":"bin","binary":true}`)
	for _, cl := range []*wstest.Client{a, b, c} {
		if typ, msg := wstest.Read(t, cl); typ != websocket.BinaryMessage || string(msg) != "bin" {
			t.Fatalf("binary broadcast: %d %q", typ, msg)
		}
	}
	B.Broadcast([]byte("helper all"))
	for _, cl := range []*wstest.Client{a, b, c} {
		expectText(t, cl, "helper all")
	}

	// Send to a connection of another node; unknown ids of any kind.
	if !C.Send(aID, []byte("direct")) {
		t.Fatal("remote Send reported an unknown connection")
	}
	expectText(t, a, "direct")
	for _, id := range []string{A.Node().ID() + ".gone", C.Node().ID() + ".gone", "nonode.x", "not-routable"} {
		if C.Send(id, []byte("x")) {
			t.Fatalf("Send(%q) reported a connection", id)
		}
	}
	if err := C.Join(A.Node().ID()+".gone", "room:x"); !errors.Is(err, ripple.ErrUnknownConn) {
		t.Fatalf("remote Join of an unknown connection: %v", err)
	}

	// broadcast_room to several channels: b, in both, gets it once.
	wstest.Send(t, a, `{"join":"room:y"}`)
	if err := B.Join(bID, "room:y"); err != nil {
		t.Fatal(err)
	}
	everyNode(t, nodes, "ClientsIn(room:y) = a, b", func(s *wstest.Server) bool {
		return slices.Equal(sortedIDs(s.ClientsIn("room:y")...), inX)
	})
	syncPresence(t, nodes, "room:y")
	wstest.Send(t, a, `{"broadcast_room":"both"}`)
	expectText(t, a, "both")
	expectText(t, b, "both")
	wstest.ExpectSilence(t, b, wstest.Quiet)

	// Leave of a connection held elsewhere.
	if err := C.Leave(bID, "room:x"); err != nil {
		t.Fatalf("remote Leave: %v", err)
	}
	everyNode(t, nodes, "ClientsIn(room:x) = a", func(s *wstest.Server) bool {
		return slices.Equal(s.ClientsIn("room:x"), []string{aID})
	})
	wstest.Send(t, a, `{"broadcast_room":"after leave","room":"room:x"}`)
	expectText(t, a, "after leave")
	B.BroadcastRoom("room:y", []byte("still y"))
	expectText(t, a, "still y")
	expectText(t, b, "still y") // b's next message: nothing of room:x came in between

	// Close a connection held elsewhere.
	if !A.Close(cID, "bye") {
		t.Fatal("remote Close reported an unknown connection")
	}
	if code, reason := wstest.ExpectClose(t, c); code != websocket.CloseNormalClosure || reason != "bye" {
		t.Fatalf("close %d %q", code, reason)
	}
	everyNode(t, nodes, "Count 2, Clients a, b", func(s *wstest.Server) bool {
		return s.Count() == 2 && slices.Equal(sortedIDs(s.Clients()...), inX)
	})
	if A.Close(cID, "again") {
		t.Fatal("Close of a closed connection reported it")
	}

	// The HTTP API of any node reaches every node.
	if code, m := C.PostAPI(t, "send", fmt.Sprintf(`{"connection_id":%q,"message":"via api"}`, bID)); code != 200 || m["delivered"] != true {
		t.Fatalf("api send: %d %v", code, m)
	}
	expectText(t, b, "via api")
	if code, m := C.PostAPI(t, "clients_in", `{"channel":"room:y"}`); code != 200 || len(m["clients"].([]any)) != 2 {
		t.Fatalf("api clients_in: %d %v", code, m)
	}
}

// presenceMsgs keeps the presence messages a client received, in order.
type presenceMsgs struct {
	c    *wstest.Client
	id   string
	node *wstest.Server
	msgs [][]byte
}

// drain reads everything m's node has sent m so far: a directed message
// from its own node goes through the same loop queue as the presence
// messages before it, so it arrives after them.
func (m *presenceMsgs) drain(t *testing.T) {
	t.Helper()
	mark := "mark:" + m.id
	if !m.node.Send(m.id, []byte(mark)) {
		t.Fatalf("%s is gone", m.id)
	}
	for {
		_, msg := wstest.Read(t, m.c)
		if string(msg) == mark {
			return
		}
		if _, err := clustertest.Decode(msg); err == nil {
			m.msgs = append(m.msgs, msg)
		}
	}
}

// checkAgree checks that ListPresence, PresenceCount and GetPresence agree
// on every node and returns the list.
func checkAgree(t *testing.T, nodes []*wstest.Server, channel string) []ripple.Presence {
	t.Helper()
	first := nodes[0].ListPresence(channel)
	want, _ := json.Marshal(first)
	for i, s := range nodes {
		l := s.ListPresence(channel)
		if got, _ := json.Marshal(l); string(got) != string(want) {
			t.Fatalf("node %d ListPresence %s, node 0 %s", i, got, want)
		}
		if n := s.PresenceCount(channel); n != len(first) {
			t.Fatalf("node %d PresenceCount %d, list %d", i, n, len(first))
		}
		for _, p := range first {
			g, ok := s.GetPresence(channel, p.UserID)
			gj, _ := json.Marshal(g)
			pj, _ := json.Marshal(p)
			if !ok || string(gj) != string(pj) {
				t.Fatalf("node %d GetPresence %s = %s %v, list %s", i, p.UserID, gj, ok, pj)
			}
		}
	}
	return first
}

// checkViews rebuilds every client's view from its presence messages with
// both client algorithms and compares it with list.
func checkViews(t *testing.T, mode presence.Mode, channel string, clients []*presenceMsgs, list []ripple.Presence) {
	t.Helper()
	sink, ids := transcripts(channel, clients)
	clustertest.CheckViews(t, mode, sink, ids, channel, list)
}

// transcripts records what the clients received in a clustertest.Sink, for
// its view checks.
func transcripts(channel string, clients []*presenceMsgs) (*clustertest.Sink, []string) {
	sink := clustertest.NewSink()
	var ids []string
	for _, m := range clients {
		sink.Add(m.id)
		for _, msg := range m.msgs {
			sink.DeliverPresence(channel, msg, []string{m.id}, nil) // recorded as is, in order
		}
		ids = append(ids, m.id)
	}
	return sink, ids
}

// TestClusterPresence: watchers on three nodes see every change made on
// any node as the same diffs in the same order, each once, and List, Count
// and Get agree on every node. Batching is off: with it each node merges
// the changes that come faster than its tokens by its own clock (see
// TestClusterPresenceBatches).
func TestClusterPresence(t *testing.T) {
	t.Parallel()
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) { clusterPresence(t, mode) })
	}
}

func clusterPresence(t *testing.T, mode presence.Mode) {
	nodes := startCluster(t, 3, ripple.Config{PresenceMode: mode, PresenceInterval: -1})
	const ch = "room:p"
	track := func(s *wstest.Server, user string) *presenceMsgs {
		c, id := dialID(t, s)
		wstest.Send(t, c, fmt.Sprintf(`{"track":{"channel":%q,"user_id":%q,"name":%q}}`, ch, user, strings.ToUpper(user)))
		return &presenceMsgs{c: c, id: id, node: s}
	}
	var watchers []*presenceMsgs
	for i, s := range nodes {
		watchers = append(watchers, track(s, fmt.Sprintf("w%d", i)))
	}
	everyNode(t, nodes, "3 watchers", func(s *wstest.Server) bool { return s.PresenceCount(ch) == 3 })
	syncPresence(t, nodes, ch)
	base := make([]int, len(watchers))
	for i, w := range watchers {
		w.drain(t)
		base[i] = len(w.msgs)
	}

	metas := func(s *wstest.Server, user string) []ripple.Meta {
		p, _ := s.GetPresence(ch, user)
		return p.Metas
	}
	step := func(what string, cond func(s *wstest.Server) bool) {
		t.Helper()
		everyNode(t, nodes, what, cond)
	}
	alice1 := track(nodes[0], "alice")
	step("alice", func(s *wstest.Server) bool { return len(metas(s, "alice")) == 1 })
	bob := track(nodes[1], "bob")
	step("bob", func(s *wstest.Server) bool { return len(metas(s, "bob")) == 1 })
	alice2 := track(nodes[2], "alice")
	step("alice's second tab", func(s *wstest.Server) bool { return len(metas(s, "alice")) == 2 })
	wstest.Send(t, bob.c, fmt.Sprintf(`{"set_presence":{"channel":%q,"state":"typing"}}`, ch))
	step("bob typing", func(s *wstest.Server) bool {
		m := metas(s, "bob")
		return len(m) == 1 && m[0].State == "typing"
	})
	wstest.Send(t, alice1.c, fmt.Sprintf(`{"untrack":%q}`, ch))
	step("alice's first tab untracked", func(s *wstest.Server) bool { return len(metas(s, "alice")) == 1 })
	_ = bob.c.Close()
	step("bob gone", func(s *wstest.Server) bool { return s.PresenceCount(ch) == 4 })

	syncPresence(t, nodes, ch)
	for _, m := range append(slices.Clone(watchers), alice1, alice2) {
		m.drain(t)
	}

	// Every watcher: the same diffs, in the same order, each once.
	type change struct{ Joins, Leaves []string }
	want := []change{{Joins: []string{"alice"}}, {Joins: []string{"bob"}}, {Joins: []string{"bob"}}, {Leaves: []string{"bob"}}}
	if mode == presence.ModeConnection {
		want = []change{{Joins: []string{"alice"}}, {Joins: []string{"bob"}}, {Joins: []string{"alice"}},
			{Joins: []string{"bob"}, Leaves: []string{"bob"}}, {Leaves: []string{"alice"}}, {Leaves: []string{"bob"}}}
	}
	var first []clustertest.Message
	for i, w := range watchers {
		var got []change
		var decoded []clustertest.Message
		for _, raw := range w.msgs[base[i]:] {
			m, _ := clustertest.Decode(raw)
			if m.Event != "presence_diff" {
				t.Fatalf("watcher %d got %s during the changes", i, raw)
			}
			decoded = append(decoded, m)
			var c change
			for u := range m.Joins {
				c.Joins = append(c.Joins, u)
			}
			for u := range m.Leaves {
				c.Leaves = append(c.Leaves, u)
			}
			got = append(got, c)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("watcher %d (node %d) diffs %+v, want %+v", i, i, got, want)
		}
		if i == 0 {
			first = decoded
		} else if !reflect.DeepEqual(decoded, first) {
			t.Fatalf("watcher %d diffs differ from watcher 0's:\n%v\n%v", i, decoded, first)
		}
	}
	for _, w := range watchers {
		wstest.ExpectSilence(t, w.c, wstest.Quiet)
	}

	list := checkAgree(t, nodes, ch)
	if len(list) != 4 {
		t.Fatalf("list %+v", list)
	}
	if p, ok := nodes[1].GetPresence(ch, "alice"); !ok || p.Metas[0].Fields["name"] != "ALICE" {
		t.Fatalf("alice: %+v %v", p, ok)
	}
	checkViews(t, mode, ch, append(slices.Clone(watchers), alice2), list)
}

// TestClusterPresenceBatches: a burst of joins into one channel on three
// nodes reaches each watcher as far fewer diffs than joins (each node
// merges what comes faster than its tokens), each tracker gets one
// presence_state, and then a burst of leaves too; every client's view
// equals ListPresence after each. Both modes. The interval is 200 ms (the
// default is 50 ms) so that a busy machine spreading the burst over a
// second still makes few batches.
func TestClusterPresenceBatches(t *testing.T) {
	t.Parallel()
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) { clusterPresenceBatches(t, mode) })
	}
}

func clusterPresenceBatches(t *testing.T, mode presence.Mode) {
	const (
		ch      = "room:batch"
		perNode = 30
	)
	nodes := startCluster(t, 3, ripple.Config{PresenceMode: mode, PresenceInterval: 200 * time.Millisecond})
	var watchers, tabs []*presenceMsgs
	for _, s := range nodes {
		c, id := dialID(t, s)
		wstest.Send(t, c, fmt.Sprintf(`{"join":%q}`, ch))
		watchers = append(watchers, &presenceMsgs{c: c, id: id, node: s})
		for range perNode {
			c, id := dialID(t, s)
			tabs = append(tabs, &presenceMsgs{c: c, id: id, node: s})
		}
	}
	everyNode(t, nodes, "3 watchers", func(s *wstest.Server) bool { return len(s.ClientsIn(ch)) == 3 })
	syncPresence(t, nodes, ch)
	diffs := func(w *presenceMsgs) int {
		n := 0
		for _, m := range w.msgs {
			if d, _ := clustertest.Decode(m); d.Event == "presence_diff" {
				n++
			}
		}
		return n
	}
	// check drains every client and watcher, checks that each watcher got
	// far fewer diffs than changes since it had before[i], and checks the
	// views; it returns the watchers' diff counts.
	check := func(what string, clients []*presenceMsgs, changes int, before []int) []int {
		t.Helper()
		syncPresence(t, nodes, ch)
		for _, m := range clients {
			m.drain(t)
		}
		counts := make([]int, len(watchers))
		for i, w := range watchers {
			w.drain(t)
			counts[i] = diffs(w)
			got := counts[i] - before[i]
			t.Logf("%s: watcher on node %d got %d diffs for %d changes", what, i, got, changes)
			if got*3 > changes {
				t.Errorf("%s: watcher on node %d got %d diffs for %d changes", what, i, got, changes)
			}
		}
		checkViews(t, mode, ch, append(slices.Clone(watchers), clients...), checkAgree(t, nodes, ch))
		return counts
	}

	// The burst of joins: every tab sends its track at once.
	for i, m := range tabs {
		wstest.Send(t, m.c, fmt.Sprintf(`{"track":{"channel":%q,"user_id":"u%d"}}`, ch, i))
	}
	everyNode(t, nodes, "every tab tracked", func(s *wstest.Server) bool { return s.PresenceCount(ch) == len(tabs) })
	counts := check("joins", tabs, len(tabs), make([]int, len(watchers)))
	for _, m := range tabs {
		states := 0
		for _, b := range m.msgs {
			if d, _ := clustertest.Decode(b); d.Event == "presence_state" {
				states++
			}
		}
		if states != 1 {
			t.Fatalf("%s got %d presence_states, want 1", m.id, states)
		}
	}

	// The burst of leaves: every other tab closes.
	var left []*presenceMsgs
	for i, m := range tabs {
		if i%2 == 0 {
			_ = m.c.Close()
		} else {
			left = append(left, m)
		}
	}
	everyNode(t, nodes, "half the tabs gone", func(s *wstest.Server) bool { return s.PresenceCount(ch) == len(left) })
	check("leaves", left, len(tabs)-len(left), counts)
}

// TestClusterPresenceQuiet: with a PresenceInterval far longer than the
// test, a change in a quiet channel still reaches every member on every
// node at once (the channel has a token), and its tracker its state.
func TestClusterPresenceQuiet(t *testing.T) {
	t.Parallel()
	const ch = "room:quiet"
	nodes := startCluster(t, 3, ripple.Config{PresenceInterval: time.Hour})
	var watchers []*wstest.Client
	for _, s := range nodes {
		c, _ := dialID(t, s)
		wstest.Send(t, c, fmt.Sprintf(`{"join":%q}`, ch))
		watchers = append(watchers, c)
	}
	everyNode(t, nodes, "3 watchers", func(s *wstest.Server) bool { return len(s.ClientsIn(ch)) == 3 })
	syncPresence(t, nodes, ch)
	for k, s := range nodes {
		c, _ := dialID(t, s)
		wstest.Send(t, c, fmt.Sprintf(`{"track":{"channel":%q,"user_id":"u%d"}}`, ch, k))
		if m, err := clustertest.Decode(readMsg(t, c)); err != nil || m.Event != "presence_state" {
			t.Fatalf("tracker %d: %+v %v", k, m, err)
		}
		for i, w := range watchers {
			m, err := clustertest.Decode(readMsg(t, w))
			if err != nil || m.Event != "presence_diff" || len(m.Joins) != 1 || len(m.Joins[fmt.Sprintf("u%d", k)].Metas) != 1 {
				t.Fatalf("watcher on node %d, change %d: %+v %v", i, k, m, err)
			}
		}
	}
}

func readMsg(t *testing.T, c *wstest.Client) []byte {
	t.Helper()
	_, msg := wstest.Read(t, c)
	return msg
}

// churnTab is one client of the churn test.
type churnTab struct {
	presenceMsgs
	user    string
	channel string
	tracked bool
	closed  bool
}

// TestClusterChurn runs random connects, tracks, set_presence, untracks and
// disconnects of many tabs on three nodes at once. At the end every node
// lists the same presences, and every surviving client's view, rebuilt
// from its messages with the seed's algorithm, phoenix.js' (ported), and
// the real phoenix npm package, equals that list.
func TestClusterChurn(t *testing.T) {
	t.Parallel()
	for _, mode := range []presence.Mode{presence.ModeUser, presence.ModeConnection} {
		t.Run("mode="+mode.String(), func(t *testing.T) { clusterChurn(t, mode) })
	}
}

func clusterChurn(t *testing.T, mode presence.Mode) {
	nodes := startCluster(t, 3, ripple.Config{PresenceMode: mode})
	channels := []string{"churn:0", "churn:1"}
	const workers, ops, users = 6, 40, 8

	var mu sync.Mutex
	var tabs []*churnTab
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(mode)+11))
			var mine []*churnTab
			send := func(tb *churnTab, msg string) {
				if err := tb.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					t.Errorf("write: %v", err)
				}
			}
			for range ops {
				var open []*churnTab
				for _, tb := range mine {
					if !tb.closed {
						open = append(open, tb)
					}
				}
				switch op := rng.IntN(10); {
				case op < 4 || len(open) == 0:
					s := nodes[rng.IntN(len(nodes))]
					c, err := wstest.DialURL(s.URL("/ws/script"))
					if err != nil {
						t.Error(err)
						return
					}
					_, hello, err := c.Next(wstest.Timeout)
					var h struct {
						ID string `json:"id"`
					}
					if err != nil || json.Unmarshal(hello, &h) != nil {
						t.Errorf("greeting: %q %v", hello, err)
						return
					}
					tb := &churnTab{presenceMsgs: presenceMsgs{c: c, id: h.ID, node: s},
						user: fmt.Sprintf("u%d", rng.IntN(users)), channel: channels[rng.IntN(len(channels))]}
					send(tb, fmt.Sprintf(`{"track":{"channel":%q,"user_id":%q,"device":"d%d"}}`, tb.channel, tb.user, rng.IntN(100)))
					tb.tracked = true
					mine = append(mine, tb)
					mu.Lock()
					tabs = append(tabs, tb)
					mu.Unlock()
				case op < 6:
					tb := open[rng.IntN(len(open))]
					if tb.tracked {
						state := []string{"typing", "online", "away"}[rng.IntN(3)]
						send(tb, fmt.Sprintf(`{"set_presence":{"channel":%q,"state":%q}}`, tb.channel, state))
					}
				case op < 7:
					tb := open[rng.IntN(len(open))]
					if tb.tracked {
						send(tb, fmt.Sprintf(`{"untrack":%q}`, tb.channel))
					} else {
						send(tb, fmt.Sprintf(`{"track":{"channel":%q,"user_id":%q}}`, tb.channel, tb.user))
					}
					tb.tracked = !tb.tracked
				default:
					tb := open[rng.IntN(len(open))]
					tb.closed = true
					_ = tb.c.Close()
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, tb := range tabs {
			_ = tb.c.Close()
		}
	})
	if t.Failed() {
		return
	}

	// Quiesce: every survivor's actions applied (an echo after them comes
	// back), the closed tabs gone everywhere, every node's presence
	// messages delivered, then each client drained up to a directed mark.
	survivors := 0
	for _, tb := range tabs {
		if !tb.closed {
			survivors++
			if err := tb.c.WriteMessage(websocket.TextMessage, []byte(`{"send":"sync"}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tb := range tabs {
		if !tb.closed {
			for {
				_, msg := wstest.Read(t, tb.c)
				if string(msg) == "sync" {
					break
				}
				if _, err := clustertest.Decode(msg); err == nil {
					tb.msgs = append(tb.msgs, msg)
				}
			}
		}
	}
	everyNode(t, nodes, fmt.Sprintf("Count %d", survivors), func(s *wstest.Server) bool { return s.Count() == survivors })
	syncPresence(t, nodes, channels...)
	var npm []clustertest.PhoenixInput
	for _, ch := range channels {
		var clients []*presenceMsgs
		for _, tb := range tabs {
			if !tb.closed && tb.channel == ch {
				tb.drain(t)
				if tb.tracked {
					clients = append(clients, &tb.presenceMsgs)
				}
			}
		}
		list := checkAgree(t, nodes, ch)
		checkViews(t, mode, ch, clients, list)
		sink, ids := transcripts(ch, clients)
		npm = append(npm, clustertest.PhoenixInput{Channel: ch, Sinks: []*clustertest.Sink{sink}, Clients: [][]string{ids}, List: list})
		t.Logf("%s: %d users, %d tracked survivors of %d tabs", ch, len(list), len(clients), len(tabs))
	}
	t.Run("phoenix_npm", func(t *testing.T) { clustertest.PhoenixNPM(t, mode, npm) })
}

// TestClusterRedisRestart: Redis restarts empty; every node re-announces
// its connections and presences, resyncs its views and sends its members
// one corrective diff, so that every node lists the same presences again
// and every client's view equals the list.
func TestClusterRedisRestart(t *testing.T) {
	t.Parallel()
	r := clustertest.StartRedis(t)
	const mode = presence.ModeUser
	nodes := []*wstest.Server{
		startClusterNode(t, r.URL(), ripple.Config{PresenceMode: mode}, "r0"),
		startClusterNode(t, r.URL(), ripple.Config{PresenceMode: mode}, "r1"),
	}
	const ch = "room:r"
	var clients []*presenceMsgs
	for i, user := range []string{"ann", "ben", "ann", "cat"} {
		s := nodes[i%2]
		c, id := dialID(t, s)
		wstest.Send(t, c, fmt.Sprintf(`{"track":{"channel":%q,"user_id":%q}}`, ch, user))
		clients = append(clients, &presenceMsgs{c: c, id: id, node: s})
	}
	everyNode(t, nodes, "3 users", func(s *wstest.Server) bool { return s.PresenceCount(ch) == 3 })
	syncPresence(t, nodes, ch)
	r.Restart(t)
	everyNode(t, nodes, "3 users again after the restart", func(s *wstest.Server) bool {
		return s.PresenceCount(ch) == 3 && s.Count() == 4
	})
	syncPresence(t, nodes, ch)
	for _, m := range clients {
		m.drain(t)
	}
	list := checkAgree(t, nodes, ch)
	checkViews(t, mode, ch, clients, list)
	var resyncs int64
	for _, s := range nodes {
		resyncs += s.Node().Stats().Resyncs.Load()
	}
	if resyncs == 0 {
		t.Fatal("no node resynced after the restart")
	}
	// Rooms work again too.
	wstest.Send(t, clients[0].c, fmt.Sprintf(`{"broadcast_room":"after restart","room":%q}`, ch))
	for _, m := range clients {
		for {
			_, msg := wstest.Read(t, m.c)
			if string(msg) == "after restart" {
				break
			}
		}
	}
}

// TestClusterSubscriptions: each node holds one Redis subscription per
// channel with local members (however many), one for its directed
// messages and one for broadcasts, and drops a channel's once its last
// local member leaves; a message from another node is fanned out once per
// node, one frame for all its members there.
func TestClusterSubscriptions(t *testing.T) {
	t.Parallel()
	r := clustertest.StartRedis(t)
	A := startClusterNode(t, r.URL(), ripple.Config{}, "s0")
	B := startClusterNode(t, r.URL(), ripple.Config{}, "s1")
	rdb := r.Client(t)
	numsub := func(topic string) int64 {
		m, err := rdb.PubSubNumSub(clustertest.Ctx(t), topic).Result()
		if err != nil {
			t.Fatal(err)
		}
		return m[topic]
	}
	var onA []*wstest.Client
	for range 3 {
		c, _ := dialID(t, A)
		wstest.Send(t, c, `{"join":"room:s"}`)
		onA = append(onA, c)
	}
	var onB []*wstest.Client
	for range 2 {
		c, _ := dialID(t, B)
		wstest.Send(t, c, `{"join":"room:s"}`)
		onB = append(onB, c)
	}
	nodes := []*wstest.Server{A, B}
	everyNode(t, nodes, "5 members", func(s *wstest.Server) bool { return len(s.ClientsIn("room:s")) == 5 })
	syncPresence(t, nodes, "room:s")
	wstest.Eventually(t, "2 subscriptions of room:s", func() bool { return numsub("ripple:c:room:s") == 2 })
	for _, topic := range []string{"ripple:n:s0", "ripple:n:s1"} {
		if n := numsub(topic); n != 1 {
			t.Fatalf("%s has %d subscribers", topic, n)
		}
	}
	if n := numsub("ripple:all"); n != 2 {
		t.Fatalf("ripple:all has %d subscribers", n)
	}
	chans, err := rdb.PubSubChannels(clustertest.Ctx(t), "ripple:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(chans...); !slices.Equal(got, []string{"ripple:all", "ripple:c:room:s", "ripple:n:s0", "ripple:n:s1"}) {
		t.Fatalf("pub/sub channels %v", got)
	}

	// One message from A: B fans it out once for both of its members.
	fanouts, frames := B.Stats().Broadcasts.Load(), B.Stats().FramesOut.Load()
	wstest.Send(t, onA[0], `{"broadcast_room":"once per node","room":"room:s"}`)
	for _, c := range append(slices.Clone(onA), onB...) {
		expectText(t, c, "once per node")
	}
	if f, n := B.Stats().Broadcasts.Load()-fanouts, B.Stats().FramesOut.Load()-frames; f != 1 || n != 2 {
		t.Fatalf("node B: %d fan-outs, %d frames for one remote message to its 2 members", f, n)
	}

	// A's members leave: A drops its subscription, B keeps its own.
	for _, c := range onA {
		wstest.Send(t, c, `{"leave":"room:s"}`)
	}
	wstest.Eventually(t, "1 subscription of room:s", func() bool { return numsub("ripple:c:room:s") == 1 })
	B.BroadcastRoom("room:s", []byte("B only"))
	for _, c := range onB {
		expectText(t, c, "B only")
	}
	for _, c := range onA {
		wstest.ExpectSilence(t, c, wstest.Quiet)
	}
}
