package scenario

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Workloads of the latency scenario.
const (
	// WorkloadEcho sends {"type":"echo",…} requests on /ws/shootout; the
	// rate is in messages per second, all connections together.
	WorkloadEcho = "echo"
	// WorkloadRooms publishes from seat 0 of every room on /ws/room/r<id>;
	// the rate is in publishes per second, all rooms together (each
	// publish is delivered to the room's RoomSize members).
	WorkloadRooms = "rooms"
)

// LatencyWorkloads lists the latency scenario's workloads in report order.
var LatencyWorkloads = []string{WorkloadEcho, WorkloadRooms}

// DefaultLoad is the latency scenario's default offered load, in percent of
// the workload's maximum rate.
var DefaultLoad = []float64{25, 50, 75, 100}

// Latency scenario defaults (LatencySpec zero values).
const (
	defaultCalibrate = 2 * time.Second
	defaultWarmup    = 500 * time.Millisecond
	// stepLead is how far ahead of the workers the parent schedules a step's
	// start, so every loop of every worker starts on the same schedule.
	stepLead = 100 * time.Millisecond
)

// LatencySpec configures the latency scenario: an open-loop run of every
// workload at fixed offered rates, with latency measured from each
// message's scheduled send time (coordinated omission corrected).
type LatencySpec struct {
	// Workloads to run, in order. Default LatencyWorkloads.
	Workloads []string `json:"workloads"`
	// Load is the offered load in percent of the workload's maximum rate.
	// Default DefaultLoad.
	Load []float64 `json:"load"`
	// Rates are absolute offered rates per workload (echo: msgs/s, rooms:
	// publishes/s); a workload with rates ignores Load and MaxRate.
	Rates map[string][]float64 `json:"rates,omitempty"`
	// MaxRate is the maximum rate per workload that Load applies to. A
	// workload without one calibrates: a closed-loop run of Calibrate
	// measures the server's own maximum (the suite calibrates the peers
	// first and fills in the best peer's).
	MaxRate map[string]float64 `json:"max_rate,omitempty"`
	// MaxFrom says where each MaxRate came from ("-max-rate", "gws
	// calibration"); filled in by whoever sets MaxRate.
	MaxFrom map[string]string `json:"max_from,omitempty"`
	// Calibrated holds every calibrated maximum of the run: workload →
	// server → rate. Informational.
	Calibrated map[string]map[string]float64 `json:"calibrated,omitempty"`
	// Calibrate is the length of a closed-loop calibration run. Default 2s.
	Calibrate Duration `json:"calibrate"`
	// Warmup is the start of every step (and calibration run) left out of
	// the figures. Default 500ms, at most a quarter of the step.
	Warmup Duration `json:"warmup"`

	// Workload is the one workload the workers of a run drive; set by the run.
	Workload string `json:"workload,omitempty"`
}

// Step is one timed step of the latency scenario, as the parent sends it to
// the workers with the run command.
type Step struct {
	// Offered is the step's rate over all workers (echo: msgs/s, rooms:
	// publishes/s); 0 runs closed loop (calibration): every connection
	// (echo) or room (rooms) keeps Spec.Window messages in flight.
	Offered float64 `json:"offered"`
	// Start is the step's start in ns since the run epoch; send i of the
	// step is scheduled at Start + i/Offered.
	Start int64 `json:"start"`
	// Duration is the step's length; nothing is scheduled after
	// Start+Duration.
	Duration Duration `json:"duration"`
	// Warmup is left out of the figures: only messages scheduled (and, for
	// the achieved rate, received) from Start+Warmup on count.
	Warmup Duration `json:"warmup"`
}

// measureFrom and end bound the measured window, in ns since the run epoch.
func (s *Step) measureFrom() int64 { return s.Start + int64(s.Warmup) }
func (s *Step) end() int64         { return s.Start + int64(s.Duration) }

// withDefaults returns a copy of l with every zero setting filled in for
// steps of length step.
func (l *LatencySpec) withDefaults(step time.Duration) *LatencySpec {
	out := LatencySpec{}
	if l != nil {
		out = *l
	}
	if len(out.Workloads) == 0 {
		out.Workloads = slices.Clone(LatencyWorkloads)
	}
	if len(out.Load) == 0 {
		out.Load = slices.Clone(DefaultLoad)
	}
	if out.Calibrate <= 0 {
		out.Calibrate = Duration(defaultCalibrate)
	}
	if out.Warmup <= 0 {
		out.Warmup = Duration(defaultWarmup)
	}
	if step > 0 && time.Duration(out.Warmup) > step/4 {
		out.Warmup = Duration(step / 4)
	}
	return &out
}

// NeedsCalibration lists the workloads of l that have neither absolute
// rates nor a maximum rate.
func (l *LatencySpec) NeedsCalibration() []string {
	var out []string
	d := l.withDefaults(0)
	for _, w := range d.Workloads {
		if len(d.Rates[w]) == 0 && d.MaxRate[w] <= 0 {
			out = append(out, w)
		}
	}
	return out
}

// Unit is the rate unit of workload w.
func Unit(w string) string {
	if w == WorkloadRooms {
		return "publishes/s"
	}
	return "msgs/s"
}

// ParseWorkloads parses a comma list of workloads ("echo,rooms").
func ParseWorkloads(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(LatencyWorkloads, f) {
			return nil, fmt.Errorf("scenario: unknown workload %q (known: %s)", f, strings.Join(LatencyWorkloads, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scenario: no workload in %q", s)
	}
	return out, nil
}

// ParseRates parses a comma list of rates for workloads: a plain number
// ("5000") applies to every workload, "echo=5000" to one. The rates of a
// workload come back ascending, without duplicates; a workload named but
// not in workloads is an error.
func ParseRates(s string, workloads []string) (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		targets := workloads
		if name, v, ok := strings.Cut(f, "="); ok {
			name = strings.TrimSpace(name)
			if !slices.Contains(workloads, name) {
				return nil, fmt.Errorf("scenario: rate %q: workload %q is not run (workloads: %s)", f, name, strings.Join(workloads, ", "))
			}
			targets, f = []string{name}, strings.TrimSpace(v)
		}
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return nil, fmt.Errorf("scenario: rate %q: want a positive number", f)
		}
		for _, w := range targets {
			out[w] = append(out[w], r)
		}
	}
	for w, rs := range out {
		sort.Float64s(rs)
		out[w] = slices.Compact(rs)
	}
	return out, nil
}

// ParseLoad parses a comma list of percentages ("25,50,75,100"): positive,
// returned ascending without duplicates.
func ParseLoad(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "%"))
		if f == "" {
			continue
		}
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || p <= 0 || math.IsInf(p, 0) || math.IsNaN(p) {
			return nil, fmt.Errorf("scenario: load %q: want a positive percentage", f)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scenario: no load in %q", s)
	}
	sort.Float64s(out)
	return slices.Compact(out), nil
}

// Offer is the offered rate of one step: Rate sends per second, Percent of
// the workload's maximum (0 for an absolute rate).
type Offer struct {
	Percent float64
	Rate    float64
}

// Offers returns a workload's steps: its absolute rates when it has any,
// else the load percentages of max. They come ascending by rate, without
// duplicates; rates below one per second are dropped.
func Offers(rates []float64, max float64, load []float64) []Offer {
	var out []Offer
	if len(rates) > 0 {
		for _, r := range rates {
			out = append(out, Offer{Rate: r})
		}
	} else {
		for _, p := range load {
			out = append(out, Offer{Percent: p, Rate: max * p / 100})
		}
	}
	out = slices.DeleteFunc(out, func(o Offer) bool { return !(o.Rate >= 1) || math.IsInf(o.Rate, 0) })
	slices.SortStableFunc(out, func(a, b Offer) int { return cmp.Compare(a.Rate, b.Rate) })
	return slices.CompactFunc(out, func(a, b Offer) bool { return a.Rate == b.Rate })
}

// ReferenceMax picks the maximum the offered load is a percentage of, from
// the calibrated maxima of a run's servers: the best other server's (a
// peer's) when any peer has one, else ripple's own. from names the server;
// max is 0 when no server has a maximum.
func ReferenceMax(maxima map[string]float64) (max float64, from string) {
	names := make([]string, 0, len(maxima))
	for n := range maxima {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, peersOnly := range []bool{true, false} {
		for _, n := range names {
			if v := maxima[n]; (!peersOnly || n != "ripple") && v > max {
				max, from = v, n
			}
		}
		if max > 0 {
			return max, from
		}
	}
	return 0, ""
}

// shareOffset is the first index of part i when n items are split over
// parts as share does.
func shareOffset(n, parts, i int) int {
	if parts <= 0 {
		return 0
	}
	return i*(n/parts) + min(i, n%parts)
}

// schedule paces one loop's share of a step's sends. The step's senders
// (echo: connections, rooms: publishing seats) have global ids 0…total-1;
// global send i goes to sender i mod total at start + i/rate, so the sends
// of all loops together are spread evenly in time and over the senders.
// This loop owns the senders mine (global ids, ascending) and visits its
// sends in time order. A schedule is a value owned by its loop.
type schedule struct {
	start, end int64   // ns since the run epoch; nothing is scheduled at or after end
	rate       float64 // sends per second, all loops together
	total      int     // senders over all loops
	mine       []int   // this loop's senders, ascending global ids
	k          int64   // this loop's next send
}

// next returns the local index (into mine) and scheduled time of this
// loop's next send; ok is false once the schedule reaches its end.
func (s *schedule) next() (local int, at int64, ok bool) {
	if len(s.mine) == 0 || s.rate <= 0 || s.total <= 0 {
		return 0, 0, false
	}
	n := int64(len(s.mine))
	local = int(s.k % n)
	i := (s.k/n)*int64(s.total) + int64(s.mine[local])
	at = s.start + int64(float64(i)*float64(time.Second)/s.rate)
	if at >= s.end {
		return 0, 0, false
	}
	return local, at, true
}

// advance moves past the send next returned.
func (s *schedule) advance() { s.k++ }

// stop ends the schedule: next reports nothing more.
func (s *schedule) stop() { s.end = math.MinInt64 }
