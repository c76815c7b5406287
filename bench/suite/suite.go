//go:build linux

package suite

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/procfs"
	"github.com/ripple-rt/ripple/bench/progress"
	"github.com/ripple-rt/ripple/bench/report"
	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target"
)

// Config is a suite run.
type Config struct {
	// Servers are built and started by the suite (target.Names). Ignored when
	// URL is set.
	Servers []string
	// URL drives an already running server instead; Name labels it and
	// Dialect is its protocol (bench/dialect; empty: the bench protocol).
	URL     string
	Name    string
	PID     int // of the server at URL, when known
	Dialect string

	Scenarios []string
	// Repeat runs every server/scenario pair this many times (interleaved) and
	// keeps the best run by the scenario's key figure; a verification failure
	// in any repeat fails the pair. Default 1.
	Repeat int
	// Specs holds each scenario's settings.
	Specs map[string]scenario.Spec
	// Protocols are the protocols every server is driven with, each a row
	// of its own, interleaved in one run: "" (raw, the default) and
	// scenario.Phoenix (ripple only; its row is "ripple/phoenix"). Only the
	// broadcast and rooms scenarios speak Phoenix.
	Protocols []string
	// Options is the template for every scenario.Run (Spec is replaced).
	Options scenario.Options

	ServerCPUs string // taskset list for servers; empty: no pinning
	GOGC       int
	ServerArgs map[string][]string // extra flags per server name
	Root       string              // repository root (for go build)
	OutDir     string              // server logs go to OutDir/logs
	Command    string              // the command line, for the report
	CPULatency string              // the PM QoS wake-up latency held for the run, for the report
	Bar        *progress.Bar
}

// Run runs every scenario against every server and returns the report. It
// fails only when nothing could be measured at all.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	start := time.Now()
	rep := &report.Report{Started: start}
	rep.Settings = settings(cfg)
	bar := cfg.Bar
	if bar == nil {
		bar = progress.New(nil)
	}

	var servers []srv
	if cfg.URL != "" {
		name := cfg.Name
		if name == "" {
			name = "server"
		}
		servers = append(servers, protocols(cfg, srv{name: name}, true, rep)...)
	} else {
		tmp, err := os.MkdirTemp("", "ripple-bench-bin-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		b := &target.Builder{Root: cfg.Root, Dir: tmp}
		for _, name := range cfg.Servers {
			bar.Println("building " + name + " …")
			bin, err := b.Build(name)
			if err != nil {
				rep.Errors = append(rep.Errors, report.RunError{Server: name, Error: err.Error()})
				bar.Println("  " + err.Error())
				continue
			}
			servers = append(servers, protocols(cfg, srv{name: name, bin: bin}, name == "ripple", rep)...)
			conf := b.Describe(name)
			if args := cfg.ServerArgs[name]; len(args) > 0 {
				conf += "; flags " + strings.Join(args, " ")
			}
			rep.Settings.Configs = append(rep.Settings.Configs, report.ServerConfig{Server: name, Config: conf})
		}
	}
	if len(servers) == 0 {
		return rep, errors.New("suite: no server could be built")
	}

	repeat := max(cfg.Repeat, 1)
	for _, sc := range cfg.Scenarios {
		if sc == scenario.Latency {
			specs, errs := calibrateLatency(ctx, cfg, servers, bar)
			cfg.Specs = specs
			rep.Errors = append(rep.Errors, errs...)
		}
		runs := make([][]*scenario.Result, len(servers))
		for i := 0; i < repeat; i++ {
			for si, s := range servers {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				res, err := runOne(ctx, cfg, sc, s, bar, scenario.Run)
				if err != nil {
					rep.Errors = append(rep.Errors, report.RunError{Server: s.label, Scenario: sc, Error: err.Error()})
					bar.Println(fmt.Sprintf("%s %s: ERROR %v", s.label, sc, err))
				}
				if res != nil {
					runs[si] = append(runs[si], res)
					bar.Println(summaryLine(res))
				}
			}
		}
		for _, rs := range runs {
			if len(rs) > 0 {
				rep.Results = append(rep.Results, best(rs))
			}
		}
	}
	rep.Elapsed = time.Since(start).Seconds()
	rep.Evaluate()
	return rep, nil
}

// srv is a server of the run: its name and, unless the run drives a URL,
// its binary; the protocol its clients speak and the row it makes.
type srv struct {
	name     string
	bin      string
	protocol string // "" or scenario.Phoenix
	label    string // name, or name/protocol
}

// protocols returns s once per protocol of the run; a server that does not
// speak one (phoenix: a peer) gets an error instead of that row.
func protocols(cfg Config, s srv, phoenix bool, rep *report.Report) []srv {
	ps := cfg.Protocols
	if len(ps) == 0 {
		ps = []string{""}
	}
	var out []srv
	for _, p := range ps {
		v := s
		v.protocol, v.label = p, s.name
		if p != "" {
			v.label = s.name + "/" + p
		}
		if p == scenario.Phoenix && !phoenix {
			rep.Errors = append(rep.Errors, report.RunError{Server: s.name, Error: "speaks no Phoenix Channels: no " + v.label + " row"})
			continue
		}
		out = append(out, v)
	}
	return out
}

// runFunc drives one scenario against a target: scenario.Run, or
// scenario.Calibrate.
type runFunc func(context.Context, scenario.Options, scenario.Target) (*scenario.Result, error)

// runOne starts server s fresh (unless the run drives a URL), drives
// scenario sc against it with run and stops it.
func runOne(ctx context.Context, cfg Config, sc string, s srv, bar *progress.Bar, run runFunc) (*scenario.Result, error) {
	opt := cfg.Options
	opt.Spec = cfg.Specs[sc]
	opt.Spec.Scenario = sc
	opt.Spec.Protocol = s.protocol
	opt.Bar = bar
	name, bin := s.name, s.bin
	if cfg.URL != "" {
		opt.Spec.Dialect = cfg.Dialect
		return run(ctx, opt, scenario.Target{Name: s.label, URL: cfg.URL, PID: cfg.PID})
	}
	opt.Spec.Dialect = target.Dialect(name)
	logPath := ""
	if cfg.OutDir != "" {
		logPath = filepath.Join(cfg.OutDir, "logs", strings.ReplaceAll(s.label, "/", "-")+"-"+sc+".log")
	}
	proc, err := target.Start(name, bin, target.Options{CPUs: cfg.ServerCPUs, GOGC: cfg.GOGC, LogPath: logPath, Args: cfg.ServerArgs[name]})
	if err != nil {
		return nil, err
	}
	res, runErr := run(ctx, opt, scenario.Target{Name: s.label, URL: proc.URL, PID: proc.PID})
	alive := proc.Alive()
	stopErr := proc.Stop(15 * time.Second)
	if !alive {
		msg := fmt.Sprintf("the server died during the run (%v)%s", proc.ExitError(), proc.Tail())
		if res != nil {
			res.Failures = append(res.Failures, msg)
			res.OK = false
		} else {
			runErr = fmt.Errorf("%v; %s", runErr, msg)
		}
	} else if stopErr != nil && res != nil {
		res.Notes = append(res.Notes, stopErr.Error())
	}
	return res, runErr
}

// calibrateLatency finds the maximum rate of every latency workload that
// needs one before any server gets the offered load, so that every server
// gets the same rates: a closed-loop run (scenario.Calibrate) against every
// peer, each started fresh, keeping the best peer's maximum; against ripple
// when it is the only server. A run of a single server leaves the spec
// alone: the server calibrates itself in its own run. It returns the specs
// to run with (a copy when changed) and the calibrations that failed.
func calibrateLatency(ctx context.Context, cfg Config, servers []srv, bar *progress.Bar) (map[string]scenario.Spec, []report.RunError) {
	spec := cfg.Specs[scenario.Latency]
	need := spec.Latency.NeedsCalibration()
	if len(need) == 0 || len(servers) < 2 {
		return cfg.Specs, nil
	}
	var calib []srv
	for _, s := range servers {
		if s.name != "ripple" {
			calib = append(calib, s)
		}
	}
	if len(calib) == 0 {
		calib = servers
	}
	var errs []report.RunError
	maxima := map[string]map[string]float64{}
	for _, s := range calib {
		if ctx.Err() != nil {
			break
		}
		bar.Println(fmt.Sprintf("%s latency: calibrating (closed loop) …", s.name))
		res, err := runOne(ctx, cfg, scenario.Latency, s, bar, scenario.Calibrate)
		if err != nil {
			errs = append(errs, report.RunError{Server: s.name, Scenario: scenario.Latency, Error: "calibration: " + err.Error()})
			bar.Println(fmt.Sprintf("%s latency calibration: ERROR %v", s.name, err))
			continue
		}
		for _, w := range res.Workloads {
			if c := w.Calibration; c != nil && c.OK && c.Achieved > 0 {
				if maxima[w.Workload] == nil {
					maxima[w.Workload] = map[string]float64{}
				}
				maxima[w.Workload][s.name] = c.Achieved
				bar.Println(fmt.Sprintf("%s latency %s calibration: %s %s", s.name, w.Workload, report.Count(c.Achieved), w.Unit))
			} else if c != nil {
				bar.Println(fmt.Sprintf("%s latency %s calibration: not used (%s)", s.name, w.Workload, strings.Join(c.Failures, "; ")))
			}
		}
	}
	ls := scenario.LatencySpec{}
	if spec.Latency != nil {
		ls = *spec.Latency
	}
	if ls.MaxRate = maps.Clone(ls.MaxRate); ls.MaxRate == nil {
		ls.MaxRate = map[string]float64{}
	}
	if ls.MaxFrom = maps.Clone(ls.MaxFrom); ls.MaxFrom == nil {
		ls.MaxFrom = map[string]string{}
	}
	ls.Calibrated = maxima
	for _, w := range need {
		if v, from := scenario.ReferenceMax(maxima[w]); v > 0 {
			ls.MaxRate[w], ls.MaxFrom[w] = v, from+" calibration"
		}
	}
	spec.Latency = &ls
	specs := maps.Clone(cfg.Specs)
	specs[scenario.Latency] = spec
	return specs, errs
}

// best picks the run with the best key figure (lowest RSS per connection for
// idle, lowest sum of p99 latencies over the steps for latency, highest
// throughput otherwise) and carries every repeat's failures.
func best(rs []*scenario.Result) *scenario.Result {
	if len(rs) == 1 {
		return rs[0]
	}
	key := func(r *scenario.Result) float64 {
		switch r.Scenario {
		case scenario.Idle:
			return -r.RSSPerConn
		case scenario.Latency:
			return -latencySum(r)
		}
		return r.Throughput
	}
	b := rs[0]
	var figures []string
	for _, r := range rs {
		if r.Skipped != "" {
			return r
		}
		if key(r) > key(b) {
			b = r
		}
		switch r.Scenario {
		case scenario.Idle:
			figures = append(figures, report.Bytes(r.RSSPerConn)+"/conn")
		case scenario.Latency:
			figures = append(figures, "Σp99 "+report.Dur(int64(latencySum(r))))
		default:
			figures = append(figures, report.Count(r.Throughput))
		}
	}
	out := *b
	out.Notes = append(append([]string(nil), b.Notes...), fmt.Sprintf("best of %d runs: %s", len(rs), strings.Join(figures, ", ")))
	for i, r := range rs {
		if r != b && !r.OK {
			out.OK = false
			for _, f := range r.Failures {
				out.Failures = append(out.Failures, fmt.Sprintf("run %d: %s", i+1, f))
			}
		}
	}
	return &out
}

// latencySum is the sum of a latency result's p99 over every step.
func latencySum(r *scenario.Result) float64 {
	var sum float64
	for _, w := range r.Workloads {
		for _, p := range w.Steps {
			sum += float64(p.Latency.P99)
		}
	}
	return sum
}

func summaryLine(r *scenario.Result) string {
	if r.Skipped != "" {
		return fmt.Sprintf("%s %s: skipped (%s)", r.Server, r.Scenario, r.Skipped)
	}
	status := "ok"
	if !r.OK {
		status = fmt.Sprintf("FAIL %v", r.Failures)
	}
	switch r.Scenario {
	case scenario.Idle:
		return fmt.Sprintf("%s idle: %d conns, %s/conn RSS, %s conns/s, handshake p50 %s p99 %s — %s",
			r.Server, r.Conns, report.Bytes(r.RSSPerConn), report.Count(r.ConnectRate),
			report.Dur(r.Handshake.P50), report.Dur(r.Handshake.P99), status)
	case scenario.Latency:
		var parts []string
		for _, w := range r.Workloads {
			var steps []string
			for _, p := range w.Steps {
				steps = append(steps, fmt.Sprintf("%s→%s", report.Count(p.Offered), report.Dur(p.Latency.P99)))
			}
			parts = append(parts, fmt.Sprintf("%s p99 at %s: %s", w.Workload, w.Unit, strings.Join(steps, " ")))
		}
		return fmt.Sprintf("%s latency: %s — %s", r.Server, strings.Join(parts, "; "), status)
	case scenario.Recovery:
		var parts []string
		for _, run := range r.Recovery {
			label := fmt.Sprintf("%d nodes", run.Nodes)
			if run.Nodes == 1 {
				label = "1 node"
			}
			parts = append(parts, label+": "+scenario.RecoveryLine(run))
		}
		return fmt.Sprintf("%s recovery: %s — %s", r.Server, strings.Join(parts, "; "), status)
	}
	return fmt.Sprintf("%s %s: %d conns, %s %s, p50 %s p99 %s p99.9 %s, cpu server %.0f%% generator %.0f%% — %s",
		r.Server, r.Scenario, r.Conns, report.Count(r.Throughput), r.ThroughputUnit,
		report.Dur(r.Latency.P50), report.Dur(r.Latency.P99), report.Dur(r.Latency.P999),
		r.ServerCPU*100, r.ClientCPU*100, status)
}

func settings(cfg Config) report.Settings {
	s := report.Settings{
		Command:    cfg.Command,
		CPULatency: cfg.CPULatency,
		GOGC:       cfg.GOGC,
		ServerCPUs: cfg.ServerCPUs,
		ClientCPUs: cfg.Options.ClientCPUs,
		Procs:      cfg.Options.Procs,
		GoVersion:  runtime.Version(),
		NumCPU:     runtime.NumCPU(),
		Servers:    cfg.Servers,
		Scenarios:  cfg.Scenarios,
	}
	if cfg.URL != "" {
		s.Servers = []string{cfg.URL}
	}
	for _, sp := range cfg.Specs {
		s.Loops = max(s.Loops, sp.Loops)
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		s.Kernel = "linux " + unix.ByteSliceToString(u.Release[:])
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		s.NoFile = rl.Max
	}
	if lo, hi, err := procfs.PortRange(); err == nil {
		s.PortRange = fmt.Sprintf("%d-%d", lo, hi)
	}
	return s
}
