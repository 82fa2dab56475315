package uplink

import (
	"sync/atomic"
	"testing"
	"time"
)

// A stream with a 60 s period publishes an alarm at once when Urgent
// names it; a stream that does not match it keeps its period.
func TestUrgentPublishesBeforeThePeriod(t *testing.T) {
	src := newMemSource(3)
	alarms := streamCfg("alarms", time.Minute, 100, "alarm.*")
	raw := streamCfg("raw", time.Minute, 100, "s*")
	h := newHarness(t, src, []StreamConfig{alarms, raw}, nil)
	h.run()
	waitFor(t, "the session", h.u.Connected)
	time.Sleep(100 * time.Millisecond) // the session's first sends are done

	seq := src.AppendNamed("alarm.battery_low")
	h.u.Urgent("alarm.battery_low")
	waitFor(t, "the alarm to go out long before the 60 s period", func() bool { return src.Cursor("alarms") >= seq })
	if c := src.Cursor("raw"); c >= seq {
		t.Errorf("raw (not matching) published at once too: cursor %d", c)
	}
}

// Outside the link windows, with a window poll of an hour, an alarm on an
// essential stream brings the link up at once.
func TestUrgentBringsTheLinkUpOutsideWindows(t *testing.T) {
	src := newMemSource(3)
	alarms := streamCfg("alarms", time.Minute, 100, "alarm.*")
	alarms.Essential = true
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC).UnixNano())
	h := newHarness(t, src, []StreamConfig{alarms}, func(c *MQTTConfig, _ *Options) {
		c.Windows = "0 6 * * * 30m"
	})
	h.u.windowPoll = time.Hour
	h.u.now = func() time.Time { return time.Unix(0, now.Load()) }
	h.run()
	time.Sleep(100 * time.Millisecond) // in waitForLink's hour-long sleep
	if st := h.u.Stats(); st.Connects != 0 {
		t.Fatalf("connected outside a window: %+v", st)
	}
	seq := src.AppendNamed("alarm.battery_low")
	h.u.Urgent("alarm.battery_low")
	waitFor(t, "the alarm to bring the link up", func() bool { return src.Cursor("alarms") >= seq })
}
