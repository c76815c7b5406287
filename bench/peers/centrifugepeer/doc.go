// Package centrifugepeer is a peer of ripple-bench on centrifugal/centrifuge,
// the engine of Centrifugo, set up as its README sets it up: a Node with the
// default Config (its in-memory broker and presence manager), the WebSocket
// handler with the default WebsocketConfig on /connection/websocket (the JSON
// protocol of centrifuge's client SDKs), credentials from an HTTP middleware
// (the query parameter user; empty: anonymous).
//
// What a client may do:
//   - subscribe to any channel; channels named presence:<id> have presence
//     on, with join and leave pushes to their subscribers (EmitPresence,
//     EmitJoinLeave, PushJoinLeave); the others have neither; no channel
//     keeps history;
//   - publish to any channel (the publication goes to every subscriber, the
//     publisher included when subscribed);
//   - call RPC method "echo", answered with the request's data: the bench's
//     echo goes over RPC;
//   - ask for a channel's presence.
//
// The generator's side of the protocol is bench/dialect. It is a peer for
// ripple-bench comparisons, not a product server.
package centrifugepeer
