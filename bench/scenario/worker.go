//go:build linux

package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/dialect"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/loadgen"
)

// driver is a scenario's logic on one loop. Every method runs on the loop
// goroutine except counters, which is safe from any goroutine.
type driver interface {
	loadgen.Handler
	// connect dials this loop's share of target connections and calls done once
	// every dial has opened or failed.
	connect(target int, done func())
	// startRun starts the scenario's load.
	startRun()
	// stopRun stops generating load and calls drained once nothing this loop
	// sent is still in flight (it may never, the worker times out).
	stopRun(drained func())
	// settle waits, where the scenario needs it, until every receiver has what
	// the given per-publisher totals imply; it calls done when it has or gives up.
	settle(sent []int64, done func())
	// sentByPublisher adds this loop's sent counts per publisher into dst.
	sentByPublisher(dst []int64)
	// stats returns this loop's results.
	stats() *WorkerStats
	// counters adds live counters into p. Safe from any goroutine.
	counters(p *Progress)
	// base returns the shared part.
	core() *base
}

// worker runs one worker: its loops and their drivers.
type worker struct {
	// Immutable after start.
	spec    *Spec
	loops   []*loadgen.Loop
	drivers []driver
	shared  any // scenario state shared by the worker's loops (atomics only)

	// Guarded by outMu.
	outMu sync.Mutex
	enc   *json.Encoder

	runWG sync.WaitGroup

	// Owned by the command goroutine.
	runCPU int64
	runNs  int64
}

// ServeWorker is the main of a worker: it reads Commands from in, runs them and
// writes Events to out. It returns when in ends.
func ServeWorker(in io.Reader, out io.Writer) error {
	w := &worker{enc: json.NewEncoder(out)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmds := make(chan Command)
	go func() {
		defer cancel()
		defer close(cmds)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var c Command
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				w.emit(Event{Ev: "error", Error: "bad command: " + err.Error()})
				continue
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer w.shutdown()
	for c := range cmds {
		if err := w.do(ctx, c); err != nil {
			ev := Event{Ev: "error", Step: c.Op, Error: err.Error()}
			if c.Op == "phase" && c.Phase != nil {
				ev.Step = phaseStep(c.Phase.Seq)
			}
			var le *limitError
			if errors.As(err, &le) {
				ev.Hint = loadgen.LimitHint(le.err)
			}
			w.emit(ev)
		}
	}
	return nil
}

func (w *worker) emit(ev Event) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.enc.Encode(ev)
}

func (w *worker) shutdown() {
	for _, l := range w.loops {
		l.Stop()
	}
	w.runWG.Wait()
}

// limitError wraps a system-limit error that stopped a connect step.
type limitError struct{ err error }

func (e *limitError) Error() string { return "system limit reached: " + e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

func (w *worker) do(ctx context.Context, c Command) error {
	if c.Op != "start" && w.spec == nil {
		return errors.New("scenario: no start command yet")
	}
	switch c.Op {
	case "start":
		return w.start(ctx, c.Spec)
	case "connect":
		return w.connect(ctx, c.Target)
	case "run":
		return w.run(ctx, c.Step)
	case "settle":
		return w.settle(ctx, c.Sent)
	case "stats":
		return w.collect(ctx)
	case "phase":
		return w.phase(ctx, c.Phase)
	}
	return fmt.Errorf("scenario: unknown command %q", c.Op)
}

func (w *worker) start(ctx context.Context, spec *Spec) error {
	if w.spec != nil {
		return errors.New("scenario: started twice")
	}
	if spec == nil {
		return errors.New("scenario: start without spec")
	}
	if err := spec.validate(); err != nil {
		return err
	}
	addr, err := netip.ParseAddrPort(spec.Addr)
	if err != nil {
		return fmt.Errorf("scenario: server address: %w", err)
	}
	addrs := []netip.AddrPort{addr}
	if len(spec.Addrs) > 0 {
		addrs = addrs[:0]
		for _, a := range spec.Addrs {
			ap, err := netip.ParseAddrPort(a)
			if err != nil {
				return fmt.Errorf("scenario: server address: %w", err)
			}
			addrs = append(addrs, ap)
		}
	}
	var sources []netip.Addr
	for _, s := range spec.Sources {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("scenario: source address: %w", err)
		}
		sources = append(sources, a)
	}
	w.spec = spec
	w.shared = newShared(spec)
	rate := 0.0
	if spec.Rate > 0 {
		rate = spec.Rate / float64(spec.Workers*spec.Loops)
	}
	for i := 0; i < spec.Loops; i++ {
		d, err := newDriver(spec, i, w.shared)
		if err != nil {
			return err
		}
		dl, err := dialect.New(spec.Dialect, d)
		if err != nil {
			return err
		}
		l, err := loadgen.New(loadgen.Config{
			Addr:             addrs[(spec.Worker*spec.Loops+i)%len(addrs)],
			Host:             spec.Host,
			Sources:          sources,
			SourceOffset:     i * 7,
			MaxInflight:      spec.MaxInflight,
			DialRate:         rate,
			HandshakeTimeout: time.Duration(spec.HandshakeTimeout),
			Coalesce:         time.Duration(spec.Coalesce),
		}, dl.Handler())
		if err != nil {
			return err
		}
		d.core().l, d.core().dl = l, dl
		w.loops = append(w.loops, l)
		w.drivers = append(w.drivers, d)
		w.runWG.Add(1)
		go func() {
			defer w.runWG.Done()
			if err := l.Run(); err != nil {
				w.emit(Event{Ev: "error", Error: err.Error()})
			}
		}()
	}
	go w.reportProgress(ctx)
	w.emit(Event{Ev: "done", Step: "start"})
	return nil
}

func (w *worker) progress() *Progress {
	p := &Progress{}
	for i, l := range w.loops {
		p.Opened += l.Stats.Opened.Load()
		p.Open += l.Stats.Open.Load()
		p.Failed += l.Stats.Failed.Load()
		p.Inflight += l.Stats.Inflight.Load() + l.Stats.Queued.Load()
		w.drivers[i].counters(p)
	}
	return p
}

func (w *worker) reportProgress(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.emit(Event{Ev: "progress", Progress: w.progress()})
		}
	}
}

// onLoops runs f(driver, done) on every loop and waits until each called done,
// ctx ends or timeout passes. It reports whether every loop finished.
func (w *worker) onLoops(ctx context.Context, timeout time.Duration, f func(d driver, done func())) bool {
	ch := make(chan struct{}, len(w.loops))
	for i, l := range w.loops {
		d := w.drivers[i]
		l.Execute(func() {
			var once sync.Once
			f(d, func() { once.Do(func() { ch <- struct{}{} }) })
		})
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for n := 0; n < len(w.loops); n++ {
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (w *worker) limit() error {
	for _, l := range w.loops {
		if err := l.LimitError(); err != nil {
			return &limitError{err: err}
		}
	}
	return nil
}

func (w *worker) connect(ctx context.Context, target int) error {
	timeout := 2*time.Duration(w.spec.HandshakeTimeout) + time.Minute
	if w.spec.Rate > 0 {
		timeout += time.Duration(2 * float64(target) / w.spec.Rate * float64(time.Second))
	} else {
		// All workers share the machine: the ramp takes as long as the
		// whole target does, not this worker's share (the parent's bound).
		timeout += time.Duration(target) * time.Millisecond
	}
	ok := w.onLoops(ctx, timeout, func(d driver, done func()) {
		d.connect(target, done)
	})
	if err := w.limit(); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("scenario: connect step did not finish within %v", timeout)
	}
	w.emit(Event{Ev: "done", Step: "connect", Progress: w.progress()})
	return nil
}

func cpuNs() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// run runs one run step: Spec.Duration of the scenario's load or, with st
// (the latency scenario), the timed step st; then it stops the load and
// waits up to Spec.Drain for what is in flight.
func (w *worker) run(ctx context.Context, st *Step) error {
	if sh, ok := w.shared.(*bcastShared); ok {
		var open int64
		for _, l := range w.loops {
			open += l.Stats.Open.Load()
		}
		sh.receivers.Store(open)
	}
	cpu0 := cpuNs()
	start := time.Now()
	length := time.Duration(w.spec.Duration)
	if st != nil {
		length = time.Until(time.Unix(0, w.spec.Epoch+st.end()))
	}
	for i, l := range w.loops {
		d := w.drivers[i]
		if st == nil {
			l.Execute(d.startRun)
			continue
		}
		sd, ok := d.(stepDriver)
		if !ok {
			return fmt.Errorf("scenario: %s has no timed steps", w.spec.Scenario)
		}
		step := *st
		l.Execute(func() { sd.startStep(step) })
	}
	select {
	case <-time.After(length):
	case <-ctx.Done():
		return ctx.Err()
	}
	w.onLoops(ctx, time.Duration(w.spec.Drain), func(d driver, done func()) { d.stopRun(done) })
	sent := make([]int64, w.spec.Publishers)
	w.onLoops(ctx, 5*time.Second, func(d driver, done func()) {
		d.sentByPublisher(sent)
		done()
	})
	ws := &WorkerStats{CPUNs: cpuNs() - cpu0, StepNs: int64(time.Since(start))}
	w.runCPU = ws.CPUNs
	w.runNs = ws.StepNs
	w.emit(Event{Ev: "done", Step: "run", Sent: sent, Stats: ws})
	return nil
}

func (w *worker) settle(ctx context.Context, sent []int64) error {
	w.onLoops(ctx, time.Duration(w.spec.Drain), func(d driver, done func()) { d.settle(sent, done) })
	w.emit(Event{Ev: "done", Step: "settle"})
	return nil
}

// phase runs a C1M phase on every loop and reports the merged figures.
func (w *worker) phase(ctx context.Context, ph *Phase) error {
	if ph == nil {
		return errors.New("scenario: phase without its settings")
	}
	var mu sync.Mutex
	total := &PhaseStats{First: -1, Complete: true}
	ok := w.onLoops(ctx, time.Duration(ph.Wait)+time.Duration(ph.Duration)+30*time.Second, func(d driver, done func()) {
		p, isPhaser := d.(phaser)
		if !isPhaser {
			done()
			return
		}
		p.phase(*ph, func(st *PhaseStats) {
			mu.Lock()
			total.Merge(st)
			total.Complete = total.Complete && st.Complete
			mu.Unlock()
			done()
		})
	})
	if !ok {
		return fmt.Errorf("scenario: phase %s did not finish", ph.Name)
	}
	mu.Lock()
	defer mu.Unlock()
	w.emit(Event{Ev: "done", Step: phaseStep(ph.Seq), Stats: &WorkerStats{Phase: total, Progress: *w.progress()}})
	return nil
}

func (w *worker) collect(ctx context.Context) error {
	var mu sync.Mutex
	total := &WorkerStats{PerConnMin: -1}
	var reasons = map[string]int64{}
	var hs hist.Histogram
	ok := w.onLoops(ctx, 10*time.Second, func(d driver, done func()) {
		st := d.stats()
		b := d.core()
		hsLoop := b.l.Handshakes()
		fr := b.l.FailureReasons()
		mu.Lock()
		total.Merge(st)
		hs.Merge(hsLoop)
		for k, v := range fr {
			reasons[k] += v
		}
		mu.Unlock()
		done()
	})
	if !ok {
		return errors.New("scenario: stats step timed out")
	}
	mu.Lock()
	defer mu.Unlock()
	total.Handshake = hs.Snapshot()
	total.Reasons = reasons
	for _, l := range w.loops {
		total.Opened += l.Stats.Opened.Load()
		total.Failed += l.Stats.Failed.Load()
		total.Dropped += l.Stats.Dropped.Load()
	}
	total.CPUNs = w.runCPU
	total.StepNs = w.runNs
	total.Progress = *w.progress()
	w.emit(Event{Ev: "done", Step: "stats", Stats: total})
	return nil
}
