// Package wstest helps tests talk to a real Ripple server over real sockets:
// start one on a free port, dial it with gorilla/websocket, read with
// deadlines, and poll for a condition instead of sleeping.
package wstest
