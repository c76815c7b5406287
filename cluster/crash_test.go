package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/presence"
)

const (
	childEnv   = "RIPPLE_CLUSTER_CHILD_URL"
	crashRoom  = "room:crash"
	childReady = "child ready"
)

// TestCrashChild is the node a crash test kills: run as a child process
// (it does nothing otherwise), it connects three connections, tracks users
// solo1 and solo2 (only here) and shared (also on the parent's nodes),
// prints childReady and waits to be killed.
func TestCrashChild(t *testing.T) {
	url := os.Getenv(childEnv)
	if url == "" {
		t.Skip("only runs as the crash test's child process")
	}
	cfg := testConfig(url, cluster.NopLocal{}, presence.ModeUser)
	cfg.NodeID = "child"
	n, err := cluster.New(context.Background(), cfg)
	if err != nil {
		fmt.Println("child failed:", err)
		os.Exit(1)
	}
	for _, user := range []string{"solo1", "solo2", "shared"} {
		id := n.NewConnID()
		n.Connected(id)
		n.Joined(id, crashRoom)
		if err := n.Presence().Track(crashRoom, id, user, map[string]any{"where": "child"}); err != nil {
			fmt.Println("child failed:", err)
			os.Exit(1)
		}
	}
	if err := n.Presence().Sync(context.Background(), crashRoom); err != nil {
		fmt.Println("child failed:", err)
		os.Exit(1)
	}
	fmt.Println(childReady)
	select {} // until SIGKILL
}

// TestCrash kills a node with SIGKILL and checks that its presences and
// connections are gone from every node within 10 s, with exactly one leave
// diff per user that thereby left and none for the user still present
// elsewhere; with the surviving nodes batching or not.
func TestCrash(t *testing.T) {
	for _, iv := range []time.Duration{0, testInterval} {
		t.Run(fmt.Sprintf("interval=%v", iv), func(t *testing.T) { crash(t, iv) })
	}
}

func crash(t *testing.T, interval time.Duration) {
	s0, s1 := clustertest.NewSink(), clustertest.NewSink()
	r, nodes := startClusterWith(t, presence.ModeUser, []*clustertest.Sink{s0, s1}, func(cfg *cluster.Config) { cfg.PresenceInterval = interval })
	p0, p1 := nodes[0], nodes[1]
	obs0, obs1, shared := p0.NewConnID(), p1.NewConnID(), p0.NewConnID()
	for _, c := range []struct {
		s    *clustertest.Sink
		n    *cluster.Node
		id   string
		user string
	}{{s0, p0, obs0, "observer0"}, {s1, p1, obs1, "observer1"}, {s0, p0, shared, "shared"}} {
		c.s.Add(c.id)
		c.n.Connected(c.id)
		c.s.Join(c.id, crashRoom)
	}
	bs := backends(nodes)
	clustertest.SyncAll(t, bs, crashRoom)
	for _, c := range []struct {
		n        *cluster.Node
		id, user string
	}{{p0, obs0, "observer0"}, {p1, obs1, "observer1"}, {p0, shared, "shared"}} {
		if err := c.n.Presence().Track(crashRoom, c.id, c.user, nil); err != nil {
			t.Fatal(err)
		}
	}

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	child.Env = append(os.Environ(), childEnv+"="+r.URL())
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), childReady) {
				ready <- nil
				return
			}
		}
		ready <- fmt.Errorf("child exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child not ready")
	}
	clustertest.SyncAll(t, bs, crashRoom)
	users := func(n *cluster.Node) map[string]int {
		l, err := n.Presence().List(ctx(t), crashRoom)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, p := range l {
			m[p.UserID] = len(p.Metas)
		}
		return m
	}
	before := map[string]int{"observer0": 1, "observer1": 1, "shared": 2, "solo1": 1, "solo2": 1}
	for _, n := range nodes {
		if got := users(n); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("before the kill %s lists %v, want %v", n.ID(), got, before)
		}
	}
	if c, _ := p0.Count(ctx(t)); c != 6 {
		t.Fatalf("Count before the kill = %d, want 6", c)
	}
	mark0, mark1 := len(s0.Client(obs0).Presence[crashRoom]), len(s1.Client(obs1).Presence[crashRoom])

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	after := map[string]int{"observer0": 1, "observer1": 1, "shared": 1}
	eventually(t, 10*time.Second, "the dead node's presences to go", func() bool {
		for _, n := range nodes {
			if fmt.Sprint(users(n)) != fmt.Sprint(after) {
				return false
			}
		}
		return true
	})
	t.Logf("dead node removed everywhere %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	clustertest.SyncAll(t, bs, crashRoom)
	for _, n := range nodes {
		if c, _ := n.Count(ctx(t)); c != 3 {
			t.Fatalf("%s Count after the kill = %d, want 3", n.ID(), c)
		}
	}
	if got := p0.Stats().Reaped.Load() + p1.Stats().Reaped.Load(); got != 1 {
		t.Fatalf("reaped %d times, want once", got)
	}
	// Exactly one leave per user that left; nothing about shared.
	for _, c := range []struct {
		s    *clustertest.Sink
		id   string
		mark int
	}{{s0, obs0, mark0}, {s1, obs1, mark1}} {
		leaves := map[string]int{}
		for _, b := range c.s.Client(c.id).Presence[crashRoom][c.mark:] {
			m, err := clustertest.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Joins) != 0 {
				t.Errorf("%s got joins after the kill: %s", c.id, b)
			}
			for u := range m.Leaves {
				leaves[u]++
			}
		}
		if fmt.Sprint(leaves) != "map[solo1:1 solo2:1]" {
			t.Errorf("%s leaves after the kill: %v, want solo1 and solo2 once each", c.id, leaves)
		}
	}
	list, err := p0.Presence().List(ctx(t), crashRoom)
	if err != nil {
		t.Fatal(err)
	}
	clustertest.CheckViews(t, presence.ModeUser, s0, []string{obs0, shared}, crashRoom, list)
	clustertest.CheckViews(t, presence.ModeUser, s1, []string{obs1}, crashRoom, list)
}
