package floor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/fleet"
)

// ErrLost is returned when a process read fewer bytes than were written
// to its connections.
var ErrLost = errors.New("floor: frames lost")

// Config sets a measurement. The zero value of every field but Conns and
// Start has a default.
type Config struct {
	Conns   int // connections in all
	PerProc int // connections per process; default 1,000
	Size    int // bytes written to each connection per round; default 64
	Rounds  int // fan-outs, every process at once; default 2

	// Start starts process id running Serve (fleet.Start of an executable
	// that calls Serve, or fleet.StartInProcess).
	Start func(id int) (*fleet.Worker, error)

	// Ready bounds the wait for every process to hold its connections;
	// default 3 minutes. Each round is bounded by the same.
	Ready time.Duration
}

// Result is a measurement.
type Result struct {
	Conns        int       `json:"conns"`
	Procs        int       `json:"procs"`
	Size         int       `json:"size"`
	SetupSeconds float64   `json:"setup_s"`  // until every process held its connections
	Rounds       []float64 `json:"rounds_s"` // per round, seconds until the slowest process had read every frame
	Best         float64   `json:"best_s"`   // the fastest round
	// CPUPerDelivery is the processes' user and system CPU over the rounds
	// per delivery, in microseconds.
	CPUPerDelivery float64 `json:"cpu_per_delivery_us"`
}

// command is what Run sends a process: "open" (N connections of Size-byte
// frames), then "round" for each fan-out. The process closes its
// connections and ends when its input does.
type command struct {
	Op   string `json:"op"`
	N    int    `json:"n,omitempty"`
	Size int    `json:"size,omitempty"`
}

// event is what a process answers: "ready" after open, "round" after a
// fan-out, "error" instead of either.
type event struct {
	Ev        string `json:"ev"`
	Err       string `json:"err,omitempty"`
	Delivered int64  `json:"delivered,omitempty"`
	CPUNanos  int64  `json:"cpu_ns,omitempty"` // user+system CPU of the round
}

// Run measures cfg.Rounds fan-outs to cfg.Conns connections spread over
// processes of cfg.PerProc.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Conns <= 0 || cfg.Start == nil {
		return nil, errors.New("floor: no connections or no way to start a process")
	}
	per := cfg.PerProc
	if per <= 0 {
		per = 1000
	}
	size := cfg.Size
	if size <= 0 {
		size = 64
	}
	rounds := cfg.Rounds
	if rounds <= 0 {
		rounds = 2
	}
	bound := cfg.Ready
	if bound <= 0 {
		bound = 3 * time.Minute
	}
	procs := (cfg.Conns + per - 1) / per
	res := &Result{Conns: cfg.Conns, Procs: procs, Size: size}
	t0 := time.Now()
	workers := make([]*fleet.Worker, 0, procs)
	defer func() {
		// Together: each closes its connections as its input ends, and a
		// million of them take a while to tear down.
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() { _ = w.Close(30 * time.Second) })
		}
		wg.Wait()
	}()
	for i := range procs {
		w, err := cfg.Start(i)
		if err != nil {
			return nil, fmt.Errorf("floor: start process %d: %w", i, err)
		}
		workers = append(workers, w)
		if err := w.Send(command{Op: "open", N: fleet.Share(cfg.Conns, procs, i), Size: size}); err != nil {
			return nil, fmt.Errorf("floor: process %d: %w", i, err)
		}
	}
	if _, err := collect(ctx, workers, "ready", bound); err != nil {
		return nil, err
	}
	res.SetupSeconds = time.Since(t0).Seconds()
	var cpu, delivered int64
	for range rounds {
		start := time.Now()
		for i, w := range workers {
			if err := w.Send(command{Op: "round"}); err != nil {
				return nil, fmt.Errorf("floor: process %d: %w", i, err)
			}
		}
		evs, err := collect(ctx, workers, "round", bound)
		if err != nil {
			return nil, err
		}
		took := time.Since(start).Seconds()
		res.Rounds = append(res.Rounds, took)
		if res.Best == 0 || took < res.Best {
			res.Best = took
		}
		for _, ev := range evs {
			cpu += ev.CPUNanos
			delivered += ev.Delivered
		}
	}
	if delivered > 0 {
		res.CPUPerDelivery = float64(cpu) / 1e3 / float64(delivered)
	}
	return res, nil
}

// collect waits for one event of kind want from every worker.
func collect(ctx context.Context, workers []*fleet.Worker, want string, bound time.Duration) ([]event, error) {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	evs := make([]event, len(workers))
	for i, w := range workers {
		select {
		case line, ok := <-w.Events():
			if !ok {
				return nil, fmt.Errorf("floor: process %d exited: %v", i, w.Err())
			}
			if err := json.Unmarshal(line, &evs[i]); err != nil {
				return nil, fmt.Errorf("floor: process %d: %w", i, err)
			}
			if evs[i].Ev != want {
				return nil, fmt.Errorf("floor: process %d: %s %s", i, evs[i].Ev, evs[i].Err)
			}
		case <-timer.C:
			return nil, fmt.Errorf("floor: process %d not %s within %v", i, want, bound)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return evs, nil
}

// Serve is a floor process: it answers Run's commands from in on out.
func Serve(in io.Reader, out io.Writer) error {
	var ps *pairs
	defer func() {
		if ps != nil {
			ps.close()
		}
	}()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var cmd command
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			return err
		}
		var ev event
		switch {
		case cmd.Op == "open" && ps == nil:
			p, err := open(cmd.N, cmd.Size)
			if err != nil {
				ev = event{Ev: "error", Err: err.Error()}
				break
			}
			ps, ev = p, event{Ev: "ready"}
		case cmd.Op == "round" && ps != nil:
			n, cpu, err := ps.round()
			if err != nil {
				ev = event{Ev: "error", Err: err.Error()}
				break
			}
			ev = event{Ev: "round", Delivered: n, CPUNanos: cpu}
		default:
			ev = event{Ev: "error", Err: "floor: unexpected " + cmd.Op}
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return sc.Err()
}

// pairs are one process's connections: w[i] was accepted, r[i] dialed it;
// r are watched by ep.
type pairs struct {
	ln   net.Listener
	w, r []int
	ep   int
	msg  []byte
	buf  []byte
	evs  []unix.EpollEvent
}

// open makes n connections to a listener of its own on 127.0.0.1.
func open(n, size int) (p *pairs, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p = &pairs{ln: ln, ep: -1, msg: make([]byte, size), buf: make([]byte, 64<<10), evs: make([]unix.EpollEvent, 1024)}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	lf, err := ln.(*net.TCPListener).File() // a blocking duplicate
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	lfd := int(lf.Fd())
	port := ln.Addr().(*net.TCPAddr).Port
	if p.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	for i := range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		p.r = append(p.r, fd)
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
		a, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return nil, err
		}
		p.w = append(p.w, a)
		if err := unix.SetNonblock(fd, true); err != nil {
			return nil, err
		}
		if err := unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// batch is how many connections a round writes before it reads what has
// arrived, as a server writes a budget and then polls.
const batch = 128

// round writes the frame to every connection and reads until every byte
// is back. It returns the deliveries and the CPU the thread spent on them.
func (p *pairs) round() (int64, int64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := cpuNanos()
	want := int64(len(p.w)) * int64(len(p.msg))
	var got int64
	for i := 0; i < len(p.w); i += batch {
		for _, fd := range p.w[i:min(i+batch, len(p.w))] {
			if _, err := unix.Write(fd, p.msg); err != nil {
				return 0, 0, err
			}
		}
		n, err := p.read(0)
		if err != nil {
			return 0, 0, err
		}
		got += n
	}
	// On loopback a frame is queued by the time its write returns, unless
	// the kernel left the receive work to ksoftirqd, which a machine busy
	// with a hundred such processes may run late.
	for quiet := 0; got < want; {
		n, err := p.read(100)
		if err != nil {
			return 0, 0, err
		}
		if n > 0 {
			quiet = 0
		} else {
			quiet++
		}
		if quiet == 100 {
			return 0, 0, fmt.Errorf("%w: %d of %d bytes, then nothing for 10s", ErrLost, got, want)
		}
		got += n
	}
	return int64(len(p.w)), cpuNanos() - cpu0, nil
}

// read reads every connection epoll reports ready within ms.
func (p *pairs) read(ms int) (int64, error) {
	k, err := unix.EpollWait(p.ep, p.evs, ms)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return 0, err
	}
	var got int64
	for _, e := range p.evs[:max(k, 0)] {
		for {
			m, err := unix.Read(p.r[e.Fd], p.buf)
			if m > 0 {
				got += int64(m)
			}
			if err != nil || m < len(p.buf) {
				break
			}
		}
	}
	return got, nil
}

// close resets every connection (no TIME_WAIT left behind) and closes the
// listener.
func (p *pairs) close() {
	for _, fd := range p.r {
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		_ = unix.Close(fd)
	}
	for _, fd := range p.w {
		_ = unix.Close(fd)
	}
	if p.ep >= 0 {
		_ = unix.Close(p.ep)
	}
	_ = p.ln.Close()
	p.r, p.w = nil, nil
}

// cpuNanos is the calling thread's user and system CPU so far.
func cpuNanos() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
