package presence

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/bytedance/sonic"
)

// Presence is one user's entry in a channel: one Meta per tracked connection.
// It marshals as {"user_id": ..., "metas": [...]}, the shape of the HTTP API's
// list_presence and get_presence results.
type Presence struct {
	UserID string `json:"user_id"`
	Metas  []Meta `json:"metas"`
}

// Meta describes one tracked connection. It marshals as
// {"phx_ref": ..., ["phx_ref_prev": ...,] "state": ..., <extra fields>}; extra
// fields are sorted by name.
//
// Metas returned by a Registry share Fields with the registry: treat the map
// (and the values in it) as read-only.
type Meta struct {
	// Ref is the phx_ref: unique per tracked connection (and, in
	// ModeConnection, per update of it).
	Ref string
	// PrevRef is the phx_ref_prev: the Ref this meta replaced. Set only by
	// SetState in ModeConnection; empty otherwise.
	PrevRef string
	// State is "online" unless the track metadata or SetState said otherwise.
	State string
	// Fields holds the track metadata minus the reserved keys (channel,
	// user_id, state, phx_ref, phx_ref_prev). Nil when there are none.
	Fields map[string]any

	// raw is the encoded meta as sent to clients; nil for a Meta built by
	// hand or decoded, in which case MarshalJSON encodes it.
	raw []byte
}

// MarshalJSON returns the meta exactly as the registry sent it to clients.
func (m Meta) MarshalJSON() ([]byte, error) {
	if m.raw != nil {
		return append([]byte(nil), m.raw...), nil
	}
	extra, err := encodeFields(m.Fields)
	if err != nil {
		return nil, err
	}
	return appendMeta(nil, m.Ref, m.PrevRef, AppendJSONString(nil, m.State), extra), nil
}

// UnmarshalJSON decodes a meta object: phx_ref, phx_ref_prev and state go to
// their fields, everything else to Fields.
func (m *Meta) UnmarshalJSON(b []byte) error {
	var all map[string]any
	if err := jsonAPI.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("presence: decode meta: %w", err)
	}
	*m = Meta{}
	for k, v := range all {
		s, _ := v.(string)
		switch k {
		case "phx_ref":
			m.Ref = s
		case "phx_ref_prev":
			m.PrevRef = s
		case "state":
			m.State = s
		default:
			if m.Fields == nil {
				m.Fields = make(map[string]any, len(all))
			}
			m.Fields[k] = v
		}
	}
	return nil
}

// jsonAPI encodes every value the registry sends: map keys sorted so a meta
// always encodes the same way, invalid UTF-8 replaced by U+FFFD so every
// message is a valid WebSocket text payload.
var jsonAPI = sonic.Config{SortMapKeys: true, ValidateString: true}.Froze()

// refSeq numbers phx_refs. It is shared by every Registry so refs are unique
// across the process.
var refSeq atomic.Uint64

// newRef returns prefix followed by the next process-wide sequence number in
// base 36.
func newRef(prefix string) string {
	var buf [32]byte
	b := append(buf[:0], prefix...)
	b = strconv.AppendUint(b, refSeq.Add(1), 36)
	return string(b)
}
