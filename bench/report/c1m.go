package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/ripple-rt/ripple/bench/scenario"
)

// c1mSection renders every c1m result: its stages as a table and three
// charts (connections against time, server RSS against connections, the
// broadcast's delivery CDF).
func (r *Report) c1mSection() string {
	var b strings.Builder
	for _, x := range r.sorted() {
		c := x.C1M
		if x.Scenario != scenario.C1M || c == nil {
			continue
		}
		fmt.Fprintf(&b, "<h2>C1M: %d connections over %d nodes</h2>", c.Open, c.Nodes)
		fmt.Fprintf(&b, "<p>%d ripple cluster nodes on one redis-server and %d generator processes, at most %d connections each; whole run %.0f s. The nodes' flags: <code>%s</code>.</p>",
			c.Nodes, c.Workers, c.PerProc, c.Seconds, esc(c.NodeFlags))
		b.WriteString("<table><tr><th class=l>stage</th><th class=l>figures</th></tr>")
		row := func(stage, format string, a ...any) {
			fmt.Fprintf(&b, "<tr><td class=l>%s</td><td class=l>%s</td></tr>", esc(stage), esc(fmt.Sprintf(format, a...)))
		}
		row("(a) ramp", "%d open, %d failed in %.1f s: %s connections/s, handshake p50 %s p99 %s",
			c.Open, c.Failed, c.RampSeconds, Count(c.ConnectRate), Dur(c.Handshake.P50), Dur(c.Handshake.P99))
		row("(b) idle", "server RSS %s (%s at zero connections): %s per connection; kernel slab %s per connection (both ends); generators %s (%s per connection); redis %s",
			Bytes(float64(c.ServerRSS)), Bytes(float64(c.ServerRSS0)), Bytes(c.ServerPerConn), Bytes(c.SlabPerConn),
			Bytes(float64(c.GeneratorRSS)), Bytes(c.GeneratorPerConn), Bytes(float64(c.RedisRSS)))
		// A run stopped early has the stages before the stop only (and the
		// floor, measured before the ramp).
		if f := c.Floor; f != nil {
			row("floor", "a %d-byte frame written to each of %d connections and read back by %d processes holding both ends and doing nothing else: %.2f s at best, %.1f µs of CPU per delivery",
				f.Size, f.Conns, f.Procs, f.Best, f.CPUPerDelivery)
		}
		if c.Broadcast.Expected > 0 {
			row("(c) broadcast to all", "%d of %d delivered, %d missing, %d duplicate; last delivery %.2f s after the publish; latency p50 %s p99 %s",
				c.Broadcast.Delivered, c.Broadcast.Expected, c.Broadcast.Missing, c.Broadcast.Dup, c.BroadcastLast, Dur(c.BroadcastLat.P50), Dur(c.BroadcastLat.P99))
			if c.FloorRatio > 0 {
				row("(c) against the floor", "last delivery %.2f× the floor", c.FloorRatio)
			}
		}
		if c.RoomStats.Expected > 0 {
			row("(d) rooms", "%d rooms of %d, %.0f publishes/s offered: %d of %d delivered, %s deliveries/s, latency p50 %s p99 %s; %d missing, %d duplicate, %d out of order, %d foreign",
				c.Rooms, c.RoomSize, c.RoomOffered, c.RoomStats.Delivered, c.RoomStats.Expected, Count(c.RoomDeliveries),
				Dur(c.RoomLat.P50), Dur(c.RoomLat.P99), c.RoomStats.Missing, c.RoomStats.Dup, c.RoomStats.Reorder, c.RoomStats.Foreign)
		}
		if c.PresenceSeats > 0 {
			p := c.Presence
			row("(e) presence", "%d rooms of %d tracked users (%d connections moved from their rooms): every member's view whole %.2f s after the move, diffs quiet at %.2f s; %d presence_state and %d presence_diff received; %d views not whole; %d dials tried again, %d seats failed; presence_count %v, list_presence %v",
				c.PresenceRooms, c.PresenceSize, c.PresenceSeats, c.PresenceFill, c.PresenceQuiet, p.States, p.Diffs, p.Missing, p.Redials, p.Failed, c.PresenceCounts, c.PresenceListed)
		}
		codes := make([]string, 0, len(c.CloseCodes))
		for code, n := range c.CloseCodes {
			codes = append(codes, fmt.Sprintf("%d × %d", n, code))
		}
		sort.Strings(codes)
		if len(c.CloseCodes) > 0 {
			row("(f) SIGTERM", "close codes %s; %d of %d nodes exited by themselves, the last %.1f s after the signal",
				strings.Join(codes, ", "), c.Exited, c.Nodes, c.ExitSeconds)
		}
		var sys []string
		for _, s := range c.Sysctls {
			v := s.Name + " = " + s.Now
			if s.Err != "" {
				v += " (wanted " + s.Want + ": " + s.Err + ")"
			}
			sys = append(sys, v)
		}
		row("machine", "memory estimate %s of %s available, lowest available during the run %s; %s",
			Bytes(float64(c.BudgetBytes)), Bytes(float64(c.AvailBytes)), Bytes(float64(c.MinAvail)), strings.Join(sys, "; "))
		b.WriteString("</table><div class=charts>")
		var conns, rss [][2]float64
		for _, s := range c.Timeline {
			conns = append(conns, [2]float64{s.T, float64(s.Conns)})
			if s.Conns > 0 {
				rss = append(rss, [2]float64{float64(s.Conns), float64(s.ServerRSS) / (1 << 20)})
			}
		}
		b.WriteString(lineChart("open connections against time (s)", conns, axisLabel, axisLabel))
		b.WriteString(lineChart("server RSS, all nodes (MiB) against open connections", rss, axisLabel, axisLabel))
		var cdf [][2]float64
		for _, p := range c.BroadcastCDF {
			cdf = append(cdf, [2]float64{p[0], p[1] * 100})
		}
		b.WriteString(lineChart("broadcast to all: % delivered against latency", cdf,
			func(v float64) string { return Dur(int64(v)) }, func(v float64) string { return fmt.Sprintf("%g%%", v) }))
		b.WriteString("</div>")
	}
	return b.String()
}

// lineChart draws one series of points on linear axes from zero.
func lineChart(title string, pts [][2]float64, xl, yl func(float64) string) string {
	if len(pts) < 2 {
		return ""
	}
	maxX, maxY := 0.0, 0.0
	for _, p := range pts {
		maxX, maxY = math.Max(maxX, p[0]), math.Max(maxY, p[1])
	}
	maxX, maxY = niceMax(maxX), niceMax(maxY)
	var b strings.Builder
	svgOpen(&b, title)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	for i := 0; i <= 4; i++ {
		y := float64(padT) + plotH*(1-float64(i)/4)
		x := float64(padL) + plotW*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y, y, padL-6, y+4, esc(yl(maxY*float64(i)/4)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, chartH-padB+16, esc(xl(maxX*float64(i)/4)))
	}
	var line []string
	for _, p := range pts {
		line = append(line, fmt.Sprintf("%.1f,%.1f", float64(padL)+plotW*p[0]/maxX, float64(padT)+plotH*(1-p[1]/maxY)))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color("ripple", 0), strings.Join(line, " "))
	b.WriteString("</svg>")
	return b.String()
}
