package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Bar is a progress line. The zero value writes nothing.
type Bar struct {
	// Immutable after construction.
	w     io.Writer
	tty   bool
	every time.Duration

	// Guarded by mu.
	mu    sync.Mutex
	last  time.Time
	shown bool
	width int
}

// New returns a bar writing to w; a nil w gives a silent bar.
func New(w io.Writer) *Bar {
	b := &Bar{w: w, every: 3 * time.Second}
	if f, ok := w.(*os.File); ok {
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			b.tty = true
			b.every = 100 * time.Millisecond
		}
	}
	return b
}

// Update shows label with done of total (total <= 0: no bar) and a note. Calls
// are throttled; force draws anyway.
func (b *Bar) Update(label string, done, total int64, note string, force bool) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(b.last) < b.every {
		return
	}
	b.last = now
	var sb strings.Builder
	sb.WriteString(label)
	if total > 0 {
		frac := float64(done) / float64(total)
		if frac > 1 {
			frac = 1
		}
		if frac < 0 {
			frac = 0
		}
		const cells = 24
		n := int(frac * cells)
		fmt.Fprintf(&sb, " [%s%s] %d/%d %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", cells-n), done, total, frac*100)
	}
	if note != "" {
		sb.WriteString(" ")
		sb.WriteString(note)
	}
	line := sb.String()
	if b.tty {
		pad := ""
		if b.width > len(line) {
			pad = strings.Repeat(" ", b.width-len(line))
		}
		fmt.Fprintf(b.w, "\r%s%s", line, pad)
		b.width = len(line)
		b.shown = true
		return
	}
	fmt.Fprintln(b.w, line)
}

// Println ends the current bar line, if any, and prints a line.
func (b *Bar) Println(a ...any) {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		fmt.Fprint(b.w, "\n")
		b.shown = false
		b.width = 0
	}
	fmt.Fprintln(b.w, a...)
}

// Finish ends the current bar line.
func (b *Bar) Finish() {
	if b == nil || b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		fmt.Fprint(b.w, "\n")
		b.shown = false
		b.width = 0
	}
}
