package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ripple-rt/ripple/bench/scenario"
)

// Settings describe how a suite ran; they are printed with the results.
type Settings struct {
	Command    string `json:"command"`
	GOGC       int    `json:"gogc"`
	ServerCPUs string `json:"server_cpus"`
	ClientCPUs string `json:"client_cpus"`
	Procs      int    `json:"procs"`
	Loops      int    `json:"loops"`
	GoVersion  string `json:"go_version"`
	Kernel     string `json:"kernel"`
	NumCPU     int    `json:"num_cpu"`
	NoFile     uint64 `json:"nofile"`
	PortRange  string `json:"port_range"`
	// CPULatency says whether the run held a PM QoS wake-up latency of 0
	// (idle CPUs poll instead of halting), or why not.
	CPULatency string   `json:"cpu_latency"`
	Servers    []string `json:"servers"`
	Scenarios  []string `json:"scenarios"`
	// Configs says, per server the suite built, how it is configured.
	Configs []ServerConfig `json:"configs,omitempty"`
}

// ServerConfig is one server's configuration, in one line.
type ServerConfig struct {
	Server string `json:"server"`
	Config string `json:"config"`
}

// RunError is a server/scenario pair that could not be measured.
type RunError struct {
	Server   string `json:"server"`
	Scenario string `json:"scenario,omitempty"`
	Error    string `json:"error"`
}

// Report is everything a suite produced.
type Report struct {
	Started  time.Time          `json:"started"`
	Elapsed  float64            `json:"elapsed_seconds"`
	Settings Settings           `json:"settings"`
	Results  []*scenario.Result `json:"results"`
	Errors   []RunError         `json:"errors,omitempty"`
	Checks   []Check            `json:"targets,omitempty"`
}

// Check is one of Ripple's targets measured against the peers of the same run.
type Check struct {
	Name      string  `json:"name"`
	Want      string  `json:"want"`
	Ripple    float64 `json:"ripple"`
	Reference float64 `json:"reference"`
	Ratio     float64 `json:"ratio"`
	Pass      bool    `json:"pass"`
	Missing   string  `json:"missing,omitempty"` // why it could not be evaluated
	Unit      string  `json:"unit"`
}

// Find returns the result of server in scenario, or nil.
func (r *Report) Find(scen, server string) *scenario.Result {
	for _, x := range r.Results {
		if x.Scenario == scen && x.Server == server && x.Skipped == "" {
			return x
		}
	}
	return nil
}

// peerNames are the servers Ripple is compared with, in report order after
// ripple.
var peerNames = []string{"gorilla", "gws", "nbio", "centrifuge", "socketio"}

// Evaluate computes Ripple's target checks from the results.
func (r *Report) Evaluate() {
	r.Checks = nil
	best := func(scen string, names []string, val func(*scenario.Result) float64, higher bool) (float64, string) {
		v, who := math.NaN(), ""
		for _, n := range names {
			x := r.Find(scen, n)
			if x == nil {
				continue
			}
			xv := val(x)
			if math.IsNaN(xv) {
				continue
			}
			if math.IsNaN(v) || (higher && xv > v) || (!higher && xv < v) {
				v, who = xv, n
			}
		}
		return v, who
	}
	add := func(c Check, rippleOK bool, ref float64, refWho string, higher bool) {
		switch {
		case !rippleOK:
			c.Missing = "no ripple result"
		case math.IsNaN(ref):
			c.Missing = "no peer result"
		default:
			c.Reference = ref
			if ref != 0 {
				c.Ratio = c.Ripple / ref
			}
			if refWho != "" {
				c.Want += " (" + refWho + ")"
			}
		}
		r.Checks = append(r.Checks, c)
	}
	thr := func(x *scenario.Result) float64 { return x.Throughput }
	p99 := func(x *scenario.Result) float64 { return float64(x.Latency.P99) }
	conn := func(x *scenario.Result) float64 { return x.ConnectRate }

	if x := r.Find(scenario.Idle, "ripple"); x != nil && len(x.Samples) >= 2 {
		c := Check{Name: "idle RSS per connection", Want: "≤ 1.0 KiB", Ripple: x.RSSPerConn, Unit: "bytes"}
		c.Reference, c.Ratio, c.Pass = 1024, x.RSSPerConn/1024, x.RSSPerConn <= 1024
		r.Checks = append(r.Checks, c)
	} else {
		r.Checks = append(r.Checks, Check{Name: "idle RSS per connection", Want: "≤ 1.0 KiB", Missing: "no ripple idle result with RSS samples", Unit: "bytes"})
	}
	rip := r.Find(scenario.Idle, "ripple")
	{
		ref, who := best(scenario.Idle, peerNames, func(x *scenario.Result) float64 {
			if len(x.Samples) < 2 {
				return math.NaN()
			}
			return x.RSSPerConn
		}, false)
		c := Check{Name: "idle RSS per connection vs best peer", Want: "< best peer", Unit: "bytes"}
		ok := rip != nil && len(rip.Samples) >= 2
		if ok {
			c.Ripple = rip.RSSPerConn
			c.Pass = !math.IsNaN(ref) && rip.RSSPerConn < ref && rip.OK
		}
		add(c, ok, ref, who, false)
	}
	{
		ref, who := best(scenario.Idle, peerNames, conn, true)
		c := Check{Name: "connect rate", Want: "≥ best peer", Unit: "conns/s"}
		if rip != nil {
			c.Ripple = rip.ConnectRate
			c.Pass = !math.IsNaN(ref) && rip.ConnectRate >= ref
		}
		add(c, rip != nil, ref, who, true)
	}
	rb := r.Find(scenario.Broadcast, "ripple")
	{
		ref, _ := best(scenario.Broadcast, []string{"gorilla"}, thr, true)
		c := Check{Name: "broadcast deliveries/s vs gorilla hub", Want: "≥ 2.0×", Unit: "deliveries/s"}
		if rb != nil {
			c.Ripple = rb.Throughput
			c.Pass = !math.IsNaN(ref) && rb.Throughput >= 2*ref && rb.OK
		}
		add(c, rb != nil, ref, "", true)

		ref, who := best(scenario.Broadcast, peerNames, thr, true)
		c = Check{Name: "broadcast deliveries/s vs best peer", Want: "≥ 1.2×", Unit: "deliveries/s"}
		if rb != nil {
			c.Ripple = rb.Throughput
			c.Pass = !math.IsNaN(ref) && rb.Throughput >= 1.2*ref && rb.OK
		}
		add(c, rb != nil, ref, who, true)

		ref, who = best(scenario.Broadcast, peerNames, p99, false)
		c = Check{Name: "broadcast p99 latency", Want: "< lowest peer p99", Unit: "ns"}
		if rb != nil {
			c.Ripple = float64(rb.Latency.P99)
			c.Pass = !math.IsNaN(ref) && c.Ripple < ref && rb.OK
		}
		add(c, rb != nil, ref, who, false)
	}
	// Phoenix Channels against the raw protocol, when the run had both
	// (-protocol raw,phoenix).
	for _, sc := range []string{scenario.Broadcast, scenario.Rooms} {
		raw, phx := r.Find(sc, "ripple"), r.Find(sc, "ripple/"+scenario.Phoenix)
		if raw == nil || phx == nil || raw.Throughput <= 0 {
			continue
		}
		c := Check{Name: sc + " deliveries/s: Phoenix vs raw", Want: "≥ 0.90× (ripple/phoenix vs ripple)", Unit: "deliveries/s",
			Ripple: phx.Throughput, Reference: raw.Throughput, Ratio: phx.Throughput / raw.Throughput}
		c.Pass = c.Ratio >= 0.9 && phx.OK && raw.OK
		r.Checks = append(r.Checks, c)
	}
	re := r.Find(scenario.Echo, "ripple")
	{
		ref, who := best(scenario.Echo, peerNames, thr, true)
		c := Check{Name: "echo msgs/s", Want: "≥ best peer", Unit: "msgs/s"}
		if re != nil {
			c.Ripple = re.Throughput
			c.Pass = !math.IsNaN(ref) && re.Throughput >= ref && re.OK
		}
		add(c, re != nil, ref, who, true)
	}
	p50 := func(x *scenario.Result) float64 { return float64(x.Latency.P50) }
	latencyChecks := func(scen, what string) {
		rx := r.Find(scen, "ripple")
		for _, pc := range []struct {
			name string
			val  func(*scenario.Result) float64
		}{{"p50", p50}, {"p99", p99}} {
			ref, who := best(scen, peerNames, pc.val, false)
			c := Check{Name: what + " " + pc.name, Want: "≤ best peer", Unit: "ns"}
			if rx != nil {
				c.Ripple = pc.val(rx)
				c.Pass = !math.IsNaN(ref) && c.Ripple <= ref && rx.OK
			}
			add(c, rx != nil, ref, who, false)
		}
	}
	latencyChecks(scenario.Rooms, "rooms latency")
	rp := r.Find(scenario.Presence, "ripple")
	{
		ref, who := best(scenario.Presence, peerNames, thr, true)
		c := Check{Name: "presence diffs/s", Want: "≥ best peer", Unit: "diffs/s"}
		if rp != nil {
			c.Ripple = rp.Throughput
			c.Pass = !math.IsNaN(ref) && rp.Throughput >= ref && rp.OK
		}
		add(c, rp != nil, ref, who, true)
	}
	latencyChecks(scenario.Presence, "presence diff latency")
	r.evaluateLatency()
}

// ratio returns x's key metric over the best other server's in the same
// scenario (higher is better for throughput and connect rate; for idle the
// ratio is of RSS per connection, lower is better).
func (r *Report) ratio(x *scenario.Result) string {
	var bestV float64
	found := false
	for _, o := range r.Results {
		if o.Scenario != x.Scenario || o.Server == x.Server || o.Skipped != "" {
			continue
		}
		v := keyMetric(o)
		if v <= 0 {
			continue
		}
		if !found || (x.Scenario == scenario.Idle && v < bestV) || (x.Scenario != scenario.Idle && v > bestV) {
			bestV, found = v, true
		}
	}
	v := keyMetric(x)
	if !found || v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", v/bestV)
}

func keyMetric(x *scenario.Result) float64 {
	if x.Scenario == scenario.Idle {
		return x.RSSPerConn
	}
	return x.Throughput
}

// WriteTable prints the results as one table, then the target checks.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\tserver\tconns\tthroughput\tp50\tp99\tp99.9\tmax\tconnect/s\tRSS/conn\tcpu srv/gen\tvs best other\tstatus\t")
	for _, x := range r.sorted() {
		if x.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t\n", x.Scenario, x.Server, skipStatus(x))
			continue
		}
		if x.Scenario == scenario.Latency {
			continue // one row per workload and offered rate, below
		}
		lat := x.Latency
		thr := fmt.Sprintf("%s %s", Count(x.Throughput), x.ThroughputUnit)
		if x.Scenario == scenario.Idle {
			lat = x.Handshake
			thr = "(handshake)"
		}
		if x.Scenario == scenario.Recovery {
			lat = x.Join // replay latency
		}
		rss := "-"
		if x.RSSPerConn != 0 {
			rss = Bytes(x.RSSPerConn)
		}
		cpu := "-"
		if x.RunSeconds > 0 {
			cpu = fmt.Sprintf("%.0f%%/%.0f%%", x.ServerCPU*100, x.ClientCPU*100)
		}
		status := "ok"
		if !x.OK {
			status = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			x.Scenario, x.Server, x.Conns, thr, Dur(lat.P50), Dur(lat.P99), Dur(lat.P999), Dur(lat.Max),
			Count(x.ConnectRate), rss, cpu, r.ratio(x), status)
	}
	for _, row := range r.latencyRows() {
		p := row.point
		cpu := "-"
		if p.RunSeconds > 0 {
			cpu = fmt.Sprintf("%.0f%%/%.0f%%", p.ServerCPU*100, p.ClientCPU*100)
		}
		status := "ok"
		if !p.OK {
			status = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t-\t-\t%s\t%s\t%s\t\n",
			"latency "+row.workload.Workload+" "+p.Label(), row.result.Server, row.workload.Conns,
			fmt.Sprintf("%s of %s %s", Count(p.Achieved), Count(p.Offered), row.workload.Unit),
			Dur(p.Latency.P50), Dur(p.Latency.P99), Dur(p.Latency.P999), Dur(p.Latency.Max), cpu, row.vsBest, status)
	}
	tw.Flush()
	for _, line := range r.latencyMaxima() {
		fmt.Fprintln(w, "  "+line)
	}
	for _, x := range r.sorted() {
		if x.Skipped != "" {
			fmt.Fprintf(w, "  %s/%s %s\n", x.Server, x.Scenario, skipLine(x))
		}
		for _, f := range x.Failures {
			fmt.Fprintf(w, "  %s/%s FAIL: %s\n", x.Server, x.Scenario, f)
		}
		for _, n := range x.Notes {
			fmt.Fprintf(w, "  %s/%s note: %s\n", x.Server, x.Scenario, n)
		}
		if x.Scenario == scenario.Idle && len(x.Samples) >= 2 {
			fmt.Fprintf(w, "  %s/idle: server RSS %s per connection; kernel, both ends, machine-wide: TCP buffers %s, slab %s per connection; handshake p50 %s p99 %s\n",
				x.Server, Bytes(x.RSSPerConn), Bytes(x.SockMemPerConn), Bytes(x.SlabPerConn), Dur(x.Handshake.P50), Dur(x.Handshake.P99))
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  %s/%s ERROR: %s\n", e.Server, e.Scenario, e.Error)
	}
	evaluated := false
	for _, c := range r.Checks {
		evaluated = evaluated || c.Missing == ""
	}
	if evaluated {
		fmt.Fprintln(w, "\nRipple targets (same run, same machine):")
		for _, c := range r.Checks {
			fmt.Fprintln(w, "  "+c.String())
		}
	}
	if len(r.Settings.Configs) > 0 {
		fmt.Fprintln(w, "\nservers:")
		for _, c := range r.Settings.Configs {
			fmt.Fprintf(w, "  %s: %s\n", c.Server, c.Config)
		}
	}
	s := r.Settings
	fmt.Fprintf(w, "\nsettings: GOGC=%d server cpus=%q generator cpus=%q procs=%d loops=%d %s %s cpus=%d nofile=%d ports=%s cpu wake-up latency: %s\n",
		s.GOGC, s.ServerCPUs, s.ClientCPUs, s.Procs, s.Loops, s.GoVersion, s.Kernel, s.NumCPU, s.NoFile, s.PortRange, s.CPULatency)
}

// skipStatus is a skipped result's status: "not supported" when the server
// lacks what the scenario needs, else "skipped".
func skipStatus(x *scenario.Result) string {
	if strings.HasPrefix(x.Skipped, "not supported") {
		return "not supported"
	}
	return "skipped"
}

// skipLine says why a result was skipped.
func skipLine(x *scenario.Result) string {
	if strings.HasPrefix(x.Skipped, "not supported") {
		return x.Skipped
	}
	return "skipped: " + x.Skipped
}

// String formats a check as one line.
func (c Check) String() string {
	mark := "FAIL"
	if c.Pass {
		mark = "pass"
	}
	if c.Missing != "" {
		return fmt.Sprintf("[n/a ] %-44s want %s: %s", c.Name, c.Want, c.Missing)
	}
	f := func(v float64) string {
		switch c.Unit {
		case "ns":
			return Dur(int64(v))
		case "bytes":
			return Bytes(v)
		}
		return Count(v) + " " + c.Unit
	}
	return fmt.Sprintf("[%s] %-44s want %s: ripple %s vs %s = %.2f×", mark, c.Name, c.Want, f(c.Ripple), f(c.Reference), c.Ratio)
}

func (r *Report) sorted() []*scenario.Result {
	order := map[string]int{}
	for i, n := range scenario.Names {
		order[n] = i
	}
	srv := map[string]int{"ripple": 0, "ripple/" + scenario.Phoenix: 0}
	for i, n := range peerNames {
		srv[n] = i + 1
	}
	out := append([]*scenario.Result(nil), r.Results...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if order[a.Scenario] != order[b.Scenario] {
			return order[a.Scenario] < order[b.Scenario]
		}
		sa, oka := srv[a.Server]
		sb, okb := srv[b.Server]
		if !oka {
			sa = 9
		}
		if !okb {
			sb = 9
		}
		return sa < sb
	})
	return out
}

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Dur formats nanoseconds for a table cell.
func Dur(ns int64) string {
	d := float64(ns)
	switch {
	case ns == 0:
		return "-"
	case d < 1e3:
		return fmt.Sprintf("%dns", ns)
	case d < 1e6:
		return fmt.Sprintf("%.0fµs", d/1e3)
	case d < 1e8:
		return fmt.Sprintf("%.2fms", d/1e6)
	case d < 1e9:
		return fmt.Sprintf("%.0fms", d/1e6)
	}
	return fmt.Sprintf("%.2fs", d/1e9)
}

// Count formats a rate or count with k/M suffixes.
func Count(v float64) string {
	switch {
	case v == 0:
		return "-"
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// Bytes formats a byte count.
func Bytes(v float64) string {
	switch {
	case math.Abs(v) >= 1<<20:
		return fmt.Sprintf("%.1fMiB", v/(1<<20))
	case math.Abs(v) >= 1<<10:
		return fmt.Sprintf("%.2fKiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0fB", v)
}
