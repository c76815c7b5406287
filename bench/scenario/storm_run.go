//go:build linux

package scenario

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/procfs"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// A burst stalls the server's loops when the bystander's median round trip
// during the burst passes both stallFloor and stallFactor times its median
// at rest. Writing a 750 KiB presence_state to each of 1,000 joiners keeps a
// loop busy for about a second on a 2-core machine; a loop that keeps
// reading between writes answers the bystander within a few milliseconds.
const (
	stallFloor  = 50 * time.Millisecond
	stallFactor = 100
)

func stallLimit(baselineP50 int64) int64 {
	return max(int64(stallFloor), stallFactor*baselineP50)
}

// stormSpec fills the storm settings' defaults: RoomSize 10,000, Burst 1,000,
// MsgRate (bystander round trips per second) 100; Conns is RoomSize+Burst.
func stormSpec(s *Spec) {
	if s.RoomSize <= 0 {
		s.RoomSize = stormRoomSize
	}
	if s.Burst <= 0 {
		s.Burst = stormBurst
	}
	if s.MsgRate <= 0 {
		s.MsgRate = stormMsgRate
	}
	s.Conns = s.RoomSize + s.Burst
	s.Churn = 0
}

// runStorm is Run for the storm scenario: fill (connect step), baseline,
// burst (run step), then checks against the members' views, each other and
// /api/list_presence, with a bystander connection measuring the server's
// responsiveness throughout.
func runStorm(ctx context.Context, opt Options, target Target) (*Result, error) {
	p, err := prepare(opt, &target, stormSpec)
	if err != nil || p.skipped {
		return p.result(), err
	}
	res, spec, procs, srcs, addr, host := p.res, p.spec, p.procs, p.srcs, p.addr, p.host
	sr := &StormResult{Room: stormRoom(&spec), Members: spec.RoomSize, Burst: spec.Burst}
	sr.Channel = "room:" + sr.Room
	res.Storm = sr

	net0, _ := procfs.ReadNetCounters()
	by, err := startBystander(addr, host, spec.Epoch, time.Duration(float64(time.Second)/spec.MsgRate))
	if err != nil {
		return nil, fmt.Errorf("scenario: storm bystander on /ws/echo: %w", err)
	}
	defer by.stop()
	s, err := startSession(ctx, opt, spec, procs, srcs, target.Name)
	if err != nil {
		return nil, err
	}
	defer s.close()

	t0 := time.Now()
	if _, err := s.step(ctx, Command{Op: "connect", Target: spec.RoomSize}, spec.RoomSize); err != nil {
		return nil, err
	}
	res.ConnectSeconds = time.Since(t0).Seconds()
	for _, p := range s.prog {
		res.Conns += p.Opened
	}
	if res.ConnectSeconds > 0 {
		res.ConnectRate = float64(res.Conns) / res.ConnectSeconds
	}
	fillSt, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	fillEnd := by.now()
	burst := fillSt.Storm != nil && fillSt.Storm.FillIncomplete == 0 && fillSt.Failed == 0
	var baselineEnd int64
	if burst {
		select {
		case <-time.After(time.Duration(spec.Duration)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		baselineEnd = by.now()
		if _, err := s.timedRun(ctx, target.PID, res); err != nil {
			return nil, err
		}
	}
	total, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	by.stop()
	if net1, err := procfs.ReadNetCounters(); err == nil {
		res.Net = net1.Sub(net0)
	}
	listed, lerr := listPresence(ctx, addr, host, sr.Channel)
	res.fill(total)
	res.Conns = total.Progress.Open
	evaluateStorm(res, total.Storm, by.report(fillEnd, baselineEnd, total.Storm), listed, lerr, burst)
	return res, nil
}

// bystanderReport is the bystander's outcome, split by phase.
type bystanderReport struct {
	echoFill, echoBase, echoBurst hist.Summary
	pingBase, pingBurst           hist.Summary
	lost                          int64
	err                           error
}

// evaluateStorm fills res.Storm and applies the storm checks: the fill
// completed, every earlier member saw the same presence messages in the same
// order from the burst start on, every final view is the whole room and
// matches /api/list_presence, and no connection was closed by the server.
func evaluateStorm(res *Result, ss *StormStats, by bystanderReport, listed map[string]int, listErr error, burst bool) {
	sr := res.Storm
	want := sr.Members + sr.Burst
	if ss == nil {
		res.fail("no storm figures from the workers")
		res.OK = false
		return
	}
	secs := func(from, to int64) float64 {
		if from == 0 || to == 0 {
			return 0
		}
		return float64(to-from) / 1e9
	}
	sr.FillSeconds = secs(ss.FillStart, ss.FillViews)
	if sr.FillSeconds > 0 {
		sr.FillRate = float64(sr.Members) / sr.FillSeconds
	}
	sr.FillBytes, sr.FillState = ss.FillBytes, ss.FillStateMax
	sr.StatesSeconds = secs(ss.BurstStart, ss.BurstStates)
	sr.ViewsSeconds = secs(ss.BurstStart, ss.BurstViews)
	sr.JoinViewsSeconds = secs(ss.BurstStart, ss.BurstJoinViews)
	sr.BurstBytes = ss.BurstBytes
	sr.StateBytes = summarize(ss.StateSize)
	sr.DiffsMin, sr.DiffsMax = max(ss.BurstDiffsMin, 0), ss.BurstDiffsMax
	if n := ss.Members + ss.Burst; n > 0 {
		sr.DiffsPerMember = float64(ss.Diffs) / float64(n)
	}
	sr.Sequences = len(ss.Sequences)
	sr.Listed = len(listed)
	sr.EchoFill, sr.EchoBaseline, sr.EchoBurst = by.echoFill, by.echoBase, by.echoBurst
	sr.PingBaseline, sr.PingBurst = by.pingBase, by.pingBurst
	sr.BystanderLost = by.lost
	if by.err != nil {
		sr.BystanderErr = by.err.Error()
	}

	res.ThroughputUnit = "joins/s"
	res.Throughput = 0
	if sr.ViewsSeconds > 0 {
		res.Throughput = float64(sr.Burst) / sr.ViewsSeconds
	}
	res.Latency = by.echoBurst

	switch {
	case ss.FillIncomplete > 0:
		res.fail("fill incomplete: the views of %d of %d loops never held all %d members (the burst was not run); "+
			"%d members' views short by %d users in total", ss.FillIncomplete, res.Spec.Loops*res.Spec.Workers, sr.Members, ss.BadViews, ss.Absent)
	case !burst:
		res.fail("the burst was not run: dials failed during the fill")
	case ss.BurstIncomplete > 0:
		res.fail("burst incomplete within the drain (%v): %d members' views short by %d users in total",
			time.Duration(res.Spec.Drain), ss.BadViews, ss.Absent)
	case ss.BadViews > 0:
		res.fail("%d members' final views are not the %d users of the room (%d users missing in total)", ss.BadViews, want, ss.Absent)
	}
	if burst && len(ss.Sequences) != 1 {
		res.fail("order: the %d earlier members received %d different presence message sequences during the burst (want 1): %s",
			ss.Members, len(ss.Sequences), topCounts(ss.Sequences, 5))
	}
	if ss.Foreign > 0 {
		res.fail("%d user entries that are not users of this run", ss.Foreign)
	}
	if ss.UnexpectedStates > 0 {
		res.fail("%d presence_state messages to connections that already had one", ss.UnexpectedStates)
	}
	if ss.Closed > 0 && res.Dropped == 0 {
		res.fail("%d member connections closed", ss.Closed)
	}
	switch {
	case listErr != nil:
		res.fail("/api/list_presence: %v", listErr)
	default:
		extra, missing := 0, 0
		for u := range listed {
			if parseStormUser([]byte(u), int32(want)) < 0 {
				extra++
			}
		}
		for i := 0; i < want; i++ {
			if _, ok := listed[stormUser(i)]; !ok {
				missing++
			}
		}
		if extra+missing > 0 {
			res.fail("/api/list_presence lists %d users: %d missing, %d not of the room", len(listed), missing, extra)
		}
		for u, n := range listed {
			if n != 1 {
				res.fail("/api/list_presence: user %s has %d metas, want 1", u, n)
				break
			}
		}
	}
	if by.err != nil {
		res.fail("bystander: %v", by.err)
	}
	if limit := stallLimit(sr.EchoBaseline.P50); burst && sr.EchoBurst.N > 0 && sr.EchoBurst.P50 > limit {
		res.fail("the loop stalled: the bystander's median echo round trip during the burst was %s (limit %s: %v or %d× the baseline median %s)",
			durText(sr.EchoBurst.P50), durText(limit), stallFloor, stallFactor, durText(sr.EchoBaseline.P50))
	}

	res.Notes = append(res.Notes, fmt.Sprintf("storm fill: %d members in %.2fs (%.0f/s; connect step %.2fs), largest presence_state %s, %s received",
		sr.Members, sr.FillSeconds, sr.FillRate, res.ConnectSeconds, bytesText(sr.FillState), bytesText(sr.FillBytes)))
	if burst {
		res.Notes = append(res.Notes, fmt.Sprintf("storm burst of %d: every joiner had its presence_state after %.3fs, every earlier member had every joiner after %.3fs, every joiner's view complete after %.3fs; join handshake p50 %s p99 %s",
			sr.Burst, sr.StatesSeconds, sr.ViewsSeconds, sr.JoinViewsSeconds, durText(res.Join.P50), durText(res.Join.P99)))
		res.Notes = append(res.Notes, fmt.Sprintf("storm burst: presence_state p50 %s max %s; presence_diffs per earlier member %d–%d; %s received; diffs per member over the run %.1f",
			bytesText(sr.StateBytes.P50), bytesText(sr.StateBytes.Max), sr.DiffsMin, sr.DiffsMax, bytesText(sr.BurstBytes), sr.DiffsPerMember))
		res.Notes = append(res.Notes, fmt.Sprintf("storm order: %d earlier members, %d distinct diff sequence(s); list_presence %d users (want %d)",
			ss.Members, sr.Sequences, sr.Listed, want))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("storm bystander echo RTT p50/p99/max: fill %s; baseline %s; burst %s (p99 ×%.1f, max ×%.1f of baseline); ping→pong baseline %s, burst %s; %d unanswered",
		rttText(sr.EchoFill), rttText(sr.EchoBaseline), rttText(sr.EchoBurst),
		ratio(sr.EchoBurst.P99, sr.EchoBaseline.P99), ratio(sr.EchoBurst.Max, sr.EchoBaseline.Max),
		rttText(sr.PingBaseline), rttText(sr.PingBurst), sr.BystanderLost))
	res.OK = len(res.Failures) == 0
}

// topCounts lists the n largest counts of m as key×count.
func topCounts(m map[string]int64, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	var parts []string
	for i, k := range keys {
		if i == n {
			parts = append(parts, fmt.Sprintf("… %d more", len(keys)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func rttText(s hist.Summary) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s/%s/%s (n=%d)", durText(s.P50), durText(s.P99), durText(s.Max), s.N)
}

func durText(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// listPresence asks the server's /api/list_presence for channel and returns
// the number of metas per user. RIPPLE_BENCH_API_KEY, when set, is sent as
// the bearer token (the API answers loopback clients without one).
func listPresence(ctx context.Context, addr netip.AddrPort, host, channel string) (map[string]int, error) {
	body, _ := json.Marshal(map[string]string{"channel": channel})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr.String()+"/api/list_presence", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	if key := os.Getenv("RIPPLE_BENCH_API_KEY"); key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s (set RIPPLE_BENCH_API_KEY for a server with -api-key)", resp.StatusCode, bytes.TrimSpace(truncateBytes(b, 200)))
	}
	var out struct {
		Presences []struct {
			UserID string            `json:"user_id"`
			Metas  []json.RawMessage `json:"metas"`
		} `json:"presences"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	m := make(map[string]int, len(out.Presences))
	for _, p := range out.Presences {
		m[p.UserID] += len(p.Metas)
	}
	return m, nil
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// bystander is one connection on /ws/echo outside the room that sends a
// timestamped text message and a ping every interval and records each round
// trip: a stalled server loop shows as a jump in its latency. It runs in the
// parent process, away from the generator's busy loops.
type bystander struct {
	// Immutable after start.
	conn  net.Conn
	epoch int64
	every time.Duration
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	// Guarded by mu.
	mu      sync.Mutex
	samples []rttSample
	sent    int64
	got     int64
	err     error
	closing bool
}

type rttSample struct {
	at   int64 // send time, ns since the epoch
	rtt  int64
	ping bool
}

// maxBystanderSamples bounds the bystander's memory (about 80 minutes at
// 100 round trips per second).
const maxBystanderSamples = 1 << 20

func startBystander(addr netip.AddrPort, host string, epoch int64, every time.Duration) (*bystander, error) {
	if every <= 0 {
		every = 10 * time.Millisecond
	}
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:], uint64(time.Now().UnixNano()))
	key := wsproto.MakeKey(nonce)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(wsproto.AppendRequest(nil, host, "/ws/echo", key[:])); err != nil {
		c.Close()
		return nil, err
	}
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		hn, perr := wsproto.ParseResponse(buf, key[:])
		if perr != nil {
			c.Close()
			return nil, perr
		}
		if hn > 0 {
			buf = buf[:copy(buf, buf[hn:])]
			break
		}
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	_ = c.SetDeadline(time.Time{})
	b := &bystander{conn: c, epoch: epoch, every: every, quit: make(chan struct{})}
	b.wg.Add(2)
	go b.read(buf)
	go b.write()
	return b, nil
}

func (b *bystander) now() int64 { return time.Now().UnixNano() - b.epoch }

func (b *bystander) fail(err error) {
	b.mu.Lock()
	if b.err == nil && !b.closing {
		b.err = err
	}
	b.mu.Unlock()
}

func (b *bystander) write() {
	defer b.wg.Done()
	// Echoes and pings alternate, half an interval apart, so that each is
	// a sample of its own.
	t := time.NewTicker(b.every / 2)
	defer t.Stop()
	var out, p []byte
	var mask [4]byte
	for seq := uint32(1); ; seq++ {
		select {
		case <-b.quit:
			binary.LittleEndian.PutUint32(mask[:], seq)
			_ = b.conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = b.conn.Write(wsproto.AppendClose(nil, 1000, "", mask))
			return
		case <-t.C:
		}
		p = strconv.AppendInt(p[:0], b.now(), 10)
		binary.LittleEndian.PutUint32(mask[:], seq*2654435761)
		op := wsproto.OpText
		if seq%2 == 0 {
			op = wsproto.OpPing
		}
		out = wsproto.AppendFrame(out[:0], true, op, p, mask)
		_ = b.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := b.conn.Write(out); err != nil {
			b.fail(fmt.Errorf("write: %w", err))
			return
		}
		if op == wsproto.OpText {
			b.mu.Lock()
			b.sent++
			b.mu.Unlock()
		}
	}
}

func (b *bystander) read(buf []byte) {
	defer b.wg.Done()
	tmp := make([]byte, 64<<10)
	for {
		for {
			f, n, err := wsproto.ParseFrame(buf, 1<<20)
			if err != nil {
				b.fail(err)
				return
			}
			if n == 0 {
				break
			}
			switch f.Op {
			case wsproto.OpText, wsproto.OpPong:
				at, perr := strconv.ParseInt(string(f.Payload), 10, 64)
				if perr != nil {
					b.fail(fmt.Errorf("unexpected echo %q", truncateBytes(f.Payload, 40)))
					return
				}
				rtt := b.now() - at
				b.mu.Lock()
				if len(b.samples) < maxBystanderSamples {
					b.samples = append(b.samples, rttSample{at: at, rtt: rtt, ping: f.Op == wsproto.OpPong})
				}
				if f.Op == wsproto.OpText {
					b.got++
				}
				b.mu.Unlock()
			case wsproto.OpClose:
				b.fail(fmt.Errorf("closed by the server (code %d)", wsproto.CloseCode(f.Payload)))
				return
			default:
				b.fail(fmt.Errorf("unexpected opcode %d", f.Op))
				return
			}
			buf = buf[:copy(buf, buf[n:])]
		}
		n, err := b.conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				b.fail(fmt.Errorf("read: %w", err))
			}
			return
		}
	}
}

// stop ends the bystander (idempotent): it sends a close frame after its
// last message, waits up to 2 s for the echoes still under way and the
// server's close, and waits for its goroutines.
func (b *bystander) stop() {
	b.once.Do(func() {
		b.mu.Lock()
		b.closing = true
		b.mu.Unlock()
		close(b.quit)
		done := make(chan struct{})
		go func() {
			b.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		_ = b.conn.Close()
		<-done
	})
}

// report splits the round trips by send time: the fill (before fillEnd),
// the baseline (fillEnd to baselineEnd), the burst (its start to the moment
// every earlier member had every joiner, or to its settling).
func (b *bystander) report(fillEnd, baselineEnd int64, ss *StormStats) bystanderReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	var burstFrom, burstTo int64
	if ss != nil && ss.BurstStart > 0 {
		burstFrom = ss.BurstStart
		burstTo = max(ss.BurstViews, ss.BurstStates, ss.BurstJoinViews)
		if burstTo == 0 || ss.BurstViews == 0 {
			burstTo = ss.BurstSettled
		}
	}
	var ef, eb, ebu, pb, pbu hist.Histogram
	for _, s := range b.samples {
		switch {
		case s.at < fillEnd:
			if !s.ping {
				ef.Record(s.rtt)
			}
		case s.at < baselineEnd:
			if s.ping {
				pb.Record(s.rtt)
			} else {
				eb.Record(s.rtt)
			}
		case burstFrom > 0 && s.at >= burstFrom && (burstTo == 0 || s.at <= burstTo):
			if s.ping {
				pbu.Record(s.rtt)
			} else {
				ebu.Record(s.rtt)
			}
		}
	}
	lost := b.sent - b.got
	if lost < 0 {
		lost = 0
	}
	return bystanderReport{
		echoFill: ef.Summarize(), echoBase: eb.Summarize(), echoBurst: ebu.Summarize(),
		pingBase: pb.Summarize(), pingBurst: pbu.Summarize(), lost: lost, err: b.err,
	}
}
