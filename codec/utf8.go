package codec

import "unicode/utf8"

// validPrefix reports whether b is valid UTF-8 except, possibly, for an
// incomplete sequence at its very end that later bytes could complete. It
// returns the length of the complete, valid part.
func validPrefix(b []byte) (complete int, ok bool) {
	// Find where the last (possibly incomplete) rune starts.
	start := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			start = i
			break
		}
	}
	if !utf8.Valid(b[:start]) {
		return 0, false
	}
	tail := b[start:]
	if len(tail) == 0 || utf8.FullRune(tail) {
		if !utf8.Valid(tail) {
			return 0, false
		}
		return len(b), true
	}
	// An incomplete tail must be a prefix of some valid sequence.
	if !couldComplete(tail) {
		return 0, false
	}
	return start, true
}

// couldComplete reports whether the incomplete sequence p can become valid
// UTF-8 with more bytes (no overlong forms, no surrogates, nothing past U+10FFFF).
func couldComplete(p []byte) bool {
	var buf [utf8.UTFMax]byte
	n := copy(buf[:], p)
	lead := p[0]
	var need int
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 2
	case lead >= 0xE0 && lead <= 0xEF:
		need = 3
	case lead >= 0xF0 && lead <= 0xF4:
		need = 4
	default:
		return false
	}
	// Complete with the smallest and the largest continuation bytes; if either
	// fills it to a valid rune, the prefix is viable. The second byte has the
	// narrowest legal range, so try both ends of it.
	for _, second := range []byte{0x80, 0x90, 0xA0, 0xBF, 0x8F, 0x9F} {
		for i := n; i < need; i++ {
			buf[i] = 0x80
			if i == 1 {
				buf[i] = second
			}
		}
		if utf8.Valid(buf[:need]) {
			return true
		}
	}
	return false
}
