// Package protocol is the bench protocol as the peer servers speak it: route
// matching and the JSON transformations of /ws/shootout and /ws/room/:room_id,
// identical to what cmd/ripple does (sonic's default configuration, messages
// decoded into `any` and encoded again).
//
// It owns no connections and no rooms: each peer keeps its own membership with
// its library's idioms and calls these pure functions. Safe for concurrent use.
package protocol
