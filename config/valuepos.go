package config

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// ValuePos returns where the text of the string value of the key at path
// starts: the first character inside its quotes ("…", '…', or the line
// after the opening """ or ”' when it ends the line). ok is false when
// the key is not written as key = string; basic is true for a "…"
// string, whose escapes ValueOffset follows. An error inside the
// value (an expression's column) is then reported at its own column.
// Columns count bytes, as Pos does.
func (d *Doc) ValuePos(path string) (start Pos, basic, ok bool) {
	p, ok := d.keys.Lookup(path)
	if !ok || p.Line == 0 {
		return Pos{}, false, false
	}
	off := lineOffset(d.src, p.Line)
	if off < 0 {
		return Pos{}, false, false
	}
	line := d.src[off:]
	if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	i := p.Col - 1
	if i < 0 || i > len(line) {
		return Pos{}, false, false
	}
	eq := bytes.IndexByte(line[i:], '=')
	if eq < 0 {
		return Pos{}, false, false
	}
	j := i + eq + 1
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	rest := line[j:]
	switch {
	case bytes.HasPrefix(rest, []byte(`"""`)) || bytes.HasPrefix(rest, []byte(`'''`)):
		if len(bytes.TrimRight(rest[3:], " \t\r")) == 0 {
			return Pos{Line: p.Line + 1, Col: 1}, rest[0] == '"', true // TOML trims that newline
		}
		return Pos{Line: p.Line, Col: j + 4}, rest[0] == '"', true
	case len(rest) > 0 && (rest[0] == '"' || rest[0] == '\''):
		return Pos{Line: p.Line, Col: j + 2}, rest[0] == '"', true
	}
	return Pos{}, false, false
}

func lineOffset(src []byte, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		nl := bytes.IndexByte(src[off:], '\n')
		if nl < 0 {
			return -1
		}
		off += nl + 1
	}
	return off
}

// ValueOffset returns the position of the n-th character (0-based, in
// runes) of the decoded string value that starts at start (ValuePos):
// escapes of a basic string ("\"", "\u00e9") take more bytes in the file
// than in the value. A multi-line value is followed across lines.
func (d *Doc) ValueOffset(start Pos, basic bool, n int) Pos {
	off := lineOffset(d.src, start.Line)
	if off < 0 {
		return start
	}
	i, p := off+start.Col-1, start
	for ; n > 0 && i < len(d.src); n-- {
		c := d.src[i]
		switch {
		case c == '\\' && basic && i+1 < len(d.src):
			w := 2
			switch d.src[i+1] {
			case 'u':
				w = 6
			case 'U':
				w = 10
			}
			i, p.Col = i+w, p.Col+w
		case c == '\n':
			i, p.Line, p.Col = i+1, p.Line+1, 1
		default:
			_, w := utf8.DecodeRune(d.src[i:])
			i, p.Col = i+w, p.Col+w
		}
	}
	return p
}

// ErrorAt records an error about the key at path at position p (within
// its value), rather than at the key.
func (d *Doc) ErrorAt(path string, p Pos, format string, args ...any) {
	if d.failed[path] {
		return
	}
	d.errs = append(d.errs, &Error{File: d.File, Line: p.Line, Col: p.Col, Key: path, Msg: fmt.Sprintf(format, args...)})
}
