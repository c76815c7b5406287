package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// registry finds an open connection by id from any goroutine.
type registry struct {
	// Immutable after construction.
	seed maphash.Seed

	count   atomic.Int64
	stripes [64]registryStripe
}

type registryStripe struct {
	mu sync.RWMutex
	m  map[string]*conn // Guarded by mu.
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed()}
	for i := range r.stripes {
		r.stripes[i].m = make(map[string]*conn)
	}
	return r
}

func (r *registry) stripe(id string) *registryStripe {
	return &r.stripes[maphash.String(r.seed, id)%uint64(len(r.stripes))]
}

func (r *registry) add(c *conn) {
	st := r.stripe(c.id)
	st.mu.Lock()
	st.m[c.id] = c
	st.mu.Unlock()
	r.count.Add(1)
}

func (r *registry) remove(c *conn) {
	st := r.stripe(c.id)
	st.mu.Lock()
	if st.m[c.id] == c {
		delete(st.m, c.id)
		r.count.Add(-1)
	}
	st.mu.Unlock()
}

func (r *registry) get(id string) *conn {
	st := r.stripe(id)
	st.mu.RLock()
	c := st.m[id]
	st.mu.RUnlock()
	return c
}

func (r *registry) ids() []string {
	ids := make([]string, 0, r.count.Load())
	for i := range r.stripes {
		st := &r.stripes[i]
		st.mu.RLock()
		for id := range st.m {
			ids = append(ids, id)
		}
		st.mu.RUnlock()
	}
	return ids
}
