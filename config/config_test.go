package config_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/config"
)

// writeFile writes a config file into a temporary directory.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ripple.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.MaxMessageSize != 64<<10 || c.Grace != 10*time.Second || !c.Metrics || !c.Compression {
		t.Fatalf("defaults: %+v", c)
	}
	var paths []string
	for _, r := range c.Routes {
		paths = append(paths, r.Path+r.Topic+"="+r.Handler)
		if r.Auth != config.AuthNone {
			t.Errorf("%s: auth %q without jwt-secret", r.Path, r.Auth)
		}
	}
	want := "/ws/chat=chat /ws/room/:room_id=room /ws/presence/:room_id=presence /ws/echo=echo /ws/shootout=shootout room::room_id=room echo:*=echo"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("routes %s, want %s", got, want)
	}
	e := c.Engine()
	if e.MaxMessageSize != 64<<10 || e.PingInterval != 25*time.Second || e.IdleTimeout != 60*time.Second || e.DisableCompression ||
		e.PhoenixPath != "/socket" || e.MaxChannels != 100 || e.DisableLongPoll || e.LongPollWindow != 10*time.Second {
		t.Fatalf("engine config %+v", e)
	}
}

func TestFileAndFlags(t *testing.T) {
	file := writeFile(t, `
addr: 127.0.0.1:9000
api-key: k1
max-message-size: 1MiB
max-outbound: "262144"
send-buffer: 32KiB
ping-interval: 0
idle-timeout: 2m
compression: false
allowed-origins:
  - https://a.example
  - https://b.example
presence-mode: connection
log-format: json
jwt-secret: s3cret
webhook-timeout: 3s
webhook-secret: hooks
max-messages-per-second: 50
max-bytes-per-second: 64KiB
routes:
  - path: /ws/presence/:room_id
    handler: presence
    presence-user: jwt
    token-refresh: true
    max-messages-per-second: 5
  - path: /ws/public
    handler: echo
    auth: none
    max-messages-per-second: off
    max-bytes-per-second: 0
  - path: /ws/orders/:id
    webhook: http://127.0.0.1:3000/events
    webhook-on-error: accept
    webhook-concurrency: 8
    webhook-errors: true
`)
	t.Run("file", func(t *testing.T) {
		c, err := config.Load([]string{"-config", file}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.File != file || c.Addr != "127.0.0.1:9000" || c.APIKey != "k1" || c.MaxMessageSize != 1<<20 ||
			c.MaxOutbound != 262144 || c.SendBuffer != 32<<10 || c.PingInterval != 0 || c.IdleTimeout != 2*time.Minute || c.Compression ||
			c.PresenceMode != "connection" || c.LogFormat != "json" {
			t.Fatalf("%+v", c)
		}
		if !reflect.DeepEqual(c.AllowedOrigins, []string{"https://a.example", "https://b.example"}) {
			t.Fatalf("origins %q", c.AllowedOrigins)
		}
		e := c.Engine()
		if e.PingInterval >= 0 || !e.DisableCompression || e.PresenceMode.String() != "connection" || e.SendBuffer != 32<<10 {
			t.Fatalf("engine: ping %v, compression off %v, mode %v, send buffer %d", e.PingInterval, e.DisableCompression, e.PresenceMode, e.SendBuffer)
		}
		if len(c.Routes) != 3 {
			t.Fatalf("routes %+v", c.Routes)
		}
		p, pub, hook := c.Routes[0], c.Routes[1], c.Routes[2]
		if p.Auth != config.AuthRequired || p.PresenceUser != config.PresenceUserJWT || !p.TokenRefresh || pub.TokenRefresh ||
			p.MaxMessagesPerSecond != 5 || p.MaxBytesPerSecond != 64<<10 {
			t.Errorf("presence route %+v", p)
		}
		if pub.Auth != config.AuthNone || pub.MaxMessagesPerSecond != 0 || pub.MaxBytesPerSecond != 0 {
			t.Errorf("public route %+v", pub)
		}
		if !hook.WebhookErrors || c.WebhookErrors {
			t.Errorf("webhook-errors: route %v, global %v", hook.WebhookErrors, c.WebhookErrors)
		}
		if hook.MaxMessagesPerSecond != 50 || hook.MaxBytesPerSecond != 64<<10 {
			t.Errorf("webhook route's limits %d %d, want the global ones", hook.MaxMessagesPerSecond, hook.MaxBytesPerSecond)
		}
		if e.MaxMessagesPerSecond != 50 || e.MaxBytesPerSecond != 64<<10 {
			t.Errorf("engine limits %d %d", e.MaxMessagesPerSecond, e.MaxBytesPerSecond)
		}
		if hook.WebhookTimeout != 3*time.Second || hook.WebhookSecret != "hooks" || hook.WebhookOnError != config.OnErrorAccept ||
			hook.WebhookConcurrency != 8 || hook.Auth != config.AuthRequired {
			t.Errorf("webhook route %+v", hook)
		}
	})
	t.Run("flags win", func(t *testing.T) {
		c, err := config.Load([]string{"-addr", ":7000", "-config", file, "-allowed-origins", "https://c.example",
			"-route", "/ws/echo=echo", "-route", "/ws/x=http://127.0.0.1:1/x,webhook-timeout=1s", "-webhook-secret", "flag"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != ":7000" || c.APIKey != "k1" {
			t.Fatalf("addr %q api-key %q", c.Addr, c.APIKey)
		}
		if !reflect.DeepEqual(c.AllowedOrigins, []string{"https://c.example"}) {
			t.Fatalf("origins %q: the flag must replace the file's list", c.AllowedOrigins)
		}
		if len(c.Routes) != 2 || c.Routes[0].Path != "/ws/echo" || c.Routes[1].WebhookTimeout != time.Second ||
			c.Routes[1].WebhookSecret != "flag" {
			t.Fatalf("routes %+v", c.Routes)
		}
	})
}

func TestExampleFile(t *testing.T) {
	c, err := config.Load([]string{"-config", "../ripple.example.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := config.Default()
	got := *c
	got.File, got.Routes, def.Routes = "", nil, nil
	if got.AllowedOrigins == nil {
		got.AllowedOrigins = def.AllowedOrigins
	}
	if !reflect.DeepEqual(got, def) {
		t.Fatalf("the example's values differ from the defaults:\n got %+v\nwant %+v", got, def)
	}
	if n := len(c.Routes); n != 9 {
		t.Fatalf("%d routes", n)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string   // YAML, when set
		args []string // flags
		want string   // in the error message
	}{
		{name: "unknown key", file: "addr: :1\nmax_message_size: 10\n", want: `ripple.yaml:2: config: unknown key "max_message_size" (did you mean max-message-size?)`},
		{name: "unknown key no guess", file: "colour: red\n", want: `unknown key "colour" (known keys: routes, addr`},
		{name: "route key in file", file: "route: /a=echo\n", want: `unknown key "route" (did you mean routes?)`},
		{name: "bad size", file: "max-message-size: 64KB\n", want: `ripple.yaml:1: max-message-size: config: invalid size`},
		{name: "zero size", file: "max-outbound: 0\n", want: "max-outbound: config: invalid size"},
		{name: "bad duration", file: "\n\nidle-timeout: soon\n", want: `ripple.yaml:3: idle-timeout: "soon" is not a duration`},
		{name: "zero handshake", file: "handshake-timeout: 0s\n", want: `handshake-timeout: "0s": must be more than zero`},
		{name: "negative duration", file: "grace: -1s\n", want: `grace: "-1s" is negative`},
		{name: "bad int", file: "loops: many\n", want: `loops: "many" is not a whole number`},
		{name: "negative rate", file: "max-messages-per-second: -1\n", want: `max-messages-per-second: -1 is below the minimum 0`},
		{name: "bad byte rate", file: "max-bytes-per-second: 1MB\n", want: `max-bytes-per-second: config: invalid size`},
		{name: "route bad rate", file: "routes:\n  - {path: /a, handler: echo, max-messages-per-second: lots}\n", want: `routes[0]: max-messages-per-second: "lots" is not a whole number`},
		{name: "bad bool", file: "metrics: yes\n", want: `metrics: "yes" is not true or false`},
		{name: "bad enum", file: "log-format: xml\n", want: `log-format: "xml" is not one of text, json`},
		{name: "list for scalar", file: "addr: [a, b]\n", want: "addr: want a single value, not a list"},
		{name: "mapping for scalar", file: "addr: {a: b}\n", want: "addr: want a single value, not a mapping"},
		{name: "set twice", file: "addr: :1\naddr: :2\n", want: "ripple.yaml:2: addr: set twice"},
		{name: "not a mapping", file: "- a\n", want: "must be a mapping"},
		{name: "yaml syntax", file: "addr: [\n", want: "ripple.yaml: yaml:"},
		{name: "routes not a list", file: "routes: {a: b}\n", want: "routes: want a list of routes"},
		{name: "route unknown key", file: "routes:\n  - path: /a\n    handler: echo\n    timeout: 1s\n", want: `ripple.yaml:4: routes[0]: config: unknown key "timeout"`},
		{name: "route bad value", file: "routes:\n  - path: /a\n    handler: websocket\n", want: `routes[0]: handler: "websocket" is not one of chat, room, presence, echo, shootout`},
		{name: "route no target", file: "routes:\n  - path: /a\n", want: "ripple.yaml:2): set handler"},
		{name: "route both", file: "routes:\n  - path: /a\n    handler: echo\n    webhook: http://x/\n", want: "set handler or webhook, not both"},
		{name: "route bad url", file: "routes:\n  - path: /a\n    webhook: ftp://x/\n", want: `webhook: "ftp://x/" is not an http:// or https:// URL`},
		{name: "route bad path", file: "routes:\n  - path: a\n    handler: echo\n", want: `ripple.yaml:2): path "a": route: pattern must start with /`},
		{name: "route duplicate", file: "routes:\n  - {path: /a, handler: echo}\n  - {path: /a, handler: chat}\n", want: "ripple.yaml:3): path \"/a\": route: pattern already registered"},
		{name: "webhook keys on builtin", file: "routes:\n  - {path: /a, handler: echo, webhook-timeout: 1s}\n", want: "webhook-* keys need webhook"},
		{name: "webhook-errors on builtin", file: "routes:\n  - {path: /a, handler: echo, webhook-errors: false}\n", want: "webhook-* keys need webhook"},
		{name: "presence-user jwt without secret", file: "routes:\n  - {path: /p/:r, handler: presence, presence-user: jwt}\n", want: "presence-user: jwt needs auth: required and jwt-secret"},
		{name: "presence-user on other handler", file: "routes:\n  - {path: /p, handler: room, presence-user: jwt}\n", want: "presence-user applies to handler: presence only"},
		{name: "auth without secret", file: "routes:\n  - {path: /p, handler: echo, auth: required}\n", want: "auth: required needs jwt-secret"},
		{name: "token-refresh without auth", file: "jwt-secret: s\nroutes:\n  - {path: /p, handler: echo, auth: none, token-refresh: true}\n", want: "token-refresh needs jwt-secret and auth: required or optional"},
		{name: "topic and path", file: "routes:\n  - {path: /a, topic: a, handler: echo}\n", want: "set path or topic, not both"},
		{name: "bad topic", file: "routes:\n  - {topic: \"room:\", handler: room}\n", want: `topic "room:": route: topic pattern`},
		{name: "topic duplicate", file: "routes:\n  - {topic: a:*, handler: echo}\n  - {topic: a:*, handler: room}\n", want: "route: pattern already registered"},
		{name: "topic handler", file: "routes:\n  - {topic: a:*, handler: chat}\n", want: `handler: "chat" is not one of room, echo`},
		{name: "topic presence-user", file: "routes:\n  - {topic: a:*, handler: room, presence-user: query}\n", want: "presence-user applies to handler: presence only"},
		{name: "bad phoenix path", file: "phoenix-path: socket\n", want: `phoenix-path: "socket" must start with /`},
		{name: "issuer without secret", file: "jwt-issuer: me\n", want: "jwt-issuer and jwt-audience need jwt-secret"},
		{name: "flag bad size", args: []string{"-max-message-size", "big"}, want: `invalid value "big" for flag -max-message-size`},
		{name: "flag unknown", args: []string{"-colour", "red"}, want: "flag provided but not defined: -colour"},
		{name: "flag bad route", args: []string{"-route", "/a"}, want: "route must be PATTERN=HANDLER"},
		{name: "flag route option", args: []string{"-route", "/a=http://x/,timeout=1s"}, want: `-route /a: config: unknown key "timeout" (did you mean webhook-timeout?)`},
		{name: "flag route bad value", args: []string{"-route", "/a=http://x/,webhook-timeout=x"}, want: `-route /a: webhook-timeout: "x" is not a duration`},
		{name: "positional", args: []string{"serve"}, want: `unexpected argument "serve"`},
		{name: "missing file", args: []string{"-config", "/nonexistent/ripple.yaml"}, want: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"-config", writeFile(t, tc.file)}, args...)
			}
			_, err := config.Load(args, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	for _, body := range []string{"", "# nothing\n", "~\n", "routes:\n"} {
		c, err := config.Load([]string{"-config", writeFile(t, body)}, nil)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if c.Addr != ":8080" || len(c.Routes) != 7 {
			t.Fatalf("%q: %+v", body, c)
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := config.Load([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"-config file", "-max-message-size size", "-jwt-secret secret", "-route PATTERN=HANDLER", "(default 64KiB)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // 0: error
	}{
		{"1", 1}, {"65536", 65536}, {"64KiB", 64 << 10}, {" 1 MiB ", 1 << 20}, {"1GiB", 1 << 30},
		{"0", 0}, {"-5", 0}, {"64KB", 0}, {"1.5MiB", 0}, {"", 0}, {"3GiB", 0},
	} {
		got, err := config.ParseSize(tc.in)
		if tc.want == 0 {
			if err == nil || !errors.Is(err, config.ErrBadSize) {
				t.Errorf("ParseSize(%q) = %d, %v; want ErrBadSize", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if back, _ := config.ParseSize(config.FormatSize(got)); back != got {
			t.Errorf("FormatSize(%d) = %q does not read back", got, config.FormatSize(got))
		}
	}
}

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want config.Route
	}{
		{"/ws/chat=chat", config.Route{Path: "/ws/chat", Handler: "chat"}},
		{"room::room_id=room", config.Route{Topic: "room::room_id", Handler: "room"}},
		{"orders:*=http://127.0.0.1:3000/hook,auth=required", config.Route{Topic: "orders:*", Webhook: "http://127.0.0.1:3000/hook", Auth: "required"}},
		{"/ws/p/:r=presence,presence-user=jwt,auth=required", config.Route{Path: "/ws/p/:r", Handler: "presence", PresenceUser: "jwt", Auth: "required"}},
		{"/ws/e=echo,max-messages-per-second=20,max-bytes-per-second=off", config.Route{Path: "/ws/e", Handler: "echo", MaxMessagesPerSecond: 20, MaxBytesPerSecond: -1}},
		{"/ws/o/:id=https://app.example/hook?x=1,webhook-timeout=2s,webhook-concurrency=3,webhook-on-error=accept,webhook-secret=s",
			config.Route{Path: "/ws/o/:id", Webhook: "https://app.example/hook?x=1", WebhookTimeout: 2 * time.Second,
				WebhookConcurrency: 3, WebhookOnError: "accept", WebhookSecret: "s"}},
	} {
		got, err := config.ParseRoute(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		tc.want = withWhere(tc.want, got)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

// withWhere copies the unexported position of got into want.
func withWhere(want, got config.Route) config.Route {
	if got.Where() != "-route "+want.Path+want.Topic {
		return got // let DeepEqual report the difference
	}
	w := got
	w.Topic = want.Topic
	w.Path, w.Handler, w.Webhook, w.PresenceUser, w.Auth = want.Path, want.Handler, want.Webhook, want.PresenceUser, want.Auth
	w.WebhookTimeout, w.WebhookConcurrency, w.WebhookOnError, w.WebhookSecret = want.WebhookTimeout, want.WebhookConcurrency, want.WebhookOnError, want.WebhookSecret
	w.MaxMessagesPerSecond, w.MaxBytesPerSecond = want.MaxMessagesPerSecond, want.MaxBytesPerSecond
	return w
}

// TestWebhookErrorsInherit: a webhook route takes the global
// webhook-errors unless it says otherwise.
func TestWebhookErrorsInherit(t *testing.T) {
	c, err := config.Load([]string{"-config", writeFile(t, `
webhook-errors: true
routes:
  - {path: /a, webhook: "http://127.0.0.1:1/a"}
  - {path: /b, webhook: "http://127.0.0.1:1/b", webhook-errors: false}
`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Routes[0].WebhookErrors || c.Routes[1].WebhookErrors {
		t.Fatalf("webhook-errors: /a %v, /b %v; want true, false", c.Routes[0].WebhookErrors, c.Routes[1].WebhookErrors)
	}
}

func TestHistoryRules(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // the engine's rules, as Rule.String writes them
		err  string
	}{
		{"default", nil, []string{"room:*=100,5m0s"}, ""},
		{"one flag", []string{"-history", "room:*=500,10m"}, []string{"room:*=500,10m0s"}, ""},
		{"repeated", []string{"-history", "news=20,1h", "-history", "room:*"}, []string{"news=20,1h0m0s", "room:*=100,5m0s"}, ""},
		{"none", []string{"-history", "none"}, nil, ""},
		{"bad size", []string{"-history", "room:*=0,5m"}, nil, "history:"},
		{"bad pattern", []string{"-history", "a*b"}, nil, "history:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(tc.args, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range c.Engine().History {
				got = append(got, r.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rules %q, want %q", got, tc.want)
			}
		})
	}
}
