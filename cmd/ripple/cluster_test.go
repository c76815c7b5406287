package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/cluster/clustertest"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/presence"
)

// Cluster mode of the command: one node runs in this process (newApp with
// -redis), the other is a real ripple process (this test binary again,
// running run with -redis) that the tests kill with SIGKILL or pause with
// SIGSTOP. Both use the default liveness timings (heartbeat 1 s, deadline
// 5 s).

// childEnv holds the JSON arguments of a child node.
const childEnv = "RIPPLE_TEST_CLUSTER_NODE"

// TestClusterChildNode is the child process of the cluster tests; it skips
// in a normal run.
func TestClusterChildNode(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("the child node of TestClusterKill and TestClusterPause")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := run(ctx, args, os.Stderr); err != nil {
		t.Fatal(err)
	}
}

// childNode is a ripple process of the test.
type childNode struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT/
}

func startChildNode(t *testing.T, args ...string) *childNode {
	t.Helper()
	b, _ := json.Marshal(append([]string{"-addr", "127.0.0.1:0", "-log-format", "json"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterChildNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case lines <- m:
				default: // nobody reads after the start
				}
			}
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &childNode{cmd: cmd, base: listeningURL(t, lines)}
}

func (c *childNode) ws(path string) string { return "ws" + strings.TrimPrefix(c.base, "http") + path }

// clusterPair is a cluster of two nodes, one of them a child process, with
// presence clients on both: a watcher on the in-process node, v1 and v2 on
// the child, and "shared" on both.
type clusterPair struct {
	node   *app
	child  *childNode
	watch  *wstest.Client
	remote map[string]*wstest.Client // the child's clients by user
	msgs   [][]byte                  // the watcher's presence messages
}

const pairRoom = "room:pair"

func startPair(t *testing.T) *clusterPair {
	t.Helper()
	r := clustertest.StartRedis(t)
	p := &clusterPair{remote: map[string]*wstest.Client{}}
	p.node, _ = startApp(t, "", "-redis", r.URL())
	p.child = startChildNode(t, "-redis", r.URL())
	dial := func(url string) *wstest.Client {
		c, err := wstest.DialURL(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	p.watch = dial(p.node.url("ws", "/ws/presence/pair?user_id=watch"))
	dial(p.node.url("ws", "/ws/presence/pair?user_id=shared"))
	for _, u := range []string{"v1", "v2", "shared"} {
		p.remote[u] = dial(p.child.ws("ws/presence/pair?user_id=" + u))
	}
	p.waitList(t, "shared×2 v1×1 v2×1 watch×1", 10*time.Second)
	if got := listing(p.remoteList(t)); got != "shared×2 v1×1 v2×1 watch×1" {
		t.Fatalf("the child node lists %s", got)
	}
	p.drain(t)
	return p
}

func listing(l []ripple.Presence) string {
	var s []string
	for _, p := range l {
		s = append(s, fmt.Sprintf("%s×%d", p.UserID, len(p.Metas)))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// waitList waits until the in-process node lists want.
func (p *clusterPair) waitList(t *testing.T, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := listing(p.node.srv.ListPresence(pairRoom))
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %v the node lists %q, want %q", within, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remoteList is the child's ListPresence, through its HTTP API.
func (p *clusterPair) remoteList(t *testing.T) []ripple.Presence {
	t.Helper()
	s := &wstest.Server{Addr: strings.TrimSuffix(strings.TrimPrefix(p.child.base, "http://"), "/")}
	code, m := s.PostAPI(t, "list_presence", fmt.Sprintf(`{"channel":%q}`, pairRoom))
	if code != 200 {
		t.Fatalf("child list_presence: %d %v", code, m)
	}
	b, _ := json.Marshal(m["presences"])
	var wire []struct {
		UserID string           `json:"user_id"`
		Metas  []map[string]any `json:"metas"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatalf("child list_presence %s: %v", b, err)
	}
	l := make([]ripple.Presence, len(wire))
	for i, p := range wire {
		l[i] = ripple.Presence{UserID: p.UserID, Metas: make([]ripple.Meta, len(p.Metas))}
	}
	return l
}

// drain reads the watcher's messages up to now: once the node has
// delivered every presence event it knows of, a room message from it
// follows them through the same loop queue.
func (p *clusterPair) drain(t *testing.T) []clustertest.Message {
	t.Helper()
	n := p.node.srv.Node()
	for range 2 {
		if err := n.Presence().Sync(clustertest.Ctx(t), pairRoom); err != nil {
			t.Fatal(err)
		}
	}
	p.node.srv.BroadcastRoom(pairRoom, []byte(`"mark"`))
	var out []clustertest.Message
	for {
		_, msg := wstest.Read(t, p.watch)
		if string(msg) == `"mark"` {
			return out
		}
		if m, err := clustertest.Decode(msg); err == nil {
			p.msgs = append(p.msgs, msg)
			out = append(out, m)
		}
	}
}

// checkWatcher compares the watcher's rebuilt view with the node's list.
func (p *clusterPair) checkWatcher(t *testing.T) {
	t.Helper()
	sink := clustertest.NewSink()
	sink.Add("watch")
	for _, m := range p.msgs {
		sink.DeliverPresence(pairRoom, m, []string{"watch"}, nil)
	}
	clustertest.CheckViews(t, presence.ModeUser, sink, []string{"watch"}, pairRoom, p.node.srv.ListPresence(pairRoom))
}

// leaves counts the leaves and joins per user in msgs.
func leavesJoins(msgs []clustertest.Message) (leaves, joins map[string]int) {
	leaves, joins = map[string]int{}, map[string]int{}
	for _, m := range msgs {
		for u := range m.Leaves {
			leaves[u]++
		}
		for u := range m.Joins {
			joins[u]++
		}
	}
	return leaves, joins
}

// TestClusterKill: a node killed with SIGKILL has its presences removed
// on the surviving node within 10 s, with exactly one leave diff per user
// that thereby leaves (none for a user still present elsewhere), and its
// connections leave the cluster-wide count.
func TestClusterKill(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	if c := p.node.srv.Count(); c != 5 {
		t.Fatalf("Count %d, want 5", c)
	}
	if err := p.child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	took := p.waitList(t, "shared×1 watch×1", 10*time.Second)
	t.Logf("the killed node's presences were gone %v after SIGKILL", took.Round(time.Millisecond))
	msgs := p.drain(t)
	leaves, joins := leavesJoins(msgs)
	if !maps.Equal(leaves, map[string]int{"v1": 1, "v2": 1}) || len(joins) != 0 {
		t.Fatalf("diffs after the kill: leaves %v joins %v (%d messages)", leaves, joins, len(msgs))
	}
	wstest.ExpectSilence(t, p.watch, 200*time.Millisecond)
	p.checkWatcher(t)
	wstest.Eventually(t, "Count 2", func() bool { return p.node.srv.Count() == 2 })
	if p.node.srv.Node().Stats().Reaped.Load() != 1 {
		t.Fatalf("reaped %d", p.node.srv.Node().Stats().Reaped.Load())
	}
	if body := get(t, p.node.url("http", "/metrics"), 200); !strings.Contains(body, "\nripple_cluster_reaped_total 1\n") ||
		!strings.Contains(body, "\nripple_connections 2\n") || !strings.Contains(body, "\nripple_cluster_presence_diffs_total ") {
		t.Fatalf("/metrics lacks ripple_cluster_reaped_total 1, ripple_connections 2 or ripple_cluster_presence_diffs_total:\n%.3000s", body)
	}
	if body := get(t, p.node.url("http", "/healthz"), 200); body != "ok\n" {
		t.Fatalf("/healthz %q", body)
	}
}

// TestClusterPause: a node paused (SIGSTOP) past its deadline is removed
// by the other (one leave per user that thereby leaves); once resumed it
// fences itself, re-announces its live connections under a new
// incarnation, and every view ends equal to the list, on both nodes.
func TestClusterPause(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	if err := p.child.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	took := p.waitList(t, "shared×1 watch×1", 10*time.Second)
	t.Logf("the paused node was reaped %v after SIGSTOP", took.Round(time.Millisecond))
	msgs := p.drain(t)
	if leaves, joins := leavesJoins(msgs); !maps.Equal(leaves, map[string]int{"v1": 1, "v2": 1}) || len(joins) != 0 {
		t.Fatalf("diffs after the pause: leaves %v joins %v", leaves, joins)
	}
	if err := p.child.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	took = p.waitList(t, "shared×2 v1×1 v2×1 watch×1", 10*time.Second)
	t.Logf("the resumed node re-announced its connections %v after SIGCONT", took.Round(time.Millisecond))
	wstest.Eventually(t, "Count 5", func() bool { return p.node.srv.Count() == 5 })
	msgs = p.drain(t)
	if leaves, joins := leavesJoins(msgs); !maps.Equal(joins, map[string]int{"v1": 1, "v2": 1}) || len(leaves) != 0 {
		t.Fatalf("diffs after the resume: leaves %v joins %v", leaves, joins)
	}
	p.checkWatcher(t)
	if got := listing(p.remoteList(t)); got != "shared×2 v1×1 v2×1 watch×1" {
		t.Fatalf("the resumed node lists %s", got)
	}
	body := get(t, p.child.base+"metrics", 200)
	if !strings.Contains(body, "\nripple_cluster_fenced_total 1\n") || !strings.Contains(body, "\nripple_cluster_fenced 0\n") {
		t.Fatalf("the resumed node's /metrics lacks ripple_cluster_fenced_total 1:\n%.3000s", body)
	}
	// The resumed node's own clients end with the same view: read each
	// until it has been quiet for a while, then rebuild.
	list := p.node.srv.ListPresence(pairRoom)
	sink := clustertest.NewSink()
	var ids []string
	for u, c := range p.remote {
		sink.Add(u)
		ids = append(ids, u)
		for {
			_, msg, err := c.Next(500 * time.Millisecond)
			if err != nil {
				break
			}
			if _, err := clustertest.Decode(msg); err == nil {
				sink.DeliverPresence(pairRoom, msg, []string{u}, nil)
			}
		}
	}
	clustertest.CheckViews(t, presence.ModeUser, sink, ids, pairRoom, list)
	// And rooms work across both again.
	p.node.srv.BroadcastRoom(pairRoom, []byte("after the pause"))
	for u, c := range p.remote {
		if got := wstest.ReadString(t, c); got != "after the pause" {
			t.Fatalf("%s got %q", u, got)
		}
	}
}
