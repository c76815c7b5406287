package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bytedance/sonic"

	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/phoenix"
)

// History.
//
// A channel matching one of Config.History's rules numbers its
// publications: publishRoom hands them to the history backend instead of
// fanning them out, and the backend delivers each, with its position, to
// fanoutPublication on every server with members (a single server's
// history.Memory under the channel's lock, a cluster node from Redis, its
// own publications included), in offset order. Raw members get the message
// as before; a Phoenix member gets it with "<epoch>:<offset>" in the ref
// slot.
//
// A Phoenix join of such a channel reads the history once the connection is
// a member: until the read is answered, the channel holds the publications
// that reach it (chanHistory.held); then the join reply carries the
// channel's epoch and top offset (and "recovered" when the join asked to
// recover), the missed publications follow in order, then the held ones
// newer than what was sent. From then on the channel skips any publication
// at or before its position, so a member never gets one twice.

// chanHistory is the history state of one Phoenix channel on a channel with
// history. Owned by the event loop; no locks.
type chanHistory struct {
	reading bool             // the join's history read is not answered yet
	held    []*message       // publications that came while reading
	pos     history.Position // the newest publication the member has
}

// maxHeld bounds the publications a joining channel holds while its
// history read is out; past it the channel ends with phx_error (the client
// rejoins and recovers).
const maxHeld = 10_000

// historyReadTimeout bounds a join's history read.
const historyReadTimeout = 5 * time.Second

// ErrHistory is returned for history reads that fail.
var ErrHistory = errors.New("engine: history")

// UseHistory makes b the engine's history backend (a cluster's, which must
// deliver to e.Inbound()). Call it after New and before Start; without it a
// server with history rules keeps history in memory.
func (e *Engine) UseHistory(b history.Backend) error {
	if e.started.Load() {
		return fmt.Errorf("%w: UseHistory after Start", ErrHistory)
	}
	if b == nil {
		return fmt.Errorf("%w: nil backend", ErrHistory)
	}
	e.hist, e.histMem = b, nil
	return nil
}

// History reads channel's history (history.Backend.Read). It fails with
// history.ErrNoHistory for a channel that no rule gives history.
func (e *Engine) History(ctx context.Context, channel string, since *history.Position, limit int) (history.Result, error) {
	opts, ok := e.cfg.History.Match(channel)
	if !ok {
		return history.Result{}, history.ErrNoHistory
	}
	res, err := e.hist.Read(ctx, channel, opts, since, limit)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return res, nil
}

// HistoryStats is what the single server's history holds (zero in cluster
// mode, where the history is in Redis, or without rules).
func (e *Engine) HistoryStats() history.MemoryStats {
	if e.histMem == nil {
		return history.MemoryStats{}
	}
	return e.histMem.Stats()
}

// publishHistory hands payload to the history backend for every channel of
// channels that has history and returns the others. n counts the history
// channels' members on this server. here is the loop publishing, nil when
// unknown (see deliverPublication).
func (e *Engine) publishHistory(channels []string, binary bool, payload []byte, here *shard) (rest []string, n int) {
	if len(e.cfg.History) == 0 {
		return channels, 0
	}
	rest = channels
	for i, ch := range channels {
		opts, ok := e.cfg.History.Match(ch)
		if !ok {
			if len(rest) < len(channels) {
				rest = append(rest, ch)
			}
			continue
		}
		if len(rest) == len(channels) {
			rest = append(make([]string, 0, len(channels)), channels[:i]...)
		}
		e.stats.HistoryPublished.Add(1)
		p := bytes.Clone(payload)
		if m := e.histMem; m != nil {
			m.PublishFunc(ch, opts, binary, p, func(pos history.Position) {
				n += e.fanoutPublication(ch, pos, binary, p, here)
			})
		} else {
			n += e.localCountIn(ch) // the members here get it from Redis, later
			e.hist.Publish(ch, opts, binary, p)
		}
	}
	return rest, n
}

// deliverPublication writes a publication of a channel with history to its
// members here (the backend's Sink).
func (e *Engine) deliverPublication(channel string, pos history.Position, binary bool, payload []byte) {
	_ = e.fanoutPublication(channel, pos, binary, payload, nil)
}

// fanoutPublication writes a publication to channel's members here, each
// loop's in the channel's offset order. The backend calls it in that order
// (the single server's Memory under the channel's lock), and each loop
// gets it through its FIFO queue, where every earlier one waits; but here,
// the loop publishing, writes it inline, as any fan-out, when no
// publication is waiting in its queue: then none of the channel's earlier
// ones can be behind it. It returns the number of members here.
func (e *Engine) fanoutPublication(channel string, pos history.Position, binary bool, payload []byte, here *shard) int {
	msg := newMessage(opOf(binary), payload)
	msg.pos = &pos
	if here != nil && here.queuedPubs.Load() != 0 {
		here = nil
	}
	return e.fanout([]string{channel}, msg, here, nil)
}

// admit says whether c, a Phoenix member of topic, gets publication msg
// now: a channel still reading its history holds it for later, one that
// has it already skips it. Loop only.
func (sh *shard) admit(c *conn, topic string, msg *message) bool {
	ps := sh.phx[c]
	if ps == nil {
		return true
	}
	ch := ps.chans[topic]
	if ch == nil || ch.hist == nil {
		return true
	}
	h := ch.hist
	if h.reading {
		if len(h.held) >= maxHeld {
			sh.e.log.Warn("history read too slow; channel ended", "conn", c.id(), "topic", topic)
			sh.e.phxPushTo(c, ch.joinRef, ch.joinRef, ch.topic, phoenix.EventError, reason("history read too slow"))
			sh.e.phxEnd(c, ps, ch, phoenix.EventError, false)
			return false
		}
		h.held = append(h.held, msg)
		return false
	}
	if h.pos.Epoch == msg.pos.Epoch && msg.pos.Offset <= h.pos.Offset {
		return false
	}
	h.pos = *msg.pos
	return true
}

// joinHistory completes the join of channel ch, accepted by its handler
// with reply, on a channel with history: it reads the history (recovering
// from the position in the join params, if any) and answers the join when
// the read is back (finishHistoryJoin). c is a member already. Loop only.
func (e *Engine) joinHistory(c *conn, ch *phxChan, ref string, reply Reply, opts history.Options, since *history.Position) {
	ch.hist = &chanHistory{reading: true}
	limit := -1
	if since != nil {
		limit = 0
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), historyReadTimeout)
		res, err := e.hist.Read(ctx, ch.topic, opts, since, limit)
		cancel()
		c.sh.post(func() { e.finishHistoryJoin(c, ch, ref, reply, since != nil, res, err) })
	}()
}

// finishHistoryJoin answers a join once its history read is back: the ok
// reply with the position, the missed publications when recovered, the
// held ones it has not sent, then the handler's actions. A read that failed
// refuses the join. Loop only.
func (e *Engine) finishHistoryJoin(c *conn, ch *phxChan, ref string, reply Reply, asked bool, res history.Result, err error) {
	h := ch.hist
	if ch.state != chanJoined || h == nil || !h.reading {
		return // ended meanwhile
	}
	if err != nil {
		e.log.Warn("history read failed; join refused", "conn", c.id(), "topic", ch.topic, "err", err)
		e.phxReply(c, ch.joinRef, ref, ch.topic, phoenix.StatusError, reason("history unavailable"))
		e.phxEnd(c, c.sh.phx[c], ch, phoenix.EventError, false)
		return
	}
	var resp []byte
	if r := reply.Reply; r != nil {
		resp = r.Response
	}
	e.phxReply(c, ch.joinRef, ref, ch.topic, phoenix.StatusOK, appendPosition(resp, res.Top, asked, res.Recovered))
	h.reading, h.pos = false, res.Top
	if res.Recovered {
		e.stats.HistoryRecovered.Add(1)
		e.stats.HistoryReplayed.Add(int64(len(res.Publications)))
		for _, p := range res.Publications {
			pos := history.Position{Epoch: res.Top.Epoch, Offset: p.Offset}
			e.phxPublication(c, ch.topic, pos, p.Binary, p.Payload)
		}
	} else if asked {
		e.stats.HistoryUnrecovered.Add(1)
	}
	held := h.held
	h.held = nil
	for _, m := range held {
		if c.sh.admit(c, ch.topic, m) {
			c.write(m.frameFor(c, ch.topic))
		}
	}
	e.applyChannel(c, ch, reply)
}

// phxPublication writes one publication to c, a Phoenix member of topic,
// with its position in the ref slot. Loop only.
func (e *Engine) phxPublication(c *conn, topic string, pos history.Position, binary bool, payload []byte) {
	event, p, bin := phoenix.FromRaw(payload, binary)
	c.sendPlain(phxEncode(c.dialect(), "", pos.String(), topic, event, p, bin))
}

// recoverParam reads {"recover":{"epoch":E,"offset":N}} from join params:
// nil when there is no "recover", an error when it is malformed.
func recoverParam(params []byte) (since *history.Position, err error) {
	if !bytes.Contains(params, []byte(`"recover"`)) {
		return nil, nil
	}
	var outer struct {
		Recover json.RawMessage `json:"recover"`
	}
	if sonic.ConfigStd.Unmarshal(params, &outer) != nil || len(outer.Recover) == 0 || string(outer.Recover) == "null" {
		return nil, nil // not an object with "recover": not ours to judge
	}
	var r struct {
		Epoch  *string  `json:"epoch"`
		Offset *float64 `json:"offset"`
	}
	if sonic.ConfigStd.Unmarshal(outer.Recover, &r) != nil || r.Epoch == nil || r.Offset == nil ||
		*r.Offset < 0 || *r.Offset != float64(uint64(*r.Offset)) {
		return nil, errBadRecover
	}
	return &history.Position{Epoch: *r.Epoch, Offset: uint64(*r.Offset)}, nil
}

var errBadRecover = errors.New(`recover must be {"epoch": string, "offset": non-negative integer}`)

// appendPosition adds "epoch", "offset" and, when asked, "recovered" to a
// join reply's response: at the front of a JSON object, or as the whole
// response when there is none. Any other response is left as it is.
func appendPosition(resp []byte, top history.Position, asked, recovered bool) []byte {
	rest := bytes.TrimSpace(resp)
	switch {
	case len(rest) == 0:
		rest = []byte("}")
	case rest[0] == '{':
		rest = bytes.TrimSpace(rest[1:])
		if len(rest) > 0 && rest[0] != '}' {
			rest = append([]byte{','}, rest...)
		}
	default:
		return resp
	}
	b := phoenix.AppendString([]byte(`{"epoch":`), top.Epoch)
	b = strconv.AppendUint(append(b, `,"offset":`...), top.Offset, 10)
	if asked {
		b = strconv.AppendBool(append(b, `,"recovered":`...), recovered)
	}
	return append(b, rest...)
}
