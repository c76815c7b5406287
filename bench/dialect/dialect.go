//go:build linux

package dialect

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ripple-rt/ripple/bench/loadgen"
)

// Names of the dialects.
const (
	Bench      = "bench"
	Centrifuge = "centrifuge"
	SocketIO   = "socketio"
)

// Names lists every dialect.
var Names = []string{Bench, Centrifuge, SocketIO}

// Sentinel errors.
var (
	ErrUnknown     = errors.New("dialect: unknown dialect")
	ErrUnsupported = errors.New("dialect: not supported")
	// ErrRefused is the reason of a connection whose opening the server
	// answered with an error (a failed dial of stage "session").
	ErrRefused = errors.New("dialect: opening refused")
)

// Client is one loop's speaker of a dialect.
type Client interface {
	// Handler is the loop's handler: the driver itself (Bench) or the
	// dialect wrapped around it.
	Handler() loadgen.Handler
	// Path returns the request path to dial for bench route (a path as
	// the drivers dial it, see the package doc).
	Path(route string) string
	// Send sends bench message msg on c, an open connection: an echo
	// request on a /ws/shootout connection, a room message on a
	// /ws/room/<id> one. msg is not kept.
	Send(c *loadgen.Conn, msg []byte)
	// ListPresence asks the server for the presence of c's channel, where
	// the dialect can (Centrifuge); the answer reaches the handler as
	// {"event":"presence_list","payload":{user:{},…}}. It reports whether
	// it asked.
	ListPresence(c *loadgen.Conn) bool
}

// New returns dialect name's client around h, the driver of one loop.
func New(name string, h loadgen.Handler) (Client, error) {
	switch name {
	case "", Bench:
		return benchClient{h: h}, nil
	case Centrifuge:
		return &centrifugeClient{h: h}, nil
	case SocketIO:
		return &socketIOClient{h: h}, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names, ", "))
}

// Feature is a part of the bench protocol a dialect may lack.
type Feature int

// Features.
const (
	// Presence is /ws/presence/<id> with presence_state and presence_diff.
	Presence Feature = iota
	// ShootoutBroadcast is {"type":"broadcast"} on /ws/shootout, to every
	// connection.
	ShootoutBroadcast
	// Frames is the bench protocol as raw frames, for the scenarios that
	// build their own (storm, cluster, c1m).
	Frames
)

// Supports returns nil when dialect name has feature f, else an error that
// wraps ErrUnsupported and says why (or ErrUnknown).
func Supports(name string, f Feature) error {
	switch name {
	case "", Bench:
		return nil
	case Centrifuge:
		switch f {
		case Presence:
			return nil
		case ShootoutBroadcast:
			return fmt.Errorf("%w: the centrifuge dialect's echo is an RPC and has no broadcast to every connection (use a room)", ErrUnsupported)
		}
		return fmt.Errorf("%w: this scenario speaks the bench protocol only, not centrifuge's", ErrUnsupported)
	case SocketIO:
		switch f {
		case Presence:
			return fmt.Errorf("%w: socket.io has no presence", ErrUnsupported)
		case ShootoutBroadcast:
			return fmt.Errorf("%w: the socketio dialect's /ws/shootout has echo only (use a room)", ErrUnsupported)
		}
		return fmt.Errorf("%w: this scenario speaks the bench protocol only, not socket.io's", ErrUnsupported)
	}
	return fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names, ", "))
}

// routeKind is what a bench route is for.
type routeKind int

const (
	routePlain    routeKind = iota // /ws/echo: open only (idle)
	routeEcho                      // /ws/shootout: echo requests
	routeRoom                      // /ws/room/<id>: room messages
	routePresence                  // /ws/presence/<id>?user_id=U: presence
)

// route is a parsed bench route.
type route struct {
	kind routeKind
	room string // room or presence id
	user string // presence user
}

// parseRoute parses a bench route; anything unknown is routePlain.
func parseRoute(r string) route {
	path, query, _ := strings.Cut(r, "?")
	switch {
	case path == "/ws/shootout":
		return route{kind: routeEcho}
	case strings.HasPrefix(path, "/ws/room/"):
		return route{kind: routeRoom, room: path[len("/ws/room/"):]}
	case strings.HasPrefix(path, "/ws/presence/"):
		q, _ := url.ParseQuery(query)
		return route{kind: routePresence, room: path[len("/ws/presence/"):], user: q.Get("user_id")}
	}
	return route{kind: routePlain}
}

// benchClient is the Bench dialect: the driver as is.
type benchClient struct{ h loadgen.Handler }

func (b benchClient) Handler() loadgen.Handler        { return b.h }
func (benchClient) Path(route string) string          { return route }
func (benchClient) Send(c *loadgen.Conn, msg []byte)  { c.WriteText(msg) }
func (benchClient) ListPresence(c *loadgen.Conn) bool { return false }

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
