package phoenix

import (
	"encoding/base64"
	"encoding/json"
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
	// encoding/json's Valid is strict (sonic's lets raw control characters
	// through strings): what a Phoenix member gets must parse.
	if obj := trimSpace(msg); len(obj) > 0 && obj[0] == '{' && json.Valid(obj) {
		if ev, p, ok := envelope(obj); ok {
			return ev, p, false
		}
		return EventMessage, msg, false
	}
	return EventMessage, body(msg), false
}

// envelope recognises {"event":E,"payload":P} in obj, a valid JSON object,
// without decoding it: it walks the top-level members.
func envelope(obj []byte) (string, []byte, bool) {
	var rawEv, p []byte
	n := 0
	i := 1
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			break
		}
		if obj[i] == ',' {
			i++
			continue
		}
		kEnd := skipString(obj, i)
		key := obj[i:kEnd]
		i = skipSpace(obj, kEnd) + 1 // ':'
		i = skipSpace(obj, i)
		vEnd := skipValue(obj, i)
		switch n++; string(key) {
		case `"event"`:
			rawEv = obj[i:vEnd]
		case `"payload"`:
			p = obj[i:vEnd]
		}
		i = vEnd
	}
	if n != 2 || rawEv == nil || p == nil {
		return "", nil, false
	}
	ev, ok := jsonString(rawEv)
	if !ok || ev == "" || len(ev) > MaxName || Reserved(ev) {
		return "", nil, false
	}
	return ev, p, true
}

// The scanners below walk JSON already known to be valid.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the end of the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
		i++
	}
	return i
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
