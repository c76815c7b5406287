// Package targettest starts the servers of bench/target for tests: the
// peers (gorilla, gws, nbio, centrifuge, socketio) and cmd/ripple as real
// processes on free loopback ports, exactly as the suite runs them. A server
// that cannot be built here for want of an install (node, the socket.io
// peer's node_modules) skips the test, loudly, saying how to install it.
//
// The peers are a module of their own (bench/peers), so a test of this module
// cannot import them: it starts their binaries instead. Each server is built
// once per test binary into a temporary directory, which Main removes when
// the tests are done; a test package that calls Start has a TestMain that
// calls Main.
//
// Goroutine rules: Start may be called from parallel tests; the build is
// serialized.
package targettest
