package phoenix

import (
	"encoding/base64"

	"github.com/ripple-rt/ripple/codec"
)

// A topic is a channel: raw (seed protocol) members and Phoenix members of
// "room:42" get the same messages. A channel's messages are raw bytes in the
// engine and in the cluster; FromRaw is how a Phoenix member sees one, and
// Envelope is the raw form of a Phoenix event.

// Envelope appends the raw form of event with payload:
// {"event":E,"payload":P}, which FromRaw maps back to E and P. It is the
// shape of the seed's presence messages, so raw clients read both alike.
// payload must be one JSON value; nil means {}.
func Envelope(b []byte, event string, payload []byte) []byte {
	if payload == nil {
		payload = emptyObject
	}
	b = append(b, `{"event":`...)
	b = AppendString(b, event)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// FromRaw returns the event and payload under which a Phoenix member
// receives raw message msg:
//
//   - a JSON object with exactly the keys "event" (a string) and "payload":
//     that event with that payload, unless the event is reserved (phx_*:
//     only the server closes or answers a client's channel);
//   - any other JSON object: event "message" with msg as the payload;
//   - anything else: event "message" with payload {"body": msg as a string}.
//
// A binary msg is event "message" with msg itself as a binary payload
// (binary is then true; see BinaryBody for transports without binary
// frames). payload may alias msg.
func FromRaw(msg []byte, isBinary bool) (event string, payload []byte, binary bool) {
	if isBinary {
		return EventMessage, msg, true
	}
	if len(msg) > 0 && msg[0] == '{' {
		var obj map[string]codec.RawJSON
		if codec.UnmarshalJSON(msg, &obj) == nil && obj != nil {
			if ev, p, ok := envelope(obj); ok {
				return ev, p, false
			}
			return EventMessage, msg, false
		}
	}
	return EventMessage, body(msg), false
}

// envelope recognises {"event":E,"payload":P}.
func envelope(obj map[string]codec.RawJSON) (string, []byte, bool) {
	if len(obj) != 2 {
		return "", nil, false
	}
	rawEv, ok1 := obj["event"]
	p, ok2 := obj["payload"]
	if !ok1 || !ok2 {
		return "", nil, false
	}
	ev, ok := jsonString(rawEv)
	if !ok || ev == "" || len(ev) > MaxName || Reserved(ev) {
		return "", nil, false
	}
	return ev, p, true
}

// body is {"body": msg} with msg as a JSON string.
func body(msg []byte) []byte {
	b := make([]byte, 0, len(msg)+len(`{"body":""}`)+8)
	b = append(b, `{"body":`...)
	b = AppendString(b, string(msg))
	return append(b, '}')
}

// BinaryBody is the JSON payload that carries a binary payload where only
// text can go (vsn 1.0.0, the long-poll transport):
// {"body": base64, "encoding": "base64"}.
func BinaryBody(p []byte) []byte {
	b := make([]byte, 0, base64.StdEncoding.EncodedLen(len(p))+len(`{"body":"","encoding":"base64"}`))
	b = append(b, `{"body":"`...)
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, `","encoding":"base64"}`...)
}
