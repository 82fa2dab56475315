package config

import (
	"fmt"
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
// The index is a tree of path segments, not a map of path strings: a path
// string per key costs the sum of the key depths, which is quadratic in the
// nesting (100k nested arrays, a 200 kB file, would be 60 GB of strings);
// a node per segment is linear in the file. Lookups split the path they are
// given. Values nested deeper than maxIndexDepth are skipped without being
// indexed, so no input, whatever its shape, recurses without bound.
//
// The scanner is lenient: it is meant for files the TOML parser accepted,
// and on anything else it records what it can and never fails.
type KeyIndex struct {
	nodes []keyNode // nodes[0] is the document
	kids  map[keyEdge]int
}

// keyNode is one path segment; pos is zero when the path is only an
// ancestor of written keys and not written itself.
type keyNode struct {
	parent int
	pos    Pos
}

// keyEdge names a child: by key (index < 0) or by array index.
type keyEdge struct {
	parent int
	index  int
	name   string
}

// maxIndexDepth bounds the scanner's recursion; config documents are
// refused long before this (MaxDepth), it only keeps ScanKeys safe on
// anything.
const maxIndexDepth = 1000

// ScanKeys indexes the key positions of a TOML document.
func ScanKeys(src []byte) *KeyIndex {
	s := &scanner{src: src, line: 1, x: &KeyIndex{nodes: []keyNode{{parent: -1}}, kids: map[keyEdge]int{}}, arrays: map[int]int{}}
	s.run()
	return s.x
}

func (x *KeyIndex) child(parent int, e keyEdge) int {
	e.parent = parent
	if n, ok := x.kids[e]; ok {
		return n
	}
	x.nodes = append(x.nodes, keyNode{parent: parent})
	n := len(x.nodes) - 1
	x.kids[e] = n
	return n
}

func (x *KeyIndex) named(parent int, name string) int {
	return x.child(parent, keyEdge{index: -1, name: name})
}

func (x *KeyIndex) indexed(parent, i int) int { return x.child(parent, keyEdge{index: i}) }

// set records where node is written, unless an earlier line did.
func (x *KeyIndex) set(node int, p Pos) {
	if x.nodes[node].pos == (Pos{}) {
		x.nodes[node].pos = p
	}
}

// walk follows path from the document down as far as it is indexed and
// returns the deepest written node on the way and whether that node is
// path itself.
func (x *KeyIndex) walk(path string) (Pos, bool) {
	if x == nil || len(x.nodes) == 0 {
		return Pos{}, false
	}
	node, found := 0, Pos{}
	for rest := path; rest != ""; {
		e, tail, ok := splitSegment(rest)
		if !ok {
			return found, false
		}
		n, ok := x.kids[keyEdge{parent: node, index: e.index, name: e.name}]
		if !ok {
			return found, false
		}
		node, rest = n, tail
		if p := x.nodes[node].pos; p != (Pos{}) {
			found = p
		}
	}
	return found, node != 0 && x.nodes[node].pos != (Pos{})
}

// splitSegment takes the first segment off a path: `name`, `"quoted"` or
// `[3]`, with the '.' that follows a name.
func splitSegment(path string) (keyEdge, string, bool) {
	path = strings.TrimPrefix(path, ".")
	switch {
	case path == "":
		return keyEdge{}, "", false
	case path[0] == '[':
		end := strings.IndexByte(path, ']')
		if end < 0 {
			return keyEdge{}, "", false
		}
		i, err := strconv.Atoi(path[1:end])
		if err != nil || i < 0 {
			return keyEdge{}, "", false
		}
		return keyEdge{index: i}, path[end+1:], true
	case path[0] == '"':
		for i := 1; i < len(path); i++ {
			switch path[i] {
			case '\\':
				i++
			case '"':
				name, err := strconv.Unquote(path[:i+1])
				if err != nil {
					name = path[1:i]
				}
				return keyEdge{index: -1, name: name}, path[i+1:], true
			}
		}
		return keyEdge{}, "", false
	}
	end := strings.IndexAny(path, ".[")
	if end < 0 {
		end = len(path)
	}
	return keyEdge{index: -1, name: path[:end]}, path[end:], true
}

// Lookup returns the position of exactly path.
func (x *KeyIndex) Lookup(path string) (Pos, bool) {
	p, ok := x.walk(path)
	if !ok {
		return Pos{}, false
	}
	return p, true
}

// Has reports whether path is written in the file.
func (x *KeyIndex) Has(path string) bool {
	_, ok := x.walk(path)
	return ok
}

// Find returns the position of path or, when path is not written in the file
// (a default, a missing key), of its nearest ancestor that is: the table it
// belongs to. It returns the zero Pos when none is.
func (x *KeyIndex) Find(path string) Pos {
	p, _ := x.walk(path)
	return p
}

// Len is the number of indexed paths.
func (x *KeyIndex) Len() int {
	n := 0
	for _, k := range x.nodes {
		if k.pos != (Pos{}) {
			n++
		}
	}
	return n
}

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
	x         *KeyIndex
	// arrays counts the elements of each array of tables, by node, so a
	// later [[x]] or [x.y] header knows which element it extends.
	arrays map[int]int
	table  int // node of the current table
	depth  int // values being scanned, one inside the other
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
	node := 0
	for i, part := range parts {
		node = s.x.named(node, part)
		if array && i == len(parts)-1 {
			n := s.arrays[node]
			s.arrays[node] = n + 1
			s.x.set(node, p)
			node = s.x.indexed(node, n)
		} else if n, ok := s.arrays[node]; ok {
			node = s.x.indexed(node, n-1)
		}
		s.x.set(node, p)
	}
	s.table = node
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

// keyval reads `key = value` in the table at node base.
func (s *scanner) keyval(base int) {
	p := s.pos()
	parts := s.keyParts()
	if len(parts) == 0 {
		return
	}
	node := base
	for _, part := range parts {
		node = s.x.named(node, part)
		s.x.set(node, p)
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.advance()
	s.skipSpace()
	s.value(node)
}

func (s *scanner) value(node int) {
	switch s.peek() {
	case '"':
		if s.peekAt(1) == '"' && s.peekAt(2) == '"' {
			s.multiline('"')
		} else {
			s.skipBasicString()
		}
	case '\'':
		if s.peekAt(1) == '\'' && s.peekAt(2) == '\'' {
			s.multiline('\'')
		} else {
			s.literalString()
		}
	case '[', '{':
		if s.depth >= maxIndexDepth {
			s.skipNested()
			return
		}
		s.depth++
		if s.peek() == '[' {
			s.array(node)
		} else {
			s.inlineTable(node)
		}
		s.depth--
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

func (s *scanner) array(node int) {
	s.advance()
	for n := 0; ; n++ {
		s.skipBlank()
		if s.eof() || s.peek() == ']' {
			s.advance()
			return
		}
		start := s.i
		elem := s.x.indexed(node, n)
		s.x.set(elem, s.pos())
		s.value(elem)
		s.skipBlank()
		if s.peek() == ',' {
			s.advance()
		} else if s.i == start {
			s.advance() // junk: make progress
		}
	}
}

func (s *scanner) inlineTable(node int) {
	s.advance()
	for {
		s.skipBlank()
		if s.eof() || s.peek() == '}' {
			s.advance()
			return
		}
		start := s.i
		s.keyval(node)
		s.skipBlank()
		if s.peek() == ',' {
			s.advance()
		} else if s.i == start {
			s.advance()
		}
	}
}

// skipNested passes over an array or inline table, whatever it nests,
// without indexing it and without recursion.
func (s *scanner) skipNested() {
	open := 0
	for !s.eof() {
		switch c := s.peek(); {
		case c == '[' || c == '{':
			open++
			s.advance()
		case c == ']' || c == '}':
			open--
			s.advance()
			if open <= 0 {
				return
			}
		case c == '#':
			s.skipComment()
		case c == '"' || c == '\'':
			if s.peekAt(1) == c && s.peekAt(2) == c {
				s.multiline(c)
			} else if c == '"' {
				s.skipBasicString()
			} else {
				s.literalString()
			}
		default:
			s.advance()
		}
	}
}

// skipBasicString passes over "..." without building its content.
func (s *scanner) skipBasicString() {
	s.advance()
	for !s.eof() {
		switch s.peek() {
		case '"':
			s.advance()
			return
		case '\n':
			return
		case '\\':
			s.advance()
		}
		s.advance()
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

// MaxDepth bounds how deeply a config document may nest: the number of
// parts in the longest key path, counting each name and each array index
// ("sensor[0].register[2].field" is 5; the deepest real configs are 5 or
// 6). It is checked before the document is parsed: BurntSushi/toml's cost
// grows with the square of the nesting (10k nested inline tables: 11 GB
// and 30 s), so depth must be refused before it is decoded.
const MaxDepth = 12

// CheckDepth reports the first place where src (TOML, or a JSON object)
// nests deeper than limit key parts, as Errors naming file and the limit.
// It is a single pass over the bytes that knows strings and comments, and
// it stops at the first excess: its own memory is bounded by limit.
func CheckDepth(file string, src []byte, limit int) error {
	d := &depthScan{scanner: scanner{src: src, line: 1}, limit: limit}
	var p Pos
	var depth int
	var ok bool
	if t := strings.TrimLeft(string(src[:min(len(src), 64)]), " \t\r\n\ufeff"); strings.HasPrefix(t, "{") {
		p, depth, ok = d.json()
	} else {
		p, depth, ok = d.toml()
	}
	if ok {
		return nil
	}
	return Errors{{File: file, Line: p.Line, Col: p.Col,
		Msg: fmt.Sprintf("nested %d levels deep; the depth limit is %d (each name and array index along one key path counts)", depth, limit)}}
}

// depthScan measures nesting with the key scanner's lexing.
type depthScan struct {
	scanner
	limit int
	stack []int // per open array or inline table: the depth of what it holds
	// aot holds the arrays of tables declared so far, by quoted parts.
	aot map[string]bool
}

// json measures a JSON document: each open object or array is one level.
func (d *depthScan) json() (Pos, int, bool) {
	open := 0
	for !d.eof() {
		switch d.peek() {
		case '"':
			d.skipBasicString()
			continue
		case '{', '[':
			open++
			if open > d.limit {
				return d.pos(), open, false
			}
		case '}', ']':
			open--
		}
		d.advance()
	}
	return Pos{}, 0, true
}

// toml measures a TOML document: a table header's parts, a key's parts
// below its table, one more per array level, an inline table's keys below
// its key.
func (d *depthScan) toml() (Pos, int, bool) {
	table := 0
	for !d.eof() {
		d.skipSpace()
		switch c := d.peek(); {
		case c == '\r' || c == '\n' || c == 0:
			d.advance()
		case c == '#':
			d.skipComment()
		case c == '[':
			p := d.pos()
			n := d.header()
			if n > d.limit {
				return p, n, false
			}
			table = n
			d.skipComment()
		default:
			start := d.i
			if p, n, ok := d.keyval(table); !ok {
				return p, n, false
			}
			if d.i == start {
				d.advance()
			}
		}
	}
	return Pos{}, 0, true
}

// header measures a table header: its parts, plus an index for each
// array of tables it names ([[a]] then [a.b] is a[i].b).
func (d *depthScan) header() int {
	d.advance()
	array := d.peek() == '['
	if array {
		d.advance()
	}
	start := d.scanner
	if n := d.countParts(); n > d.limit {
		return n // too deep already; the paths below would cost its square
	}
	d.scanner = start
	parts := d.keyParts()
	if d.aot == nil {
		d.aot = map[string]bool{}
	}
	n, path := len(parts), ""
	for i, part := range parts {
		path += strconv.Quote(part)
		if array && i == len(parts)-1 {
			d.aot[path] = true
		}
		if d.aot[path] {
			n++
		}
	}
	return n
}

// keyval measures `key = value` in a table base levels deep, the value
// whole, however many lines and containers it spans. Its containers are
// kept on d.stack instead of recursion.
func (d *depthScan) keyval(base int) (Pos, int, bool) {
	p := d.pos()
	n := base + d.countParts()
	if n > d.limit {
		return p, n, false
	}
	d.skipSpace()
	if d.peek() != '=' {
		return Pos{}, 0, true
	}
	d.advance()
	d.skipSpace()
	d.stack = d.stack[:0]
	for {
		// at a value n levels deep
		switch c := d.peek(); c {
		case '[', '{':
			p := d.pos()
			d.advance()
			if c == '[' {
				n++
			}
			if n > d.limit {
				return p, n, false
			}
			d.stack = append(d.stack, n)
			if c == '{' {
				d.stack[len(d.stack)-1] = -n - 1 // an inline table: keys below n
			}
		case '"', '\'':
			if d.peekAt(1) == c && d.peekAt(2) == c {
				d.multiline(c)
			} else if c == '"' {
				d.skipBasicString()
			} else {
				d.literalString()
			}
		default:
			d.scalar()
		}
		// after a value, or right after an opening: find the next value
		for {
			if len(d.stack) == 0 {
				return Pos{}, 0, true
			}
			d.skipBlank()
			top := d.stack[len(d.stack)-1]
			switch d.peek() {
			case ',':
				d.advance()
				continue
			case ']', '}':
				d.advance()
				d.stack = d.stack[:len(d.stack)-1]
				continue
			case 0:
				if d.eof() {
					return Pos{}, 0, true
				}
			}
			if top >= 0 { // an array: the next element
				n = top
				break
			}
			// an inline table: the next key
			p := d.pos()
			start := d.i
			n = -top - 1 + d.countParts()
			if n > d.limit {
				return p, n, false
			}
			d.skipSpace()
			if d.peek() == '=' {
				d.advance()
				d.skipBlank()
				break
			}
			if d.i == start {
				d.advance() // junk: make progress
			}
		}
	}
}

// countParts passes over a possibly dotted key, as keyParts reads it,
// and counts its parts without keeping them.
func (d *depthScan) countParts() int {
	n := 0
	for {
		d.skipSpace()
		switch c := d.peek(); {
		case c == '"':
			d.skipBasicString()
		case c == '\'':
			d.literalString()
		case isBareChar(c):
			for isBareChar(d.peek()) {
				d.advance()
			}
		default:
			return n
		}
		n++
		d.skipSpace()
		if d.peek() != '.' {
			return n
		}
		d.advance()
	}
}

// scalar passes over a number, date, boolean or junk.
func (d *depthScan) scalar() {
	start := d.i
	for !d.eof() {
		switch d.peek() {
		case ',', ']', '}', '#', '\n', '\r', '[', '{', '"', '\'':
			if d.i == start {
				d.advance() // junk: make progress
			}
			return
		}
		d.advance()
	}
}
