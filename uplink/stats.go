package uplink

import "time"

// Stats is a snapshot of the uplink for `status` and the status document.
type Stats struct {
	Broker      string
	Connected   bool
	Connects    uint64 // successful connections since start
	Disconnects uint64
	// ConnectedSince is when the current connection came up (zero when down).
	ConnectedSince time.Time
	// LastError is the last connection failure or loss ("" while connected
	// after a clean start).
	LastError string
	Progress  uint64 // data batches acknowledged by the broker since start
	// Budget is the bytes sent today and this month (UTC) and what is left
	// of the [mqtt] budget (budget.go).
	Budget BudgetStats
	// Wire is the bytes at the socket since start, both directions, TLS
	// included (wire.go).
	Wire    WireStats
	Streams []StreamStats
}

// StreamStats describes one stream. The counters cover batches the broker
// acknowledged since start; resends are batches that were in flight when a
// connection ended and went out again from the cursor.
type StreamStats struct {
	Name    string
	Topic   string
	Cursor  uint64 // last acknowledged seq
	Backlog uint64 // buffered readings past the cursor
	Batches uint64
	// Readings and Bytes count matched readings and payload bytes sent.
	Readings uint64
	Bytes    uint64
	// Dropped is the total announced in acknowledged batches' "dropped".
	Dropped     uint64
	Resends     uint64
	LastPublish time.Time // last PUBACK
	LastError   string    // last failure of this stream, cleared by the next PUBACK
}

// Stats returns a snapshot.
func (u *Uplink) Stats() Stats {
	sess, _ := u.current()
	u.mu.Lock()
	st := Stats{Broker: u.cfg.Broker, LastError: u.connErr}
	u.mu.Unlock()
	st.Connected = sess != nil && !sess.lost() && sess.client.IsConnectionOpen()
	if st.Connected {
		st.ConnectedSince = sess.connectedAt
	}
	st.Connects = u.connects.Load()
	st.Disconnects = u.disconnects.Load()
	st.Progress = u.progress.Load()
	st.Budget = u.meter.stats()
	st.Wire = WireStats{In: u.wire.in.Load(), Out: u.wire.out.Load()}
	for _, s := range u.list() {
		s.mu.Lock()
		ss := StreamStats{Name: s.name, Topic: s.topic, LastPublish: s.lastPublish, LastError: s.lastErr}
		s.mu.Unlock()
		ss.Cursor = s.cursor.Load()
		ss.Backlog = s.backlog()
		ss.Batches = s.batches.Load()
		ss.Readings = s.readings.Load()
		ss.Bytes = s.bytes.Load()
		ss.Dropped = s.dropped.Load()
		ss.Resends = s.resends.Load()
		st.Streams = append(st.Streams, ss)
	}
	return st
}
