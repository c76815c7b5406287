package scenario

import "bytes"

// A minimal JSON object walker for the storm scenario: it finds the members
// of an object and skips their values without decoding them, so a
// presence_state of 10,000 users costs one pass over its bytes. It checks
// the structure it walks (strings, nesting, separators) but not the
// grammar of numbers and literals.

// skipSpace returns the index of the first non-space byte of b at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"', or
// -1.
func skipString(b []byte, i int) int {
	i++
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for j := i + q - 1; j >= i && b[j] == '\\'; j-- {
			n++
		}
		i += q + 1
		if n%2 == 0 {
			return i
		}
	}
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		var stack [64]byte
		depth := 0
		for i < len(b) {
			switch c := b[i]; c {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				if depth == len(stack) {
					return -1
				}
				stack[depth] = c + 2 // '{'+2 == '}', '['+2 == ']'
				depth++
			case '}', ']':
				if depth == 0 || stack[depth-1] != c {
					return -1
				}
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if j == i {
				return -1
			}
			return j
		case '"', '{', '[', ':':
			return -1
		}
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// jsonObject walks the object starting at b[i] (after spaces) and calls f
// with each member's raw key (between the quotes, escapes kept) and raw
// value; f returns false to stop. It returns the index after the object, or
// -1 when b holds no well-formed object there or f stopped.
func jsonObject(b []byte, i int, f func(key, val []byte) bool) int {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		ke := skipString(b, i)
		if ke < 0 {
			return -1
		}
		key := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = skipSpace(b, i+1)
		ve := skipValue(b, i)
		if ve < 0 {
			return -1
		}
		if !f(key, b[i:ve]) {
			return -1
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '}':
			return i + 1
		case ',':
			i = skipSpace(b, i+1)
		default:
			return -1
		}
	}
}

// jsonStringBody returns the bytes between the quotes of a raw JSON string
// value, or nil when v is not a string.
func jsonStringBody(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil
	}
	return v[1 : len(v)-1]
}
