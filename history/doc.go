// Package history numbers the publications of a channel and keeps the last
// ones, so that a client that lost its connection for a moment can get what
// it missed.
//
// A channel has history when a Rule matches its name ("room:*=100,5m": the
// last 100 publications of every room:… channel, each for five minutes).
// Every publication into such a channel gets an Offset, one more than the
// one before, within an Epoch: a string that changes whenever the history
// may have been lost (a single server's restart, a channel forgotten after
// its TTL, a Redis that lost its data). A Position is the two together;
// its text form "<epoch>:<offset>" is what a Phoenix client sees in a
// push's ref slot.
//
// # What it owns
//
// The Backend interface, its single-server implementation Memory (one
// ring per channel, bounded by size and TTL; a channel idle past its TTL
// gives its memory back), and the Rules that say which channels have
// history. The Redis implementation lives in package cluster (a stream per
// channel, appended by the script that publishes), and both pass
// historytest.BackendSuite.
//
// It does not own connections or frames: a Backend hands every publication
// to the Sink it was made with (the engine), in the channel's offset
// order, and the engine writes it to the members. It does not know the
// Phoenix protocol either; the engine maps positions to refs and join
// replies.
//
// # Goroutines and locks
//
// Memory's methods are safe from any goroutine. Publish assigns the offset
// and calls the Sink under the channel's stripe lock, so the Sink sees one
// order per channel; the Sink must not block and must not call back into
// the backend. Memory runs no goroutine: its owner calls Sweep now and then to
// forget idle channels.
package history
