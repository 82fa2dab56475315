package uplink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
)

// Inbound size limit. paho reads each packet whole into one buffer of its
// announced length before anyone sees it, and MQTT 3.1.1 cannot tell the
// broker what a client accepts: with Mosquitto's default
// (message_size_limit 0: up to 256 MiB) one config/set would have the box
// allocate 256 MiB before any check of ours could run. So the socket paho
// reads is wrapped: a PUBLISH whose payload is over Options.MaxInbound is
// passed to paho with a stand-in payload (CutPayload: its size and first
// 4 KiB) while the rest is read off the socket and discarded in small
// chunks. paho acknowledges it as usual and Inbound answers it "rejected"
// by its size. Every other packet goes through untouched.

// cutHead is how much of a cut payload's start is kept (SniffVersion looks
// there).
const cutHead = 4 << 10

// cutPrefix starts a stand-in payload; a NUL byte starts no TOML or JSON
// document.
const cutPrefix = "\x00karana-edge: payload cut\x00"

// CutPayload reports whether payload is the stand-in for one the uplink
// cut (Options.MaxInbound), and returns the original size and its first
// bytes.
func CutPayload(payload []byte) (size int64, head []byte, ok bool) {
	rest, ok := bytes.CutPrefix(payload, []byte(cutPrefix))
	if !ok || len(rest) < 8 {
		return 0, nil, false
	}
	return int64(binary.BigEndian.Uint64(rest)), rest[8:], true
}

// limitConn is the socket as paho reads it: packets pass through, too
// large a PUBLISH is cut.
type limitConn struct {
	net.Conn
	limit int    // payload bytes let through whole
	out   []byte // a header or a rewritten packet, ready for paho
	pass  int    // bytes of the current packet still to pass straight through
	buf   []byte // scratch for discarding
}

func newLimitConn(c net.Conn, limit int) net.Conn {
	if limit <= 0 {
		return c
	}
	return &limitConn{Conn: c, limit: limit}
}

func (c *limitConn) Read(p []byte) (int, error) {
	for {
		switch {
		case len(c.out) > 0:
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		case c.pass > 0:
			n, err := c.Conn.Read(p[:min(len(p), c.pass)])
			c.pass -= n
			return n, err
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
}

// publishType is the MQTT control packet type of PUBLISH (high nibble).
const publishType = 3

// next reads the next packet's fixed header and either lets the packet
// through or, for a PUBLISH over the limit, replaces it.
func (c *limitConn) next() error {
	var hdr [5]byte
	if _, err := io.ReadFull(c.Conn, hdr[:1]); err != nil {
		return err
	}
	remaining, n := 0, 1
	for shift := 0; ; shift += 7 {
		if n == len(hdr) {
			return errors.New("mqtt: malformed remaining length")
		}
		if _, err := io.ReadFull(c.Conn, hdr[n:n+1]); err != nil {
			return err
		}
		remaining |= int(hdr[n]&0x7f) << shift
		n++
		if hdr[n-1]&0x80 == 0 {
			break
		}
	}
	// a topic is at most 65535 bytes: anything up to limit plus that is
	// within the limit whatever its topic
	if hdr[0]>>4 != publishType || remaining <= c.limit {
		c.out, c.pass = append(c.out[:0], hdr[:n]...), remaining
		return nil
	}
	return c.cut(hdr[0], remaining)
}

// cut reads a PUBLISH's variable header, keeps the payload's first cutHead
// bytes, discards the rest and queues the rewritten packet.
func (c *limitConn) cut(first byte, remaining int) error {
	var vh [2]byte
	if _, err := io.ReadFull(c.Conn, vh[:]); err != nil {
		return err
	}
	head := int(binary.BigEndian.Uint16(vh[:])) + 2 // topic length, topic
	if first>>1&3 > 0 {
		head += 2 // packet identifier
	}
	payload := remaining - head
	if payload <= c.limit {
		// under the limit after all (a long topic): let it through
		c.out = appendRemaining(append(c.out[:0], first), remaining)
		c.out = append(c.out, vh[:]...)
		c.pass = remaining - 2
		return nil
	}
	varHeader := make([]byte, head)
	copy(varHeader, vh[:])
	if _, err := io.ReadFull(c.Conn, varHeader[2:]); err != nil {
		return err
	}
	kept := make([]byte, min(payload, cutHead))
	if _, err := io.ReadFull(c.Conn, kept); err != nil {
		return err
	}
	if c.buf == nil {
		c.buf = make([]byte, 32<<10)
	}
	if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c.Conn, int64(payload-len(kept))), c.buf); err != nil {
		return err
	}
	var size [8]byte
	binary.BigEndian.PutUint64(size[:], uint64(payload))
	stand := len(varHeader) + len(cutPrefix) + len(size) + len(kept)
	out := appendRemaining(append(c.out[:0], first), stand)
	out = append(out, varHeader...)
	out = append(out, cutPrefix...)
	out = append(out, size[:]...)
	c.out = append(out, kept...)
	return nil
}

// appendRemaining appends n as MQTT's variable-length remaining length.
func appendRemaining(b []byte, n int) []byte {
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}
