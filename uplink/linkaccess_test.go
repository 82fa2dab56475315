package uplink

import (
	"testing"
	"time"
)

// TestLinkAccess: what a bulk transfer sees of the windows and the budget
// is what the streams obey, and the bytes it reports count in the budget.
func TestLinkAccess(t *testing.T) {
	cfg := DefaultMQTTConfig()
	var err error
	if cfg.Budget, err = ParseBudget("1KiB/day"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Windows.UnmarshalTOML([]any{"0 6 * * * 30m"}); err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, nil, newMemSource(1), Options{DeviceID: "box"})
	if err != nil {
		t.Fatal(err)
	}
	u.now = func() time.Time { return time.Date(2026, 12, 6, 6, 10, 0, 0, time.UTC) }
	if !u.LinkOpen() {
		t.Error("06:10 is inside the window 06:00-06:30")
	}
	u.now = func() time.Time { return time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC) }
	if u.LinkOpen() {
		t.Error("07:00 is outside the window 06:00-06:30")
	}
	if spent, _ := u.BudgetSpent(); spent {
		t.Fatal("budget spent before anything was sent")
	}
	u.CountWire(1000)
	if st := u.Budget(); st.SentToday != 1000 || st.LeftToday != 24 {
		t.Errorf("after 1000 bytes: sent %d, left %d; want 1000 and 24 of 1 KiB", st.SentToday, st.LeftToday)
	}
	u.CountWire(24)
	if spent, _ := u.BudgetSpent(); !spent {
		t.Error("1 KiB counted, the daily budget of 1 KiB is not spent")
	}
	if u.Session() != 0 {
		t.Error("a session before any connect")
	}
	if err := u.Subscribe("a/b", func(string, []byte) {}); err != ErrNotConnected {
		t.Errorf("Subscribe while disconnected: %v, want ErrNotConnected", err)
	}
}
