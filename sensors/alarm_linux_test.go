package sensors

import (
	"testing"
	"time"
)

// On Linux the alarm must be the timerfd: the portable one works but wakes
// about a millisecond late. Closing it must end a wait in progress, or the
// waker goroutine would outlive Run.
func TestAlarmOnLinuxIsATimerfd(t *testing.T) {
	a, ok := newAlarm().(*timerfdAlarm)
	if !ok {
		t.Fatalf("newAlarm() = %T, want *timerfdAlarm", newAlarm())
	}
	start := time.Now()
	a.set(2 * time.Millisecond)
	if !a.wait() {
		t.Fatal("wait on an armed alarm returned false")
	}
	if el := time.Since(start); el < 2*time.Millisecond {
		t.Errorf("alarm set for 2ms fired after %s", el)
	}
	a.set(time.Hour) // re-arming replaces the earlier setting
	a.set(time.Millisecond)
	if !a.wait() {
		t.Fatal("wait on a re-armed alarm returned false")
	}

	res := make(chan bool)
	go func() { res <- a.wait() }() // not armed: blocks until close
	a.close()
	select {
	case ok := <-res:
		if ok {
			t.Error("wait returned true after close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not end a wait in progress")
	}
	a.set(time.Millisecond) // after close: harmless
}
