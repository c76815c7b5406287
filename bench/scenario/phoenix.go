//go:build linux

package scenario

import (
	"github.com/ripple-rt/ripple/bench/benchmsg"
	"github.com/ripple-rt/ripple/bench/loadgen"
)

// Phoenix is the -protocol value that runs the broadcast and rooms
// scenarios over Phoenix Channels V2 (ripple's /socket/websocket and its
// demo topics) instead of the raw routes: every connection joins the topic
// that is the raw route's channel (room:bench, room:r<id>), publishers push
// their message as an event of it, and every message is checked as on the
// raw routes. A connection counts as open once its join is answered.
const Phoenix = "phoenix"

// phoenixPath is where Phoenix clients connect.
const phoenixPath = "/socket/websocket?vsn=2.0.0"

// phxJoinRef is the ref of a connection's one join, which is also the
// join_ref of its pushes.
const phxJoinRef = "1"

// phxJoin sends the join of topic on c.
func phxJoin(c *loadgen.Conn, topic string, buf []byte) []byte {
	buf = append(buf[:0], `["1","1","`...)
	buf = append(buf, topic...)
	buf = append(buf, `","phx_join",{}]`...)
	c.WriteText(buf)
	return buf
}

// phxMessage is a received Phoenix message, scanned: joined reports the
// answer to the join, reply any other phx_reply (a push's), and otherwise
// kind and msg are the message's event and payload fields, as
// benchmsg.Scan gives them for the raw protocol.
func phxMessage(p []byte) (kind []byte, msg benchmsg.Msg, joined, reply, ok bool) {
	ref, _, event, msg, ok := benchmsg.ScanPhoenix(p)
	if !ok {
		return nil, msg, false, false, false
	}
	if string(event) == "phx_reply" {
		return nil, msg, string(ref) == phxJoinRef, string(ref) != phxJoinRef, true
	}
	return event, msg, false, false, true
}
