package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/scenario"
)

// latencyRow is one row of the latency scenario: a server's point at one
// offered rate of one workload.
type latencyRow struct {
	result   *scenario.Result
	workload *scenario.LatencyWorkload
	point    *scenario.LatencyPoint
	vsBest   string // p99 over the best other server's at the same offered rate
}

// latencyRows lists the latency scenario's points by workload, then
// offered rate, then server, so the servers sit side by side at each rate.
func (r *Report) latencyRows() []latencyRow {
	var rows []latencyRow
	for _, x := range r.sorted() {
		if x.Scenario != scenario.Latency || x.Skipped != "" {
			continue
		}
		for wi := range x.Workloads {
			w := &x.Workloads[wi]
			for pi := range w.Steps {
				rows = append(rows, latencyRow{result: x, workload: w, point: &w.Steps[pi]})
			}
		}
	}
	wlOrder := func(w string) int {
		if i := slices.Index(scenario.LatencyWorkloads, w); i >= 0 {
			return i
		}
		return len(scenario.LatencyWorkloads)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.workload.Workload != b.workload.Workload {
			return wlOrder(a.workload.Workload) < wlOrder(b.workload.Workload)
		}
		return a.point.Offered < b.point.Offered
	})
	for i := range rows {
		a := &rows[i]
		best := math.Inf(1)
		for _, b := range rows {
			if b.result != a.result && b.workload.Workload == a.workload.Workload && b.point.Offered == a.point.Offered && b.point.Latency.P99 > 0 {
				best = math.Min(best, float64(b.point.Latency.P99))
			}
		}
		a.vsBest = "-"
		if !math.IsInf(best, 1) && a.point.Latency.P99 > 0 {
			a.vsBest = fmt.Sprintf("p99 %.2f×", float64(a.point.Latency.P99)/best)
		}
	}
	return rows
}

// latencyMaxima says, per workload, which maximum rate the offered load
// refers to and what the calibrations measured.
func (r *Report) latencyMaxima() []string {
	var out []string
	for _, x := range r.sorted() {
		if x.Scenario != scenario.Latency || x.Skipped != "" {
			continue
		}
		for _, w := range x.Workloads {
			var line string
			switch {
			case w.MaxFrom == "own calibration":
				line = fmt.Sprintf("latency %s/%s: load in %% of its own closed-loop maximum, %s %s", x.Server, w.Workload, Count(w.MaxRate), w.Unit)
			case w.MaxRate > 0:
				line = fmt.Sprintf("latency %s: load in %% of %s %s (%s)", w.Workload, Count(w.MaxRate), w.Unit, w.MaxFrom)
				if ls := x.Spec.Latency; ls != nil && len(ls.Calibrated[w.Workload]) > 0 {
					m := ls.Calibrated[w.Workload]
					names := make([]string, 0, len(m))
					for n := range m {
						names = append(names, n)
					}
					sort.Strings(names)
					var cal []string
					for _, n := range names {
						cal = append(cal, n+" "+Count(m[n]))
					}
					line += "; closed-loop maxima: " + strings.Join(cal, ", ")
				}
			case len(w.Steps) > 0:
				line = fmt.Sprintf("latency %s: absolute offered rates in %s", w.Workload, w.Unit)
			default:
				continue
			}
			if !slices.Contains(out, line) {
				out = append(out, line)
			}
		}
	}
	return out
}

// evaluateLatency adds, when the report has latency results, Ripple's
// latency targets for every workload: p50 and p99 no worse than the best
// peer's at every offered load, and p99.9 within twice its own p99.
func (r *Report) evaluateLatency() {
	var workloads []string
	for _, x := range r.Results {
		if x.Scenario != scenario.Latency || x.Skipped != "" {
			continue
		}
		for _, w := range x.Workloads {
			if !slices.Contains(workloads, w.Workload) {
				workloads = append(workloads, w.Workload)
			}
		}
	}
	rip := r.Find(scenario.Latency, "ripple")
	for _, wl := range workloads {
		var rw *scenario.LatencyWorkload
		if rip != nil {
			rw = rip.Workload(wl)
		}
		for _, pc := range []struct {
			name string
			val  func(hist.Summary) int64
		}{
			{"p50", func(s hist.Summary) int64 { return s.P50 }},
			{"p99", func(s hist.Summary) int64 { return s.P99 }},
		} {
			c := Check{Name: fmt.Sprintf("latency %s %s at every offered load", wl, pc.name), Want: "≤ best peer", Unit: "ns"}
			if rw == nil {
				c.Missing = "no ripple result"
				r.Checks = append(r.Checks, c)
				continue
			}
			worst, compared, pass, where := -1.0, 0, true, ""
			for _, p := range rw.Steps {
				ref, who := r.bestPeerAt(wl, p.Offered, pc.val)
				if who == "" {
					continue
				}
				compared++
				v := float64(pc.val(p.Latency))
				if v > ref || !p.OK {
					pass = false
				}
				if ratio := v / math.Max(ref, 1); ratio > worst {
					worst, where = ratio, who+" at "+p.Label()
					c.Ripple, c.Reference, c.Ratio = v, ref, ratio
				}
			}
			if compared == 0 {
				c.Missing = "no peer result at the same offered load"
			} else {
				c.Pass = pass
				c.Want += " (worst: " + where + ")"
			}
			r.Checks = append(r.Checks, c)
		}
		c := Check{Name: fmt.Sprintf("latency %s p99.9 at every offered load", wl), Want: "≤ 2× own p99", Unit: "ns"}
		if rw == nil || len(rw.Steps) == 0 {
			c.Missing = "no ripple result"
			r.Checks = append(r.Checks, c)
			continue
		}
		worst, pass, where := -1.0, true, ""
		for _, p := range rw.Steps {
			ratio := float64(p.Latency.P999) / math.Max(float64(p.Latency.P99), 1)
			if ratio > 2 || !p.OK {
				pass = false
			}
			if ratio > worst {
				worst, where = ratio, p.Label()
				c.Ripple, c.Reference, c.Ratio = float64(p.Latency.P999), float64(p.Latency.P99), ratio
			}
		}
		c.Pass = pass
		c.Want += " (worst: " + where + ")"
		r.Checks = append(r.Checks, c)
	}
}

// bestPeerAt returns the lowest val among the peers' points of workload wl
// at offered rate offered, and the peer's name ("" when none has one).
func (r *Report) bestPeerAt(wl string, offered float64, val func(hist.Summary) int64) (float64, string) {
	best, who := math.Inf(1), ""
	for _, n := range peerNames {
		x := r.Find(scenario.Latency, n)
		if x == nil {
			continue
		}
		w := x.Workload(wl)
		if w == nil {
			continue
		}
		for _, p := range w.Steps {
			if v := float64(val(p.Latency)); p.Offered == offered && p.Latency.N > 0 && v < best {
				best, who = v, n
			}
		}
	}
	return best, who
}

// latencyTable is the HTML table of the latency scenario's points.
func (r *Report) latencyTable() string {
	rows := r.latencyRows()
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("<h2>Latency at fixed offered load (open loop)</h2><p>Latency runs from each message's scheduled send time to its receipt at every receiver; the warm-up of every step is left out. Generator lag is how late the generator sent against the schedule (counted in the latency).")
	for _, line := range r.latencyMaxima() {
		b.WriteString("<br>" + esc(line))
	}
	b.WriteString("</p><table><tr><th class=l>workload</th><th>load</th><th>offered</th><th class=l>server</th><th>achieved</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>generator lag p99</th><th>sent</th><th>delivered</th><th>cpu srv/gen</th><th>vs best other</th><th class=l>status</th></tr>")
	for _, row := range rows {
		p := row.point
		status := `<span class=pass>ok</span>`
		if !p.OK {
			status = `<span class=fail>FAIL</span>: ` + esc(strings.Join(p.Failures, "; "))
		}
		cpu := "-"
		if p.RunSeconds > 0 {
			cpu = fmt.Sprintf("%.0f%% / %.0f%%", p.ServerCPU*100, p.ClientCPU*100)
		}
		l := p.Latency
		fmt.Fprintf(&b, "<tr><td class=l>%s</td><td>%s</td><td>%s %s</td><td class=l>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td class=l>%s</td></tr>",
			esc(row.workload.Workload), esc(p.Label()), Count(p.Offered), esc(row.workload.Unit), esc(row.result.Server), Count(p.Achieved),
			Dur(l.P50), Dur(l.P90), Dur(l.P99), Dur(l.P999), Dur(l.Max), Dur(p.Lag.P99), p.Sent, p.Delivered, cpu, esc(row.vsBest), status)
	}
	b.WriteString("</table>")
	return b.String()
}

// loadChart draws the latency scenario's workload wl: p99 (solid) and p50
// (dashed) latency on a log scale against the offered load, one line per
// server.
func (r *Report) loadChart(wl string) string {
	type series struct {
		name string
		pts  []scenario.LatencyPoint
	}
	var ss []series
	unit := ""
	maxX, lo, hi := 0.0, math.Inf(1), 0.0
	for _, x := range r.sorted() {
		if x.Scenario != scenario.Latency || x.Skipped != "" {
			continue
		}
		w := x.Workload(wl)
		if w == nil || len(w.Steps) == 0 {
			continue
		}
		unit = w.Unit
		ss = append(ss, series{name: x.Server, pts: w.Steps})
		for _, p := range w.Steps {
			maxX = math.Max(maxX, p.Offered)
			for _, v := range []int64{p.Latency.P50, p.Latency.P99} {
				if v > 0 {
					lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
				}
			}
		}
	}
	if len(ss) == 0 || hi == 0 {
		return ""
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	maxX = fineMax(maxX)
	var b strings.Builder
	svgOpen(&b, "latency "+wl+": p99 (solid), p50 (dashed) vs offered load")
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(v float64) float64 { return float64(padL) + plotW*v/maxX }
	py := func(v float64) float64 {
		if v <= lo {
			return float64(padT) + plotH
		}
		return float64(padT) + plotH*(1-(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
	}
	for d := lo; d <= hi*1.001; d *= 10 {
		y := py(d)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y, y, padL-6, y+4, decade(d))
	}
	for i := 0; i <= 4; i++ {
		v := maxX * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#f3f3f3"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`,
			px(v), px(v), padT, float64(padT)+plotH, px(v), chartH-padB+16, axisLabel(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">offered load (%s)</text>`, float64(padL)+plotW/2, chartH-10, esc(unit))
	for si, s := range ss {
		col := color(s.name, si)
		for _, pc := range []struct {
			name, dash string
			r          float64
			val        func(hist.Summary) int64
		}{
			{"p99", "", 3, func(h hist.Summary) int64 { return h.P99 }},
			{"p50", ` stroke-dasharray="5,4"`, 2, func(h hist.Summary) int64 { return h.P50 }},
		} {
			var pts []string
			for _, p := range s.pts {
				v := float64(pc.val(p.Latency))
				if v <= 0 {
					continue
				}
				x, y := px(p.Offered), py(v)
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.0f" fill="%s"><title>%s %s at %s %s (%s, achieved %s): %s</title></circle>`,
					x, y, pc.r, col, esc(s.name), pc.name, Count(p.Offered), esc(unit), esc(p.Label()), Count(p.Achieved), Dur(int64(v)))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, col, pc.dash, strings.Join(pts, " "))
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			padL+10, padT+4+si*15, col, padL+24, padT+13+si*15, esc(s.name))
	}
	b.WriteString("</svg>")
	return b.String()
}

// fineMax rounds v up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power
// of ten: offered rates are percentages of a measured maximum, and niceMax's
// coarser steps would leave up to half of the axis empty.
func fineMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}
