package clustertest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Metas is one user's metas as a client holds them.
type Metas []map[string]any

type wirePresence struct {
	Metas Metas `json:"metas"`
}

// Message is a decoded presence message.
type Message struct {
	Event  string // "presence_state" or "presence_diff"
	State  map[string]wirePresence
	Joins  map[string]wirePresence
	Leaves map[string]wirePresence
}

// Decode parses a presence_state or presence_diff message.
func Decode(b []byte) (Message, error) {
	var raw struct {
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Message{}, err
	}
	m := Message{Event: raw.Event}
	switch raw.Event {
	case "presence_state":
		return m, json.Unmarshal(raw.Payload, &m.State)
	case "presence_diff":
		var d struct {
			Joins  map[string]wirePresence `json:"joins"`
			Leaves map[string]wirePresence `json:"leaves"`
		}
		err := json.Unmarshal(raw.Payload, &d)
		m.Joins, m.Leaves = d.Joins, d.Leaves
		return m, err
	}
	return m, fmt.Errorf("not a presence message: %s", b)
}

// View is what one client rebuilds from its messages, with both client
// algorithms.
type View struct {
	// Phoenix is the state of phoenix.js Presence (syncState/syncDiff):
	// joins merge metas by phx_ref, leaves remove refs, a user without
	// metas is dropped.
	Phoenix map[string]Metas
	// Seed is the seed's client code: presence_state replaces everything,
	// joins replace the user, leaves delete the user.
	Seed map[string]Metas
}

// NewView returns an empty view.
func NewView() *View { return &View{Phoenix: map[string]Metas{}, Seed: map[string]Metas{}} }

// Apply applies one message with both algorithms.
func (v *View) Apply(b []byte) error {
	m, err := Decode(b)
	if err != nil {
		return err
	}
	switch m.Event {
	case "presence_state":
		v.Seed = map[string]Metas{}
		for u, p := range m.State {
			v.Seed[u] = p.Metas
		}
		v.Phoenix = phxSyncState(v.Phoenix, m.State)
	case "presence_diff":
		for u, p := range m.Joins {
			v.Seed[u] = p.Metas
		}
		for u := range m.Leaves {
			delete(v.Seed, u)
		}
		phxSyncDiff(v.Phoenix, m.Joins, m.Leaves)
	}
	return nil
}

// Users returns the users of the phoenix view, sorted.
func (v *View) Users() []string { return slices.Sorted(maps.Keys(v.Phoenix)) }

// SeedUsers returns the users of the seed view, sorted.
func (v *View) SeedUsers() []string { return slices.Sorted(maps.Keys(v.Seed)) }

func ref(m map[string]any) string { s, _ := m["phx_ref"].(string); return s }

func refs(ms Metas) map[string]bool {
	out := make(map[string]bool, len(ms))
	for _, m := range ms {
		out[ref(m)] = true
	}
	return out
}

// phxSyncState is Presence.syncState of the phoenix npm package.
func phxSyncState(state map[string]Metas, newState map[string]wirePresence) map[string]Metas {
	joins := map[string]wirePresence{}
	leaves := map[string]wirePresence{}
	for u, metas := range state {
		if _, ok := newState[u]; !ok {
			leaves[u] = wirePresence{Metas: metas}
		}
	}
	for u, np := range newState {
		cur, ok := state[u]
		if !ok {
			joins[u] = np
			continue
		}
		newRefs, curRefs := refs(np.Metas), refs(cur)
		var joined, left Metas
		for _, m := range np.Metas {
			if !curRefs[ref(m)] {
				joined = append(joined, m)
			}
		}
		for _, m := range cur {
			if !newRefs[ref(m)] {
				left = append(left, m)
			}
		}
		if len(joined) > 0 {
			joins[u] = wirePresence{Metas: joined}
		}
		if len(left) > 0 {
			leaves[u] = wirePresence{Metas: left}
		}
	}
	phxSyncDiff(state, joins, leaves)
	return state
}

// phxSyncDiff is Presence.syncDiff of the phoenix npm package.
func phxSyncDiff(state map[string]Metas, joins, leaves map[string]wirePresence) {
	for u, np := range joins {
		cur, had := state[u]
		next := slices.Clone(np.Metas)
		if had {
			joined := refs(np.Metas)
			var keep Metas
			for _, m := range cur {
				if !joined[ref(m)] {
					keep = append(keep, m)
				}
			}
			next = append(keep, next...)
		}
		state[u] = next
	}
	for u, lp := range leaves {
		cur, ok := state[u]
		if !ok {
			continue
		}
		gone := refs(lp.Metas)
		var keep Metas
		for _, m := range cur {
			if !gone[ref(m)] {
				keep = append(keep, m)
			}
		}
		if len(keep) == 0 {
			delete(state, u)
		} else {
			state[u] = keep
		}
	}
}
