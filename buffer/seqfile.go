package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/karana-energy/karana-edge/internal/durable"
)

// The seq reservation lives beside the database in <path>.seq, a one-line
// text file: every seq ever committed is below the number it holds. It is
// written (atomically: temp file, fsync, rename, fsync of the directory)
// before a commit would use a seq at or above it, reserving reserveStep
// more, so it costs a handful of writes a day. It is read only when the
// database is lost: then numbering resumes at the reservation, and the jump
// is a hole consumers see as dropped readings, which is what happened.

const seqSuffix = ".seq"

// defaultReserveStep: 65536 seqs are 4.5 hours at the reference site's 4
// readings/s, 11 minutes at 100/s.
const defaultReserveStep = 1 << 16

// seqReservation is one ring's <path>.seq: the value the file is known to
// hold, as this ring last read or wrote it, and the only way the ring
// writes it. Only a value read from the file or durably written is ever
// held, so a seq below it is covered whatever happens to the database.
// It has its own lock: the committer (cover) and opening (read, raise)
// use it, and it never calls back into the Ring.
type seqReservation struct {
	path  string
	step  uint64       // seqs reserved ahead by each write
	fault func() error // tuning.failReserve: fails the write when it errors

	mu   sync.Mutex
	held uint64 // 0: none known
}

func newSeqReservation(path string, step uint64, fault func() error) *seqReservation {
	return &seqReservation{path: path, step: step, fault: fault}
}

// read reads the file and holds its value; a missing file is 0, and so is
// a damaged one (with the error, for the caller to log).
func (s *seqReservation) read() (uint64, error) {
	v, err := readReservation(s.path)
	s.mu.Lock()
	s.held = v
	s.mu.Unlock()
	return v, err
}

// value is the reservation held.
func (s *seqReservation) value() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// cover makes sure the n seqs from first are below the durable
// reservation, writing first+n+step when they are not. It returns how many
// of them are covered: n, or on a failed write (err set) those already
// below the old reservation.
func (s *seqReservation) cover(first, n uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 || first+n-1 < s.held {
		return n, nil
	}
	res := first + n + s.step
	err := s.write(res)
	if err == nil {
		s.held = res // durable now, whatever the transaction does
		return n, nil
	}
	if s.held > first {
		return min(n, s.held-first), err
	}
	return 0, err
}

// raise writes v when it is above the reservation held (numbering that
// resumes after a lost file, before the file is replaced).
func (s *seqReservation) raise(v uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v <= s.held {
		return nil
	}
	if err := s.write(v); err != nil {
		return err
	}
	s.held = v
	return nil
}

// write writes v to the file; mu held.
func (s *seqReservation) write(v uint64) error {
	if s.fault != nil {
		if err := s.fault(); err != nil {
			return fmt.Errorf("seq reservation: %w", err)
		}
	}
	return writeReservation(s.path, v)
}

// readReservation returns 0 when the file does not exist.
func readReservation(path string) (uint64, error) {
	b, err := os.ReadFile(path + seqSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("seq reservation %s: %w", path+seqSuffix, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("seq reservation %s: not a number: %q", path+seqSuffix, strings.TrimSpace(string(b)))
	}
	return v, nil
}

func writeReservation(path string, v uint64) error {
	if err := durable.WriteFile(path+seqSuffix, []byte(strconv.FormatUint(v, 10)+"\n"), 0o640); err != nil {
		return fmt.Errorf("seq reservation: %w", err)
	}
	return nil
}
