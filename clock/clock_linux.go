package clock

import "golang.org/x/sys/unix"

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
