package history

import (
	"context"
	"crypto/rand"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryConfig configures a Memory. The zero value works.
type MemoryConfig struct {
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Memory is the single-server Backend: a ring of publications per channel.
// Its owner calls Sweep now and then (the engine does every SweepInterval)
// to give back the memory of idle channels; Read and Publish drop expired
// publications by themselves.
type Memory struct {
	// Immutable after construction.
	sink Sink
	base string // this Memory's epoch prefix, random
	now  func() time.Time
	seed maphash.Seed

	gen     atomic.Uint64 // epochs made
	stripes [64]memStripe
}

// SweepInterval is how often the engine calls Memory.Sweep.
const SweepInterval = 10 * time.Second

type memStripe struct {
	mu    sync.Mutex
	chans map[string]*ring // Guarded by mu.
}

// ring is one channel's history. Guarded by its stripe's mu.
type ring struct {
	epoch string
	opts  Options
	top   uint64
	buf   []entry // circular, at most opts.Size
	start int     // index of the oldest entry
	n     int     // entries held
	bytes int     // payload bytes held
	used  int64   // last Publish or Read, unix nanoseconds
}

// entry is one retained publication: 48 bytes plus its payload.
type entry struct {
	off     uint64
	at      int64 // unix nanoseconds
	payload []byte
	binary  bool
}

// entrySize is the bytes an entry takes besides its payload.
const entrySize = 48

var _ Backend = (*Memory)(nil)

// NewMemory returns a Memory delivering to sink.
func NewMemory(cfg MemoryConfig, sink Sink) *Memory {
	m := &Memory{sink: sink, base: randomEpoch(), now: cfg.Now, seed: maphash.MakeSeed()}
	if m.now == nil {
		m.now = time.Now
	}
	for i := range m.stripes {
		m.stripes[i].chans = map[string]*ring{}
	}
	return m
}

// randomEpoch returns 8 random characters of [0-9a-z].
func randomEpoch() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b[:])
}

func (m *Memory) stripe(channel string) *memStripe {
	return &m.stripes[maphash.String(m.seed, channel)%uint64(len(m.stripes))]
}

// ringLocked returns channel's ring, made with a new epoch when there is
// none. st.mu must be held.
func (m *Memory) ringLocked(st *memStripe, channel string, opts Options, now int64) *ring {
	r := st.chans[channel]
	if r == nil {
		r = &ring{epoch: m.base + "-" + strconv.FormatUint(m.gen.Add(1), 36), opts: opts.Normalize()}
		st.chans[channel] = r
	}
	r.used = now
	return r
}

// Publish appends payload to channel's ring and hands it to the Sink, both
// under the channel's lock, so the Sink sees offsets in order.
func (m *Memory) Publish(channel string, opts Options, binary bool, payload []byte) {
	m.PublishFunc(channel, opts, binary, payload, func(pos Position) {
		m.sink.DeliverPublication(channel, pos, binary, payload)
	})
}

// PublishFunc is Publish handing the publication to deliver instead of the
// Sink, under the channel's lock likewise (deliver must not block). The
// engine uses it to write a publication on the loop that published it
// without a trip through the loop's queue when that keeps the order.
func (m *Memory) PublishFunc(channel string, opts Options, binary bool, payload []byte, deliver func(Position)) {
	now := m.now().UnixNano()
	st := m.stripe(channel)
	st.mu.Lock()
	defer st.mu.Unlock()
	r := m.ringLocked(st, channel, opts, now)
	r.top++
	r.expire(now)
	r.push(entry{off: r.top, at: now, payload: payload, binary: binary})
	deliver(Position{Epoch: r.epoch, Offset: r.top})
}

// Read returns channel's history as Backend.Read documents.
func (m *Memory) Read(_ context.Context, channel string, opts Options, since *Position, limit int) (Result, error) {
	now := m.now().UnixNano()
	st := m.stripe(channel)
	st.mu.Lock()
	r := m.ringLocked(st, channel, opts, now)
	r.expire(now)
	top := Position{Epoch: r.epoch, Offset: r.top}
	var pubs []Publication
	if limit >= 0 {
		pubs = make([]Publication, 0, r.n)
		for i := range r.n {
			e := &r.buf[(r.start+i)%len(r.buf)]
			pubs = append(pubs, Publication{Offset: e.off, Binary: e.binary, Payload: e.payload})
		}
	} else if r.n > 0 {
		// The first retained offset is all Recover needs to decide.
		e := &r.buf[r.start]
		pubs = []Publication{{Offset: e.off}}
	}
	st.mu.Unlock()
	return Recover(top, pubs, since, limit), nil
}

// push appends e, dropping the oldest entry when the ring is full.
func (r *ring) push(e entry) {
	if r.n == r.opts.Size {
		old := &r.buf[r.start]
		r.bytes -= len(old.payload)
		*old = e
		r.bytes += len(e.payload)
		r.start = (r.start + 1) % len(r.buf)
		return
	}
	if r.n == len(r.buf) { // grow, oldest first
		nb := make([]entry, min(max(2*len(r.buf), 4), r.opts.Size))
		for i := range r.n {
			nb[i] = r.buf[(r.start+i)%len(r.buf)]
		}
		r.buf, r.start = nb, 0
	}
	r.buf[(r.start+r.n)%len(r.buf)] = e
	r.n++
	r.bytes += len(e.payload)
}

// expire drops the entries older than the TTL.
func (r *ring) expire(now int64) {
	cut := now - int64(r.opts.TTL)
	for r.n > 0 {
		e := &r.buf[r.start]
		if e.at > cut {
			return
		}
		r.bytes -= len(e.payload)
		*e = entry{}
		r.start = (r.start + 1) % len(r.buf)
		r.n--
	}
	r.buf, r.start = nil, 0 // empty: give the buffer back
}

// Sweep drops expired publications and forgets the channels idle (no
// Publish or Read) past their TTL whose publications have all expired. The
// sweeper calls it every SweepInterval.
func (m *Memory) Sweep() {
	now := m.now().UnixNano()
	for i := range m.stripes {
		st := &m.stripes[i]
		st.mu.Lock()
		for ch, r := range st.chans {
			r.expire(now)
			if r.n == 0 && now-r.used >= int64(r.opts.TTL) {
				delete(st.chans, ch)
			}
		}
		st.mu.Unlock()
	}
}

// MemoryStats is what a Memory holds.
type MemoryStats struct {
	Channels     int // channels with a ring
	Publications int // publications retained
	Bytes        int // bytes of the retained publications: payloads plus 48 each
}

// Stats counts what m holds now (it visits every channel).
func (m *Memory) Stats() MemoryStats {
	var s MemoryStats
	for i := range m.stripes {
		st := &m.stripes[i]
		st.mu.Lock()
		s.Channels += len(st.chans)
		for _, r := range st.chans {
			s.Publications += r.n
			s.Bytes += r.bytes + r.n*entrySize
		}
		st.mu.Unlock()
	}
	return s
}
