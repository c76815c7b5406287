package cluster

import (
	"github.com/google/uuid"
)

// connTable maps local connection ids to V. A node holds tens of thousands
// of ids in several tables (its connections, each channel's members), so
// the common id, "<node id>.<uuid>" as NewConnID and the engine make it, is
// kept as its 16 UUID bytes rather than as a 40-odd byte string; any other
// id (tests, a caller's own ids) is kept whole. A caller reads an id once
// (Node.key) and uses that key with every table. The zero value is an empty
// table. Guarded by Node.mu.
type connTable[V any] struct {
	own   map[uuid.UUID]V // ids of the node's own form; nil until the first
	other map[string]V    // every other id; nil until the first
}

// connKey is a connection id as the tables keep it.
type connKey struct {
	own bool
	u   uuid.UUID // own: the id's UUID
	id  string    // not own: the id itself
}

// keyOf reads id, whose own form is prefix followed by a canonical
// (lower-case, hyphenated) UUID, which all then spells the same way again.
func keyOf(prefix, id string) connKey {
	rest, ok := cutPrefix(id, prefix)
	if !ok || len(rest) != 36 {
		return connKey{id: id}
	}
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return connKey{id: id}
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		default:
			return connKey{id: id}
		}
	}
	u, err := uuid.Parse(rest)
	if err != nil {
		return connKey{id: id}
	}
	return connKey{own: true, u: u}
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}

func (t *connTable[V]) get(k connKey) (V, bool) {
	if k.own {
		v, ok := t.own[k.u]
		return v, ok
	}
	v, ok := t.other[k.id]
	return v, ok
}

func (t *connTable[V]) has(k connKey) bool {
	_, ok := t.get(k)
	return ok
}

func (t *connTable[V]) put(k connKey, v V) {
	if k.own {
		if t.own == nil {
			t.own = make(map[uuid.UUID]V)
		}
		t.own[k.u] = v
		return
	}
	if t.other == nil {
		t.other = make(map[string]V)
	}
	t.other[k.id] = v
}

func (t *connTable[V]) del(k connKey) {
	if k.own {
		delete(t.own, k.u)
		return
	}
	delete(t.other, k.id)
}

func (t *connTable[V]) len() int { return len(t.own) + len(t.other) }

// all calls f for every entry with its id spelled out, prefix being the
// ids' own form's (as for keyOf).
func (t *connTable[V]) all(prefix string, f func(id string, v V)) {
	for u, v := range t.own {
		f(prefix+u.String(), v)
	}
	for id, v := range t.other {
		f(id, v)
	}
}
