package uplink

import (
	"net"
	"sync/atomic"
)

// Bytes on the wire. A SIM bills what crosses the link, not MQTT
// payloads: CONNECT, SUBSCRIBE, PINGREQ/PINGRESP, PUBACKs, TLS handshakes
// and every TLS record's header and tag are what an idle box pays for. So
// the dialer puts wireConn directly on the TCP socket, under TLS, and
// every byte read or written there (both directions) is counted into the
// meter's wire counters (budget.go), which the status document
// (wire_bytes_today, wire_bytes_month), the data budget and the telemetry
// (Stats.Wire) report.
//
// Not counted, because no socket call sees them: the IP and TCP headers
// (about 40-60 B per segment) and bare TCP ACKs. A carrier bills those too;
// README "Metered links" gives the margin. For ws:// and wss:// paho dials
// the websocket itself, so the count is taken above it and leaves out the
// HTTP upgrade, websocket framing and TLS (an undercount; prefer tls://
// on a metered link).

// wireConn counts the bytes crossing a connection into a wireCounter.
type wireConn struct {
	net.Conn
	w *wireCounter
}

func (c *wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.w.add(int64(n), 0)
	}
	return n, err
}

func (c *wireConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.w.add(0, int64(n))
	}
	return n, err
}

// wireCounter totals the bytes of every connection the uplink opens and
// passes them on to the meter (budget.go) as they happen.
type wireCounter struct {
	in, out atomic.Int64 // since start
	m       *meter       // nil: totals only
}

func (w *wireCounter) add(in, out int64) {
	w.in.Add(in)
	w.out.Add(out)
	if w.m != nil {
		w.m.addWire(in + out)
	}
}

func (w *wireCounter) wrap(c net.Conn) net.Conn { return &wireConn{Conn: c, w: w} }

// WireStats are the bytes at the socket since start, both directions.
type WireStats struct {
	In, Out int64
}
