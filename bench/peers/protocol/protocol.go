package protocol

import (
	"errors"
	"strings"

	"github.com/bytedance/sonic"
)

var sonicJSON = sonic.ConfigDefault

// Route identifies a bench protocol endpoint.
type Route int

// Routes of the bench protocol.
const (
	RouteNotFound Route = iota
	RouteShootout       // /ws/shootout
	RouteRoom           // /ws/room/:room_id
	RouteEcho           // /ws/echo
)

// Match maps a request path to its route and, for Room, the channel name
// ("room:<room_id>").
func Match(path string) (Route, string) {
	switch {
	case path == "/ws/shootout":
		return RouteShootout, ""
	case path == "/ws/echo":
		return RouteEcho, ""
	case strings.HasPrefix(path, "/ws/room/"):
		id := path[len("/ws/room/"):]
		if id == "" || strings.Contains(id, "/") {
			return RouteNotFound, ""
		}
		return RouteRoom, "room:" + id
	}
	return RouteNotFound, ""
}

// ErrUnknownType is returned for a shootout message whose type is neither echo
// nor broadcast.
var ErrUnknownType = errors.New("protocol: unknown message type")

type shootoutMsg struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"`
}

// Shootout handles one /ws/shootout message. For "echo" it returns reply (to the
// sender) and a nil broadcast; for "broadcast" it returns the frame for every
// connection and the broadcastResult reply for the sender.
func Shootout(msg []byte) (reply, broadcast []byte, err error) {
	var m shootoutMsg
	if err := sonicJSON.Unmarshal(msg, &m); err != nil {
		return nil, nil, err
	}
	switch m.Type {
	case "echo":
		reply, err = sonicJSON.Marshal(shootoutMsg{Type: "echo", Payload: m.Payload})
		return reply, nil, err
	case "broadcast":
		if broadcast, err = sonicJSON.Marshal(shootoutMsg{Type: "broadcast", Payload: m.Payload}); err != nil {
			return nil, nil, err
		}
		reply, err = sonicJSON.Marshal(shootoutMsg{Type: "broadcastResult", Payload: m.Payload})
		return reply, broadcast, err
	}
	return nil, nil, ErrUnknownType
}

// Reencode parses a room message and encodes it again.
func Reencode(msg []byte) ([]byte, error) {
	var v any
	if err := sonicJSON.Unmarshal(msg, &v); err != nil {
		return nil, err
	}
	return sonicJSON.Marshal(v)
}

// ErrorMessage is the JSON sent to a sender whose room message was invalid.
func ErrorMessage(err error) []byte {
	b, _ := sonicJSON.Marshal(map[string]string{"type": "error", "error": err.Error()})
	return b
}
