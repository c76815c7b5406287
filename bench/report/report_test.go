package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/scenario"
)

func result(sc, server string, thr float64, p99 int64, rss float64, connRate float64) *scenario.Result {
	r := &scenario.Result{Scenario: sc, Server: server, OK: true, Opened: 100, Throughput: thr,
		ConnectRate: connRate, RSSPerConn: rss, ThroughputUnit: "deliveries/s",
		Latency: hist.Summary{N: 10, P50: p99 / 2, P90: p99 * 3 / 4, P99: p99, P999: p99 + 1, Max: p99 + 2}}
	if sc == scenario.Idle {
		r.Samples = []scenario.RSSSample{{Conns: 2000, RSS: 20 << 20}, {Conns: 19000, RSS: 20<<20 + int64(rss*17000)}}
		r.Handshake = r.Latency
	}
	return r
}

func sample() *Report {
	r := &Report{Settings: Settings{GOGC: 100, ServerCPUs: "0", ClientCPUs: "1", Procs: 1, Loops: 1}}
	add := func(x *scenario.Result) { r.Results = append(r.Results, x) }
	add(result(scenario.Idle, "ripple", 0, 1e6, 900, 12000))
	add(result(scenario.Idle, "gorilla", 0, 2e6, 25000, 3000))
	add(result(scenario.Idle, "nbio", 0, 2e6, 1100, 13000))
	add(result(scenario.Broadcast, "ripple", 300000, 5e6, 0, 0))
	add(result(scenario.Broadcast, "gorilla", 100000, 9e6, 0, 0))
	add(result(scenario.Broadcast, "gws", 200000, 4e6, 0, 0))
	add(result(scenario.Echo, "ripple", 50000, 1e6, 0, 0))
	add(result(scenario.Echo, "nbio", 40000, 1e6, 0, 0))
	bad := result(scenario.Rooms, "gws", 1000, 1e6, 0, 0)
	bad.OK, bad.Failures = false, []string{"3 messages missing"}
	add(bad)
	add(result(scenario.Rooms, "ripple", 20000, 0.8e6, 0, 0))
	add(result(scenario.Rooms, "centrifuge", 20000, 5e6, 0, 0))
	add(result(scenario.Presence, "ripple", 1800, 6e6, 0, 0))
	add(result(scenario.Presence, "centrifuge", 1790, 4e6, 0, 0))
	add(result(scenario.Idle, "socketio", 0, 3e6, 30000, 2000))
	add(&scenario.Result{Scenario: scenario.Presence, Server: "nbio", Skipped: "not supported: the server answers /ws/presence with HTTP 404", OK: true})
	add(&scenario.Result{Scenario: scenario.Presence, Server: "socketio", Skipped: "not supported: socket.io has no presence", OK: true})
	r.Settings.Configs = []ServerConfig{{Server: "centrifuge", Config: "github.com/centrifugal/centrifuge v0.40.1: default Config"}}
	return r
}

func TestEvaluate(t *testing.T) {
	r := sample()
	r.Evaluate()
	want := map[string]struct {
		pass    bool
		missing bool
	}{
		"idle RSS per connection":               {true, false},
		"idle RSS per connection vs best peer":  {true, false},  // nbio 1100 B
		"connect rate":                          {false, false}, // nbio 13000 > 12000
		"broadcast deliveries/s vs gorilla hub": {true, false},  // 3.0×
		"broadcast deliveries/s vs best peer":   {true, false},  // 1.5× gws
		"broadcast p99 latency":                 {false, false}, // gws 4ms < 5ms
		"echo msgs/s":                           {true, false},
		"rooms latency p50":                     {true, false}, // 0.4ms vs gws 0.5ms (a failed run still counts)
		"rooms latency p99":                     {true, false},
		"presence diffs/s":                      {true, false},  // 1800 ≥ centrifuge 1790
		"presence diff latency p50":             {false, false}, // 3ms > centrifuge 2ms
		"presence diff latency p99":             {false, false},
	}
	if len(r.Checks) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(r.Checks), len(want), r.Checks)
	}
	for _, c := range r.Checks {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected check %q", c.Name)
			continue
		}
		if c.Pass != w.pass || (c.Missing != "") != w.missing {
			t.Errorf("%s: pass=%v missing=%q, want pass=%v", c.Name, c.Pass, c.Missing, w.pass)
		}
	}
	var empty Report
	empty.Evaluate()
	for _, c := range empty.Checks {
		if c.Missing == "" || c.Pass {
			t.Errorf("check %q evaluated without results", c.Name)
		}
	}
}

func TestOutputs(t *testing.T) {
	r := sample()
	r.Evaluate()
	var buf bytes.Buffer
	r.WriteTable(&buf)
	out := buf.String()
	for _, want := range []string{"broadcast", "300.0k deliveries/s", "3.00×", "FAIL", "3 messages missing", "not supported",
		"socketio/presence not supported: socket.io has no presence", "Ripple targets", "[pass] broadcast deliveries/s vs gorilla hub",
		"GOGC=100", "servers:\n  centrifuge: github.com/centrifugal/centrifuge v0.40.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	if err := r.WriteJSON(filepath.Join(dir, "r.json")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "r.html")
	if err := r.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if n := strings.Count(page, "<svg"); n < 5 {
		t.Errorf("%d charts, want at least 5", n)
	}
	for _, bad := range []string{"<script", "src=", "href=", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("report is not self-contained: contains %q", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	cases := []struct{ got, want string }{
		{Dur(0), "-"}, {Dur(999), "999ns"}, {Dur(1500), "2µs"}, {Dur(2_500_000), "2.50ms"},
		{Dur(250_000_000), "250ms"}, {Dur(3_000_000_000), "3.00s"},
		{Count(0), "-"}, {Count(12.5), "12.5"}, {Count(999), "999"}, {Count(12345), "12.3k"}, {Count(2_500_000), "2.50M"},
		{Bytes(900), "900B"}, {Bytes(1536), "1.50KiB"}, {Bytes(3 << 20), "3.0MiB"},
		{axisLabel(fineMax(24738)), "25k"}, {axisLabel(fineMax(4273)), "5k"}, {axisLabel(fineMax(100000)), "100k"},
		{axisLabel(fineMax(1068)), "1.2k"}, {axisLabel(fineMax(0)), "1"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// latencyResult is a latency result of server with one echo point per
// offered rate: p50 and p99 as given, p99.9 = p99 × tail.
func latencyResult(server string, offered []float64, p50, p99 []int64, tail float64) *scenario.Result {
	w := scenario.LatencyWorkload{Workload: scenario.WorkloadEcho, Unit: "msgs/s", Conns: 100, MaxRate: offered[len(offered)-1], MaxFrom: "gws calibration"}
	for i, o := range offered {
		w.Steps = append(w.Steps, scenario.LatencyPoint{
			Percent: 100 * o / w.MaxRate, Offered: o, Achieved: o * 0.99, OK: true, RunSeconds: 2, ServerCPU: 0.5, ClientCPU: 0.3,
			Latency: hist.Summary{N: 1000, P50: p50[i], P90: p99[i] / 2, P99: p99[i], P999: int64(float64(p99[i]) * tail), Max: 2 * p99[i]},
		})
	}
	ls := &scenario.LatencySpec{Calibrated: map[string]map[string]float64{scenario.WorkloadEcho: {"gws": w.MaxRate}}}
	return &scenario.Result{Scenario: scenario.Latency, Server: server, OK: true, Spec: scenario.Spec{Latency: ls},
		Workloads: []scenario.LatencyWorkload{w}}
}

func TestLatencyReport(t *testing.T) {
	offered := []float64{25000, 50000, 75000, 100000}
	r := &Report{Settings: Settings{GOGC: 100}}
	r.Results = append(r.Results,
		latencyResult("ripple", offered, []int64{100e3, 120e3, 150e3, 400e3}, []int64{1e6, 1.5e6, 2e6, 3e6}, 1.5),
		latencyResult("gws", offered, []int64{110e3, 130e3, 140e3, 900e3}, []int64{2e6, 3e6, 4e6, 6e6}, 1.2),
	)
	r.Evaluate()
	want := map[string]bool{
		"latency echo p50 at every offered load":   false, // 150µs > 140µs at 75%
		"latency echo p99 at every offered load":   true,
		"latency echo p99.9 at every offered load": true, // 1.5× its p99
	}
	for name, pass := range want {
		found := false
		for _, c := range r.Checks {
			if c.Name == name {
				found = true
				if c.Pass != pass || c.Missing != "" {
					t.Errorf("%s: pass=%v missing=%q, want pass=%v", name, c.Pass, c.Missing, pass)
				}
			}
		}
		if !found {
			t.Errorf("no check %q in %+v", name, r.Checks)
		}
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	out := buf.String()
	for _, want := range []string{"latency echo 25%", "latency echo 100%", "24.8k of 25.0k msgs/s", "p99 0.50×", "p99 2.00×",
		"load in % of 100.0k msgs/s (gws calibration); closed-loop maxima: gws 100.0k", "[FAIL] latency echo p50 at every offered load"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Rows go by offered rate, the servers side by side.
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, "|"); len(f) > 2 && strings.Contains(f[0], "latency echo") {
			rows = append(rows, strings.TrimSpace(f[0])+" "+strings.TrimSpace(f[1]))
		}
	}
	wantRows := []string{"latency echo 25% ripple", "latency echo 25% gws", "latency echo 50% ripple", "latency echo 50% gws",
		"latency echo 75% ripple", "latency echo 75% gws", "latency echo 100% ripple", "latency echo 100% gws"}
	if strings.Join(rows, "; ") != strings.Join(wantRows, "; ") {
		t.Errorf("rows %q, want %q", rows, wantRows)
	}
	path := filepath.Join(t.TempDir(), "r.html")
	if err := r.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"latency echo: p99 (solid), p50 (dashed) vs offered load", "offered load (msgs/s)", "stroke-dasharray", "Latency at fixed offered load"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// Two servers × (p99 + p50) lines.
	if n := strings.Count(page, "<polyline"); n != 4 {
		t.Errorf("%d lines in the load chart, want 4", n)
	}
	if strings.Contains(page, "<script") {
		t.Error("report is not self-contained")
	}
}

// A recovery result: the row shows the replay latency, the HTML one row
// per setup.
func TestRecoveryReport(t *testing.T) {
	r := &Report{}
	x := result(scenario.Recovery, "ripple", 90000, 3e6, 0, 0)
	x.Join = hist.Summary{N: 5, P50: 1.5e6, P99: 7.25e6}
	x.Spec = scenario.Spec{RoomSize: 50, MsgRate: 1000, Churn: 200}
	x.Recovery = []scenario.RecoveryRun{
		{Nodes: 1, OK: true, Conns: 2000, Reconnects: 1990, ReconnectRate: 199, Replayed: 4321, Replay: x.Join, Deliveries: 90000},
		{Nodes: 3, Skipped: "not supported: no history"},
	}
	r.Results = append(r.Results, x)
	var buf bytes.Buffer
	r.WriteTable(&buf)
	if out := buf.String(); !strings.Contains(out, "7.25ms") || strings.Contains(out, "3.00ms") {
		t.Errorf("the recovery row does not show the replay p99:\n%s", out)
	}
	page := r.recoverySection()
	for _, want := range []string{"Recovery: ripple", "<td class=l>1 node</td><td>2000</td><td>199</td><td>4321</td><td>1.50ms</td><td>7.25ms</td>", "3 nodes", "not supported: no history"} {
		if !strings.Contains(page, want) {
			t.Errorf("section lacks %q:\n%s", want, page)
		}
	}
}
