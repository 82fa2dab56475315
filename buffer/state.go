package buffer

import (
	"bytes"
	"strings"
	"sync"
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

// sensorState is the ring's persisted state in memory: every value set
// (loaded at open, or set since) and the keys the next commit has to
// write. It has its own lock: a sensor's SetState never waits for the
// ring's, and it calls nothing of the ring. Lock order: Ring.mu may be held
// when it is taken (snapshot, adopt), never the reverse.
type sensorState struct {
	mu     sync.Mutex
	vals   map[string][]byte // never mutated after set: commits share them
	dirty  map[string]bool   // keys set since the last commit took them
	quiet  map[string]bool   // keys set quietly since then: they cause no commit
	closed bool              // the ring is closed: SetState does nothing
}

// GetState returns the value last set for key, committed or not yet, and
// whether there is one. The slice is a copy.
func (r *Ring) GetState(key string) ([]byte, bool) {
	return r.state.get(key)
}

// SetState sets key to value (copied); the next group commit persists it.
// Setting the value key already has is a no-op. On a ring opened read-only,
// or after Close, it does nothing.
func (r *Ring) SetState(key string, value []byte) {
	if r.readOnly {
		return
	}
	if key == "" || len(key) > maxStateKey || len(value) > maxStateValue {
		r.log.Error("state value refused: keys are 1 to 200 bytes, values at most 256",
			"path", r.path, "key", key, "key_bytes", len(key), "value_bytes", len(value))
		return
	}
	r.state.set(key, value)
}

// SetStateQuiet sets key as SetState does but causes no commit of its own:
// the value rides on the next commit that readings, cursor moves, other
// state or the clean shutdown cause. It is for counters that move while
// nothing else does (the uplink's socket byte tally moves with every
// keepalive ping), which must not make an idle box write its card; a power
// cut loses what they moved since the last commit.
func (r *Ring) SetStateQuiet(key string, value []byte) {
	if r.readOnly {
		return
	}
	if key == "" || len(key) > maxStateKey || len(value) > maxStateValue {
		r.log.Error("state value refused: keys are 1 to 200 bytes, values at most 256",
			"path", r.path, "key", key, "key_bytes", len(key), "value_bytes", len(value))
		return
	}
	r.state.setQuiet(key, value)
}

// load takes the values read from the file at open.
func (s *sensorState) load(vals map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals = vals
}

func (s *sensorState) get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(v), true
}

func (s *sensorState) set(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.storeLocked(key, value) {
		s.markLocked(key)
	}
}

func (s *sensorState) setQuiet(key string, value []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.storeLocked(key, value) && !s.dirty[key] {
		if s.quiet == nil {
			s.quiet = map[string]bool{}
		}
		s.quiet[key] = true
	}
}

// storeLocked keeps value for key and reports whether it changed.
func (s *sensorState) storeLocked(key string, value []byte) bool {
	if s.closed {
		return false
	}
	if old, ok := s.vals[key]; ok && bytes.Equal(old, value) {
		return false
	}
	if s.vals == nil {
		s.vals = map[string][]byte{}
	}
	s.vals[key] = bytes.Clone(value)
	return true
}

// close makes later sets no-ops (Ring.Close).
func (s *sensorState) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

// waiting reports whether a value is set that no commit has taken.
func (s *sensorState) waiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.dirty) > 0
}

// take moves the values set since the last take into w, with what all the
// values take in the meta bucket.
func (s *sensorState) take(w *work) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, keys := range []map[string]bool{s.dirty, s.quiet} {
		for k := range keys {
			if w.state == nil {
				w.state = make(map[string][]byte, len(s.dirty)+len(s.quiet))
			}
			w.state[k] = s.vals[k]
		}
	}
	s.dirty, s.quiet = nil, nil
	for k, v := range s.vals {
		w.stateBytes += stateSize(k, v)
	}
}

// putBack marks a failed commit's keys to write again; the next commit
// writes the values current then.
func (s *sensorState) putBack(w *work) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range w.state {
		s.markLocked(k)
	}
}

// markAll marks every value to write: a fresh file replaced the one they
// were in (readonly.go, adopt).
func (s *sensorState) markAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.vals {
		s.markLocked(k)
	}
}

func (s *sensorState) markLocked(key string) {
	if s.dirty == nil {
		s.dirty = map[string]bool{}
	}
	s.dirty[key] = true
}
