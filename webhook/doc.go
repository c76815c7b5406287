// Package webhook runs a WebSocket route's handler in another process: every
// event of the route is POSTed as JSON to a backend URL, and the backend's
// JSON answer is the event's actions, in the seed's dict format parsed by
// ripple.DecodeReply. Any language with an HTTP server can be the handler.
//
// The request body is the event (see Event):
//
//	{"type":"message","connection_id":"3f0c…","message":"hi",
//	 "params":{"room_id":"1"},"user":"42","route":"/ws/room/:room_id",
//	 "path":"/ws/room/1","query":{"lang":"en"},
//	 "headers":{"cookie":"_session=…","user-agent":"…"},"remote_addr":"10.0.0.7:51234"}
//
// and the answer, for example:
//
//	{"join":"room:1","send":"welcome","track":{"channel":"room:1","user_id":"42"}}
//
// An empty body, null, {} or a 204 means no actions. A 4xx answer to a
// connect event refuses the connection: it is closed with 1008 and the
// answer's "error" field (or status text) as the reason. A 5xx, a timeout,
// a network error or an answer that is not valid actions is a failure: it
// is logged, and on connect the route's OnError policy decides between
// closing the connection with 1011 (Reject, the default) and keeping it with
// no actions (Accept). Message and disconnect failures are logged only.
// Once a connection is refused, its remaining events are not posted.
//
// An answer that is not valid actions, or whose actions fail when applied
// (Handler.ActionError, registered with ripple.OnActionError: a
// set_presence on a channel the connection does not track, ...), is counted
// (Observer.WebhookInvalidAnswer) and, with Config.ReportErrors, posted back
// to the backend as an ErrorEvent:
//
//	{"type":"error","connection_id":"3f0c…","error":"set_presence \"room:1\": presence: not tracked",
//	 "event":"message","route":"/ws/room/:room_id"}
//
// in the background (at most Concurrency at once), signed like the events;
// its answer is ignored.
//
// A Phoenix channel's handler can be a webhook too (ripple.Server.Channel
// with Handle): its events also carry "topic", "event" (the pushed event's
// name) and "ref", and "join_params" after the join,
//
//	{"type":"message","connection_id":"3f0c…","message":"{\"body\":\"hi\"}",
//	 "topic":"room:42","event":"new_msg","ref":"7","join_params":{"user_id":"ann"},
//	 "params":{"room_id":"42"},"route":"room::room_id","path":"/socket/websocket",...}
//
// and its answer may have "reply", the phx_reply to the join or message:
//
//	{"reply":{"status":"ok","response":{}},"broadcast_room":{"event":"new_msg","payload":{"body":"hi"}}}
//
// There a 4xx answer to a join refuses the join ({"status":"error",
// "response":{"reason": the answer's "error"}}), not the connection; a
// failure refuses it with "backend unavailable" (OnError Reject) or accepts
// it (Accept), and a failed message with a ref is answered with that error.
//
// With a Secret every request is signed: X-Ripple-Timestamp carries the unix
// time in seconds and X-Ripple-Signature "sha256=" followed by the hex
// HMAC-SHA256 of timestamp + "." + body. Verify checks one (for Go
// backends); docs/dedicated.md shows the same check in Ruby, Python and Node.
//
// What it does not own: ordering and worker threads. Register the handler
// with ripple.Workers() so that it runs on the bounded worker pool; the
// engine delivers one connection's events one at a time, in order. Closing
// a connection goes through Config.Close (the server's Close helper).
//
// Goroutines: a Handler is safe for concurrent use. At most
// Config.Concurrency calls are in flight; an event waiting for a slot waits
// within its Timeout.
package webhook
