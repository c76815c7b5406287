package engine

import (
	"errors"
	"fmt"

	"github.com/ripple-rt/ripple/codec"
)

// ErrBadActions is wrapped by every DecodeReply error.
var ErrBadActions = errors.New("engine: invalid actions")

// DecodeReply parses actions in the seed's dict format, the answer of a
// webhook handler:
//
//	{"send": "hi", "join": "room:1", "broadcast_room": "{...}",
//	 "track": {"channel": "room:1", "user_id": "42", "name": "Ann"},
//	 "set_presence": {"channel": "room:1", "state": "typing"},
//	 "untrack": "room:1", "leave": ["room:1", "room:2"]}
//
// join, leave and untrack take a channel or a list of channels;
// broadcast_room takes the message, or {"channel","message"} to name the
// channel; "room" is accepted as the channel of broadcast_room too. Unknown
// keys and wrong types are errors (wrapping ErrBadActions); so are a track
// without channel or user_id and a set_presence without channel or state.
// An empty document or null is an empty Reply.
//
// A channel handler's answer may also have "reply", the phx_reply to the
// join or message: {"status": "ok"|"error"|..., "response": any JSON}
// (response defaults to {}); an "error" reply to a join refuses it.
func DecodeReply(data []byte) (Reply, error) {
	var raw map[string]codec.RawJSON
	if err := codec.UnmarshalJSON(data, &raw); err != nil {
		return Reply{}, fmt.Errorf("%w: %v", ErrBadActions, err)
	}
	var r Reply
	for key, val := range raw {
		var err error
		switch key {
		case "send":
			r.Send, err = messageArg(val)
		case "broadcast":
			r.Broadcast, err = messageArg(val)
		case "broadcast_room":
			r.BroadcastRoom, r.Room, err = roomMessage(val, r.Room)
		case "room":
			err = codec.UnmarshalJSON(val, &r.Room)
		case "binary":
			err = codec.UnmarshalJSON(val, &r.Binary)
		case "join":
			r.Join, err = channels(val)
		case "leave":
			r.Leave, err = channels(val)
		case "untrack":
			r.Untrack, err = channels(val)
		case "track":
			r.Track, err = track(val)
		case "set_presence":
			r.SetPresence, err = setPresence(val)
		case "reply":
			r.Reply, err = channelReply(val)
		default:
			err = errors.New("unknown action")
		}
		if err != nil {
			return Reply{}, fmt.Errorf("%w: %q: %v", ErrBadActions, key, err)
		}
	}
	return r, nil
}

// messageArg takes a JSON string as the message text; any other JSON value is
// sent as its encoding.
func messageArg(val []byte) ([]byte, error) {
	var s string
	if err := codec.UnmarshalJSON(val, &s); err == nil {
		return []byte(s), nil
	}
	if string(val) == "null" {
		return nil, nil
	}
	return append([]byte(nil), val...), nil
}

func roomMessage(val []byte, room string) ([]byte, string, error) {
	var obj struct {
		Channel *string       `json:"channel"`
		Message codec.RawJSON `json:"message"`
	}
	if len(val) > 0 && val[0] == '{' {
		if err := codec.UnmarshalJSON(val, &obj); err == nil && obj.Channel != nil {
			msg, err := messageArg(obj.Message)
			return msg, *obj.Channel, err
		}
	}
	msg, err := messageArg(val)
	return msg, room, err
}

func channels(val []byte) ([]string, error) {
	var one string
	if err := codec.UnmarshalJSON(val, &one); err == nil {
		if one == "" {
			return nil, ErrNoChannel
		}
		return []string{one}, nil
	}
	var many []string
	if err := codec.UnmarshalJSON(val, &many); err != nil {
		return nil, errors.New("want a channel name or a list of them")
	}
	for _, ch := range many {
		if ch == "" {
			return nil, ErrNoChannel
		}
	}
	return many, nil
}

func track(val []byte) (*Track, error) {
	var meta map[string]any
	if err := codec.UnmarshalJSON(val, &meta); err != nil || meta == nil {
		return nil, errors.New("want an object with channel and user_id")
	}
	ch, _ := meta["channel"].(string)
	if ch == "" {
		return nil, errors.New("channel required")
	}
	var user string
	switch u := meta["user_id"].(type) {
	case string:
		user = u
	case float64:
		user = fmt.Sprint(u)
	}
	if user == "" {
		return nil, errors.New("user_id required")
	}
	delete(meta, "channel")
	delete(meta, "user_id")
	return &Track{Channel: ch, UserID: user, Meta: meta}, nil
}

func setPresence(val []byte) (*SetPresence, error) {
	var p SetPresence
	var obj struct {
		Channel string `json:"channel"`
		State   string `json:"state"`
	}
	if err := codec.UnmarshalJSON(val, &obj); err != nil {
		return nil, errors.New("want an object with channel and state")
	}
	if obj.Channel == "" || obj.State == "" {
		return nil, errors.New("channel and state required")
	}
	p.Channel, p.State = obj.Channel, obj.State
	return &p, nil
}

func channelReply(val []byte) (*ChannelReply, error) {
	var obj struct {
		Status   *string       `json:"status"`
		Response codec.RawJSON `json:"response"`
	}
	if len(val) == 0 || val[0] != '{' || codec.UnmarshalJSON(val, &obj) != nil {
		return nil, errors.New(`want an object {"status", "response"}`)
	}
	if obj.Status == nil || *obj.Status == "" {
		return nil, errors.New("status required")
	}
	r := &ChannelReply{Status: *obj.Status}
	if len(obj.Response) > 0 && string(obj.Response) != "null" {
		r.Response = append([]byte(nil), obj.Response...)
	}
	return r, nil
}
