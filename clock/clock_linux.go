package clock

import (
	"time"

	"golang.org/x/sys/unix"
)

// adjtimex is a variable so tests can feed kernel answers.
var adjtimex = func() (state int, status int32, maxerror int64, err error) {
	var tx unix.Timex // Modes 0: read only, needs no privilege
	st, err := unix.Adjtimex(&tx)
	// Maxerror is int32 on 32-bit ARM and int64 on 64-bit.
	return st, tx.Status, int64(tx.Maxerror), err
}

// Synced reports whether the system clock is synchronized (see the package
// doc). If the kernel's state cannot be read (seccomp), only timesyncd's
// flag file counts: better to flag good readings than to trust a stale clock.
func Synced() bool {
	if fileExists(SyncedFile) {
		return true
	}
	state, status, maxerror, err := adjtimex()
	if err != nil {
		return false
	}
	return syncedFrom(state, status, maxerror, false)
}

// boottime is a variable so tests can move the boot clock.
var boottime = func() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// Offset returns the wall clock minus CLOCK_BOOTTIME (time since boot,
// suspend included): the evidence that lets a reading stamped by an
// unsynchronized clock be re-stamped once the clock is right. It is the same
// for every reading of a boot until the wall clock is stepped; a reading's
// boot time is its time minus the offset in force when it was taken. ok is
// false where the boot clock cannot be read.
func Offset() (off time.Duration, ok bool) {
	wall := now()
	bt, err := boottime()
	if err != nil {
		return 0, false
	}
	return time.Duration(wall.UnixNano()) - bt, true
}

// now is the wall clock, a variable so tests can step it.
var now = time.Now
