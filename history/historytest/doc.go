// Package historytest is the conformance suite every history.Backend
// passes (history.Memory, and package cluster's Redis backend on a real
// redis-server), run through a factory.
package historytest
