// Package ripple is a realtime WebSocket server built for massive connection
// counts: rooms, broadcasts and Phoenix-style presence on gnet event loops,
// with no goroutine per connection.
//
// A Go application registers handler funcs that receive an Event (connect,
// message, disconnect) and answer with a Reply of actions:
//
//	srv := ripple.New(ripple.Config{})
//	srv.Handle("/ws/room/:room_id", func(ev *ripple.Event) ripple.Reply {
//		room := "room:" + ev.Params.Get("room_id")
//		switch ev.Type {
//		case ripple.Connect:
//			return ripple.Reply{Join: []string{room}}
//		case ripple.Message:
//			return ripple.Reply{BroadcastRoom: ev.Message}
//		}
//		return ripple.Reply{}
//	})
//	log.Fatal(srv.ListenAndServe(":8080"))
//
// Handlers run on the event loop and must not block; register a handler that
// calls a database or another service with the Workers option. The helpers
// (Send, Broadcast, BroadcastRoom, Join, ClientsIn, ListPresence, …) are safe
// from any goroutine. Plain HTTP requests on the same port go to
// Config.HTTPHandler; package httpapi exposes the helpers as a JSON API.
//
// Several servers become one with JoinCluster (ripple -redis URL): rooms,
// broadcasts, every helper and presence then work across the nodes through
// one Redis server, and a node that dies has its connections and presences
// removed everywhere within seconds (package cluster).
//
// The mechanisms live in their own packages: engine (event loops, fan-out),
// codec (WebSocket framing and handshake), route (path patterns), presence
// (the presence tracker), cluster (Redis cluster mode), handlers (the
// built-in demo handlers).
package ripple
