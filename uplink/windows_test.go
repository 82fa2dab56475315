package uplink

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestWindowsParse(t *testing.T) {
	var c struct{ W Windows }
	if _, err := toml.Decode(`W = ["0 6 * * * 30m", "30 18 * * mon-fri 1h"]`, &c); err != nil {
		t.Fatal(err)
	}
	if got := c.W.Entries(); len(got) != 2 || got[1] != "30 18 * * mon-fri 1h" {
		t.Fatalf("entries %q", got)
	}
	ws, err := c.W.Parse()
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for s, want := range map[string]bool{
		"2026-11-23 05:59:59": false,
		"2026-11-23 06:00:00": true,
		"2026-11-23 06:29:59": true,
		"2026-11-23 06:30:00": false,
		"2026-11-23 19:00:00": true,  // Monday evening
		"2026-11-22 19:00:00": false, // Sunday evening
	} {
		if got := openAt(ws, at(s)); got != want {
			t.Errorf("open at %s = %v, want %v", s, got, want)
		}
	}
	if n := nextOpen(ws, at("2026-11-23 07:00:00")); n != at("2026-11-23 18:30:00") {
		t.Errorf("next window %s", n)
	}
	for in, want := range map[string]string{
		`W = ["0 6 * * *"]`:         "a duration",
		`W = ["0 6 * * * 10s"]`:     "from 1m",
		`W = ["0 25 * * * 1h"]`:     "hour",
		`W = ["0 0 31 2 * 1h"]`:     "never fires",
		`W = [6]`:                   "windows[0]",
		`W = ["0 6 * * * 1h; 0 7"]`: "one window per string",
		`W = ["0 6 * * * 1h", "x"]`: "windows[1]",
	} {
		c.W = ""
		_, err := toml.Decode(in, &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", in, err, want)
		}
	}
	cfg := DefaultMQTTConfig()
	cfg.Windows = "0 6 * * * 1s"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "windows") {
		t.Errorf("Validate: %v", err)
	}
}

// Outside a window the link stays down until an essential stream has
// something; it goes down again once that is sent. Inside a window it is
// up, and when the window ends it drains and disconnects.
func TestWindowsLinkUpOnlyInside(t *testing.T) {
	src := newMemSource(3)
	src.Append(100)
	raw := streamCfg("raw", 0, 100)
	alarms := streamCfg("alarms", 0, 100, "alarm.*")
	alarms.Essential = true
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC).UnixNano())
	h := newHarness(t, src, []StreamConfig{raw, alarms}, func(c *MQTTConfig, _ *Options) {
		c.Windows = "0 6 * * * 30m"
	})
	h.u.windowPoll = 10 * time.Millisecond
	h.u.now = func() time.Time { return time.Unix(0, now.Load()) }
	h.run()
	time.Sleep(100 * time.Millisecond) // ten polls
	if st := h.u.Stats(); st.Connects != 0 {
		t.Fatalf("connected outside a window with no essential data: %+v", st)
	}

	seq := src.AppendNamed("alarm.door")
	src.Append(0) // signal
	waitFor(t, "the alarm to go out", func() bool { return src.Cursor("alarms") >= seq })
	waitFor(t, "the link to go down again", func() bool { return h.u.Stats().Disconnects >= 1 && !h.u.Connected() })
	if c := src.Cursor("raw"); c != seq {
		t.Errorf("raw cursor %d: the link was up, so raw should have drained to %d", c, seq)
	}
	waitFor(t, "the offline status with reason window", func() bool {
		b, ok := h.b.Retained("karana/" + dev + "/status")
		return ok && strings.Contains(string(b), `"reason":"window"`)
	})
	connects := h.u.Stats().Connects

	src.Append(50)
	time.Sleep(100 * time.Millisecond)
	if st := h.u.Stats(); st.Connects != connects {
		t.Fatalf("non-essential data brought the link up outside a window: %+v", st)
	}
	now.Store(time.Date(2026, 11, 23, 6, 10, 0, 0, time.UTC).UnixNano())
	h.waitCursor("raw", src.Last())
	src.Append(20)
	h.waitCursor("raw", src.Last())
	if !h.u.Connected() {
		t.Error("link down inside the window")
	}
	now.Store(time.Date(2026, 11, 23, 6, 31, 0, 0, time.UTC).UnixNano())
	waitFor(t, "the link to go down after the window", func() bool { return h.u.Stats().Disconnects >= 2 && !h.u.Connected() })
	h.check("raw", src.Last(), nil)
}
