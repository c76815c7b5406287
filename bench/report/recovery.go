package report

import (
	"fmt"
	"strings"

	"github.com/ripple-rt/ripple/bench/scenario"
)

// recoverySection renders every recovery result: one row per setup (one
// node, a cluster) with its reconnects, replays and checks.
func (r *Report) recoverySection() string {
	var b strings.Builder
	for _, x := range r.sorted() {
		if x.Scenario != scenario.Recovery || len(x.Recovery) == 0 {
			continue
		}
		fmt.Fprintf(&b, "<h2>Recovery: %s</h2>", esc(x.Server))
		fmt.Fprintf(&b, "<p>Rooms of %d Phoenix clients with history; seat 0 publishes %s/s over all rooms, the others drop and reconnect %s times a second over all, recovering from the last offset they got. Replay latency: the recovering join sent → the publication at the reply's offset received.</p>",
			x.Spec.RoomSize, Count(x.Spec.MsgRate), Count(x.Spec.Churn))
		b.WriteString("<table><tr><th class=l>setup</th><th>conns</th><th>reconnects/s</th><th>replayed</th><th>replay p50</th><th>replay p99</th><th>deliveries/s</th><th>live p50</th><th>live p99</th><th>delivered of expected</th><th>loss</th><th>duplicates</th><th>recovered:false</th><th class=l>status</th></tr>")
		for _, run := range x.Recovery {
			setup := fmt.Sprintf("%d nodes", run.Nodes)
			if run.Nodes == 1 {
				setup = "1 node"
			}
			if run.Skipped != "" {
				fmt.Fprintf(&b, "<tr><td class=l>%s</td><td colspan=12></td><td class=l>%s</td></tr>", setup, esc(run.Skipped))
				continue
			}
			status := `<span class=pass>ok</span>`
			if !run.OK {
				status = `<span class=fail>FAIL</span>: ` + esc(strings.Join(run.Failures, "; "))
			}
			fmt.Fprintf(&b, "<tr><td class=l>%s</td><td>%d</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d of %d</td><td>%d</td><td>%d</td><td>%d</td><td class=l>%s</td></tr>",
				setup, run.Conns, Count(run.ReconnectRate), run.Replayed, Dur(run.Replay.P50), Dur(run.Replay.P99),
				Count(run.Deliveries), Dur(run.Latency.P50), Dur(run.Latency.P99), run.Delivered, run.Expected,
				run.Missing, run.Dup, run.Unrecovered, status)
		}
		b.WriteString("</table>")
	}
	return b.String()
}
