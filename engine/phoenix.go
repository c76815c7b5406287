package engine

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/phoenix"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/route"
)

// Phoenix Channels.
//
// A connection to PhoenixPath/websocket (or a long-poll session, see
// longpoll.go) speaks Phoenix's protocol: its dialect (conn.phx) is set by
// the upgrade, and its channels live in a phxSocket of its shard's phx map,
// so raw connections pay one byte for all of this. Every message it sends
// goes through phxIn: heartbeats are answered, phx_join matches the topic
// against the channel patterns (HandleChannel) and runs the handler's
// Connect, phx_leave ends the channel, any other event is a Message of the
// topic's handler. What a channel's handler answers goes through the same
// apply as a raw route's, with the channel as context (finishChannel).
//
// A topic is a channel: a joined channel is a membership of the engine like
// any other, so raw members and Phoenix members of "room:42" share its
// messages and presence. Messages stay raw bytes everywhere (fan-out,
// cluster, presence); a Phoenix member gets the frame of its dialect, made
// once per message, dialect and topic (phxframes.go).

// dialect is how a connection speaks: 0 the seed's raw protocol, else
// Phoenix's, its serializer version in the low bits. Immutable after the
// upgrade.
type dialect uint8

// dialectLongPoll marks a long-poll session: text frames only.
const dialectLongPoll dialect = 0x80

func phxDialect(v phoenix.Vsn) dialect { return dialect(v) }

func (d dialect) vsn() phoenix.Vsn { return phoenix.Vsn(d &^ dialectLongPoll) }

// binaryFrames reports whether binary payloads go as Phoenix binary frames
// (V2 over a WebSocket) rather than as base64 text.
func (d dialect) binaryFrames() bool { return d.vsn() == phoenix.V2 && d&dialectLongPoll == 0 }

// phxSocket is the channels of one Phoenix connection. Owned by the event
// loop; no locks.
type phxSocket struct {
	chans      map[string]*phxChan // by topic, joining or joined; nil until the first join
	refused    int                 // joins refused since floodStart
	floodStart int64               // engine clock
}

type chanState uint8

const (
	chanJoining chanState = iota // its Connect has not been answered yet (Workers)
	chanJoined
	chanEnded // left, replaced, refused, crashed, or its connection closed
)

// phxChan is one channel of a Phoenix connection.
type phxChan struct {
	// Immutable after phxJoin (read by handlers on the worker pool).
	topic   string
	joinRef string
	b       *binding // the channel's route and the topic's params
	params  []byte   // the join payload

	// Owned by the event loop; no locks.
	state chanState
	why   string       // how it ended: the Name of its Disconnect
	hist  *chanHistory // on a channel with history once joined (history.go)
}

// joinFloodWindow is the span over which refused joins are counted: a
// connection refused more than MaxChannels joins within it is closed.
const joinFloodWindow = int64(time.Second)

// Reasons of phx_reply errors and closes.
var (
	reasonUnmatched   = reason("unmatched topic")
	reasonTooMany     = reason("too many channels joined")
	reasonJoinCrashed = reason("join crashed")
	reasonCrash       = reason("channel_crash")
)

// reason is the response {"reason": text}.
func reason(text string) []byte {
	return append(phoenix.AppendString([]byte(`{"reason":`), text), '}')
}

// HandleChannel registers a Phoenix channel handler for a topic pattern
// (route.Topics: "room::room_id", "echo:*"). It must be called before
// Start. The first one makes the server answer Phoenix clients at
// Config.PhoenixPath.
func (e *Engine) HandleChannel(r Route) error {
	if r.Handler == nil {
		return fmt.Errorf("engine: channel %s: nil handler", r.Pattern)
	}
	if e.started.Load() {
		return fmt.Errorf("engine: channel %s: %w", r.Pattern, ErrStarted)
	}
	if !route.ValidTopic(r.Pattern) {
		return fmt.Errorf("engine: channel %s: %w", r.Pattern, route.ErrBadTopic)
	}
	if e.phxRoute == nil {
		ws := &Route{Pattern: e.cfg.PhoenixPath + "/websocket", Handler: nopHandler, phoenix: true}
		if err := e.routes.Add(ws.Pattern, &binding{route: ws}); err != nil {
			return fmt.Errorf("engine: Phoenix socket %s: %w", ws.Pattern, err)
		}
		e.phxRoute = ws
		e.phxBindings = map[dialect]*binding{}
		for _, v := range []phoenix.Vsn{phoenix.V1, phoenix.V2} {
			for _, d := range []dialect{phxDialect(v), phxDialect(v) | dialectLongPoll} {
				e.phxBindings[d] = &binding{route: ws, phx: d}
			}
		}
		if !e.cfg.DisableLongPoll {
			e.lp = newLongPoll(e)
		}
	}
	if err := e.channels.Add(r.Pattern, &binding{route: &r}); err != nil {
		return fmt.Errorf("engine: channel %s: %w", r.Pattern, err)
	}
	return nil
}

// nopHandler is the Phoenix socket's own handler: the channels have theirs.
func nopHandler(*Event) Reply { return Reply{} }

// phxOpen gives a Phoenix connection its channel table (its map is made by
// the first join). Loop only.
func (sh *shard) phxOpen(c *conn) {
	sh.phx[c] = &phxSocket{}
}

// phxIn handles one message of a Phoenix connection. data is valid until it
// returns. Loop only.
func (e *Engine) phxIn(c *conn, data []byte, binary bool) {
	ps := c.sh.phx[c]
	if ps == nil || c.state != stateOpen {
		return
	}
	m, err := phoenix.Decode(c.dialect().vsn(), data, binary)
	if err != nil {
		e.log.Debug("malformed Phoenix message", "conn", c.id(), "err", err)
		c.close(codec.CloseUnsupportedData, fitReason(err.Error()), false)
		return
	}
	switch {
	case m.Topic == phoenix.TopicPhoenix && m.Event == phoenix.EventHeartbeat:
		e.phxReply(c, m.JoinRef, m.Ref, m.Topic, phoenix.StatusOK, nil)
	case m.Event == phoenix.EventJoin:
		e.phxJoin(c, ps, &m)
	case m.Event == phoenix.EventLeave:
		e.phxLeave(c, ps, &m)
	default:
		e.phxPush(c, ps, &m)
	}
}

// phxJoin answers phx_join: a second join of a topic closes the first, a
// join past MaxChannels or of a topic without a handler is refused, any
// other runs the channel handler's Connect.
func (e *Engine) phxJoin(c *conn, ps *phxSocket, m *phoenix.Message) {
	joinRef := cmp.Or(m.JoinRef, m.Ref)
	if old := ps.chans[m.Topic]; old != nil {
		e.phxEnd(c, ps, old, phoenix.EventClose, true)
	}
	b, params, ok := e.channels.Match(m.Topic)
	switch {
	case !ok || m.Topic == phoenix.TopicPhoenix:
		e.phxRefused(c, ps)
		e.phxReply(c, "", m.Ref, m.Topic, phoenix.StatusError, reasonUnmatched) // Phoenix's encode_ignore: no join_ref
		return
	case len(ps.chans) >= e.cfg.MaxChannels:
		e.phxRefused(c, ps)
		e.phxReply(c, joinRef, m.Ref, m.Topic, phoenix.StatusError, reasonTooMany)
		return
	}
	if len(params) > 0 {
		b = &binding{route: b.route, params: params}
	}
	payload := m.Payload
	if m.Binary {
		payload = phoenix.BinaryBody(payload) // join params are JSON
	}
	ch := &phxChan{topic: m.Topic, joinRef: joinRef, b: b, params: bytes.Clone(payload)}
	if ps.chans == nil {
		ps.chans = make(map[string]*phxChan, 1)
	}
	ps.chans[m.Topic] = ch
	e.dispatchChannel(c, ch, Connect, phoenix.EventJoin, m.Ref, ch.params, false)
}

// phxRefused counts a refused join; a connection refused more than
// MaxChannels joins within joinFloodWindow is closed.
func (e *Engine) phxRefused(c *conn, ps *phxSocket) {
	now := e.clock()
	if now-ps.floodStart > joinFloodWindow {
		ps.floodStart, ps.refused = now, 0
	}
	ps.refused++
	if ps.refused > e.cfg.MaxChannels {
		e.stats.ChannelFloods.Add(1)
		c.close(codec.ClosePolicyViolation, "join flood", false)
	}
}

// phxLeave answers phx_leave: ok, then phx_close, then the handler's
// Disconnect ("phx_leave").
func (e *Engine) phxLeave(c *conn, ps *phxSocket, m *phoenix.Message) {
	ch := ps.chans[m.Topic]
	if ch == nil { // nothing to leave: Phoenix says ok all the same
		e.phxReply(c, m.JoinRef, m.Ref, m.Topic, phoenix.StatusOK, nil)
		return
	}
	if m.JoinRef != "" && m.JoinRef != ch.joinRef {
		return // the leave of an earlier join, already closed
	}
	e.phxReply(c, ch.joinRef, m.Ref, ch.topic, phoenix.StatusOK, nil)
	e.phxEnd(c, ps, ch, phoenix.EventLeave, true)
}

// phxPush hands any other event to the topic's handler as a Message.
func (e *Engine) phxPush(c *conn, ps *phxSocket, m *phoenix.Message) {
	ch := ps.chans[m.Topic]
	if ch == nil {
		e.phxReply(c, "", m.Ref, m.Topic, phoenix.StatusError, reasonUnmatched)
		return
	}
	if m.JoinRef != "" && m.JoinRef != ch.joinRef {
		return // a stale message of an earlier join: Phoenix ignores it
	}
	e.dispatchChannel(c, ch, Message, m.Event, m.Ref, m.Payload, m.Binary)
}

// phxEnd ends a channel: it leaves the topic (untracking the connection's
// presence there), tells the client with phx_close when notify, and runs
// the handler's Disconnect with why as its Name. A channel still joining
// ends when its Connect is answered (finishJoin). Loop only.
func (e *Engine) phxEnd(c *conn, ps *phxSocket, ch *phxChan, why string, notify bool) {
	if ps != nil && ps.chans[ch.topic] == ch {
		delete(ps.chans, ch.topic)
	}
	prev := ch.state
	if prev == chanEnded {
		return
	}
	ch.state, ch.why = chanEnded, why
	if notify {
		e.phxPushTo(c, ch.joinRef, ch.joinRef, ch.topic, phoenix.EventClose, nil)
	}
	e.disconnects.Add(1) // its Disconnect is owed, now or when its join is answered
	if prev == chanJoined {
		e.phxDrop(c, ch.topic)
		e.dispatchChannel(c, ch, Disconnect, why, "", nil, false)
	}
}

// phxDrop takes c out of topic and its presence there.
func (e *Engine) phxDrop(c *conn, topic string) {
	if err := e.untrack(c, topic); err != nil && !errors.Is(err, presence.ErrNotTracked) {
		e.log.Warn("untrack on channel end", "conn", c.id(), "topic", topic, "err", err)
	}
	_ = e.leave(c, topic)
}

// phxClosed ends every channel of a Phoenix connection that closed (its
// memberships and presences are gone already). Called from OnClose; the
// Disconnects run from the task it posts.
func (e *Engine) phxClosed(c *conn) []*phxChan {
	ps := c.sh.phx[c]
	delete(c.sh.phx, c)
	if ps == nil {
		return nil
	}
	var joined []*phxChan
	for _, ch := range ps.chans {
		prev := ch.state
		ch.state, ch.why = chanEnded, phoenix.EventClose
		e.disconnects.Add(1)
		if prev == chanJoined {
			joined = append(joined, ch)
		}
	}
	return joined
}

// dispatchChannel delivers one event of channel ch to its handler: on the
// loop, or through the connection's queue to the worker pool. Loop only.
func (e *Engine) dispatchChannel(c *conn, ch *phxChan, typ EventType, name, ref string, msg []byte, binary bool) {
	if typ == Message && msg == nil {
		msg = []byte{}
	}
	if ch.b.route.Workers {
		x := c.extra()
		if len(x.pending) >= e.cfg.MaxPending && typ == Message {
			c.close(codec.ClosePolicyViolation, "too many pending messages", false)
			return
		}
		ev := &Event{Type: typ, ConnectionID: c.sh.idOf(c), Binary: binary, Params: ch.b.params,
			Request: &c.req, User: x.user, Topic: ch.topic, Name: name, Ref: ref, JoinParams: ch.params, e: e, c: c, ch: ch}
		if msg != nil {
			ev.Message = append(make([]byte, 0, len(msg)), msg...)
		}
		x.pending = append(x.pending, ev)
		e.runNext(c)
		return
	}
	ev := &c.sh.ev
	*ev = Event{Type: typ, ConnectionID: c.sh.idOf(c), Message: msg, Binary: binary, Params: ch.b.params,
		Request: &c.req, User: c.user(), Topic: ch.topic, Name: name, Ref: ref, JoinParams: ch.params, e: e, c: c, ch: ch}
	reply, ok := e.call(c, ev)
	*ev = Event{}
	e.finishChannel(c, ch, typ, ref, reply, ok)
}

// finishChannel applies a channel handler's reply. Loop only.
func (e *Engine) finishChannel(c *conn, ch *phxChan, typ EventType, ref string, reply Reply, ok bool) {
	switch typ {
	case Connect:
		e.finishJoin(c, ch, ref, reply, ok)
	case Message:
		if ch.state != chanJoined {
			return // ended while the handler ran
		}
		if !ok {
			e.phxPushTo(c, ch.joinRef, ch.joinRef, ch.topic, phoenix.EventError, reasonCrash)
			e.phxEnd(c, c.sh.phx[c], ch, phoenix.EventError, false)
			return
		}
		if r := reply.Reply; r != nil {
			e.phxReply(c, ch.joinRef, ref, ch.topic, cmp.Or(r.Status, phoenix.StatusOK), r.Response)
		}
		e.applyChannel(c, ch, reply)
	case Disconnect:
		if ok {
			e.applyChannel(c, ch, reply)
		}
		e.disconnects.Add(-1)
	}
}

// finishJoin answers a join: a Reply whose Status is not "ok" (or a panic)
// refuses it; otherwise the connection joins the topic, gets the ok reply,
// then the handler's actions apply. A channel that ended while its Connect
// ran gets its Disconnect now if the join was accepted. Loop only.
func (e *Engine) finishJoin(c *conn, ch *phxChan, ref string, reply Reply, ok bool) {
	refused := !ok || reply.Reply != nil && cmp.Or(reply.Reply.Status, phoenix.StatusOK) != phoenix.StatusOK
	if ch.state == chanEnded {
		if refused {
			e.disconnects.Add(-1) // owed by phxEnd or phxClosed; never due
		} else {
			e.dispatchChannel(c, ch, Disconnect, ch.why, "", nil, false)
		}
		return
	}
	ps := c.sh.phx[c]
	hopts, hasHistory := e.cfg.History.Match(ch.topic)
	var since *history.Position
	if !refused && hasHistory {
		var err error
		if since, err = recoverParam(ch.params); err != nil {
			refused, reply.Reply = true, ReplyError(err.Error())
		}
	}
	if !refused {
		if err := e.join(c, ch.topic); err != nil {
			refused, reply.Reply = true, ReplyError(err.Error())
		}
	}
	if refused {
		ch.state = chanEnded
		if ps != nil && ps.chans[ch.topic] == ch {
			delete(ps.chans, ch.topic)
		}
		resp := reasonJoinCrashed
		if ok {
			resp = reply.Reply.Response
		}
		e.stats.ChannelsRefused.Add(1)
		e.phxReply(c, ch.joinRef, ref, ch.topic, phoenix.StatusError, resp)
		return
	}
	ch.state = chanJoined
	e.stats.ChannelJoins.Add(1)
	if hasHistory {
		e.joinHistory(c, ch, ref, reply, hopts, since)
		return
	}
	var resp []byte
	if r := reply.Reply; r != nil {
		resp = r.Response
	}
	e.phxReply(c, ch.joinRef, ref, ch.topic, phoenix.StatusOK, resp)
	e.applyChannel(c, ch, reply)
}

// applyChannel applies a channel handler's actions; a Leave of the
// channel's own topic ends the channel.
func (e *Engine) applyChannel(c *conn, ch *phxChan, reply Reply) {
	if err := e.apply(c, reply, ch); err != nil {
		e.log.Warn("action failed", "conn", c.id(), "channel", ch.b.route.Pattern, "topic", ch.topic, "err", err)
	}
	if ch.state == chanJoined {
		for _, l := range reply.Leave {
			if l == ch.topic {
				e.phxEnd(c, c.sh.phx[c], ch, phoenix.EventClose, true)
				break
			}
		}
	}
}

// phxReply writes a phx_reply. Loop only.
func (e *Engine) phxReply(c *conn, joinRef, ref, topic, status string, response []byte) {
	c.sendPlain(codec.OpText, phoenix.AppendReply(nil, c.dialect().vsn(), joinRef, ref, topic, status, response))
}

// phxPushTo writes a server message of the protocol (phx_close, phx_error)
// to c. Loop only.
func (e *Engine) phxPushTo(c *conn, joinRef, ref, topic, event string, payload []byte) {
	c.sendPlain(codec.OpText, phoenix.AppendMessage(nil, c.dialect().vsn(), joinRef, ref, topic, event, payload))
}

// phxSend pushes raw message msg to c on channel ch (a Reply's Send), as a
// Phoenix member of ch's topic would get it from a broadcast, with the
// channel's join_ref. Loop only.
func (e *Engine) phxSend(c *conn, ch *phxChan, binary bool, msg []byte) {
	event, payload, bin := phoenix.FromRaw(msg, binary)
	c.sendPlain(phxEncode(c.dialect(), ch.joinRef, "", ch.topic, event, payload, bin))
}

// phxEncode is the frame payload, and its opcode, of a push of event with
// payload on topic to a member speaking d. bin says payload is binary: a V2
// WebSocket gets a binary frame, any other a {"body": base64} text.
//
// ref is the message's ref slot: a publication's position on a channel
// with history, else "". Binary frames have no ref slot, so a binary
// payload with a ref goes as text.
func phxEncode(d dialect, joinRef, ref, topic, event string, payload []byte, bin bool) (codec.OpCode, []byte) {
	if bin {
		if d.binaryFrames() && ref == "" {
			var out []byte
			var err error
			if joinRef == "" {
				out, err = phoenix.AppendBinaryBroadcast(nil, topic, event, payload)
			} else {
				out, err = phoenix.AppendBinaryPush(nil, joinRef, topic, event, payload)
			}
			if err == nil {
				return codec.OpBinary, out
			}
		}
		payload = phoenix.BinaryBody(payload)
	}
	return codec.OpText, phoenix.AppendMessage(nil, d.vsn(), joinRef, ref, topic, event, payload)
}

// fitReason fits a close reason in a close frame (123 bytes of UTF-8).
func fitReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// ChannelMessage is the raw form of a channel event: {"event":E,"payload":P}.
// Broadcast to a topic (BroadcastRoom), Phoenix members get event E with
// payload P, raw members this text. payload must be one JSON value; nil
// means {}.
func ChannelMessage(event string, payload []byte) []byte {
	return phoenix.Envelope(nil, event, payload)
}
