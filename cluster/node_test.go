package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  cluster.Config
		want error
	}{
		{"no url", cluster.Config{Local: cluster.NopLocal{}}, cluster.ErrNoURL},
		{"no local", cluster.Config{URL: "redis://127.0.0.1:1"}, cluster.ErrNoLocal},
		{"bad id", cluster.Config{URL: "redis://127.0.0.1:1", Local: cluster.NopLocal{}, NodeID: "a.b"}, cluster.ErrBadNodeID},
		{"deadline", cluster.Config{URL: "redis://127.0.0.1:1", Local: cluster.NopLocal{}, Heartbeat: time.Second, Deadline: time.Second}, cluster.ErrBadDeadline},
	}
	for _, c := range cases {
		if _, err := cluster.New(context.Background(), c.cfg); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The defaults remove a dead node within the 10 s the spec allows.
	if d := cluster.DefaultDeadline + 2*cluster.DefaultHeartbeat; d >= 10*time.Second {
		t.Fatalf("default removal bound %v", d)
	}
}

func TestRoute(t *testing.T) {
	r := clustertest.StartRedis(t)
	a := startNode(t, testConfig(r.URL(), cluster.NopLocal{}, presence.ModeUser))
	id := a.NewConnID()
	if node, local := a.Route(id); node != a.ID() || !local || !strings.HasPrefix(id, a.ID()+".") {
		t.Fatalf("Route(%q) = %q, %v", id, node, local)
	}
	for _, bad := range []string{"", "nodot", ".x", "bad!id.x", "n.\x00"} {
		if _, ok := cluster.Route(bad); ok {
			t.Errorf("Route(%q) ok", bad)
		}
	}
	if node, local := a.Route("other.123"); node != "other" || local {
		t.Fatalf("Route(other.123) = %q, %v", node, local)
	}
}

// twoNodes starts nodes A and B with sinks, and connects a1 on A and b1, b2
// on B.
func twoNodes(t *testing.T) (sa, sb *clustertest.Sink, a, b *cluster.Node, a1, b1, b2 string) {
	sa, sb = clustertest.NewSink(), clustertest.NewSink()
	_, nodes := startCluster(t, presence.ModeUser, 0, []*clustertest.Sink{sa, sb})
	a, b = nodes[0], nodes[1]
	a1, b1, b2 = a.NewConnID(), b.NewConnID(), b.NewConnID()
	for _, c := range []struct {
		s  *clustertest.Sink
		n  *cluster.Node
		id string
	}{{sa, a, a1}, {sb, b, b1}, {sb, b, b2}} {
		c.s.Add(c.id)
		c.n.Connected(c.id)
	}
	flush(t, a, b)
	return
}

// flush returns once every write the nodes queued is in Redis (a read runs
// behind them).
func flush(t testing.TB, nodes ...*cluster.Node) {
	t.Helper()
	for _, n := range nodes {
		if _, err := n.Count(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDirected(t *testing.T) {
	sa, sb, a, b, a1, b1, _ := twoNodes(t)
	cases := []struct {
		name string
		call func() (bool, error)
		want bool
	}{
		{"send remote", func() (bool, error) { return a.Send(ctx(t), b1, false, []byte("hi b1")) }, true},
		{"send local", func() (bool, error) { return a.Send(ctx(t), a1, false, []byte("hi a1")) }, true},
		{"send unknown conn", func() (bool, error) { return a.Send(ctx(t), b.ID()+".nobody", false, []byte("x")) }, false},
		{"send unknown node", func() (bool, error) { return a.Send(ctx(t), "ghost.1", false, []byte("x")) }, false},
		{"close remote", func() (bool, error) { return b.CloseConn(ctx(t), a1, 4000, "bye") }, true},
		{"join remote", func() (bool, error) { return a.Join(ctx(t), b1, "lobby") }, true},
		{"join local", func() (bool, error) { return a.Join(ctx(t), a1, "lobby") }, true},
	}
	for _, c := range cases {
		got, err := c.call()
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := a.Send(ctx(t), "no-dot", false, nil); !errors.Is(err, cluster.ErrBadConnID) {
		t.Errorf("send to a bad id: %v", err)
	}
	eventually(t, 5*time.Second, "directed deliveries", func() bool {
		return len(sb.Client(b1).Direct) == 1 && len(sa.Client(a1).Direct) == 1 &&
			len(sa.Client(a1).Closed) == 1 && slices.Contains(sb.Members("lobby"), b1)
	})
	if got := string(sb.Client(b1).Direct[0]); got != "hi b1" {
		t.Fatalf("b1 got %q", got)
	}
	if got := sa.Client(a1).Closed[0]; got != "4000 bye" {
		t.Fatalf("a1 closed with %q", got)
	}
	// The remote join went through B's engine side, so the cluster sees it.
	eventually(t, 5*time.Second, "ClientsIn(lobby) on both nodes", func() bool {
		for _, n := range []*cluster.Node{a, b} {
			ids, err := n.ClientsIn(ctx(t), "lobby")
			if err != nil || !sameSet(ids, []string{a1, b1}) {
				return false
			}
			if k, err := n.CountIn(ctx(t), "lobby"); err != nil || k != 2 {
				return false
			}
		}
		return true
	})
	if ok, err := a.Leave(ctx(t), b1, "lobby"); !ok || err != nil {
		t.Fatalf("leave remote: %v %v", ok, err)
	}
	eventually(t, 5*time.Second, "remote leave", func() bool {
		ids, err := b.ClientsIn(ctx(t), "lobby")
		return err == nil && sameSet(ids, []string{a1})
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// binaryLocal records DeliverRoom/DeliverAll with their binary flag.
type binaryLocal struct {
	*clustertest.Sink
	flags chan bool
}

func (l binaryLocal) DeliverRoom(chs []string, binary bool, p []byte) {
	l.Sink.DeliverRoom(chs, binary, p)
	l.flags <- binary
}

func TestRoomsAndBroadcast(t *testing.T) {
	sa, sb, a, b, a1, b1, b2 := twoNodes(t)
	sa.Join(a1, "r")
	sb.Join(b1, "r") // b2 is not a member
	// Members get room messages once their node follows the channel.
	for _, n := range []*cluster.Node{a, b} {
		if err := n.Presence().Sync(ctx(t), "r"); err != nil {
			t.Fatal(err)
		}
	}
	a.PublishRoom([]string{"r"}, false, []byte("to r"))
	a.PublishAll(false, []byte("to all"))
	b.PublishRoom([]string{"r"}, false, []byte("from b"))
	eventually(t, 5*time.Second, "room and broadcast deliveries", func() bool {
		return len(sb.Client(b1).Room["r"]) == 1 && len(sb.Client(b2).All) == 1 && len(sb.Client(b1).All) == 1 &&
			len(sa.Client(a1).Room["r"]) == 1
	})
	// Give stray deliveries a chance to show up before checking there are none.
	if err := a.Presence().Sync(ctx(t), "r"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if c := sb.Client(b2); len(c.Room["r"]) != 0 {
		t.Fatalf("non-member b2 got room messages: %q", c.Room["r"])
	}
	// The publishing node delivers locally itself: nothing comes back.
	if c := sa.Client(a1); len(c.All) != 0 || string(c.Room["r"][0]) != "from b" {
		t.Fatalf("a1 got its own node's messages back: room %q all %q", c.Room["r"], c.All)
	}
	if got := string(sb.Client(b1).Room["r"][0]); got != "to r" {
		t.Fatalf("b1 got %q", got)
	}
	if s := a.Stats(); s.Published.Load() != 2 || s.Received.Load() != 1 {
		t.Fatalf("A published %d received %d", s.Published.Load(), s.Received.Load())
	}
}

func TestBinaryRoom(t *testing.T) {
	r := clustertest.StartRedis(t)
	sb := binaryLocal{clustertest.NewSink(), make(chan bool, 4)}
	a := startNode(t, testConfig(r.URL(), cluster.NopLocal{}, presence.ModeUser))
	b := startNode(t, testConfig(r.URL(), sb, presence.ModeUser))
	sb.SetMembership(b)
	sb.Join("x.1", "bin")
	if err := b.Presence().Sync(ctx(t), "bin"); err != nil {
		t.Fatal(err)
	}
	a.PublishRoom([]string{"bin"}, true, []byte{0, 1, 2})
	a.PublishRoom([]string{"bin"}, false, []byte("t"))
	for _, want := range []bool{true, false} {
		select {
		case got := <-sb.flags:
			if got != want {
				t.Fatalf("binary flag %v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no room message")
		}
	}
	if got := sb.Client("x.1").Room["bin"][0]; string(got) != "\x00\x01\x02" {
		t.Fatalf("binary payload %q", got)
	}
}

func TestCountsAcrossNodes(t *testing.T) {
	sinks := []*clustertest.Sink{clustertest.NewSink(), clustertest.NewSink(), clustertest.NewSink()}
	_, nodes := startCluster(t, presence.ModeUser, 0, sinks)
	var all []string
	in := map[string][]string{}
	for i, n := range nodes {
		for j := 0; j <= i; j++ {
			id := n.NewConnID()
			n.Connected(id)
			sinks[i].Add(id)
			all = append(all, id)
			if j == 0 {
				sinks[i].Join(id, "even")
				in["even"] = append(in["even"], id)
			}
		}
	}
	check := func(what string, all []string, even []string) {
		t.Helper()
		eventually(t, 5*time.Second, what, func() bool {
			for _, n := range nodes {
				c, err1 := n.Count(ctx(t))
				ids, err2 := n.Clients(ctx(t))
				ev, err3 := n.ClientsIn(ctx(t), "even")
				none, err4 := n.ClientsIn(ctx(t), "none")
				if err := errors.Join(err1, err2, err3, err4); err != nil {
					t.Fatal(err)
				}
				if c != len(all) || !sameSet(ids, all) || !sameSet(ev, even) || len(none) != 0 {
					return false
				}
			}
			return true
		})
	}
	check("initial counts", all, in["even"])
	// Each node sees its own writes at once.
	extra := nodes[0].NewConnID()
	nodes[0].Connected(extra)
	if c, err := nodes[0].Count(ctx(t)); err != nil || c != len(all)+1 {
		t.Fatalf("Count right after Connected = %d, %v; want %d", c, err, len(all)+1)
	}
	nodes[0].Disconnected(extra)
	// A disconnect removes the connection and its memberships.
	gone := in["even"][1]
	nodes[1].Disconnected(gone)
	check("after disconnect", slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == gone }),
		slices.DeleteFunc(slices.Clone(in["even"]), func(s string) bool { return s == gone }))
	// A node that leaves takes its connections with it.
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	var left, leftEven []string
	for _, id := range all {
		if node, _ := cluster.Route(id); node != nodes[2].ID() && id != gone {
			left = append(left, id)
			if slices.Contains(in["even"], id) {
				leftEven = append(leftEven, id)
			}
		}
	}
	nodes = nodes[:2]
	check("after a node left", left, leftEven)
}

// TestRoomsOnce: a message for several channels reaches each remote member
// once, whichever of the channels it is in.
func TestRoomsOnce(t *testing.T) {
	sa, sb, a, b, a1, b1, b2 := twoNodes(t)
	_ = sa
	sb.Join(b1, "x")
	sb.Join(b1, "y") // in both
	sb.Join(b2, "y")
	sa.Join(a1, "z")
	for _, ch := range []string{"x", "y"} {
		if err := b.Presence().Sync(ctx(t), ch); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		a.PublishRoom([]string{"x", "y", "z"}, false, []byte{byte('0' + i)})
	}
	eventually(t, 5*time.Second, "room messages", func() bool {
		c1, c2 := sb.Client(b1), sb.Client(b2)
		return len(c1.Room["x"]) == 3 && len(c2.Room["y"]) == 3
	})
	a.PublishRoom([]string{"y"}, false, []byte("fence"))
	eventually(t, 5*time.Second, "the last message", func() bool { return len(sb.Client(b2).Room["y"]) == 4 })
	if c1 := sb.Client(b1); len(c1.Room["y"]) != 1 || string(c1.Room["y"][0]) != "fence" || len(c1.Room["x"]) != 3 {
		t.Fatalf("b1 (in x and y) got x:%q y:%q", c1.Room["x"], c1.Room["y"])
	}
	if got := b.Stats().Received.Load(); got != 4 {
		t.Fatalf("B delivered %d messages, want 4", got)
	}
}

// TestMemberRuns: registrations and membership changes queued together
// reach Redis in their order, whatever the channel names hold (the node
// sends a run of them in one script call).
func TestMemberRuns(t *testing.T) {
	sa, _, a, b, a1, b1, b2 := twoNodes(t)
	chans := []string{"plain", "a:b", "0:", "3:x\x00y", "nul\x00", "日本語", strings.Repeat("long:", 80), ""}
	c2, c3 := a.NewConnID(), a.NewConnID()
	for _, id := range []string{c2, c3} {
		sa.Add(id)
		a.Connected(id)
	}
	for _, ch := range chans {
		for _, id := range []string{a1, c2, c3} {
			sa.Join(id, ch)
		}
	}
	sa.Leave(c2, "a:b")     // joined in the same run
	sa.Leave(a1, "0:")      // one member stays
	sa.Join(a1, "gone")     // its only member comes and goes
	sa.Leave(a1, "gone")    //
	a.Disconnected(c3)      // every channel of c3 goes with it
	a.Connected(c3 + "-no") // an id of this node that never joined
	a.Disconnected(c3 + "-no")

	want := map[string][]string{"gone": nil}
	for _, ch := range chans {
		want[ch] = []string{a1, c2}
	}
	want["a:b"] = []string{a1}
	want["0:"] = []string{c2}
	for _, n := range []*cluster.Node{a, b} {
		if ids, err := n.Clients(ctx(t)); err != nil || !sameSet(ids, []string{a1, c2, b1, b2}) {
			t.Fatalf("%s: Clients = %q, %v; want a1, c2, b1, b2", n.ID(), ids, err)
		}
		for ch, members := range want {
			ids, err := n.ClientsIn(ctx(t), ch)
			if err != nil || !sameSet(ids, members) {
				t.Errorf("%s: ClientsIn(%q) = %q, %v; want %q", n.ID(), ch, ids, err, members)
			}
			if c, err := n.CountIn(ctx(t), ch); err != nil || c != len(members) {
				t.Errorf("%s: CountIn(%q) = %d, %v; want %d", n.ID(), ch, c, err, len(members))
			}
		}
	}
}
