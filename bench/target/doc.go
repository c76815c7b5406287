// Package target builds and runs the servers under test: cmd/ripple and the
// peers in bench/peers/cmd. The peers are a module of their own
// (bench/peers/go.mod), so they are built in that directory and the library's
// go.mod never lists their WebSocket libraries. Each server is built once
// into a temporary directory with `go build`, then started fresh for every scenario on a free
// loopback port, pinned to its CPUs with taskset when asked, with the same
// GOGC for all, its output captured in a log file. Stop sends SIGTERM and
// reports how the process exited.
//
// Goroutine rules: a Server is driven by one goroutine; Builder is safe for
// sequential use only.
package target
