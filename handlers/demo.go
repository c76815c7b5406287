package handlers

import (
	"cmp"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/codec"
)

// Register adds every demo route and channel (RegisterChannels) to srv.
func Register(srv *ripple.Server) error {
	if err := RegisterChannels(srv); err != nil {
		return err
	}
	for _, r := range []struct {
		pattern string
		h       ripple.Handler
	}{
		{"/ws/chat", Chat},
		{"/ws/room/:room_id", Room},
		{"/ws/presence/:room_id", Presence},
		{"/ws/echo", Echo},
		{"/ws/shootout", Shootout},
	} {
		if err := srv.Handle(r.pattern, r.h); err != nil {
			return err
		}
	}
	return nil
}

// Chat is the seed's chat handler: a connect broadcasts
// {"type":"join","user":<connection_id>}, a message is broadcast unchanged.
func Chat(ev *ripple.Event) ripple.Reply {
	switch ev.Type {
	case ripple.Connect:
		b := append([]byte(`{"type":"join","user":"`), ev.ConnectionID...)
		return ripple.Reply{Broadcast: append(b, `"}`...)}
	case ripple.Message:
		return ripple.Reply{Broadcast: ev.Message, Binary: ev.Binary}
	}
	return ripple.Reply{}
}

// Room joins room:<room_id> on connect and sends every JSON message, re-encoded,
// to the room's members; a message that is not JSON gets an error back.
func Room(ev *ripple.Event) ripple.Reply {
	room := "room:" + ev.Params.Get("room_id")
	switch ev.Type {
	case ripple.Connect:
		return ripple.Reply{Join: []string{room}}
	case ripple.Message:
		return roomMessage(ev.Message, room)
	}
	return ripple.Reply{}
}

func roomMessage(msg []byte, room string) ripple.Reply {
	out, err := codec.ReencodeJSON(msg)
	if err != nil {
		return ripple.Reply{Send: errorMessage("message must be JSON")}
	}
	return ripple.Reply{BroadcastRoom: out, Room: room}
}

// Presence is Room with presence: on connect it tracks
// {user_id: ?user_id, name: ?name} (the connection id when no user_id is
// given); {"event":"typing"} and {"event":"stop_typing"} set the state to
// typing and online; any other JSON object goes to the room with its
// "user_id" and "name" set to the sender's, so nobody can speak as someone
// else or forge presence events.
func Presence(ev *ripple.Event) ripple.Reply {
	room := "room:" + ev.Params.Get("room_id")
	switch ev.Type {
	case ripple.Connect:
		q := ev.Request.Query()
		user := q.Get("user_id")
		if user == "" {
			user = ev.ConnectionID
		}
		meta := map[string]any{}
		if name := q.Get("name"); name != "" {
			meta["name"] = name
		}
		return ripple.Reply{Join: []string{room}, Track: &ripple.Track{Channel: room, UserID: user, Meta: meta}}
	case ripple.Message:
		var m map[string]any
		if err := codec.UnmarshalJSON(ev.Message, &m); err != nil || m == nil {
			return ripple.Reply{Send: errorMessage("message must be a JSON object")}
		}
		switch m["event"] {
		case "typing":
			return ripple.Reply{SetPresence: &ripple.SetPresence{Channel: room, State: "typing"}}
		case "stop_typing":
			return ripple.Reply{SetPresence: &ripple.SetPresence{Channel: room, State: "online"}}
		case "presence_state", "presence_diff":
			return ripple.Reply{Send: errorMessage("presence events come from the server only")}
		}
		// The sender's identity is the connection's, not what it claims.
		q := ev.Request.Query()
		m["user_id"] = cmp.Or(q.Get("user_id"), ev.ConnectionID)
		if name := q.Get("name"); name != "" {
			m["name"] = name
		} else {
			delete(m, "name")
		}
		out, err := codec.MarshalJSON(m)
		if err != nil {
			return ripple.Reply{Send: errorMessage("message must be JSON")}
		}
		return ripple.Reply{BroadcastRoom: out, Room: room}
	}
	return ripple.Reply{}
}

// Echo sends every message back to its sender with the same opcode.
func Echo(ev *ripple.Event) ripple.Reply {
	if ev.Type != ripple.Message {
		return ripple.Reply{}
	}
	return ripple.Reply{Send: ev.Message, Binary: ev.Binary}
}

// Shootout speaks the websocket-shootout protocol:
// {"type":"echo","payload":P} is answered with {"type":"echo","payload":P};
// {"type":"broadcast","payload":P} is broadcast as
// {"type":"broadcast","payload":P} and answered with
// {"type":"broadcastResult","payload":P}.
func Shootout(ev *ripple.Event) ripple.Reply {
	if ev.Type != ripple.Message {
		return ripple.Reply{}
	}
	var m struct {
		Type    string        `json:"type"`
		Payload codec.RawJSON `json:"payload"`
	}
	if err := codec.UnmarshalJSON(ev.Message, &m); err != nil {
		return ripple.Reply{Send: errorMessage("message must be JSON")}
	}
	if len(m.Payload) == 0 {
		m.Payload = codec.RawJSON("null")
	}
	switch m.Type {
	case "echo":
		return ripple.Reply{Send: typed("echo", m.Payload)}
	case "broadcast":
		return ripple.Reply{Broadcast: typed("broadcast", m.Payload), Send: typed("broadcastResult", m.Payload)}
	}
	return ripple.Reply{Send: errorMessage("unknown type")}
}

// typed builds {"type":<t>,"payload":<payload>} with one allocation.
func typed(t string, payload []byte) []byte {
	b := make([]byte, 0, len(`{"type":"","payload":}`)+len(t)+len(payload))
	b = append(b, `{"type":"`...)
	b = append(b, t...)
	b = append(b, `","payload":`...)
	b = append(b, payload...)
	return append(b, '}')
}

// errorMessage builds {"type":"error","error":<text>}; text is a constant
// without characters that need escaping.
func errorMessage(text string) []byte {
	return []byte(`{"type":"error","error":"` + text + `"}`)
}
