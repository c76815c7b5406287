//go:build linux

package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/floor"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/procfs"
)

// FloorArgs are the arguments that make this suite's executable a floor
// process (floor.Serve), as "worker" makes it a generator worker.
var FloorArgs = []string{"floor-worker"}

// C1M is the million-connection scenario (make bench-c1m). The open-file
// limit is per process, so it spreads Spec.Conns connections over ripple
// cluster nodes on one redis-server, each holding at most PerProc of them,
// and as many generator workers, worker i dialling node i from its own
// source addresses. On one set of connections, in stages:
//
//	(a) ramp: connect rate, handshake p50/p99, connections against time;
//	(b) idle: the nodes' RSS per connection (their sum minus the sum at zero
//	    connections, over N), kernel slab per connection, generator memory;
//	(c) one broadcast to all (POST /api/broadcast on node 0): time until the
//	    last delivery and the delivery latency, every connection exactly once;
//	(d) rooms: every connection is a member of room gid % (N/RoomSize) on
//	    /ws/room/c<room>, seat 0 of each room publishes (Spec.MsgRate over all
//	    rooms, Spec.Duration): deliveries/s, latency, per-room order and counts;
//	(e) presence: every tenth connection moves to one of 10 presence rooms
//	    of N/100 tracked users (/ws/presence/q<k>): the time until every
//	    member's view (its presence_state and the diffs after it) lists
//	    exactly its room, the time until the diffs are quiet, and
//	    /api/presence_count and /api/list_presence exact on two nodes;
//	(f) SIGTERM to every node: every connection must get 1001 and every node
//	    exit by itself.
//
// Before it starts, it sets the sysctls it can and checks free memory
// against its estimate; while it runs, it stops early when free memory
// falls below a floor.
const C1M = "c1m"

// C1MPerProc caps the connections of one process where the open-file limit
// allows more: fewer, larger processes, but still a few, so that every CPU
// has a node.
const C1MPerProc = 250_000

// c1mRoomDeliveries is the default offered load of the rooms stage in
// deliveries per second: -msg-rate (publishes/s) is this over the room size.
const c1mRoomDeliveries = 100_000

// c1mPresenceWait bounds stage (e): moving the presence seats, filling
// the rooms and the quiet after.
const c1mPresenceWait = 4 * time.Minute

// c1mCoalesce spaces a worker loop's polls while they find work
// (loadgen.Config.Coalesce). A million connections share two CPUs with
// their generators: a worker that woke for every message would bill each
// of the nodes' writes a wake-up, and spend half its own CPU on them.
// One millisecond is noise in figures measured in seconds.
const c1mCoalesce = time.Millisecond

// c1mGuardEvery is how often the memory guard reads the usable memory
// (procfs.MemUsable); the timeline takes every second's reading.
const c1mGuardEvery = 100 * time.Millisecond

// c1mInflight bounds the dials and handshakes in flight over all workers.
const c1mInflight = 2048

// c1mKernelPerConn is the kernel memory of one idle loopback connection,
// both ends (two sockets, their buffers' minimum, the file and epoll items),
// measured on Linux 6.x.
const c1mKernelPerConn = 9_600

// c1mUserPerConn is the user-space memory of one connection: the server's
// (~1 KiB) and the generator's (~1.5 KiB).
const c1mUserPerConn = 2_600

// c1mPerProcess is the resident memory of one node or worker without
// connections, with a margin.
const c1mPerProcess = 40 << 20

// C1MResult is what the C1M scenario measured, stage by stage.
type C1MResult struct {
	Nodes   int `json:"nodes"`
	Workers int `json:"workers"`
	PerProc int `json:"per_proc"`

	NodeFlags   string         `json:"node_flags"` // the nodes' flags beyond -addr and -redis
	NodeEnv     string         `json:"node_env"`   // what the nodes' environment sets (GOMAXPROCS, GOGC)
	Sysctls     []SysctlChange `json:"sysctls"`
	BudgetBytes int64          `json:"budget_bytes"`    // the estimate checked before the run
	AvailBytes  int64          `json:"available_bytes"` // before the run: MemAvailable less the reclaimable slab (procfs.MemUsable)
	MinAvail    int64          `json:"min_available_bytes"`

	Timeline []C1MSample `json:"timeline"` // every second of the run

	// Floor is this machine's floor under (c), measured before the ramp:
	// the same fan-out with no server and no generator (package floor);
	// nil when it could not be measured.
	Floor *floor.Result `json:"floor,omitempty"`

	// (a) ramp
	RampSeconds float64      `json:"ramp_seconds"`
	ConnectRate float64      `json:"connect_rate"`
	Handshake   hist.Summary `json:"handshake_ns"`
	Open        int64        `json:"open"`
	Failed      int64        `json:"failed"`

	// (b) idle
	ServerRSS0       int64   `json:"server_rss0"` // nodes together, before any connection
	ServerRSS        int64   `json:"server_rss"`  // nodes together, N open
	ServerPerConn    float64 `json:"server_per_conn"`
	SlabPerConn      float64 `json:"slab_per_conn"`
	GeneratorRSS     int64   `json:"generator_rss"`
	GeneratorPerConn float64 `json:"generator_per_conn"`
	RedisRSS         int64   `json:"redis_rss"`
	NodeRSS          []int64 `json:"node_rss"`

	// (c) one broadcast to all
	Broadcast     PhaseStats   `json:"broadcast"`
	BroadcastLast float64      `json:"broadcast_last_seconds"` // publish to last delivery
	BroadcastLat  hist.Summary `json:"broadcast_latency_ns"`
	BroadcastCDF  [][2]float64 `json:"broadcast_cdf"` // [latency ns, fraction delivered]
	// FloorRatio is BroadcastLast over the floor's best round; 0 without
	// a floor.
	FloorRatio float64 `json:"floor_ratio,omitempty"`

	// (d) rooms
	Rooms          int          `json:"rooms"`
	RoomSize       int          `json:"room_size"`
	RoomOffered    float64      `json:"room_offered"` // publishes/s
	RoomStats      PhaseStats   `json:"room_stats"`
	RoomDeliveries float64      `json:"room_deliveries_per_sec"`
	RoomLat        hist.Summary `json:"room_latency_ns"`

	// (e) presence
	PresenceRooms  int          `json:"presence_rooms"`
	PresenceSize   int          `json:"presence_size"`  // users in the largest room
	PresenceSeats  int          `json:"presence_seats"` // tracked connections
	Presence       PhaseStats   `json:"presence"`
	PresenceFill   float64      `json:"presence_fill_seconds"`  // to the last member's whole view
	PresenceQuiet  float64      `json:"presence_quiet_seconds"` // to the last presence message
	PresenceCounts []int        `json:"presence_counts"`        // per room, presence_count of node 0
	PresenceListed []int        `json:"presence_listed"`        // per room, list_presence users of the last node
	PresenceLat    hist.Summary `json:"-"`

	// (f) SIGTERM
	CloseCodes  map[int]int64 `json:"close_codes"`
	ExitSeconds float64       `json:"exit_seconds"` // SIGTERM to the last node's exit
	Exited      int           `json:"exited"`       // nodes that exited by themselves

	Seconds float64 `json:"seconds"` // the whole run
}

// C1MSample is one point of the run's timeline.
type C1MSample struct {
	T         float64 `json:"t"`     // seconds since the run started
	Conns     int64   `json:"conns"` // open connections, from the workers
	ServerRSS int64   `json:"server_rss"`
	Avail     int64   `json:"available"`
}

// SysctlChange is one kernel setting the run wanted.
type SysctlChange struct {
	Name string `json:"name"`
	Was  string `json:"was"`
	Want string `json:"want"`
	Now  string `json:"now"`
	Err  string `json:"error,omitempty"`
}

// c1mSysctls are the settings a million loopback connections need: the
// value wanted, and whether a larger current value is already enough.
var c1mSysctls = []struct {
	name, want string
	atLeast    bool
}{
	{"net.ipv4.ip_local_port_range", "1024 65535", false},
	{"net.core.somaxconn", "65535", true},
	{"net.ipv4.tcp_max_syn_backlog", "65535", true},
	{"net.core.netdev_max_backlog", "65536", true},
	{"fs.file-max", "2200000", true},
	{"net.netfilter.nf_conntrack_max", "2200000", true},
}

// applySysctls sets every c1mSysctls entry it can; restore puts back the
// ones it changed.
func applySysctls() (changes []SysctlChange, restore func()) {
	var undo []SysctlChange
	for _, s := range c1mSysctls {
		path := "/proc/sys/" + strings.ReplaceAll(s.name, ".", "/")
		raw, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // e.g. no conntrack module: nothing to raise
			}
			changes = append(changes, SysctlChange{Name: s.name, Want: s.want, Err: err.Error()})
			continue
		}
		was := strings.Join(strings.Fields(string(raw)), " ")
		ch := SysctlChange{Name: s.name, Was: was, Want: s.want, Now: was}
		if s.atLeast {
			if cur, err := strconv.ParseInt(was, 10, 64); err == nil {
				if want, _ := strconv.ParseInt(s.want, 10, 64); cur >= want {
					changes = append(changes, ch)
					continue
				}
			}
		}
		if was != s.want {
			if err := os.WriteFile(path, []byte(s.want), 0o644); err != nil {
				ch.Err = err.Error()
			} else {
				ch.Now = s.want
				undo = append(undo, ch)
			}
		}
		changes = append(changes, ch)
	}
	return changes, func() {
		for _, ch := range undo {
			_ = os.WriteFile("/proc/sys/"+strings.ReplaceAll(ch.Name, ".", "/"), []byte(ch.Was), 0o644)
		}
	}
}

// c1mPlan is how the run splits N connections.
type c1mPlan struct {
	perProc, nodes, srcs int
	budget, avail, floor int64
}

// planC1M settles the processes and checks memory; the error says what to
// change.
func planC1M(n, perProc int) (c1mPlan, error) {
	var p c1mPlan
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return p, err
	}
	// Every process keeps ~1,000 descriptors for itself (Redis, listeners,
	// epoll, logs); with the limit at 20,000 that is 19,000 connections.
	p.perProc = int(min(int64(rl.Max)-1000, C1MPerProc))
	if perProc > 0 {
		p.perProc = min(p.perProc, perProc)
	}
	if p.perProc < 1 {
		return p, fmt.Errorf("scenario: c1m: the open-file limit (%d) leaves no room for connections", rl.Max)
	}
	p.nodes = (n + p.perProc - 1) / p.perProc
	lo, hi, err := procfs.PortRange()
	if err != nil {
		lo, hi = 32768, 60999
	}
	p.srcs = max(1, (fleet.Share(n, p.nodes, 0)+(hi-lo)/2)/((hi-lo)*2/3))
	procs := int64(2*p.nodes + 1)
	p.budget = int64(n)*(c1mKernelPerConn+c1mUserPerConn) + procs*c1mPerProcess
	if p.avail, err = procfs.MemUsable(); err != nil {
		return p, err
	}
	p.floor = max(1<<30, p.avail/20)
	if p.budget+p.floor > p.avail {
		return p, fmt.Errorf("scenario: c1m: %d connections over %d nodes need about %d MiB (%.1f KiB per connection in the kernel and the processes, %d MiB per process) "+
			"plus a %d MiB floor, but only %d MiB are available: lower -n", n, p.nodes, p.budget>>20,
			float64(c1mKernelPerConn+c1mUserPerConn)/1024, c1mPerProcess>>20, p.floor>>20, p.avail>>20)
	}
	return p, nil
}

func runC1M(ctx context.Context, opt Options, target Target) (*Result, error) {
	start := time.Now()
	spec := opt.Spec
	applyDefaults(&spec)
	res := &Result{Scenario: C1M, Server: target.Name, URL: target.URL}
	if target.Name != "ripple" {
		res.Skipped, res.OK = "the c1m run spreads over ripple cluster nodes", true
		return res, nil
	}
	redisBin, err := redisServer(C1M)
	if err != nil {
		return nil, err
	}
	plan, err := planC1M(spec.Conns, spec.PerProc)
	if err != nil {
		return nil, err
	}
	cr := &C1MResult{PerProc: plan.perProc, Nodes: plan.nodes, Workers: plan.nodes, BudgetBytes: plan.budget, AvailBytes: plan.avail, MinAvail: plan.avail}
	res.C1M = cr
	var restore func()
	cr.Sysctls, restore = applySysctls()
	defer restore()
	bar := opt.Bar
	say := func(format string, a ...any) {
		if bar != nil {
			bar.Println(fmt.Sprintf("  c1m: "+format, a...))
		}
	}
	for _, s := range cr.Sysctls {
		if s.Err != "" {
			say("sysctl %s: wanted %s, stays %s: %s", s.Name, s.Want, s.Was, s.Err)
		}
	}
	say("%d connections: %d nodes and %d generator workers of at most %d, %d source address(es) each; memory estimate %d MiB of %d MiB available",
		spec.Conns, plan.nodes, plan.nodes, plan.perProc, plan.srcs, plan.budget>>20, plan.avail>>20)

	// The floor under (c), while nothing else runs.
	if spec.NoFloor {
		say("floor: not measured (-floor=false)")
	} else if fr, err := c1mFloor(ctx, opt, spec.Conns, plan.perProc); err != nil {
		say("floor: not measured: %v", err)
	} else {
		cr.Floor = fr
		say("floor: %d connections over %d processes, a %d-byte frame written to each and read back: %.2fs (rounds %s), %.1f µs of CPU per delivery; set up in %.0fs",
			fr.Conns, fr.Procs, fr.Size, fr.Best, secondsText(fr.Rounds), fr.CPUPerDelivery, fr.SetupSeconds)
	}

	like, err := inspectTarget(&target, C1M)
	if err != nil {
		return nil, err
	}
	// The nodes and the workers share two CPUs a hundred ways and all of
	// them work in bulk: SCHED_BATCH, inherited from this process, keeps
	// a thread that wakes from preempting the one that runs, so a node
	// writes its fan-out for a whole time slice instead of handing the
	// CPU to the worker its last write woke.
	if err := procfs.SetPolicy(os.Getpid(), procfs.PolicyBatch); err != nil {
		say("the nodes and workers keep the default scheduling policy: %v", err)
	} else {
		defer func() { _ = procfs.SetPolicy(os.Getpid(), procfs.PolicyNormal) }()
	}
	up := time.Now()
	cl, err := startLocalCluster(ctx, redisBin, like, plan.nodes, "")
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	// Redis serves every node: on the nodes' CPU it would get one share in
	// plan.nodes+1 and time their heartbeats out. It runs on any CPU, in
	// the normal policy (a command that waits for the CPU waits for every
	// node) and at the highest priority (nice -20 weighs as much as 87
	// processes at nice 0).
	redisPID := cl.procs[0].cmd.Process.Pid
	if err := procfs.SetPolicy(redisPID, procfs.PolicyNormal); err != nil {
		say("redis-server keeps the batch policy: %v", err)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, redisPID, -20); err != nil {
		say("redis-server keeps the default priority: %v", err)
	}
	cr.NodeFlags = strings.Join(like.args, " ")
	cr.NodeEnv = strings.Join(like.env, " ")
	say("redis-server and %d nodes up in %.1fs; the nodes' flags: %s; their environment: %s",
		plan.nodes, time.Since(up).Seconds(), cr.NodeFlags, cr.NodeEnv)

	// The watchdog samples the timeline and stops the run when memory runs low.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var tlMu sync.Mutex
	var open func() int64 // set once the session exists
	rssOf := func(pids []int) int64 {
		var sum int64
		for _, pid := range pids {
			v, _ := procfs.RSS(pid)
			sum += v
		}
		return sum
	}
	cr.ServerRSS0 = rssOf(cl.pids)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		// The guard must see memory fall before the OOM killer does: under
		// a broadcast storm the nodes' queues grow by gigabytes in seconds,
		// and this process's threads have the batch policy that lets a
		// woken thread wait a whole time slice of a hundred others. So it
		// looks ten times a second, from a thread of the normal policy.
		runtime.LockOSThread()
		if err := procfs.SetThreadPolicy(procfs.PolicyNormal); err != nil {
			say("the memory guard keeps the batch policy: %v", err)
		}
		t := time.NewTicker(c1mGuardEvery)
		defer t.Stop()
		for tick := 0; ; tick++ {
			select {
			case <-stopWatch:
				return
			case <-t.C:
			}
			avail, err := procfs.MemUsable()
			if err != nil {
				continue
			}
			if avail < plan.floor {
				// The nodes hold what grows; they go first and at once.
				cl.kill()
				tlMu.Lock()
				cr.MinAvail = min(cr.MinAvail, avail)
				tlMu.Unlock()
				cancel(fmt.Errorf("scenario: c1m: free memory fell to %d MiB, under the %d MiB floor: nodes killed, stopped early", avail>>20, plan.floor>>20))
				return
			}
			if tick%int(time.Second/c1mGuardEvery) != 0 {
				continue
			}
			smp := C1MSample{T: time.Since(start).Seconds(), ServerRSS: rssOf(cl.pids), Avail: avail}
			tlMu.Lock()
			if open != nil {
				smp.Conns = open()
			}
			cr.Timeline = append(cr.Timeline, smp)
			cr.MinAvail = min(cr.MinAvail, avail)
			tlMu.Unlock()
		}
	}()
	defer func() {
		select {
		case <-stopWatch:
		default:
			close(stopWatch)
		}
		<-watchDone
	}()
	fail := func(err error) (*Result, error) {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			err = c
		}
		say("stopped: %v", err)
		// What the stages before measured stays in the report.
		res.fail("stopped: %v", err)
		cr.Seconds = time.Since(start).Seconds()
		return res, fmt.Errorf("%w%s", err, cl.tails())
	}

	spec.Scenario = C1M
	spec.Workers = plan.nodes
	spec.Loops = 1
	spec.Coalesce = Duration(c1mCoalesce)
	// Handshakes in flight over all workers: enough to keep every node
	// busy, few enough that none waits out the handshake timeout behind
	// the others on a small machine.
	spec.MaxInflight = max(8, min(spec.MaxInflight, c1mInflight/plan.nodes))
	spec.Addrs = cl.addrs
	spec.Addr, spec.Host = cl.addrs[0], cl.addrs[0]
	spec.Epoch = time.Now().UnixNano()
	if spec.RoomSize <= 0 {
		spec.RoomSize = max(1, spec.Conns/1000)
	}
	res.Spec = spec
	res.Spec.Addrs = nil
	res.Procs = plan.nodes
	procs := plan.nodes
	if opt.Procs == 0 {
		procs = 0 // the workers run in this process (tests)
	}
	s, err := startSession(ctx, opt, spec, procs, plan.srcs, target.Name)
	if err != nil {
		return fail(err)
	}
	defer s.close()
	tlMu.Lock()
	open = s.open.Load
	tlMu.Unlock()

	// (a) ramp
	slab0, _ := procfs.Slab()
	t0 := time.Now()
	if _, err := s.step(ctx, Command{Op: "connect", Target: spec.Conns}, spec.Conns); err != nil {
		return fail(err)
	}
	cr.RampSeconds = time.Since(t0).Seconds()
	total, err := s.stats(ctx)
	if err != nil {
		return fail(err)
	}
	cr.Open, cr.Failed = total.Progress.Open, total.Failed
	cr.ConnectRate = float64(total.Opened) / cr.RampSeconds
	var hs hist.Histogram
	hs.MergeSnapshot(total.Handshake)
	cr.Handshake = hs.Summarize()
	res.Conns, res.Opened, res.Failed, res.Reasons = cr.Open, total.Opened, total.Failed, total.Reasons
	res.ConnectSeconds, res.ConnectRate, res.Handshake = cr.RampSeconds, cr.ConnectRate, cr.Handshake
	say("(a) ramp: %d open, %d failed in %.1fs: %.0f connections/s, handshake p50 %s p99 %s",
		cr.Open, cr.Failed, cr.RampSeconds, cr.ConnectRate, durText(cr.Handshake.P50), durText(cr.Handshake.P99))
	if cr.Open < int64(spec.Conns) || cr.Failed > 0 {
		res.fail("opened %d of %d connections, %d dials failed %v", cr.Open, spec.Conns, cr.Failed, total.Reasons)
	}

	// (b) idle
	var wg sync.WaitGroup
	cr.NodeRSS = make([]int64, len(cl.pids))
	for i, pid := range cl.pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if smp, err := sampleRSS(ctx, pid, opt.Settle, 0); err == nil {
				cr.NodeRSS[i] = smp.RSS
			}
		}()
	}
	wg.Wait()
	for _, v := range cr.NodeRSS {
		cr.ServerRSS += v
	}
	if cr.Open > 0 {
		cr.ServerPerConn = float64(cr.ServerRSS-cr.ServerRSS0) / float64(cr.Open)
		if slab, err := procfs.Slab(); err == nil && slab0 > 0 {
			cr.SlabPerConn = float64(slab-slab0) / float64(cr.Open)
		}
		cr.GeneratorRSS = rssOf(s.pids())
		cr.GeneratorPerConn = float64(cr.GeneratorRSS) / float64(cr.Open)
	}
	cr.RedisRSS = rssOf([]int{cl.procs[0].cmd.Process.Pid})
	res.RSSPerConn, res.SlabPerConn = cr.ServerPerConn, cr.SlabPerConn
	res.Samples = []RSSSample{{Conns: 0, RSS: cr.ServerRSS0}, {Conns: cr.Open, RSS: cr.ServerRSS}}
	say("(b) idle: nodes %.0f MiB (%.0f MiB at zero), %.0f B per connection; kernel slab %.2f KiB per connection; generators %.0f MiB (%.0f B per connection); redis %.0f MiB",
		mib(cr.ServerRSS), mib(cr.ServerRSS0), cr.ServerPerConn, cr.SlabPerConn/1024, mib(cr.GeneratorRSS), cr.GeneratorPerConn, mib(cr.RedisRSS))

	// (c) one broadcast to all
	if _, err := s.phase(ctx, Phase{Name: PhaseArm}); err != nil {
		return fail(err)
	}
	sentAt := time.Now().UnixNano() - spec.Epoch
	msg := benchmsg.Append(nil, "all", benchmsg.Msg{T: sentAt, S: 0, P: -1, R: -1}, 0)
	if err := apiPost(ctx, cl.addrs[0], "/api/broadcast", map[string]string{"message": string(msg)}); err != nil {
		return fail(err)
	}
	ps, err := s.phase(ctx, Phase{Name: PhaseBroadcast, ID: 0, Wait: Duration(2 * time.Minute)})
	if err != nil {
		return fail(err)
	}
	cr.Broadcast = *ps
	cr.BroadcastLast = float64(ps.Last-sentAt) / 1e9
	var bh hist.Histogram
	bh.MergeSnapshot(ps.Latency)
	cr.BroadcastLat = bh.Summarize()
	for _, q := range []float64{0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9, 100} {
		cr.BroadcastCDF = append(cr.BroadcastCDF, [2]float64{float64(bh.Percentile(q)), q / 100})
	}
	res.Latency = cr.BroadcastLat
	floorText := ""
	if cr.Floor != nil && cr.Floor.Best > 0 {
		cr.FloorRatio = cr.BroadcastLast / cr.Floor.Best
		floorText = fmt.Sprintf("; %.2f× the floor", cr.FloorRatio)
	}
	say("(c) broadcast to all: %d of %d delivered, %d missing, %d duplicate; last delivery %.2fs after the publish%s; latency p50 %s p99 %s",
		ps.Delivered, ps.Expected, ps.Missing, ps.Dup, cr.BroadcastLast, floorText, durText(cr.BroadcastLat.P50), durText(cr.BroadcastLat.P99))
	if ps.Missing > 0 || ps.Dup > 0 || ps.Invalid > 0 || !ps.Complete {
		res.fail("broadcast to all: %d missing, %d duplicate, %d invalid of %d", ps.Missing, ps.Dup, ps.Invalid, ps.Expected)
	}

	// (d) rooms
	cr.Rooms, cr.RoomSize = c1mRooms(&spec), spec.RoomSize
	cr.RoomOffered = spec.MsgRate
	if cr.RoomOffered <= 0 {
		cr.RoomOffered = max(1, float64(c1mRoomDeliveries/spec.RoomSize))
	}
	if _, err := s.phase(ctx, Phase{Name: PhaseArm}); err != nil {
		return fail(err)
	}
	pub, err := s.phase(ctx, Phase{Name: PhaseRooms, Rate: cr.RoomOffered, Duration: spec.Duration})
	if err != nil {
		return fail(err)
	}
	rs, err := s.phase(ctx, Phase{Name: PhaseRoomsSettle, Sent: pub.Sent, Wait: max(spec.Drain, Duration(time.Minute))})
	if err != nil {
		return fail(err)
	}
	cr.RoomStats = *rs
	var sent int64
	for _, v := range pub.Sent {
		sent += v
	}
	if rs.Last > rs.First {
		cr.RoomDeliveries = float64(rs.Delivered) / (float64(rs.Last-rs.First) / 1e9)
	}
	var rh hist.Histogram
	rh.MergeSnapshot(rs.Latency)
	cr.RoomLat = rh.Summarize()
	res.Sent, res.Delivered, res.Expected, res.Missing, res.Dup, res.Foreign = sent, rs.Delivered, rs.Expected, rs.Missing, rs.Dup, rs.Foreign
	res.Throughput, res.ThroughputUnit = cr.RoomDeliveries, "deliveries/s"
	say("(d) %d rooms of %d: %d published (%.0f/s offered), %d of %d delivered, %.0f deliveries/s, latency p50 %s p99 %s; %d missing, %d duplicate, %d out of order, %d foreign",
		cr.Rooms, cr.RoomSize, sent, cr.RoomOffered, rs.Delivered, rs.Expected, cr.RoomDeliveries, durText(cr.RoomLat.P50), durText(cr.RoomLat.P99),
		rs.Missing, rs.Dup, rs.Reorder, rs.Foreign)
	if rs.Missing > 0 || rs.Dup > 0 || rs.Reorder > 0 || rs.Foreign > 0 || rs.Invalid > 0 {
		res.fail("rooms: %d missing, %d duplicate, %d out of order, %d foreign, %d invalid", rs.Missing, rs.Dup, rs.Reorder, rs.Foreign, rs.Invalid)
	}

	// (e) presence
	pr := newC1MPresence(spec.Conns)
	cr.PresenceRooms, cr.PresenceSize, cr.PresenceSeats = c1mPresenceRooms, int(pr.max), pr.seats
	tp := time.Now().UnixNano() - spec.Epoch
	pp, err := s.phase(ctx, Phase{Name: PhasePresence, Wait: Duration(c1mPresenceWait)})
	switch {
	case err != nil && ctx.Err() != nil:
		return fail(err)
	case err != nil:
		// A generator that did not finish the stage in time fails it, not
		// the run: (f) still runs.
		res.fail("presence: %v", err)
		say("(e) presence: %v", err)
	default:
		cr.Presence = *pp
		if pp.FullAt > 0 {
			cr.PresenceFill = float64(pp.FullAt-tp) / 1e9
		}
		if pp.Last > 0 {
			cr.PresenceQuiet = float64(pp.Last-tp) / 1e9
		}
		exact := true
		for k := range c1mPresenceRooms {
			var cnt struct {
				Count int `json:"count"`
			}
			var list struct {
				Presences []struct {
					UserID string `json:"user_id"`
				} `json:"presences"`
			}
			ch := map[string]string{"channel": PresenceRoom(k)}
			// A read that the cluster cannot answer (503 while Redis is
			// busy) fails the stage, not the run: (f) still runs.
			if err := apiRetry(ctx, cl.addrs[0], "/api/presence_count", ch, &cnt); err != nil {
				exact = false
				res.fail("presence room %d: %v", k, err)
				continue
			}
			if err := apiRetry(ctx, cl.addrs[len(cl.addrs)-1], "/api/list_presence", ch, &list); err != nil {
				exact = false
				res.fail("presence room %d: %v", k, err)
				continue
			}
			users := map[string]bool{}
			for _, p := range list.Presences {
				users[p.UserID] = true
			}
			cr.PresenceCounts = append(cr.PresenceCounts, cnt.Count)
			cr.PresenceListed = append(cr.PresenceListed, len(users))
			if want := int(pr.target[k]); cnt.Count != want || len(users) != want || len(list.Presences) != want {
				exact = false
				res.fail("presence room %d: presence_count %d, list_presence %d entries of %d users, want %d", k, cnt.Count, len(list.Presences), len(users), want)
			}
		}
		fill := fmt.Sprintf("every view whole %.2fs after the move", cr.PresenceFill)
		if pp.Missing > 0 {
			fill = fmt.Sprintf("%d of %d views whole at the bound", pp.Expected-pp.Missing, pp.Expected)
		}
		say("(e) presence: %d rooms of %d tracked (%d connections): %s, diffs quiet at %.2fs; %d states, %d diffs received; %d views not whole, %d dials tried again, %d seats failed, %d foreign users; counts exact: %v",
			cr.PresenceRooms, cr.PresenceSize, cr.PresenceSeats, fill, cr.PresenceQuiet, pp.States, pp.Diffs, pp.Missing, pp.Redials, pp.Failed, pp.ForeignUsers, exact)
		if pp.Missing > 0 || pp.Failed > 0 || pp.ForeignUsers > 0 || pp.Invalid > 0 || !pp.Complete {
			res.fail("presence: %d of %d views not whole, %d dials failed, %d foreign users, %d invalid", pp.Missing, pp.Expected, pp.Failed, pp.ForeignUsers, pp.Invalid)
		}
	}

	// (f) SIGTERM to every node
	tTerm := time.Now()
	for _, p := range cl.procs[1:] {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	cs, err := s.phase(ctx, Phase{Name: PhaseClosed, Wait: Duration(2 * time.Minute)})
	if err != nil {
		return fail(err)
	}
	cr.CloseCodes = cs.Codes
	exitBy := time.After(2 * time.Minute)
	for _, p := range cl.procs[1:] {
		select {
		case <-p.done:
			cr.Exited++
		case <-exitBy:
		case <-ctx.Done():
		}
	}
	cr.ExitSeconds = time.Since(tTerm).Seconds()
	var codes []string
	for code, n := range cr.CloseCodes {
		codes = append(codes, fmt.Sprintf("%d×%d", n, code))
	}
	say("(f) SIGTERM: close codes %s; %d of %d nodes exited by themselves, the last %.1fs after the signal",
		strings.Join(codes, " "), cr.Exited, plan.nodes, cr.ExitSeconds)
	if len(cr.CloseCodes) != 1 || cr.CloseCodes[1001] == 0 {
		var other int64
		for code, n := range cr.CloseCodes {
			if code != 1001 {
				other += n
			}
		}
		res.fail("SIGTERM: not every connection got 1001: %v (%d other)", cr.CloseCodes, other)
	}
	if cr.Exited < plan.nodes {
		res.fail("SIGTERM: %d of %d nodes did not exit within two minutes", plan.nodes-cr.Exited, plan.nodes)
	}
	cr.Seconds = time.Since(start).Seconds()
	res.RunSeconds = cr.Seconds
	res.OK = len(res.Failures) == 0
	return res, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// c1mFloor measures the floor under (c) for n connections: processes of
// perProc descriptors (two per connection) fan out a frame of the size of
// (c)'s. The processes are this executable's FloorArgs, or goroutines when
// the workers are (opt.Procs 0).
func c1mFloor(ctx context.Context, opt Options, n, perProc int) (*floor.Result, error) {
	start := func(id int) (*fleet.Worker, error) {
		if opt.Procs == 0 {
			return fleet.StartInProcess(id, floor.Serve), nil
		}
		exe, err := opt.executable()
		if err != nil {
			return nil, err
		}
		return fleet.Start(id, exe, FloorArgs, opt.ClientCPUs, nil)
	}
	// (c)'s frame: a two-byte header and the message, whose time field
	// has about as many digits.
	size := 2 + len(benchmsg.Append(nil, "all", benchmsg.Msg{T: int64(10 * time.Minute), P: -1, R: -1}, 0))
	return floor.Run(ctx, floor.Config{Conns: n, PerProc: max(1, perProc/2), Size: size, Rounds: 2, Start: start})
}

// secondsText spells a list of durations in seconds.
func secondsText(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.FormatFloat(v, 'f', 2, 64) + "s"
	}
	return strings.Join(parts, ", ")
}

// phase runs a C1M phase on every worker and merges their figures.
func (s *session) phase(ctx context.Context, ph Phase) (*PhaseStats, error) {
	s.phases++
	ph.Seq = s.phases
	for _, w := range s.workers {
		if err := w.Send(Command{Op: "phase", Phase: &ph}); err != nil {
			return nil, fmt.Errorf("scenario: worker %d: %w", w.ID, err)
		}
	}
	evs, err := s.wait(ctx, phaseStep(ph.Seq), 0, time.Duration(ph.Wait)+time.Duration(ph.Duration)+time.Minute)
	if err != nil {
		return nil, err
	}
	total := &PhaseStats{First: -1, Complete: true}
	for _, ev := range evs {
		if ev.Stats != nil && ev.Stats.Phase != nil {
			total.Merge(ev.Stats.Phase)
			total.Complete = total.Complete && ev.Stats.Phase.Complete
		}
	}
	return total, nil
}

// phaseStep names the step of phase seq in the workers' events.
func phaseStep(seq int) string { return phasePrefix + strconv.Itoa(seq) }

// phasePrefix begins the name of every phase's step.
const phasePrefix = "phase#"

// pids returns the worker processes' ids (none in-process).
func (s *session) pids() []int {
	var out []int
	for _, w := range s.workers {
		if pid := w.PID(); pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}

// apiPost posts body as JSON to the node's HTTP API.
func apiPost(ctx context.Context, addr, path string, body any) error {
	return apiCall(ctx, addr, path, body, nil)
}

// apiRetry is apiCall tried up to three times, two seconds apart.
func apiRetry(ctx context.Context, addr, path string, body, out any) error {
	var err error
	for try := range 3 {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
		if err = apiCall(ctx, addr, path, body, out); err == nil {
			return nil
		}
	}
	return err
}

// apiCall posts body as JSON to the node's HTTP API and decodes the answer
// into out (unless nil).
func apiCall(ctx context.Context, addr, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key := os.Getenv("RIPPLE_BENCH_API_KEY"); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scenario: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("scenario: POST %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("scenario: POST %s: %w", path, err)
	}
	return nil
}
