//go:build linux

package dialect

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// socketIOPath is the Engine.IO v4 endpoint over the WebSocket transport.
const socketIOPath = "/socket.io/?EIO=4&transport=websocket"

// socketIOClient is the SocketIO dialect around one loop's driver.
type socketIOClient struct {
	// Immutable after construction.
	h loadgen.Handler

	// Owned by the event loop; no locks.
	buf []byte
}

// sioConn is one connection's state (Conn.Ext). Owned by the event loop.
type sioConn struct {
	room bool // Send emits "room", else "echo"
}

func (cl *socketIOClient) Handler() loadgen.Handler { return cl }

func (cl *socketIOClient) Path(r string) string {
	if rt := parseRoute(r); rt.kind == routeRoom {
		return socketIOPath + "&room=" + url.QueryEscape(rt.room)
	}
	return socketIOPath
}

// OnUpgrade connects to the main namespace at once; the server's open
// packet comes first anyway.
func (cl *socketIOClient) OnUpgrade(c *loadgen.Conn) {
	c.Ext = &sioConn{room: strings.Contains(c.Path(), "&room=")}
	c.WriteText([]byte("40"))
}

func (cl *socketIOClient) Send(c *loadgen.Conn, msg []byte) {
	st, _ := c.Ext.(*sioConn)
	if st == nil {
		return
	}
	b := append(cl.buf[:0], `42["echo",`...)
	if st.room {
		b = append(cl.buf[:0], `42["room",`...)
	}
	b = append(append(b, msg...), ']')
	cl.buf = b
	c.WriteText(b)
}

func (cl *socketIOClient) ListPresence(*loadgen.Conn) bool { return false }

func (cl *socketIOClient) OnOpen(c *loadgen.Conn) { cl.h.OnOpen(c) }
func (cl *socketIOClient) OnTick(now int64)       { cl.h.OnTick(now) }

func (cl *socketIOClient) OnClose(c *loadgen.Conn, err error) {
	c.Ext = nil
	cl.h.OnClose(c, err)
}

// OnMessage handles one Engine.IO packet (one per frame on the WebSocket
// transport).
func (cl *socketIOClient) OnMessage(c *loadgen.Conn, op wsproto.Opcode, p []byte) {
	switch pk := parseSocketIO(p); pk.kind {
	case sioOpen, sioNoop, sioDisconnect:
	case sioPing:
		cl.buf = append(append(cl.buf[:0], '3'), p[1:]...)
		c.WriteText(cl.buf)
	case sioConnect:
		c.Ready()
	case sioConnectError:
		c.Reject(fmt.Errorf("%w: socket.io answered %s", ErrRefused, truncate(p)))
	case sioEvent:
		cl.h.OnMessage(c, wsproto.OpText, pk.data)
	default:
		cl.h.OnMessage(c, op, p) // unexpected: the driver counts it
	}
}

// Kinds of Socket.IO packets.
const (
	sioOther        = iota
	sioOpen         // Engine.IO 0: open
	sioPing         // Engine.IO 2: ping (answered 3 with the same payload)
	sioNoop         // Engine.IO 1 (close) and 6 (noop)
	sioConnect      // Socket.IO 0 in an Engine.IO message: namespace connected
	sioDisconnect   // Socket.IO 1: namespace disconnected
	sioEvent        // Socket.IO 2: an event, data holding its first argument
	sioConnectError // Socket.IO 4: namespace connect refused
)

// sioPacket is one parsed packet; data aliases the frame.
type sioPacket struct {
	kind int
	data []byte
}

// parseSocketIO parses an Engine.IO packet of the main namespace.
func parseSocketIO(p []byte) sioPacket {
	if len(p) == 0 {
		return sioPacket{}
	}
	switch p[0] {
	case '0':
		return sioPacket{kind: sioOpen}
	case '1', '6':
		return sioPacket{kind: sioNoop}
	case '2':
		return sioPacket{kind: sioPing}
	case '4':
	default:
		return sioPacket{}
	}
	if len(p) < 2 {
		return sioPacket{}
	}
	switch p[1] {
	case '0':
		return sioPacket{kind: sioConnect}
	case '1':
		return sioPacket{kind: sioDisconnect}
	case '4':
		return sioPacket{kind: sioConnectError}
	case '2':
	default:
		return sioPacket{}
	}
	// 42["name",data]: the event's first argument.
	var data []byte
	n := 0
	ok := benchmsg.Elements(p[2:], func(v []byte) bool {
		if n++; n == 2 {
			data = v
			return false
		}
		return true
	})
	if !ok || data == nil {
		return sioPacket{}
	}
	return sioPacket{kind: sioEvent, data: data}
}

var _ loadgen.Opener = (*socketIOClient)(nil)
