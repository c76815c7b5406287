package phoenix

import "strings"

// The events of the protocol.
const (
	EventJoin      = "phx_join"  // client: join a topic, payload = join params
	EventLeave     = "phx_leave" // client: leave a topic
	EventReply     = "phx_reply" // server: {"status","response"} to the message with the same ref
	EventClose     = "phx_close" // server: the channel is closed (left, or replaced by a second join)
	EventError     = "phx_error" // server: the channel crashed; the client rejoins
	EventHeartbeat = "heartbeat" // client, on TopicPhoenix: answered ok
	// EventMessage is the event of a raw message that is not an envelope
	// (see FromRaw).
	EventMessage = "message"
)

// TopicPhoenix is the socket's own topic: heartbeats, and the messages sent
// to the whole connection rather than to one of its channels.
const TopicPhoenix = "phoenix"

// Reply statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Reserved reports whether event is one of the protocol's own (phx_*),
// which only the server may send.
func Reserved(event string) bool { return strings.HasPrefix(event, "phx_") }
