package web

import (
	"strings"
	"sync"
)

// LogLines keeps the last lines written to it, for the page's log: a
// technician sees why a sensor fails without a shell. Each Write is taken
// as whole lines (slog's handlers write one record per call).
type LogLines struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// NewLogLines keeps the last n lines.
func NewLogLines(n int) *LogLines {
	return &LogLines{lines: make([]string, n)}
}

// maxLine bounds one stored line: a record carrying a whole payload must not
// make the ring hold megabytes.
const maxLine = 2048

// Write stores p's lines; it never fails.
func (l *LogLines) Write(p []byte) (int, error) {
	s := strings.TrimRight(string(p), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(s, "\n") {
		if len(line) > maxLine {
			line = line[:maxLine] + "…"
		}
		l.lines[l.next] = line
		l.next = (l.next + 1) % len(l.lines)
		if l.next == 0 {
			l.full = true
		}
	}
	return len(p), nil
}

// Lines returns the stored lines, oldest first.
func (l *LogLines) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]string(nil), l.lines[:l.next]...)
	}
	return append(append([]string(nil), l.lines[l.next:]...), l.lines[:l.next]...)
}
