package benchmsg

import (
	"math"
	"strconv"
)

// Msg is the payload of a bench message. Fields absent from a scanned message
// are -1.
type Msg struct {
	T int64 // send time, ns since the run epoch
	S int64 // sequence number of the publisher
	P int64 // publisher id
	R int64 // room id
}

// Append appends {"type":kind,"payload":{...}} to dst. Negative fields are
// omitted. pad > 0 adds an "x" string field of pad bytes to reach a message size.
func Append(dst []byte, kind string, m Msg, pad int) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, kind...)
	dst = append(dst, `","payload":`...)
	dst = appendPayload(dst, m, pad)
	return append(dst, '}')
}

// AppendPhoenix appends a Phoenix Channels V2 push of the same payload:
// [join_ref, ref, topic, event, {...}]. topic and event must not need
// escaping.
func AppendPhoenix(dst []byte, joinRef, ref, topic, event string, m Msg, pad int) []byte {
	dst = append(dst, `["`...)
	dst = append(dst, joinRef...)
	dst = append(dst, `","`...)
	dst = append(dst, ref...)
	dst = append(dst, `","`...)
	dst = append(dst, topic...)
	dst = append(dst, `","`...)
	dst = append(dst, event...)
	dst = append(dst, `",`...)
	dst = appendPayload(dst, m, pad)
	return append(dst, ']')
}

// appendPayload appends the payload object {"t":…,"s":…,"p":…,"r":…[,"x":…]}.
func appendPayload(dst []byte, m Msg, pad int) []byte {
	dst = append(dst, '{')
	first := true
	field := func(name string, v int64) {
		if v < 0 {
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		dst = strconv.AppendInt(dst, v, 10)
	}
	field("t", m.T)
	field("s", m.S)
	field("p", m.P)
	field("r", m.R)
	if pad > 0 {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, `"x":"`...)
		for i := 0; i < pad; i++ {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// ScanPhoenix extracts a Phoenix Channels V2 message
// [join_ref, ref, topic, event, payload]: its ref, topic and event (raw
// string bytes; a null ref is nil) and, when the payload is an object, its
// bench fields. ok is false when b is not such an array. Like Scan it never
// panics and does not allocate.
func ScanPhoenix(b []byte) (ref, topic, event []byte, m Msg, ok bool) {
	m = Msg{T: -1, S: -1, P: -1, R: -1}
	s := scanner{b: b}
	s.ws()
	if !s.eat('[') {
		return nil, nil, nil, m, false
	}
	var parts [4][]byte
	for i := range parts {
		s.ws()
		switch {
		case s.peek() == '"':
			v, vok := s.str()
			if !vok {
				return nil, nil, nil, m, false
			}
			parts[i] = v
		case i < 2 && s.lit("null"):
		default:
			return nil, nil, nil, m, false
		}
		s.ws()
		if !s.eat(',') {
			return nil, nil, nil, m, false
		}
	}
	s.ws()
	if s.peek() == '{' {
		if !s.payload(&m) {
			return nil, nil, nil, m, false
		}
	} else if !s.skip(0) {
		return nil, nil, nil, m, false
	}
	s.ws()
	if !s.eat(']') || !s.end() {
		return nil, nil, nil, m, false
	}
	return parts[1], parts[2], parts[3], m, true
}

// Position splits the ref of a publication pushed on a history channel,
// "<epoch>:<offset>", at its last colon: the epoch (raw bytes, aliasing
// ref) and the offset, a decimal number of at most 18 digits. ok is false
// for anything else (a null ref is nil). It does not allocate.
func Position(ref []byte) (epoch []byte, offset int64, ok bool) {
	i := len(ref) - 1
	for i >= 0 && ref[i] != ':' {
		i--
	}
	digits := ref[i+1:]
	if i < 0 || len(digits) == 0 || len(digits) > 18 {
		return nil, 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return nil, 0, false
		}
		offset = offset*10 + int64(c-'0')
	}
	return ref[:i], offset, true
}

// Scan extracts the type and the payload fields of a bench message. kind aliases
// b (raw string bytes, escapes left as they are). ok is false when b is not a
// well-formed JSON object at the top level; a payload that is not an object
// leaves m's fields at -1.
func Scan(b []byte) (kind []byte, m Msg, ok bool) {
	m = Msg{T: -1, S: -1, P: -1, R: -1}
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return nil, m, false
	}
	s.ws()
	if s.eat('}') {
		return nil, m, s.end()
	}
	for {
		s.ws()
		key, kok := s.str()
		if !kok {
			return nil, m, false
		}
		s.ws()
		if !s.eat(':') {
			return nil, m, false
		}
		s.ws()
		switch {
		case string(key) == "type" && s.peek() == '"':
			v, vok := s.str()
			if !vok {
				return nil, m, false
			}
			kind = v
		case string(key) == "payload" && s.peek() == '{':
			if !s.payload(&m) {
				return nil, m, false
			}
		default:
			if !s.skip(0) {
				return nil, m, false
			}
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return kind, m, s.end()
		}
		return nil, m, false
	}
}

// Fields calls f with the raw key (escapes left as they are) and the raw
// value of every member of the JSON object b, in order, until f returns
// false. It reports whether b is a well-formed object, as far as it was
// walked. The slices alias b. The dialects of bench/dialect walk their
// envelopes with it, allocation-free.
func Fields(b []byte, f func(key, value []byte) bool) bool {
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return s.end()
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		start := s.i
		if !s.skip(0) {
			return false
		}
		if !f(key, b[start:s.i]) {
			return true
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat('}') && s.end()
	}
}

// Elements calls f with the raw value of every element of the JSON array b,
// in order, until f returns false. It reports whether b is a well-formed
// array, as far as it was walked. The slices alias b.
func Elements(b []byte, f func(value []byte) bool) bool {
	s := scanner{b: b}
	s.ws()
	if !s.eat('[') {
		return false
	}
	s.ws()
	if s.eat(']') {
		return s.end()
	}
	for {
		s.ws()
		start := s.i
		if !s.skip(0) {
			return false
		}
		if !f(b[start:s.i]) {
			return true
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat(']') && s.end()
	}
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str scans a string and returns its raw contents.
func (s *scanner) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c == '\\':
			s.i += 2
		case c < 0x20:
			return nil, false
		default:
			s.i++
		}
	}
	return nil, false
}

// num scans a JSON number and converts it to int64 (truncating fractions).
func (s *scanner) num() (int64, bool) {
	start := s.i
	isInt := true
	s.eat('-')
	digits := 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
			isInt = false
		default:
			goto done
		}
		s.i++
	}
done:
	if digits == 0 {
		return 0, false
	}
	lit := s.b[start:s.i]
	if isInt && digits <= 18 {
		var v int64
		for _, c := range lit {
			if c != '-' {
				v = v*10 + int64(c-'0')
			}
		}
		if lit[0] == '-' {
			v = -v
		}
		return v, true
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	if f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(math.Round(f)), true
}

func (s *scanner) payload(m *Msg) bool {
	s.eat('{')
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		var dst *int64
		if len(key) == 1 {
			switch key[0] {
			case 't':
				dst = &m.T
			case 's':
				dst = &m.S
			case 'p':
				dst = &m.P
			case 'r':
				dst = &m.R
			}
		}
		if c := s.peek(); dst != nil && (c == '-' || c >= '0' && c <= '9') {
			v, ok := s.num()
			if !ok {
				return false
			}
			*dst = v
		} else if !s.skip(0) {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

const maxDepth = 64

// skip scans over any JSON value.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.i++
		s.ws()
		if s.eat(closer) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if _, ok := s.str(); !ok {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(closer)
		}
	case c == '-' || c >= '0' && c <= '9':
		_, ok := s.num()
		return ok
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return false
}

func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}
