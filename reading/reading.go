// Package reading holds the one value type that flows through karana-edge:
// a sampled value with its series name, time, unit and quality flags.
//
// It sits apart from sensors, buffer and uplink so that none of them needs to
// import another to agree on what a reading is.
package reading

import (
	"strings"
	"time"
)

// Flags are quality flags carried with every reading.
type Flags uint8

const (
	// ClockUnsynced marks a reading sampled before the system clock was
	// known to be synchronized (no RTC, NTP not yet reached): its time may be
	// off by hours or days.
	ClockUnsynced Flags = 1 << iota
	// ClockCorrected marks a reading sampled before the clock was
	// synchronized whose time the buffer re-stamped once it was: the
	// reading's boot time (CLOCK_BOOTTIME) plus the wall-minus-boot offset
	// measured after the sync, in the same boot. Its time is as good as a
	// synced one (within the clock's drift since boot); ClockUnsynced is
	// cleared. Readings of a boot that never synchronized keep ClockUnsynced
	// and their raw time: never invented.
	ClockCorrected
	// TimeImplausible marks a reading dated before the binary's build date,
	// or more than an hour after a synchronized clock's now. It is still
	// stored and sent, with this flag, rather than dropped: the value is
	// real, only its date is not, and a silently dropped reading cannot be
	// told from a lost one.
	TimeImplausible
	// Thinned marks an aggregate the buffer wrote in place of raw readings
	// when it passed its thin_at fill level during a long outage: one of
	// "<series>_count", "_min", "_max", "_mean" over one UTC minute, timed
	// at the minute's start. The seqs of the raw readings it replaced are
	// gone: the gap just before a Thinned "_count" reading, exactly its
	// value minus 4 seqs, is thinning, not loss.
	Thinned
)

// Reading is one sampled value.
type Reading struct {
	// Seq is assigned by the buffer when the reading is committed: per device,
	// strictly increasing, never reused. Zero means not yet buffered.
	Seq   uint64
	Name  string    // series name, e.g. "battery.voltage"
	Time  time.Time // when it was sampled (UTC)
	Value float64
	Unit  string
	Flags Flags
}

// ValidName reports whether s is a valid series name: ASCII letters, digits,
// '-', '_' and '.', not starting or ending with a dot and without empty
// segments ("a..b").
func ValidName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
