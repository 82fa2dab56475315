package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a config file. Line and Col count from 1; Col is a
// byte offset in the line plus one, as BurntSushi/toml counts it. Zero means
// unknown.
type Pos struct{ Line, Col int }

// Error is one mistake in a config file, with where it is and which key.
type Error struct {
	File      string
	Line, Col int
	Key       string // full key path: "sensor[1].interval"; empty for syntax errors
	Msg       string
}

// Error formats as "file:line:col: key: msg", leaving out the column when it
// is 0, the line when it is unknown, and the key when there is none, so that
// editors and terminals can jump to the spot.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every mistake found in one file, sorted by position; errors
// without a line come last.
type Errors []*Error

func (l Errors) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Err returns nil when the list is empty.
func (l Errors) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Sort orders the list by line, then column; errors without a line go last.
// The sort is stable so that errors on one key keep the order they were found.
func (l Errors) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// AsErrors returns the config.Errors inside err, if any.
func AsErrors(err error) (Errors, bool) {
	var l Errors
	if errors.As(err, &l) {
		return l, true
	}
	return nil, false
}
