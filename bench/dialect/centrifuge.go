//go:build linux

package dialect

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// centrifugePath is where the centrifuge peer serves WebSocket clients.
const centrifugePath = "/connection/websocket"

// Channel prefixes of the centrifuge peer: presence:<id> channels have
// presence and join/leave pushes, room:<id> ones neither.
const (
	roomPrefix     = "room:"
	presencePrefix = "presence:"
)

// centrifugeClient is the Centrifuge dialect around one loop's driver.
type centrifugeClient struct {
	// Immutable after construction.
	h loadgen.Handler

	// Owned by the event loop; no locks.
	buf []byte // commands being encoded
	msg []byte // a message synthesized for the driver
}

// cfConn is one connection's state (Conn.Ext). Owned by the event loop.
type cfConn struct {
	kind    routeKind
	channel string
	client  string   // the id the server gave this connection
	nextID  uint32   // of the next command
	stateID uint32   // of the opening's presence call; 0: none
	waiting int      // opening replies still due
	ready   bool     // the opening is over
	state   []byte   // presence_state to hand over right after the opening
	held    [][]byte // lines received during the opening that follow it
	listID  uint32   // of a ListPresence call in flight; 0: none
}

func (cl *centrifugeClient) Handler() loadgen.Handler { return cl }

func (cl *centrifugeClient) Path(r string) string {
	rt := parseRoute(r)
	switch rt.kind {
	case routeEcho:
		return centrifugePath + "?bench=echo"
	case routeRoom:
		return centrifugePath + "?bench=room&ch=" + url.QueryEscape(roomPrefix+rt.room)
	case routePresence:
		// user is the query parameter the peer's middleware makes the
		// connection's credentials of.
		return centrifugePath + "?bench=presence&ch=" + url.QueryEscape(presencePrefix+rt.room) + "&user=" + url.QueryEscape(rt.user)
	}
	return centrifugePath
}

// command appends {"id":N,"<name>":<body>} with the connection's next id.
func (st *cfConn) command(dst []byte, name string) ([]byte, uint32) {
	id := st.nextID
	st.nextID++
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, uint64(id), 10)
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	return dst, id
}

// OnUpgrade sends the opening in one frame: connect, then subscribe to the
// route's channel, then (presence) the presence call.
func (cl *centrifugeClient) OnUpgrade(c *loadgen.Conn) {
	st := &cfConn{nextID: 1}
	if _, query, ok := strings.Cut(c.Path(), "?"); ok {
		q, _ := url.ParseQuery(query)
		st.channel = q.Get("ch")
		switch q.Get("bench") {
		case "echo":
			st.kind = routeEcho
		case "room":
			st.kind = routeRoom
		case "presence":
			st.kind = routePresence
		}
	}
	c.Ext = st
	b, _ := st.command(cl.buf[:0], "connect")
	b = append(b, `{"name":"ripple-bench"}}`...)
	st.waiting = 1
	if st.channel != "" {
		b, _ = st.command(append(b, '\n'), "subscribe")
		b = appendString(append(b, `{"channel":`...), st.channel)
		b = append(b, "}}"...)
		st.waiting++
	}
	if st.kind == routePresence {
		b, st.stateID = st.command(append(b, '\n'), "presence")
		b = appendString(append(b, `{"channel":`...), st.channel)
		b = append(b, "}}"...)
		st.waiting++
	}
	cl.buf = b
	c.WriteText(b)
}

func (cl *centrifugeClient) Send(c *loadgen.Conn, msg []byte) {
	st, _ := c.Ext.(*cfConn)
	if st == nil {
		return
	}
	var b []byte
	if st.kind == routeEcho {
		b, _ = st.command(cl.buf[:0], "rpc")
		b = append(b, `{"method":"echo","data":`...)
	} else {
		b, _ = st.command(cl.buf[:0], "publish")
		b = appendString(append(b, `{"channel":`...), st.channel)
		b = append(b, `,"data":`...)
	}
	b = append(append(b, msg...), "}}"...)
	cl.buf = b
	c.WriteText(b)
}

func (cl *centrifugeClient) ListPresence(c *loadgen.Conn) bool {
	st, _ := c.Ext.(*cfConn)
	if st == nil || st.kind != routePresence || !st.ready {
		return false
	}
	b, id := st.command(cl.buf[:0], "presence")
	b = appendString(append(b, `{"channel":`...), st.channel)
	b = append(b, "}}"...)
	st.listID = id
	cl.buf = b
	c.WriteText(b)
	return true
}

func (cl *centrifugeClient) OnOpen(c *loadgen.Conn) { cl.h.OnOpen(c) }
func (cl *centrifugeClient) OnTick(now int64)       { cl.h.OnTick(now) }

func (cl *centrifugeClient) OnClose(c *loadgen.Conn, err error) {
	c.Ext = nil
	cl.h.OnClose(c, err)
}

// OnMessage handles every line of a frame (centrifuge puts several replies
// and pushes in one frame, one per line).
func (cl *centrifugeClient) OnMessage(c *loadgen.Conn, op wsproto.Opcode, p []byte) {
	st, _ := c.Ext.(*cfConn)
	if st == nil {
		cl.h.OnMessage(c, op, p)
		return
	}
	for len(p) > 0 {
		var line []byte
		line, p, _ = bytes.Cut(p, []byte{'\n'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !cl.line(c, st, line) {
			return
		}
	}
}

// line handles one reply or push; false: the connection is gone.
func (cl *centrifugeClient) line(c *loadgen.Conn, st *cfConn, line []byte) bool {
	m, ok := parseCentrifuge(line)
	switch {
	case !ok:
		if !st.ready {
			c.Reject(fmt.Errorf("%w: centrifuge sent %q", ErrRefused, truncate(line)))
			return false
		}
		return cl.deliver(c, line) // unparseable: the driver counts it
	case m.ping:
		c.WriteText([]byte("{}"))
		return true
	case !st.ready && m.id == 0:
		st.held = append(st.held, bytes.Clone(line))
		return true
	case m.err != nil:
		if !st.ready {
			c.Reject(fmt.Errorf("%w: centrifuge answered %s", ErrRefused, truncate(m.err)))
			return false
		}
		cl.msg = append(append(append(cl.msg[:0], `{"type":"error","error":`...), m.err...), '}')
		return cl.deliver(c, cl.msg)
	case !st.ready:
		switch {
		case m.id == 1:
			st.client = string(field(m.result, "client"))
		case m.id == st.stateID:
			st.state = presenceEvent(nil, "presence_state", m.result)
		}
		if st.waiting--; st.waiting > 0 {
			return true
		}
		return cl.open(c, st)
	case m.push != nil:
		return cl.push(c, st, m.push, line)
	case m.id != 0 && m.id == st.listID:
		st.listID = 0
		cl.msg = presenceEvent(cl.msg[:0], "presence_list", m.result)
		return cl.deliver(c, cl.msg)
	case string(m.reply) == "rpc":
		return cl.deliver(c, field(m.result, "data"))
	case string(m.reply) == "publish":
		return true // the publisher's acknowledgement
	}
	return cl.deliver(c, line) // unexpected: the driver counts it
}

// open ends the opening: the driver's OnOpen, then the presence state, then
// what came meanwhile.
func (cl *centrifugeClient) open(c *loadgen.Conn, st *cfConn) bool {
	st.ready = true
	c.Ready()
	if !c.Open() {
		return false
	}
	if st.state != nil {
		state := st.state
		st.state = nil
		if !cl.deliver(c, state) {
			return false
		}
	}
	held := st.held
	st.held = nil
	for _, line := range held {
		if !cl.line(c, st, line) {
			return false
		}
	}
	return true
}

// push hands a publication's data or a join/leave (as presence_diff) to the
// driver; the connection's own join is left out.
func (cl *centrifugeClient) push(c *loadgen.Conn, st *cfConn, push, line []byte) bool {
	var pub, join, leave []byte
	benchmsg.Fields(push, func(k, v []byte) bool {
		switch string(k) {
		case "pub":
			pub = v
		case "join":
			join = v
		case "leave":
			leave = v
		}
		return true
	})
	switch {
	case pub != nil:
		return cl.deliver(c, field(pub, "data"))
	case join != nil:
		info := field(join, "info")
		if string(field(info, "client")) == st.client {
			return true
		}
		cl.msg = presenceDiff(cl.msg[:0], field(info, "user"), true)
		return cl.deliver(c, cl.msg)
	case leave != nil:
		cl.msg = presenceDiff(cl.msg[:0], field(field(leave, "info"), "user"), false)
		return cl.deliver(c, cl.msg)
	}
	return cl.deliver(c, line) // another push: the driver counts it
}

func (cl *centrifugeClient) deliver(c *loadgen.Conn, msg []byte) bool {
	cl.h.OnMessage(c, wsproto.OpText, msg)
	return c.Open()
}

// cfLine is one line from a centrifuge server, its values aliasing the line.
type cfLine struct {
	id     uint32
	reply  []byte // key of the result: "connect", "rpc", "publish", …
	result []byte
	err    []byte // the error object of an error reply
	push   []byte
	ping   bool // {}: the server's ping
}

// parseCentrifuge parses one line; ok is false when it is not a JSON object.
func parseCentrifuge(line []byte) (m cfLine, ok bool) {
	n := 0
	ok = benchmsg.Fields(line, func(k, v []byte) bool {
		n++
		switch string(k) {
		case "id":
			if id, err := strconv.ParseUint(string(v), 10, 32); err == nil {
				m.id = uint32(id)
			}
		case "error":
			m.err = v
		case "push":
			m.push = v
		default:
			m.reply, m.result = k, v
		}
		return true
	})
	m.ping = ok && n == 0
	return m, ok
}

// field returns the raw value of key in JSON object obj, a string's without
// its quotes; nil when absent.
func field(obj []byte, key string) []byte {
	var out []byte
	benchmsg.Fields(obj, func(k, v []byte) bool {
		if string(k) != key {
			return true
		}
		out = v
		return false
	})
	if len(out) >= 2 && out[0] == '"' && out[len(out)-1] == '"' {
		out = out[1 : len(out)-1]
	}
	return out
}

// presenceEvent appends {"event":event,"payload":{user:{},…}} with the users
// of a presence result ({"presence":{client:{"user":…,"client":…},…}}).
func presenceEvent(dst []byte, event string, result []byte) []byte {
	dst = append(dst, `{"event":"`...)
	dst = append(dst, event...)
	dst = append(dst, `","payload":{`...)
	first := true
	benchmsg.Fields(field(result, "presence"), func(_, info []byte) bool {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(append(append(dst, '"'), field(info, "user")...), `":{}`...)
		return true
	})
	return append(dst, "}}"...)
}

// presenceDiff appends a presence_diff with user in joins or in leaves.
func presenceDiff(dst, user []byte, join bool) []byte {
	dst = append(dst, `{"event":"presence_diff","payload":{"joins":{`...)
	if join {
		dst = append(append(append(dst, '"'), user...), `":{}`...)
	}
	dst = append(dst, `},"leaves":{`...)
	if !join {
		dst = append(append(append(dst, '"'), user...), `":{}`...)
	}
	return append(dst, "}}}"...)
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

var _ loadgen.Opener = (*centrifugeClient)(nil)
