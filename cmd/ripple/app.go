package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/auth"
	"github.com/ripple-rt/ripple/config"
	"github.com/ripple-rt/ripple/httpapi"
	"github.com/ripple-rt/ripple/metrics"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/route"
	"github.com/ripple-rt/ripple/web"
)

// app is one configured server.
type app struct {
	// Immutable after newApp.
	cfg     *config.Config
	log     *slog.Logger
	srv     *ripple.Server
	metrics *metrics.Metrics // nil with metrics: false
	routes  []string         // patterns, for the start-up line

	draining atomic.Bool // set when the shutdown starts; /healthz says so
}

// newLogger builds the slog logger of the log-level and log-format settings.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newApp builds the server of cfg: routes, auth, API, metrics and the demo
// page, and with the redis setting joins the cluster. Nothing listens yet.
func newApp(cfg *config.Config, logw io.Writer) (*app, error) {
	a := &app{cfg: cfg, log: newLogger(cfg, logw)}
	mux := http.NewServeMux()
	ecfg := cfg.Engine()
	ecfg.HTTPHandler = mux
	ecfg.Logger = a.log
	ecfg.Workers = workers(cfg)
	if cfg.Metrics {
		a.metrics = metrics.New(metrics.Config{})
		ecfg.Observer = a.metrics
	}
	if cfg.JWTSecret != "" {
		if len(cfg.JWTSecret) < 32 {
			a.log.Warn("jwt-secret is short: use at least 32 random bytes for HS256")
		}
		hook, refresh, err := authHooks(cfg)
		if err != nil {
			return nil, err
		}
		ecfg.Authenticate, ecfg.Refresh = hook, refresh
	}
	a.srv = ripple.New(ecfg)
	if a.metrics != nil {
		a.metrics.Watch(localSource{a.srv})
		// The presence registry is reachable once the server exposes it. In
		// cluster mode presences live in Redis and the registry stays empty.
		if p, ok := any(a.srv).(interface{ Presence() *presence.Registry }); ok && cfg.Redis == "" {
			a.metrics.WatchPresence(p.Presence())
		}
		mux.Handle("/metrics", a.metrics.Handler())
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if err := a.handle(r); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Where(), err)
		}
		a.routes = append(a.routes, r.Path+r.Topic)
	}
	mux.Handle(httpapi.Prefix, httpapi.New(a.srv, httpapi.Config{APIKey: cfg.APIKey}))
	mux.HandleFunc("/healthz", a.healthz)
	mux.Handle("/", web.Handler())
	if cfg.Redis != "" {
		if err := a.joinCluster(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// workers sizes the pool that runs webhook calls: the workers setting, or
// enough goroutines for every webhook route's concurrency (at least the
// engine's default of 4 per CPU).
func workers(cfg *config.Config) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	n := 0
	for _, r := range cfg.Routes {
		if r.Webhook != "" {
			n += r.WebhookConcurrency
		}
	}
	if n == 0 {
		return 0 // the engine's default
	}
	return max(n, 4*runtime.NumCPU())
}

// authHooks verifies tokens on the routes that ask for them: at the
// upgrade (a connection is closed with 4001 when its token expires) and in
// the refresh messages of token-refresh routes.
func authHooks(cfg *config.Config) (func(*ripple.Request) (ripple.Credentials, error), func(string) (ripple.Credentials, error), error) {
	v, err := auth.New(auth.Config{Secret: []byte(cfg.JWTSecret), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience})
	if err != nil {
		return nil, nil, err
	}
	var policies route.Table[string]
	topics := false
	for _, r := range cfg.Routes {
		if r.Topic != "" {
			topics = true
			continue
		}
		if err := policies.Add(r.Path, r.Auth); err != nil {
			return nil, nil, err
		}
	}
	// The Phoenix socket checks a token when one is given; a topic that
	// needs a user refuses the joins of those without (joinNeedsUser).
	if topics {
		for _, p := range []string{cfg.PhoenixPath + "/websocket", cfg.PhoenixPath + "/longpoll"} {
			if err := policies.Add(p, config.AuthOptional); err != nil {
				return nil, nil, err
			}
		}
	}
	return func(req *ripple.Request) (ripple.Credentials, error) {
		switch policy, _, _ := policies.Match(req.Path); policy {
		case config.AuthRequired:
			return v.RequiredCredentials(req)
		case config.AuthOptional:
			return v.OptionalCredentials(req)
		}
		return ripple.Credentials{}, nil
	}, v.Credentials, nil
}

// healthz answers 200 "ok" while serving and 503 once draining. A cluster
// node that is fenced (found dead by the others, re-announcing its
// connections) still serves its clients: 200 "ok fenced".
func (a *app) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "draining\n")
		return
	}
	if n := a.srv.Node(); n != nil && n.Fenced() {
		_, _ = io.WriteString(w, "ok fenced\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// start listens on the addr setting and logs the URL it serves.
func (a *app) start() error {
	if err := a.srv.Start(a.cfg.Addr); err != nil {
		if n := a.srv.Node(); n != nil {
			_ = n.Close()
		}
		return err
	}
	attrs := []any{"url", displayURL(a.srv.Addr()), "routes", strings.Join(a.routes, " "), "api", httpapi.Prefix}
	if a.metrics != nil {
		attrs = append(attrs, "metrics", "/metrics")
	}
	if a.cfg.File != "" {
		attrs = append(attrs, "config", a.cfg.File)
	}
	if n := a.srv.Node(); n != nil {
		attrs = append(attrs, "cluster_node", n.ID())
	}
	a.log.Info("ripple listening", attrs...)
	return nil
}

// serve waits for ctx to end, then drains within the grace setting.
func (a *app) serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "connections", a.srv.LocalCount(), "grace", a.cfg.Grace)
	case <-a.srv.Done():
		return errors.New("server stopped unexpectedly")
	}
	return a.shutdown()
}

func (a *app) shutdown() error {
	a.draining.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Grace)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.log.Warn("grace period ended with connections still open", "err", err)
	}
	a.log.Info("stopped")
	return nil
}

// displayURL turns the listen address into a URL a person can open.
func displayURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String() + "/"
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}
