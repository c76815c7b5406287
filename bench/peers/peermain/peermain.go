package peermain

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// ServeFunc serves the bench protocol on ln until ctx ends.
type ServeFunc func(ctx context.Context, ln net.Listener, log *slog.Logger) error

// Main runs a peer server named name: `-addr host:port` (default
// 127.0.0.1:0). It prints "listening on ws://ADDR" on stdout once accepting,
// and exits 0 on SIGTERM or SIGINT.
func Main(name string, serve ServeFunc) {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-addr host:port]\n\n"+
			"%s is a peer server of ripple-bench (bench/README.md).\n\n", name, name)
		flag.PrintDefaults()
	}
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Printf("%s listening on ws://%s\n", name, ln.Addr())
	if err := serve(ctx, ln, log); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
