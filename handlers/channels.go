package handlers

import (
	"bytes"
	"fmt"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/codec"
)

// The demo's Phoenix channels (SPEC section 9). Their topics are the
// channels of the raw routes: a phoenix.js client on room:42 and a raw
// client on /ws/presence/42 or /ws/room/42 are in one room.

// RegisterChannels adds the demo channels to srv: room:<id> (RoomChannel)
// and echo:<x> (EchoChannel).
func RegisterChannels(srv *ripple.Server) error {
	if err := srv.Channel("room::room_id", RoomChannel); err != nil {
		return err
	}
	return srv.Channel("echo:*", EchoChannel)
}

// joinIdentity is the user a room join tracks, from its params
// {"user_id", "name"}: ok is false without a user_id (no tracking).
func joinIdentity(params []byte) (user, name string, ok bool) {
	var p struct {
		UserID any    `json:"user_id"`
		Name   string `json:"name"`
	}
	if codec.UnmarshalJSON(params, &p) != nil {
		return "", "", false
	}
	switch u := p.UserID.(type) {
	case string:
		user = u
	case float64:
		user = fmt.Sprint(u)
	}
	if user == "" {
		return "", "", false
	}
	if p.Name == "" {
		p.Name = user
	}
	return user, p.Name, true
}

// RoomChannel is room:<id>. A join with params {"user_id": U, "name": N}
// tracks presence {user_id U, name N (default U)} in the topic, as
// /ws/presence/<id> does; one without joins untracked. A push of typing
// or stop_typing sets the presence state to typing or online; any other
// event E with an object payload P is broadcast to the topic (the sender
// included) as event E with payload P, stamped with the sender's user_id
// and name when tracked. Both are answered ok {}. Protocol and presence
// events (phx_*, presence_state, presence_diff) and payloads that are not
// objects are answered with an error.
func RoomChannel(ev *ripple.Event) ripple.Reply {
	switch ev.Type {
	case ripple.Connect:
		user, name, ok := joinIdentity(ev.Message)
		if !ok {
			return ripple.Reply{}
		}
		return ripple.Reply{Track: &ripple.Track{Channel: ev.Topic, UserID: user, Meta: map[string]any{"name": name}}}
	case ripple.Message:
		user, name, tracked := joinIdentity(ev.JoinParams)
		switch ev.Name {
		case "typing", "stop_typing":
			r := ripple.Reply{Reply: ripple.ReplyOK(nil)}
			if tracked {
				state := "typing"
				if ev.Name == "stop_typing" {
					state = "online"
				}
				r.SetPresence = &ripple.SetPresence{Channel: ev.Topic, State: state}
			}
			return r
		case "presence_state", "presence_diff":
			return ripple.Reply{Reply: ripple.ReplyError("presence events come from the server only")}
		}
		if ev.Binary || len(bytes.TrimSpace(ev.Message)) == 0 || bytes.TrimSpace(ev.Message)[0] != '{' {
			return ripple.Reply{Reply: ripple.ReplyError("payload must be a JSON object")}
		}
		payload := ev.Message
		if tracked {
			// The sender's identity is its join's, not what it claims.
			var m map[string]any
			if err := codec.UnmarshalJSON(ev.Message, &m); err != nil || m == nil {
				return ripple.Reply{Reply: ripple.ReplyError("payload must be a JSON object")}
			}
			m["user_id"], m["name"] = user, name
			out, err := codec.MarshalJSON(m)
			if err != nil {
				return ripple.Reply{Reply: ripple.ReplyError("payload must be JSON")}
			}
			payload = out
		}
		return ripple.Reply{BroadcastRoom: ripple.ChannelMessage(ev.Name, payload), Reply: ripple.ReplyOK(nil)}
	}
	return ripple.Reply{}
}

// EchoChannel is echo:<x>: every push is answered ok with its own payload.
func EchoChannel(ev *ripple.Event) ripple.Reply {
	if ev.Type != ripple.Message {
		return ripple.Reply{}
	}
	if ev.Binary {
		return ripple.Reply{Reply: ripple.ReplyOK([]byte(`{"binary":true}`))}
	}
	return ripple.Reply{Reply: ripple.ReplyOK(append([]byte(nil), ev.Message...))}
}
