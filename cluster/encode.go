package cluster

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	"github.com/ripple-rt/ripple/presence"
)

// The encodings below produce the same bytes as package presence: metas
// {"phx_ref":...,["phx_ref_prev":...,]"state":...,<extra fields sorted>},
// user entries "user":{"metas":[...]}, and the presence_state and
// presence_diff messages.

// jsonAPI encodes metadata with map keys sorted and invalid UTF-8 replaced,
// as package presence does.
var jsonAPI = sonic.Config{SortMapKeys: true, ValidateString: true}.Froze()

const (
	statePrefix = `{"event":"presence_state","payload":{`
	stateSuffix = `}}`
	diffPrefix  = `{"event":"presence_diff","payload":{"joins":{`
	diffMiddle  = `},"leaves":{`
	diffSuffix  = `}}}`
	entryOpen   = `:{"metas":[`
	entryClose  = `]}`
)

// reserved lists the metadata keys that never become extra fields.
func reserved(k string) bool {
	switch k {
	case "channel", "user_id", "state", "phx_ref", "phx_ref_prev":
		return true
	}
	return false
}

// splitMeta validates track metadata and returns the initial state and the
// encoded extra fields (`,"k":v,...` or nil), as presence.Registry.Track
// does.
func splitMeta(meta map[string]any) (state string, extra []byte, err error) {
	state = presence.DefaultState
	var fields map[string]any
	for k, v := range meta {
		if k == "state" {
			s, ok := v.(string)
			if !ok || s == "" {
				return "", nil, presence.ErrBadState
			}
			state = s
			continue
		}
		if reserved(k) {
			continue
		}
		if fields == nil {
			fields = make(map[string]any, len(meta))
		}
		fields[k] = v
	}
	if len(fields) == 0 {
		return state, nil, nil
	}
	b, err := jsonAPI.Marshal(fields)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", presence.ErrBadMeta, err)
	}
	if len(b) <= 2 {
		return state, nil, nil
	}
	b[0] = ','
	return state, b[:len(b)-1], nil
}

// appendMeta appends the encoded meta.
func appendMeta(b []byte, ref, prev, state string, extra []byte) []byte {
	b = append(b, `{"phx_ref":`...)
	b = appendJSONString(b, ref)
	if prev != "" {
		b = append(b, `,"phx_ref_prev":`...)
		b = appendJSONString(b, prev)
	}
	b = append(b, `,"state":`...)
	b = appendJSONString(b, state)
	b = append(b, extra...)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			enc, err := jsonAPI.Marshal(s)
			if err != nil {
				enc = []byte(strconv.Quote(s))
			}
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// userKey is the user id encoded as a JSON string: how users are named in
// Redis, in events and in messages.
func userKey(userID string) string { return string(appendJSONString(nil, userID)) }

// userID decodes a user key.
func userID(key string) string {
	var s string
	if err := jsonAPI.UnmarshalFromString(key, &s); err != nil {
		return key
	}
	return s
}

// encodeEntry returns key:{"metas":[m1,m2,...]}.
func encodeEntry(key string, metas ...[][]byte) []byte {
	n := len(key) + len(entryOpen) + len(entryClose)
	for _, ms := range metas {
		for _, m := range ms {
			n += len(m) + 1
		}
	}
	b := make([]byte, 0, n)
	b = append(b, key...)
	b = append(b, entryOpen...)
	first := true
	for _, ms := range metas {
		for _, m := range ms {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, m...)
		}
	}
	return append(b, entryClose...)
}

// encodeDiff returns a presence_diff with the given user entries.
func encodeDiff(joins, leaves [][]byte) []byte {
	n := len(diffPrefix) + len(diffMiddle) + len(diffSuffix) + len(joins) + len(leaves)
	for _, e := range joins {
		n += len(e)
	}
	for _, e := range leaves {
		n += len(e)
	}
	b := make([]byte, 0, n)
	b = append(b, diffPrefix...)
	b = appendJoined(b, joins)
	b = append(b, diffMiddle...)
	b = appendJoined(b, leaves)
	return append(b, diffSuffix...)
}

func appendJoined(b []byte, parts [][]byte) []byte {
	for i, p := range parts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p...)
	}
	return b
}

// decodePresences groups entries by user into presences sorted by user id,
// metas by position.
func decodePresences(es []entry) ([]presence.Presence, error) {
	byUser := make(map[string][]entry)
	for _, e := range es {
		byUser[e.user] = append(byUser[e.user], e)
	}
	out := make([]presence.Presence, 0, len(byUser))
	for key, list := range byUser {
		sortEntries(list)
		p := presence.Presence{UserID: userID(key), Metas: make([]presence.Meta, len(list))}
		for i, e := range list {
			if err := p.Metas[i].UnmarshalJSON(e.meta); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	sortPresences(out)
	return out, nil
}
