// Package phxjs drives the real phoenix npm package (Socket, Channel,
// Presence; the ws package as its WebSocket, or its LongPoll transport)
// from Go tests, so that Ripple is tested against the client every Phoenix
// application ships: Start runs driver.mjs in Node; the test sends it
// commands (open a socket, join, push, leave, watch presence) and waits
// for the events phoenix.js reports (joins answered, replies, messages,
// presence syncs, closes).
//
// It needs node in PATH and `npm ci --prefix phoenix/phxjs`; without them
// Start skips the test, loudly (.ci/run installs them).
//
// It owns the driver's command and event formats and finding node and the
// script from any package's directory. A Driver is used by one test; its
// methods must be called from the test's goroutine.
package phxjs
