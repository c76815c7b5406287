//go:build linux

package scenario

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ripple-rt/ripple/bench/dialect"
	"github.com/ripple-rt/ripple/bench/hist"
	"github.com/ripple-rt/ripple/bench/procfs"
	"github.com/ripple-rt/ripple/bench/wsproto"
)

// RecoveryRun is the recovery scenario on one setup: one node, or a
// cluster of Nodes.
type RecoveryRun struct {
	Nodes   int    `json:"nodes"`
	Skipped string `json:"skipped,omitempty"`
	OK      bool   `json:"ok"`
	// Failures are the run's own, unprefixed.
	Failures []string `json:"failures,omitempty"`

	Conns         int64        `json:"conns"`
	Rooms         int          `json:"rooms"`
	Reconnects    int64        `json:"reconnects"`     // recovering joins answered
	ReconnectRate float64      `json:"reconnect_rate"` // per second of the run window
	Replayed      int64        `json:"replayed"`       // publications replayed after a recovering join
	Replay        hist.Summary `json:"replay_ns"`      // recovering join sent → caught up
	Deliveries    float64      `json:"deliveries"`     // per second of the run window, replays included
	Latency       hist.Summary `json:"latency_ns"`     // live deliveries: publish → receipt
	Sent          int64        `json:"sent"`
	Delivered     int64        `json:"delivered"`
	Expected      int64        `json:"expected"`
	Missing       int64        `json:"missing"`
	Dup           int64        `json:"dup"`
	Unrecovered   int64        `json:"unrecovered"`
}

// runRecovery is Run for the recovery scenario: after a probe that the
// target's join replies carry a history position (a server without one
// gives a result marked Skipped), one run per Spec.Nodes entry: 1 against
// the target, n > 1 against n nodes like it (same binary, flags, CPUs and
// GOGC) on a redis-server started for the run. The result is the last
// run's, with every run's figures in Recovery and Notes and every run's
// failures, prefixed by its setup.
func runRecovery(ctx context.Context, opt Options, target Target) (*Result, error) {
	res := &Result{Scenario: Recovery, Server: target.Name, URL: target.URL, Spec: opt.Spec}
	if opt.Spec.Dialect != "" && opt.Spec.Dialect != dialect.Bench {
		res.Skipped, res.OK = "not supported: recovery needs Phoenix Channels with history (ripple)", true
		return res, nil
	}
	nodes := opt.Spec.Nodes
	if len(nodes) == 0 {
		nodes = []int{1, ClusterNodes}
	}
	for _, n := range nodes {
		if n < 1 {
			return nil, fmt.Errorf("scenario: recovery: %d nodes", n)
		}
	}
	addr, host, err := resolve(target.URL)
	if err != nil {
		return nil, err
	}
	if _, why, err := probeHistory(ctx, addr, host, probeTopic()); err != nil {
		return nil, fmt.Errorf("scenario: recovery: history probe: %w", err)
	} else if why != "" {
		res.Skipped, res.OK = "not supported: "+why, true
		return res, nil
	}

	out := res
	var runs []RecoveryRun
	var failures, notes []string
	for _, n := range nodes {
		r, err := recoveryOn(ctx, opt, target, n)
		if err != nil {
			return nil, err
		}
		run := recoveryFigures(r, n)
		runs = append(runs, run)
		label := setupLabel(n)
		line := label + ": " + RecoveryLine(run)
		notes = append(notes, line)
		for _, f := range r.Failures {
			failures = append(failures, label+": "+f)
		}
		for _, note := range r.Notes {
			notes = append(notes, label+": "+note)
		}
		if opt.Bar != nil {
			opt.Bar.Println("  " + line)
		}
		if r.Skipped == "" {
			out = r
		}
	}
	final := *out
	final.Scenario, final.Server, final.URL = Recovery, target.Name, target.URL
	final.Spec.Scenario, final.Spec.Addrs, final.Spec.Nodes = Recovery, nil, nodes
	final.Recovery, final.Failures, final.Notes = runs, failures, notes
	final.OK = len(failures) == 0
	if out == res {
		final.Skipped = "not supported: " + strings.TrimPrefix(runs[0].Skipped, "not supported: ")
	}
	return &final, nil
}

func setupLabel(n int) string {
	if n == 1 {
		return "1 node"
	}
	return strconv.Itoa(n) + " nodes"
}

// recoveryOn runs the scenario on n nodes: the target itself for 1.
func recoveryOn(ctx context.Context, opt Options, target Target, n int) (*Result, error) {
	if n == 1 {
		one := opt
		one.Spec.Addrs = nil
		return recoveryRun(ctx, one, target, "")
	}
	redisBin, err := redisServer(Recovery)
	if err != nil {
		return nil, err
	}
	like, err := inspectTarget(&target, Recovery)
	if err != nil {
		return nil, err
	}
	cl, err := startLocalCluster(ctx, redisBin, like, n, like.cpus)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	node0 := Target{Name: target.Name, URL: "ws://" + cl.addrs[0], PID: cl.pids[0]}
	if why, err := probeNodes(ctx, cl.addrs); err != nil {
		return nil, fmt.Errorf("scenario: recovery: %d nodes: history probe: %w%s", n, err, cl.tails())
	} else if why != "" {
		return &Result{Scenario: Recovery, Server: target.Name, Skipped: "not supported: " + why, OK: true}, nil
	}
	multi := opt
	multi.Spec.Addrs = cl.addrs
	r, err := recoveryRun(ctx, multi, node0, fmt.Sprintf(" ×%d", n))
	if err != nil {
		return nil, fmt.Errorf("scenario: recovery: %d nodes: %w%s", n, err, cl.tails())
	}
	if dead := cl.dead(); dead != "" {
		r.fail("%s", dead)
		r.OK = false
	}
	r.Notes = append(r.Notes, "server CPU is node 0's only")
	return r, nil
}

// recoveryRun is one run of the scenario against target (and, with
// opt.Spec.Addrs, the other nodes): connect, run, drain, checks.
func recoveryRun(ctx context.Context, opt Options, target Target, suffix string) (*Result, error) {
	p, err := prepare(opt, &target, recoverySpec)
	if err != nil {
		return nil, err
	}
	res, spec := p.res, p.spec
	net0, _ := procfs.ReadNetCounters()
	s, err := startSession(ctx, opt, spec, p.procs, p.srcs, target.Name+suffix)
	if err != nil {
		return nil, err
	}
	defer s.close()
	t0 := time.Now()
	if _, err := s.step(ctx, Command{Op: "connect", Target: spec.Conns}, spec.Conns); err != nil {
		return nil, err
	}
	res.ConnectSeconds = time.Since(t0).Seconds()
	for _, pr := range s.prog {
		res.Conns += pr.Opened
	}
	if res.ConnectSeconds > 0 {
		res.ConnectRate = float64(res.Conns) / res.ConnectSeconds
	}
	if _, err := s.timedRun(ctx, target.PID, res); err != nil {
		return nil, err
	}
	total, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	if net1, err := procfs.ReadNetCounters(); err == nil {
		res.Net = net1.Sub(net0)
	}
	res.fill(total)
	if total.WindowNs > 0 {
		res.ReconnectRate = float64(res.Churned) / (float64(total.WindowNs) / 1e9)
	}
	if want := int64(spec.Conns / spec.RoomSize * spec.RoomSize); res.Conns < want {
		res.fail("opened %d of %d connections", res.Conns, want)
		res.OK = false
	}
	return res, nil
}

// recoveryFigures are a run's figures.
func recoveryFigures(r *Result, nodes int) RecoveryRun {
	run := RecoveryRun{Nodes: nodes, Skipped: r.Skipped, OK: r.OK, Failures: r.Failures}
	if r.Skipped != "" {
		return run
	}
	run.Conns, run.Rooms = r.Conns, r.Spec.Conns/max(r.Spec.RoomSize, 1)
	run.Reconnects, run.ReconnectRate, run.Replayed, run.Replay = r.Churned, r.ReconnectRate, r.Replayed, r.Join
	run.Deliveries, run.Latency = r.Throughput, r.Latency
	run.Sent, run.Delivered, run.Expected = r.Sent, r.Delivered, r.Expected
	run.Missing, run.Dup, run.Unrecovered = r.Missing, r.Dup, r.Unrecovered
	return run
}

// RecoveryLine is a run's figures in one line.
func RecoveryLine(r RecoveryRun) string {
	if r.Skipped != "" {
		return "skipped: " + r.Skipped
	}
	pct := func(s hist.Summary) string {
		if s.N == 0 {
			return "-"
		}
		return "p50 " + durText(s.P50) + " p99 " + durText(s.P99)
	}
	return fmt.Sprintf("%d conns in %d rooms, %d reconnects (%.1f/s), %d replayed, replay %s, "+
		"%.0f deliveries/s (live %s), %d of %d delivered; loss %d, duplicates %d, recovered:false %d",
		r.Conns, r.Rooms, r.Reconnects, r.ReconnectRate, r.Replayed, pct(r.Replay),
		r.Deliveries, pct(r.Latency), r.Delivered, r.Expected, r.Missing, r.Dup, r.Unrecovered)
}

// probeNodes joins one topic on every node and reports why the nodes cannot
// run the scenario ("" when they can): a node without history, or nodes
// that keep a history each (their epochs differ), on which a client could
// not recover on another node.
func probeNodes(ctx context.Context, addrs []string) (string, error) {
	topic := probeTopic()
	var epochs []string
	for i, a := range addrs {
		addr, host, err := resolve("ws://" + a)
		if err != nil {
			return "", err
		}
		epoch, why, err := probeHistory(ctx, addr, host, topic)
		if err != nil || why != "" {
			return why, err
		}
		epochs = append(epochs, epoch)
		if epoch != epochs[0] {
			return fmt.Sprintf("the nodes keep a history each: node 0 and node %d answer a join of %s with epochs %q and %q, "+
				"so a client cannot recover on another node", i, topic, epochs[0], epoch), nil
		}
	}
	return "", nil
}

// probeTopic is a topic of no run, for the probes.
func probeTopic() string { return "room:rec" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-probe" }

// probeHistory joins topic over Phoenix Channels and returns the epoch of
// its history, or why the server cannot run the scenario: no
// /socket/websocket, or a join reply without a history position.
func probeHistory(ctx context.Context, addr netip.AddrPort, host, topic string) (epoch, why string, err error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:], uint64(time.Now().UnixNano()))
	key := wsproto.MakeKey(nonce)
	if _, err := c.Write(wsproto.AppendRequest(nil, host, phoenixPath, key[:])); err != nil {
		return "", "", err
	}
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	upgraded := false
	for {
		if !upgraded {
			hn, perr := wsproto.ParseResponse(buf, key[:])
			var se *wsproto.StatusError
			switch {
			case errors.As(perr, &se):
				return "", fmt.Sprintf("the server answers %s with HTTP %d", phoenixPath, se.Code), nil
			case perr != nil:
				return "", "", perr
			case hn > 0:
				buf = buf[:copy(buf, buf[hn:])]
				upgraded = true
				join := []byte(`["1","1","` + topic + `","phx_join",{}]`)
				if _, err := c.Write(wsproto.AppendFrame(nil, true, wsproto.OpText, join, [4]byte{1, 2, 3, 4})); err != nil {
					return "", "", err
				}
			}
		}
		for upgraded {
			f, n, perr := wsproto.ParseFrame(buf, 1<<20)
			if perr != nil {
				return "", "", perr
			}
			if n == 0 {
				break
			}
			if f.Op == wsproto.OpClose {
				return "", "", fmt.Errorf("closed by the server (code %d)", wsproto.CloseCode(f.Payload))
			}
			if f.Op == wsproto.OpText && strings.Contains(string(f.Payload), `"phx_reply"`) {
				rep, ok := scanReply(f.Payload)
				switch {
				case !ok:
					return "", "", fmt.Errorf("unparseable join reply %q", truncateBytes(f.Payload, 200))
				case !rep.ok:
					return "", fmt.Sprintf("the server refuses the join of %s: %s", topic, truncateBytes(f.Payload, 200)), nil
				case rep.epoch == nil || rep.offset < 0:
					return "", fmt.Sprintf("the join reply of %s has no history position (\"epoch\", \"offset\"): "+
						"the server keeps no history for room:… (ripple -history '%s')", topic, RecoveryHistory(Spec{Conns: recoveryConns})), nil
				}
				mask := [4]byte{5, 6, 7, 8}
				_, _ = c.Write(wsproto.AppendClose(nil, 1000, "", mask))
				return string(rep.epoch), "", nil
			}
			buf = buf[:copy(buf, buf[n:])]
		}
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			return "", "", err
		}
	}
}
