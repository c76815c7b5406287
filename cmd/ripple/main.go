// Command ripple is the dedicated Ripple server: WebSocket routes served by
// built-in handlers or by webhooks to a backend in any language, the HTTP
// API under /api/, Prometheus metrics at /metrics, /healthz and the chat
// demo page at /, all on one port.
//
//	go run ./cmd/ripple                              # the demo on http://localhost:8080
//	go run ./cmd/ripple -addr :9000 -api-key secret
//	go run ./cmd/ripple -config ripple.yaml          # see ripple.example.yaml
//	go run ./cmd/ripple -redis redis://127.0.0.1:6379 # one node of a cluster
//	go run ./cmd/ripple -h                           # every setting
//
// Every key of the YAML file is a flag name; flags given on the command line
// win over the file. SIGINT or SIGTERM drains the server: every connection
// gets close 1001 and its disconnect event, and the process exits 0 within
// -grace. docs/dedicated.md shows how to run it next to a Rails, Django or
// Node application.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ripple-rt/ripple/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "ripple:", err)
		os.Exit(1)
	}
}

// run loads the settings, serves until ctx ends, then drains. Logs and
// usage go to logw.
func run(ctx context.Context, argv []string, logw io.Writer) error {
	cfg, err := config.Load(argv, logw)
	if err != nil {
		return err
	}
	a, err := newApp(cfg, logw)
	if err != nil {
		return err
	}
	if err := a.start(); err != nil {
		return err
	}
	return a.serve(ctx)
}
