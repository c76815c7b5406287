package presence

import "context"

// Memory is the single-server Backend: a Registry whose messages go to a
// Sink. Delivery happens under the registry's channel lock (or, batched,
// from its timer), so the sink must not block.
type Memory struct {
	// Immutable after construction.
	reg  *Registry
	sink Sink
}

var _ Backend = (*Memory)(nil)

// NewMemory returns a Backend over a new Registry with cfg, delivering to
// sink. cfg.Deliver is set to sink when cfg.Interval batches.
func NewMemory(cfg Config, sink Sink) *Memory {
	if cfg.Interval > 0 {
		cfg.Deliver = sink.DeliverPresence
	}
	return &Memory{reg: New(cfg), sink: sink}
}

// Registry returns the registry, for reads and Flush.
func (m *Memory) Registry() *Registry { return m.reg }

// pub is the Publisher of an unbatched change; tracker is "" unless the
// change is a track.
func (m *Memory) pub(channel, tracker string) Publisher {
	return func(state, diff []byte, _ string) {
		var trackers []string
		if tracker != "" {
			trackers = []string{tracker}
		}
		m.sink.DeliverPresence(channel, state, trackers, diff)
	}
}

func (m *Memory) Track(channel, connID, userID string, meta map[string]any) error {
	return m.reg.Track(channel, connID, userID, meta, m.pub(channel, connID))
}

func (m *Memory) Untrack(channel, connID string) error {
	return m.reg.Untrack(channel, connID, m.pub(channel, ""))
}

func (m *Memory) SetState(channel, connID, state string) error {
	return m.reg.SetState(channel, connID, state, m.pub(channel, ""))
}

func (m *Memory) List(_ context.Context, channel string) ([]Presence, error) {
	return m.reg.List(channel), nil
}

func (m *Memory) Count(_ context.Context, channel string) (int, error) {
	return m.reg.Count(channel), nil
}

func (m *Memory) Get(_ context.Context, channel, userID string) (Presence, bool, error) {
	p, ok := m.reg.Get(channel, userID)
	return p, ok, nil
}

// Sync delivers pending batches now; without batching every message is
// already delivered.
func (m *Memory) Sync(context.Context, string) error {
	m.reg.Flush()
	return nil
}
