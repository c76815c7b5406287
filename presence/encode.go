package presence

// Messages are assembled from pieces encoded once: each meta is encoded
// (with sonic) when it is created, each user id when the user first appears,
// and each user's entry ("id":{"metas":[...]}) whenever that user's metas
// change. Building a presence_state under the channel lock is then one sized
// allocation and one copy per user, with no reflection.

// encodeState returns the presence_state message for ch. Call with ch.mu held.
func (ch *channel) encodeState() []byte {
	n := len(statePrefix) + len(stateSuffix) + ch.entryBytes
	if len(ch.order) > 1 {
		n += len(ch.order) - 1
	}
	b := make([]byte, 0, n)
	b = append(b, statePrefix...)
	for i, u := range ch.order {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, u.entry...)
	}
	return append(b, stateSuffix...)
}

// encodeDiff returns a presence_diff message; joins and leaves are one
// user's entry each, or nil for an empty object.
func encodeDiff(joins, leaves []byte) []byte {
	b := make([]byte, 0, len(diffPrefix)+len(diffMiddle)+len(diffSuffix)+len(joins)+len(leaves))
	b = append(b, diffPrefix...)
	b = append(b, joins...)
	b = append(b, diffMiddle...)
	b = append(b, leaves...)
	return append(b, diffSuffix...)
}

// entry returns "key":{"metas":[...]} with the encoded metas raws followed
// by those of conns.
func entry(key []byte, raws [][]byte, conns []*conn) []byte {
	n := len(key) + len(entryOpen) + len(entryClose)
	for _, r := range raws {
		n += len(r) + 1
	}
	for _, c := range conns {
		n += len(c.meta.raw) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, key...)
	b = append(b, entryOpen...)
	for _, r := range raws {
		b = append(b, r...)
		b = append(b, ',')
	}
	for _, c := range conns {
		b = append(b, c.meta.raw...)
		b = append(b, ',')
	}
	if b[len(b)-1] == ',' {
		b = b[:len(b)-1]
	}
	return append(b, entryClose...)
}

// rebuildEntry re-encodes u.entry after a change to u.conns or to one of
// their metas, and points each conn's meta.raw into it so the bytes are held
// once. Call with ch.mu held.
func (ch *channel) rebuildEntry(u *user) {
	n := len(u.key) + len(entryOpen) + len(entryClose) + len(u.conns)
	for _, c := range u.conns {
		n += len(c.meta.raw)
	}
	b := make([]byte, 0, n)
	b = append(b, u.key...)
	b = append(b, entryOpen...)
	for i, c := range u.conns {
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		b = append(b, c.meta.raw...)
		c.meta.raw = b[start:len(b):len(b)]
	}
	b = append(b, entryClose...)
	ch.entryBytes += len(b) - len(u.entry)
	u.entry = b
}
