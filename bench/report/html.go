package report

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/ripple-rt/ripple/bench/scenario"
)

var palette = map[string]string{
	"ripple":  "#1f77b4",
	"gorilla": "#d62728",
	"gws":     "#2ca02c",
	"nbio":    "#ff7f0e",
	// The protocols users would pick instead.
	"centrifuge": "#9467bd",
	"socketio":   "#8c564b",
}

func color(server string, i int) string {
	if c, ok := palette[server]; ok {
		return c
	}
	extra := []string{"#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	return extra[i%len(extra)]
}

func esc(s string) string { return html.EscapeString(s) }

// WriteHTML writes a self-contained HTML report (inline SVG, no scripts) to
// path.
func (r *Report) WriteHTML(path string) error {
	var b bytes.Buffer
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>ripple-bench report</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}.fail{color:#b00;font-weight:bold}.pass{color:#070}
.charts{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fff;border:1px solid #ddd}
code,pre{background:#f6f6f6;padding:2px 4px}
</style></head><body>`)
	fmt.Fprintf(&b, "<h1>ripple-bench report</h1><p>%s — %.0f s</p>", esc(r.Started.Format("2006-01-02 15:04:05 MST")), r.Elapsed)
	s := r.Settings
	fmt.Fprintf(&b, "<p><code>%s</code><br>GOGC=%d · server CPUs %q · generator CPUs %q · %d worker process(es) × %d loop(s) · %s · %s · %d CPUs · nofile %d · ports %s</p>",
		esc(s.Command), s.GOGC, s.ServerCPUs, s.ClientCPUs, s.Procs, s.Loops, esc(s.GoVersion), esc(s.Kernel), s.NumCPU, s.NoFile, esc(s.PortRange))
	if len(s.Configs) > 0 {
		b.WriteString("<p>Servers:</p><ul>")
		for _, c := range s.Configs {
			fmt.Fprintf(&b, "<li><b>%s</b>: %s</li>", esc(c.Server), esc(c.Config))
		}
		b.WriteString("</ul>")
	}

	if len(r.Checks) > 0 {
		b.WriteString("<h2>Ripple targets</h2><table><tr><th class=l>target</th><th class=l>want</th><th>ripple</th><th>reference</th><th>ratio</th><th>result</th></tr>")
		for _, c := range r.Checks {
			if c.Missing != "" {
				fmt.Fprintf(&b, "<tr><td class=l>%s</td><td class=l>%s</td><td colspan=4 class=l>n/a: %s</td></tr>", esc(c.Name), esc(c.Want), esc(c.Missing))
				continue
			}
			res := `<span class=fail>FAIL</span>`
			if c.Pass {
				res = `<span class=pass>pass</span>`
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
			fmt.Fprintf(&b, "<tr><td class=l>%s</td><td class=l>%s</td><td>%s</td><td>%s</td><td>%.2f×</td><td>%s</td></tr>",
				esc(c.Name), esc(c.Want), f(c.Ripple), f(c.Reference), c.Ratio, res)
		}
		b.WriteString("</table>")
	}

	b.WriteString(r.c1mSection())
	b.WriteString(r.recoverySection())
	b.WriteString("<h2>Charts</h2><div class=charts>")
	b.WriteString(r.rssChart())
	if v := r.barsFor(scenario.Idle, "idle: server RSS per connection (KiB, lower is better)", func(x *scenario.Result) float64 { return x.RSSPerConn / 1024 }); v != "" {
		b.WriteString(v)
	}
	b.WriteString(r.barsFor(scenario.Idle, "connect rate (connections/s)", func(x *scenario.Result) float64 { return x.ConnectRate }))
	for _, sc := range []string{scenario.Echo, scenario.Broadcast, scenario.Rooms, scenario.Presence} {
		unit := ""
		for _, x := range r.Results {
			if x.Scenario == sc && x.ThroughputUnit != "" {
				unit = x.ThroughputUnit
			}
		}
		b.WriteString(r.barsFor(sc, sc+": throughput ("+unit+")", func(x *scenario.Result) float64 { return x.Throughput }))
	}
	for _, sc := range scenario.Names {
		b.WriteString(r.latencyChart(sc))
	}
	for _, wl := range scenario.LatencyWorkloads {
		b.WriteString(r.loadChart(wl))
	}
	b.WriteString("</div>")

	b.WriteString("<h2>Results</h2><table><tr><th class=l>scenario</th><th class=l>server</th><th>conns</th><th>throughput</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>connect/s</th><th>handshake p50/p99</th><th>RSS/conn</th><th>kernel TCP buf / slab per conn</th><th>sent</th><th>delivered</th><th>cpu srv/gen</th><th>vs best other</th><th class=l>status</th></tr>")
	for _, x := range r.sorted() {
		if x.Skipped != "" {
			fmt.Fprintf(&b, "<tr><td class=l>%s</td><td class=l>%s</td><td colspan=15></td><td class=l>%s</td></tr>", x.Scenario, esc(x.Server), esc(skipLine(x)))
			continue
		}
		if x.Scenario == scenario.Latency {
			continue // its own table below
		}
		status := `<span class=pass>ok</span>`
		if !x.OK {
			status = `<span class=fail>FAIL</span>: ` + esc(strings.Join(x.Failures, "; "))
		}
		lat := x.Latency
		if x.Scenario == scenario.Recovery {
			lat = x.Join // replay latency
		}
		cpu := "-"
		if x.RunSeconds > 0 {
			cpu = fmt.Sprintf("%.0f%% / %.0f%% (machine %.1f cores)", x.ServerCPU*100, x.ClientCPU*100, x.MachineCPU)
		}
		rss, sock := "-", "-"
		if len(x.Samples) >= 2 {
			rss, sock = Bytes(x.RSSPerConn), Bytes(x.SockMemPerConn)+" / "+Bytes(x.SlabPerConn)
		}
		fmt.Fprintf(&b, "<tr><td class=l>%s</td><td class=l>%s</td><td>%d</td><td>%s %s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s / %s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td class=l>%s</td></tr>",
			x.Scenario, esc(x.Server), x.Conns, Count(x.Throughput), esc(x.ThroughputUnit),
			Dur(lat.P50), Dur(lat.P90), Dur(lat.P99), Dur(lat.P999), Dur(lat.Max), Count(x.ConnectRate),
			Dur(x.Handshake.P50), Dur(x.Handshake.P99), rss, sock, x.Sent, x.Delivered, cpu, r.ratio(x), status)
	}
	b.WriteString("</table>")
	b.WriteString(r.latencyTable())
	if len(r.Errors) > 0 {
		b.WriteString("<h2>Errors</h2><ul>")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "<li><b>%s %s</b>: <pre>%s</pre></li>", esc(e.Server), esc(e.Scenario), esc(e.Error))
		}
		b.WriteString("</ul>")
	}
	b.WriteString(`<p>Latency is measured at every receiver from a timestamp embedded in each message (idle: handshake time). RSS per connection is the slope of the server's VmRSS between the first and last idle sample; TCP memory is /proc/net/sockstat for the whole machine (client and server ends). Throughput counts messages received during the run window. The latency scenario is open loop: sends follow a fixed schedule whatever the server does, and latency runs from each message's scheduled send time, so a server (or generator) that falls behind is charged for the wait (coordinated omission corrected).</p></body></html>`)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

const (
	chartW = 560
	chartH = 300
	padL   = 70
	padR   = 20
	padT   = 36
	padB   = 44
)

func svgOpen(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>`, padL, esc(title))
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func axisLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// decade labels a power of ten of nanoseconds: 1µs, 10ms, 1s.
func decade(ns float64) string {
	units := []struct {
		div  float64
		name string
	}{{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}}
	for _, u := range units {
		if ns >= u.div {
			return fmt.Sprintf("%g%s", math.Round(ns/u.div), u.name)
		}
	}
	return "0"
}

// barsFor draws one bar per server for scenario sc.
func (r *Report) barsFor(sc, title string, val func(*scenario.Result) float64) string {
	var names []string
	var vals []float64
	for _, x := range r.sorted() {
		if x.Scenario == sc && x.Skipped == "" {
			if v := val(x); v > 0 && !math.IsNaN(v) {
				names = append(names, x.Server)
				vals = append(vals, v)
			}
		}
	}
	if len(vals) == 0 {
		return ""
	}
	var b strings.Builder
	svgOpen(&b, title)
	top := 0.0
	for _, v := range vals {
		top = math.Max(top, v)
	}
	top = niceMax(top)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		y := float64(padT) + plotH*(1-float64(i)/4)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y, y, padL-6, y+4, axisLabel(v))
	}
	slot := plotW / float64(len(vals))
	for i, v := range vals {
		h := plotH * v / top
		x := float64(padL) + slot*float64(i) + slot*0.15
		y := float64(padT) + plotH - h
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
			x, y, slot*0.7, h, color(names[i], i), esc(names[i]), Count(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+slot*0.35, y-4, Count(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+slot*0.35, chartH-padB+16, esc(names[i]))
	}
	b.WriteString("</svg>")
	return b.String()
}

// rssChart draws server RSS against open connections for every server with
// idle samples.
func (r *Report) rssChart() string {
	type series struct {
		name string
		pts  [][2]float64
	}
	var ss []series
	maxX, maxY := 0.0, 0.0
	for _, x := range r.sorted() {
		if x.Scenario != scenario.Idle || len(x.Samples) == 0 {
			continue
		}
		s := series{name: x.Server}
		for _, p := range x.Samples {
			px, py := float64(p.Conns), float64(p.RSS)/(1<<20)
			s.pts = append(s.pts, [2]float64{px, py})
			maxX, maxY = math.Max(maxX, px), math.Max(maxY, py)
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		return ""
	}
	var b strings.Builder
	svgOpen(&b, "idle: server RSS (MiB) vs open connections")
	maxX, maxY = niceMax(maxX), niceMax(maxY)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	for i := 0; i <= 4; i++ {
		y := float64(padT) + plotH*(1-float64(i)/4)
		x := float64(padL) + plotW*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y, y, padL-6, y+4, axisLabel(maxY*float64(i)/4))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-padB+16, axisLabel(maxX*float64(i)/4))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">connections</text>`, float64(padL)+plotW/2, chartH-8)
	for i, s := range ss {
		var pts []string
		for _, p := range s.pts {
			px := float64(padL) + plotW*p[0]/maxX
			py := float64(padT) + plotH*(1-p[1]/maxY)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %.0f conns, %.1f MiB</title></circle>`, px, py, color(s.name, i), esc(s.name), p[0], p[1])
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color(s.name, i), strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			padL+10, padT+4+i*15, color(s.name, i), padL+24, padT+13+i*15, esc(s.name))
	}
	b.WriteString("</svg>")
	return b.String()
}

// latencyChart draws p50/p90/p99/p99.9 per server on a log scale.
func (r *Report) latencyChart(sc string) string {
	var xs []*scenario.Result
	for _, x := range r.sorted() {
		if x.Scenario == sc && x.Skipped == "" {
			l := x.Latency
			if sc == scenario.Idle {
				l = x.Handshake
			}
			if l.N > 0 {
				xs = append(xs, x)
			}
		}
	}
	if len(xs) == 0 {
		return ""
	}
	title := sc + ": latency percentiles (log scale)"
	if sc == scenario.Idle {
		title = "idle: handshake latency percentiles (log scale)"
	}
	labels := []string{"p50", "p90", "p99", "p99.9"}
	val := func(x *scenario.Result) []float64 {
		l := x.Latency
		if sc == scenario.Idle {
			l = x.Handshake
		}
		return []float64{float64(l.P50), float64(l.P90), float64(l.P99), float64(l.P999)}
	}
	lo, hi := math.Inf(1), 0.0
	for _, x := range xs {
		for _, v := range val(x) {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		return ""
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	var b strings.Builder
	svgOpen(&b, title)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	ly := func(v float64) float64 {
		if v <= lo {
			return float64(padT) + plotH
		}
		return float64(padT) + plotH*(1-(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
	}
	for d := lo; d <= hi*1.001; d *= 10 {
		y := ly(d)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y, y, padL-6, y+4, decade(d))
	}
	group := plotW / float64(len(labels))
	bw := group * 0.8 / float64(len(xs))
	for gi, lab := range labels {
		gx := float64(padL) + group*float64(gi) + group*0.1
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, gx+group*0.4, chartH-padB+16, lab)
		for si, x := range xs {
			v := val(x)[gi]
			y := ly(v)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				gx+bw*float64(si), y, bw*0.9, float64(padT)+plotH-y, color(x.Server, si), esc(x.Server), lab, Dur(int64(v)))
		}
	}
	for si, x := range xs {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			padL+10+si*80, chartH-18, color(x.Server, si), padL+24+si*80, chartH-9, esc(x.Server))
	}
	b.WriteString("</svg>")
	return b.String()
}
