// Package handlers holds Ripple's built-in handlers: the demo routes that
// cmd/ripple serves (SPEC section 6) and that the benchmark suite speaks.
//
//	/ws/chat                 every message to everyone; a join notice on connect
//	/ws/room/:room_id        JSON messages to the members of room:<room_id>
//	/ws/presence/:room_id    the room above plus presence (?user_id=U&name=N)
//	/ws/echo                 every message back to its sender, same opcode
//	/ws/shootout             the websocket-shootout protocol (echo, broadcast)
//
// and the Phoenix channels (RegisterChannels; phoenix.js at /socket):
//
//	room:<id>                the channel of /ws/room/<id> and /ws/presence/<id>: join
//	                         params {user_id, name} track presence, typing and
//	                         stop_typing set it, any other event is broadcast
//	echo:<x>                 every push answered ok with its own payload
//
// Each handler is a plain ripple.Handler running on the event loop: it
// decodes, decides and returns a Reply; it never blocks and keeps nothing
// beyond the call.
package handlers
