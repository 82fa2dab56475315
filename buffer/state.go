package buffer

import (
	"bytes"
	"strings"
)

// Persisted state: small values that must survive a restart and a power cut
// exactly as readings do, such as a pulse counter's running total. They live
// in the meta bucket under "state/<key>" and ride on the group commit: a
// SetState is written by the next commit (a state change alone causes one),
// so a power cut loses at most commit_interval of changes, the same window
// as readings, and the value on disk is always one that was set. A
// SetState that does not change the value writes nothing: a counter that
// did not move costs the SD card no commit.
//
// The meta bucket is kept inline in the root page when it can be (see
// tailLimit), so state is meant to be small: a few values of a few bytes per
// sensor. Keys and values beyond maxStateKey and maxStateValue are refused
// with an ERROR log. Keys of sensors no longer configured stay in the file.

const (
	statePrefix   = "state/"
	maxStateKey   = 200
	maxStateValue = 256
)

func stateKey(key string) []byte { return []byte(statePrefix + key) }

func isStateKey(k []byte) (string, bool) {
	s := string(k)
	if !strings.HasPrefix(s, statePrefix) {
		return "", false
	}
	return s[len(statePrefix):], true
}

// stateSize is what one state entry adds to the meta bucket, as bbolt
// counts it.
func stateSize(key string, v []byte) int {
	return leafElemLen + len(statePrefix) + len(key) + len(v)
}

// GetState returns the value last set for key, committed or not yet, and
// whether there is one. The slice is a copy.
func (r *Ring) GetState(key string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.state[key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(v), true
}

// SetState sets key to value (copied); the next group commit persists it.
// Setting the value key already has is a no-op. On a ring opened read-only,
// or after Close, it does nothing.
func (r *Ring) SetState(key string, value []byte) {
	if r.readOnly {
		return
	}
	if key == "" || len(key) > maxStateKey || len(value) > maxStateValue {
		r.log.Error("buffer: state value refused: keys are 1 to 200 bytes, values at most 256",
			"path", r.path, "key", key, "key_bytes", len(key), "value_bytes", len(value))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if old, ok := r.state[key]; ok && bytes.Equal(old, value) {
		return
	}
	if r.state == nil {
		r.state = map[string][]byte{}
	}
	r.state[key] = bytes.Clone(value) // never mutated after: commits share it
	if r.stateDirty == nil {
		r.stateDirty = map[string]bool{}
	}
	r.stateDirty[key] = true
}

// takeStateLocked moves the dirty state into w; mu held.
func (r *Ring) takeStateLocked(w *work) {
	for k := range r.stateDirty {
		if w.state == nil {
			w.state = make(map[string][]byte, len(r.stateDirty))
		}
		w.state[k] = r.state[k]
	}
	r.stateDirty = nil
	for k, v := range r.state {
		w.stateBytes += stateSize(k, v)
	}
}

// restoreStateLocked marks a failed commit's state dirty again; the next
// commit writes the values current then. mu held.
func (r *Ring) restoreStateLocked(w *work) {
	for k := range w.state {
		if r.stateDirty == nil {
			r.stateDirty = map[string]bool{}
		}
		r.stateDirty[k] = true
	}
}
