//go:build linux

package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/dialect"
	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/procfs"
	"github.com/ripple-rt/ripple/bench/progress"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// Options configure a run. Spec carries the scenario settings; the per-worker
// fields (Worker, Workers, Sources, Addr, Epoch) are filled in by Run.
type Options struct {
	Spec Spec
	// Procs is the number of worker processes; 0 runs one worker in-process
	// (tests, quick runs). Negative: as many as the open-file limit requires.
	Procs int
	// Exe and WorkerArgs start a worker process. Default: this executable with
	// the single argument "worker".
	Exe        string
	WorkerArgs []string
	// ClientCPUs pins worker processes with taskset -c (e.g. "1"). Empty: no pin.
	ClientCPUs string
	// Sources is the number of source addresses per worker (127.0.0.2 …). 0:
	// enough for the port range, at least 4.
	Sources int
	// Checkpoints are the idle scenario's connection counts at which the
	// server's RSS is sampled; the last is Spec.Conns. Default {min(2000, N/4), N}.
	Checkpoints []int
	// Settle bounds the wait for the server's RSS to stop moving (idle).
	// Default 5s.
	Settle time.Duration
	// Bar shows progress; nil shows nothing.
	Bar *progress.Bar
}

// Target is the server a run drives.
type Target struct {
	Name string
	URL  string // ws://127.0.0.1:PORT
	PID  int    // server process, for RSS and CPU; 0: looked up from the port, else not measured
}

// Run drives one scenario against target and returns its result. A result
// with OK false is not an error; an error means the run could not be made
// (limits, a worker failing, the server vanishing).
func Run(ctx context.Context, opt Options, target Target) (*Result, error) {
	if err := speaks(opt.Spec); err != nil {
		return nil, err
	}
	if opt.Spec.Scenario == Storm {
		return runStorm(ctx, opt, target)
	}
	if opt.Spec.Scenario == Cluster {
		return runCluster(ctx, opt, target)
	}
	if opt.Spec.Scenario == C1M {
		return runC1M(ctx, opt, target)
	}
	if opt.Spec.Scenario == Latency {
		return runLatency(ctx, opt, target, false)
	}
	if opt.Spec.Scenario == Recovery {
		return runRecovery(ctx, opt, target)
	}
	p, err := prepare(opt, &target, nil)
	if err != nil || p.skipped {
		return p.result(), err
	}
	res, spec, procs, srcs := p.res, p.spec, p.procs, p.srcs

	net0, _ := procfs.ReadNetCounters()
	s, err := startSession(ctx, opt, spec, procs, srcs, target.Name)
	if err != nil {
		return nil, err
	}
	defer s.close()

	var connectOpened int64
	connect := func(n int) error {
		t0 := time.Now()
		if _, err := s.step(ctx, Command{Op: "connect", Target: n}, n); err != nil {
			return err
		}
		res.ConnectSeconds += time.Since(t0).Seconds()
		connectOpened = 0
		for _, p := range s.prog {
			connectOpened += p.Opened
		}
		return nil
	}
	switch spec.Scenario {
	case Idle:
		cps := checkpoints(opt.Checkpoints, spec.Conns)
		for _, n := range cps {
			if err := connect(n); err != nil {
				return nil, err
			}
			if target.PID > 0 {
				smp, err := sampleRSS(ctx, target.PID, opt.Settle, s.opened())
				if err != nil {
					return nil, err
				}
				res.Samples = append(res.Samples, smp)
				s.bar.Println(fmt.Sprintf("  %s idle: %d conns, server RSS %.1f MiB, kernel TCP buffers %.1f MiB, slab %.1f MiB",
					target.Name, smp.Conns, float64(smp.RSS)/(1<<20), float64(smp.SockMem)/(1<<20), float64(smp.Slab)/(1<<20)))
			}
		}
		if len(res.Samples) >= 2 {
			a, b := res.Samples[0], res.Samples[len(res.Samples)-1]
			if dc := float64(b.Conns - a.Conns); dc > 0 {
				res.RSSPerConn = float64(b.RSS-a.RSS) / dc
				res.SockMemPerConn = float64(b.SockMem-a.SockMem) / dc
				res.SlabPerConn = float64(b.Slab-a.Slab) / dc
			}
		} else if target.PID == 0 {
			res.Notes = append(res.Notes, "server process unknown: RSS not measured")
		}
	default:
		if err := connect(spec.Conns); err != nil {
			return nil, err
		}
		evs, err := s.timedRun(ctx, target.PID, res)
		if err != nil {
			return nil, err
		}
		if spec.Scenario == Broadcast {
			sent := make([]int64, spec.Publishers)
			for _, ev := range evs {
				for i, n := range ev.Sent {
					if i < len(sent) {
						sent[i] += n
					}
				}
			}
			if _, err := s.step(ctx, Command{Op: "settle", Sent: sent}, 0); err != nil {
				return nil, err
			}
		}
	}
	total, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	if net1, err := procfs.ReadNetCounters(); err == nil {
		res.Net = net1.Sub(net0)
	}
	res.fill(total)
	res.Conns = connectOpened
	if res.ConnectSeconds > 0 {
		res.ConnectRate = float64(connectOpened) / res.ConnectSeconds
	}
	if spec.Scenario == Idle || spec.Scenario == Echo || spec.Scenario == Broadcast {
		if connectOpened < int64(spec.Conns) {
			res.fail("opened %d of %d connections", connectOpened, spec.Conns)
			res.OK = false
		}
	}
	return res, nil
}

// speaks checks that the server's dialect is known and has what the
// scenario needs. A dialect without presence (or, for storm, without the
// bench protocol's frames) is not an error: prepare marks the scenario
// skipped; cluster and c1m skip any server but ripple.
func speaks(s Spec) error {
	if err := dialect.Supports(s.Dialect, dialect.Presence); errors.Is(err, dialect.ErrUnknown) {
		return err
	}
	if s.Scenario == Broadcast && s.Route == "shootout" {
		return dialect.Supports(s.Dialect, dialect.ShootoutBroadcast)
	}
	return nil
}

// applyDefaults fills zero settings.
func applyDefaults(s *Spec) {
	if s.Conns <= 0 {
		s.Conns = 1000
	}
	if s.Loops <= 0 {
		s.Loops = 1
	}
	if s.MaxInflight <= 0 {
		s.MaxInflight = 256
	}
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = Duration(10 * time.Second)
	}
	if s.Duration <= 0 {
		s.Duration = Duration(10 * time.Second)
	}
	if s.Drain <= 0 {
		s.Drain = Duration(10 * time.Second)
	}
	if s.Window <= 0 {
		s.Window = 1
	}
	if s.Scenario == Broadcast {
		if s.Publishers <= 0 {
			s.Publishers = 4
		}
		if s.Publishers > s.Conns {
			s.Publishers = s.Conns
		}
		if s.Route == "" {
			s.Route = "room"
		}
	} else {
		s.Publishers = 0
		s.Route = ""
	}
	if s.Scenario == Rooms || s.Scenario == Presence || s.Scenario == Latency {
		if s.RoomSize <= 0 {
			s.RoomSize = 10
		}
	}
}

func checkpoints(cps []int, n int) []int {
	var out []int
	for _, c := range cps {
		if c > 0 && c < n && (len(out) == 0 || c > out[len(out)-1]) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		first := n / 4
		if first > 2000 {
			first = 2000
		}
		if first > 0 {
			out = append(out, first)
		}
	}
	return append(out, n)
}

// prepared is a run set up by prepare.
type prepared struct {
	res         *Result
	spec        Spec
	addr        netip.AddrPort
	host        string
	procs, srcs int
	skipped     bool // res is final: the server has no /ws/presence
}

// result is the prepared result, nil for nil.
func (p *prepared) result() *Result {
	if p == nil {
		return nil
	}
	return p.res
}

// prepare sets up a run: it resolves the target, fills the spec's defaults
// (adjust first, for a scenario's own), probes /ws/presence for the presence
// scenarios (a server without it, or whose dialect has no presence, gives a
// result marked Skipped, not an error) and checks the limits for the
// workers. target.PID is looked up from the port when it is 0.
func prepare(opt Options, target *Target, adjust func(*Spec)) (*prepared, error) {
	p := &prepared{spec: opt.Spec}
	spec := &p.spec
	p.res = &Result{Scenario: spec.Scenario, Server: target.Name, URL: target.URL}
	var err error
	if p.addr, p.host, err = resolve(target.URL); err != nil {
		return nil, err
	}
	spec.Addr, spec.Host = p.addr.String(), p.host
	if target.PID == 0 {
		if pid, err := procfs.ListenerPID(int(p.addr.Port())); err == nil {
			target.PID = pid
		}
	}
	p.res.ServerPID = target.PID
	if adjust != nil {
		adjust(spec)
	}
	applyDefaults(spec)
	if spec.Scenario == Presence || spec.Scenario == Storm {
		err := dialect.Supports(spec.Dialect, dialect.Presence)
		if err == nil && spec.Scenario == Storm {
			err = dialect.Supports(spec.Dialect, dialect.Frames)
		}
		if err != nil {
			p.res.Spec = *spec
			p.res.Skipped = "not supported: " + strings.TrimPrefix(err.Error(), dialect.ErrUnsupported.Error()+": ")
			p.res.OK = true
			p.skipped = true
			return p, nil
		}
	}
	if (spec.Scenario == Presence || spec.Scenario == Storm) && (spec.Dialect == "" || spec.Dialect == dialect.Bench) {
		code, err := Probe(p.addr, p.host, "/ws/presence/probe?user_id=probe&name=probe")
		if err != nil {
			return nil, fmt.Errorf("scenario: presence probe: %w", err)
		}
		if code != 101 {
			p.res.Spec = *spec
			p.res.Skipped = fmt.Sprintf("not supported: the server answers /ws/presence with HTTP %d", code)
			p.res.OK = true
			p.skipped = true
			return p, nil
		}
	}
	if p.procs, p.srcs, err = preflight(spec, opt, *target); err != nil {
		return nil, err
	}
	p.res.Procs = p.procs
	spec.Epoch = time.Now().UnixNano()
	p.res.Spec = *spec
	p.res.Spec.Sources = nil
	return p, nil
}

// resolve turns ws://host:port into an IPv4 address and a Host header.
func resolve(raw string) (netip.AddrPort, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return netip.AddrPort{}, "", fmt.Errorf("scenario: url %q: %w", raw, err)
	}
	if u.Scheme != "ws" && u.Scheme != "http" {
		return netip.AddrPort{}, "", fmt.Errorf("scenario: url %q: only ws:// is supported", raw)
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, "", fmt.Errorf("scenario: resolve %q: %v", host, err)
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(ips[0].Unmap().String(), port))
	if err != nil {
		return netip.AddrPort{}, "", err
	}
	return ap, u.Host, nil
}

// Probe sends one upgrade request for path and returns the status code.
func Probe(addr netip.AddrPort, host, path string) (int, error) {
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	key := wsproto.MakeKey([16]byte{1, 2, 3})
	if _, err := c.Write(wsproto.AppendRequest(nil, host, path, key[:])); err != nil {
		return 0, err
	}
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if _, perr := wsproto.ParseResponse(buf, key[:]); perr != nil {
			var se *wsproto.StatusError
			if errors.As(perr, &se) {
				return se.Code, nil
			}
			return 0, perr
		} else if strings.Contains(string(buf), "\r\n\r\n") {
			return 101, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// sourceAddr returns the i-th client source address: 127.0.0.2, …,
// 127.0.0.254, 127.0.1.1, … (no .0 or .255).
func sourceAddr(i int) netip.Addr {
	n := i + 2
	hi := n / 254
	lo := n%254 + 1
	if n < 254 {
		hi, lo = 0, n
	}
	return netip.AddrFrom4([4]byte{127, byte(hi >> 8), byte(hi), byte(lo)})
}

// preflight checks the limits a run needs and settles the number of workers
// and their source addresses; the error says how to lift the limit.
func preflight(spec *Spec, opt Options, target Target) (procs, srcs int, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	const reserve = 64
	perProc := int64(rl.Max) - reserve
	procs = opt.Procs
	need := int64(spec.Conns)
	if procs < 0 {
		procs = int((need + perProc - 1) / perProc)
		if procs < 1 {
			procs = 1
		}
	}
	workers := max(procs, 1)
	each := (need + int64(workers) - 1) / int64(workers)
	if each > perProc {
		return 0, 0, fmt.Errorf("scenario: %d connections need %d file descriptors per worker but the hard open-file limit "+
			"is %d: raise it (`ulimit -n %d` as root, LimitNOFILE= for a systemd unit, fs.nr_open caps it) "+
			"or spread the load with -procs %d", need, each+reserve, rl.Max, each+reserve, (need+perProc-1)/perProc)
	}
	if target.PID > 0 {
		if soft, _, nerr := procfs.NoFile(target.PID); nerr == nil && soft > 0 && soft < need+16 {
			return 0, 0, fmt.Errorf("scenario: the server (pid %d) may hold %d open files (its ulimit -n) but the run opens %d "+
				"connections: start it with a higher `ulimit -n`", target.PID, soft, need)
		}
	}
	lo, hi, perr := procfs.PortRange()
	if perr != nil {
		lo, hi = 32768, 60999
	}
	ports := int64(hi - lo + 1)
	// Churn leaves TIME_WAIT sockets behind; keep a third of each range free.
	perSource := ports * 2 / 3
	srcs = opt.Sources
	if srcs <= 0 {
		srcs = int((each + perSource - 1) / perSource)
		if srcs < 4 {
			srcs = 4
		}
	}
	if int64(srcs)*ports < each {
		return 0, 0, fmt.Errorf("scenario: %d connections per worker over %d source addresses exceed the %d local ports "+
			"of each (net.ipv4.ip_local_port_range %d-%d): use -sources %d or widen the port range",
			each, srcs, ports, lo, hi, (each+perSource-1)/perSource)
	}
	if total := int64(workers * srcs); total > 250*254 {
		return 0, 0, fmt.Errorf("scenario: %d source addresses requested, 127.0.0.0/8 offers about %d", total, 250*254)
	}
	if avail, merr := procfs.MemAvailable(); merr == nil {
		// A loopback connection costs at least ~2 KiB of kernel memory at each
		// end plus the generator's and the server's own state: below 6 KiB per
		// connection the run cannot fit.
		if est := need * 6 << 10; est > avail {
			return 0, 0, fmt.Errorf("scenario: %d connections need at least %d MiB but only %d MiB are available: "+
				"add memory or lower -n", need, est>>20, avail>>20)
		}
	}
	spec.Workers = workers
	return procs, srcs, nil
}

// session is the parent's side of a run: its workers and their events.
type session struct {
	workers []*fleet.Worker
	events  chan workerEvent
	bar     *progress.Bar
	label   string
	spec    Spec
	prog    []Progress
	open    atomic.Int64 // the sum of prog's Open, for other goroutines
	phases  int          // c1m phases sent so far
}

type workerEvent struct {
	id  int
	ev  Event
	eof bool
}

// executable is the program worker processes run: Exe, or this one.
func (o Options) executable() (string, error) {
	if o.Exe != "" {
		return o.Exe, nil
	}
	return os.Executable()
}

func startSession(ctx context.Context, opt Options, spec Spec, procs, srcs int, label string) (*session, error) {
	s := &session{events: make(chan workerEvent, 256), bar: opt.Bar, label: label + " " + spec.Scenario, spec: spec}
	if s.bar == nil {
		s.bar = progress.New(nil)
	}
	var exe string
	if procs > 0 {
		var err error
		if exe, err = opt.executable(); err != nil {
			return nil, err
		}
	}
	args := opt.WorkerArgs
	if len(args) == 0 {
		args = []string{"worker"}
	}
	for i := 0; i < spec.Workers; i++ {
		var w *fleet.Worker
		if procs == 0 {
			w = fleet.StartInProcess(i, ServeWorker)
		} else {
			var err error
			w, err = fleet.Start(i, exe, args, opt.ClientCPUs, nil)
			if err != nil {
				s.close()
				return nil, err
			}
		}
		s.workers = append(s.workers, w)
		s.prog = append(s.prog, Progress{})
		go func(w *fleet.Worker) {
			for line := range w.Events() {
				var ev Event
				if err := json.Unmarshal(line, &ev); err != nil {
					continue
				}
				s.events <- workerEvent{id: w.ID, ev: ev}
			}
			s.events <- workerEvent{id: w.ID, eof: true}
		}(w)
		ws := spec
		ws.Worker = i
		ws.Sources = nil
		for j := 0; j < srcs; j++ {
			ws.Sources = append(ws.Sources, sourceAddr(i*srcs+j).String())
		}
		if err := w.Send(Command{Op: "start", Spec: &ws}); err != nil {
			s.close()
			return nil, err
		}
	}
	if _, err := s.wait(ctx, "start", 0, 30*time.Second); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close ends every worker at once. Their events are drained meanwhile: a
// worker blocked writing progress lines would never see its input end.
func (s *session) close() {
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-s.events:
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Close(10 * time.Second)
		}()
	}
	wg.Wait()
	close(stop)
	s.bar.Finish()
}

func (s *session) opened() int64 {
	var n int64
	for _, p := range s.prog {
		n += p.Open
	}
	return n
}

// timedRun runs the workers' run step and records in res its duration and
// the CPU the machine and the server (pid; 0: not measured) used meanwhile.
func (s *session) timedRun(ctx context.Context, pid int, res *Result) ([]Event, error) {
	return s.timedStep(ctx, Command{Op: "run"}, pid, res)
}

// timedStep runs cmd, a run step, and records in res its duration and the
// CPU the machine and the server (pid; 0: not measured) used meanwhile.
func (s *session) timedStep(ctx context.Context, cmd Command, pid int, res *Result) ([]Event, error) {
	cpu0, _ := procfs.CPU(pid)
	busy0, _ := procfs.MachineBusy()
	t0 := time.Now()
	evs, err := s.step(ctx, cmd, 0)
	if err != nil {
		return nil, err
	}
	res.RunSeconds = time.Since(t0).Seconds()
	if busy1, err := procfs.MachineBusy(); err == nil && busy0 > 0 {
		res.MachineCPU = float64(busy1-busy0) / float64(time.Since(t0))
	}
	if cpu1, err := procfs.CPU(pid); err == nil && pid > 0 {
		res.ServerCPU = float64(cpu1-cpu0) / float64(time.Since(t0))
	}
	return evs, nil
}

// step sends cmd to every worker and waits for all of them to finish it.
// target is the connection count of a connect step (for the bar).
// stats asks every worker for its figures and merges them.
func (s *session) stats(ctx context.Context) (*WorkerStats, error) {
	evs, err := s.step(ctx, Command{Op: "stats"}, 0)
	if err != nil {
		return nil, err
	}
	total := &WorkerStats{PerConnMin: -1}
	for _, ev := range evs {
		if ev.Stats != nil {
			total.Merge(ev.Stats)
		}
	}
	return total, nil
}

func (s *session) step(ctx context.Context, cmd Command, target int) ([]Event, error) {
	for _, w := range s.workers {
		if err := w.Send(cmd); err != nil {
			return nil, fmt.Errorf("scenario: worker %d: %w", w.ID, err)
		}
	}
	var timeout time.Duration
	switch cmd.Op {
	case "connect":
		timeout = 2*time.Duration(s.spec.HandshakeTimeout) + 2*time.Minute
		if s.spec.Rate > 0 {
			timeout += time.Duration(2 * float64(target) / s.spec.Rate * float64(time.Second))
		}
		timeout += time.Duration(target) * time.Millisecond
	case "run":
		timeout = time.Duration(s.spec.Duration) + time.Duration(s.spec.Drain) + time.Minute
	default:
		timeout = time.Duration(s.spec.Drain) + time.Minute
	}
	return s.wait(ctx, cmd.Op, target, timeout)
}

func (s *session) wait(ctx context.Context, step string, target int, timeout time.Duration) ([]Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	done := make([]*Event, len(s.workers))
	remaining := len(s.workers)
	var lastDelivered int64
	lastAt := start
	rate := 0.0
	for remaining > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("scenario: %s step did not finish within %v", step, timeout)
		case <-tick.C:
			var p Progress
			for i := range s.prog {
				p.Add(&s.prog[i])
			}
			switch step {
			case "connect":
				s.bar.Update(s.label+" connect", p.Opened+p.Failed, int64(target),
					fmt.Sprintf("open %d failed %d in flight %d %.1fs", p.Open, p.Failed, p.Inflight, time.Since(start).Seconds()), false)
			case "run":
				el := time.Since(start)
				if dt := time.Since(lastAt); dt > 900*time.Millisecond {
					rate = float64(p.Delivered-lastDelivered) / dt.Seconds()
					lastDelivered, lastAt = p.Delivered, time.Now()
				}
				s.bar.Update(s.label+" run", int64(el.Seconds()), int64(time.Duration(s.spec.Duration).Seconds()),
					fmt.Sprintf("sent %d delivered %d (%.0f/s) open %d", p.Sent, p.Delivered, rate, p.Open), false)
			}
		case we := <-s.events:
			if we.eof {
				if done[we.id] == nil {
					err := s.workers[we.id].Err()
					return nil, fmt.Errorf("scenario: worker %d exited during %s: %v", we.id, step, err)
				}
				continue
			}
			ev := we.ev
			switch ev.Ev {
			case "progress":
				if ev.Progress != nil {
					s.prog[we.id] = *ev.Progress
					s.open.Store(s.opened())
				}
			case "error":
				if strings.HasPrefix(ev.Step, phasePrefix) && ev.Step != step {
					// A late failure of a C1M phase whose wait already
					// ended, on another worker's failure or its own.
					continue
				}
				msg := fmt.Sprintf("scenario: worker %d: %s", we.id, ev.Error)
				if ev.Hint != "" {
					msg += "\n  fix: " + ev.Hint
				}
				return nil, errors.New(msg)
			case "done":
				if ev.Step != step || done[we.id] != nil {
					continue
				}
				if ev.Progress != nil {
					s.prog[we.id] = *ev.Progress
					s.open.Store(s.opened())
				}
				e := ev
				done[we.id] = &e
				remaining--
			}
		}
	}
	s.bar.Finish()
	out := make([]Event, len(done))
	for i, e := range done {
		out[i] = *e
	}
	return out, nil
}

// sampleRSS waits until the server's RSS stops moving (a GC settles) or settle
// passes, then samples RSS and the kernel's TCP memory.
func sampleRSS(ctx context.Context, pid int, settle time.Duration, conns int64) (RSSSample, error) {
	if settle <= 0 {
		settle = 5 * time.Second
	}
	deadline := time.Now().Add(settle)
	var hist []int64
	for {
		rss, err := procfs.RSS(pid)
		if err != nil {
			return RSSSample{}, fmt.Errorf("scenario: server RSS: %w (did the server exit?)", err)
		}
		hist = append(hist, rss)
		// Stable: no more than 0.5% movement over the last second (5 samples).
		if n := len(hist); n >= 6 {
			lo, hi := hist[n-6], hist[n-6]
			for _, v := range hist[n-6:] {
				lo, hi = min(lo, v), max(hi, v)
			}
			if float64(hi-lo) <= 0.005*float64(hi) {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return RSSSample{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	rss, _ := procfs.RSS(pid)
	ss, _ := procfs.ReadSockstat()
	slab, _ := procfs.Slab()
	return RSSSample{Conns: conns, RSS: rss, SockMem: ss.MemBytes, Slab: slab, TCPInUse: ss.InUse}, nil
}
