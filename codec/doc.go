// Package codec speaks WebSocket (RFC 6455) on a non-blocking byte stream.
//
// Nothing here reads from a socket or blocks. The engine hands the codec the
// bytes it has buffered so far and the codec answers how many of them form a
// whole unit (an HTTP request head, a frame) or that more are needed. That makes
// every function testable on a plain []byte and safe to call from an event loop.
//
// What it owns:
//   - the opening handshake: HeadEnd finds the end of a request head in bytes
//     that may arrive one at a time; Upgrade answers a complete head with
//     gobwas/ws's Upgrader, writing the 101 (or the 4xx) into a buffer (an
//     Upgrader does the same with its callbacks and the previous request's
//     strings kept for the next request);
//   - frames: ParseHeader reads a frame header from bytes, Decoder turns whole
//     frames into messages (unmasking, reassembling fragments, answering the
//     rules on control frames, the message size limit, and UTF-8
//     validation, which also reads a text frame still arriving so that an
//     invalid byte fails at once);
//   - permessage-deflate (RFC 7692, no context takeover): the negotiation,
//     Inflate, and Deflate with the full window or, for a client that
//     limits the server's window, DeflateWindow's Huffman-only deflate;
//   - pre-encoded frames: AppendFrame and Compile build header+payload in one
//     slice, so a broadcast is encoded once and the same bytes are written to
//     every recipient;
//   - close codes (CloseCode) and the error a protocol violation maps to
//     (*CloseError);
//   - JSON helpers backed by bytedance/sonic.
//
// What it does not own: sockets, timers, goroutines. A Decoder belongs to one
// connection and is used by one goroutine at a time (the connection's event
// loop), an Upgrader to one goroutine (an event loop); everything else is
// stateless and safe for concurrent use.
package codec
