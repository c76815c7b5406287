package engine

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math/bits"
	"strings"
)

// connID is a connection's id in 16 bytes: a random (version 4) UUID. Its
// text, the id handlers, helpers and the broker see, is the broker's prefix
// (ConnIDPrefixer) followed by the UUID in canonical form, spelled out when
// asked for: an idle connection holds no string for its id.
type connID [16]byte

// newConnID returns a fresh random id: a version 4 UUID, as uuid.New makes
// it, read straight into the array (uuid.New's reader allocates).
func newConnID() connID {
	var id connID
	_, _ = rand.Read(id[:])   // never fails; it crashes the program instead
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// key is the id's first 8 bytes, all random: the registry's key.
func (id connID) key() uint64 { return binary.LittleEndian.Uint64(id[:8]) }

// Key is c's registry key (keyset.Keyed). It does not change once c is in
// the registry.
func (c *conn) Key() uint64 { return c.uid.key() }

// phase maps the id's last 8 bytes to [0, span): an offset of the
// connection's own, uniform over connections.
func (id connID) phase(span int64) int64 {
	if span <= 0 {
		return 0
	}
	// The top bytes are random (the variant's two bits are the lowest byte's
	// top bits), so a multiply-shift spreads them evenly over span.
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(id[8:]), uint64(span))
	return int64(hi)
}

// uuidLen is the length of a UUID in canonical form.
const uuidLen = 36

// text returns prefix followed by the UUID in canonical form (lowercase,
// 8-4-4-4-12), as uuid.UUID.String writes it.
func (id connID) text(prefix string) string {
	var buf [uuidLen]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	var b strings.Builder
	b.Grow(len(prefix) + uuidLen)
	b.WriteString(prefix)
	b.Write(buf[:])
	return b.String()
}

// parseConnID parses exactly what text writes after the prefix: 36
// characters, lowercase hex digits with dashes at 8, 13, 18 and 23. Any
// other spelling of the same UUID names no connection, as before ids were
// kept in 16 bytes.
func parseConnID(s string) (id connID, ok bool) {
	if len(s) != uuidLen {
		return id, false
	}
	j := 0
	for i := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			if s[j] != '-' {
				return id, false
			}
			j++
		}
		hi, ok1 := unhex(s[j])
		lo, ok2 := unhex(s[j+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[i] = hi<<4 | lo
		j += 2
	}
	return id, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
