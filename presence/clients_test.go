package presence_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// This file holds the client side of the tests: decoding of the wire
// messages and two client algorithms that rebuild a presence list from them:
// the seed's client code and a port of phoenix.js Presence.syncState/syncDiff
// (assets/js/phoenix/presence.js of the phoenix npm package).

type wireMeta = map[string]any

type wirePresence struct {
	Metas []wireMeta `json:"metas"`
}

type wireMsg struct {
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

type wireDiff struct {
	Joins  map[string]wirePresence `json:"joins"`
	Leaves map[string]wirePresence `json:"leaves"`
}

// decodeState decodes a presence_state message strictly.
func decodeState(b []byte) (map[string]wirePresence, error) {
	var m wireMsg
	if err := strictUnmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.Event != "presence_state" {
		return nil, fmt.Errorf("event %q, want presence_state", m.Event)
	}
	var st map[string]wirePresence
	if err := strictUnmarshal(m.Payload, &st); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("presence_state without payload object: %s", b)
	}
	return st, nil
}

// decodeDiff decodes a presence_diff message strictly: both joins and
// leaves must be objects.
func decodeDiff(b []byte) (wireDiff, error) {
	var m wireMsg
	if err := strictUnmarshal(b, &m); err != nil {
		return wireDiff{}, err
	}
	if m.Event != "presence_diff" {
		return wireDiff{}, fmt.Errorf("event %q, want presence_diff", m.Event)
	}
	var d wireDiff
	if err := strictUnmarshal(m.Payload, &d); err != nil {
		return wireDiff{}, err
	}
	if d.Joins == nil || d.Leaves == nil {
		return wireDiff{}, fmt.Errorf("presence_diff needs joins and leaves objects: %s", b)
	}
	return d, nil
}

// strictUnmarshal decodes exactly one JSON value with no unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %q", err, b)
	}
	if dec.InputOffset() != int64(len(b)) {
		return fmt.Errorf("trailing data after JSON value: %q", b)
	}
	return nil
}

// decodedMsg is a decoded presence_state or presence_diff.
type decodedMsg struct {
	state map[string]wirePresence // non-nil for presence_state
	diff  wireDiff
}

func decodeMsg(b []byte) (*decodedMsg, error) {
	if bytes.HasPrefix(b, []byte(`{"event":"presence_state"`)) {
		st, err := decodeState(b)
		return &decodedMsg{state: st}, err
	}
	d, err := decodeDiff(b)
	return &decodedMsg{diff: d}, err
}

// seedClient is the seed's client code: presence_state replaces everything,
// joins set presences[user], leaves delete presences[user].
type seedClient map[string]wirePresence

func (s *seedClient) apply(m *decodedMsg) {
	if m.state != nil {
		*s = maps.Clone(m.state)
		return
	}
	for u, p := range m.diff.Joins {
		(*s)[u] = p
	}
	for u := range m.diff.Leaves {
		delete(*s, u)
	}
}

// phxState is phoenix.js's presence state: user → metas.
type phxState map[string][]wireMeta

func phxFrom(m map[string]wirePresence) phxState {
	s := make(phxState, len(m))
	for u, p := range m {
		s[u] = p.Metas
	}
	return s
}

func refsOf(metas []wireMeta) []any {
	refs := make([]any, len(metas))
	for i, m := range metas {
		refs[i] = m["phx_ref"]
	}
	return refs
}

// The ports never modify a meta map or a metas slice in place, so states
// and decoded messages may share them (phoenix.js clones instead).

// phxSyncState ports Presence.syncState(currentState, newState).
func phxSyncState(cur, next phxState) phxState {
	state := maps.Clone(cur)
	joins, leaves := phxState{}, phxState{}
	for k, p := range state {
		if _, ok := next[k]; !ok {
			leaves[k] = p
		}
	}
	for k, np := range next {
		cp, ok := state[k]
		if !ok {
			joins[k] = np
			continue
		}
		newRefs, curRefs := refsOf(np), refsOf(cp)
		var joined, left []wireMeta
		for _, m := range np {
			if !slices.Contains(curRefs, m["phx_ref"]) {
				joined = append(joined, m)
			}
		}
		for _, m := range cp {
			if !slices.Contains(newRefs, m["phx_ref"]) {
				left = append(left, m)
			}
		}
		if len(joined) > 0 {
			joins[k] = joined
		}
		if len(left) > 0 {
			leaves[k] = left
		}
	}
	return phxSyncDiff(state, joins, leaves)
}

// phxSyncDiff ports Presence.syncDiff(state, {joins, leaves}): joins replace
// metas with the same phx_ref and keep the others in front, leaves remove
// metas by phx_ref and delete a user left without metas.
func phxSyncDiff(state, joins, leaves phxState) phxState {
	for k, np := range joins {
		metas := slices.Clone(np)
		if cur, ok := state[k]; ok {
			joined := refsOf(metas)
			var keep []wireMeta
			for _, m := range cur {
				if !slices.Contains(joined, m["phx_ref"]) {
					keep = append(keep, m)
				}
			}
			metas = append(keep, metas...)
		}
		state[k] = metas
	}
	for k, lp := range leaves {
		cur, ok := state[k]
		if !ok {
			continue
		}
		gone := refsOf(lp)
		cur = slices.DeleteFunc(slices.Clone(cur), func(m wireMeta) bool {
			return slices.Contains(gone, m["phx_ref"])
		})
		if len(cur) == 0 {
			delete(state, k)
		} else {
			state[k] = cur
		}
	}
	return state
}

// phxApply applies one message the way phoenix.js's Presence does. It
// never modifies m.
func phxApply(state phxState, m *decodedMsg) phxState {
	if m.state != nil {
		return phxSyncState(state, phxFrom(m.state))
	}
	return phxSyncDiff(state, phxFrom(m.diff.Joins), phxFrom(m.diff.Leaves))
}

// sortedMetas returns metas ordered by phx_ref, for set comparisons.
func sortedMetas(metas []wireMeta) []wireMeta {
	out := slices.Clone(metas)
	slices.SortFunc(out, func(a, b wireMeta) int {
		return strings.Compare(fmt.Sprint(a["phx_ref"]), fmt.Sprint(b["phx_ref"]))
	})
	return out
}

// summary renders metas as sorted "conn:state" labels (the tests put the
// connection id in each meta's "conn" field).
func summary(metas []wireMeta) []string {
	out := make([]string, len(metas))
	for i, m := range metas {
		out[i] = fmt.Sprintf("%v:%v", m["conn"], m["state"])
	}
	slices.Sort(out)
	return out
}

func summarize(m map[string]wirePresence) map[string][]string {
	out := make(map[string][]string, len(m))
	for u, p := range m {
		out[u] = summary(p.Metas)
	}
	return out
}
