// Command orm-hmr-ferretdb runs FerretDB (a MongoDB wire-protocol server) on SQLite,
// embedded through its public package. We avoid `go install .../cmd/ferretdb`: that
// binary panics at start-up because version.txt is only written by FerretDB's own build.
//
// It listens on the given loopback address (port 0 picks a free port) and prints one
// line `ready mongodb://host:port/` once it accepts connections, so the Node side
// knows where to connect. It exits when stdin closes or on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on (loopback)")
	dir := flag.String("dir", "", "directory for the SQLite databases (required)")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	watchStdin := flag.Bool("watch-stdin", true, "exit when stdin closes (the parent died)")
	flag.Parse()

	if *dir == "" {
		log.Fatal("-dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		log.Fatal(err)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/",
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI blocks until the listener is bound, so "ready" means connectable.
	fmt.Printf("ready %s\n", f.MongoDBURI())

	if err := <-done; err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
