package cluster

import (
	"github.com/google/uuid"
)

// connTable maps local connection ids to V. A node holds tens of thousands
// of ids in several tables (its connections, each channel's members), so
// the common id, "<node id>.<uuid>" as NewConnID and the engine make it, is
// kept as its 16 UUID bytes rather than as a 40-odd byte string; any other
// id (tests, a caller's own ids) is kept whole. The zero value is not
// usable: newConnTable sets the prefix. Guarded by Node.mu.
type connTable[V any] struct {
	prefix string          // Immutable after construction: ConnIDPrefix.
	own    map[uuid.UUID]V // ids of the node's own form
	other  map[string]V    // every other id; nil until the first
}

func newConnTable[V any](prefix string) *connTable[V] {
	return &connTable[V]{prefix: prefix, own: make(map[uuid.UUID]V)}
}

// ownKey returns the UUID of id when id is the prefix followed by a
// canonical (lower-case, hyphenated) UUID, which is then spelled the same
// way again by all.
func (t *connTable[V]) ownKey(id string) (uuid.UUID, bool) {
	rest, ok := cutPrefix(id, t.prefix)
	if !ok || len(rest) != 36 {
		return uuid.UUID{}, false
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return uuid.UUID{}, false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		default:
			return uuid.UUID{}, false
		}
	}
	u, err := uuid.Parse(rest)
	return u, err == nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}

func (t *connTable[V]) get(id string) (V, bool) {
	if u, ok := t.ownKey(id); ok {
		v, ok := t.own[u]
		return v, ok
	}
	v, ok := t.other[id]
	return v, ok
}

func (t *connTable[V]) put(id string, v V) {
	if u, ok := t.ownKey(id); ok {
		t.own[u] = v
		return
	}
	if t.other == nil {
		t.other = make(map[string]V)
	}
	t.other[id] = v
}

func (t *connTable[V]) del(id string) {
	if u, ok := t.ownKey(id); ok {
		delete(t.own, u)
		return
	}
	delete(t.other, id)
}

func (t *connTable[V]) len() int { return len(t.own) + len(t.other) }

// all calls f for every entry with its id spelled out.
func (t *connTable[V]) all(f func(id string, v V)) {
	for u, v := range t.own {
		f(t.prefix+u.String(), v)
	}
	for id, v := range t.other {
		f(id, v)
	}
}
