package engine

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ripple-rt/ripple/internal/keyset"
)

// registry finds an open connection by id from any goroutine.
//
// An id is the broker's prefix followed by a UUID (connID.text) and a
// connection keeps only the UUID's 16 bytes: the registry finds it by their
// first 8, which are random, in a keyset.Set (a pointer per connection).
// add gives a connection whose 8 bytes are taken by another a new UUID, so
// they are unique among the open connections and a lookup is one uint64
// key. A broker that does not make
// its ids that way (no ConnIDPrefixer) has them kept as strings instead
// (connExtra.id), and looked up in text.
type registry struct {
	// Immutable after Start (setIDs).
	seed   maphash.Seed
	prefix string // ids are prefix + UUID, unless custom
	custom bool   // ids come from Broker.NewConnID, kept in connExtra.id

	count   atomic.Int64
	stripes [64]registryStripe
}

type registryStripe struct {
	mu sync.RWMutex
	// Guarded by mu.
	m    keyset.Set[*conn] // by connID.key (8 bytes a connection)
	text map[string]*conn  // by id, for custom ids; nil otherwise
}

func newRegistry() *registry {
	return &registry{seed: maphash.MakeSeed()}
}

// setIDs says how the broker's ids look: prefix + UUID, or, with custom,
// whatever Broker.NewConnID returns. Before Start only.
func (r *registry) setIDs(prefix string, custom bool) {
	r.prefix, r.custom = prefix, custom
	for i := range r.stripes {
		r.stripes[i].text = nil
		if custom {
			r.stripes[i].text = make(map[string]*conn)
		}
	}
}

func (r *registry) stripeOf(key uint64) *registryStripe {
	return &r.stripes[key%uint64(len(r.stripes))]
}

func (r *registry) textStripe(id string) *registryStripe {
	return r.stripeOf(maphash.String(r.seed, id))
}

// idText is c's id, "" before the upgrade. Safe from any goroutine once c
// is upgraded.
func (r *registry) idText(c *conn) string {
	switch {
	case c.uid == connID{}:
		return ""
	case r.custom:
		return c.x.id
	}
	return c.uid.text(r.prefix)
}

// add registers an upgraded connection; with ids of its own making it may
// give c a new uid first. c.uid and, for custom ids, c.x.id must not change
// afterwards.
func (r *registry) add(c *conn) {
	if r.custom {
		st := r.textStripe(c.x.id)
		st.mu.Lock()
		st.text[c.x.id] = c
		st.mu.Unlock()
		r.count.Add(1)
		return
	}
	for {
		k := c.uid.key()
		st := r.stripeOf(k)
		st.mu.Lock()
		added := st.m.Add(c)
		st.mu.Unlock()
		if added {
			r.count.Add(1)
			return
		}
		c.uid = newConnID()
	}
}

func (r *registry) remove(c *conn) {
	if r.custom {
		st := r.textStripe(c.x.id)
		st.mu.Lock()
		if st.text[c.x.id] == c {
			delete(st.text, c.x.id)
			r.count.Add(-1)
		}
		st.mu.Unlock()
		return
	}
	st := r.stripeOf(c.uid.key())
	st.mu.Lock()
	removed := st.m.Remove(c)
	st.mu.Unlock()
	if removed {
		r.count.Add(-1)
	}
}

// get returns the open connection whose id is exactly id, or nil.
func (r *registry) get(id string) *conn {
	if r.custom {
		st := r.textStripe(id)
		st.mu.RLock()
		c := st.text[id]
		st.mu.RUnlock()
		return c
	}
	rest, ok := strings.CutPrefix(id, r.prefix)
	if !ok {
		return nil
	}
	uid, ok := parseConnID(rest)
	if !ok {
		return nil
	}
	st := r.stripeOf(uid.key())
	st.mu.RLock()
	c := st.m.Get(uid.key())
	st.mu.RUnlock()
	if c == nil || c.uid != uid {
		return nil
	}
	return c
}

// ids returns the id of every open connection.
func (r *registry) ids() []string {
	ids := make([]string, 0, r.count.Load())
	for i := range r.stripes {
		st := &r.stripes[i]
		st.mu.RLock()
		st.m.All(func(c *conn) bool {
			ids = append(ids, c.uid.text(r.prefix))
			return true
		})
		for id := range st.text {
			ids = append(ids, id)
		}
		st.mu.RUnlock()
	}
	return ids
}
