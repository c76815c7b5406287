//go:build linux

package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ripple-rt/ripple/bench/procfs"
)

// Calibrate measures target's closed-loop maximum rate for every latency
// workload that needs one (LatencySpec.NeedsCalibration): per workload,
// workers of its own connect Spec.Conns connections and run
// LatencySpec.Calibrate closed loop. The result's workloads carry the run in Calibration; its
// Achieved is the maximum. The suite calibrates the peers with it before
// any server gets the offered load, so that every server gets the same
// rates.
func Calibrate(ctx context.Context, opt Options, target Target) (*Result, error) {
	return runLatency(ctx, opt, target, true)
}

// runLatency drives the latency scenario against target: every workload
// with workers and connections of its own (connect; a closed-loop
// calibration when the workload has neither rates nor a maximum, or when
// calibrateOnly; then, unless calibrateOnly, one timed step per offered
// rate, lowest first).
func runLatency(ctx context.Context, opt Options, target Target, calibrateOnly bool) (*Result, error) {
	ls := opt.Spec.Latency.withDefaults(time.Duration(opt.Spec.Duration))
	need := ls.NeedsCalibration()
	res := &Result{Scenario: Latency, Server: target.Name, URL: target.URL}
	for _, wl := range ls.Workloads {
		if calibrateOnly && !slices.Contains(need, wl) {
			continue
		}
		w, p, err := latencyWorkload(ctx, opt, &target, ls, wl, calibrateOnly)
		if err != nil {
			return nil, fmt.Errorf("scenario: latency %s: %w", wl, err)
		}
		res.Spec, res.Procs, res.ServerPID = p.spec, p.procs, target.PID
		res.Workloads = append(res.Workloads, *w)
	}
	res.Spec.Sources = nil
	res.Spec.Latency = ls
	res.summarizeLatency()
	return res, nil
}

// latencyWorkload runs workload wl with workers and connections of its own.
func latencyWorkload(ctx context.Context, opt Options, target *Target, ls *LatencySpec, wl string, calibrateOnly bool) (*LatencyWorkload, *prepared, error) {
	wls := *ls
	wls.Workload = wl
	p, err := prepare(opt, target, func(s *Spec) { s.Latency = &wls })
	if err != nil {
		return nil, nil, err
	}
	spec := p.spec
	out := &LatencyWorkload{Workload: wl, Unit: Unit(wl)}
	want, perPublish := int64(spec.Conns), 1.0
	if wl == WorkloadRooms {
		size := max(spec.RoomSize, 2) // as newRoomLayout
		out.RoomSize = size
		want, perPublish = int64(max(spec.Conns/size, 1)*size), float64(size)
	}

	s, err := startSession(ctx, opt, spec, p.procs, p.srcs, target.Name)
	if err != nil {
		return nil, nil, err
	}
	defer s.close()
	s.label = target.Name + " latency " + wl
	t0 := time.Now()
	if _, err := s.step(ctx, Command{Op: "connect", Target: spec.Conns}, int(want)); err != nil {
		return nil, nil, err
	}
	out.ConnectSeconds = time.Since(t0).Seconds()
	for _, pr := range s.prog {
		out.Conns += pr.Opened
	}
	if out.Conns < want {
		out.Failures = append(out.Failures, fmt.Sprintf("opened %d of %d connections", out.Conns, want))
	}

	st := &latencyStepper{s: s, pid: target.PID, server: target.Name, wl: wl, perPublish: perPublish, warmup: time.Duration(ls.Warmup)}
	maxRate, from := ls.MaxRate[wl], ls.MaxFrom[wl]
	rates := ls.Rates[wl]
	if calibrateOnly || (len(rates) == 0 && maxRate <= 0) {
		pt, err := st.run(ctx, Offer{}, time.Duration(ls.Calibrate))
		if err != nil {
			return nil, nil, err
		}
		out.Calibration = pt
		if maxRate <= 0 {
			maxRate, from = pt.Achieved, "own calibration"
		}
	}
	if calibrateOnly {
		return out, p, nil
	}
	if len(rates) == 0 {
		out.MaxRate, out.MaxFrom = maxRate, from
	}
	offers := Offers(rates, maxRate, ls.Load)
	if len(offers) == 0 {
		out.Failures = append(out.Failures, "no rate to offer: the maximum rate is unknown (calibration delivered nothing)")
	}
	for _, o := range offers {
		pt, err := st.run(ctx, o, time.Duration(spec.Duration))
		if err != nil {
			return nil, nil, err
		}
		out.Steps = append(out.Steps, *pt)
	}
	return out, p, nil
}

// latencyStepper runs the timed steps of one workload's workers, one at a
// time. It is used by the parent's goroutine only.
type latencyStepper struct {
	s          *session
	pid        int
	server, wl string
	perPublish float64 // deliveries per completed send: 1 (echo) or the room size
	warmup     time.Duration
	prev       WorkerStats // the loops' cumulative counters after the previous step
}

// stealNote is the steal time during a step above which the step says so.
const stealNote = 10 * time.Millisecond

// run runs one step of length at offer (a zero Rate: closed loop) and
// returns its figures and checks.
func (ls *latencyStepper) run(ctx context.Context, offer Offer, length time.Duration) (*LatencyPoint, error) {
	s := ls.s
	st := Step{Offered: offer.Rate, Duration: Duration(length), Warmup: Duration(min(ls.warmup, length/4))}
	st.Start = time.Now().UnixNano() - s.spec.Epoch + int64(stepLead)
	s.spec.Duration = Duration(length + stepLead)
	pt := &LatencyPoint{Percent: offer.Percent, Offered: offer.Rate}
	s.label = fmt.Sprintf("%s latency %s %s", ls.server, ls.wl, pt.Label())

	sc := Echo
	if ls.wl == WorkloadRooms {
		sc = Rooms
	}
	r := &Result{Scenario: sc, Spec: s.spec}
	net0, _ := procfs.ReadNetCounters()
	steal0, stealErr := procfs.Steal()
	if _, err := s.timedStep(ctx, Command{Op: "run", Step: &st}, ls.pid, r); err != nil {
		return nil, err
	}
	total, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	ls.sincePrevious(total)
	if net1, err := procfs.ReadNetCounters(); err == nil {
		r.Net = net1.Sub(net0)
	}
	if steal1, err := procfs.Steal(); err == nil && stealErr == nil {
		pt.Steal = steal1 - steal0
	}
	r.fill(total)

	pt.Deliveries = r.Throughput
	pt.Achieved = r.Throughput / ls.perPublish
	pt.Latency, pt.Lag = r.Latency, summarize(total.Lag)
	pt.Sent, pt.Delivered, pt.Expected, pt.Missing = r.Sent, r.Delivered, r.Expected, r.Missing
	pt.Dup, pt.Gaps, pt.Foreign, pt.Invalid, pt.Errors, pt.Late = r.Dup, r.Gaps, r.Foreign, r.Invalid, r.Errors, total.Late
	pt.RunSeconds, pt.ServerCPU, pt.ClientCPU, pt.MachineCPU = r.RunSeconds, r.ServerCPU, r.ClientCPU, r.MachineCPU
	pt.OK, pt.Failures, pt.Notes = r.OK, r.Failures, r.Notes
	if pt.Missing > 0 {
		pt.Notes = append(pt.Notes, fmt.Sprintf("messages not received within -drain (%v) after the step count as missing",
			time.Duration(s.spec.Drain)))
	}
	if lag := pt.Lag.P99; pt.Offered > 0 && lag > int64(time.Millisecond) {
		pt.Notes = append(pt.Notes, fmt.Sprintf("the generator sent late (p99 %s, max %s behind schedule); the delay counts as latency",
			durText(lag), durText(pt.Lag.Max)))
	}
	if pt.Steal >= int64(stealNote) {
		pt.Notes = append(pt.Notes, fmt.Sprintf("the hypervisor took %s of CPU time from the machine during the step (steal); it counts as latency for any server",
			durText(pt.Steal)))
	}
	if pt.Offered > 0 && pt.Achieved < 0.95*pt.Offered {
		pt.Notes = append(pt.Notes, fmt.Sprintf("achieved %.0f of %.0f %s offered: the server fell behind", pt.Achieved, pt.Offered, Unit(ls.wl)))
	}
	status := "ok"
	if !pt.OK {
		status = "FAIL " + strings.Join(pt.Failures, "; ")
	}
	s.bar.Println(fmt.Sprintf("  %s latency %s %s: offered %.0f, achieved %.0f %s, p50 %s p99 %s p99.9 %s max %s — %s",
		ls.server, ls.wl, pt.Label(), pt.Offered, pt.Achieved, Unit(ls.wl),
		durText(pt.Latency.P50), durText(pt.Latency.P99), durText(pt.Latency.P999), durText(pt.Latency.Max), status))
	return pt, nil
}

// sincePrevious turns the loops' cumulative connection counters in total
// into this step's, and remembers the cumulative ones.
func (ls *latencyStepper) sincePrevious(total *WorkerStats) {
	cum := WorkerStats{Opened: total.Opened, Failed: total.Failed, Dropped: total.Dropped, Reasons: map[string]int64{}}
	for k, v := range total.Reasons {
		cum.Reasons[k] = v
	}
	total.Opened -= ls.prev.Opened
	total.Failed -= ls.prev.Failed
	total.Dropped -= ls.prev.Dropped
	for k, v := range ls.prev.Reasons {
		if total.Reasons[k] -= v; total.Reasons[k] <= 0 {
			delete(total.Reasons, k)
		}
	}
	ls.prev = cum
}

// summarizeLatency fills r's totals, failures and notes from its workloads.
func (r *Result) summarizeLatency() {
	type note struct {
		text   string
		labels []string
	}
	var notes []*note
	addNote := func(label, text string) {
		for _, n := range notes {
			if n.text == text {
				n.labels = append(n.labels, label)
				return
			}
		}
		notes = append(notes, &note{text: text, labels: []string{label}})
	}
	for wi := range r.Workloads {
		w := &r.Workloads[wi]
		r.Conns = max(r.Conns, w.Conns)
		r.Opened += w.Conns
		r.ConnectSeconds += w.ConnectSeconds
		for _, f := range w.Failures {
			r.fail("%s: %s", w.Workload, f)
		}
		points := slices.Clone(w.Steps)
		if w.Calibration != nil {
			points = append([]LatencyPoint{*w.Calibration}, points...)
		}
		for _, p := range points {
			label := w.Workload + " " + p.Label()
			r.RunSeconds += p.RunSeconds
			r.Sent += p.Sent
			r.Delivered += p.Delivered
			r.Expected += p.Expected
			r.Missing += p.Missing
			r.Dup += p.Dup
			r.Gaps += p.Gaps
			r.Foreign += p.Foreign
			r.Invalid += p.Invalid
			r.Errors += p.Errors
			for _, f := range p.Failures {
				r.fail("%s: %s", label, f)
			}
			for _, n := range p.Notes {
				addNote(label, n)
			}
		}
	}
	for _, n := range notes {
		r.Notes = append(r.Notes, strings.Join(n.labels, ", ")+": "+n.text)
	}
	if r.ConnectSeconds > 0 {
		r.ConnectRate = float64(r.Opened) / r.ConnectSeconds
	}
	r.OK = len(r.Failures) == 0
}
