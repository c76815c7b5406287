// Package nbiopeer is the bench protocol on lesismal/nbio in its non-blocking
// nbhttp mode (IOModNonBlocking): a few poller goroutines own every socket,
// upgrades and messages run on nbio's executor, rooms live in a mutex-guarded
// map and fanout calls WriteMessage on every member (nbio queues writes that do
// not complete at once).
//
// It is a peer for ripple-bench comparisons, not a product server.
package nbiopeer
