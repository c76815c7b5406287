// Package peermain is the shared main of the peer server binaries in
// bench/peers/cmd: the -addr flag, the listener, the "listening on" line and
// SIGTERM/SIGINT handling (exit 0).
package peermain
