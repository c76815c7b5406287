// Package wsproto is the client side of RFC 6455 on plain byte slices, for the
// load generator's event loop.
//
// It owns: building the upgrade request (AppendRequest), checking the server's
// 101 response once it is whole (ParseResponse), encoding masked client frames
// (AppendFrame) and parsing server frames from a byte stream (ParseFrame). Nothing
// here does I/O or blocks: the caller appends what it read and calls the parsers
// again when they report that more bytes are needed (n == 0, nil error).
//
// It does not own: sockets, buffering, fragmentation reassembly or the close
// handshake policy; the caller (bench/loadgen) decides those.
//
// Every function is safe for concurrent use; slices returned by ParseFrame alias
// the input.
package wsproto
