// Package loadgen is the load generator's engine: an epoll event loop that dials,
// upgrades and drives thousands of WebSocket client connections from one
// goroutine, with no goroutine per connection.
//
// A Loop owns an epoll instance, its connections (indexed by fd), one read buffer
// and the dial queue. Dials are non-blocking connects bound to source addresses
// spread over 127.0.0.0/8 (IP_BIND_ADDRESS_NO_PORT defers the port choice to
// connect, so every source address offers a whole ephemeral port range per
// destination). The number of dials and handshakes in flight and the dial rate
// are bounded. The Handler gets OnOpen, OnMessage, OnClose and OnTick callbacks,
// all on the loop's goroutine; a Handler that is also an Opener gets OnUpgrade
// after the 101 and runs its protocol's own opening (bench/dialect: a
// Centrifuge connect, a Socket.IO namespace connect) before the connection
// counts as open. Wake adds a precise one-shot timer (a timerfd) for sends
// paced finer than OnTick's millisecond steps.
//
// Goroutine rules: Run occupies one goroutine (locked to its OS thread). Conn
// methods, Loop.Dial and Loop.Wake may only be called from the loop goroutine
// (inside Handler callbacks or functions passed to Execute). Execute, Stop and
// the Stats counters are safe from any goroutine.
//
// It does not own scenario logic (what to send, what to check) or process
// management; see bench/scenario and bench/fleet.
package loadgen
