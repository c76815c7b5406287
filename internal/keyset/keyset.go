package keyset

import "math/bits"

// Keyed is an element of a Set: a pointer type whose Key does not change
// while the element is in a Set.
type Keyed interface {
	comparable
	Key() uint64
}

// minSlots is the size of a Set's first table.
const minSlots = 8

// Set holds elements of type T by their keys. The zero value is an empty set
// ready to use.
type Set[T Keyed] struct {
	slots []T  // len is a power of two, or 0
	n     int  // elements
	shift uint // 64 - log2(len(slots))
}

// Len is the number of elements.
func (s *Set[T]) Len() int { return s.n }

// home is k's first slot: Fibonacci hashing, so that every bit of the key
// counts (a caller may have used some bits to pick one of several Sets).
func (s *Set[T]) home(k uint64) int { return int((k * 0x9e3779b97f4a7c15) >> s.shift) }

// Get returns the element with key k, or the zero T.
func (s *Set[T]) Get(k uint64) T {
	var zero T
	if s.n == 0 {
		return zero
	}
	mask := len(s.slots) - 1
	for i := s.home(k); ; i = (i + 1) & mask {
		e := s.slots[i]
		if e == zero || e.Key() == k {
			return e
		}
	}
}

// Add inserts e and reports true, or reports false and changes nothing when
// an element with e's key is present.
func (s *Set[T]) Add(e T) bool {
	var zero T
	if (s.n+1)*4 > len(s.slots)*3 {
		s.resize(max(minSlots, 2*len(s.slots)))
	}
	k := e.Key()
	mask := len(s.slots) - 1
	for i := s.home(k); ; i = (i + 1) & mask {
		switch x := s.slots[i]; {
		case x == zero:
			s.slots[i] = e
			s.n++
			return true
		case x.Key() == k:
			return false
		}
	}
}

// Remove deletes e, if present (the element with e's key is removed only if
// it is e), and reports whether it was.
func (s *Set[T]) Remove(e T) bool {
	var zero T
	if s.n == 0 {
		return false
	}
	k := e.Key()
	mask := len(s.slots) - 1
	i := s.home(k)
	for ; s.slots[i] != e; i = (i + 1) & mask {
		if s.slots[i] == zero {
			return false
		}
	}
	// Backward-shift: move later elements of the probe run into the hole
	// when their home is not between the hole and them.
	for j := (i + 1) & mask; s.slots[j] != zero; j = (j + 1) & mask {
		h := s.home(s.slots[j].Key())
		if (j-h)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = zero
	s.n--
	if len(s.slots) > minSlots && s.n*8 < len(s.slots) {
		s.resize(len(s.slots) / 2)
	}
	return true
}

// All calls yield for every element, in no particular order, until it
// returns false. The Set must not change meanwhile.
func (s *Set[T]) All(yield func(T) bool) {
	var zero T
	for _, e := range s.slots {
		if e != zero && !yield(e) {
			return
		}
	}
}

func (s *Set[T]) resize(size int) {
	var zero T
	old := s.slots
	s.slots = make([]T, size)
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	for _, e := range old {
		if e == zero {
			continue
		}
		i := s.home(e.Key())
		for s.slots[i] != zero {
			i = (i + 1) & mask
		}
		s.slots[i] = e
	}
}
