// Command ripple-bench is Ripple's benchmark suite: it drives WebSocket
// servers with an event-driven load generator and reports connection memory,
// connect rate, echo and broadcast throughput and latency, room churn and
// presence churn, latency at fixed offered rates (open loop), side by side
// with peer servers (gorilla/websocket hub, lxzan/gws, lesismal/nbio, and
// what users would pick instead: centrifugal/centrifuge, socket.io). See
// bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ripple-rt/ripple/bench/floor"
	"github.com/ripple-rt/ripple/bench/procfs"
	"github.com/ripple-rt/ripple/bench/progress"
	"github.com/ripple-rt/ripple/bench/report"
	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/suite"
	"github.com/ripple-rt/ripple/bench/target"
)

const usageHead = `usage: ripple-bench <scenario> [flags]

scenarios:
  idle       open -n connections (default 19000) at -rate; server RSS per connection
             (slope between the first and last -checkpoints), kernel TCP memory,
             connect rate, handshake p50/p99
  echo       -n connections on /ws/shootout (default 10000), -window echoes in flight each
             for -d: msgs/s and round-trip p50/p99/p99.9, every reply verified
  broadcast  one room of -n (default 10000) on /ws/room/bench (or -route shootout),
             -publishers publishing with -window in flight: deliveries/s and latency
             at every subscriber, per-publisher order and counts verified
  rooms      rooms of -room-size on /ws/room/<id>, -msg-rate publishes/s, -churn
             leave+join cycles/s: deliveries/s, latency, no foreign/missing messages
             (broadcast and rooms: -protocol phoenix speaks Phoenix Channels instead,
             -protocol raw,phoenix runs both side by side)
  presence   rooms of -room-size on /ws/presence/<id>, -churn track/untrack cycles/s:
             diffs/s, diff latency, watchers' lists checked (centrifuge: join/leave pushes
             and its presence call; not supported by the others)
  latency    open loop at fixed offered rates, latency from each message's scheduled
             send time (coordinated omission corrected), for -workload echo (-n conns
             on /ws/shootout, msgs/s) and rooms (rooms of -room-size over -n conns,
             seat 0 publishes, every member measures; publishes/s). One step of -d
             (default 2s, -warmup left out) per rate: -load percentages (25,50,75,100)
             of -max-rate or, without it, of the best peer's closed-loop maximum
             measured first for -calibrate (ripple's own when ripple runs alone);
             -rates gives absolute rates. p50/p99/p99.9/max per server and rate
  storm      one presence room of -room-size (default 10000) filled at -rate (default
             2000/s), then -burst (default 1000) users connecting at once; a bystander
             on /ws/echo measures round trips (-msg-rate/s) before and during the burst;
             every member must see the same diffs in the same order and end with the
             whole room, as /api/list_presence does (not in all; make bench-storm)
  cluster    broadcast on one ripple, then in the same run on 3 ripple nodes joined
             through a redis-server (-redis; same binary, flags and CPUs), the room
             of -n (default 6000) spread over the nodes, one publisher per node:
             deliveries/s and latency of both (ripple only; needs redis-server;
             not in all; make bench-cluster)
  recovery   rooms of -room-size (default 50) over -n (default 2000) Phoenix clients of
             topics with history (ripple -history, added unless -ripple-flags has one);
             seat 0 of each room publishes (-msg-rate, default 1000/s), the others drop
             their connection at -churn (default 200/s) and rejoin after up to 250ms
             recovering from the last offset they got: every client must end with every
             publication exactly once (loss 0, duplicates 0, recovered:false 0);
             reconnects/s, replayed messages, replay p50/p99, on each of -nodes (1: the
             server, 3: 3 nodes on a redis-server, each reconnect to another node;
             ripple only; not in all; make bench-recovery)
  all        every scenario above in turn, with their defaults (make bench)
  c1m        1,000,000 connections (-n) over ripple cluster nodes on one redis-server,
             each node and generator worker under the open-file limit: ramp, idle memory,
             one broadcast to all, rooms of -room-size (default n/1000) publishing -msg-rate
             publishes/s for -d, SIGTERM (make bench-c1m; bench/README.md)

target (one of):
  -server ripple|gorilla|gws|nbio|centrifuge|socketio|all|a,b,...
                  build each (go build; socketio: node, after npm ci --prefix
                  bench/peers/socketio) and run it on a free loopback port (default all)
  -url ws://127.0.0.1:PORT [-dialect bench|centrifuge|socketio]
                  drive a server that is already running, in its protocol

Results: a table on stdout, <out>/<name>.json and a self-contained <out>/<name>.html.
Exit status: 0 all verified, 1 a verification failed, 2 a run could not be made.

flags:
`

type defaults struct {
	n           int
	dur         time.Duration
	window      int
	publishers  int
	roomSize    int
	churn       float64
	msgRate     float64
	checkpoints string
}

var scenarioDefaults = map[string]defaults{
	scenario.Idle:      {n: 19000, checkpoints: "2000,6000,12000"},
	scenario.Echo:      {n: 10000, dur: 10 * time.Second, window: 1},
	scenario.Broadcast: {n: 10000, dur: 10 * time.Second, window: 1, publishers: 4},
	scenario.Rooms:     {n: 10000, dur: 10 * time.Second, roomSize: 10, churn: 200, msgRate: 2000},
	scenario.Presence:  {n: 2000, dur: 10 * time.Second, roomSize: 10, churn: 100},
	scenario.Latency:   {n: 10000, dur: 2 * time.Second, window: 1, roomSize: 10},
	scenario.Storm:     {dur: 3 * time.Second},
	scenario.Cluster:   {n: 6000, dur: 10 * time.Second, window: 1, publishers: scenario.ClusterNodes},
	scenario.Recovery:  {n: 2000, dur: 10 * time.Second, roomSize: 50, churn: 200, msgRate: 1000},
}

// c1mRippleFlags are the nodes' flags of a c1m run unless -ripple-flags
// says otherwise.
const c1mRippleFlags = "-ping-interval 5m -idle-timeout 11m -grace 60s -close-timeout 30s"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "worker" {
		// RIPPLE_BENCH_WORKER_PROFILE=prefix writes each worker's CPU profile
		// to prefix.<pid>, to see what limits the generator.
		if prefix := os.Getenv("RIPPLE_BENCH_WORKER_PROFILE"); prefix != "" {
			if f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid())); err == nil {
				if pprof.StartCPUProfile(f) == nil {
					defer pprof.StopCPUProfile()
				}
			}
		}
		if err := scenario.ServeWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(stderr, "worker:", err)
			return 2
		}
		return 0
	}
	if len(args) > 0 && args[0] == scenario.FloorArgs[0] {
		if err := floor.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(stderr, "floor:", err)
			return 2
		}
		return 0
	}
	name := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("ripple-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	var (
		server      = fs.String("server", "all", "servers to build and run: ripple, gorilla, gws, nbio, centrifuge, socketio, all, or a comma list")
		url         = fs.String("url", "", "drive a running server at this ws:// URL instead of starting one")
		dialectName = fs.String("dialect", "bench", "protocol of the -url server: bench, centrifuge (its JSON protocol on /connection/websocket) or socketio (Engine.IO v4, Socket.IO v5)")
		label       = fs.String("name", "server", "label of the -url server in the report")
		pid         = fs.Int("pid", 0, "process id of the -url server (default: found from its listening port)")
		n           = fs.Int("n", 0, "connections (default per scenario, see above)")
		rate        = fs.Float64("rate", 0, "dials per second, all workers together (0: unbounded, -inflight bounds concurrency)")
		dur         = fs.Duration("d", 0, "length of the measured run (default 10s; latency: of every step, default 2s)")
		drain       = fs.Duration("drain", 10*time.Second, "max wait for in-flight messages after the run")
		procs       = fs.Int("procs", 1, "worker processes (0: in-process, -1: as many as the open-file limit needs)")
		loops       = fs.Int("loops", 0, "event loops per worker (default: the generator CPUs, at least 1)")
		window      = fs.Int("window", 0, "messages in flight per connection (echo) or publisher (broadcast); latency calibration: per connection or room")
		publishers  = fs.Int("publishers", 0, "broadcast publishers (default 4)")
		pubRate     = fs.Float64("pub-rate", 0, "broadcast: messages/s per publisher (0: as fast as the window allows)")
		route       = fs.String("route", "room", "broadcast route: room (/ws/room/bench) or shootout (/ws/shootout)")
		protocol    = fs.String("protocol", "raw", "broadcast, rooms: raw (the routes), phoenix (Phoenix Channels V2 at /socket/websocket, topics room:bench and room:r<id>; ripple only), or raw,phoenix: both, rows ripple and ripple/phoenix in one run")
		roomSize    = fs.Int("room-size", 0, "rooms, presence, latency rooms: connections per room (default 10); storm: members before the burst (default 10000); recovery: clients per room (default 50)")
		churn       = fs.Float64("churn", -1, "rooms, presence: leave+join cycles per second, all rooms together; recovery: drops and reconnects per second (default 200)")
		msgRate     = fs.Float64("msg-rate", -1, "rooms, recovery: published messages per second, all rooms together; storm: bystander round trips per second (default 100)")
		nodes       = fs.String("nodes", "1,3", "recovery: setups to run in turn, a comma list: 1 (the server) and n > 1 (n nodes like it on one redis-server)")
		burst       = fs.Int("burst", 0, "storm: users that connect at once after the fill (default 1000)")
		size        = fs.Int("size", 0, "padding bytes added to every message")
		cps         = fs.String("checkpoints", "", "idle: comma list of connection counts to sample server RSS at (the last is -n)")
		settle      = fs.Duration("settle", 5*time.Second, "idle: max wait for the server's RSS to settle at each checkpoint")
		gogc        = fs.Int("gogc", 100, "GOGC of every server the suite starts")
		serverCPUs  = fs.String("server-cpus", "auto", `CPUs for servers (taskset -c list; "none": no pinning; auto: first half)`)
		clientCPUs  = fs.String("client-cpus", "auto", `CPUs for the generator workers ("none": no pinning; auto: second half)`)
		inflight    = fs.Int("inflight", 256, "dials plus handshakes in flight per event loop")
		hsTimeout   = fs.Duration("handshake-timeout", 10*time.Second, "fail a dial that has not upgraded in this time")
		sources     = fs.Int("sources", 0, "source addresses per worker, from 127.0.0.2 (0: as the port range needs, at least 4)")
		out         = fs.String("out", "bench/out", "directory for the JSON and HTML reports and server logs")
		src         = fs.String("src", ".", "repository root, or a directory inside it (for go build)")
		repeat      = fs.Int("repeat", 1, "run every server/scenario pair this many times, interleaved, and keep the best")
		rippleFlags = fs.String("ripple-flags", "", "extra flags passed to cmd/ripple (space separated)")
		workloads   = fs.String("workload", "echo,rooms", "latency: workloads to run, a comma list of echo and rooms")
		load        = fs.String("load", "25,50,75,100", "latency: offered rates in percent of the maximum rate")
		maxRate     = fs.String("max-rate", "", `latency: maximum rate the -load percentages refer to, for every workload ("60000") `+
			`or per workload ("echo=60000,rooms=8000"; echo in msgs/s, rooms in publishes/s); default: measured by a closed-loop calibration`)
		rates     = fs.String("rates", "", `latency: absolute offered rates instead of -load, for every workload ("5000,10000") or per workload ("echo=5000,echo=10000,rooms=800")`)
		warmup    = fs.Duration("warmup", 500*time.Millisecond, "latency: start of every step left out of the figures (at most a quarter of the step)")
		calibrate = fs.Duration("calibrate", 2*time.Second, "latency: length of the closed-loop run that measures a server's maximum rate")
		perProc   = fs.Int("per-proc", 0, "c1m: connections per node and generator worker (default: the open-file limit less 1,000, at most 250,000)")
		withFloor = fs.Bool("floor", true, "c1m: measure the machine's floor under the broadcast to all before the ramp (bench/floor; at a million, 2-3 minutes)")
		netns     = fs.Bool("netns", true, "c1m: run in a network namespace of its own, when this machine allows it (see bench/README.md)")
		cpuLat    = fs.Int("cpu-latency", 0, "PM QoS wake-up latency in µs held on /dev/cpu_dma_latency for the run (0: idle CPUs poll, as cyclictest does; -1: leave it)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if name == "" {
		fs.Usage()
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var scenarios []string
	switch name {
	case "all":
		scenarios = scenario.Names
	case "c1m":
		scenarios = []string{scenario.C1M}
		if !set["server"] {
			*server = "ripple"
		}
		if !set["n"] {
			*n = 1_000_000
		}
		// A million connections need every CPU on both sides: the nodes
		// and the workers float, and a handshake may wait behind the
		// keepalive of all the others.
		if !set["server-cpus"] {
			*serverCPUs = "none"
		}
		if !set["client-cpus"] {
			*clientCPUs = "none"
		}
		// Keepalive: at the default 25 s, a million silent connections
		// are 40,000 pings and 40,000 pongs a second, most of two CPUs;
		// at a minute still 16,700, and the run slows as they add up
		// (bench/README.md); the nodes ping every 5 minutes instead. And a
		// node's close handshakes with its 19,000 clients may take longer
		// than the default 10 s grace and 3 s close timeout when 53 nodes
		// drain at once.
		if !set["ripple-flags"] {
			*rippleFlags = c1mRippleFlags
		}
		if !set["handshake-timeout"] {
			*hsTimeout = 30 * time.Second
		}
	default:
		if _, ok := scenarioDefaults[name]; !ok {
			fmt.Fprintf(stderr, "ripple-bench: unknown scenario %q\n\n", name)
			fs.Usage()
			return 2
		}
		scenarios = []string{name}
		if (name == scenario.Cluster || name == scenario.Recovery) && !set["server"] {
			*server = "ripple"
		}
	}

	// CPU pinning.
	ncpu := runtime.NumCPU()
	_, tsErr := exec.LookPath("taskset")
	autoS, autoC := "", ""
	if ncpu >= 2 && tsErr == nil {
		half := ncpu / 2
		autoS, autoC = cpuList(0, half-1), cpuList(half, ncpu-1)
	}
	pick := func(v, auto string) string {
		switch v {
		case "auto":
			return auto
		case "none", "":
			return ""
		}
		return v
	}
	sCPUs, cCPUs := pick(*serverCPUs, autoS), pick(*clientCPUs, autoC)
	if *url != "" {
		sCPUs = ""
	}
	if *loops <= 0 {
		*loops = max(1, cpuCount(cCPUs))
		if cCPUs == "" {
			*loops = 1
		}
	}

	var protos []string
	for _, p := range strings.Split(*protocol, ",") {
		switch p = strings.TrimSpace(p); p {
		case "raw":
			protos = append(protos, "")
		case scenario.Phoenix:
			for _, sc := range scenarios {
				if sc != scenario.Broadcast && sc != scenario.Rooms {
					fmt.Fprintf(stderr, "ripple-bench: -protocol phoenix applies to the broadcast and rooms scenarios, not %s\n", sc)
					return 2
				}
			}
			protos = append(protos, p)
		default:
			fmt.Fprintf(stderr, "ripple-bench: -protocol %q: want raw, phoenix or raw,phoenix\n", p)
			return 2
		}
	}

	specs := map[string]scenario.Spec{}
	var checkpoints []int
	for _, sc := range scenarios {
		d := scenarioDefaults[sc]
		sp := scenario.Spec{
			Conns: d.n, Rate: *rate, Loops: *loops, MaxInflight: *inflight,
			HandshakeTimeout: scenario.Duration(*hsTimeout), Duration: scenario.Duration(d.dur),
			Drain: scenario.Duration(*drain), Size: *size, Window: d.window, Publishers: d.publishers,
			PubRate: *pubRate, Route: *route, RoomSize: d.roomSize, Churn: d.churn, MsgRate: d.msgRate,
		}
		if set["n"] || name == "c1m" {
			sp.Conns = *n
		}
		sp.PerProc = *perProc
		sp.NoFloor = !*withFloor
		if set["d"] {
			sp.Duration = scenario.Duration(*dur)
		}
		if set["window"] {
			sp.Window = *window
		}
		if set["publishers"] {
			sp.Publishers = *publishers
		}
		if set["room-size"] {
			sp.RoomSize = *roomSize
		}
		if set["churn"] {
			sp.Churn = *churn
		}
		if set["msg-rate"] {
			sp.MsgRate = *msgRate
		}
		if sc == scenario.Latency {
			ls, err := latencySpec(*workloads, *load, *maxRate, *rates, *warmup, *calibrate)
			if err != nil {
				fmt.Fprintln(stderr, "ripple-bench:", err)
				return 2
			}
			sp.Latency = ls
		}
		if sc == scenario.Recovery {
			ns, err := nodeList(*nodes)
			if err != nil {
				fmt.Fprintln(stderr, "ripple-bench:", err)
				return 2
			}
			sp.Nodes = ns
		}
		if sc == scenario.Storm {
			// -d is the baseline before the burst (and the least time the
			// burst step lasts); -drain bounds the wait for it to settle.
			sp.Burst = *burst
			if !set["rate"] {
				sp.Rate = 2000
			}
			if !set["drain"] {
				sp.Drain = scenario.Duration(time.Minute)
			}
			if !set["inflight"] {
				sp.MaxInflight = max(*inflight, sp.Burst, 1000)
			}
		}
		specs[sc] = sp
		if sc == scenario.Idle {
			list := d.checkpoints
			if set["checkpoints"] {
				list = *cps
			}
			for _, f := range strings.Split(list, ",") {
				if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && v > 0 {
					checkpoints = append(checkpoints, v)
				}
			}
		}
	}

	var servers []string
	if *url == "" {
		if *server == "all" {
			servers = target.Names
		} else {
			for _, s := range strings.Split(*server, ",") {
				s = strings.TrimSpace(s)
				if _, _, err := target.Package(s); err != nil {
					fmt.Fprintln(stderr, "ripple-bench:", err)
					return 2
				}
				servers = append(servers, s)
			}
		}
	}
	root := ""
	if *url == "" {
		r, err := target.FindRoot(*src)
		if err != nil {
			fmt.Fprintln(stderr, "ripple-bench:", err)
			return 2
		}
		root = r
	}
	if name == "c1m" && *netns && *url == "" {
		if inOwnNetns() {
			if err := loopbackUp(); err != nil {
				fmt.Fprintln(stderr, "ripple-bench: loopback of the new network namespace:", err)
				return 2
			}
			fmt.Fprintln(stderr, "ripple-bench c1m: in a network namespace of its own (-netns=false: the machine's)")
		} else if code, ok := rerunInNetns(root, append([]string{name}, args...), *n, stdout, stderr); ok {
			return code
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "ripple-bench:", err)
		return 2
	}
	var serverArgs map[string][]string
	if *rippleFlags != "" {
		serverArgs = map[string][]string{"ripple": strings.Fields(*rippleFlags)}
	}
	if sp, ok := specs[scenario.Recovery]; ok {
		// The rooms need history, enough that no recovery may fail for
		// want of it; -ripple-flags may set its own.
		args := strings.Fields(*rippleFlags)
		if !hasFlag(args, "history") {
			args = append(args, "-history", scenario.RecoveryHistory(sp))
		}
		serverArgs = map[string][]string{"ripple": args}
	}

	held := "not requested"
	if *cpuLat >= 0 {
		release, err := procfs.HoldCPULatency(int32(*cpuLat))
		if err != nil {
			held = "not held (" + err.Error() + ")"
		} else {
			defer release()
			held = fmt.Sprintf("%dµs held", *cpuLat)
		}
	}

	bar := progress.New(stderr)
	cfg := suite.Config{
		Servers: servers, URL: *url, Name: *label, PID: *pid, Dialect: *dialectName,
		Scenarios: scenarios, Specs: specs, Repeat: *repeat, Protocols: protos,
		Options: scenario.Options{
			Procs: *procs, Exe: exe, ClientCPUs: cCPUs, Sources: *sources,
			Checkpoints: checkpoints, Settle: *settle,
		},
		ServerCPUs: sCPUs, GOGC: *gogc, ServerArgs: serverArgs, Root: root, OutDir: *out,
		Command: "ripple-bench " + strings.Join(os.Args[1:], " "), Bar: bar, CPULatency: held,
	}
	where := "unpinned"
	if sCPUs != "" || cCPUs != "" {
		where = fmt.Sprintf("servers on CPU %s, generator on CPU %s (taskset)", orNone(sCPUs), orNone(cCPUs))
	}
	procsText := strconv.Itoa(*procs)
	switch {
	case *procs < 0:
		procsText = "auto"
	case *procs == 0:
		procsText = "in-process"
	}
	fmt.Fprintf(stderr, "ripple-bench %s: %s; GOGC=%d; worker processes %s × %d loop(s); %d CPUs; CPU wake-up latency %s\n",
		name, where, *gogc, procsText, *loops, ncpu, held)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := suite.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "ripple-bench:", err)
		return 2
	}
	fmt.Fprintln(stdout)
	rep.WriteTable(stdout)
	base := name
	if name == "all" {
		base = "report"
	}
	jsonPath := filepath.Join(*out, base+".json")
	htmlPath := filepath.Join(*out, base+".html")
	if werr := rep.WriteJSON(jsonPath); werr != nil {
		fmt.Fprintln(stderr, "ripple-bench:", werr)
	}
	if werr := rep.WriteHTML(htmlPath); werr != nil {
		fmt.Fprintln(stderr, "ripple-bench:", werr)
	}
	fmt.Fprintf(stderr, "\nwrote %s and %s\n", jsonPath, htmlPath)
	if err != nil {
		fmt.Fprintln(stderr, "ripple-bench:", err)
		return 2
	}
	return exitCode(rep)
}

// nodeList parses -nodes: a comma list of node counts, each at least 1.
func nodeList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-nodes %q: want a comma list of node counts (1, 3)", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// hasFlag reports whether args set flag name (-name, --name, -name=…).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// latencySpec builds the latency scenario's settings from its flags.
func latencySpec(workloads, load, maxRate, rates string, warmup, calibrate time.Duration) (*scenario.LatencySpec, error) {
	ls := &scenario.LatencySpec{Warmup: scenario.Duration(warmup), Calibrate: scenario.Duration(calibrate)}
	var err error
	if ls.Workloads, err = scenario.ParseWorkloads(workloads); err != nil {
		return nil, err
	}
	if ls.Load, err = scenario.ParseLoad(load); err != nil {
		return nil, err
	}
	if ls.Rates, err = scenario.ParseRates(rates, ls.Workloads); err != nil {
		return nil, err
	}
	maxima, err := scenario.ParseRates(maxRate, ls.Workloads)
	if err != nil {
		return nil, err
	}
	for w, v := range maxima {
		if len(v) > 1 {
			return nil, fmt.Errorf("-max-rate: %d maxima for workload %s, want one", len(v), w)
		}
		if ls.MaxRate == nil {
			ls.MaxRate, ls.MaxFrom = map[string]float64{}, map[string]string{}
		}
		ls.MaxRate[w], ls.MaxFrom[w] = v[0], "-max-rate"
	}
	return ls, nil
}

func exitCode(rep *report.Report) int {
	if len(rep.Errors) > 0 {
		return 2
	}
	for _, r := range rep.Results {
		if !r.OK {
			return 1
		}
	}
	return 0
}

func cpuList(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// cpuCount counts the CPUs of a taskset list like "0-3,6".
func cpuCount(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		a, b, isRange := strings.Cut(part, "-")
		x, err1 := strconv.Atoi(strings.TrimSpace(a))
		if !isRange {
			if err1 == nil {
				n++
			}
			continue
		}
		y, err2 := strconv.Atoi(strings.TrimSpace(b))
		if err1 == nil && err2 == nil && y >= x {
			n += y - x + 1
		}
	}
	return n
}

func orNone(s string) string {
	if s == "" {
		return "any"
	}
	return s
}
