package scenario

import "github.com/ripple-rt/ripple/bench/hist"

// Storm is the join-storm scenario: one presence room of RoomSize members,
// then Burst users connecting at once. It is not part of Names (the quick
// suite): run it by name.
const Storm = "storm"

// StormStats are one loop's (merged: the whole run's) storm figures. Times
// are wall clock ns since the run's epoch; 0 means "did not happen".
type StormStats struct {
	Members int64 `json:"members"` // fill members
	Burst   int64 `json:"burst"`   // burst members

	FillStart      int64 `json:"fill_start"`      // first fill dial (min over loops)
	FillDialed     int64 `json:"fill_dialed"`     // every fill dial resolved (max)
	FillViews      int64 `json:"fill_views"`      // every fill member's view complete (max)
	FillIncomplete int64 `json:"fill_incomplete"` // loops that gave up on the fill
	FillBytes      int64 `json:"fill_bytes"`      // bytes received during the fill
	FillStateMax   int64 `json:"fill_state_max"`  // largest presence_state during the fill, bytes

	BurstStart      int64 `json:"burst_start"`       // burst dials queued (min)
	BurstStates     int64 `json:"burst_states"`      // every burst member has its presence_state (max)
	BurstViews      int64 `json:"burst_views"`       // every fill member's view holds every burst user (max)
	BurstJoinViews  int64 `json:"burst_join_views"`  // every burst member's view is complete (max)
	BurstSettled    int64 `json:"burst_settled"`     // all of the above and quiet (max)
	BurstIncomplete int64 `json:"burst_incomplete"`  // loops whose burst did not complete
	BurstBytes      int64 `json:"burst_bytes"`       // bytes received from the burst start to settled
	BurstDiffsMin   int64 `json:"burst_diffs_min"`   // diffs a fill member got during the burst; -1: none measured
	BurstDiffsMax   int64 `json:"burst_diffs_max"`   //
	BurstDiffsTotal int64 `json:"burst_diffs_total"` // over all fill members

	// Sequences counts fill members by the hash (FNV-64a over the FNV-64a
	// of each message's bytes) of the presence messages they received from
	// the burst start on: one key means every member saw the same sequence.
	Sequences map[string]int64 `json:"sequences,omitempty"`

	StateSize        hist.Snapshot `json:"state_size"`        // burst members' presence_state, bytes
	Diffs            int64         `json:"diffs"`             // presence_diff messages, all members, whole run
	States           int64         `json:"states"`            // presence_state messages, whole run
	UnexpectedStates int64         `json:"unexpected_states"` // a second presence_state to one connection
	Foreign          int64         `json:"foreign"`           // user ids that are not the run's, per member
	BadViews         int64         `json:"bad_views"`         // members whose final view is not the expected set
	Absent           int64         `json:"absent"`            // users missing from final views (sum)
	Closed           int64         `json:"closed"`            // members whose connection closed
}

func newStormStats() StormStats { return StormStats{BurstDiffsMin: -1} }

func minNonZero(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// merge returns s with o added; either may be nil.
func (s *StormStats) merge(o *StormStats) *StormStats {
	if o == nil {
		return s
	}
	if s == nil {
		s = &StormStats{BurstDiffsMin: -1}
	}
	s.Members += o.Members
	s.Burst += o.Burst
	s.FillStart = minNonZero(s.FillStart, o.FillStart)
	s.FillDialed = max(s.FillDialed, o.FillDialed)
	s.FillViews = max(s.FillViews, o.FillViews)
	s.FillIncomplete += o.FillIncomplete
	s.FillBytes += o.FillBytes
	s.FillStateMax = max(s.FillStateMax, o.FillStateMax)
	s.BurstStart = minNonZero(s.BurstStart, o.BurstStart)
	s.BurstStates = max(s.BurstStates, o.BurstStates)
	s.BurstViews = max(s.BurstViews, o.BurstViews)
	s.BurstJoinViews = max(s.BurstJoinViews, o.BurstJoinViews)
	s.BurstSettled = max(s.BurstSettled, o.BurstSettled)
	s.BurstIncomplete += o.BurstIncomplete
	s.BurstBytes += o.BurstBytes
	if o.BurstDiffsMin >= 0 && (s.BurstDiffsMin < 0 || o.BurstDiffsMin < s.BurstDiffsMin) {
		s.BurstDiffsMin = o.BurstDiffsMin
	}
	s.BurstDiffsMax = max(s.BurstDiffsMax, o.BurstDiffsMax)
	s.BurstDiffsTotal += o.BurstDiffsTotal
	if len(o.Sequences) > 0 && s.Sequences == nil {
		s.Sequences = map[string]int64{}
	}
	for k, v := range o.Sequences {
		s.Sequences[k] += v
	}
	s.StateSize = mergeSnap(s.StateSize, o.StateSize)
	s.Diffs += o.Diffs
	s.States += o.States
	s.UnexpectedStates += o.UnexpectedStates
	s.Foreign += o.Foreign
	s.BadViews += o.BadViews
	s.Absent += o.Absent
	s.Closed += o.Closed
	return s
}

// StormResult is the storm scenario's own figures (Result.Storm).
type StormResult struct {
	Room    string `json:"room"`
	Channel string `json:"channel"`
	Members int    `json:"members"` // room size before the burst
	Burst   int    `json:"burst"`

	FillSeconds float64 `json:"fill_seconds"` // first dial to every member's view complete
	FillRate    float64 `json:"fill_rate"`    // members per second over FillSeconds
	FillBytes   int64   `json:"fill_bytes"`   // received by the generator during the fill
	FillState   int64   `json:"fill_state"`   // largest presence_state during the fill, bytes

	// From the burst start (every burst dial queued at once):
	StatesSeconds    float64      `json:"states_seconds"`     // every burst member has its presence_state
	ViewsSeconds     float64      `json:"views_seconds"`      // every earlier member's view holds every burst user
	JoinViewsSeconds float64      `json:"join_views_seconds"` // every burst member's view is complete
	BurstBytes       int64        `json:"burst_bytes"`        // received by the generator, burst start to settled
	StateBytes       hist.Summary `json:"state_bytes"`        // burst members' presence_state sizes
	DiffsMin         int64        `json:"diffs_min"`          // presence_diffs per earlier member during the burst
	DiffsMax         int64        `json:"diffs_max"`
	DiffsPerMember   float64      `json:"diffs_per_member"` // whole run, every member
	Sequences        int          `json:"sequences"`        // distinct diff sequences among earlier members (1 = same order)
	Listed           int          `json:"listed"`           // users in /api/list_presence
	ListError        string       `json:"list_error,omitempty"`

	// Bystander round trips on /ws/echo (text echo and ping→pong), by phase.
	EchoFill      hist.Summary `json:"echo_fill"`
	EchoBaseline  hist.Summary `json:"echo_baseline"`
	EchoBurst     hist.Summary `json:"echo_burst"`
	PingBaseline  hist.Summary `json:"ping_baseline"`
	PingBurst     hist.Summary `json:"ping_burst"`
	BystanderLost int64        `json:"bystander_lost"` // echoes never answered
	BystanderErr  string       `json:"bystander_error,omitempty"`
}
