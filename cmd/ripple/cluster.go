package main

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/cluster"
	"github.com/ripple-rt/ripple/history"
)

// joinTimeout bounds the connection to Redis at start-up.
const joinTimeout = 10 * time.Second

// joinCluster makes the server a node of the cluster at the redis setting.
func (a *app) joinCluster() error {
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	if err := a.srv.JoinCluster(ctx, ripple.ClusterConfig{URL: a.cfg.Redis, Logger: a.log}); err != nil {
		return fmt.Errorf("redis %s: %w", redactURL(a.cfg.Redis), err)
	}
	n := a.srv.Node()
	a.log.Info("joined cluster", "node", n.ID(), "redis", redactURL(a.cfg.Redis))
	if a.metrics != nil {
		if err := a.metrics.Registry().Register(clusterCollector{n}); err != nil {
			_ = n.Close()
			return err
		}
	}
	return nil
}

// redactURL hides the password of a redis URL in logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// localSource exports this node's connections, not the cluster's (every
// node of a cluster is scraped on its own).
type localSource struct{ srv *ripple.Server }

func (s localSource) Stats() *ripple.Stats { return s.srv.Stats() }
func (s localSource) Count() int           { return s.srv.LocalCount() }

// HistoryStats makes localSource a metrics.HistorySource.
func (s localSource) HistoryStats() history.MemoryStats { return s.srv.HistoryStats() }

// clusterCollector exports a node's counters (cluster.Stats) and whether
// it is fenced.
type clusterCollector struct{ n *cluster.Node }

var (
	descClusterFencedNow = prometheus.NewDesc("ripple_cluster_fenced",
		"1 while this node is fenced (found dead by the cluster) and re-announcing its connections.", nil, nil)
	clusterCounters = []struct {
		desc *prometheus.Desc
		get  func(*cluster.Stats) *atomic.Int64
	}{
		{clusterDesc("fenced_total", "Times this node found its incarnation dead and re-announced itself."), func(s *cluster.Stats) *atomic.Int64 { return &s.Fenced }},
		{clusterDesc("reaped_total", "Dead nodes this node removed from the cluster."), func(s *cluster.Stats) *atomic.Int64 { return &s.Reaped }},
		{clusterDesc("resyncs_total", "Presence channels reloaded from a snapshot (gap, reconnect, failed check)."), func(s *cluster.Stats) *atomic.Int64 { return &s.Resyncs }},
		{clusterDesc("verifies_total", "Periodic checks of the followed channels' positions in Redis that got an answer."), func(s *cluster.Stats) *atomic.Int64 { return &s.Verifies }},
		{clusterDesc("gaps_total", "Presence events that arrived out of sequence."), func(s *cluster.Stats) *atomic.Int64 { return &s.Gaps }},
		{clusterDesc("corrections_total", "Corrective presence diffs sent after resyncs."), func(s *cluster.Stats) *atomic.Int64 { return &s.Corrections }},
		{clusterDesc("retries_total", "Redis pipelines sent again after a transport error."), func(s *cluster.Stats) *atomic.Int64 { return &s.Retries }},
		{clusterDesc("published_total", "Room messages and broadcasts sent to the other nodes."), func(s *cluster.Stats) *atomic.Int64 { return &s.Published }},
		{clusterDesc("received_total", "Room messages and broadcasts received from the other nodes."), func(s *cluster.Stats) *atomic.Int64 { return &s.Received }},
		{clusterDesc("dropped_total", "Room messages and broadcasts dropped because the Redis write queue was full."), func(s *cluster.Stats) *atomic.Int64 { return &s.Dropped }},
		{clusterDesc("presence_events_total", "Presence events applied to this node's views of its channels."), func(s *cluster.Stats) *atomic.Int64 { return &s.Events }},
		{clusterDesc("presence_diffs_total", "presence_diff messages this node sent its members (one per event, or per batch when a channel is busy)."), func(s *cluster.Stats) *atomic.Int64 { return &s.Diffs }},
		{clusterDesc("history_publications_total", "Publications of channels with history this node delivered from Redis (its own included)."), func(s *cluster.Stats) *atomic.Int64 { return &s.Publications }},
		{clusterDesc("history_gaps_total", "Times this node found publications of a history channel missing from pub/sub."), func(s *cluster.Stats) *atomic.Int64 { return &s.HistoryGaps }},
		{clusterDesc("history_filled_total", "Missing history publications this node delivered from the channel's stream."), func(s *cluster.Stats) *atomic.Int64 { return &s.HistoryFilled }},
		{clusterDesc("history_lost_total", "Missing history publications no longer in the stream (trimmed or expired), never delivered."), func(s *cluster.Stats) *atomic.Int64 { return &s.HistoryLost }},
		{clusterDesc("presence_states_total", "presence_state messages this node sent its trackers (one per batch, shared by its trackers)."), func(s *cluster.Stats) *atomic.Int64 { return &s.States }},
	}
)

func clusterDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("ripple_cluster_"+name, help, nil, nil)
}

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descClusterFencedNow
	for _, s := range clusterCounters {
		ch <- s.desc
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	fenced := 0.0
	if c.n.Fenced() {
		fenced = 1
	}
	ch <- prometheus.MustNewConstMetric(descClusterFencedNow, prometheus.GaugeValue, fenced)
	st := c.n.Stats()
	for _, s := range clusterCounters {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, float64(s.get(st).Load()))
	}
}
