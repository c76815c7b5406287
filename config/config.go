package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/route"
)

// Config is the dedicated server's configuration. Default returns the
// values a bare `ripple` runs with; Load fills it from a YAML file and flags.
type Config struct {
	// File is the YAML file the settings were read from, "" for none.
	File string

	Addr   string // addr: listen address
	APIKey string // api-key: bearer key required on /api/ ("" = loopback only)

	Loops   int // loops: event loops (0 = one per CPU)
	Workers int // workers: handler goroutines of webhook routes (0 = automatic)

	MaxMessageSize   int // max-message-size
	MaxHandshakeSize int // max-handshake-size
	MaxOutbound      int // max-outbound: per-connection queued bytes before "slow consumer"
	SendBuffer       int // send-buffer: per-connection kernel send buffer (SO_SNDBUF)
	MaxPending       int // max-pending: per-connection events queued for a webhook route

	// MaxMessagesPerSecond is max-messages-per-second: a connection that
	// sends more (a burst of that many, refilled at that rate) is closed
	// with 1008 "rate limit" (0 = no limit).
	MaxMessagesPerSecond int
	// MaxBytesPerSecond is max-bytes-per-second, the same for the bytes of
	// its messages (0 = no limit).
	MaxBytesPerSecond int

	HandshakeTimeout time.Duration // handshake-timeout
	PingInterval     time.Duration // ping-interval (0 = no pings)
	IdleTimeout      time.Duration // idle-timeout (0 = never)
	CloseTimeout     time.Duration // close-timeout
	Grace            time.Duration // grace: how long SIGTERM waits for connections

	Compression    bool     // compression: permessage-deflate when offered
	AllowedOrigins []string // allowed-origins: Origin allow-list (empty = any)
	PresenceMode   string   // presence-mode: user or connection
	// PresenceInterval is presence-interval: a quiet channel publishes each
	// presence change at once; one whose changes come faster is batched, at
	// most one publication per interval (0 = every change at once).
	PresenceInterval time.Duration

	LogLevel  string // log-level: debug, info, warn, error
	LogFormat string // log-format: text or json
	Metrics   bool   // metrics: serve /metrics

	JWTSecret   string // jwt-secret: HS256 key; turns on token auth
	JWTIssuer   string // jwt-issuer: required "iss" when set
	JWTAudience string // jwt-audience: required "aud" when set

	Redis string // redis: cluster URL (empty = a single server)

	PhoenixPath    string        // phoenix-path: where Phoenix clients connect (/socket/websocket, /socket/longpoll)
	MaxChannels    int           // max-channels: channels one Phoenix connection may join
	LongPoll       bool          // longpoll: serve Phoenix's long-poll transport
	LongPollWindow time.Duration // longpoll-window: how long a long poll waits for messages
	// History is history: rules "<pattern>=<size>,<ttl>" giving channels a
	// history (package history); "none" for no channel. Default:
	// room:*=100,5m, the demo's rooms.
	History []string

	WebhookTimeout     time.Duration // webhook-timeout: per call
	WebhookConcurrency int           // webhook-concurrency: calls in flight per route
	WebhookOnError     string        // webhook-on-error: reject or accept
	WebhookSecret      string        // webhook-secret: HMAC key signing requests
	WebhookErrors      bool          // webhook-errors: post error events for invalid answers

	// Routes are the WebSocket routes; empty means DemoRoutes.
	Routes []Route
}

// Route maps a path pattern, or a Phoenix topic pattern, to a built-in
// handler or a webhook. After Load every webhook field and rate limit is
// filled in (from the global settings when the route does not set it) and
// Auth is one of AuthRequired, AuthOptional, AuthNone. On a topic, Auth
// applies to the join: with auth: required a join from a connection
// without a valid token is refused ("unauthorized"); the Phoenix socket
// itself checks a token only when one is given.
type Route struct {
	Path    string // path: "/ws/room/:room_id"
	Topic   string // topic: "room::room_id", "echo:*" (Phoenix channels); instead of path
	Handler string // handler: one of Builtins
	Webhook string // webhook: backend URL receiving the events

	PresenceUser string // presence-user: query (?user_id=) or jwt (the token's sub)
	Auth         string // auth: required, optional or none
	// TokenRefresh is token-refresh: a message {"type":"refresh","token":...}
	// renews the connection's token before it expires (needs auth).
	TokenRefresh bool

	// MaxMessagesPerSecond and MaxBytesPerSecond are the route's
	// max-messages-per-second and max-bytes-per-second: unset, the global
	// settings; 0 or off, no limit on this route. After Load each is the
	// route's limit, 0 for none.
	MaxMessagesPerSecond int
	MaxBytesPerSecond    int

	WebhookTimeout     time.Duration // webhook-timeout
	WebhookConcurrency int           // webhook-concurrency
	WebhookOnError     string        // webhook-on-error
	WebhookSecret      string        // webhook-secret
	WebhookErrors      bool          // webhook-errors
	webhookErrorsSet   bool          // webhook-errors was given for the route

	where string // for messages: "routes[1] (ripple.yaml:12)" or "-route /ws/x"
}

// Route auth policies.
const (
	AuthRequired = "required" // no valid token: 401
	AuthOptional = "optional" // a token, if any, must be valid
	AuthNone     = "none"     // tokens are ignored
)

// Webhook error policies: what a failed connect call does to the connection.
const (
	OnErrorReject = "reject"
	OnErrorAccept = "accept"
)

// Presence identity sources of the built-in presence route.
const (
	PresenceUserQuery = "query"
	PresenceUserJWT   = "jwt"
)

// Builtins are the names of the built-in handlers a route may use.
var Builtins = []string{"chat", "room", "presence", "echo", "shootout"}

// TopicBuiltins are the names of the built-in channel handlers a topic
// route may use (SPEC section 9): room (room:<id>, with presence from the
// join params) and echo (every push answered with its payload).
var TopicBuiltins = []string{"room", "echo"}

// DemoRoutes are the routes served when none are configured.
func DemoRoutes() []Route {
	return []Route{
		{Path: "/ws/chat", Handler: "chat"},
		{Path: "/ws/room/:room_id", Handler: "room"},
		{Path: "/ws/presence/:room_id", Handler: "presence"},
		{Path: "/ws/echo", Handler: "echo"},
		{Path: "/ws/shootout", Handler: "shootout"},
		{Topic: "room::room_id", Handler: "room"},
		{Topic: "echo:*", Handler: "echo"},
	}
}

// Errors.
var (
	ErrUnknownKey = errors.New("config: unknown key")
	ErrNotValid   = errors.New("config: invalid configuration")
)

// Default returns the settings of a bare `ripple`.
func Default() Config {
	return Config{
		Addr:               ":8080",
		MaxMessageSize:     64 << 10,
		MaxHandshakeSize:   8 << 10,
		MaxOutbound:        1 << 20,
		SendBuffer:         64 << 10,
		MaxPending:         1024,
		HandshakeTimeout:   10 * time.Second,
		PingInterval:       25 * time.Second,
		IdleTimeout:        60 * time.Second,
		CloseTimeout:       3 * time.Second,
		Grace:              10 * time.Second,
		Compression:        true,
		PresenceMode:       "user",
		PresenceInterval:   50 * time.Millisecond,
		LogLevel:           "info",
		LogFormat:          "text",
		Metrics:            true,
		WebhookTimeout:     5 * time.Second,
		WebhookConcurrency: 64,
		WebhookOnError:     OnErrorReject,
		PhoenixPath:        "/socket",
		MaxChannels:        100,
		LongPoll:           true,
		LongPollWindow:     10 * time.Second,
		History:            []string{"room:*=100,5m"},
	}
}

// setting is one key of the file and the flag of the same name.
type setting struct {
	name  string
	usage string
	value flag.Value
	list  bool // a YAML sequence is accepted
}

// settings binds every top-level key to c's fields. touched is shared by
// the list values so that each parse starts their lists afresh.
func (c *Config) settings(touched *parseState) []setting {
	return []setting{
		{name: "addr", usage: "listen `host:port` (port 0 picks a free one)", value: stringValue{p: &c.Addr}},
		{name: "api-key", usage: "bearer `key` required on /api/ (default: loopback clients only)", value: stringValue{p: &c.APIKey}},
		{name: "loops", usage: "`number` of event loops (0: one per CPU)", value: intValue{p: &c.Loops}},
		{name: "workers", usage: "`number` of goroutines running webhook calls (0: 4 per CPU, at least the webhook concurrency)", value: intValue{p: &c.Workers}},
		{name: "max-message-size", usage: "largest message a client may send, a `size` in bytes or with KiB/MiB (larger: close 1009)", value: sizeValue{p: &c.MaxMessageSize}},
		{name: "max-handshake-size", usage: "largest upgrade request head, a `size` (larger: 431)", value: sizeValue{p: &c.MaxHandshakeSize}},
		{name: "max-outbound", usage: "`size` queued for one connection before it is closed as a slow consumer (1008)", value: sizeValue{p: &c.MaxOutbound}},
		{name: "send-buffer", usage: "kernel send buffer of each connection (SO_SNDBUF, which Linux doubles), a `size`: a client that stops reading costs at most this plus max-outbound", value: sizeValue{p: &c.SendBuffer}},
		{name: "max-pending", usage: "`number` of events queued for one connection of a webhook route before it is closed (1008)", value: intValue{p: &c.MaxPending, min: 1}},
		{name: "max-messages-per-second", usage: "close a connection that sends more than this `number` of messages a second, in a burst of as many (1008 \"rate limit\"; 0: no limit)", value: intValue{p: &c.MaxMessagesPerSecond}},
		{name: "max-bytes-per-second", usage: "close a connection whose messages bring more than this `size` a second, in a burst of as many (1008 \"rate limit\"; 0: no limit)", value: sizeValue{p: &c.MaxBytesPerSecond, zero: true}},
		{name: "handshake-timeout", usage: "`duration` allowed for the upgrade request (then 408)", value: durationValue{p: &c.HandshakeTimeout}},
		{name: "ping-interval", usage: "ping a silent connection every `duration` (0: never)", value: durationValue{p: &c.PingInterval, allowZero: true}},
		{name: "idle-timeout", usage: "close a connection silent for this `duration` (0: never)", value: durationValue{p: &c.IdleTimeout, allowZero: true}},
		{name: "close-timeout", usage: "`duration` a client has to answer the server's close frame", value: durationValue{p: &c.CloseTimeout}},
		{name: "grace", usage: "`duration` SIGTERM waits for connections to close", value: durationValue{p: &c.Grace}},
		{name: "compression", usage: "negotiate permessage-deflate when clients offer it", value: boolValue{p: &c.Compression}},
		{name: "allowed-origins", usage: "comma-separated `origins` an upgrade may carry, * for any (default: any)", value: listValue{p: &c.AllowedOrigins, touched: &touched.origins}, list: true},
		{name: "presence-mode", usage: "presence diffs: user (multi-device) or connection (exact Phoenix) (`mode`)", value: stringValue{p: &c.PresenceMode, choices: []string{"user", "connection"}}},
		{name: "presence-interval", usage: "batch a busy channel's presence changes, at most one publication per `duration` once changes come faster than that; a quiet channel publishes each at once (0: every change at once)", value: durationValue{p: &c.PresenceInterval, allowZero: true}},
		{name: "log-level", usage: "`level`: debug, info, warn or error", value: stringValue{p: &c.LogLevel, choices: []string{"debug", "info", "warn", "error"}}},
		{name: "log-format", usage: "`format`: text or json", value: stringValue{p: &c.LogFormat, choices: []string{"text", "json"}}},
		{name: "metrics", usage: "serve Prometheus metrics at /metrics", value: boolValue{p: &c.Metrics}},
		{name: "jwt-secret", usage: "HS256 `secret`: WebSocket clients must present a JWT (?token= or Authorization: Bearer) whose sub is the user id", value: stringValue{p: &c.JWTSecret}},
		{name: "jwt-issuer", usage: "required iss `claim` of tokens", value: stringValue{p: &c.JWTIssuer}},
		{name: "jwt-audience", usage: "required aud `claim` of tokens", value: stringValue{p: &c.JWTAudience}},
		{name: "phoenix-path", usage: "`path` Phoenix clients connect to: path/websocket and path/longpoll (new Socket(path) in phoenix.js)", value: stringValue{p: &c.PhoenixPath}},
		{name: "max-channels", usage: "`number` of channels one Phoenix connection may join (more: refused; a flood of refused joins: close 1008)", value: intValue{p: &c.MaxChannels, min: 1}},
		{name: "longpoll", usage: "serve Phoenix's long-poll transport (phoenix.js longPollFallbackMs)", value: boolValue{p: &c.LongPoll}},
		{name: "history", usage: "give the channels matching a `rule` a history a Phoenix client recovers from on rejoin (POST /api/history reads it): <pattern>=<size>,<ttl>, the pattern a channel name or a prefix and *; repeat for more rules, none for no history", value: listValue{p: &c.History, touched: &touched.history, whole: true}, list: true},
		{name: "longpoll-window", usage: "`duration` a long poll waits for messages; a session not polled for two windows is closed", value: durationValue{p: &c.LongPollWindow}},
		{name: "redis", usage: "join the cluster of the nodes sharing this Redis `URL` (redis://host:6379[/db]; default: a single server)", value: stringValue{p: &c.Redis}},
		{name: "webhook-timeout", usage: "default `duration` limit of a webhook call", value: durationValue{p: &c.WebhookTimeout}},
		{name: "webhook-concurrency", usage: "default `number` of webhook calls in flight per route", value: intValue{p: &c.WebhookConcurrency, min: 1}},
		{name: "webhook-on-error", usage: "default `policy` for a failed connect call: reject (close the connection) or accept", value: stringValue{p: &c.WebhookOnError, choices: []string{OnErrorReject, OnErrorAccept}}},
		{name: "webhook-secret", usage: "default HMAC-SHA256 `secret` signing webhook requests (X-Ripple-Signature)", value: stringValue{p: &c.WebhookSecret}},
		{name: "webhook-errors", usage: "by default, post {\"type\":\"error\",\"connection_id\",\"error\"} to a webhook route's backend when its answer is not valid actions or an action fails", value: boolValue{p: &c.WebhookErrors}},
		{name: "route", usage: "`PATTERN=HANDLER` or PATTERN=URL[,key=value...], repeatable; replaces the configured routes (YAML key: routes)", value: routeValue{&c.Routes, &touched.routes}},
	}
}

// routeSettings binds the keys of one route.
func routeSettings(r *Route) []setting {
	return []setting{
		{name: "path", value: stringValue{p: &r.Path}},
		{name: "topic", value: stringValue{p: &r.Topic}},
		{name: "handler", value: stringValue{p: &r.Handler, choices: Builtins}}, // TopicBuiltins are among them
		{name: "webhook", value: stringValue{p: &r.Webhook}},
		{name: "presence-user", value: stringValue{p: &r.PresenceUser, choices: []string{PresenceUserQuery, PresenceUserJWT}}},
		{name: "auth", value: stringValue{p: &r.Auth, choices: []string{AuthRequired, AuthOptional, AuthNone}}},
		{name: "webhook-timeout", value: durationValue{p: &r.WebhookTimeout}},
		{name: "webhook-concurrency", value: intValue{p: &r.WebhookConcurrency, min: 1}},
		{name: "webhook-on-error", value: stringValue{p: &r.WebhookOnError, choices: []string{OnErrorReject, OnErrorAccept}}},
		{name: "webhook-secret", value: stringValue{p: &r.WebhookSecret}},
		{name: "webhook-errors", value: boolValue{p: &r.WebhookErrors, set: &r.webhookErrorsSet}},
		{name: "token-refresh", value: boolValue{p: &r.TokenRefresh}},
		{name: "max-messages-per-second", value: limitValue{p: &r.MaxMessagesPerSecond}},
		{name: "max-bytes-per-second", value: limitValue{p: &r.MaxBytesPerSecond, size: true}},
	}
}

// parseState tracks which lists a parse has started, so that the first
// value replaces what the file said and later ones append.
type parseState struct{ origins, routes, history bool }

// flagSet returns a FlagSet writing into c, plus -config.
func (c *Config) flagSet(file *string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ripple", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(file, "config", "", "YAML `file` of settings; every key is a flag name, and flags given too win")
	for _, s := range c.settings(&parseState{}) {
		fs.Var(s.value, s.name, s.usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ripple [-config ripple.yaml] [flags]\n\n")
		fs.PrintDefaults()
	}
	return fs
}

// Load reads the settings: defaults, then the YAML file named by -config,
// then the other flags of argv, which win over the file. It returns
// flag.ErrHelp after printing the usage to out for -h.
func Load(argv []string, out io.Writer) (*Config, error) {
	c := Default()
	var file string
	fs := c.flagSet(&file, io.Discard) // errors are returned, not printed
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fs.Usage()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q (settings are flags: -name value)", ErrNotValid, fs.Arg(0))
	}
	if file != "" {
		c = Default()
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := c.decodeYAML(file, data); err != nil {
			return nil, err
		}
		// Flags win: parse them again over the file's values.
		var again string
		if err := c.flagSet(&again, io.Discard).Parse(argv); err != nil {
			return nil, err
		}
		c.File = file
	}
	if err := c.Resolve(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) decodeYAML(name string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil
	}
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: the file must be a mapping of settings (key: value)", name, top.Line)
	}
	state := &parseState{}
	var settings []setting // the -route flag is the file's routes key
	for _, s := range c.settings(state) {
		if s.name != "route" {
			settings = append(settings, s)
		}
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		at := fmt.Sprintf("%s:%d", name, k.Line)
		if k.Value == "routes" {
			if state.routes {
				return fmt.Errorf("%s: routes: set twice", at)
			}
			state.routes = true
			routes, err := decodeRoutes(name, v)
			if err != nil {
				return err
			}
			c.Routes = routes
			continue
		}
		s, ok := lookup(settings, k.Value)
		if !ok {
			if k.Value == "route" {
				return fmt.Errorf("%s: %w %q (did you mean routes?)", at, ErrUnknownKey, k.Value)
			}
			return fmt.Errorf("%s: %w %q%s", at, ErrUnknownKey, k.Value, suggest(settings, k.Value, "routes"))
		}
		if err := setNode(s, v, seenKey(top.Content[:i], k.Value)); err != nil {
			return fmt.Errorf("%s: %s: %w", at, k.Value, err)
		}
	}
	return nil
}

// seenKey reports whether key already appears among the keys of pairs.
func seenKey(pairs []*yaml.Node, key string) bool {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i].Value == key {
			return true
		}
	}
	return false
}

// setNode sets s from a YAML value: a scalar goes through the flag's Set; a
// sequence is allowed for lists.
func setNode(s setting, v *yaml.Node, dup bool) error {
	if dup {
		return errors.New("set twice")
	}
	switch v.Kind {
	case yaml.ScalarNode:
		val := v.Value
		if v.Tag == "!!null" {
			val = ""
		}
		return s.value.Set(val)
	case yaml.SequenceNode:
		if !s.list {
			return errors.New("want a single value, not a list")
		}
		if len(v.Content) == 0 {
			return s.value.Set("")
		}
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a plain value in the list", item.Line)
			}
			if err := s.value.Set(item.Value); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("want a single value, not a mapping")
}

func decodeRoutes(name string, v *yaml.Node) ([]Route, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: routes: want a list of routes (- path: ... handler: ...)", name, v.Line)
	}
	routes := make([]Route, 0, len(v.Content))
	for i, item := range v.Content {
		r := Route{where: fmt.Sprintf("routes[%d] (%s:%d)", i, name, item.Line)}
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: want a mapping with path and handler or webhook", r.where)
		}
		settings := routeSettings(&r)
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, val := item.Content[j], item.Content[j+1]
			at := fmt.Sprintf("%s:%d: routes[%d]", name, k.Line, i)
			s, ok := lookup(settings, k.Value)
			if !ok {
				return nil, fmt.Errorf("%s: %w %q%s", at, ErrUnknownKey, k.Value, suggest(settings, k.Value))
			}
			if err := setNode(s, val, seenKey(item.Content[:j], k.Value)); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", at, k.Value, err)
			}
		}
		routes = append(routes, r)
	}
	return routes, nil
}

func lookup(settings []setting, name string) (setting, bool) {
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// suggest names the key a misspelt one probably meant (snake_case for
// kebab-case, mostly).
func suggest(settings []setting, key string, extra ...string) string {
	want := strings.ToLower(strings.ReplaceAll(key, "_", "-"))
	names := extra
	for _, s := range settings {
		names = append(names, s.name)
	}
	var bySuffix []string
	for _, n := range names {
		if n == want || strings.ReplaceAll(n, "-", "") == strings.ReplaceAll(want, "-", "") {
			return fmt.Sprintf(" (did you mean %s?)", n)
		}
		if strings.HasSuffix(n, "-"+want) {
			bySuffix = append(bySuffix, n)
		}
	}
	if len(bySuffix) == 1 {
		return fmt.Sprintf(" (did you mean %s?)", bySuffix[0])
	}
	return " (known keys: " + strings.Join(names, ", ") + ")"
}

// Resolve checks the settings together and fills in what routes inherit.
// Errors name the offending key.
func (c *Config) Resolve() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrNotValid}, args...)...)
	}
	if c.JWTSecret == "" && (c.JWTIssuer != "" || c.JWTAudience != "") {
		return fail("jwt-issuer and jwt-audience need jwt-secret")
	}
	if _, err := presence.ParseMode(c.PresenceMode); err != nil {
		return fail("presence-mode: %v", err)
	}
	if len(c.Routes) == 0 {
		c.Routes = DemoRoutes()
	}
	if _, err := c.historyRules(); err != nil {
		return fail("history: %v", err)
	}
	if !strings.HasPrefix(c.PhoenixPath, "/") || strings.HasSuffix(c.PhoenixPath, "/") {
		return fail("phoenix-path: %q must start with / and not end with one", c.PhoenixPath)
	}
	var table route.Table[int]
	var topics route.Topics[int]
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.where == "" {
			r.where = fmt.Sprintf("routes[%d]", i)
		}
		builtins := Builtins
		switch {
		case r.Path != "" && r.Topic != "":
			return fail("%s: set path or topic, not both", r.where)
		case r.Topic != "":
			builtins = TopicBuiltins
			if err := topics.Add(r.Topic, i); err != nil {
				return fail("%s: topic %q: %v", r.where, r.Topic, err)
			}
		default:
			if err := table.Add(r.Path, i); err != nil {
				return fail("%s: path %q: %v", r.where, r.Path, err)
			}
		}
		switch {
		case r.Handler == "" && r.Webhook == "":
			return fail("%s: set handler (%s) or webhook (a URL)", r.where, strings.Join(builtins, ", "))
		case r.Handler != "" && r.Webhook != "":
			return fail("%s: set handler or webhook, not both", r.where)
		case r.Handler != "" && !slices.Contains(builtins, r.Handler):
			return fail("%s: handler: %q is not one of %s", r.where, r.Handler, strings.Join(builtins, ", "))
		}
		if r.Webhook != "" {
			u, err := url.Parse(r.Webhook)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fail("%s: webhook: %q is not an http:// or https:// URL", r.where, r.Webhook)
			}
			if r.WebhookTimeout == 0 {
				r.WebhookTimeout = c.WebhookTimeout
			}
			if r.WebhookConcurrency == 0 {
				r.WebhookConcurrency = c.WebhookConcurrency
			}
			if r.WebhookOnError == "" {
				r.WebhookOnError = c.WebhookOnError
			}
			if r.WebhookSecret == "" {
				r.WebhookSecret = c.WebhookSecret
			}
			if !r.webhookErrorsSet {
				r.WebhookErrors = c.WebhookErrors
			}
		} else if r.WebhookTimeout != 0 || r.WebhookConcurrency != 0 || r.WebhookOnError != "" || r.WebhookSecret != "" || r.webhookErrorsSet {
			return fail("%s: webhook-* keys need webhook", r.where)
		}
		r.MaxMessagesPerSecond = inheritLimit(r.MaxMessagesPerSecond, c.MaxMessagesPerSecond)
		r.MaxBytesPerSecond = inheritLimit(r.MaxBytesPerSecond, c.MaxBytesPerSecond)
		switch {
		case r.Auth == "" && c.JWTSecret != "":
			r.Auth = AuthRequired
		case r.Auth == "":
			r.Auth = AuthNone
		case r.Auth != AuthNone && c.JWTSecret == "":
			return fail("%s: auth: %s needs jwt-secret", r.where, r.Auth)
		}
		if r.TokenRefresh && r.Auth == AuthNone {
			return fail("%s: token-refresh needs jwt-secret and auth: required or optional", r.where)
		}
		switch {
		case r.PresenceUser == "":
			if r.Handler == "presence" {
				r.PresenceUser = PresenceUserQuery
			}
		case r.Handler != "presence":
			return fail("%s: presence-user applies to handler: presence only (a webhook receives the user in its events)", r.where)
		case r.PresenceUser == PresenceUserJWT && r.Auth != AuthRequired:
			return fail("%s: presence-user: jwt needs auth: required and jwt-secret", r.where)
		}
	}
	return nil
}

// inheritLimit is a route's rate limit: its own, none (limitOff), or the
// global one when unset (0).
func inheritLimit(route, global int) int {
	switch {
	case route == limitOff:
		return 0
	case route == 0:
		return global
	}
	return route
}

// SlogLevel is the slog level of the log-level setting.
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return l
}

// Engine returns the server limits of c as a ripple.Config (handlers,
// logger, observer and auth are the caller's to add).
func (c *Config) Engine() ripple.Config {
	rules, _ := c.historyRules() // checked by Resolve
	mode, _ := presence.ParseMode(c.PresenceMode)
	off := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1 // the engine's "disabled"
		}
		return d
	}
	return ripple.Config{
		Loops:                c.Loops,
		Workers:              c.Workers,
		MaxMessageSize:       c.MaxMessageSize,
		MaxHandshakeSize:     c.MaxHandshakeSize,
		HandshakeTimeout:     c.HandshakeTimeout,
		PingInterval:         off(c.PingInterval),
		IdleTimeout:          off(c.IdleTimeout),
		CloseTimeout:         c.CloseTimeout,
		MaxOutbound:          c.MaxOutbound,
		SendBuffer:           c.SendBuffer,
		MaxPending:           c.MaxPending,
		MaxMessagesPerSecond: c.MaxMessagesPerSecond,
		MaxBytesPerSecond:    c.MaxBytesPerSecond,
		DisableCompression:   !c.Compression,
		AllowedOrigins:       c.AllowedOrigins,
		PresenceMode:         mode,
		PresenceInterval:     off(c.PresenceInterval),
		PhoenixPath:          c.PhoenixPath,
		MaxChannels:          c.MaxChannels,
		DisableLongPoll:      !c.LongPoll,
		LongPollWindow:       c.LongPollWindow,
		History:              rules,
	}
}

// Where says where the route was configured, for messages.
func (r *Route) Where() string { return r.where }

// historyRules parses the history setting.
func (c *Config) historyRules() (history.Rules, error) {
	var rs history.Rules
	for _, s := range c.History {
		if s == "none" {
			continue
		}
		r, err := history.ParseRule(s)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}
