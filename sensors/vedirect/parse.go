package vedirect

// The TEXT protocol, as Victron's "VE.Direct Protocol" document defines it:
// a device sends a block about once a second; each field is
// "\r\n<label>\t<value>", and the last field of a block is
// "\r\nChecksum\t<byte>", where the byte makes the sum of every byte of the
// block (from the first field's "\r\n" through the checksum byte itself)
// 0 modulo 256. The checksum byte is arbitrary: it may be ':', '\r', '\n'
// or anything else, which is why it is taken blindly.
//
// Asynchronous HEX-protocol frames (":" … "\n", e.g. a SmartSolar's
// ":A…" register notifications) may arrive between text blocks or inside
// one. They are not part of the text block: their bytes are left out of the
// sum and the text state resumes after the frame's "\n", as Victron's
// reference framehandler does.
//
// Between blocks the parser waits for a "\n" and starts the sum there (as
// if preceded by "\r"), so noise after a dropped block costs that block
// only, not the next good one too.

// Field is one "<label>\t<value>" of a block, as sent.
type Field struct {
	Label string
	Value string
}

// Limits that bound a corrupt stream. The document's longest label is 8
// bytes and its longest value 32; a block has about 25 fields at most.
const (
	maxLabel     = 16
	maxValue     = 64
	maxFields    = 64
	maxBlockSize = 2048
	maxHexFrame  = 1024
)

type state uint8

const (
	stIdle     state = iota // before a field's '\n'
	stLabel                 // reading a label, up to '\t'
	stValue                 // reading a value, up to '\n' ('\r' skipped)
	stChecksum              // the next byte is the checksum byte
	stHex                   // inside a HEX frame, up to '\n'
)

// Result is what the parser hands out at the end of a block: its fields
// when the checksum held, or why it was dropped.
type Result struct {
	Fields []Field
	// Bad, when set, says why the block was dropped: "checksum", or the
	// way it was malformed. Fields is then nil.
	Bad string
}

// Parser turns a byte stream into blocks. The zero Parser is ready; it
// keeps its state between Feed calls, so the stream may be cut anywhere.
type Parser struct {
	st, resume state
	sum        byte
	size, hex  int
	label      []byte
	value      []byte
	fields     []Field
	malformed  string
}

// Reset drops a partial block, as after reopening the port.
func (p *Parser) Reset() { *p = Parser{label: p.label[:0], value: p.value[:0]} }

// Feed parses b and calls emit for each block that ends in it.
func (p *Parser) Feed(b []byte, emit func(Result)) {
	for _, c := range b {
		p.byte(c, emit)
	}
}

func (p *Parser) byte(c byte, emit func(Result)) {
	if p.st == stHex {
		p.hex++
		switch {
		case c == '\n':
			p.st = p.resume
		case p.hex > maxHexFrame:
			// A ':' that started no frame (noise): give up on this block.
			p.st = p.resume
			p.fail("a HEX frame without its end")
		}
		return
	}
	if c == ':' && p.st != stChecksum {
		p.resume, p.st, p.hex = p.st, stHex, 0
		return
	}
	p.sum += c
	p.size++
	if p.size > maxBlockSize && p.st != stChecksum {
		p.fail("a block longer than 2 KiB without a checksum")
		p.drop(emit)
		return
	}
	switch p.st {
	case stIdle:
		if c == '\n' {
			// A block begins at its first field's "\r\n": whatever came
			// before (noise after a dropped block) is not part of it.
			p.sum, p.size = '\r'+'\n', 2
			p.st, p.label = stLabel, p.label[:0]
		}
	case stLabel:
		p.labelByte(c)
	case stValue:
		p.valueByte(c)
	case stChecksum:
		p.end(emit)
	}
}

func (p *Parser) labelByte(c byte) {
	switch {
	case c == '\t':
		if string(p.label) == "Checksum" {
			p.st = stChecksum
			return
		}
		if len(p.label) == 0 {
			p.fail("a field without a label")
		}
		p.st, p.value = stValue, p.value[:0]
	case c == '\r' || c == '\n':
		p.fail("a label without a value")
		p.st = stIdle
		if c == '\n' {
			p.st, p.label = stLabel, p.label[:0]
		}
	case len(p.label) >= maxLabel || c < 0x20 || c > 0x7e:
		p.fail("a label too long or not printable")
	default:
		p.label = append(p.label, c)
	}
}

func (p *Parser) valueByte(c byte) {
	switch {
	case c == '\r':
	case c == '\n':
		if len(p.fields) >= maxFields {
			p.fail("more than 64 fields")
		} else {
			p.fields = append(p.fields, Field{Label: string(p.label), Value: string(p.value)})
		}
		p.st, p.label = stLabel, p.label[:0]
	case len(p.value) >= maxValue:
		p.fail("a value longer than 64 bytes")
	default:
		p.value = append(p.value, c)
	}
}

// end closes a block at its checksum byte (already summed).
func (p *Parser) end(emit func(Result)) {
	// The last field before "Checksum" ended at the "\r\n" that began the
	// Checksum line, so every field is in p.fields.
	switch {
	case p.sum != 0:
		p.fail("checksum")
		p.drop(emit)
	case p.malformed != "":
		p.drop(emit)
	default:
		emit(Result{Fields: p.fields})
		p.fields = nil
		p.next()
	}
}

// fail marks the block being read as malformed; the first reason stays.
func (p *Parser) fail(why string) {
	if p.malformed == "" {
		p.malformed = why
	}
}

// drop hands out the block as bad and starts afresh.
func (p *Parser) drop(emit func(Result)) {
	emit(Result{Bad: p.malformed})
	p.fields = p.fields[:0]
	p.next()
}

// next starts a new block: the sum counts from the byte after a checksum.
func (p *Parser) next() {
	p.st, p.sum, p.size, p.malformed = stIdle, 0, 0, ""
}
