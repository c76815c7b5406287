//go:build linux

package scenario

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/ripple-rt/ripple/bench/fleet"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/loadgen"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// Storm defaults (Spec zero values).
const (
	stormRoomSize = 10000
	stormBurst    = 1000
	stormMsgRate  = 100 // bystander echoes (and pings) per second
	// stormQuiet is how long no presence message may arrive before a phase
	// counts as settled: several batch intervals of the server.
	stormQuiet = 300 * time.Millisecond
	// stormCacheBytes bounds a loop's cache of parsed presence messages.
	stormCacheBytes = 64 << 20
)

// stormRoom is the run's room id: fresh per run, so presences left by an
// earlier run against the same server do not count.
func stormRoom(spec *Spec) string { return "storm" + strconv.FormatInt(spec.Epoch, 36) }

// stormUser is the user id of global user index i: fill members are
// 0 … RoomSize-1, burst members RoomSize … RoomSize+Burst-1.
func stormUser(i int) string { return "u" + strconv.Itoa(i) }

// stormPath is the presence route of user i in room.
func stormPath(room string, i int) string {
	u := stormUser(i)
	return "/ws/presence/" + room + "?user_id=" + u + "&name=" + u
}

// stormIndices returns the global indices out of n that loop idx of the
// worker owns: index k belongs to worker k%Workers, loop (k/Workers)%Loops.
func stormIndices(spec *Spec, idx, n int) []int {
	var out []int
	step := spec.Workers * spec.Loops
	for k := spec.Worker + spec.Workers*idx; k < n; k += step {
		out = append(out, k)
	}
	return out
}

// stormMember is one connection of the room and its view of the presence
// list: a bitset over the run's user indices (user mode: presence_state
// replaces the view, joins add, leaves delete).
type stormMember struct {
	conn      *loadgen.Conn
	user      int
	burst     bool     // joined in the burst
	view      []uint64 // nil until the first presence message
	hasState  bool     // got its presence_state
	count     int32    // users in view
	burstHave int32    // burst users in view
	seq       uint64   // hash of the presence messages since the burst start (fill members)
	diffs     int64    // diffs received since the burst start
	closed    bool
}

func (m *stormMember) full(target int32) bool { return m.hasState && m.count == target }

func (m *stormMember) set(u int32, fill int32) {
	w, b := u>>6, uint64(1)<<(u&63)
	if m.view[w]&b == 0 {
		m.view[w] |= b
		m.count++
		if u >= fill {
			m.burstHave++
		}
	}
}

func (m *stormMember) unset(u int32, fill int32) {
	w, b := u>>6, uint64(1)<<(u&63)
	if m.view[w]&b != 0 {
		m.view[w] &^= b
		m.count--
		if u >= fill {
			m.burstHave--
		}
	}
}

// stormMsg is a parsed presence message. Every member of the room gets the
// same bytes, so a loop parses each distinct message once.
type stormMsg struct {
	kind    stormKind
	bits    []uint64 // state: the users
	count   int32    // state: users
	burst   int32    // state: burst users
	joins   []int32  // diff
	leaves  []int32  // diff
	foreign int64    // user ids that are not the run's
	hash    uint64   // FNV-64a of the message bytes
}

type stormKind uint8

const (
	stormOther stormKind = iota
	stormState
	stormDiff
	stormError
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mixHash feeds the 8 bytes of v into the FNV-64a state h.
func mixHash(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// stormDriver: fills one presence room with its share of RoomSize members
// (connect step), then dials its share of Burst members at once (run step).
// Every member applies every presence message to its view; fill members hash
// the messages they get from the burst start on.
type stormDriver struct {
	base

	// Immutable after construction.
	room  string
	fill  int32 // fill members, room-wide
	total int32 // fill + burst users, room-wide
	words int
	nFill int // local fill members: members[:nFill]

	// Owned by the event loop; no locks.
	members    []stormMember
	burstPhase bool
	// hashing: fill members chain the presence messages they get (their
	// seq) from the end of the fill on, not from this loop's burst start:
	// the loops start the burst at slightly different times, and a joiner
	// dialed by another loop may reach a member first. The quiet baseline
	// between fill and burst carries no presence message.
	hashing     bool
	target      int32 // the view size every member must reach in this phase
	fullFill    int   // fill members with a full view
	fullBurst   int   // burst members with a full view
	burstStates int   // burst members with their presence_state
	fillDialed  bool
	burstDialed bool
	fillDone    func()
	deadline    int64 // loop clock: give up the fill
	lastMsg     int64 // loop clock of the last presence message
	bytes0      int64
	cache       map[string]*stormMsg
	cacheBytes  int
	stateSize   hist.Histogram
	ss          StormStats
}

func newStormDriver(spec *Spec, idx int) *stormDriver {
	d := &stormDriver{base: newBase(spec, idx), room: stormRoom(spec), fill: int32(spec.RoomSize),
		total: int32(spec.RoomSize + spec.Burst), cache: map[string]*stormMsg{}, ss: newStormStats()}
	d.words = (int(d.total) + 63) / 64
	d.target = d.fill
	for _, k := range stormIndices(spec, idx, spec.RoomSize) {
		d.members = append(d.members, stormMember{user: k, seq: fnvOffset})
	}
	d.nFill = len(d.members)
	for _, k := range stormIndices(spec, idx, spec.Burst) {
		d.members = append(d.members, stormMember{user: spec.RoomSize + k, burst: true})
	}
	d.ss.Members, d.ss.Burst = int64(d.nFill), int64(len(d.members)-d.nFill)
	return d
}

func (d *stormDriver) path(tag int) string { return stormPath(d.room, d.members[tag].user) }

// fillBound mirrors the worker's connect-step timeout (worker.connect) less
// a margin, so that a fill too slow for it ends with a report instead of a
// timeout.
func (d *stormDriver) fillBound(target int) time.Duration {
	t := 2*time.Duration(d.spec.HandshakeTimeout) + time.Minute
	if d.spec.Rate > 0 {
		t += time.Duration(2 * float64(target) / d.spec.Rate * float64(time.Second))
	} else {
		t += time.Duration(fleet.Share(target, d.spec.Workers, d.spec.Worker)) * time.Millisecond
	}
	return t - 10*time.Second
}

func (d *stormDriver) connect(target int, done func()) {
	d.fillDone = done
	now := d.l.Now()
	d.deadline = now + int64(d.fillBound(target))
	d.lastMsg = now
	d.ss.FillStart = d.wall()
	d.bytes0 = d.l.Stats.BytesIn.Load()
	d.l.SetTick(5 * time.Millisecond)
	if d.nFill == 0 {
		d.ss.FillViews = d.wall()
	}
	d.dialTo(d.nFill, d.path, func() {
		d.fillDialed = true
		d.ss.FillDialed = d.wall()
		d.check(d.l.Now())
	})
}

func (d *stormDriver) startRun() {
	d.beginRun()
	d.burstPhase = true
	d.target = d.total
	d.fullFill = 0
	for i := range d.members[:d.nFill] {
		if d.members[i].full(d.target) {
			d.fullFill++
		}
	}
	now := d.l.Now()
	d.lastMsg = now
	d.ss.BurstStart = d.wall()
	d.bytes0 = d.l.Stats.BytesIn.Load()
	if d.fullFill == d.nFill {
		d.ss.BurstViews = d.ss.BurstStart
	}
	if len(d.members) == d.nFill {
		d.ss.BurstStates, d.ss.BurstJoinViews = d.ss.BurstStart, d.ss.BurstStart
	}
	d.l.SetTick(5 * time.Millisecond)
	d.l.SetDialRate(0)
	d.dialTo(len(d.members), d.path, func() { d.burstDialed = true; d.check(d.l.Now()) })
}

func (d *stormDriver) stopRun(drained func()) {
	d.endRun()
	d.drained = drained
	d.check(d.l.Now())
}

func (d *stormDriver) OnTick(now int64) { d.check(now) }

// check ends the fill (connect step) or the burst (drain) once every view
// is complete and no presence message arrived for stormQuiet.
func (d *stormDriver) check(now int64) {
	quiet := now-d.lastMsg >= int64(stormQuiet)
	if d.fillDone != nil {
		complete := d.fillDialed && d.fullFill == d.nFill
		if (complete && quiet) || now > d.deadline {
			if !complete {
				d.ss.FillIncomplete++
			}
			d.ss.FillBytes = d.l.Stats.BytesIn.Load() - d.bytes0
			d.l.SetTick(10 * time.Millisecond)
			d.hashing = true
			f := d.fillDone
			d.fillDone = nil
			f()
		}
		return
	}
	if d.running || d.drained == nil {
		return
	}
	if d.burstDialed && d.fullFill == d.nFill && d.fullBurst == len(d.members)-d.nFill &&
		d.burstStates == len(d.members)-d.nFill && quiet {
		d.ss.BurstSettled = d.wall()
		d.ss.BurstBytes = d.l.Stats.BytesIn.Load() - d.bytes0
		d.l.SetTick(10 * time.Millisecond)
		d.finishDrain()
	}
}

func (d *stormDriver) OnOpen(c *loadgen.Conn) {
	if c.Tag < 0 || c.Tag >= len(d.members) || !d.opened(c) {
		c.Abort()
		return
	}
	d.members[c.Tag].conn = c
	if d.burstPhase {
		d.join.Record(d.l.Now() - c.DialStart())
	}
}

func (d *stormDriver) OnClose(c *loadgen.Conn, err error) {
	d.closed(c, err)
	if c.Tag >= 0 && c.Tag < len(d.members) && d.members[c.Tag].conn == c {
		d.members[c.Tag].closed = true
	}
}

// parse returns the parsed form of presence message p, from the cache when
// another member already got the same bytes.
func (d *stormDriver) parse(p []byte) (*stormMsg, bool) {
	if e, ok := d.cache[string(p)]; ok {
		return e, true
	}
	e, ok := parseStormMsg(p, d.fill, d.total, d.words)
	if !ok {
		return nil, false
	}
	h := fnv.New64a()
	_, _ = h.Write(p)
	e.hash = h.Sum64()
	if d.cacheBytes+len(p) > stormCacheBytes {
		clear(d.cache)
		d.cacheBytes = 0
	}
	d.cache[string(p)] = e
	d.cacheBytes += len(p)
	return e, true
}

func (d *stormDriver) OnMessage(c *loadgen.Conn, _ wsproto.Opcode, p []byte) {
	if c.Tag < 0 || c.Tag >= len(d.members) || d.members[c.Tag].conn != c {
		return
	}
	m := &d.members[c.Tag]
	e, ok := d.parse(p)
	switch {
	case !ok || e.kind == stormOther:
		d.st.Invalid++
		return
	case e.kind == stormError:
		d.st.Errors++
		return
	}
	d.lastMsg = d.l.Now()
	d.ss.Foreign += e.foreign
	if d.hashing && !m.burst {
		m.seq = mixHash(m.seq, e.hash)
	}
	was := m.full(d.target)
	switch e.kind {
	case stormState:
		d.ss.States++
		if m.hasState {
			d.ss.UnexpectedStates++
		} else {
			m.hasState = true
			if m.view == nil {
				m.view = make([]uint64, d.words)
			}
			if m.burst {
				d.stateSize.Record(int64(len(p)))
				d.burstStates++
				if d.burstStates == len(d.members)-d.nFill {
					d.ss.BurstStates = d.wall()
				}
			} else if !d.burstPhase {
				d.ss.FillStateMax = max(d.ss.FillStateMax, int64(len(p)))
			}
		}
		copy(m.view, e.bits)
		m.count, m.burstHave = e.count, e.burst
	case stormDiff:
		d.ss.Diffs++
		d.delivered.Add(1)
		if d.running {
			d.win++
		}
		// Counted over the window the sequence hash covers: another
		// loop's joiner may reach a member before this loop's burst
		// starts.
		if d.hashing && !m.burst {
			m.diffs++
		}
		if m.view == nil {
			// A diff before the state (the connection joined the room
			// before its own batch went out): apply it to an empty view;
			// the state replaces it.
			m.view = make([]uint64, d.words)
		}
		for _, u := range e.joins {
			m.set(u, d.fill)
		}
		for _, u := range e.leaves {
			m.unset(u, d.fill)
		}
	}
	if is := m.full(d.target); is != was {
		d.fullChanged(m, is)
	}
}

// fullChanged keeps the full-view counters and stamps the moment each
// group became complete.
func (d *stormDriver) fullChanged(m *stormMember, full bool) {
	delta := -1
	if full {
		delta = 1
	}
	if m.burst {
		d.fullBurst += delta
		if full && d.fullBurst == len(d.members)-d.nFill {
			d.ss.BurstJoinViews = d.wall()
		}
		return
	}
	d.fullFill += delta
	if full && d.fullFill == d.nFill {
		if d.burstPhase {
			d.ss.BurstViews = d.wall()
		} else {
			d.ss.FillViews = d.wall()
		}
	}
}

func (d *stormDriver) stats() *WorkerStats {
	st := d.baseStats()
	ss := d.ss
	ss.StateSize = d.stateSize.Snapshot()
	if d.burstPhase {
		ss.Sequences = map[string]int64{}
		for i := range d.members[:d.nFill] {
			m := &d.members[i]
			ss.Sequences[fmt.Sprintf("%016x", m.seq)]++
			ss.BurstDiffsTotal += m.diffs
			if ss.BurstDiffsMin < 0 || m.diffs < ss.BurstDiffsMin {
				ss.BurstDiffsMin = m.diffs
			}
			ss.BurstDiffsMax = max(ss.BurstDiffsMax, m.diffs)
		}
		if ss.BurstSettled == 0 {
			ss.BurstIncomplete++
		}
	}
	for i := range d.members {
		m := &d.members[i]
		if m.burst && !d.burstPhase {
			continue
		}
		if m.closed {
			ss.Closed++
		}
		if !m.full(d.target) {
			ss.BadViews++
			ss.Absent += int64(d.target - m.count)
		}
	}
	st.Absent = ss.Absent
	st.Ghosts = ss.Foreign
	st.Storm = &ss
	return st
}

// parseStormMsg parses a presence_state or presence_diff whose user ids are
// u<index> with index < total (others count as foreign). It reports false
// for bytes that are not a JSON object.
func parseStormMsg(p []byte, fill, total int32, words int) (*stormMsg, bool) {
	var event, payload []byte
	var typ []byte
	end := jsonObject(p, 0, func(key, val []byte) bool {
		switch string(key) {
		case "event":
			event = jsonStringBody(val)
		case "payload":
			payload = val
		case "type":
			typ = jsonStringBody(val)
		}
		return true
	})
	if end < 0 || skipSpace(p, end) != len(p) {
		return nil, false
	}
	e := &stormMsg{}
	user := func(key []byte) int32 {
		u := parseStormUser(key, total)
		if u < 0 {
			e.foreign++
		}
		return u
	}
	switch string(event) {
	case "presence_state":
		e.kind = stormState
		e.bits = make([]uint64, words)
		if jsonObject(payload, 0, func(key, _ []byte) bool {
			if u := user(key); u >= 0 && e.bits[u>>6]&(1<<(u&63)) == 0 {
				e.bits[u>>6] |= 1 << (u & 63)
				e.count++
				if u >= fill {
					e.burst++
				}
			}
			return true
		}) < 0 {
			return nil, false
		}
	case "presence_diff":
		e.kind = stormDiff
		ok := true
		if jsonObject(payload, 0, func(key, val []byte) bool {
			var dst *[]int32
			switch string(key) {
			case "joins":
				dst = &e.joins
			case "leaves":
				dst = &e.leaves
			default:
				return true
			}
			if jsonObject(val, 0, func(k, _ []byte) bool {
				if u := user(k); u >= 0 {
					*dst = append(*dst, u)
				}
				return true
			}) < 0 {
				ok = false
			}
			return ok
		}) < 0 || !ok {
			return nil, false
		}
	default:
		if event == nil && string(typ) == "error" {
			e.kind = stormError
		}
	}
	return e, true
}

// parseStormUser returns i for "u<i>" with 0 <= i < total, else -1.
func parseStormUser(key []byte, total int32) int32 {
	if len(key) < 2 || len(key) > 11 || key[0] != 'u' || (key[1] == '0' && len(key) > 2) {
		return -1
	}
	var n int64
	for _, c := range key[1:] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	if n >= int64(total) {
		return -1
	}
	return int32(n)
}
