package scenario

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/procfs"
)

// RSSSample is the server's memory at one connection count (idle).
type RSSSample struct {
	Conns    int64 `json:"conns"`     // connections open (client side)
	RSS      int64 `json:"rss"`       // server VmRSS, bytes
	SockMem  int64 `json:"sock_mem"`  // kernel TCP buffer memory, whole machine, bytes
	Slab     int64 `json:"slab"`      // kernel slab memory (socket structures …), whole machine, bytes
	TCPInUse int64 `json:"tcp_inuse"` // TCP sockets in use, whole machine
}

// Result is the outcome of one scenario against one server.
type Result struct {
	Scenario string `json:"scenario"`
	Server   string `json:"server"`
	URL      string `json:"url"`
	Skipped  string `json:"skipped,omitempty"`
	// OK is false when a verification failed; Failures says which.
	OK       bool     `json:"ok"`
	Failures []string `json:"failures,omitempty"`
	Notes    []string `json:"notes,omitempty"`

	Spec  Spec `json:"spec"` // worker-independent settings
	Procs int  `json:"procs"`

	Conns   int64            `json:"conns"`  // connections open at the end of the connect step
	Opened  int64            `json:"opened"` // upgrades completed, churn included
	Failed  int64            `json:"failed"`
	Dropped int64            `json:"dropped"`
	Reasons map[string]int64 `json:"reasons,omitempty"`

	ConnectSeconds float64 `json:"connect_seconds"`
	ConnectRate    float64 `json:"connect_rate"` // connections opened per second

	Handshake hist.Summary `json:"handshake_ns"`
	Latency   hist.Summary `json:"latency_ns"`
	Join      hist.Summary `json:"join_ns"`

	// Throughput is msgs/s (echo), deliveries/s (broadcast, rooms) or diffs/s
	// (presence) over the run window.
	Throughput     float64 `json:"throughput"`
	ThroughputUnit string  `json:"throughput_unit"`

	Sent       int64 `json:"sent"`
	Delivered  int64 `json:"delivered"`
	Expected   int64 `json:"expected"`
	Missing    int64 `json:"missing"`
	Dup        int64 `json:"dup"`
	Gaps       int64 `json:"gaps"`
	Foreign    int64 `json:"foreign"`
	Invalid    int64 `json:"invalid"`
	Errors     int64 `json:"errors"`
	Extra      int64 `json:"extra"`
	Churned    int64 `json:"churned"`
	Ghosts     int64 `json:"ghosts"`
	Absent     int64 `json:"absent"`
	ListAsked  int64 `json:"list_asked,omitempty"`
	Listed     int64 `json:"listed,omitempty"`
	ListGhosts int64 `json:"list_ghosts,omitempty"`
	ListAbsent int64 `json:"list_absent,omitempty"`
	PerConnMin int64 `json:"per_conn_min"`
	PerConnMax int64 `json:"per_conn_max"`

	// The recovery scenario's counts (Churned: reconnects; Join: replay
	// latency) and its figures per setup (one node, three).
	Replayed      int64         `json:"replayed,omitempty"`
	Unrecovered   int64         `json:"unrecovered,omitempty"`
	NoHistory     int64         `json:"no_history,omitempty"`
	Offline       int64         `json:"offline,omitempty"`
	ReconnectRate float64       `json:"reconnect_rate,omitempty"`
	Recovery      []RecoveryRun `json:"recovery,omitempty"`

	C1M *C1MResult `json:"c1m,omitempty"` // the c1m scenario's stages

	Samples        []RSSSample `json:"samples,omitempty"`
	RSSPerConn     float64     `json:"rss_per_conn"`      // bytes, slope between first and last sample
	SockMemPerConn float64     `json:"sock_mem_per_conn"` // bytes of TCP buffers, both ends of each loopback connection
	SlabPerConn    float64     `json:"slab_per_conn"`     // bytes of kernel slab, both ends, machine-wide (noisy)

	// Net is the machine's loopback trouble during the run (all processes):
	// backlog drops and TCP retransmissions delay deliveries by whole RTOs.
	Net procfs.NetCounters `json:"net"`

	RunSeconds float64 `json:"run_seconds"`
	ServerCPU  float64 `json:"server_cpu"`  // cores busy during the run step
	ClientCPU  float64 `json:"client_cpu"`  // cores busy in the workers during the run step
	MachineCPU float64 `json:"machine_cpu"` // cores busy machine-wide during the run step (softirq included)
	ServerPID  int     `json:"server_pid,omitempty"`

	Storm *StormResult `json:"storm,omitempty"` // storm scenario

	// Workloads are the latency scenario's figures, one per workload, each
	// with one point per offered rate.
	Workloads []LatencyWorkload `json:"workloads,omitempty"`
}

func (r *Result) fail(format string, a ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, a...))
}

func reasonList(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// fill copies merged worker stats into r and applies the scenario's checks.
func (r *Result) fill(st *WorkerStats) {
	r.Opened, r.Failed, r.Dropped, r.Reasons = st.Opened, st.Failed, st.Dropped, st.Reasons
	r.Handshake = summarize(st.Handshake)
	r.Latency = summarize(st.Latency)
	r.Join = summarize(st.Join)
	r.Sent, r.Delivered, r.Expected = st.Sent, st.Delivered, st.Expected
	r.Missing, r.Dup, r.Gaps, r.Foreign = st.Missing, st.Dup, st.Reorder, st.Foreign
	r.Invalid, r.Errors, r.Extra, r.Churned = st.Invalid, st.Errors, st.Extra, st.Churned
	r.Ghosts, r.Absent = st.Ghosts, st.Absent
	r.ListAsked, r.Listed, r.ListGhosts, r.ListAbsent = st.ListAsked, st.Listed, st.ListGhosts, st.ListAbsent
	r.PerConnMin, r.PerConnMax = st.PerConnMin, st.PerConnMax
	r.Replayed, r.Unrecovered, r.NoHistory, r.Offline = st.Replayed, st.Unrecovered, st.NoHistory, st.Offline
	if st.WindowNs > 0 {
		r.Throughput = float64(st.WindowDelivered) / (float64(st.WindowNs) / 1e9)
	}
	if st.StepNs > 0 {
		r.ClientCPU = float64(st.CPUNs) / float64(st.StepNs)
	}

	if r.Failed > 0 {
		r.fail("%d of %d dials failed", r.Failed, r.Failed+r.Opened)
	}
	if len(r.Reasons) > 0 {
		r.Notes = append(r.Notes, "failed dials and dropped connections by reason: "+reasonList(r.Reasons))
	}
	if r.Dropped > 0 && r.Scenario != Rooms && r.Scenario != Presence && r.Scenario != Recovery {
		r.fail("%d connections dropped by the server or an error", r.Dropped)
	} else if r.Dropped > 0 {
		r.fail("%d connections dropped by the server or an error (churn closes are not counted)", r.Dropped)
	}
	switch r.Scenario {
	case Echo:
		r.ThroughputUnit = "msgs/s"
	case Broadcast:
		r.ThroughputUnit = "deliveries/s"
		switch {
		case r.Spec.Protocol == Phoenix && r.Extra != r.Sent:
			r.fail("%d replies for %d pushes", r.Extra, r.Sent)
		case r.Spec.Protocol == "" && r.Spec.Route == "shootout" && r.Extra != r.Sent:
			r.fail("%d broadcastResult replies for %d broadcasts", r.Extra, r.Sent)
		}
		if r.PerConnMin != r.PerConnMax {
			r.fail("receivers got between %d and %d messages, want %d each", r.PerConnMin, r.PerConnMax, r.Expected/max(1, r.Opened))
		}
	case Rooms:
		r.ThroughputUnit = "deliveries/s"
		if r.Foreign > 0 {
			r.fail("%d messages delivered to members of another room", r.Foreign)
		}
	case Presence:
		r.ThroughputUnit = "diffs/s"
		if r.Ghosts > 0 || r.Absent > 0 {
			r.fail("watchers' presence lists disagree with the open connections: %d ghost users, %d missing users", r.Ghosts, r.Absent)
		}
		if r.Listed < r.ListAsked {
			r.fail("the server answered %d of the %d presence lists asked for", r.Listed, r.ListAsked)
		}
		if r.ListGhosts > 0 || r.ListAbsent > 0 {
			r.fail("the server's presence lists disagree with the open connections: %d ghost users, %d missing users", r.ListGhosts, r.ListAbsent)
		}
		if r.ListAsked > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("the server's own presence list (%s's presence call) checked in %d rooms after the watchers' views", r.Spec.Dialect, r.Listed))
		}
	case Recovery:
		r.ThroughputUnit = "deliveries/s"
		if r.Foreign > 0 {
			r.fail("%d messages of another topic", r.Foreign)
		}
		if r.NoHistory > 0 {
			r.fail("%d join replies without a history position (\"epoch\", \"offset\"): the server keeps no history for the rooms", r.NoHistory)
		}
		if r.Unrecovered > 0 {
			r.fail("%d recovering joins answered \"recovered\": false", r.Unrecovered)
		}
		if r.Offline > 0 {
			r.fail("%d clients not joined again by the end of the drain", r.Offline)
		}
		if r.Extra != r.Sent {
			r.fail("%d replies for %d pushes", r.Extra, r.Sent)
		}
		if r.Spec.Churn > 0 && r.Churned == 0 {
			r.fail("no client reconnected")
		}
	}
	if r.Missing > 0 {
		r.fail("%d messages missing", r.Missing)
	}
	if r.Dup > 0 {
		r.fail("%d duplicate messages", r.Dup)
	}
	if r.Gaps > 0 {
		r.fail("%d sequence gaps (lost or reordered messages)", r.Gaps)
	}
	if r.Invalid > 0 {
		r.fail("%d unexpected or unparseable messages", r.Invalid)
	}
	if r.Errors > 0 {
		r.fail("%d error replies from the server", r.Errors)
	}
	if r.Scenario != Idle && r.Scenario != Presence && r.Delivered == 0 {
		r.fail("no message was delivered")
	}
	if other := r.MachineCPU - r.ServerCPU - r.ClientCPU; r.RunSeconds > 0 && other > 0.6 {
		r.Notes = append(r.Notes, fmt.Sprintf("the machine was busy %.1f cores during the run, %.1f of them outside the server and the generator "+
			"(other processes, interrupts): figures may be depressed", r.MachineCPU, other))
	}
	if r.ClientCPU >= 0.9 && r.Scenario != Idle {
		r.Notes = append(r.Notes, fmt.Sprintf("generator CPU %.0f%% during the run: the generator may be the bottleneck, "+
			"so the throughput is a lower bound for this server (more generator CPUs: -client-cpus, -procs)", r.ClientCPU*100))
	}
	if r.Net.BacklogDrops > 0 || r.Net.Retrans > 0 {
		note := fmt.Sprintf("the kernel dropped %d loopback packets (net.core.netdev_max_backlog) and retransmitted %d TCP segments during the run (machine-wide)",
			r.Net.BacklogDrops, r.Net.Retrans)
		if r.Missing > 0 || r.Gaps > 0 {
			note += "; retransmission timeouts can hold messages back past the drain"
		}
		r.Notes = append(r.Notes, note)
	}
	r.OK = len(r.Failures) == 0
}
