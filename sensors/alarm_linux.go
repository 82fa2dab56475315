//go:build linux

package sensors

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// timerfdAlarm is a timerfd on the monotonic clock, read through the
// runtime's netpoller (see waker.go for why). set may run on any goroutine
// while wait blocks in Read on another: timerfd_settime is atomic, and going
// through RawConn.Control keeps the fd from being closed, and its number
// reused, under it.
type timerfdAlarm struct {
	f   *os.File
	rc  syscall.RawConn
	buf [8]byte // the expiry count; read only by the one waiting goroutine
}

// newAlarm returns a timerfd alarm, or the portable one when the kernel (or
// a seccomp filter) will not arm a timerfd.
func newAlarm() alarm {
	if a, err := newTimerfdAlarm(); err == nil {
		return a
	}
	return newTimerAlarm()
}

func newTimerfdAlarm() (*timerfdAlarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// A non-blocking fd given to os.NewFile is registered with the poller.
	f := os.NewFile(uintptr(fd), "sampler-timerfd")
	rc, err := f.SyscallConn()
	if err == nil {
		// Arm and disarm once, so that a filter refusing timerfd_settime
		// is found now rather than as sensors that never wake.
		err = settime(rc, time.Hour)
		if err == nil {
			err = settime(rc, 0)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &timerfdAlarm{f: f, rc: rc}, nil
}

// settime arms the timer d from now; d == 0 disarms it.
func settime(rc syscall.RawConn, d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	var err error
	if cerr := rc.Control(func(fd uintptr) { err = unix.TimerfdSettime(int(fd), 0, &spec, nil) }); cerr != nil {
		return cerr
	}
	return err
}

func (a *timerfdAlarm) set(d time.Duration) {
	// A zero value would disarm it; the only failure left after the
	// check in newTimerfdAlarm is a closed fd, which means stop.
	_ = settime(a.rc, max(d, 1))
}

func (a *timerfdAlarm) wait() bool {
	_, err := a.f.Read(a.buf[:])
	switch {
	case err == nil:
		return true
	case errors.Is(err, os.ErrClosed):
		return false
	default:
		// Not expected (EINTR and EAGAIN are the poller's business).
		// Treat it as a spurious wake-up, without spinning on it.
		time.Sleep(time.Millisecond)
		return true
	}
}

func (a *timerfdAlarm) close() { a.f.Close() }
