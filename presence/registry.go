package presence

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Mode selects how presence changes become presence_diff messages.
type Mode uint8

const (
	// ModeUser is the default: a user joins when its first connection is
	// tracked and leaves when its last one is untracked; further
	// connections come and go silently.
	ModeUser Mode = iota
	// ModeConnection is exact Phoenix semantics: every track, untrack and
	// state change of a connection is a diff for that connection's meta.
	ModeConnection
)

// String returns "user" or "connection".
func (m Mode) String() string {
	switch m {
	case ModeUser:
		return "user"
	case ModeConnection:
		return "connection"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "user" (or "") and "connection".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "", "user":
		return ModeUser, nil
	case "connection":
		return ModeConnection, nil
	}
	return 0, ErrBadMode
}

// Errors returned by the Registry.
var (
	ErrNoChannel      = errors.New("presence: channel required")
	ErrNoConnID       = errors.New("presence: connection id required")
	ErrNoUserID       = errors.New("presence: user_id required")
	ErrBadUserID      = errors.New("presence: user_id must be valid UTF-8")
	ErrBadState       = errors.New("presence: state must be a non-empty string")
	ErrBadMeta        = errors.New("presence: metadata not encodable as JSON")
	ErrAlreadyTracked = errors.New("presence: already tracked")
	ErrNotTracked     = errors.New("presence: not tracked")
	ErrBadMode        = errors.New("presence: unknown mode")
)

// DefaultMaxStaleRefs is the default of Config.MaxStaleRefs.
const DefaultMaxStaleRefs = 32

// DefaultState is the state of a meta whose track metadata has none.
const DefaultState = "online"

// DefaultBurst is the default of Config.Burst: after a quiet spell a
// channel publishes up to 4 changes at once before it batches. Once its
// tokens are spent it publishes one batch per Interval, as with any Burst,
// so a storm costs at most 3 publications more than with a Burst of 1,
// while a channel with a few changes a second almost never makes one wait:
// that takes more than 4+k changes within k Intervals (5 within one).
const DefaultBurst = 4

// Config configures a Registry. The zero value is ModeUser with the defaults
// documented on each field.
type Config struct {
	// Mode selects user (default) or connection semantics.
	Mode Mode
	// RefPrefix is put in front of every phx_ref this registry issues (a
	// node id in a cluster). Default "": refs are a process-wide base-36
	// counter.
	RefPrefix string
	// MaxStaleRefs bounds, per user and channel in ModeUser, the refs of
	// untracked connections kept so that the user's final leave retracts
	// them on every client. Exceeding it triggers a compaction (see the
	// package doc). Values below 1 mean DefaultMaxStaleRefs.
	MaxStaleRefs int

	// Interval batches each channel's changes when Deliver is set, but only
	// while they come faster than one per Interval. A channel holds Burst
	// tokens; every publication takes one and one comes back every
	// Interval. A change made while a token is left is published at once;
	// a change that finds none waits, merged with the channel's next
	// changes, and the batch is published when the next token comes back.
	// A quiet channel thus publishes every change at once, and once
	// batching has started Interval is the batching period: at most one
	// batch per Interval (see "Batches" in the package doc). Zero, or a nil
	// Deliver, publishes every change at once through the Publisher passed
	// to the call.
	Interval time.Duration
	// Burst is how many publications a channel may make at once after a
	// quiet spell before it batches (the size of its token bucket). Values
	// below 1 mean DefaultBurst. With 1, the first change after a quiet
	// Interval is published at once and the later ones one Interval after
	// the previous publication. Unused without batching.
	Burst int
	// Deliver publishes one batch of a channel: state (nil when no
	// connection tracked in the batch) goes to the trackers, diff (nil when
	// nobody else must be told) to every member, trackers included. It is
	// called with the channel's lock held, from the goroutine that made a
	// change or from a timer goroutine, so it must not block and must not
	// call back into the Registry. The slices are the callee's. With Deliver
	// set, the Publisher arguments of Track, Untrack and SetState are
	// ignored.
	Deliver func(channel string, state []byte, trackers []string, diff []byte)
}

// Publisher receives the encoded messages of one presence change. It is
// called with the channel's lock held, so it must not block and must not call
// back into the Registry; calls for one channel are therefore totally ordered.
//
// state is the full {"event":"presence_state",...} message for the tracking
// connection (Track only; nil otherwise). diff is the
// {"event":"presence_diff",...} message for the channel's other members, nil
// when they must not be told anything. exclude is the connection that must
// not get diff ("" = none); on Track it is the tracking connection, which got
// state instead. The slices belong to the Publisher once passed; the registry
// never reads or writes them again.
//
// The Publisher is called only when state or diff is non-nil, and twice in a
// row (two diffs) for a ModeUser compaction. A nil Publisher publishes
// nothing and skips the encoding.
type Publisher func(state, diff []byte, exclude string)

// Registry holds the presences of every channel. It is safe for concurrent
// use; each channel has its own lock and an empty channel costs nothing.
type Registry struct {
	// Immutable after construction.
	mode     Mode
	prefix   string
	maxStale int
	pace     Pacer // batching only
	deliver  func(channel string, state []byte, trackers []string, diff []byte)
	clock    clock

	// compactions counts ModeUser compactions, for metrics.
	compactions atomic.Uint64

	// channels maps a channel name to its *channel. Entries are added on
	// first Track and removed, under the channel's lock, by the Untrack that
	// empties it (which marks it dead first).
	channels sync.Map
}

// channel is one channel's presence state.
type channel struct {
	// Immutable after construction.
	name string

	mu sync.Mutex

	// Guarded by mu.
	dead  bool             // removed from Registry.channels; retry the lookup
	users map[string]*user // by user id
	order []*user          // users in a dense slice; user.idx is the position
	conns map[string]*conn // by connection id
	// gen counts the published batches that carried a presence_state. A
	// meta with born < gen was in a state published after its own, i.e.
	// shown to another connection.
	gen        uint64
	nMetas     int // number of tracked connections
	entryBytes int // sum of len(user.entry), to size presence_state exactly

	// The changes not yet published, see batch.go.
	b Batch[*conn]
	// bucket holds the channel's tokens (batching only); each publication
	// takes one, see Pacer.
	bucket Bucket
	armed  bool // a timer will publish the batch
}

// user is one user's entry in a channel.
type user struct {
	// Immutable after construction.
	id  string
	key []byte // id as a JSON string

	// Guarded by the channel's mu.
	idx   int
	conns []*conn // in track order (ModeConnection: updates move to the end)
	// entry is "id":{"metas":[...]} for the current metas; the conns'
	// meta.raw point into it. Replaced, never modified, by rebuildEntry.
	entry []byte
	// stale holds, in ModeUser, the encoded metas of untracked connections
	// that some client may still hold; the user's final leave carries them.
	// At most Registry.maxStale entries.
	stale [][]byte
}

// conn is one tracked connection in a channel.
type conn struct {
	// Immutable after construction.
	id    string
	u     *user
	extra []byte // encoded extra fields, see encodeFields

	// Guarded by the channel's mu.
	meta Meta   // meta.raw points into u.entry while tracked
	born uint64 // channel.gen of the batch that carries this conn's state
	// announced: the meta went out in a joins diff, or in a presence_state
	// published to another connection along with its own (ModeUser
	// bookkeeping).
	announced bool
	// waiting: the conn is among the batch's trackers.
	waiting bool
}

// NewRegistry returns an empty Registry in the given mode with default
// settings.
func NewRegistry(mode Mode) *Registry { return New(Config{Mode: mode}) }

// New returns an empty Registry configured by cfg.
func New(cfg Config) *Registry {
	return newRegistry(cfg, realClock{})
}

// newRegistry is New with the given time source.
func newRegistry(cfg Config, clk clock) *Registry {
	r := &Registry{mode: cfg.Mode, prefix: cfg.RefPrefix, maxStale: cfg.MaxStaleRefs, clock: clk}
	if cfg.Deliver != nil {
		r.pace, r.deliver = NewPacer(cfg.Interval, cfg.Burst), cfg.Deliver
	}
	if r.maxStale < 1 {
		r.maxStale = DefaultMaxStaleRefs
	}
	return r
}

// Compactions returns how many ModeUser compactions (leave-all followed by
// join-current, see the package doc) the registry has published so far.
func (r *Registry) Compactions() uint64 { return r.compactions.Load() }

// Mode returns the registry's mode.
func (r *Registry) Mode() Mode { return r.mode }

// lockChannel returns the named channel locked, creating it if create is set;
// nil if it does not exist and create is not set.
func (r *Registry) lockChannel(name string, create bool) *channel {
	for {
		v, ok := r.channels.Load(name)
		if !ok {
			if !create {
				return nil
			}
			v, _ = r.channels.LoadOrStore(name, &channel{
				name:  name,
				users: make(map[string]*user),
				conns: make(map[string]*conn),
			})
		}
		ch := v.(*channel)
		ch.mu.Lock()
		if !ch.dead {
			return ch
		}
		ch.mu.Unlock()
		if !create {
			return nil // it was empty when it died
		}
	}
}

// Track starts tracking connection connID as user userID in channel with the
// given metadata (keys channel and user_id are dropped, a string "state" sets
// the initial state, default "online"). The registry keeps its own copy of
// the map but shares the values: do not modify them afterwards.
//
// The tracking connection gets the full presence_state (itself included);
// the others get a diff as the mode says. Tracking a connection that is
// already tracked in the channel returns ErrAlreadyTracked and changes
// nothing (as Phoenix does); Untrack first to change its user or metadata.
func (r *Registry) Track(channelName, connID, userID string, meta map[string]any, pub Publisher) error {
	switch {
	case channelName == "":
		return ErrNoChannel
	case connID == "":
		return ErrNoConnID
	case userID == "":
		return ErrNoUserID
	case !utf8.ValidString(userID):
		return ErrBadUserID
	}
	state, fields, extra, err := splitMeta(meta)
	if err != nil {
		return err
	}
	ref := newRef(r.prefix)
	raw := appendMeta(nil, ref, "", AppendJSONString(nil, state), extra)
	key := AppendJSONString(nil, userID)

	ch := r.lockChannel(channelName, true)
	defer ch.mu.Unlock()
	if _, ok := ch.conns[connID]; ok {
		return ErrAlreadyTracked
	}
	r.begin(ch, userID, pub)
	u := ch.users[userID]
	first := u == nil
	if first {
		u = &user{id: userID, key: key, idx: len(ch.order)}
		ch.users[userID] = u
		ch.order = append(ch.order, u)
	}
	c := &conn{
		id:    connID,
		u:     u,
		extra: extra,
		meta:  Meta{Ref: ref, State: state, Fields: fields, raw: raw},
		born:  ch.gen + 1,
	}
	ch.conns[connID] = c
	u.conns = append(u.conns, c)
	ch.nMetas++
	ch.rebuildEntry(u)

	rec := r.records(pub)
	if first || r.mode == ModeConnection {
		c.announced = true
		if rec {
			j := u.entry // just this meta when the user is new
			if !first {
				j = entry(u.key, [][]byte{c.meta.raw}, nil)
			}
			ch.b.Join(userID, j)
		}
	}
	if rec {
		c.waiting = true
		ch.b.AddTracker(c)
	}
	r.changed(ch, pub)
	return nil
}

// Untrack stops tracking connID in channel and tells the other members as the
// mode says. It returns ErrNotTracked (and publishes nothing) when the
// connection is not tracked there, so callers untracking everything on
// disconnect may ignore that error.
func (r *Registry) Untrack(channelName, connID string, pub Publisher) error {
	ch := r.lockChannel(channelName, false)
	if ch == nil {
		return ErrNotTracked
	}
	defer ch.mu.Unlock()
	c := ch.conns[connID]
	if c == nil {
		return ErrNotTracked
	}
	u := c.u
	r.begin(ch, u.id, pub)
	if c.waiting {
		ch.b.DropTracker(c)
		c.waiting = false
	}
	delete(ch.conns, connID)
	i := slices.Index(u.conns, c)
	u.conns = slices.Delete(u.conns, i, i+1)
	ch.nMetas--
	last := len(u.conns) == 0
	if !last {
		ch.rebuildEntry(u)
	}

	rec := r.records(pub)
	switch {
	case r.mode == ModeConnection:
		if rec {
			ch.b.Leave(u.id, entry(u.key, [][]byte{c.meta.raw}, nil))
		}
	case last:
		// The user leaves: retract every ref a client may hold.
		if rec {
			ch.b.Leave(u.id, entry(u.key, u.stale, []*conn{c}))
		}
		u.stale = nil
	case c.announced || ch.gen > c.born:
		// Some client may hold this ref; keep it for the final leave.
		// Copied: c.meta.raw points into an entry we do not want to pin.
		u.stale = append(u.stale, bytes.Clone(c.meta.raw))
		if len(u.stale) > r.maxStale {
			// Compaction: leave with every held ref, then join with the
			// current metas, as two diffs. Both client algorithms end with
			// exactly the current metas; clients see the user leave and
			// come back.
			if rec {
				ch.b.Leave(u.id, entry(u.key, u.stale, u.conns))
				r.flush(ch, pub)
				ch.b.Join(u.id, u.entry)
			}
			u.stale = nil
			r.compactions.Add(1)
			for _, o := range u.conns {
				o.announced = true
			}
		}
	}
	if last {
		ch.removeUser(u)
	}
	if len(ch.conns) == 0 {
		// Publish before the channel is gone, so that a channel of the
		// same name created next publishes after this one.
		r.flush(ch, pub)
		ch.dead = true
		r.channels.CompareAndDelete(ch.name, ch)
		return nil
	}
	r.changed(ch, pub)
	return nil
}

// SetState changes connID's state in channel (typing, away, online, ...).
// ModeUser: the others get joins with the user's full current metas, no
// leaves; the meta keeps its phx_ref. ModeConnection: the meta gets a new
// phx_ref and phx_ref_prev, and the others get leave(old)+join(new) in one
// diff. Every call publishes, even when the state does not change. It returns
// ErrNotTracked when the connection is not tracked in the channel.
func (r *Registry) SetState(channelName, connID, state string, pub Publisher) error {
	if state == "" {
		return ErrBadState
	}
	stateJSON := AppendJSONString(nil, state)
	var newRefStr string
	if r.mode == ModeConnection {
		newRefStr = newRef(r.prefix)
	}
	ch := r.lockChannel(channelName, false)
	if ch == nil {
		return ErrNotTracked
	}
	defer ch.mu.Unlock()
	c := ch.conns[connID]
	if c == nil {
		return ErrNotTracked
	}
	u := c.u
	r.begin(ch, u.id, pub)
	old := c.meta
	m := Meta{Ref: old.Ref, State: state, Fields: old.Fields}
	if r.mode == ModeConnection {
		m.Ref, m.PrevRef = newRefStr, old.Ref
	}
	m.raw = appendMeta(nil, m.Ref, m.PrevRef, stateJSON, c.extra)
	c.meta = m

	rec := r.records(pub)
	if r.mode == ModeConnection {
		// The updated meta moves to the end, where Phoenix clients put it.
		i := slices.Index(u.conns, c)
		copy(u.conns[i:], u.conns[i+1:])
		u.conns[len(u.conns)-1] = c
		ch.rebuildEntry(u)
		if rec {
			ch.b.Join(u.id, entry(u.key, [][]byte{c.meta.raw}, nil))
			ch.b.Leave(u.id, entry(u.key, [][]byte{old.raw}, nil))
		}
	} else {
		ch.rebuildEntry(u)
		for _, o := range u.conns {
			o.announced = true
		}
		if rec {
			ch.b.Join(u.id, u.entry)
		}
	}
	r.changed(ch, pub)
	return nil
}

// removeUser drops u, which has no connections left, from ch.
func (ch *channel) removeUser(u *user) {
	delete(ch.users, u.id)
	lastU := ch.order[len(ch.order)-1]
	ch.order[u.idx] = lastU
	lastU.idx = u.idx
	ch.order[len(ch.order)-1] = nil
	ch.order = ch.order[:len(ch.order)-1]
	ch.entryBytes -= len(u.entry)
}

// List returns the channel's presences sorted by user id, metas in track
// order. It is empty for an unknown channel.
func (r *Registry) List(channelName string) []Presence {
	ch := r.lockChannel(channelName, false)
	if ch == nil {
		return nil
	}
	out := make([]Presence, 0, len(ch.order))
	metas := make([]Meta, 0, ch.nMetas) // one backing array for all users
	for _, u := range ch.order {
		start := len(metas)
		for _, c := range u.conns {
			metas = append(metas, c.meta)
		}
		out = append(out, Presence{UserID: u.id, Metas: metas[start:len(metas):len(metas)]})
	}
	ch.mu.Unlock()
	slices.SortFunc(out, func(a, b Presence) int { return strings.Compare(a.UserID, b.UserID) })
	return out
}

// Count returns the number of unique users present in the channel.
func (r *Registry) Count(channelName string) int {
	ch := r.lockChannel(channelName, false)
	if ch == nil {
		return 0
	}
	defer ch.mu.Unlock()
	return len(ch.users)
}

// Get returns userID's presence in the channel, or false if it has none.
func (r *Registry) Get(channelName, userID string) (Presence, bool) {
	ch := r.lockChannel(channelName, false)
	if ch == nil {
		return Presence{}, false
	}
	defer ch.mu.Unlock()
	u := ch.users[userID]
	if u == nil {
		return Presence{}, false
	}
	p := Presence{UserID: u.id, Metas: make([]Meta, len(u.conns))}
	for i, c := range u.conns {
		p.Metas[i] = c.meta
	}
	return p, true
}

// Channels returns the names of the channels that have presences, sorted.
func (r *Registry) Channels() []string {
	var names []string
	r.channels.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	slices.Sort(names)
	return names
}
