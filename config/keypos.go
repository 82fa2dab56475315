package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// KeyIndex maps every key path of a TOML file to where it is written.
//
// BurntSushi/toml keeps key positions to itself and names keys without the
// array-of-tables index, so "sensor.interval" of the third [[sensor]] cannot
// be told from the first one's. This scanner fills that gap: paths carry
// 0-based indices ("sensor[2].interval", "stream[0].match[1]"), a table
// header's path points at its header line, and a dotted key defines the
// positions of its parents when no header did.
//
// The scanner is lenient: it is meant for files the TOML parser accepted,
// and on anything else it records what it can and never fails.
type KeyIndex struct {
	pos map[string]Pos
}

// ScanKeys indexes the key positions of a TOML document.
func ScanKeys(src []byte) *KeyIndex {
	s := &scanner{src: src, line: 1, ix: map[string]Pos{}, arrays: map[string]int{}}
	s.run()
	return &KeyIndex{pos: s.ix}
}

// Lookup returns the position of exactly path.
func (x *KeyIndex) Lookup(path string) (Pos, bool) {
	p, ok := x.pos[path]
	return p, ok
}

// Has reports whether path is written in the file.
func (x *KeyIndex) Has(path string) bool {
	_, ok := x.pos[path]
	return ok
}

// Find returns the position of path or, when path is not written in the file
// (a default, a missing key), of its nearest ancestor that is: the table it
// belongs to. It returns the zero Pos when none is.
func (x *KeyIndex) Find(path string) Pos {
	for path != "" {
		if p, ok := x.pos[path]; ok {
			return p
		}
		path = ParentKey(path)
	}
	return Pos{}
}

// Len is the number of indexed paths.
func (x *KeyIndex) Len() int { return len(x.pos) }

// JoinKey appends one key segment to a path, quoting the segment when it is
// not a bare TOML key, so that "a.b" written as a quoted key stays one segment.
func JoinKey(parent, key string) string {
	if !isBareKey(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// IndexKey appends an array index to a path: IndexKey("sensor", 2) is "sensor[2]".
func IndexKey(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// ParentKey strips the last segment or index of a path:
// "sensor[2].interval" → "sensor[2]" → "sensor" → "".
func ParentKey(path string) string {
	inQuote := false
	cut := 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == '.' || c == '['):
			cut = i
		}
	}
	return path[:cut]
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isBareChar(k[i]) {
			return false
		}
	}
	return true
}

func isBareChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

type scanner struct {
	src       []byte
	i         int
	line      int
	lineStart int
	ix        map[string]Pos
	// arrays counts the elements of each array of tables, by resolved path,
	// so a later [[x]] or [x.y] header knows which element it extends.
	arrays map[string]int
	table  string // path of the current table
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *scanner) peekAt(n int) byte {
	if s.i+n >= len(s.src) {
		return 0
	}
	return s.src[s.i+n]
}

func (s *scanner) advance() {
	if s.eof() {
		return
	}
	if s.src[s.i] == '\n' {
		s.line++
		s.lineStart = s.i + 1
	}
	s.i++
}

func (s *scanner) pos() Pos { return Pos{Line: s.line, Col: s.i - s.lineStart + 1} }

func (s *scanner) set(path string, p Pos) {
	if _, ok := s.ix[path]; !ok {
		s.ix[path] = p
	}
}

func (s *scanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t'; c = s.peek() {
		s.advance()
	}
}

// skipBlank skips spaces, newlines and comments: what may sit between the
// elements of an array.
func (s *scanner) skipBlank() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.advance()
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *scanner) skipComment() {
	for !s.eof() && s.peek() != '\n' {
		s.advance()
	}
}

func (s *scanner) run() {
	for !s.eof() {
		s.skipSpace()
		switch s.peek() {
		case 0:
			if !s.eof() {
				s.advance()
			}
		case '\r', '\n':
			s.advance()
		case '#':
			s.skipComment()
		case '[':
			s.header()
		default:
			start := s.i
			s.keyval(s.table)
			if s.i == start {
				s.advance()
			}
		}
	}
}

// header reads [a.b] or [[a.b]] and makes it the current table.
func (s *scanner) header() {
	p := s.pos()
	s.advance()
	array := s.peek() == '['
	if array {
		s.advance()
	}
	parts := s.keyParts()
	if len(parts) == 0 {
		s.skipComment()
		return
	}
	path := ""
	for i, part := range parts {
		path = JoinKey(path, part)
		if array && i == len(parts)-1 {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			s.set(path, p)
			path = IndexKey(path, n)
		} else if n, ok := s.arrays[path]; ok {
			path = IndexKey(path, n-1)
		}
		s.set(path, p)
	}
	s.table = path
	s.skipSpace()
	for s.peek() == ']' {
		s.advance()
	}
}

// keyParts reads a possibly dotted key of bare and quoted segments.
func (s *scanner) keyParts() []string {
	var parts []string
	for {
		s.skipSpace()
		var part string
		switch c := s.peek(); {
		case c == '"':
			part = s.basicString()
		case c == '\'':
			part = s.literalString()
		case isBareChar(c):
			start := s.i
			for isBareChar(s.peek()) {
				s.advance()
			}
			part = string(s.src[start:s.i])
		default:
			return parts
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek() != '.' {
			return parts
		}
		s.advance()
	}
}

// keyval reads `key = value` under base.
func (s *scanner) keyval(base string) {
	p := s.pos()
	parts := s.keyParts()
	if len(parts) == 0 {
		return
	}
	path := base
	for _, part := range parts {
		path = JoinKey(path, part)
		s.set(path, p)
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.advance()
	s.skipSpace()
	s.value(path)
}

func (s *scanner) value(path string) {
	switch s.peek() {
	case '"':
		if s.peekAt(1) == '"' && s.peekAt(2) == '"' {
			s.multiline('"')
		} else {
			s.basicString()
		}
	case '\'':
		if s.peekAt(1) == '\'' && s.peekAt(2) == '\'' {
			s.multiline('\'')
		} else {
			s.literalString()
		}
	case '[':
		s.advance()
		for n := 0; ; n++ {
			s.skipBlank()
			if s.eof() || s.peek() == ']' {
				s.advance()
				return
			}
			start := s.i
			elem := IndexKey(path, n)
			s.set(elem, s.pos())
			s.value(elem)
			s.skipBlank()
			if s.peek() == ',' {
				s.advance()
			} else if s.i == start {
				s.advance() // junk: make progress
			}
		}
	case '{':
		s.advance()
		for {
			s.skipBlank()
			if s.eof() || s.peek() == '}' {
				s.advance()
				return
			}
			start := s.i
			s.keyval(path)
			s.skipBlank()
			if s.peek() == ',' {
				s.advance()
			} else if s.i == start {
				s.advance()
			}
		}
	default:
		for !s.eof() {
			switch s.peek() {
			case ',', ']', '}', '#', '\n', '\r':
				return
			}
			s.advance()
		}
	}
}

// basicString reads "..." and returns its unescaped content.
func (s *scanner) basicString() string {
	s.advance()
	var b strings.Builder
	for !s.eof() {
		c := s.peek()
		switch c {
		case '"':
			s.advance()
			return b.String()
		case '\n':
			return b.String()
		case '\\':
			s.advance()
			e := s.peek()
			s.advance()
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'e':
				b.WriteByte(0x1b)
			case 'u', 'U', 'x':
				n := 4
				if e == 'U' {
					n = 8
				} else if e == 'x' {
					n = 2
				}
				if s.i+n <= len(s.src) {
					if r, err := strconv.ParseUint(string(s.src[s.i:s.i+n]), 16, 32); err == nil {
						b.WriteRune(rune(r))
						for range n {
							s.advance()
						}
					}
				}
			default:
				b.WriteByte(e)
			}
		default:
			_, size := utf8.DecodeRune(s.src[s.i:])
			b.Write(s.src[s.i : s.i+size])
			for range size {
				s.advance()
			}
		}
	}
	return b.String()
}

// literalString reads '...' (no escapes).
func (s *scanner) literalString() string {
	s.advance()
	start := s.i
	for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
		s.advance()
	}
	v := string(s.src[start:s.i])
	if s.peek() == '\'' {
		s.advance()
	}
	return v
}

// multiline skips a triple-quoted string, basic or literal, whose closing delimiter
// may be followed by up to two more quotes that belong to the content.
func (s *scanner) multiline(q byte) {
	for range 3 {
		s.advance()
	}
	for !s.eof() {
		c := s.peek()
		if c == '\\' && q == '"' {
			s.advance()
			s.advance()
			continue
		}
		if c == q && s.peekAt(1) == q && s.peekAt(2) == q {
			for range 3 {
				s.advance()
			}
			for extra := 0; extra < 2 && s.peek() == q; extra++ {
				s.advance()
			}
			return
		}
		s.advance()
	}
}
