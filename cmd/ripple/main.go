// Command ripple is the dedicated Ripple server: the demo app (the chat page
// at / and the /ws/... routes), the HTTP API under /api/ and the WebSocket
// engine, all on one port.
//
//	go run ./cmd/ripple                  # http://localhost:8080
//	go run ./cmd/ripple -addr :9000 -api-key secret
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/handlers"
	"github.com/ripple-rt/ripple/httpapi"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/web"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ripple:", err)
		os.Exit(1)
	}
}

func run(argv []string) error {
	fs := flag.NewFlagSet("ripple", flag.ContinueOnError)
	var (
		addr         = fs.String("addr", ":8080", "listen address (host:port)")
		apiKey       = fs.String("api-key", "", "require this bearer key on /api/ (default: loopback clients only)")
		maxMsg       = fs.Int("max-message-size", 64<<10, "largest message a client may send, in bytes (larger: close 1009)")
		loops        = fs.Int("loops", 0, "event loops (default: one per CPU)")
		presenceMode = fs.String("presence-mode", "user", "presence diffs: user (multi-device) or connection (exact Phoenix)")
		grace        = fs.Duration("grace", 10*time.Second, "how long SIGTERM waits for connections to close")
		logLevel     = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(argv); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	mode, err := presence.ParseMode(*presenceMode)
	if err != nil {
		return fmt.Errorf("-presence-mode: %w", err)
	}
	if *maxMsg <= 0 {
		return errors.New("-max-message-size must be positive")
	}

	mux := http.NewServeMux()
	srv := ripple.New(ripple.Config{
		Loops:          *loops,
		MaxMessageSize: *maxMsg,
		PresenceMode:   mode,
		HTTPHandler:    mux,
		Logger:         log,
	})
	mux.Handle(httpapi.Prefix, httpapi.New(srv, httpapi.Config{APIKey: *apiKey}))
	mux.Handle("/", web.Handler())
	if err := handlers.Register(srv); err != nil {
		return err
	}
	if err := srv.Start(*addr); err != nil {
		return err
	}
	log.Info("ripple listening", "url", displayURL(srv.Addr()), "routes", "/ws/chat /ws/room/:room_id /ws/presence/:room_id /ws/echo /ws/shootout", "api", httpapi.Prefix)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String(), "connections", srv.Count())
	case <-srv.Done():
		return errors.New("server stopped unexpectedly")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown grace period ended with connections still open", "err", err)
	}
	log.Info("stopped")
	return nil
}

// displayURL turns the listen address into a URL a person can open.
func displayURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}
