// Package dialect is the generator's side of each server's own protocol.
// The scenario drivers speak the bench protocol: they dial a bench route
// (/ws/echo, /ws/shootout, /ws/room/<id>, /ws/presence/<id>?user_id=U),
// send bench messages ({"type":K,"payload":{…}}, bench/benchmsg) and read
// bench messages and Ripple's presence events. A dialect maps that onto a
// server that speaks something else, so no driver knows any other protocol:
//
//   - Bench: ripple and the bench protocol's peers; nothing to map (the
//     driver is the loop's handler, Send writes a text frame).
//   - Centrifuge: centrifuge's JSON protocol (client protocol v2) on
//     /connection/websocket. The opening is one frame of commands: connect
//     (the user rides the query parameter the peer's middleware reads),
//     subscribe to room:<id> or presence:<id>, and for presence the
//     presence call; the connection counts as open once every reply came. A
//     room message is a publish, an echo an RPC (method echo); publications
//     and RPC results reach the driver as the bench message they carry. Join
//     and leave pushes become presence_diff events (the connection's own
//     join left out), the presence call's result presence_state (pushes
//     that arrive before it are held and follow it, so a view is exact);
//     ListPresence asks the presence call again for a final check. Server
//     pings ({}) are answered; an error reply reaches the driver as
//     {"type":"error","error":…}.
//   - SocketIO: Engine.IO v4 and Socket.IO v5 over the WebSocket transport
//     (/socket.io/?EIO=4&transport=websocket&room=<id>). The opening is the
//     server's open packet (0{…}) and the namespace connect (40, answered
//     40{…}); events are 42["room",M] and 42["echo",M] both ways, M the
//     bench message; pings (2) are answered (3). Socket.IO has no presence.
//
// A dialect other than Bench wraps the driver in a loadgen.Handler that is a
// loadgen.Opener and keeps its per-connection state in Conn.Ext. Parsing is
// allocation-free on the way of every message (benchmsg.Fields/Elements);
// synthesized messages are built in the client's scratch buffer.
//
// Goroutine rules: a Client belongs to one loadgen.Loop; every method runs
// on that loop's goroutine. Supports and the route helpers are pure.
package dialect
