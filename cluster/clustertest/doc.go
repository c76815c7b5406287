// Package clustertest holds what tests of package cluster and of its users
// share: a real redis-server per test (StartRedis), a fake engine side that
// records what each connection receives (Sink), the client algorithms that
// rebuild a presence view from those messages (the phoenix npm package's
// Presence.syncState/syncDiff and the seed's client code, ported to Go), and
// the conformance suite every presence.Backend must pass (BackendSuite).
//
// It is for tests only; it imports package testing.
package clustertest
