package cluster

import (
	"github.com/bytedance/sonic"
	"github.com/ripple-rt/ripple/presence"
)

// The presence wire format is package presence's (presence.SplitMeta,
// AppendMeta, AppendEntry, EncodeDiff, EncodeState): the Redis backend
// sends the same bytes as a single server. What is here is the cluster's
// own: user keys as Redis names them, and decoding entries read back.

// jsonAPI encodes and decodes what the cluster keeps in Redis and sends on
// its channels: map keys sorted, invalid UTF-8 replaced, as package presence
// does.
var jsonAPI = sonic.Config{SortMapKeys: true, ValidateString: true}.Froze()

// userKey is the user id encoded as a JSON string: how users are named in
// Redis, in events and in messages.
func userKey(userID string) string { return string(presence.AppendJSONString(nil, userID)) }

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
	n := len(key) + 16
	for _, ms := range metas {
		for _, m := range ms {
			n += len(m) + 1
		}
	}
	return presence.AppendEntry(make([]byte, 0, n), key, metas...)
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
