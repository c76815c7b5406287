package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/presence"
)

// Broker is what the engine needs from the other servers of a cluster. A
// single server uses the in-process one (every method answers for this
// server alone); package cluster's Node implements it over Redis, and the
// root package wires it (UseCluster). With any broker the engine does
// everything locally exactly as a single server does, and adds:
//
//   - connection ids from NewConnID (or of the form ConnIDPrefixer
//     describes), routable (Route) so that a directed helper (Send, Close,
//     Join, Leave) reaches the server holding the connection;
//   - the membership events: Connected in open, Joined and Left where a
//     channel's member set really changes (under shard.mu: they must not
//     block or call back), Disconnected in OnClose;
//   - PublishRoom and PublishAll beside every local fan-out, so the members
//     on other servers get the payload; each server compiles its own frame
//     once;
//   - the cluster-wide reads Count, CountIn, Clients and ClientsIn.
//
// What other servers ask of this one arrives through Inbound.
type Broker interface {
	NewConnID() string
	// Route names the server holding connID; local is true for this one.
	Route(connID string) (node string, local bool)

	Connected(connID string)
	Joined(connID, channel string)
	Left(connID, channel string)
	Disconnected(connID string)

	PublishRoom(channels []string, binary bool, payload []byte)
	PublishAll(binary bool, payload []byte)

	// Directed calls for a connection of another server: whether it exists.
	Send(ctx context.Context, connID string, binary bool, payload []byte) (bool, error)
	CloseConn(ctx context.Context, connID string, code codec.CloseCode, reason string) (bool, error)
	Join(ctx context.Context, connID, channel string) (bool, error)
	Leave(ctx context.Context, connID, channel string) (bool, error)

	Count(ctx context.Context) (int, error)
	// CountIn is the number of members of channel.
	CountIn(ctx context.Context, channel string) (int, error)
	Clients(ctx context.Context) ([]string, error)
	ClientsIn(ctx context.Context, channel string) ([]string, error)
}

// ConnIDPrefixer is implemented by a Broker whose NewConnID returns a fixed
// prefix followed by a random (version 4) UUID in canonical form, as
// uuid.NewString writes it. The engine then makes its connections' ids
// itself, in that same form, and keeps each as 16 bytes rather than a
// string (the ids are spelled out when asked for). A Broker without it has
// NewConnID called for every connection, and its ids are kept as they are.
type ConnIDPrefixer interface {
	ConnIDPrefix() string
}

// ErrClusterMode is returned by UseCluster when it cannot be used.
var ErrClusterMode = errors.New("engine: cluster")

// UseCluster makes the engine one server of a cluster: b reaches the other
// servers and p keeps presences for all of them. Call it once, after New
// and before Start; b and p must deliver to e.Inbound(). The engine does
// not close them: their owner does, after Shutdown (so that the untracks
// and leaves of the closing connections reach the others first).
func (e *Engine) UseCluster(b Broker, p presence.Backend) error {
	if e.started.Load() {
		return fmt.Errorf("%w: UseCluster after Start", ErrClusterMode)
	}
	if b == nil || p == nil {
		return fmt.Errorf("%w: nil broker or presence backend", ErrClusterMode)
	}
	if _, ok := e.broker.(localBroker); !ok {
		return fmt.Errorf("%w: UseCluster called twice", ErrClusterMode)
	}
	e.broker, e.presence = b, p
	if pb, ok := b.(ConnIDPrefixer); ok {
		e.conns.setIDs(pb.ConnIDPrefix(), false)
	} else {
		e.conns.setIDs("", true)
	}
	return nil
}

// localBroker is a single server's Broker: no other server.
type localBroker struct{ e *Engine }

func (localBroker) NewConnID() string                                        { return uuid.NewString() }
func (localBroker) ConnIDPrefix() string                                     { return "" }
func (localBroker) Route(string) (string, bool)                              { return "", true }
func (localBroker) Connected(string)                                         {}
func (localBroker) Joined(string, string)                                    {}
func (localBroker) Left(string, string)                                      {}
func (localBroker) Disconnected(string)                                      {}
func (localBroker) PublishRoom([]string, bool, []byte)                       {}
func (localBroker) PublishAll(bool, []byte)                                  {}
func (localBroker) Send(context.Context, string, bool, []byte) (bool, error) { return false, nil }
func (localBroker) CloseConn(context.Context, string, codec.CloseCode, string) (bool, error) {
	return false, nil
}
func (localBroker) Join(context.Context, string, string) (bool, error)  { return false, nil }
func (localBroker) Leave(context.Context, string, string) (bool, error) { return false, nil }
func (b localBroker) Count(context.Context) (int, error)                { return b.e.LocalCount(), nil }
func (b localBroker) CountIn(_ context.Context, ch string) (int, error) {
	return b.e.localCountIn(ch), nil
}
func (b localBroker) Clients(context.Context) ([]string, error) { return b.e.conns.ids(), nil }
func (b localBroker) ClientsIn(_ context.Context, ch string) ([]string, error) {
	return b.e.localClientsIn(ch), nil
}

var (
	_ Broker         = localBroker{}
	_ ConnIDPrefixer = localBroker{}
)

// Inbound is the engine's side of a cluster: what other servers ask of this
// server's connections (package cluster's Local). Its methods may be called
// from any goroutine, before Start too (they find no connection then); each
// only posts work to loops and returns. Byte slices passed in become the
// engine's.
type Inbound struct{ e *Engine }

// Inbound returns e's side of a cluster, for the broker and presence
// backend given to UseCluster.
func (e *Engine) Inbound() Inbound { return Inbound{e} }

// Send writes payload to connection connID (a text message unless binary).
func (in Inbound) Send(connID string, binary bool, payload []byte) {
	if c := in.e.conns.get(connID); c != nil {
		op := opOf(binary)
		c.sh.post(func() { c.send(op, payload) })
	}
}

// Close closes connection connID with code and reason.
func (in Inbound) Close(connID string, code codec.CloseCode, reason string) {
	if c := in.e.conns.get(connID); c != nil {
		c.sh.post(func() { c.close(code, reason, true) })
	}
}

// Join makes connection connID a member of channel.
func (in Inbound) Join(connID, channel string) {
	if c := in.e.conns.get(connID); c != nil {
		_ = in.e.join(c, channel)
	}
}

// Leave removes connection connID from channel.
func (in Inbound) Leave(connID, channel string) {
	if c := in.e.conns.get(connID); c != nil {
		_ = in.e.leave(c, channel)
	}
}

// DeliverRoom writes payload to every member of channels here, each once.
func (in Inbound) DeliverRoom(channels []string, binary bool, payload []byte) {
	in.e.fanout(channels, newMessage(opOf(binary), payload), nil, nil)
}

// DeliverAll writes payload to every connection here.
func (in Inbound) DeliverAll(binary bool, payload []byte) {
	in.e.broadcast(newMessage(opOf(binary), payload), nil)
}

// DeliverPresence is presence.Sink: the state to the trackers here, the
// diff to the channel's other members here, in the channel's order.
func (in Inbound) DeliverPresence(channel string, state []byte, trackers []string, diff []byte) {
	in.e.deliverPresence(channel, state, trackers, diff)
}

// DeliverPublication is history.Sink: a publication of a channel with
// history, to every member here, in the channel's offset order.
func (in Inbound) DeliverPublication(channel string, pos history.Position, binary bool, payload []byte) {
	in.e.deliverPublication(channel, pos, binary, payload)
}

var (
	_ presence.Sink = Inbound{}
	_ history.Sink  = Inbound{}
)
