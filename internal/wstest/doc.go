// Package wstest helps tests talk to a real Ripple server over real sockets:
// start one on a free port (Start for a Server with the demo routes and the
// HTTP API, StartEngine for a bare engine with the test's routes), dial it
// with gorilla/websocket, read with deadlines, and poll for a condition
// instead of sleeping. Raw is a client on a bare TCP connection that sends
// hand-written frames (frames.go), for what no client library would send.
//
// Package engine's external tests (engine_test) use it; package engine
// itself, its internal tests included, must not import it (it imports
// engine).
package wstest
