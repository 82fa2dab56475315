package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	name := path + seqSuffix
	tmp := name + ".tmp"
	if err := writeFileSync(tmp, []byte(strconv.FormatUint(v, 10)+"\n")); err != nil {
		return fmt.Errorf("seq reservation %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("seq reservation %s: %w", name, err)
	}
	if err := syncDir(filepath.Dir(name)); err != nil {
		return fmt.Errorf("seq reservation %s: %w", name, err)
	}
	return nil
}

func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
