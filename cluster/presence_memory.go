package cluster

import (
	"context"

	"github.com/ripple-rt/ripple/presence"
)

// MemoryPresence is the single-process Backend: a presence.Registry whose
// messages go to a PresenceSink. Delivery is synchronous, under the
// registry's channel lock, so the sink must not block.
type MemoryPresence struct {
	// Immutable after construction.
	reg  *presence.Registry
	sink func(channel string, state []byte, tracker string, diff []byte, exclude string)
}

// NewMemoryPresence returns a Backend over reg delivering to sink.
func NewMemoryPresence(reg *presence.Registry, sink PresenceSink) *MemoryPresence {
	return &MemoryPresence{reg: reg, sink: sink.DeliverPresence}
}

// NewMemoryPresenceFunc is NewMemoryPresence with a function as the sink.
func NewMemoryPresenceFunc(reg *presence.Registry, sink func(channel string, state []byte, tracker string, diff []byte, exclude string)) *MemoryPresence {
	return &MemoryPresence{reg: reg, sink: sink}
}

// Registry returns the registry.
func (m *MemoryPresence) Registry() *presence.Registry { return m.reg }

func (m *MemoryPresence) pub(channel, tracker string) presence.Publisher {
	return func(state, diff []byte, exclude string) { m.sink(channel, state, tracker, diff, exclude) }
}

func (m *MemoryPresence) Track(channel, connID, userID string, meta map[string]any) error {
	return m.reg.Track(channel, connID, userID, meta, m.pub(channel, connID))
}

func (m *MemoryPresence) Untrack(channel, connID string) error {
	return m.reg.Untrack(channel, connID, m.pub(channel, ""))
}

func (m *MemoryPresence) SetState(channel, connID, state string) error {
	return m.reg.SetState(channel, connID, state, m.pub(channel, ""))
}

func (m *MemoryPresence) List(_ context.Context, channel string) ([]presence.Presence, error) {
	return m.reg.List(channel), nil
}

func (m *MemoryPresence) Count(_ context.Context, channel string) (int, error) {
	return m.reg.Count(channel), nil
}

func (m *MemoryPresence) Get(_ context.Context, channel, userID string) (presence.Presence, bool, error) {
	p, ok := m.reg.Get(channel, userID)
	return p, ok, nil
}

// Sync returns at once: delivery is synchronous.
func (m *MemoryPresence) Sync(context.Context, string) error { return nil }
