package phoenix

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ripple-rt/ripple/codec"
)

// Vsn is a serializer version, chosen by the client with the vsn query
// parameter of the socket URL.
type Vsn uint8

const (
	// V1 messages are JSON objects {"topic","event","payload","ref"} (and
	// "join_ref" from the client, optionally); vsn=1.0.0 or no vsn.
	V1 Vsn = 1
	// V2 messages are JSON arrays [join_ref, ref, topic, event, payload],
	// and binary frames for binary payloads; vsn=2.0.0, phoenix.js's default.
	V2 Vsn = 2
)

func (v Vsn) String() string {
	switch v {
	case V1:
		return "1.0.0"
	case V2:
		return "2.0.0"
	}
	return "unknown"
}

// MaxName bounds the bytes of a topic, an event name and a ref: Phoenix's
// binary frames carry each length in one byte, and the JSON forms are held
// to the same limit.
const MaxName = 255

// Errors. Decode errors wrap ErrMalformed with what was wrong.
var (
	ErrVsn       = errors.New("phoenix: unsupported serializer version")
	ErrMalformed = errors.New("phoenix: malformed message")
	ErrTooLong   = errors.New("phoenix: topic, event or ref longer than 255 bytes")
)

// ParseVsn reads the vsn query parameter: "" (Phoenix's default) and 1.x.y
// are V1, 2.x.y is V2.
func ParseVsn(s string) (Vsn, error) {
	major, _, _ := strings.Cut(s, ".")
	switch major {
	case "", "1":
		return V1, nil
	case "2":
		return V2, nil
	}
	return 0, fmt.Errorf("%w %q (this server speaks 1.0.0 and 2.0.0)", ErrVsn, s)
}

// Message is one message from a client. A null or absent ref or join_ref is
// "". Payload is the JSON text of the payload, or the bytes of a binary push
// (Binary set); it aliases the decoded input.
type Message struct {
	JoinRef string
	Ref     string
	Topic   string
	Event   string
	Payload []byte
	Binary  bool
}

// Push kinds of V2 binary frames.
const (
	kindPush      = 0
	kindReply     = 1
	kindBroadcast = 2
)

// Decode parses one message a client sent in a text frame (binary false) or
// a binary frame (V2 only). Topic and event must be non-empty strings, refs
// strings or null, each at most MaxName bytes; the payload may be any JSON
// value. A V2 array may have more than five elements (ignored, as Phoenix
// does). Errors wrap ErrMalformed.
func Decode(vsn Vsn, data []byte, binary bool) (Message, error) {
	if binary {
		if vsn != V2 {
			return Message{}, fmt.Errorf("%w: binary frames need vsn 2.0.0", ErrMalformed)
		}
		return decodeBinary(data)
	}
	if vsn == V1 {
		return decodeV1(data)
	}
	return decodeV2(data)
}

func decodeV2(data []byte) (Message, error) {
	var parts []codec.RawJSON
	if err := codec.UnmarshalJSON(data, &parts); err != nil {
		return Message{}, fmt.Errorf("%w: want a JSON array [join_ref, ref, topic, event, payload]", ErrMalformed)
	}
	if len(parts) < 5 {
		return Message{}, fmt.Errorf("%w: want 5 elements [join_ref, ref, topic, event, payload], got %d", ErrMalformed, len(parts))
	}
	return fields(parts[0], parts[1], parts[2], parts[3], parts[4])
}

func decodeV1(data []byte) (Message, error) {
	var obj struct {
		Topic   codec.RawJSON `json:"topic"`
		Event   codec.RawJSON `json:"event"`
		Payload codec.RawJSON `json:"payload"`
		Ref     codec.RawJSON `json:"ref"`
		JoinRef codec.RawJSON `json:"join_ref"`
	}
	if len(data) == 0 || data[0] != '{' || codec.UnmarshalJSON(data, &obj) != nil {
		return Message{}, fmt.Errorf("%w: want a JSON object {\"topic\",\"event\",\"payload\",\"ref\"}", ErrMalformed)
	}
	if obj.Payload == nil {
		return Message{}, fmt.Errorf("%w: payload missing", ErrMalformed)
	}
	return fields(obj.JoinRef, obj.Ref, obj.Topic, obj.Event, obj.Payload)
}

// fields checks and converts the five parts of a JSON message.
func fields(joinRef, ref, topic, event, payload codec.RawJSON) (m Message, err error) {
	if m.JoinRef, err = field("join_ref", joinRef, true); err != nil {
		return Message{}, err
	}
	if m.Ref, err = field("ref", ref, true); err != nil {
		return Message{}, err
	}
	if m.Topic, err = field("topic", topic, false); err != nil {
		return Message{}, err
	}
	if m.Event, err = field("event", event, false); err != nil {
		return Message{}, err
	}
	m.Payload = payload
	return m, nil
}

// field converts one string part: null (or absent) is "" when nullable.
func field(name string, raw codec.RawJSON, nullable bool) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if nullable {
			return "", nil
		}
		return "", fmt.Errorf("%w: %s must be a non-empty string", ErrMalformed, name)
	}
	s, ok := jsonString(raw)
	switch {
	case !ok && nullable:
		return "", fmt.Errorf("%w: %s must be a UTF-8 string or null", ErrMalformed, name)
	case !ok || s == "" && !nullable:
		return "", fmt.Errorf("%w: %s must be a non-empty UTF-8 string", ErrMalformed, name)
	case len(s) > MaxName:
		return "", fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, MaxName)
	}
	return s, nil
}

// jsonString decodes a JSON string value; a string that is not valid
// UTF-8 (raw bytes, a lone surrogate escape) is refused.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), utf8.Valid(inner)
	}
	var s string
	if codec.UnmarshalJSON(raw, &s) != nil {
		return "", false
	}
	return s, utf8.ValidString(s) // "\ud800" decodes to no valid character

}

// decodeBinary parses a V2 binary push:
// [0][join_ref size][ref size][topic size][event size][join_ref][ref][topic][event][payload].
func decodeBinary(b []byte) (Message, error) {
	if len(b) < 5 || b[0] != kindPush {
		return Message{}, fmt.Errorf("%w: binary frame is not a push", ErrMalformed)
	}
	sizes := [4]int{int(b[1]), int(b[2]), int(b[3]), int(b[4])}
	rest := b[5:]
	var parts [4]string
	for i, n := range sizes {
		if len(rest) < n {
			return Message{}, fmt.Errorf("%w: binary frame shorter than its header says", ErrMalformed)
		}
		if !utf8.Valid(rest[:n]) {
			return Message{}, fmt.Errorf("%w: binary frame field is not UTF-8", ErrMalformed)
		}
		parts[i], rest = string(rest[:n]), rest[n:]
	}
	m := Message{JoinRef: parts[0], Ref: parts[1], Topic: parts[2], Event: parts[3], Payload: rest, Binary: true}
	if m.Topic == "" || m.Event == "" {
		return Message{}, fmt.Errorf("%w: topic and event must not be empty", ErrMalformed)
	}
	return m, nil
}

// emptyObject is the payload of messages that carry none.
var emptyObject = []byte("{}")

// AppendMessage appends a server message as text: V2
// [join_ref, ref, topic, event, payload], V1 {"topic","event","payload","ref"}
// (V1 has no join_ref). An empty ref or join_ref is null; payload must be
// one JSON value, nil meaning {}.
func AppendMessage(b []byte, vsn Vsn, joinRef, ref, topic, event string, payload []byte) []byte {
	if payload == nil {
		payload = emptyObject
	}
	if vsn == V1 {
		b = append(b, `{"topic":`...)
		b = AppendString(b, topic)
		b = append(b, `,"event":`...)
		b = AppendString(b, event)
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
		b = append(b, `,"ref":`...)
		b = appendRef(b, ref)
		return append(b, '}')
	}
	b = append(b, '[')
	b = appendRef(b, joinRef)
	b = append(b, ',')
	b = appendRef(b, ref)
	b = append(b, ',')
	b = AppendString(b, topic)
	b = append(b, ',')
	b = AppendString(b, event)
	b = append(b, ',')
	b = append(b, payload...)
	return append(b, ']')
}

// AppendReply appends the phx_reply to the message ref of topic:
// payload {"status":status,"response":response}, response nil meaning {}.
func AppendReply(b []byte, vsn Vsn, joinRef, ref, topic, status string, response []byte) []byte {
	if response == nil {
		response = emptyObject
	}
	p := make([]byte, 0, len(`{"status":"","response":}`)+len(status)+len(response))
	p = append(p, `{"status":`...)
	p = AppendString(p, status)
	p = append(p, `,"response":`...)
	p = append(p, response...)
	p = append(p, '}')
	return AppendMessage(b, vsn, joinRef, ref, topic, EventReply, p)
}

func appendRef(b []byte, ref string) []byte {
	if ref == "" {
		return append(b, "null"...)
	}
	return AppendString(b, ref)
}

// AppendBinaryPush appends a V2 binary server push:
// [0][join_ref size][topic size][event size][join_ref][topic][event][payload].
func AppendBinaryPush(b []byte, joinRef, topic, event string, payload []byte) ([]byte, error) {
	if len(joinRef) > MaxName || len(topic) > MaxName || len(event) > MaxName {
		return b, ErrTooLong
	}
	b = append(b, kindPush, byte(len(joinRef)), byte(len(topic)), byte(len(event)))
	b = append(b, joinRef...)
	b = append(b, topic...)
	b = append(b, event...)
	return append(b, payload...), nil
}

// AppendBinaryReply appends a V2 binary reply:
// [1][join_ref size][ref size][topic size][status size][join_ref][ref][topic][status][payload].
func AppendBinaryReply(b []byte, joinRef, ref, topic, status string, payload []byte) ([]byte, error) {
	if len(joinRef) > MaxName || len(ref) > MaxName || len(topic) > MaxName || len(status) > MaxName {
		return b, ErrTooLong
	}
	b = append(b, kindReply, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(status)))
	b = append(b, joinRef...)
	b = append(b, ref...)
	b = append(b, topic...)
	b = append(b, status...)
	return append(b, payload...), nil
}

// AppendBinaryBroadcast appends a V2 binary broadcast:
// [2][topic size][event size][topic][event][payload].
func AppendBinaryBroadcast(b []byte, topic, event string, payload []byte) ([]byte, error) {
	if len(topic) > MaxName || len(event) > MaxName {
		return b, ErrTooLong
	}
	b = append(b, kindBroadcast, byte(len(topic)), byte(len(event)))
	b = append(b, topic...)
	b = append(b, event...)
	return append(b, payload...), nil
}

// AppendString appends s as a JSON string, invalid UTF-8 replaced.
// Printable ASCII without quotes or backslashes is copied as it is.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			enc, err := codec.MarshalJSON(strings.ToValidUTF8(s, "\uFFFD"))
			if err != nil { // unreachable: strings always encode
				enc = []byte(`""`)
			}
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
