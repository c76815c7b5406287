// Package route matches request paths against WebSocket route patterns.
//
// A pattern is a slash-separated path whose segments are either literal
// ("ws", "room") or dynamic (":room_id"). Matching a path yields the route's
// value and the dynamic segments as Params:
//
//	var t route.Table[int]
//	t.Add("/ws/room/:room_id", 1)
//	v, params, ok := t.Match("/ws/room/lobby") // 1, [{room_id lobby}], true
//
// Literal segments win over dynamic ones, so "/ws/room/admin" can be routed
// apart from "/ws/room/:room_id". A trailing slash is significant.
//
// Topics does the same for Phoenix channel topics, split at ':' instead of
// '/': "room::room_id" matches "room:42" with room_id 42 (the separator, then
// the param), and a final "*" matches the rest as Phoenix's "room:*" does.
//
// Goroutines: a Table or Topics is built before the server starts (Add) and only read
// afterwards (Match); Match is safe for concurrent use, Add is not.
package route
