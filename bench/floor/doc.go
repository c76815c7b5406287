// Package floor measures what a fan-out costs this machine before any
// server is involved: one small frame written to each of n loopback TCP
// connections and read at their other ends, by processes that hold both
// ends of their connections and do nothing else: no framing, no parsing,
// no second process to wake.
//
// The time it takes is the floor under any server's broadcast to the same
// n connections on the same machine, its kernel's share: every delivery
// costs a write, the segment's and its ACK's trip through the loopback
// device and TCP, an epoll wake-up and a read, whoever makes the calls.
// The c1m scenario measures it before its ramp and quotes its broadcast to
// all against it.
//
// A floor process is a fleet worker (Serve); Run starts as many as the
// open-file limit needs (each connection costs a process two descriptors)
// and has them fan out together.
package floor
