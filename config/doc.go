// Package config holds the dedicated server's settings: defaults, a YAML
// file and command-line flags, one setting per flag.
//
// Every key of the file is the name of a flag, spelt the same
// (max-message-size, jwt-secret, webhook-timeout, ...), and both go through
// the same parser, so they accept the same values: sizes as bytes or with
// KiB/MiB/GiB, durations as Go durations ("10s"), lists as YAML sequences
// or comma-separated strings. Load applies, in order: Default, the file
// named by -config, then the other flags, which win. The routes key is a
// list of routes; its flag form is the repeatable -route PATTERN=TARGET.
//
// Unknown keys and invalid values are errors that name the key and, for the
// file, its line: "ripple.yaml:7: max-message-size: config: invalid size".
// Resolve checks the settings together (a route needs a handler or a
// webhook, presence-user: jwt needs jwt-secret, ...) and fills in what
// routes inherit from the global webhook-* settings.
//
// What it does not own: building the server from the settings (cmd/ripple
// does that; Engine gives the server limits as a ripple.Config).
//
// Goroutines: a Config is a plain value, built once at start-up and read
// afterwards; nothing here runs concurrently.
package config
