// Package gorillahub is the bench protocol on gorilla/websocket with the classic
// Go chat hub design: one hub goroutine owns every room and connection set and
// is fed through register, unregister and broadcast channels; each connection
// has a read pump and a write pump goroutine and a buffered send channel. A
// connection whose send channel is full when the hub fans out is dropped, as in
// gorilla's chat example.
//
// It is a peer for ripple-bench comparisons, not a product server.
package gorillahub
