package buffer

import (
	"sync"
	"time"
)

// commitHealth is how the commits go, for Stats and the logs: how many
// succeeded and failed, the current run of failures (since when, how long,
// the last error and whether it is writes refused), commit durations, and
// when a failure was last logged. It has its own lock and calls nothing of
// the ring. Lock order: Ring.mu may be held when it is taken (the
// queue-full log), never the reverse.
type commitHealth struct {
	mu           sync.Mutex
	commits      uint64
	errors       uint64
	lastErr      string
	refused      bool      // lastErr is writes refused (a read-only card)
	failingSince time.Time // start of the current run of failures; zero: none
	streak       int       // failures in the current run
	lastCommit   time.Duration
	maxCommit    time.Duration
	lastFailLog  time.Time
}

// committed counts a commit that took took. A commit that wrote all it
// had (done) ends the run of failures; one that left readings waiting for
// the seq reservation does not. It returns how many failures the run had.
func (h *commitHealth) committed(took time.Duration, done bool) (streak int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commits++
	h.lastCommit = took
	h.maxCommit = max(h.maxCommit, took)
	streak = h.streak
	if done {
		h.failingSince = time.Time{}
		h.streak = 0
		h.refused = false
	}
	return streak
}

// failed counts a failed commit, and says whether to log it: the first of
// a run at once, then once a minute.
func (h *commitHealth) failed(err error) (streak int, logNow bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errors++
	h.lastErr = err.Error()
	h.refused = refusesWrites(err)
	h.streak++
	if h.streak == 1 {
		h.failingSince = time.Now().UTC()
	}
	if now := time.Now(); h.streak == 1 || now.Sub(h.lastFailLog) >= time.Minute {
		h.lastFailLog = now
		logNow = true
	}
	return h.streak, logNow
}

// blocked counts a commit that could not start while readings wait: no
// file can be written (readonly.go).
func (h *commitHealth) blocked() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errors++
	h.streak++
}

// unwritable records why no file can be written; start begins the run of
// failures (at Open).
func (h *commitHealth) unwritable(err error, start bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr = unwritableText(err)
	h.refused = refusesWrites(err)
	if start {
		h.failingSince = time.Now().UTC()
	}
}

// failure is the current run of failures: since when, whether writes are
// refused, and the last error.
func (h *commitHealth) failure() (since time.Time, refused bool, lastErr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failingSince, h.refused, h.lastErr
}

func (h *commitHealth) lastError() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// fill copies the figures into s.
func (h *commitHealth) fill(s *Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.Commits = h.commits
	s.CommitErrors = h.errors
	s.DiskReadOnly = h.refused && !h.failingSince.IsZero()
	s.LastError = h.lastErr
	s.FailingSince = h.failingSince
	s.LastCommit = h.lastCommit
	s.MaxCommit = h.maxCommit
}
