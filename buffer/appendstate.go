package buffer

import "github.com/karana-energy/karana-edge/reading"

// AppendState appends rs and sets key to value as one: the commit that
// writes the readings writes the value, so after a power cut either both
// are on disk or neither. An alarm's transition is a reading and its
// state; with one without the other a restart would raise it again or
// forget it. Keys and values are bounded as for SetState (a refused value
// is logged and the readings are appended alone).
func (r *Ring) AppendState(rs []reading.Reading, key string, value []byte) {
	if r.readOnly {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Ring.mu before the state's lock, as the commit's snapshot takes them.
	if key != "" && len(key) <= maxStateKey && len(value) <= maxStateValue {
		r.state.set(key, value)
	} else {
		r.log.Error("state value refused: keys are 1 to 200 bytes, values at most 256",
			"path", r.path, "key", key, "key_bytes", len(key), "value_bytes", len(value))
	}
	if len(rs) > 0 {
		r.appendLocked(rs)
	}
}
