// Package target builds and runs the servers under test: cmd/ripple and the
// peers in bench/peers/cmd, plus the socket.io peer, a node script in
// bench/peers/socketio. The Go peers are a module of their own
// (bench/peers/go.mod), so they are built in that directory and the library's
// go.mod never lists their WebSocket libraries. Each Go server is built once
// into a temporary directory with `go build` (the socket.io peer gets a
// launcher there that execs node on its script, which needs `npm ci --prefix
// bench/peers/socketio`), then started fresh for every scenario on a free
// loopback port, pinned to its CPUs with taskset when asked, with the same
// GOGC for all, its output captured in a log file. Stop sends SIGTERM and
// reports how the process exited. Dialect says which protocol the generator
// speaks to each server, Describe how each is configured.
//
// Goroutine rules: a Server is driven by one goroutine; Builder is safe for
// sequential use only.
package target
