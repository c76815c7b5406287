package scenario

import (
	"strconv"

	"github.com/ripple-rt/ripple/bench/hist"
)

// LatencyWorkload is one workload of a latency result: its connections, the
// maximum rate the load refers to and one point per offered rate.
type LatencyWorkload struct {
	Workload       string  `json:"workload"`
	Unit           string  `json:"unit"` // of every rate: msgs/s (echo), publishes/s (rooms)
	RoomSize       int     `json:"room_size,omitempty"`
	Conns          int64   `json:"conns"` // open after the connect step
	ConnectSeconds float64 `json:"connect_seconds"`
	// MaxRate is the rate the steps' Percent refers to (0: absolute rates)
	// and MaxFrom where it came from.
	MaxRate float64 `json:"max_rate,omitempty"`
	MaxFrom string  `json:"max_from,omitempty"`
	// Calibration is this server's closed-loop run, when it had one: its
	// Achieved is the server's own maximum.
	Calibration *LatencyPoint  `json:"calibration,omitempty"`
	Steps       []LatencyPoint `json:"steps"`
	// Failures are the workload's own (connect step), beside the steps'.
	Failures []string `json:"failures,omitempty"`
}

// LatencyPoint is one step of a workload at one offered rate.
type LatencyPoint struct {
	Percent float64 `json:"percent,omitempty"` // of the workload's MaxRate; 0: an absolute rate
	Offered float64 `json:"offered"`           // scheduled sends per second; 0: closed loop
	// Achieved is the rate completed in the measured window, in the
	// workload's unit: echo replies, or room deliveries over the room size.
	Achieved   float64 `json:"achieved"`
	Deliveries float64 `json:"deliveries"` // messages received per second, at every receiver
	// Latency is receive time minus scheduled send time (closed loop:
	// actual send time), at every receiver, for the messages scheduled in
	// the measured window.
	Latency hist.Summary `json:"latency_ns"`
	// Lag is the generator's actual send time minus the scheduled one: a
	// high lag says the generator, not only the server, fell behind.
	Lag hist.Summary `json:"lag_ns"`

	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Expected  int64 `json:"expected"`
	Missing   int64 `json:"missing"`
	Dup       int64 `json:"dup"`
	Gaps      int64 `json:"gaps"`
	Foreign   int64 `json:"foreign"`
	Invalid   int64 `json:"invalid"`
	Errors    int64 `json:"errors"`
	Late      int64 `json:"late"` // messages of an earlier step that arrived during this one

	RunSeconds float64 `json:"run_seconds"`
	ServerCPU  float64 `json:"server_cpu"`
	ClientCPU  float64 `json:"client_cpu"`
	MachineCPU float64 `json:"machine_cpu"`
	// Steal is the CPU time the hypervisor took from the machine (all CPUs)
	// during the step: time the server or the generator was runnable and
	// did not run, which no server can make up for.
	Steal int64 `json:"steal_ns"`

	OK       bool     `json:"ok"`
	Failures []string `json:"failures,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// Label names the point: "50%" of the maximum, an absolute rate ("5000/s")
// or "closed loop".
func (p *LatencyPoint) Label() string {
	switch {
	case p.Offered <= 0:
		return "closed loop"
	case p.Percent > 0:
		return strconv.FormatFloat(p.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(p.Offered, 'f', 0, 64) + "/s"
}

// Workload returns the workload w of a latency result, or nil.
func (r *Result) Workload(w string) *LatencyWorkload {
	for i := range r.Workloads {
		if r.Workloads[i].Workload == w {
			return &r.Workloads[i]
		}
	}
	return nil
}
