package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

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

func (r *Ring) writeReservation(v uint64) error {
	if r.tn.failReserve != nil {
		if err := r.tn.failReserve(); err != nil {
			return fmt.Errorf("seq reservation: %w", err)
		}
	}
	return writeReservation(r.path, v)
}
