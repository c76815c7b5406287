package presence

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The Phoenix presence wire format, written once for every backend (this
// package's Registry and the Redis backend of package cluster):
//
//	meta   {"phx_ref":R[,"phx_ref_prev":P],"state":S,<extra fields, keys sorted>}
//	entry  "user":{"metas":[meta,...]}
//	state  {"event":"presence_state","payload":{entry,...}}
//	diff   {"event":"presence_diff","payload":{"joins":{entry,...},"leaves":{entry,...}}}
//
// Every piece is encoded once, when it changes; messages are concatenations.

const (
	statePrefix = `{"event":"presence_state","payload":{`
	stateSuffix = `}}`
	diffPrefix  = `{"event":"presence_diff","payload":{"joins":{`
	diffMiddle  = `},"leaves":{`
	diffSuffix  = `}}}`
	entryOpen   = `:{"metas":[`
	entryClose  = `]}`
)

// SplitMeta validates track metadata and returns the meta's initial state
// (DefaultState unless meta has a "state") and its extra fields encoded for
// AppendMeta: `,"k1":v1,...` with keys sorted, or nil. Reserved keys
// (channel, user_id, phx_ref, phx_ref_prev) are dropped. Errors:
// ErrBadState, ErrBadMeta.
func SplitMeta(meta map[string]any) (state string, extra []byte, err error) {
	state, _, extra, err = splitMeta(meta)
	return state, extra, err
}

// splitMeta is SplitMeta that also returns the extra fields themselves.
func splitMeta(meta map[string]any) (state string, fields map[string]any, extra []byte, err error) {
	state = DefaultState
	for k, v := range meta {
		if k == "state" {
			s, ok := v.(string)
			if !ok || s == "" {
				return "", nil, nil, ErrBadState
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
	extra, err = encodeFields(fields)
	return state, fields, extra, err
}

// reserved lists the metadata keys that never become extra fields.
func reserved(k string) bool {
	switch k {
	case "channel", "user_id", "state", "phx_ref", "phx_ref_prev":
		return true
	}
	return false
}

// encodeFields returns `,"k1":v1,"k2":v2` (the object's members with a
// leading comma, ready to follow "state") or nil when fields is empty.
func encodeFields(fields map[string]any) ([]byte, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	b, err := jsonAPI.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMeta, err)
	}
	if len(b) <= 2 { // "{}"
		return nil, nil
	}
	b[0] = ',' // drop '{', keep the members, drop '}'
	return b[:len(b)-1], nil
}

// AppendMeta appends one meta; prev "" leaves phx_ref_prev out; extra is
// SplitMeta's.
func AppendMeta(b []byte, ref, prev, state string, extra []byte) []byte {
	return appendMeta(b, ref, prev, AppendJSONString(nil, state), extra)
}

// appendMeta is AppendMeta with state already JSON-encoded.
func appendMeta(b []byte, ref, prev string, state, extra []byte) []byte {
	b = append(b, `{"phx_ref":`...)
	b = AppendJSONString(b, ref)
	if prev != "" {
		b = append(b, `,"phx_ref_prev":`...)
		b = AppendJSONString(b, prev)
	}
	b = append(b, `,"state":`...)
	b = append(b, state...)
	b = append(b, extra...)
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string, invalid UTF-8 replaced.
// Printable ASCII without quotes or backslashes (user ids, refs, states in
// practice) is copied as is; anything else goes through sonic.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			enc, err := jsonAPI.Marshal(s)
			if err != nil { // unreachable: strings always encode
				enc = []byte(strconv.Quote(s))
			}
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendEntry appends one user's entry: key (the user id as a JSON string,
// see AppendJSONString) followed by the metas of every list, in order.
func AppendEntry(b []byte, key string, metas ...[][]byte) []byte {
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

// EncodeDiff returns a presence_diff message with the given entries.
func EncodeDiff(joins, leaves [][]byte) []byte {
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

// EncodeState returns a presence_state message with the given entries.
func EncodeState(entries [][]byte) []byte {
	n := len(statePrefix) + len(stateSuffix) + len(entries)
	for _, e := range entries {
		n += len(e)
	}
	b := make([]byte, 0, n)
	b = append(b, statePrefix...)
	b = appendJoined(b, entries)
	return append(b, stateSuffix...)
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
