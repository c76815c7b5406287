package cluster

import (
	"github.com/google/uuid"
)

// connTable holds the node's local connection records by id. A node holds
// tens of thousands of them, so the common id, "<node id>.<uuid>" as
// NewConnID and the engine make it, is kept as its 16 UUID bytes rather
// than as a 40-odd byte string; any other id (tests, a caller's own ids)
// is kept whole. Guarded by Node.mu.
type connTable struct {
	prefix string                   // Immutable after construction: ConnIDPrefix.
	own    map[uuid.UUID]*localConn // ids of the node's own form
	other  map[string]*localConn    // every other id
}

func newConnTable(prefix string) connTable {
	return connTable{prefix: prefix, own: make(map[uuid.UUID]*localConn), other: make(map[string]*localConn)}
}

// ownKey returns the UUID of id when id is the prefix followed by a
// canonical (lower-case, hyphenated) UUID, which is then spelled the same
// way again by all.
func (t *connTable) ownKey(id string) (uuid.UUID, bool) {
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

func (t *connTable) get(id string) *localConn {
	if u, ok := t.ownKey(id); ok {
		return t.own[u]
	}
	return t.other[id]
}

func (t *connTable) put(id string, lc *localConn) {
	if u, ok := t.ownKey(id); ok {
		t.own[u] = lc
		return
	}
	t.other[id] = lc
}

func (t *connTable) del(id string) {
	if u, ok := t.ownKey(id); ok {
		delete(t.own, u)
		return
	}
	delete(t.other, id)
}

// all calls f for every record with its id spelled out.
func (t *connTable) all(f func(id string, lc *localConn)) {
	for u, lc := range t.own {
		f(t.prefix+u.String(), lc)
	}
	for id, lc := range t.other {
		f(id, lc)
	}
}
