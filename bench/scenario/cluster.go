//go:build linux

package scenario

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/procfs"
)

// Cluster is the cluster scenario: the broadcast scenario against the
// single ripple server the suite started, then, in the same run and with
// the same settings, against ClusterNodes ripple processes of that binary
// (same flags, same CPUs, same GOGC) joined through a redis-server started
// for the run, the connections spread evenly over the nodes (loop i of a
// worker dials node i mod ClusterNodes) and one publisher per node. A
// message stops being in flight once every receiver of its worker, on
// every node, has it, so the load follows the cluster's cross-node
// delivery. The result is the cluster's; its notes compare it with the
// single server. Not in all (make bench-cluster).
const Cluster = "cluster"

// ClusterNodes is the number of nodes of the cluster scenario.
const ClusterNodes = 3

func runCluster(ctx context.Context, opt Options, target Target) (*Result, error) {
	res := &Result{Scenario: Cluster, Server: target.Name, URL: target.URL, Spec: opt.Spec}
	if target.Name != "ripple" {
		res.Skipped, res.OK = "cluster mode is ripple's only", true
		return res, nil
	}
	redisBin, err := redisServer(Cluster)
	if err != nil {
		return nil, err
	}
	like, err := inspectTarget(&target, Cluster)
	if err != nil {
		return nil, err
	}

	spec := opt.Spec
	spec.Scenario = Broadcast
	spec.Loops = (max(spec.Loops, ClusterNodes) + ClusterNodes - 1) / ClusterNodes * ClusterNodes
	if spec.Publishers <= 0 {
		spec.Publishers = ClusterNodes
	}
	bar := opt.Bar

	// One node: the suite's server, every loop dialling it.
	one := opt
	one.Spec = spec
	r1, err := Run(ctx, one, target)
	if err != nil {
		return nil, fmt.Errorf("scenario: cluster: single node: %w", err)
	}
	if bar != nil {
		bar.Println("  1 node:  " + clusterLine(r1))
	}

	cl, err := startLocalCluster(ctx, redisBin, like, ClusterNodes, like.cpus)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	three := opt
	three.Spec = spec
	three.Spec.Addrs = cl.addrs
	r3, err := Run(ctx, three, Target{Name: target.Name, URL: "ws://" + cl.addrs[0], PID: cl.pids[0]})
	if err != nil {
		return nil, fmt.Errorf("scenario: cluster: %d nodes: %w%s", ClusterNodes, err, cl.tails())
	}
	if dead := cl.dead(); dead != "" {
		r3.fail("%s", dead)
		r3.OK = false
	}
	if bar != nil {
		bar.Println(fmt.Sprintf("  %d nodes: %s", ClusterNodes, clusterLine(r3)))
	}

	out := *r3
	out.Scenario = Cluster
	out.Spec = spec
	out.Spec.Scenario = Cluster
	out.Spec.Addrs = nil
	out.Notes = append([]string{
		fmt.Sprintf("%d nodes (ripple -redis, one redis-server, the single server's flags, CPUs and GOGC): %s", ClusterNodes, clusterLine(r3)),
		"1 node, same run and settings: " + clusterLine(r1),
		fmt.Sprintf("%d nodes / 1 node: deliveries/s ×%.2f, p99 ×%.2f; server CPU is node 0's only",
			ClusterNodes, fratio(r3.Throughput, r1.Throughput), fratio(float64(r3.Latency.P99), float64(r1.Latency.P99))),
	}, r3.Notes...)
	for _, f := range r1.Failures {
		out.fail("1 node: %s", f)
	}
	out.OK = len(out.Failures) == 0
	return &out, nil
}

func clusterLine(r *Result) string {
	return fmt.Sprintf("%d conns, %.0f deliveries/s, p50 %s p99 %s p99.9 %s, %d sent, %d delivered",
		r.Conns, r.Throughput, durText(r.Latency.P50), durText(r.Latency.P99),
		durText(r.Latency.P999), r.Sent, r.Delivered)
}

func fratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// serverLike is how the single server runs, for its cluster twins.
type serverLike struct {
	bin  string   // its executable
	args []string // its flags but -addr
	cpus string   // its CPU affinity as a taskset list ("" = every CPU)
	env  []string // GOGC and GOMAXPROCS as it has them
}

// redisServer finds the redis-server binary the scenario sc needs.
func redisServer(sc string) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("scenario: %s: redis-server not found; install it: apt-get install -y redis-server", sc)
	}
	return bin, nil
}

// inspectTarget finds the process behind target (setting target.PID when it
// was 0) and reads how it runs, for the nodes scenario sc starts like it.
func inspectTarget(target *Target, sc string) (serverLike, error) {
	if target.PID == 0 {
		addr, _, err := resolve(target.URL)
		if err != nil {
			return serverLike{}, err
		}
		if target.PID, err = procfs.ListenerPID(int(addr.Port())); err != nil {
			return serverLike{}, fmt.Errorf("scenario: %s: the ripple process behind %s: %w", sc, target.URL, err)
		}
	}
	return inspectServer(target.PID)
}

// inspectServer reads the executable, flags, affinity and GC settings of
// the running server pid.
func inspectServer(pid int) (serverLike, error) {
	var s serverLike
	bin, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return s, fmt.Errorf("scenario: cluster: the server's executable: %w", err)
	}
	s.bin = strings.TrimSuffix(bin, " (deleted)")
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return s, fmt.Errorf("scenario: cluster: the server's flags: %w", err)
	}
	argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-addr" || a == "--addr" || a == "-redis" || a == "--redis":
			i++ // and its value
		case strings.HasPrefix(a, "-addr=") || strings.HasPrefix(a, "--addr=") ||
			strings.HasPrefix(a, "-redis=") || strings.HasPrefix(a, "--redis="):
		default:
			s.args = append(s.args, a)
		}
	}
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil {
		for _, kv := range strings.Split(string(env), "\x00") {
			if strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMAXPROCS=") {
				s.env = append(s.env, kv)
			}
		}
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err == nil && set.Count() < numCPU() {
		var cpus []string
		for c := 0; c < 1024; c++ {
			if set.IsSet(c) {
				cpus = append(cpus, strconv.Itoa(c))
			}
		}
		s.cpus = strings.Join(cpus, ",")
	}
	return s, nil
}

func numCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 1
	}
	n := 0
	for c := 0; c < 1024; c++ {
		if set.IsSet(c) {
			n++
		}
	}
	return max(n, set.Count())
}

// localCluster is a redis-server and ripple nodes joined through it.
type localCluster struct {
	dir   string
	procs []*clusterProc // redis first
	addrs []string       // the nodes' host:port
	pids  []int          // the nodes' pids
}

type clusterProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startLocalCluster starts a redis-server and n nodes like the server, on
// free loopback ports, and waits until each accepts connections. Redis runs
// on redisCPUs ("": any CPU).
func startLocalCluster(ctx context.Context, redisBin string, like serverLike, n int, redisCPUs string) (*localCluster, error) {
	dir, err := os.MkdirTemp("", "ripple-bench-cluster-")
	if err != nil {
		return nil, err
	}
	cl := &localCluster{dir: dir}
	ok := false
	defer func() {
		if !ok {
			cl.stop()
		}
	}()
	rport, err := freePort()
	if err != nil {
		return nil, err
	}
	raddr := "127.0.0.1:" + strconv.Itoa(rport)
	if _, err := cl.start(ctx, "redis", redisCPUs, nil, redisBin, "--port", strconv.Itoa(rport), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning"); err != nil {
		return nil, err
	}
	if err := waitRedis(ctx, raddr, cl.procs[0]); err != nil {
		return nil, fmt.Errorf("%w%s", err, cl.tails())
	}
	for i := range n {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		args := append([]string{"-addr", addr, "-redis", "redis://" + raddr + "/0"}, like.args...)
		p, err := cl.start(ctx, fmt.Sprintf("node%d", i), like.cpus, like.env, like.bin, args...)
		if err != nil {
			return nil, err
		}
		if err := waitAccept(ctx, addr, p); err != nil {
			return nil, fmt.Errorf("%w%s", err, cl.tails())
		}
		cl.addrs = append(cl.addrs, addr)
		cl.pids = append(cl.pids, p.cmd.Process.Pid)
	}
	ok = true
	return cl, nil
}

func (cl *localCluster) start(_ context.Context, name, cpus string, env []string, bin string, args ...string) (*clusterProc, error) {
	exe := bin
	if cpus != "" {
		if ts, err := exec.LookPath("taskset"); err == nil {
			exe, args = ts, append([]string{"-c", cpus, bin}, args...)
		}
	}
	p := &clusterProc{name: name, log: filepath.Join(cl.dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("scenario: cluster: start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	cl.procs = append(cl.procs, p)
	return p, nil
}

// waitRedis waits until the redis-server answers PING.
func waitRedis(ctx context.Context, addr string, p *clusterProc) error {
	return waitFor(ctx, p, "redis-server on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "+PONG")
	})
}

// waitAccept waits until a node accepts connections.
func waitAccept(ctx context.Context, addr string, p *clusterProc) error {
	return waitFor(ctx, p, p.name+" on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func waitFor(ctx context.Context, p *clusterProc, what string, ready func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !ready() {
		select {
		case <-p.done:
			return fmt.Errorf("scenario: cluster: %s exited before it was ready", what)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scenario: cluster: %s not ready after 20s", what)
		}
	}
	return nil
}

// dead names the processes that exited during the run.
func (cl *localCluster) dead() string {
	var names []string
	for _, p := range cl.procs {
		select {
		case <-p.done:
			names = append(names, p.name)
		default:
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "exited during the run: " + strings.Join(names, ", ") + cl.tails()
}

// tails returns the last lines of every log.
func (cl *localCluster) tails() string {
	var b strings.Builder
	for _, p := range cl.procs {
		raw, err := os.ReadFile(p.log)
		if err != nil || len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		fmt.Fprintf(&b, "\n  %s:\n    %s", p.name, strings.Join(lines, "\n    "))
	}
	return b.String()
}

// stop drains the nodes (SIGTERM: each leaves the cluster), then stops
// Redis, killing what does not exit in time, and removes the directory.
func (cl *localCluster) stop() {
	// The nodes together (one at a time, fifty nodes that each drain for
	// seconds take minutes), then redis.
	term := func(ps []*clusterProc) {
		for _, p := range ps {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		deadline := time.After(15 * time.Second)
		for _, p := range ps {
			select {
			case <-p.done:
			case <-deadline:
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
	term(cl.procs[1:])
	term(cl.procs[:1])
	_ = os.RemoveAll(cl.dir)
}

// kill ends every node at once with SIGKILL, leaving redis: what frees
// their memory fastest. stop still waits for them.
func (cl *localCluster) kill() {
	for _, p := range cl.procs[1:] {
		_ = p.cmd.Process.Kill()
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
