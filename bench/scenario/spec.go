package scenario

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/hist"
)

// Names of the scenarios, in suite order.
const (
	Idle      = "idle"
	Echo      = "echo"
	Broadcast = "broadcast"
	Rooms     = "rooms"
	Presence  = "presence"
	Latency   = "latency"
)

// Names lists every scenario in suite order.
var Names = []string{Idle, Echo, Broadcast, Rooms, Presence, Latency}

// Duration is a time.Duration that encodes as a string ("1.5s") in JSON.
type Duration time.Duration

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		*d = Duration(v)
		return err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	*d = Duration(n)
	return err
}

// Spec is what every worker of a run needs to know. The parent fills it in; a
// worker also gets its own index and source addresses.
type Spec struct {
	Scenario string   `json:"scenario"`
	Dialect  string   `json:"dialect,omitempty"` // the server's protocol (bench/dialect); empty: the bench protocol
	Addr     string   `json:"addr"`              // server host:port (IPv4)
	Host     string   `json:"host,omitempty"`    // Host header
	Worker   int      `json:"worker"`
	Workers  int      `json:"workers"`
	Loops    int      `json:"loops"`   // event loops per worker
	Sources  []string `json:"sources"` // this worker's source addresses
	Epoch    int64    `json:"epoch"`   // unix ns; message timestamps are relative to it

	Conns            int      `json:"conns"`              // connections, all workers together
	Rate             float64  `json:"rate"`               // dials per second, all workers together; 0 = unbounded
	MaxInflight      int      `json:"max_inflight"`       // per loop
	HandshakeTimeout Duration `json:"handshake_timeout"`  //
	Duration         Duration `json:"duration"`           // length of the run step
	Drain            Duration `json:"drain"`              // max wait for in-flight messages after the run
	Size             int      `json:"size"`               // padding bytes added to each message
	Window           int      `json:"window"`             // messages in flight per connection (echo) or publisher (broadcast)
	Publishers       int      `json:"publishers"`         // broadcast
	PubRate          float64  `json:"pub_rate"`           // broadcast: msgs/s per publisher, 0 = closed loop
	Route            string   `json:"route"`              // broadcast: "room" or "shootout"
	Protocol         string   `json:"protocol,omitempty"` // broadcast, rooms: "" (the raw protocol) or "phoenix" (Phoenix Channels V2)
	RoomSize         int      `json:"room_size"`          // rooms, presence
	Churn            float64  `json:"churn"`              // rooms, presence: leave+join cycles per second, all workers
	MsgRate          float64  `json:"msg_rate"`           // rooms, presence: published messages per second, all workers
	Burst            int      `json:"burst,omitempty"`    // storm: users that connect at once after the fill
	PerProc          int      `json:"per_proc,omitempty"` // c1m: connections per node and worker (0: as the open-file limit allows)
	Coalesce         Duration `json:"coalesce,omitempty"` // c1m: loadgen.Config.Coalesce of every loop
	NoFloor          bool     `json:"no_floor,omitempty"` // c1m: skip the floor measured before the ramp

	// Latency holds the latency scenario's settings (workloads, offered
	// rates); nil for the other scenarios.
	Latency *LatencySpec `json:"latency,omitempty"`

	// Addrs, when set, spreads the connections over several servers (the
	// cluster scenario): loop i of every worker dials Addrs[i%len(Addrs)]
	// instead of Addr. The recovery scenario's clients dial every one of
	// them, each reconnect another.
	Addrs []string `json:"addrs,omitempty"`

	// Nodes are the recovery scenario's setups, run in turn: 1 is the
	// target server, n > 1 a cluster of n nodes like it on one
	// redis-server. Default {1, 3}.
	Nodes []int `json:"nodes,omitempty"`
}

// Command is one line from the parent to a worker.
type Command struct {
	Op string `json:"op"` // "start", "connect", "run", "settle", "stats"
	// start
	Spec *Spec `json:"spec,omitempty"`
	// connect: total connections wanted across all workers.
	Target int `json:"target,omitempty"`
	// settle (broadcast): messages sent per publisher, all workers together.
	Sent []int64 `json:"sent,omitempty"`
	// run (latency): the step's schedule; nil runs Spec.Duration.
	Step *Step `json:"step,omitempty"`
	// phase (c1m): the phase to run on the open connections.
	Phase *Phase `json:"phase,omitempty"`
}

// Event is one line from a worker to the parent.
type Event struct {
	Ev       string       `json:"ev"` // "progress", "done", "error"
	Step     string       `json:"step,omitempty"`
	Progress *Progress    `json:"progress,omitempty"`
	Stats    *WorkerStats `json:"stats,omitempty"`
	Sent     []int64      `json:"sent,omitempty"` // run (broadcast): sent per publisher by this worker
	Error    string       `json:"error,omitempty"`
	Hint     string       `json:"hint,omitempty"`
}

// Progress is a worker's live counters.
type Progress struct {
	Opened    int64 `json:"opened"`
	Open      int64 `json:"open"`
	Failed    int64 `json:"failed"`
	Inflight  int64 `json:"inflight"`
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
}

// Add adds o to p.
func (p *Progress) Add(o *Progress) {
	p.Opened += o.Opened
	p.Open += o.Open
	p.Failed += o.Failed
	p.Inflight += o.Inflight
	p.Sent += o.Sent
	p.Delivered += o.Delivered
}

// WorkerStats are one worker's (or, merged, a whole run's) results.
type WorkerStats struct {
	Opened  int64            `json:"opened"`
	Failed  int64            `json:"failed"`
	Dropped int64            `json:"dropped"` // open connections lost (closed by the server or an error)
	Reasons map[string]int64 `json:"reasons,omitempty"`

	Handshake hist.Snapshot `json:"handshake"`    // ns, dial start to 101
	Latency   hist.Snapshot `json:"latency"`      // ns, send to receipt, at every receiver
	Join      hist.Snapshot `json:"join"`         // ns, churn re-joins (rooms, presence); recovery: replay latency
	Lag       hist.Snapshot `json:"lag,omitzero"` // ns, latency: actual minus scheduled send time

	Sent            int64 `json:"sent"`
	Delivered       int64 `json:"delivered"`
	WindowDelivered int64 `json:"window_delivered"` // deliveries during the run step
	WindowNs        int64 `json:"window_ns"`
	Expected        int64 `json:"expected"`
	Missing         int64 `json:"missing"`
	Dup             int64 `json:"dup"`
	Reorder         int64 `json:"reorder"`
	Foreign         int64 `json:"foreign"`      // messages of another room
	Invalid         int64 `json:"invalid"`      // unparseable or unexpected messages
	Errors          int64 `json:"errors"`       // {"type":"error"} replies
	Extra           int64 `json:"extra"`        // broadcastResult replies (shootout route)
	PerConnMin      int64 `json:"per_conn_min"` // -1: not measured
	PerConnMax      int64 `json:"per_conn_max"`
	Churned         int64 `json:"churned"`               // leave+join cycles completed
	Ghosts          int64 `json:"ghosts"`                // presence: users listed that are gone
	Absent          int64 `json:"absent"`                // presence: users present but not listed
	ListAsked       int64 `json:"list_asked,omitempty"`  // presence: rooms whose list the server was asked for (dialects that can)
	Listed          int64 `json:"listed,omitempty"`      // presence: of those, answered
	ListGhosts      int64 `json:"list_ghosts,omitempty"` // presence: users on the server's lists that are gone
	ListAbsent      int64 `json:"list_absent,omitempty"` // presence: users present but not on the server's lists
	Late            int64 `json:"late"`                  // latency: messages of an earlier step received in this one
	Replayed        int64 `json:"replayed,omitempty"`    // recovery: publications pushed after a recovering join's reply, up to its top
	Unrecovered     int64 `json:"unrecovered,omitempty"` // recovery: recovering joins answered "recovered": false
	NoHistory       int64 `json:"no_history,omitempty"`  // recovery: join replies without "epoch" and "offset"
	Offline         int64 `json:"offline,omitempty"`     // recovery: clients not joined again at the end

	Storm *StormStats `json:"storm,omitempty"` // storm scenario
	Phase *PhaseStats `json:"phase,omitempty"` // c1m: the phase's figures

	CPUNs    int64    `json:"cpu_ns"` // worker process user+system CPU during the run step
	StepNs   int64    `json:"step_ns"`
	Progress Progress `json:"progress"`
}

// Merge adds o into s.
func (s *WorkerStats) Merge(o *WorkerStats) {
	s.Opened += o.Opened
	s.Failed += o.Failed
	s.Dropped += o.Dropped
	if len(o.Reasons) > 0 && s.Reasons == nil {
		s.Reasons = map[string]int64{}
	}
	for k, v := range o.Reasons {
		s.Reasons[k] += v
	}
	s.Handshake = mergeSnap(s.Handshake, o.Handshake)
	s.Latency = mergeSnap(s.Latency, o.Latency)
	s.Join = mergeSnap(s.Join, o.Join)
	s.Lag = mergeSnap(s.Lag, o.Lag)
	s.Sent += o.Sent
	s.Delivered += o.Delivered
	s.WindowDelivered += o.WindowDelivered
	if o.WindowNs > s.WindowNs {
		s.WindowNs = o.WindowNs
	}
	s.Expected += o.Expected
	s.Missing += o.Missing
	s.Dup += o.Dup
	s.Reorder += o.Reorder
	s.Foreign += o.Foreign
	s.Invalid += o.Invalid
	s.Errors += o.Errors
	s.Extra += o.Extra
	if o.PerConnMin >= 0 && (s.PerConnMin < 0 || o.PerConnMin < s.PerConnMin) {
		s.PerConnMin = o.PerConnMin
	}
	if o.PerConnMax > s.PerConnMax {
		s.PerConnMax = o.PerConnMax
	}
	s.Churned += o.Churned
	s.Ghosts += o.Ghosts
	s.Absent += o.Absent
	s.ListAsked += o.ListAsked
	s.Listed += o.Listed
	s.ListGhosts += o.ListGhosts
	s.ListAbsent += o.ListAbsent
	s.Late += o.Late
	s.Replayed += o.Replayed
	s.Unrecovered += o.Unrecovered
	s.NoHistory += o.NoHistory
	s.Offline += o.Offline
	s.Storm = s.Storm.merge(o.Storm)
	s.CPUNs += o.CPUNs
	if o.StepNs > s.StepNs {
		s.StepNs = o.StepNs
	}
	s.Progress.Add(&o.Progress)
}

func mergeSnap(a, b hist.Snapshot) hist.Snapshot {
	var h hist.Histogram
	h.MergeSnapshot(a)
	h.MergeSnapshot(b)
	return h.Snapshot()
}

// Summary of a snapshot.
func summarize(s hist.Snapshot) hist.Summary {
	var h hist.Histogram
	h.MergeSnapshot(s)
	return h.Summarize()
}

func (s *Spec) validate() error {
	if s.Workers <= 0 || s.Worker < 0 || s.Worker >= s.Workers {
		return fmt.Errorf("scenario: worker %d of %d", s.Worker, s.Workers)
	}
	if s.Loops <= 0 {
		return fmt.Errorf("scenario: %d loops", s.Loops)
	}
	return nil
}
