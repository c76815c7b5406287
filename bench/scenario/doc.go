// Package scenario is the benchmark logic: the scenarios (idle, echo,
// broadcast, rooms, presence, latency, storm, cluster) on both sides of the
// parent/worker split. The storm scenario has its own parent flow (runStorm:
// fill, baseline, burst, checks) and a bystander connection driven from the
// parent. The latency scenario has one too (runLatency): every workload gets
// its own workers, which connect once, calibrate closed loop when the
// workload needs a maximum rate, then run one timed step (a run command with
// a Step) per offered rate, every message sent on a fixed schedule and
// stamped with its scheduled time; its pure parts (rate parsing, percent of
// the maximum, the schedule) are in latency_rates.go.
//
// Parent side (Run): checks the limits a run needs (open files, ports per
// source address, memory) and explains how to lift them, starts the workers
// (bench/fleet), moves them through the steps start → connect → run → settle →
// stats with a barrier after each, shows progress, samples the server's RSS
// and CPU from /proc, merges the workers' histograms and counters and checks
// them: missing, duplicate, out-of-order, foreign or unparseable messages fail
// the Result.
//
// Worker side (ServeWorker): one bench/loadgen loop per CPU, each with a
// driver for the scenario. Drivers embed a timestamp (ns since the run's
// epoch) and sequence numbers in every message (bench/benchmsg) and record
// latency at every receiver. Drivers speak the bench protocol; they dial and
// send through the server's dialect (bench/dialect, Spec.Dialect), which
// maps routes, messages and presence onto Centrifuge's or Socket.IO's
// protocol and back, so every server gets the same checks.
//
// Goroutine rules: a driver's fields are owned by its loop; the few values
// shared by the loops of one worker (broadcast windows) are atomics; the
// parent's session is used by one goroutine.
package scenario
