package engine_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/presence"
	"github.com/ripple-rt/ripple/presence/phoenixcheck"
)

// TestPresenceChurnOverTheWire runs random concurrent connects, tracks,
// set_presence, untracks, leaves and disconnects over many users and tabs in a few
// channels, with real clients on a real server. At the end every surviving
// client's view, rebuilt from the presence_state and presence_diff messages
// it received in order, must equal ListPresence: with the seed's client
// algorithm (user mode) and with the phoenix npm package's
// Presence.syncState/syncDiff (both modes; metas too in connection mode).
func TestPresenceChurnOverTheWire(t *testing.T) {
	for _, mode := range []engine.Config{{PresenceMode: presence.ModeUser}, {PresenceMode: presence.ModeConnection}} {
		name := mode.PresenceMode.String()
		t.Run("mode="+name, func(t *testing.T) { presenceChurn(t, mode, name) })
	}
}

type tab struct {
	c        *wstest.Client
	user     string
	channel  string
	tracked  bool
	left     bool // left its channel (no more messages from it)
	closed   bool
	received []json.RawMessage
}

func presenceChurn(t *testing.T, cfg engine.Config, mode string) {
	s := startScripted(t, cfg)
	channels := []string{"room:c0", "room:c1", "room:c2"}
	const workers, opsPerWorker, users = 6, 60, 12

	var mu sync.Mutex
	var tabs []*tab
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []*tab
			for range opsPerWorker {
				open := mine[:0:0]
				for _, tb := range mine {
					if !tb.closed {
						open = append(open, tb)
					}
				}
				switch op := rng.IntN(10); {
				case op < 4 || len(open) == 0: // a new tab: connect and track
					tb := &tab{user: fmt.Sprintf("u%d", rng.IntN(users)), channel: channels[rng.IntN(len(channels))]}
					c, err := wstest.DialURL(s.URL("/ws/script"))
					if err != nil {
						t.Error(err)
						return
					}
					tb.c = c
					send(t, tb, fmt.Sprintf(`{"join":%q,"track":{"channel":%q,"user_id":%q,"device":"d%d"}}`, tb.channel, tb.channel, tb.user, rng.IntN(100)))
					tb.tracked = true
					mine = append(mine, tb)
					mu.Lock()
					tabs = append(tabs, tb)
					mu.Unlock()
				case op < 6:
					tb := open[rng.IntN(len(open))]
					state := []string{"typing", "online", "away"}[rng.IntN(3)]
					if tb.tracked {
						send(t, tb, fmt.Sprintf(`{"set_presence":{"channel":%q,"state":%q}}`, tb.channel, state))
					}
				case op < 7:
					tb := open[rng.IntN(len(open))]
					switch {
					case tb.tracked && rng.IntN(2) == 0: // leaving untracks too
						send(t, tb, fmt.Sprintf(`{"leave":%q}`, tb.channel))
						tb.tracked, tb.left = false, true
					case tb.tracked:
						send(t, tb, fmt.Sprintf(`{"untrack":%q}`, tb.channel))
						tb.tracked = false
					default: // tracking joins again after a leave
						send(t, tb, fmt.Sprintf(`{"track":{"channel":%q,"user_id":%q}}`, tb.channel, tb.user))
						tb.tracked, tb.left = true, false
					}
				default: // close the tab
					tb := open[rng.IntN(len(open))]
					tb.closed = true
					tb.c.Close()
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Quiesce: every survivor's actions applied (a send after them comes
	// back), every closed tab gone, then a marker through each channel: the
	// loops run tasks in order, so it arrives after every diff once the
	// presence batches are flushed.
	survivors := 0
	for _, tb := range tabs {
		if !tb.closed {
			survivors++
			send(t, tb, `{"send":"sync"}`)
			collectUntil(t, tb, `sync`)
		}
	}
	wstest.Eventually(t, "closed tabs gone", func() bool { return s.Count() == survivors })
	s.Presence().Flush() // the last batch now, not an interval later
	for _, ch := range channels {
		s.BroadcastRoom(ch, []byte(`"marker"`))
	}
	byChannel := map[string][]*tab{}
	for _, tb := range tabs {
		if !tb.closed && !tb.left {
			collectUntil(t, tb, `"marker"`)
			if tb.tracked {
				byChannel[tb.channel] = append(byChannel[tb.channel], tb)
			}
		}
	}

	dir := t.TempDir()
	var files []string
	for _, ch := range channels {
		expected := s.ListPresence(ch)
		wantUsers := make([]string, 0, len(expected))
		for _, p := range expected {
			wantUsers = append(wantUsers, p.UserID)
		}
		sort.Strings(wantUsers)
		if mode == "user" {
			for _, tb := range byChannel[ch] {
				if got := seedView(t, tb.received); !reflect.DeepEqual(got, wantUsers) {
					t.Errorf("%s: seed algorithm view of a %s tab = %v, ListPresence = %v", ch, tb.user, got, wantUsers)
				}
			}
		}
		in := phoenixcheck.File{Mode: mode, Expected: expected}
		for i, tb := range byChannel[ch] {
			in.Clients = append(in.Clients, phoenixcheck.Client{ID: fmt.Sprintf("%s-%d", tb.user, i), Messages: tb.received})
		}
		files = append(files, phoenixcheck.Write(t, dir, ch[5:]+".json", in))
		t.Logf("%s: %d users, %d tracked survivors", ch, len(expected), len(byChannel[ch]))
	}
	phoenixcheck.Run(t, files...)
}

func send(t *testing.T, tb *tab, msg string) {
	if err := tb.c.WriteMessage(1, []byte(msg)); err != nil {
		t.Errorf("write: %v", err)
	}
}

// collectUntil records every message of tb up to and including want.
func collectUntil(t *testing.T, tb *tab, want string) {
	t.Helper()
	for {
		_, msg, err := tb.c.Next(wstest.Timeout)
		if err != nil {
			t.Fatalf("%s waiting for %s: %v", tb.user, want, err)
		}
		if string(msg) == want {
			return
		}
		if json.Valid(msg) {
			tb.received = append(tb.received, json.RawMessage(msg))
		}
	}
}

// seedView applies the seed's client code: presence_state replaces the view,
// a diff's joins set users and its leaves delete them. It returns the users.
func seedView(t *testing.T, msgs []json.RawMessage) []string {
	presences := map[string]json.RawMessage{}
	for _, raw := range msgs {
		var m struct {
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		switch m.Event {
		case "presence_state":
			presences = map[string]json.RawMessage{}
			if err := json.Unmarshal(m.Payload, &presences); err != nil {
				t.Fatal(err)
			}
		case "presence_diff":
			var d struct{ Joins, Leaves map[string]json.RawMessage }
			if err := json.Unmarshal(m.Payload, &d); err != nil {
				t.Fatal(err)
			}
			for u, p := range d.Joins {
				presences[u] = p
			}
			for u := range d.Leaves {
				delete(presences, u)
			}
		}
	}
	users := make([]string, 0, len(presences))
	for u := range presences {
		users = append(users, u)
	}
	sort.Strings(users)
	return users
}
