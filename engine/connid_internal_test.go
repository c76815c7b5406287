package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// TestConnIDText: an id is spelled exactly as uuid.NewString spelled the
// ids before they were kept in 16 bytes, and parses back.
func TestConnIDText(t *testing.T) {
	ids := []connID{{}, connID(uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff"))}
	for range 100 {
		ids = append(ids, newConnID())
	}
	for _, id := range ids {
		for _, prefix := range []string{"", "node-1."} {
			got := id.text(prefix)
			if want := prefix + uuid.UUID(id).String(); got != want {
				t.Fatalf("text(%q) = %q, want %q", prefix, got, want)
			}
			back, ok := parseConnID(strings.TrimPrefix(got, prefix))
			if !ok || back != id {
				t.Fatalf("parseConnID(%q) = %v, %v", got, back, ok)
			}
		}
	}
}

// TestParseConnID: only the canonical spelling names a connection; uuid's
// other accepted forms of the same UUID do not, as with string keys.
func TestParseConnID(t *testing.T) {
	const canon = "00112233-4455-6677-8899-aabbccddeeff"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{canon, true},
		{"00112233-4455-6677-8899-AABBCCDDEEFF", false},
		{"{" + canon + "}", false},
		{"urn:uuid:" + canon, false},
		{strings.ReplaceAll(canon, "-", ""), false},
		{canon[:35], false},
		{canon + "0", false},
		{"0011223-34455-6677-8899-aabbccddeeff", false},
		{"00112233_4455-6677-8899-aabbccddeeff", false},
		{"0011223g-4455-6677-8899-aabbccddeeff", false},
		{"", false},
	} {
		id, ok := parseConnID(tc.in)
		if ok != tc.ok {
			t.Errorf("parseConnID(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
		if ok && id.text("") != tc.in {
			t.Errorf("parseConnID(%q) = %s", tc.in, id.text(""))
		}
	}
}

// TestRegistry looks connections up by id with and without a broker
// prefix, and gives a connection whose key is taken a new id.
func TestRegistry(t *testing.T) {
	for _, prefix := range []string{"", "n1."} {
		t.Run(fmt.Sprintf("prefix=%q", prefix), func(t *testing.T) {
			e := New(Config{Loops: 1})
			e.conns.setIDs(prefix, false)
			sh := e.shards[0]
			a := &conn{sh: sh, uid: newConnID()}
			b := &conn{sh: sh, uid: a.uid}
			b.uid[15] ^= 1 // same key, another id
			e.conns.add(a)
			e.conns.add(b)
			if a.uid.key() == b.uid.key() {
				t.Fatal("two connections share a key")
			}
			for _, c := range []*conn{a, b} {
				id := c.id()
				if !strings.HasPrefix(id, prefix) || len(id) != len(prefix)+uuidLen {
					t.Fatalf("id %q", id)
				}
				if got := e.conns.get(id); got != c {
					t.Fatalf("get(%q) = %p, want %p", id, got, c)
				}
			}
			wrong := a.uid
			wrong[15] ^= 1 // a's key, not a's id
			for _, id := range []string{
				prefix + wrong.text(""),
				"n2." + a.uid.text(""),
				strings.ToUpper(a.id()),
				"",
			} {
				if got := e.conns.get(id); got != nil {
					t.Errorf("get(%q) found a connection", id)
				}
			}
			if ids := e.conns.ids(); len(ids) != 2 || !slices.Contains(ids, a.id()) || !slices.Contains(ids, b.id()) {
				t.Errorf("ids() = %q", ids)
			}
			e.conns.remove(a)
			if e.conns.get(a.id()) != nil || e.conns.get(b.id()) != b || e.LocalCount() != 1 {
				t.Error("remove(a) did not remove a alone")
			}
		})
	}
}

// customIDs is a Broker that makes ids of its own (it is not a
// ConnIDPrefixer): the engine keeps them as they are.
type customIDs struct {
	Broker
	n atomic.Int64
}

func (b *customIDs) NewConnID() string { return fmt.Sprintf("custom/%d", b.n.Add(1)) }

func TestBrokerOwnIDs(t *testing.T) {
	e := New(Config{Loops: 1})
	ids := make(chan string, 4)
	must(t, e.Handle(Route{Pattern: "/ws", Handler: func(ev *Event) Reply {
		ids <- ev.ConnectionID
		if ev.Type == Connect {
			return Reply{Join: []string{"room"}}
		}
		return Reply{}
	}}))
	must(t, e.UseCluster(&customIDs{Broker: localBroker{e}}, e.memory))
	must(t, e.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	c := dial(t, "ws://"+e.Addr().String()+"/ws")
	if id := <-ids; id != "custom/1" {
		t.Fatalf("connect event id %q, want custom/1", id)
	}
	waitFor(t, "the join", func() bool { return len(e.localClientsIn("room")) == 1 })
	if got := e.localClientsIn("room"); got[0] != "custom/1" {
		t.Fatalf("ClientsIn = %q", got)
	}
	if got := e.conns.ids(); !slices.Equal(got, []string{"custom/1"}) {
		t.Fatalf("Clients = %q", got)
	}
	if !e.Send("custom/1", []byte("hi")) {
		t.Fatal("Send found no connection")
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "hi" {
		t.Fatalf("read %q, %v", msg, err)
	}
	if !e.Close("custom/1", "bye") {
		t.Fatal("Close found no connection")
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("read %v, want close 1000", err) // gorilla answers the close
	}
	if id := <-ids; id != "custom/1" {
		t.Fatalf("disconnect event id %q", id)
	}
	waitFor(t, "the registry to forget it", func() bool { return e.conns.get("custom/1") == nil })
}

// TestEventsShareAnID: a connection's events carry one id, the one its
// helpers accept, spelled out once per loop turn rather than kept.
func TestEventsShareAnID(t *testing.T) {
	e := New(Config{Loops: 1})
	ids := make(chan string, 8)
	must(t, e.Handle(Route{Pattern: "/ws", Handler: func(ev *Event) Reply {
		ids <- ev.ConnectionID
		return Reply{}
	}}))
	must(t, e.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	a := dial(t, "ws://"+e.Addr().String()+"/ws")
	ida := <-ids
	b := dial(t, "ws://"+e.Addr().String()+"/ws")
	idb := <-ids
	if ida == idb {
		t.Fatalf("two connections got id %q", ida)
	}
	for range 2 {
		for _, c := range []*websocket.Conn{a, b, a} {
			must(t, c.WriteMessage(websocket.TextMessage, []byte("x")))
			want := ida
			if c == b {
				want = idb
			}
			if got := <-ids; got != want {
				t.Fatalf("message event id %q, want %q", got, want)
			}
		}
	}
	if got := e.Clients(); len(got) != 2 || !slices.Contains(got, ida) || !slices.Contains(got, idb) {
		t.Fatalf("Clients = %q, want %q and %q", got, ida, idb)
	}
}

// TestNewConnID: ids are version 4 UUIDs of the RFC 4122 variant, as
// uuid.New made them, and differ.
func TestNewConnID(t *testing.T) {
	seen := map[connID]bool{}
	for range 1000 {
		id := newConnID()
		u := uuid.UUID(id)
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d, variant %s", u, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("%s twice", u)
		}
		seen[id] = true
	}
}
