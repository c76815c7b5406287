package wstest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/phoenix"
)

// Phx is a Phoenix client for tests, speaking V2 (or V1) JSON over a
// Client: it numbers refs as phoenix.js does, and keeps the messages it read
// past while waiting for a particular one, so a test can ask for them in any
// order.
type Phx struct {
	*Client
	Vsn     phoenix.Vsn
	ref     int
	joinRef map[string]string // topic -> join_ref of its last join
	held    []PhxMsg          // read while looking for another message
}

// PhxMsg is one decoded server message. Refs are "" when null.
type PhxMsg struct {
	JoinRef, Ref, Topic, Event string
	Payload                    json.RawMessage
	Binary                     bool // a binary frame: Payload holds its bytes
}

// Status and Response of a phx_reply.
func (m PhxMsg) Status() string {
	var r struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(m.Payload, &r)
	return r.Status
}

// Response is a phx_reply's response.
func (m PhxMsg) Response() json.RawMessage {
	var r struct {
		Response json.RawMessage `json:"response"`
	}
	_ = json.Unmarshal(m.Payload, &r)
	return r.Response
}

func (m PhxMsg) String() string {
	return fmt.Sprintf("[%q %q %q %q %s]", m.JoinRef, m.Ref, m.Topic, m.Event, m.Payload)
}

// DialPhx connects a V2 Phoenix client to url (ws://host/socket/websocket,
// with any query) and closes it when the test ends.
func DialPhx(t testing.TB, url string) *Phx {
	t.Helper()
	return &Phx{Client: dial(t, url), Vsn: phoenix.V2, joinRef: map[string]string{}}
}

// PhxURL is the Phoenix WebSocket URL of a server at addr with vsn.
func PhxURL(addr string, vsn phoenix.Vsn, query string) string {
	u := "ws://" + addr + "/socket/websocket?vsn=" + vsn.String()
	if query != "" {
		u += "&" + query
	}
	return u
}

// NextRef returns a fresh ref.
func (p *Phx) NextRef() string {
	p.ref++
	return strconv.Itoa(p.ref)
}

// JoinRef is the join_ref of topic's last join.
func (p *Phx) JoinRef(topic string) string { return p.joinRef[topic] }

// SendRaw sends one message with the given refs and returns ref.
func (p *Phx) SendRaw(t testing.TB, joinRef, ref, topic, event string, payload any) string {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	Send(t, p.Client, string(clientMessage(p.Vsn, joinRef, ref, topic, event, b)))
	return ref
}

// clientMessage encodes a client's message: V2 as the server's, V1 with
// join_ref, which only clients send.
func clientMessage(vsn phoenix.Vsn, joinRef, ref, topic, event string, payload []byte) []byte {
	if vsn == phoenix.V2 {
		return phoenix.AppendMessage(nil, vsn, joinRef, ref, topic, event, payload)
	}
	b := phoenix.AppendMessage(nil, vsn, "", ref, topic, event, payload)
	b = append(b[:len(b)-1], `,"join_ref":`...)
	if joinRef == "" {
		b = append(b, "null"...)
	} else {
		b = phoenix.AppendString(b, joinRef)
	}
	return append(b, '}')
}

// Push sends event on topic with the topic's join_ref and returns its ref.
func (p *Phx) Push(t testing.TB, topic, event string, payload any) string {
	t.Helper()
	return p.SendRaw(t, p.joinRef[topic], p.NextRef(), topic, event, payload)
}

// JoinAsync sends phx_join and returns its ref (which is the join_ref).
func (p *Phx) JoinAsync(t testing.TB, topic string, params any) string {
	t.Helper()
	ref := p.NextRef()
	p.joinRef[topic] = ref
	return p.SendRaw(t, ref, ref, topic, phoenix.EventJoin, params)
}

// Join joins topic and returns the join's reply.
func (p *Phx) Join(t testing.TB, topic string, params any) PhxMsg {
	t.Helper()
	return p.ReplyTo(t, p.JoinAsync(t, topic, params))
}

// Call pushes event on topic and returns its reply.
func (p *Phx) Call(t testing.TB, topic, event string, payload any) PhxMsg {
	t.Helper()
	return p.ReplyTo(t, p.Push(t, topic, event, payload))
}

// ReplyTo waits for the phx_reply to ref.
func (p *Phx) ReplyTo(t testing.TB, ref string) PhxMsg {
	t.Helper()
	return p.Expect(t, "reply to "+ref, func(m PhxMsg) bool { return m.Event == phoenix.EventReply && m.Ref == ref })
}

// Event waits for a message of event on topic.
func (p *Phx) Event(t testing.TB, topic, event string) PhxMsg {
	t.Helper()
	return p.Expect(t, topic+" "+event, func(m PhxMsg) bool { return m.Topic == topic && m.Event == event })
}

// Expect returns the first message (held ones first) that match accepts,
// holding the others; it fails the test after Timeout.
func (p *Phx) Expect(t testing.TB, what string, match func(PhxMsg) bool) PhxMsg {
	t.Helper()
	for i, m := range p.held {
		if match(m) {
			p.held = append(p.held[:i:i], p.held[i+1:]...)
			return m
		}
	}
	deadline := time.Now().Add(Timeout)
	for {
		m, err := p.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %s: %v; held %v", what, err, p.held)
		}
		if match(m) {
			return m
		}
		p.held = append(p.held, m)
	}
}

// Held returns and forgets the messages held so far.
func (p *Phx) Held() []PhxMsg {
	h := p.held
	p.held = nil
	return h
}

// ExpectNone fails the test if a message that match accepts comes within
// Quiet (or is held).
func (p *Phx) ExpectNone(t testing.TB, what string, match func(PhxMsg) bool) {
	t.Helper()
	for _, m := range p.held {
		if match(m) {
			t.Fatalf("unexpected %s: %v", what, m)
		}
	}
	deadline := time.Now().Add(Quiet)
	for {
		m, err := p.next(time.Until(deadline))
		if err != nil {
			return
		}
		if match(m) {
			t.Fatalf("unexpected %s: %v", what, m)
		}
		p.held = append(p.held, m)
	}
}

// next reads and decodes one message.
func (p *Phx) next(d time.Duration) (PhxMsg, error) {
	if d <= 0 {
		return PhxMsg{}, errTimeout
	}
	typ, data, err := p.Client.Next(d)
	if err != nil {
		return PhxMsg{}, err
	}
	if typ == websocket.BinaryMessage {
		return DecodeBinaryPhx(data)
	}
	return DecodePhx(p.Vsn, data)
}

// DecodePhx decodes a server message of vsn.
func DecodePhx(vsn phoenix.Vsn, data []byte) (PhxMsg, error) {
	if vsn == phoenix.V1 {
		var o struct {
			Topic, Event string
			Payload      json.RawMessage
			Ref          *string
		}
		if err := json.Unmarshal(data, &o); err != nil {
			return PhxMsg{}, fmt.Errorf("not a V1 message: %s", data)
		}
		m := PhxMsg{Topic: o.Topic, Event: o.Event, Payload: o.Payload}
		if o.Ref != nil {
			m.Ref = *o.Ref
		}
		return m, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(data, &a); err != nil || len(a) != 5 {
		return PhxMsg{}, fmt.Errorf("not a V2 message: %s", data)
	}
	var refs [4]*string
	for i := range refs {
		if err := json.Unmarshal(a[i], &refs[i]); err != nil {
			return PhxMsg{}, fmt.Errorf("not a V2 message: %s", data)
		}
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return PhxMsg{JoinRef: str(refs[0]), Ref: str(refs[1]), Topic: str(refs[2]), Event: str(refs[3]), Payload: a[4]}, nil
}

// DecodeBinaryPhx decodes a V2 binary push (kind 0), reply (1) or broadcast (2).
func DecodeBinaryPhx(b []byte) (PhxMsg, error) {
	bad := fmt.Errorf("not a binary Phoenix message: %q", b)
	take := func(n int) (string, bool) {
		if len(b) < n {
			return "", false
		}
		s := string(b[:n])
		b = b[n:]
		return s, true
	}
	if len(b) < 3 {
		return PhxMsg{}, bad
	}
	kind := b[0]
	var m PhxMsg
	var ok bool
	switch kind {
	case 0: // push: join_ref, topic, event
		if len(b) < 4 {
			return PhxMsg{}, bad
		}
		jr, tp, ev := int(b[1]), int(b[2]), int(b[3])
		b = b[4:]
		if m.JoinRef, ok = take(jr); ok {
			if m.Topic, ok = take(tp); ok {
				m.Event, ok = take(ev)
			}
		}
	case 2: // broadcast: topic, event
		tp, ev := int(b[1]), int(b[2])
		b = b[3:]
		if m.Topic, ok = take(tp); ok {
			m.Event, ok = take(ev)
		}
	default:
		return PhxMsg{}, bad
	}
	if !ok {
		return PhxMsg{}, bad
	}
	m.Payload, m.Binary = json.RawMessage(b), true
	return m, nil
}

// SendBinary sends a V2 binary push of payload on topic and returns its ref.
func (p *Phx) SendBinary(t testing.TB, topic, event string, payload []byte) string {
	t.Helper()
	ref, jr := p.NextRef(), p.joinRef[topic]
	b := []byte{0, byte(len(jr)), byte(len(ref)), byte(len(topic)), byte(len(event))}
	b = append(append(append(append(append(b, jr...), ref...), topic...), event...), payload...)
	if err := p.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
	return ref
}

// StartPhoenix runs an engine with cfg, the raw routes and the channels on
// 127.0.0.1:0, and shuts it down when the test ends; a Shutdown that fails
// fails the test.
func StartPhoenix(t testing.TB, cfg engine.Config, routes []engine.Route, channels ...engine.Route) *Engine {
	t.Helper()
	e := engine.New(cfg)
	for _, r := range routes {
		if err := e.Handle(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range channels {
		if err := e.HandleChannel(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Engine{Engine: e, Addr: e.Addr().String()}
}
