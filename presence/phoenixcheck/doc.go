// Package phoenixcheck runs check.js, which replays the presence messages
// each client received through the real phoenix npm package
// (Presence.syncState/syncDiff) and compares the result with the expected
// list. Tests of every package that produces presence messages use it.
//
// It needs node in PATH and `npm ci --prefix presence/phoenixcheck`; without
// them Run skips the test, loudly.
//
// It owns the input format of check.js (File, Client) and finding node and
// the script from any package's directory; it keeps no state.
package phoenixcheck
