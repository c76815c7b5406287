package cluster

import (
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/presence"
)

// Local is the engine side of a node: what the cluster asks this node to do
// with its own connections. The node calls it from its receive goroutine,
// one call at a time, in the order the messages were published (per Redis
// channel). Methods must not block and must not call back into the Node
// synchronously (posting work to event loops is the intended use). Byte
// slices passed in belong to the callee.
type Local interface {
	// DeliverPresence receives the node's presence messages (see
	// presence.Sink), in each channel's order.
	presence.Sink
	// DeliverPublication receives the publications of the channels with
	// history that the node follows (see history.Sink), each channel's in
	// offset order, its own publications included.
	history.Sink

	// Send writes payload to local connection connID (a text message unless
	// binary). Unknown connections are ignored.
	Send(connID string, binary bool, payload []byte)
	// Close closes local connection connID with code and reason.
	Close(connID string, code codec.CloseCode, reason string)
	// Join makes local connection connID a member of channel; the engine's
	// own join path then calls Node.Joined as for any join.
	Join(connID, channel string)
	// Leave removes local connection connID from channel (Node.Left follows).
	Leave(connID, channel string)
	// DeliverRoom writes payload to every local member of channels, each
	// member once even if it is in several: one message published by
	// another node's PublishRoom (the engine's fan-out over the channels
	// the node follows; channels without local members just count zero).
	// Encode it once.
	DeliverRoom(channels []string, binary bool, payload []byte)
	// DeliverAll writes payload to every local connection: another node's
	// PublishAll.
	DeliverAll(binary bool, payload []byte)
}

// NopLocal ignores everything; embed it to implement only some methods.
type NopLocal struct{}

func (NopLocal) DeliverPresence(string, []byte, []string, []byte)          {}
func (NopLocal) Send(string, bool, []byte)                                 {}
func (NopLocal) Close(string, codec.CloseCode, string)                     {}
func (NopLocal) Join(string, string)                                       {}
func (NopLocal) Leave(string, string)                                      {}
func (NopLocal) DeliverRoom([]string, bool, []byte)                        {}
func (NopLocal) DeliverAll(bool, []byte)                                   {}
func (NopLocal) DeliverPublication(string, history.Position, bool, []byte) {}

var _ Local = NopLocal{}
