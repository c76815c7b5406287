//go:build linux

package scenario

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/bench/hist"
)

func TestJSONObject(t *testing.T) {
	cases := []struct {
		in   string
		keys []string // nil: malformed
	}{
		{`{}`, []string{}},
		{` { "a" : 1 , "b":"x}\"{" ,"c":{"d":[1,{"e":"]"}]},"f":true,"g":null} `, []string{"a", "b", "c", "f", "g"}},
		{`{"u1":{"metas":[{"phx_ref":"F1","name":"u\"1","state":"online"}]}}`, []string{"u1"}},
		{`{"a\\":1}`, []string{`a\\`}},
		{`{"a":1,}`, nil},
		{`{"a" 1}`, nil},
		{`{"a":{"b":1]}`, nil},
		{`{"a":[1}`, nil},
		{`{"a":"x}`, nil},
		{`{"a":}`, nil},
		{`{a:1}`, nil},
		{`[1]`, nil},
		{``, nil},
		{`{"a":1`, nil},
	}
	for _, tc := range cases {
		var got []string
		end := jsonObject([]byte(tc.in), 0, func(k, _ []byte) bool {
			got = append(got, string(k))
			return true
		})
		if tc.keys == nil {
			if end >= 0 {
				t.Errorf("%q: accepted (keys %v)", tc.in, got)
			}
			continue
		}
		if end < 0 || skipSpace([]byte(tc.in), end) != len(tc.in) {
			t.Errorf("%q: end %d", tc.in, end)
		}
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, tc.keys) {
			t.Errorf("%q: keys %v, want %v", tc.in, got, tc.keys)
		}
	}
}

func TestJSONObjectAgreesWithEncodingJSON(t *testing.T) {
	state := map[string]any{}
	for i := 0; i < 50; i++ {
		state[stormUser(i)] = map[string]any{"metas": []any{map[string]any{"phx_ref": "F" + strings.Repeat("x", i), "name": `n"{[` + stormUser(i), "state": "online", "n": i}}}
	}
	b, err := json.Marshal(map[string]any{"event": "presence_state", "payload": state})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := parseStormMsg(b, 40, 60, 1)
	if !ok || e.kind != stormState || e.count != 50 || e.burst != 10 || e.foreign != 0 {
		t.Fatalf("parse: ok %v %+v", ok, e)
	}
}

func TestParseStormMsg(t *testing.T) {
	const fill, total = 3, 5
	cases := []struct {
		name    string
		in      string
		ok      bool
		kind    stormKind
		users   []int32 // state: set bits; diff: joins
		leaves  []int32
		foreign int64
	}{
		{"state", `{"event":"presence_state","payload":{"u0":{"metas":[]},"u4":{"metas":[{"phx_ref":"x"}]}}}`, true, stormState, []int32{0, 4}, nil, 0},
		{"payload first", `{"payload":{"u1":{}},"event":"presence_state"}`, true, stormState, []int32{1}, nil, 0},
		{"diff", `{"event":"presence_diff","payload":{"joins":{"u3":{"metas":[]}},"leaves":{"u1":{},"u2":{}}}}`, true, stormDiff, []int32{3}, []int32{1, 2}, 0},
		{"foreign users", `{"event":"presence_diff","payload":{"joins":{"u5":{},"probe":{},"u01":{},"":{}},"leaves":{}}}`, true, stormDiff, nil, nil, 4},
		{"error", `{"type":"error","error":"nope"}`, true, stormError, nil, nil, 0},
		{"other", `{"type":"room","s":1}`, true, stormOther, nil, nil, 0},
		{"truncated", `{"event":"presence_state","payload":{"u0":{}}`, false, 0, nil, nil, 0},
		{"trailing", `{"event":"presence_state","payload":{}} x`, false, 0, nil, nil, 0},
		{"bad payload", `{"event":"presence_diff","payload":{"joins":[1]}}`, false, 0, nil, nil, 0},
	}
	for _, tc := range cases {
		t.Run("case="+tc.name, func(t *testing.T) {
			e, ok := parseStormMsg([]byte(tc.in), fill, total, 1)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if e.kind != tc.kind || e.foreign != tc.foreign {
				t.Fatalf("kind %d foreign %d, want %d %d", e.kind, e.foreign, tc.kind, tc.foreign)
			}
			switch e.kind {
			case stormState:
				var got []int32
				for u := int32(0); u < total; u++ {
					if e.bits[0]&(1<<u) != 0 {
						got = append(got, u)
					}
				}
				burst := int32(0)
				for _, u := range tc.users {
					if u >= fill {
						burst++
					}
				}
				if !slices.Equal(got, tc.users) || e.count != int32(len(tc.users)) || e.burst != burst {
					t.Errorf("state users %v count %d burst %d, want %v", got, e.count, e.burst, tc.users)
				}
			case stormDiff:
				slices.Sort(e.leaves)
				if !slices.Equal(e.joins, tc.users) || !slices.Equal(e.leaves, tc.leaves) {
					t.Errorf("joins %v leaves %v, want %v %v", e.joins, e.leaves, tc.users, tc.leaves)
				}
			}
		})
	}
}

func TestStormIndicesPartition(t *testing.T) {
	for _, tc := range []struct{ n, workers, loops int }{{10, 1, 1}, {10000, 1, 2}, {7, 3, 2}, {2, 2, 3}, {1000, 4, 3}} {
		seen := make([]int, tc.n)
		for w := 0; w < tc.workers; w++ {
			for l := 0; l < tc.loops; l++ {
				spec := &Spec{Worker: w, Workers: tc.workers, Loops: tc.loops}
				idx := stormIndices(spec, l, tc.n)
				for _, k := range idx {
					seen[k]++
				}
				if len(idx) < tc.n/(tc.workers*tc.loops) || len(idx) > tc.n/(tc.workers*tc.loops)+1 {
					t.Errorf("%+v worker %d loop %d: %d indices", tc, w, l, len(idx))
				}
			}
		}
		for k, c := range seen {
			if c != 1 {
				t.Fatalf("%+v: index %d owned %d times", tc, k, c)
			}
		}
	}
}

func TestStormMemberView(t *testing.T) {
	m := stormMember{view: make([]uint64, 2), hasState: true}
	for _, u := range []int32{0, 63, 64, 70, 70} {
		m.set(u, 64)
	}
	m.unset(63, 64)
	m.unset(99, 64)
	if m.count != 3 || m.burstHave != 2 || !m.full(3) || m.full(4) {
		t.Fatalf("count %d burst %d", m.count, m.burstHave)
	}
	if mixHash(fnvOffset, 1) == mixHash(fnvOffset, 2) || mixHash(mixHash(fnvOffset, 1), 2) == mixHash(mixHash(fnvOffset, 2), 1) {
		t.Fatal("mixHash ignores its input or its order")
	}
}

func TestStormStatsMerge(t *testing.T) {
	a := &StormStats{Members: 2, FillStart: 10, FillViews: 50, BurstStart: 100, BurstViews: 200, BurstDiffsMin: 3, BurstDiffsMax: 3,
		Sequences: map[string]int64{"aa": 2}, Diffs: 5}
	b := &StormStats{Members: 3, FillStart: 5, FillViews: 40, BurstStart: 101, BurstViews: 300, BurstDiffsMin: -1,
		Sequences: map[string]int64{"aa": 1, "bb": 2}, Diffs: 7, BurstIncomplete: 1}
	var s *StormStats
	s = s.merge(a).merge(b).merge(nil)
	if s.Members != 5 || s.FillStart != 5 || s.FillViews != 50 || s.BurstStart != 100 || s.BurstViews != 300 ||
		s.BurstDiffsMin != 3 || s.BurstDiffsMax != 3 || s.Diffs != 12 || s.BurstIncomplete != 1 ||
		s.Sequences["aa"] != 3 || s.Sequences["bb"] != 2 {
		t.Fatalf("merged %+v", s)
	}
	if a.Sequences["bb"] != 0 {
		t.Fatal("merge changed its input")
	}
}

func TestEvaluateStorm(t *testing.T) {
	all := func(n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			m[stormUser(i)] = 1
		}
		return m
	}
	good := func() *StormStats {
		return &StormStats{Members: 4, Burst: 2, FillStart: 1, FillViews: 2, BurstStart: 10, BurstStates: 20, BurstViews: 30,
			BurstJoinViews: 30, BurstSettled: 40, BurstDiffsMin: 2, BurstDiffsMax: 2, Sequences: map[string]int64{"x": 4}}
	}
	cases := []struct {
		name   string
		mod    func(ss *StormStats, listed map[string]int)
		burst  bool
		listOK bool
		fail   string // substring of a failure; "" means OK
		by     bystanderReport
	}{
		{"ok", func(*StormStats, map[string]int) {}, true, true, "", bystanderReport{}},
		{"two sequences", func(ss *StormStats, _ map[string]int) { ss.Sequences = map[string]int64{"x": 3, "y": 1} }, true, true, "order", bystanderReport{}},
		{"fill incomplete", func(ss *StormStats, _ map[string]int) { ss.FillIncomplete = 1 }, false, true, "fill incomplete", bystanderReport{}},
		{"burst incomplete", func(ss *StormStats, _ map[string]int) { ss.BurstIncomplete, ss.BadViews = 1, 2 }, true, true, "burst incomplete", bystanderReport{}},
		{"bad views", func(ss *StormStats, _ map[string]int) { ss.BadViews, ss.Absent = 1, 1 }, true, true, "final views", bystanderReport{}},
		{"list missing", func(_ *StormStats, l map[string]int) { delete(l, "u5") }, true, true, "1 missing", bystanderReport{}},
		{"list foreign", func(_ *StormStats, l map[string]int) { l["zz"] = 1 }, true, true, "1 not of the room", bystanderReport{}},
		{"list two metas", func(_ *StormStats, l map[string]int) { l["u0"] = 2 }, true, true, "2 metas", bystanderReport{}},
		{"list error", func(*StormStats, map[string]int) {}, true, false, "list_presence", bystanderReport{}},
		{"second state", func(ss *StormStats, _ map[string]int) { ss.UnexpectedStates = 1 }, true, true, "presence_state", bystanderReport{}},
		{"busy loop still answering", func(*StormStats, map[string]int) {}, true, true, "", bystanderReport{
			echoBase: hist.Summary{N: 10, P50: 100e3}, echoBurst: hist.Summary{N: 10, P50: 2e6}}},
		{"stalled loop", func(*StormStats, map[string]int) {}, true, true, "stalled", bystanderReport{
			echoBase: hist.Summary{N: 10, P50: 100e3}, echoBurst: hist.Summary{N: 10, P50: 300e6}}},
	}
	for _, tc := range cases {
		t.Run("case="+strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			ss, listed := good(), all(6)
			tc.mod(ss, listed)
			res := &Result{Scenario: Storm, Storm: &StormResult{Members: 4, Burst: 2}, Spec: Spec{Loops: 1, Workers: 1}}
			var lerr error
			if !tc.listOK {
				lerr, listed = errTest, nil
			}
			evaluateStorm(res, ss, tc.by, listed, lerr, tc.burst)
			if tc.fail == "" {
				if !res.OK || len(res.Failures) > 0 {
					t.Fatalf("failures %v", res.Failures)
				}
				if res.Storm.ViewsSeconds != 20e-9 || res.Storm.Sequences != 1 || res.Storm.Listed != 6 {
					t.Errorf("storm result %+v", res.Storm)
				}
				return
			}
			if res.OK || !strings.Contains(strings.Join(res.Failures, "|"), tc.fail) {
				t.Fatalf("failures %v, want one with %q", res.Failures, tc.fail)
			}
		})
	}
}

var errTest = &testError{}

type testError struct{}

func (*testError) Error() string { return "HTTP 403" }
