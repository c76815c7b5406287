// Package phoenix speaks the wire protocol of Phoenix Channels, so that
// phoenix.js and every other Phoenix client talk to Ripple unchanged: the
// serializers (V1 JSON objects, V2 JSON arrays and binary frames), the
// mapping between a channel's raw messages and Phoenix events, and the
// long-poll transport's HTTP side.
//
// # Messages
//
// A client sends, over /socket/websocket?vsn=2.0.0,
//
//	[join_ref, ref, topic, event, payload]     e.g. ["1","1","room:42","phx_join",{"user_id":"ann"}]
//
// and with vsn=1.0.0 (or none) the same fields as an object
// {"topic","event","payload","ref","join_ref"}. Decode parses both, and the
// binary pushes of V2; AppendMessage and AppendReply write the server's
// side (phx_reply carries {"status","response"}), and the AppendBinary
// functions its binary frames. A server message pushed to every member of a
// topic has null refs, so it is the same bytes for all of them.
//
// # Topics and raw messages
//
// A topic is a channel, so its messages are raw bytes, shared with members
// that speak the seed's plain protocol. FromRaw says which event a Phoenix
// member receives for one; Envelope writes the raw form of a Phoenix event,
// {"event":E,"payload":P}, which FromRaw maps back. Presence messages
// already have that shape.
//
// # Long polling
//
// LongPoll is the http.Handler of /socket/longpoll. It owns the HTTP
// exchange (tokens in, JSON statuses out, CORS) and nothing else: the
// sessions, their channels and queued messages are the Sessions
// implementation's (the engine's, which keeps each session as a connection
// of an event loop; no goroutine waits for an idle session, only a poll
// request waits for its messages).
//
// It does not own connections, channels, handlers or presence. Everything
// here is pure and safe for concurrent use; Decode's results alias its
// input.
package phoenix
