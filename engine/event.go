package engine

import (
	"errors"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/phoenix"
	"github.com/ripple-rt/ripple/route"
)

// EventType says what happened to a connection.
type EventType uint8

// Event types, in the order a connection sees them: one Connect, any number
// of Message, one Disconnect.
const (
	Connect EventType = iota + 1
	Message
	Disconnect
)

func (t EventType) String() string {
	switch t {
	case Connect:
		return "connect"
	case Message:
		return "message"
	case Disconnect:
		return "disconnect"
	}
	return "unknown"
}

// Event is what a Handler is called with.
//
// For a route that runs on the event loop (the default) the Event and its
// Message are valid only until the Handler returns; copy what you keep. For a
// route registered with Workers they are the Handler's to keep.
type Event struct {
	Type         EventType
	ConnectionID string
	// Message is the payload of a Message event (text or, with Binary set,
	// binary); nil otherwise.
	Message []byte
	Binary  bool
	// Params holds the route's dynamic segments: /ws/room/:room_id gives
	// Params.Get("room_id").
	Params route.Params
	// Request is the upgrade request: path, query, headers, cookies.
	Request *codec.Request
	// User is the identity the Auth hook returned, or "".
	User string

	// The events of a channel handler (HandleChannel) also carry these; on
	// a raw route they are empty. A channel's Connect is the client's
	// phx_join (Message holds the join params), each Message an event the
	// client pushed (Message holds its payload: JSON, or bytes with Binary
	// set), and its one Disconnect comes when the channel ends.
	//
	// Topic is the channel's topic ("room:42"); Params holds what its
	// pattern captured ("room::room_id" gives Params.Get("room_id")).
	Topic string
	// Name is the event's name: of a Message, the event the client pushed
	// ("new_msg"); of a Disconnect, why the channel ended: "phx_leave" (the
	// client left), "phx_close" (the connection closed, a second join of
	// the topic replaced it, or the handler left the topic), "phx_error"
	// (the handler panicked on a message).
	Name string
	// Ref is the client's ref of the join or message, which a Reply
	// answers.
	Ref string
	// JoinParams is the payload of the channel's join (JSON), on every
	// event of the channel.
	JoinParams []byte

	e  *Engine
	c  *conn
	ch *phxChan // the channel of a channel event; nil on raw routes
}

// Join adds the event's connection to channel now (the seed's ws_join). It is
// safe from any goroutine.
func (ev *Event) Join(channel string) error { return ev.e.join(ev.c, channel) }

// Leave removes the event's connection from channel now (ws_leave), and
// untracks its presence there.
func (ev *Event) Leave(channel string) error { return ev.e.leave(ev.c, channel) }

// Handler handles a connection's events and answers with actions.
type Handler func(*Event) Reply

// Route is a registered WebSocket endpoint.
type Route struct {
	Pattern string
	Handler Handler
	// Workers runs Handler on the worker pool instead of the event loop, for
	// handlers that block (databases, HTTP calls). Events of one connection
	// still arrive one at a time and in order.
	Workers bool
	// ActionError, when set, is told about every reply of Handler whose
	// actions could not all be applied (a set_presence on a channel the
	// connection does not track, a broadcast_room with no channel joined,
	// ...): the connection's id, the event answered and the error. The
	// engine logs them either way. It runs on the event loop and must not
	// block.
	ActionError func(connID string, event EventType, err error)
	// Refresh makes a text message {"type":"refresh","token":"..."} renew
	// the connection's credentials (Config.Refresh) instead of reaching
	// Handler.
	Refresh bool
	// MaxMessagesPerSecond and MaxBytesPerSecond are the route's inbound
	// rate limits (see Config): zero means the Config's, negative means
	// none on this route.
	MaxMessagesPerSecond int
	MaxBytesPerSecond    int

	phoenix bool // the Phoenix socket's own route (HandleChannel)
}

// Reply is the set of actions a Handler answers with. Empty fields do
// nothing: a nil Send, Broadcast or BroadcastRoom sends nothing, while an
// empty non-nil slice sends an empty message. Actions apply in this order: Join, Track, SetPresence, Send,
// BroadcastRoom, Broadcast, Untrack, Leave.
type Reply struct {
	// Send goes to the event's connection only.
	Send []byte
	// Broadcast goes to every connection, the sender included.
	Broadcast []byte
	// BroadcastRoom goes to every member of Room, or, with Room empty, of
	// every channel the connection has joined (a member of several gets it
	// once).
	BroadcastRoom []byte
	Room          string
	// Binary sends Send, Broadcast and BroadcastRoom as binary frames
	// instead of text.
	Binary bool

	Join  []string
	Leave []string

	Track       *Track
	SetPresence *SetPresence
	Untrack     []string

	// Reply answers a channel's join or message with a phx_reply (ignored
	// on raw routes). On a join (a channel's Connect), a Status other than
	// "ok" refuses it: the topic is not joined and no other action applies;
	// a join without Reply is accepted with an empty response. A message
	// without Reply gets none (Phoenix's {:noreply, socket}).
	//
	// On a channel, Send goes to this connection on the channel's topic and
	// BroadcastRoom with no Room to the topic's members; a Leave of the
	// topic ends the channel (phx_close).
	Reply *ChannelReply
}

// ChannelReply is a phx_reply: {"status": Status, "response": Response}.
type ChannelReply struct {
	// Status is "ok" or "error" ("" means "ok"); a message may be answered
	// with any word.
	Status string
	// Response is one JSON value; nil means {}.
	Response []byte
}

// ReplyOK is an ok reply with response (JSON; nil means {}).
func ReplyOK(response []byte) *ChannelReply {
	return &ChannelReply{Status: phoenix.StatusOK, Response: response}
}

// ReplyError is an error reply {"reason": reason}; on a join it refuses it.
func ReplyError(reason string) *ChannelReply {
	return &ChannelReply{Status: phoenix.StatusError, Response: append(phoenix.AppendString([]byte(`{"reason":`), reason), '}')}
}

// Credentials are what an Authenticate hook establishes about a
// connection: its user (Event.User) and when that stops being valid.
type Credentials struct {
	User string
	// Expires is when the connection is closed with 4001 "token expired"
	// unless refreshed; zero means never.
	Expires time.Time
}

// Track starts tracking the connection's presence in Channel as UserID,
// with Meta as extra metadata. Tracking joins Channel if needed.
type Track struct {
	Channel string
	UserID  string
	Meta    map[string]any
}

// SetPresence changes the state ("online", "typing", "away", …) of the
// connection's presence in Channel.
type SetPresence struct {
	Channel string
	State   string
}

// Errors of actions and helpers.
var (
	ErrNoChannel    = errors.New("engine: channel required")
	ErrUnknownConn  = errors.New("engine: unknown connection")
	ErrConnClosed   = errors.New("engine: connection closed")
	ErrShuttingDown = errors.New("engine: shutting down")
	ErrStarted      = errors.New("engine: already started")
)
