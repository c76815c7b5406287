package metrics

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/webhook"
)

// Source is the server whose counters are exported; *ripple.Server
// implements it.
type Source interface {
	Stats() *ripple.Stats
	Count() int
}

// HistorySource is a Source that keeps channel history in memory;
// *ripple.Server implements it.
type HistorySource interface {
	HistoryStats() history.MemoryStats
}

// Presence is a presence registry; *presence.Registry implements it.
type Presence interface {
	Channels() []string
	Count(channel string) int
}

// DefaultPresenceChannels is how many channels get a per-channel series.
const DefaultPresenceChannels = 20

// Config configures Metrics. The zero value is ready to use.
type Config struct {
	// PresenceChannels is how many channels, the most populated first, get
	// a ripple_presence_channel_users series. Zero means
	// DefaultPresenceChannels; negative means none.
	PresenceChannels int
}

// Metrics records and exports a server's metrics. Create it with New.
type Metrics struct {
	// Immutable after New.
	cfg        Config
	reg        *prometheus.Registry
	queueDelay prometheus.Histogram
	webhook    *prometheus.HistogramVec
	invalid    *prometheus.CounterVec

	// Set once by Watch and WatchPresence, read by scrapes.
	src      atomic.Pointer[Source]
	presence atomic.Pointer[Presence]

	// Written by observer calls from any goroutine; atomic.
	rejected [600]atomic.Uint64  // by HTTP status
	closed   [5000]atomic.Uint64 // by close code; [0] counts codes past 4999
}

// New returns Metrics with its own registry.
func New(cfg Config) *Metrics {
	if cfg.PresenceChannels == 0 {
		cfg.PresenceChannels = DefaultPresenceChannels
	}
	m := &Metrics{cfg: cfg, reg: prometheus.NewRegistry()}
	m.queueDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ripple_loop_queue_delay_seconds",
		Help:    "Time a batch of tasks posted to an event loop waited before the loop ran it.",
		Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	})
	m.webhook = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ripple_webhook_duration_seconds",
		Help:    "Webhook call latency by route, event type and outcome (ok, refused, error, timeout).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "event", "outcome"})
	m.invalid = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ripple_webhook_invalid_answers_total",
		Help: "Webhook answers that were not valid actions, or whose actions failed (a set_presence on a channel not tracked, ...), by route.",
	}, []string{"route"})
	m.reg.MustRegister(m.queueDelay, m.webhook, m.invalid, collector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch sets the server whose counters are exported.
func (m *Metrics) Watch(src Source) { m.src.Store(&src) }

// WatchPresence sets the presence registry whose channels are exported.
func (m *Metrics) WatchPresence(p Presence) { m.presence.Store(&p) }

// Registry is where the metrics live; an application may add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// QueueDelay implements engine.Observer.
func (m *Metrics) QueueDelay(d time.Duration) { m.queueDelay.Observe(d.Seconds()) }

// Closed implements engine.Observer.
func (m *Metrics) Closed(code codec.CloseCode) {
	i := int(code)
	if i >= len(m.closed) {
		i = 0
	}
	m.closed[i].Add(1)
}

// Rejected implements engine.Observer.
func (m *Metrics) Rejected(status int) {
	if status < 0 || status >= len(m.rejected) {
		status = 0
	}
	m.rejected[status].Add(1)
}

// WebhookCall implements webhook.Observer.
func (m *Metrics) WebhookCall(route, event string, outcome webhook.Outcome, d time.Duration) {
	m.webhook.WithLabelValues(route, event, string(outcome)).Observe(d.Seconds())
}

// WebhookInvalidAnswer implements webhook.Observer.
func (m *Metrics) WebhookInvalidAnswer(route string) { m.invalid.WithLabelValues(route).Inc() }

// rejectReason names the usual refusals of an upgrade.
func rejectReason(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "origin_not_allowed"
	case http.StatusNotFound:
		return "no_route"
	case http.StatusRequestTimeout:
		return "handshake_timeout"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "head_too_large"
	case http.StatusServiceUnavailable:
		return "shutting_down"
	}
	if t := http.StatusText(status); t != "" {
		return strings.ReplaceAll(strings.ToLower(t), " ", "_")
	}
	return "other"
}

// counter describes one engine.Stats counter.
type counter struct {
	desc *prometheus.Desc
	get  func(*ripple.Stats) int64
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	statCounters = []counter{
		{newDesc("ripple_connections_accepted_total", "TCP connections accepted."), func(s *ripple.Stats) int64 { return s.Accepted.Load() }},
		{newDesc("ripple_connections_upgraded_total", "WebSocket connections opened (upgrades completed)."), func(s *ripple.Stats) int64 { return s.Upgraded.Load() }},
		{newDesc("ripple_http_requests_total", "Plain HTTP connections handed to the HTTP handler."), func(s *ripple.Stats) int64 { return s.HTTPRequests.Load() }},
		{newDesc("ripple_messages_received_total", "WebSocket messages received from clients."), func(s *ripple.Stats) int64 { return s.MessagesIn.Load() }},
		{newDesc("ripple_received_bytes_total", "Payload bytes of the messages received."), func(s *ripple.Stats) int64 { return s.BytesIn.Load() }},
		{newDesc("ripple_broadcasts_total", "Broadcast and broadcast_room fan-outs."), func(s *ripple.Stats) int64 { return s.Broadcasts.Load() }},
		{newDesc("ripple_broadcast_recipients_total", "Messages written by fan-outs, one per recipient."), func(s *ripple.Stats) int64 { return s.FramesOut.Load() }},
		{newDesc("ripple_broadcast_bytes_total", "Payload bytes written by fan-outs, counted per recipient."), func(s *ripple.Stats) int64 { return s.BytesOut.Load() }},
		{newDesc("ripple_broadcast_compressions_total", "Fan-out messages compressed (once each)."), func(s *ripple.Stats) int64 { return s.Compressions.Load() }},
		{newDesc("ripple_slow_consumer_closes_total", "Connections closed with 1008 for not reading their messages."), func(s *ripple.Stats) int64 { return s.SlowConsumers.Load() }},
		{newDesc("ripple_rate_limited_total", "Connections closed with 1008 \"rate limit\" for sending more than their messages or bytes per second."), func(s *ripple.Stats) int64 { return s.RateLimited.Load() }},
		{newDesc("ripple_flush_yields_total", "Times an event loop ran out of write budget and left writes for its next poll rounds, to keep reading sockets."), func(s *ripple.Stats) int64 { return s.FlushYields.Load() }},
		{newDesc("ripple_handler_panics_total", "Handler panics recovered (the connection got 1011)."), func(s *ripple.Stats) int64 { return s.Panics.Load() }},
		{newDesc("ripple_phoenix_joins_total", "Phoenix channel joins accepted."), func(s *ripple.Stats) int64 { return s.ChannelJoins.Load() }},
		{newDesc("ripple_phoenix_joins_refused_total", "Phoenix channel joins refused by their handler."), func(s *ripple.Stats) int64 { return s.ChannelsRefused.Load() }},
		{newDesc("ripple_phoenix_join_floods_total", "Phoenix connections closed with 1008 for a flood of refused joins."), func(s *ripple.Stats) int64 { return s.ChannelFloods.Load() }},
		{newDesc("ripple_phoenix_longpoll_sessions_total", "Phoenix long-poll sessions opened."), func(s *ripple.Stats) int64 { return s.LongPolls.Load() }},
		{newDesc("ripple_history_publications_total", "Publications into channels with history (numbered and kept)."), func(s *ripple.Stats) int64 { return s.HistoryPublished.Load() }},
		{newDesc("ripple_history_recovered_total", "Phoenix joins that recovered their missed publications."), func(s *ripple.Stats) int64 { return s.HistoryRecovered.Load() }},
		{newDesc("ripple_history_unrecovered_total", "Phoenix joins that asked to recover and could not (other epoch, or history gone)."), func(s *ripple.Stats) int64 { return s.HistoryUnrecovered.Load() }},
		{newDesc("ripple_history_replayed_total", "Publications replayed to recovering joins."), func(s *ripple.Stats) int64 { return s.HistoryReplayed.Load() }},
	}
	descConnections     = newDesc("ripple_connections", "Open WebSocket connections.")
	descRejected        = newDesc("ripple_connections_rejected_total", "Upgrades refused, by HTTP status.", "status", "reason")
	descClosed          = newDesc("ripple_connections_closed_total", "WebSocket connections ended, by close code (1006: no close frame).", "code")
	descHistoryChans    = newDesc("ripple_history_channels", "Channels whose history this server keeps in memory.")
	descHistoryPubs     = newDesc("ripple_history_retained_publications", "Publications this server keeps in memory.")
	descHistoryBytes    = newDesc("ripple_history_memory_bytes", "Bytes of the publications this server keeps in memory (payloads plus 48 each).")
	descPresenceChans   = newDesc("ripple_presence_channels", "Channels with at least one presence.")
	descPresenceUsers   = newDesc("ripple_presence_users", "Unique users present, summed over channels.")
	descPresenceChannel = newDesc("ripple_presence_channel_users", "Unique users present in a channel (the most populated channels only).", "channel")
)

// collector reads the counters at scrape time.
type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range statCounters {
		ch <- s.desc
	}
	for _, d := range []*prometheus.Desc{descHistoryChans, descHistoryPubs, descHistoryBytes, descConnections, descRejected, descClosed, descPresenceChans, descPresenceUsers, descPresenceChannel} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	if src := m.src.Load(); src != nil {
		stats := (*src).Stats()
		for _, s := range statCounters {
			ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, float64(s.get(stats)))
		}
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64((*src).Count()))
		if h, ok := (*src).(HistorySource); ok {
			hs := h.HistoryStats()
			ch <- prometheus.MustNewConstMetric(descHistoryChans, prometheus.GaugeValue, float64(hs.Channels))
			ch <- prometheus.MustNewConstMetric(descHistoryPubs, prometheus.GaugeValue, float64(hs.Publications))
			ch <- prometheus.MustNewConstMetric(descHistoryBytes, prometheus.GaugeValue, float64(hs.Bytes))
		}
	}
	for status := range m.rejected {
		if n := m.rejected[status].Load(); n > 0 {
			ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(n),
				strconv.Itoa(status), rejectReason(status))
		}
	}
	for code := range m.closed {
		if n := m.closed[code].Load(); n > 0 {
			label := strconv.Itoa(code)
			if code == 0 {
				label = "other"
			}
			ch <- prometheus.MustNewConstMetric(descClosed, prometheus.CounterValue, float64(n), label)
		}
	}
	if p := m.presence.Load(); p != nil {
		m.collectPresence(ch, *p)
	}
}

func (m *Metrics) collectPresence(ch chan<- prometheus.Metric, p Presence) {
	type channelUsers struct {
		name  string
		users int
	}
	names := p.Channels()
	counts := make([]channelUsers, 0, len(names))
	total, nonEmpty := 0, 0
	for _, name := range names {
		n := p.Count(name)
		if n == 0 {
			continue
		}
		total, nonEmpty = total+n, nonEmpty+1
		counts = append(counts, channelUsers{name, n})
	}
	ch <- prometheus.MustNewConstMetric(descPresenceChans, prometheus.GaugeValue, float64(nonEmpty))
	ch <- prometheus.MustNewConstMetric(descPresenceUsers, prometheus.GaugeValue, float64(total))
	if m.cfg.PresenceChannels < 0 {
		return
	}
	slices.SortFunc(counts, func(a, b channelUsers) int {
		return cmp.Or(cmp.Compare(b.users, a.users), strings.Compare(a.name, b.name))
	})
	for _, c := range counts[:min(len(counts), m.cfg.PresenceChannels)] {
		ch <- prometheus.MustNewConstMetric(descPresenceChannel, prometheus.GaugeValue, float64(c.users), c.name)
	}
}
