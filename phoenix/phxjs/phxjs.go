package phxjs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hint is how to install what the driver needs.
const Hint = "install Node.js 20+ and run: npm ci --prefix phoenix/phxjs"

// Timeout bounds every wait for an event.
const Timeout = 15 * time.Second

// Event is one event phoenix.js reported (see driver.mjs).
type Event struct {
	Ev        string          `json:"ev"`
	Socket    string          `json:"socket,omitempty"`
	Ch        string          `json:"ch,omitempty"`
	Transport string          `json:"transport,omitempty"`
	Code      int             `json:"code,omitempty"`
	Status    string          `json:"status,omitempty"`
	Tag       string          `json:"tag,omitempty"`
	Resp      json.RawMessage `json:"resp,omitempty"`
	Event     string          `json:"event,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Binary    bool            `json:"binary,omitempty"`
	User      string          `json:"user,omitempty"`
	First     bool            `json:"first,omitempty"`
	Metas     int             `json:"metas,omitempty"`
	List      []Present       `json:"list,omitempty"`
	Error     string          `json:"error,omitempty"`
	Ref       string          `json:"ref,omitempty"`
}

// Present is one user of a Presence list: the number of its metas, their
// states and names, sorted.
type Present struct {
	User   string   `json:"user"`
	Metas  int      `json:"metas"`
	States []string `json:"states"`
	Names  []string `json:"names"`
}

func (e Event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// Driver is one running driver.mjs.
type Driver struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan Event
	held   []Event // read while waiting for another event
	stderr *lockedBuffer
	tags   int
}

// Start runs the driver and stops it when the test ends; it skips the test
// when node or the packages are missing.
func Start(t testing.TB) *Driver {
	t.Helper()
	node, script := locate(t)
	d := &Driver{t: t, events: make(chan Event, 4096), stderr: &lockedBuffer{}}
	d.cmd = exec.Command(node, script)
	d.cmd.Stderr = d.stderr
	var err error
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.events)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var ev Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = Event{Ev: "fail", Error: "unparseable event: " + sc.Text()}
			}
			d.events <- ev
		}
	}()
	t.Cleanup(func() {
		_ = d.stdin.Close()
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
		if s := d.stderr.String(); s != "" {
			t.Logf("driver.mjs stderr:\n%s", s)
		}
	})
	return d
}

// Do sends one command.
func (d *Driver) Do(cmd map[string]any) {
	d.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.stdin.Write(append(b, '\n')); err != nil {
		d.t.Fatalf("driver: %v", err)
	}
}

// Socket opens socket id on url (ws://host/socket) with params and opts
// (see driver.mjs).
func (d *Driver) Socket(id, url string, params, opts map[string]any) {
	d.t.Helper()
	d.Do(map[string]any{"op": "socket", "id": id, "url": url, "params": params, "opts": opts})
}

// Channel makes channel id of socket for topic; with presence a Presence
// watches it. It does not join.
func (d *Driver) Channel(id, socket, topic string, params map[string]any, presence bool) {
	d.t.Helper()
	d.Do(map[string]any{"op": "channel", "id": id, "socket": socket, "topic": topic, "params": params, "presence": presence})
}

// RecoveringChannel makes channel id of socket for topic as an application
// that recovers does: channel.on callbacks for events report each message
// with its ref, and every join (the rejoins too) asks to recover from the
// position of the last ref they got. It does not join.
func (d *Driver) RecoveringChannel(id, socket, topic string, events ...string) {
	d.t.Helper()
	d.Do(map[string]any{"op": "channel", "id": id, "socket": socket, "topic": topic, "on": events, "recover": true})
}

// Join joins channel ch and returns the join's outcome.
func (d *Driver) Join(ch string) Event {
	d.t.Helper()
	d.Do(map[string]any{"op": "join", "ch": ch})
	return d.Expect("join of "+ch, func(e Event) bool { return e.Ev == "join" && e.Ch == ch })
}

// Push pushes event on channel ch and returns its reply.
func (d *Driver) Push(ch, event string, payload any) Event {
	d.t.Helper()
	d.tags++
	tag := fmt.Sprint(d.tags)
	d.Do(map[string]any{"op": "push", "ch": ch, "event": event, "payload": payload, "tag": tag})
	return d.Expect("reply to "+event, func(e Event) bool { return e.Ev == "reply" && e.Tag == tag })
}

// Leave leaves channel ch and waits for the ok.
func (d *Driver) Leave(ch string) {
	d.t.Helper()
	d.Do(map[string]any{"op": "leave", "ch": ch})
	d.Expect("leave of "+ch, func(e Event) bool { return e.Ev == "left" && e.Ch == ch })
}

// Expect returns the first event (held ones first) that match accepts,
// holding the others; a driver failure fails the test at once.
func (d *Driver) Expect(what string, match func(Event) bool) Event {
	d.t.Helper()
	for i, e := range d.held {
		if match(e) {
			d.held = append(d.held[:i:i], d.held[i+1:]...)
			return e
		}
	}
	deadline := time.After(Timeout)
	for {
		select {
		case e, ok := <-d.events:
			if !ok {
				d.t.Fatalf("driver exited while waiting for %s; stderr:\n%s", what, d.stderr.String())
			}
			if e.Ev == "fail" {
				d.t.Fatalf("driver: %s", e.Error)
			}
			if match(e) {
				return e
			}
			d.held = append(d.held, e)
		case <-deadline:
			d.t.Fatalf("no %s from phoenix.js within %v; events meanwhile:\n%s", what, Timeout, d.dump())
		}
	}
}

// Sync waits for a Presence sync of ch that cond accepts.
func (d *Driver) Sync(ch, what string, cond func([]Present) bool) []Present {
	d.t.Helper()
	return d.Expect(what, func(e Event) bool { return e.Ev == "sync" && e.Ch == ch && cond(e.List) }).List
}

// Msg waits for a message of event on channel ch.
func (d *Driver) Msg(ch, event string) Event {
	d.t.Helper()
	return d.Expect(ch+" "+event, func(e Event) bool { return e.Ev == "msg" && e.Ch == ch && e.Event == event })
}

// Drain reads what came within d and returns every event held, forgetting
// them.
func (d *Driver) Drain(wait time.Duration) []Event {
	deadline := time.After(wait)
	for {
		select {
		case e, ok := <-d.events:
			if !ok {
				goto out
			}
			d.held = append(d.held, e)
		case <-deadline:
			goto out
		}
	}
out:
	h := d.held
	d.held = nil
	return h
}

func (d *Driver) dump() string {
	var b strings.Builder
	for _, e := range d.held {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Users is the users of a Presence list, by user id.
func Users(list []Present) map[string]Present {
	m := make(map[string]Present, len(list))
	for _, p := range list {
		m[p.User] = p
	}
	return m
}

// locate finds node and driver.mjs (from the module root) or skips.
func locate(t testing.TB) (node, script string) {
	t.Helper()
	skip := func(why string) {
		msg := "SKIPPING the phoenix.js test: " + why + "; " + Hint
		fmt.Fprintln(os.Stderr, "!!! "+msg)
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not found in PATH")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			skip("module root not found")
		}
		dir = parent
	}
	here := filepath.Join(dir, "phoenix", "phxjs")
	for _, pkg := range []string{"phoenix", "ws"} {
		if _, err := os.Stat(filepath.Join(here, "node_modules", pkg, "package.json")); err != nil {
			skip("phoenix/phxjs/node_modules/" + pkg + " is missing")
		}
	}
	return node, filepath.Join(here, "driver.mjs")
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
