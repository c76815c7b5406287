// Package fleet starts the load generator's worker processes and talks to them
// with JSON lines: commands on the worker's stdin, events on its stdout. A
// worker's stderr passes through to the parent's stderr.
//
// A worker is either a child process (the bench binary re-executed with a
// worker argument, optionally pinned to CPUs with taskset) or, for tests and
// small runs, a goroutine running the same worker function over pipes: both
// paths exercise the same protocol. Share splits a count (connections,
// senders) over workers, and over a worker's loops.
//
// Goroutine rules: each Worker has one reader goroutine feeding Events; Send is
// safe from any goroutine. Close ends the worker: it closes stdin, waits up to a
// grace period, then kills the process.
package fleet
