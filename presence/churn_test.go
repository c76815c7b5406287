package presence_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/presence/phoenixcheck"
)

// churnConfig sizes a model-based churn run: workers goroutines, each owning
// a disjoint set of connections (users × tabs), track, set_state and untrack
// them at random in a few channels; after each round the registry is checked
// against the model and every tracked connection's view against List.
type churnConfig struct {
	mode     presence.Mode
	maxStale int
	channels int
	users    int
	tabs     int
	workers  int
	ops      int // per worker per round
	rounds   int
	seed     uint64
	// batch > 0 publishes through Config.Deliver in batches of that
	// interval instead of through each call's Publisher.
	batch time.Duration
	// burst is Config.Burst when batching (0: the default).
	burst int
}

func (c churnConfig) name() string {
	n := fmt.Sprintf("mode=%s/max_stale=%d/batch=%s", c.mode, c.maxStale, c.batch)
	if c.burst > 0 {
		n += fmt.Sprintf("/burst=%d", c.burst)
	}
	return n
}

func churnConfigs() []churnConfig {
	base := churnConfig{channels: 3, users: 6, tabs: 4, workers: 6, ops: 300, rounds: 3, seed: 1}
	user, compact, conn := base, base, base
	user.mode = presence.ModeUser
	compact.mode, compact.maxStale, compact.seed = presence.ModeUser, 2, 2
	conn.mode, conn.seed = presence.ModeConnection, 3
	configs := []churnConfig{user, compact, conn}
	for _, c := range configs[:3] {
		c.batch, c.seed = 2*time.Millisecond, c.seed+10
		configs = append(configs, c)
		// A burst of one batches every change that follows a
		// publication within the interval.
		c.burst, c.seed = 1, c.seed+10
		configs = append(configs, c)
	}
	if testing.Short() {
		for i := range configs {
			configs[i].ops, configs[i].rounds = 150, 2
		}
	}
	return configs
}

// churnClient is what one connection received, in publish order, from its
// first presence_state on. It keeps receiving while tracked; a connection
// that untracks and tracks again keeps its log (and, in the client
// algorithms, its view), as a Phoenix client's Presence object does.
type churnClient struct {
	id     string
	member bool
	msgs   [][]byte
}

// churnChannel is the fake fan-out of one channel. mu is taken inside the
// Publisher (that is, under the registry's channel lock, which orders the
// appends) and, after an Untrack returns, to end the membership.
type churnChannel struct {
	name    string
	mu      sync.Mutex
	clients map[string]*churnClient
	merged  int // batches with several trackers
}

func (cc *churnChannel) publisher(t *testing.T, tracker string) presence.Publisher {
	return func(state, diff []byte, exclude string) {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if state != nil {
			if tracker == "" || exclude != tracker {
				t.Errorf("%s: state outside Track (tracker %q, exclude %q)", cc.name, tracker, exclude)
				return
			}
			cl := cc.clients[tracker]
			if cl == nil {
				cl = &churnClient{id: tracker}
				cc.clients[tracker] = cl
			}
			cl.member = true
			cl.msgs = append(cl.msgs, state)
		}
		if diff != nil {
			for _, cl := range cc.clients {
				if cl.member && cl.id != exclude {
					cl.msgs = append(cl.msgs, diff)
				}
			}
		}
	}
}

// deliver is the fake fan-out of a batching registry (Config.Deliver): the
// trackers get the state, then every member, trackers included, the diff.
func (cc *churnChannel) deliver(state []byte, trackers []string, diff []byte) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(trackers) > 1 {
		cc.merged++
	}
	for _, id := range trackers {
		cl := cc.clients[id]
		if cl == nil {
			cl = &churnClient{id: id}
			cc.clients[id] = cl
		}
		cl.member = true
		cl.msgs = append(cl.msgs, state)
	}
	if diff != nil {
		for _, cl := range cc.clients {
			if cl.member {
				cl.msgs = append(cl.msgs, diff)
			}
		}
	}
}

// churnRun is one run's registry, fake clients and model.
type churnRun struct {
	cfg   churnConfig
	r     *presence.Registry
	chans []*churnChannel
	// model[w] is worker w's view: channel index → conn id → state ("" when
	// not tracked). Each worker touches only its own map.
	model []map[int]map[string]string

	// Used by check only, between rounds. Clients share diff slices, so
	// each message is decoded once; views are updated incrementally.
	decoded map[*byte]*decodedMsg
	views   map[*churnClient]*clientView
}

// clientView is one connection's view rebuilt by both client algorithms.
type clientView struct {
	applied int
	seed    seedClient
	phx     phxState
}

func connUser(id string) string {
	var u, tab int
	fmt.Sscanf(id, "u%d-t%d", &u, &tab)
	return fmt.Sprintf("u%d", u)
}

func newChurn(cfg churnConfig) *churnRun {
	run := &churnRun{
		cfg:     cfg,
		decoded: make(map[*byte]*decodedMsg),
		views:   make(map[*churnClient]*clientView),
	}
	byName := map[string]*churnChannel{}
	for i := 0; i < cfg.channels; i++ {
		cc := &churnChannel{name: fmt.Sprintf("room:%d", i), clients: map[string]*churnClient{}}
		run.chans = append(run.chans, cc)
		byName[cc.name] = cc
	}
	pc := presence.Config{Mode: cfg.mode, MaxStaleRefs: cfg.maxStale}
	if cfg.batch > 0 {
		pc.Interval, pc.Burst = cfg.batch, cfg.burst
		pc.Deliver = func(channel string, state []byte, trackers []string, diff []byte) {
			byName[channel].deliver(state, trackers, diff)
		}
	}
	run.r = presence.New(pc)
	for w := 0; w < cfg.workers; w++ {
		m := make(map[int]map[string]string)
		for i := range run.chans {
			m[i] = make(map[string]string)
		}
		run.model = append(run.model, m)
	}
	return run
}

var churnStates = []string{"online", "typing", "away"}

// round runs every worker for cfg.ops operations and waits for them.
func (run *churnRun) round(t *testing.T, round int) {
	cfg := run.cfg
	var conns []string
	for u := 0; u < cfg.users; u++ {
		for tab := 0; tab < cfg.tabs; tab++ {
			conns = append(conns, fmt.Sprintf("u%d-t%d", u, tab))
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < cfg.workers; w++ {
		var mine []string
		for i, id := range conns {
			if i%cfg.workers == w {
				mine = append(mine, id)
			}
		}
		model := run.model[w]
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(round*1000+w)))
		wg.Go(func() {
			for op := 0; op < cfg.ops; op++ {
				id := mine[rng.IntN(len(mine))]
				ci := rng.IntN(len(run.chans))
				cc := run.chans[ci]
				cur := model[ci][id]
				x := rng.Float64()
				switch {
				case cur == "":
					if x < 0.05 {
						if err := run.r.Untrack(cc.name, id, cc.publisher(t, "")); err != presence.ErrNotTracked {
							t.Errorf("untrack of untracked %s: %v", id, err)
						}
						continue
					}
					state, meta := "online", map[string]any{"conn": id, "name": "User " + connUser(id)}
					if x < 0.3 {
						state = churnStates[rng.IntN(len(churnStates))]
						meta["state"] = state
					}
					if err := run.r.Track(cc.name, id, connUser(id), meta, cc.publisher(t, id)); err != nil {
						t.Errorf("track %s: %v", id, err)
						return
					}
					model[ci][id] = state
				case x < 0.45:
					state := churnStates[rng.IntN(len(churnStates))]
					if err := run.r.SetState(cc.name, id, state, cc.publisher(t, "")); err != nil {
						t.Errorf("set_state %s: %v", id, err)
						return
					}
					model[ci][id] = state
				case x < 0.95:
					if !run.untrack(t, model, ci, id) {
						return
					}
				default:
					if err := run.r.Track(cc.name, id, connUser(id), nil, cc.publisher(t, id)); err != presence.ErrAlreadyTracked {
						t.Errorf("re-track %s: %v", id, err)
					}
				}
			}
			// A third of the users leave for good at the end of the round,
			// so the check sees users that left as well as users that
			// stayed (a ghost only shows once its user is gone).
			for _, id := range mine {
				var u int
				fmt.Sscanf(id, "u%d-", &u)
				if (u+round)%3 != 0 {
					continue
				}
				for ci := range run.chans {
					if model[ci][id] != "" && !run.untrack(t, model, ci, id) {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	// A batching registry may hold the last changes for an interval.
	run.r.Flush()
}

// untrack untracks id from channel ci and records it in the worker's model.
func (run *churnRun) untrack(t *testing.T, model map[int]map[string]string, ci int, id string) bool {
	cc := run.chans[ci]
	if err := run.r.Untrack(cc.name, id, cc.publisher(t, "")); err != nil {
		t.Errorf("untrack %s: %v", id, err)
		return false
	}
	model[ci][id] = ""
	cc.mu.Lock()
	if cl := cc.clients[id]; cl != nil { // nil: untracked before its batch went out
		cl.member = false
	}
	cc.mu.Unlock()
	return true
}

// expected returns the model's presences of channel ci as "conn:state"
// labels per user.
func (run *churnRun) expected(ci int) P {
	want := P{}
	for _, m := range run.model {
		for id, state := range m[ci] {
			if state != "" {
				want[connUser(id)] = append(want[connUser(id)], id+":"+state)
			}
		}
	}
	for _, v := range want {
		slices.Sort(v)
	}
	return want
}

// check compares, for every channel, the registry with the model and every
// tracked connection's rebuilt view with List.
func (run *churnRun) check(t *testing.T) {
	t.Helper()
	for ci, cc := range run.chans {
		want := run.expected(ci)
		list := listWire(t, run.r, cc.name)
		if got := summarize(list); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: List %v, model %v", cc.name, got, want)
		}
		if n := run.r.Count(cc.name); n != len(want) {
			t.Fatalf("%s: Count %d, want %d", cc.name, n, len(want))
		}
		users := slices.Sorted(maps.Keys(list))
		checked := 0
		for _, cl := range cc.clients {
			tracked := run.model[modelOwner(run, cl.id)][ci][cl.id] != ""
			if cl.member != tracked {
				t.Fatalf("%s: client %s member=%v, model tracked=%v", cc.name, cl.id, cl.member, tracked)
			}
			if !cl.member {
				continue
			}
			checked++
			v := run.views[cl]
			if v == nil {
				v = &clientView{seed: seedClient{}, phx: phxState{}}
				run.views[cl] = v
			}
			for i, msg := range cl.msgs[v.applied:] {
				m := run.decoded[&msg[0]]
				if m == nil {
					var err error
					if m, err = decodeMsg(msg); err != nil {
						t.Fatalf("%s: client %s message %d %s: %v", cc.name, cl.id, v.applied+i, msg, err)
					}
					run.decoded[&msg[0]] = m
				}
				v.phx = phxApply(v.phx, m)
				v.seed.apply(m)
			}
			v.applied = len(cl.msgs)
			seed, phx := v.seed, v.phx
			// The seed's algorithm deletes a user on any leave, so it only
			// fits ModeUser; ModeConnection is for Phoenix clients.
			if run.cfg.mode == presence.ModeUser {
				if got := slices.Sorted(maps.Keys(seed)); !slices.Equal(got, users) {
					t.Errorf("%s: seed client %s sees %v, List %v\nlast messages: %s", cc.name, cl.id, got, users, tail(cl.msgs))
				}
			}
			if got := slices.Sorted(maps.Keys(phx)); !slices.Equal(got, users) {
				t.Errorf("%s: phoenix client %s sees %v, List %v\nlast messages: %s", cc.name, cl.id, got, users, tail(cl.msgs))
			}
			if run.cfg.mode == presence.ModeConnection {
				for _, u := range users {
					if g, w := sortedMetas(phx[u]), sortedMetas(list[u].Metas); !reflect.DeepEqual(g, w) {
						t.Errorf("%s: phoenix client %s metas of %s:\n got %v\nwant %v", cc.name, cl.id, u, g, w)
					}
				}
			}
		}
		if checked == 0 && len(want) > 0 {
			t.Fatalf("%s: no tracked client to check", cc.name)
		}
	}
}

func modelOwner(run *churnRun, id string) int {
	for w, m := range run.model {
		for _, conns := range m {
			if _, ok := conns[id]; ok {
				return w
			}
		}
	}
	return 0
}

func tail(msgs [][]byte) string {
	if len(msgs) > 4 {
		msgs = msgs[len(msgs)-4:]
	}
	var s string
	for _, m := range msgs {
		s += "\n  " + string(m)
	}
	return s
}

// TestChurn is the model-based concurrency test. Every tracked connection's
// view is rebuilt after each round with the Go ports of the seed's client
// code and of phoenix.js Presence, and at the end with the real phoenix npm
// package (subtest phoenix_npm, skipped when node or node_modules is
// missing).
func TestChurn(t *testing.T) {
	for _, cfg := range churnConfigs() {
		t.Run(cfg.name(), func(t *testing.T) {
			t.Parallel()
			run := newChurn(cfg)
			for round := 0; round < cfg.rounds; round++ {
				run.round(t, round)
				if t.Failed() {
					return
				}
				run.check(t)
			}
			if cfg.maxStale > 0 && run.r.Compactions() == 0 {
				t.Errorf("no compaction happened with MaxStaleRefs %d", cfg.maxStale)
			}
			t.Logf("compactions: %d", run.r.Compactions())
			if cfg.batch > 0 {
				merged := 0
				for _, cc := range run.chans {
					merged += cc.merged
				}
				if merged == 0 {
					t.Errorf("no batch carried several tracks")
				}
				t.Logf("batches with several tracks: %d", merged)
			}
			// The same views through the real phoenix npm package.
			t.Run("phoenix_npm", func(t *testing.T) {
				phoenixcheck.Run(t, run.writeCheckFiles(t)...)
			})
			run.drain(t)
		})
	}
}

// drain untracks every connection and checks that no channel is left.
func (run *churnRun) drain(t *testing.T) {
	t.Helper()
	for ci, cc := range run.chans {
		for _, m := range run.model {
			for id, state := range m[ci] {
				if state != "" {
					if err := run.r.Untrack(cc.name, id, nil); err != nil {
						t.Fatalf("drain %s %s: %v", cc.name, id, err)
					}
					m[ci][id] = ""
				}
			}
		}
	}
	if chans := run.r.Channels(); len(chans) != 0 {
		t.Fatalf("channels left after draining: %v", chans)
	}
}

// writeCheckFiles writes one check.js input per channel with the messages
// every tracked connection received. The first client of each file has its
// messages as JSON strings, the others as objects (check.js takes both).
// The file is assembled by hand: encoding/json would re-validate megabytes
// of messages.
func (run *churnRun) writeCheckFiles(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, cc := range run.chans {
		var b bytes.Buffer
		mustJSON := func(v any) {
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(enc)
		}
		b.WriteString(`{"mode":`)
		mustJSON(run.cfg.mode.String())
		b.WriteString(`,"expected":`)
		mustJSON(run.r.List(cc.name))
		b.WriteString(`,"clients":[`)
		n := 0
		for _, id := range slices.Sorted(maps.Keys(cc.clients)) {
			cl := cc.clients[id]
			if !cl.member {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"id":`)
			mustJSON(id)
			b.WriteString(`,"messages":[`)
			for i, m := range cl.msgs {
				if i > 0 {
					b.WriteByte(',')
				}
				if n == 0 {
					mustJSON(string(m))
				} else {
					b.Write(m)
				}
			}
			b.WriteString(`]}`)
			n++
		}
		b.WriteString(`]}`)
		name := filepath.Join(dir, cc.name[len("room:"):]+".json")
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	return files
}
