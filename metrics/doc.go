// Package metrics exports a Ripple server's state to Prometheus.
//
// Metrics is three things at once:
//
//   - an engine observer (set it as ripple.Config.Observer) that records
//     loop queue delays in a histogram and counts close codes and refused
//     upgrades in fixed arrays of atomic counters;
//   - a webhook observer (webhook.Config.Observer) that records call
//     latency by route, event and outcome;
//   - a collector that reads the server's counters (ripple.Server.Stats,
//     Count) and the presence registry at scrape time, so that the hot paths
//     (messages, broadcasts) cost nothing here.
//
// Wiring it up:
//
//	m := metrics.New(metrics.Config{})
//	srv := ripple.New(ripple.Config{Observer: m, HTTPHandler: mux})
//	m.Watch(srv)
//	mux.Handle("/metrics", m.Handler())
//
// Every name starts with ripple_; the Go runtime and process collectors are
// registered too. Per-channel presence is exported for the largest
// Config.PresenceChannels channels only, to bound the number of series.
//
// What it does not own: the HTTP server and the counters themselves
// (engine.Stats). Goroutines: observer methods are called on event loops
// and worker goroutines and never block; Watch and WatchPresence are called
// before serving; scrapes may run concurrently with everything.
package metrics
