package main

import (
	"context"
	"log/slog"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/config"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/webhook"
)

// builtins maps config.Builtins to the handlers package.
var builtins = map[string]ripple.Handler{
	"chat":     handlers.Chat,
	"room":     handlers.Room,
	"presence": handlers.Presence,
	"echo":     handlers.Echo,
	"shootout": handlers.Shootout,
}

// channelBuiltins maps config.TopicBuiltins to the handlers package.
var channelBuiltins = map[string]ripple.Handler{
	"room": handlers.RoomChannel,
	"echo": handlers.EchoChannel,
}

// handleTopic registers one configured Phoenix topic.
func (a *app) handleTopic(r *config.Route) error {
	var h ripple.Handler
	var opts []ripple.RouteOption
	if r.Webhook != "" {
		if r.WebhookSecret == "" {
			a.log.Warn("webhook requests are not signed: set webhook-secret", "topic", r.Topic)
		}
		wc := a.webhookConfig(r)
		wc.Route = r.Topic
		wh, err := webhook.New(wc)
		if err != nil {
			return err
		}
		h, opts = wh.Handle, []ripple.RouteOption{ripple.Workers()}
	} else {
		h = channelBuiltins[r.Handler]
	}
	if r.Auth == config.AuthRequired {
		h = joinNeedsUser(h)
	}
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		h = loggedChannel(a.log, r.Topic, h)
	}
	return a.srv.Channel(r.Topic, h, opts...)
}

// joinNeedsUser refuses the joins of connections without a user (no
// valid token): the socket checks a token only when one is given, so a
// topic with auth: required checks at its join.
func joinNeedsUser(h ripple.Handler) ripple.Handler {
	return func(ev *ripple.Event) ripple.Reply {
		if ev.Type == ripple.Connect && ev.User == "" {
			return ripple.Reply{Reply: ripple.ReplyError("unauthorized")}
		}
		return h(ev)
	}
}

// loggedChannel logs a channel's joins and ends at debug level.
func loggedChannel(log *slog.Logger, pattern string, h ripple.Handler) ripple.Handler {
	return func(ev *ripple.Event) ripple.Reply {
		switch ev.Type {
		case ripple.Connect:
			log.Debug("channel join", "conn", ev.ConnectionID, "channel", pattern, "topic", ev.Topic, "user", ev.User)
		case ripple.Disconnect:
			log.Debug("channel end", "conn", ev.ConnectionID, "channel", pattern, "topic", ev.Topic, "why", ev.Name)
		}
		return h(ev)
	}
}

// handle registers one configured route.
func (a *app) handle(r *config.Route) error {
	if r.Topic != "" {
		return a.handleTopic(r)
	}
	var h ripple.Handler
	var opts []ripple.RouteOption
	if r.Webhook != "" {
		if r.WebhookSecret == "" {
			a.log.Warn("webhook requests are not signed: set webhook-secret", "route", r.Path)
		}
		wh, err := webhook.New(a.webhookConfig(r))
		if err != nil {
			return err
		}
		h, opts = wh.Handle, []ripple.RouteOption{ripple.Workers(), ripple.OnActionError(wh.ActionError)}
	} else {
		h = builtins[r.Handler]
		if r.PresenceUser == config.PresenceUserJWT {
			h = presenceAsUser(h)
		}
	}
	opts = append(opts, ripple.RateLimit(limitOrNone(r.MaxMessagesPerSecond), limitOrNone(r.MaxBytesPerSecond)))
	if r.TokenRefresh {
		opts = append(opts, ripple.TokenRefresh())
	}
	if r.MaxBytesPerSecond > 0 && r.MaxBytesPerSecond < a.cfg.MaxMessageSize {
		a.log.Warn("max-bytes-per-second is below max-message-size: a message larger than it closes its connection",
			"route", r.Path, "max-bytes-per-second", r.MaxBytesPerSecond, "max-message-size", a.cfg.MaxMessageSize)
	}
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		h = logged(a.log, r.Path, h)
	}
	return a.srv.Handle(r.Path, h, opts...)
}

// limitOrNone is a resolved route limit as a RateLimit argument: 0, none,
// becomes negative (0 would mean the server's).
func limitOrNone(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func (a *app) webhookConfig(r *config.Route) webhook.Config {
	wc := webhook.Config{
		URL:         r.Webhook,
		Route:       r.Path,
		Secret:      r.WebhookSecret,
		Timeout:     r.WebhookTimeout,
		Concurrency: r.WebhookConcurrency,
		Logger:      a.log,
		// 1008 when the backend refused the connection, 1011 when it failed.
		Close:            func(id string, code codec.CloseCode, reason string) { a.srv.CloseWith(id, code, reason) },
		StripCredentials: r.Auth != config.AuthNone,
		ReportErrors:     r.WebhookErrors,
	}
	if r.WebhookOnError == config.OnErrorAccept {
		wc.OnError = webhook.Accept
	}
	if a.metrics != nil {
		wc.Observer = a.metrics
	}
	return wc
}

// presenceAsUser makes the built-in presence handler use the connection's
// authenticated user (the token's sub) as its user_id instead of the
// ?user_id= query parameter, for tracking and for stamping messages.
func presenceAsUser(h ripple.Handler) ripple.Handler {
	return func(ev *ripple.Event) ripple.Reply {
		if ev.Type == ripple.Disconnect || ev.Request == nil {
			return h(ev)
		}
		req := *ev.Request
		q := req.Query()
		q.Set("user_id", ev.User)
		q.Del("token")
		req.RawQuery = q.Encode()
		as := *ev
		as.Request = &req
		return h(&as)
	}
}

// logged logs a route's connection events at debug level.
func logged(log *slog.Logger, pattern string, h ripple.Handler) ripple.Handler {
	return func(ev *ripple.Event) ripple.Reply {
		switch ev.Type {
		case ripple.Connect:
			log.Debug("connection open", "conn", ev.ConnectionID, "route", pattern, "user", ev.User,
				"remote", ev.Request.RemoteAddr())
		case ripple.Disconnect:
			log.Debug("connection closed", "conn", ev.ConnectionID, "route", pattern, "user", ev.User)
		}
		return h(ev)
	}
}
