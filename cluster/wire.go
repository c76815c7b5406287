package cluster

import (
	"bytes"
	"strconv"

	"github.com/ripple-rt/ripple/codec"
)

// Pub/sub messages are NUL-separated fields; the first byte is the kind. The
// last field of a message may contain anything (it takes the rest), the
// others never contain NUL: node and connection ids are checked, user keys
// and metas are JSON (which escapes control characters), epochs and
// sequences are decimal, history epochs are [0-9a-z-].
//
// On c:<ch>:
//
//	R origin binary payload          a room message (PublishRoom, one channel)
//	M id binary channels payload     a room message for several channels,
//	                                 published on each; id is origin.counter,
//	                                 channels a JSON array
//	T epoch seq conn userkey meta    a connection was tracked
//	U epoch seq conn                 a connection was untracked
//	S epoch seq conn meta            a connection's meta changed
//	B epoch seq conn...              connections removed by the reaper
//	P epoch offset binary payload    a publication of a channel with
//	                                 history (history_publish.lua)
//
// On all: A origin binary payload (PublishAll).
//
// On n:<node>:
//
//	s binary conn payload   send to conn
//	c conn code reason      close conn with code (decimal) and reason
//	j conn channel          join conn to channel
//	l conn channel          leave channel
const (
	kindRoom    = 'R'
	kindRooms   = 'M'
	kindTrack   = 'T'
	kindUntrack = 'U'
	kindSet     = 'S'
	kindBatch   = 'B'
	kindPub     = 'P'
	kindAll     = 'A'
	kindSend    = 's'
	kindClose   = 'c'
	kindJoin    = 'j'
	kindLeave   = 'l'
	sep         = 0
	flagBinary  = '1'
	flagText    = '0'
)

// encodeFields joins kind and fields with NUL separators.
func encodeFields(kind byte, fields ...[]byte) []byte {
	n := 1
	for _, f := range fields {
		n += 1 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, kind)
	for _, f := range fields {
		b = append(b, sep)
		b = append(b, f...)
	}
	return b
}

// splitFields splits the fields after the kind byte into exactly n parts,
// the last taking the rest; ok is false when there are fewer.
func splitFields(msg string, n int) (kind byte, f []string, ok bool) {
	if len(msg) < 2 || msg[1] != sep {
		return 0, nil, false
	}
	kind = msg[0]
	rest := msg[2:]
	f = make([]string, 0, n)
	for len(f) < n-1 {
		i := indexNUL(rest)
		if i < 0 {
			return kind, nil, false
		}
		f = append(f, rest[:i])
		rest = rest[i+1:]
	}
	return kind, append(f, rest), true
}

func indexNUL(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return i
		}
	}
	return -1
}

// parseClose decodes a close message. A message of a node from before
// codes travelled ("c conn reason") closes with 1000.
func parseClose(msg string) (conn string, code codec.CloseCode, reason string, ok bool) {
	if _, f, ok := splitFields(msg, 3); ok {
		if c, err := strconv.ParseUint(f[1], 10, 16); err == nil {
			return f[0], codec.CloseCode(c), f[2], true
		}
	}
	if _, f, ok := splitFields(msg, 2); ok {
		return f[0], codec.CloseNormal, f[1], true
	}
	return "", 0, "", false
}

func binFlag(binary bool) []byte {
	if binary {
		return []byte{flagBinary}
	}
	return []byte{flagText}
}

// event is one presence event read from c:<ch>.
type event struct {
	kind  byte
	epoch uint64
	seq   uint64
	conn  string   // T, U, S
	user  string   // T: the user key (JSON string)
	meta  []byte   // T, S
	conns []string // B
}

// parseEvent decodes a presence event; ok is false for a malformed one.
func parseEvent(msg string) (ev event, ok bool) {
	if len(msg) == 0 {
		return ev, false
	}
	var f []string
	switch msg[0] {
	case kindTrack:
		_, f, ok = splitFields(msg, 5)
	case kindUntrack:
		_, f, ok = splitFields(msg, 3)
	case kindSet:
		_, f, ok = splitFields(msg, 4)
	case kindBatch:
		_, f, ok = splitFields(msg, 3)
	default:
		return ev, false
	}
	if !ok {
		return ev, false
	}
	ev.kind = msg[0]
	var err1, err2 error
	ev.epoch, err1 = strconv.ParseUint(f[0], 10, 64)
	ev.seq, err2 = strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || ev.seq == 0 {
		return ev, false
	}
	switch ev.kind {
	case kindTrack:
		ev.conn, ev.user, ev.meta = f[2], f[3], []byte(f[4])
	case kindUntrack:
		ev.conn = f[2]
	case kindSet:
		ev.conn, ev.meta = f[2], []byte(f[3])
	case kindBatch:
		for rest := f[2]; ; {
			i := indexNUL(rest)
			if i < 0 {
				ev.conns = append(ev.conns, rest)
				break
			}
			ev.conns = append(ev.conns, rest[:i])
			rest = rest[i+1:]
		}
	}
	return ev, true
}

// entry is one tracked connection as stored in pe:<ch>.
type entry struct {
	conn string
	pos  uint64
	user string // user key (JSON string)
	meta []byte
}

// parseEntry decodes "<pos>\0<user key>\0<meta>".
func parseEntry(conn, v string) (entry, bool) {
	i := indexNUL(v)
	if i < 0 {
		return entry{}, false
	}
	j := indexNUL(v[i+1:])
	if j < 0 {
		return entry{}, false
	}
	j += i + 1
	pos, err := strconv.ParseUint(v[:i], 10, 64)
	if err != nil {
		return entry{}, false
	}
	return entry{conn: conn, pos: pos, user: v[i+1 : j], meta: []byte(v[j+1:])}, true
}

// refOf returns the phx_ref of an encoded meta ({"phx_ref":"..."...}), ""
// when the meta does not start that way.
func refOf(meta []byte) string {
	const head = `{"phx_ref":"`
	if !bytes.HasPrefix(meta, []byte(head)) {
		return ""
	}
	rest := meta[len(head):]
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return ""
	}
	return string(rest[:i])
}
