package update

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chooseFixture is a packaged binary, a confirmed self-update and a trial.
func chooseFixture(t *testing.T) (self string, cur, trial Binary) {
	t.Helper()
	dir := t.TempDir()
	self = filepath.Join(dir, "usr-bin-karana-edge")
	os.WriteFile(self, []byte("package"), 0o755)
	bin := func(name, version string) Binary {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(name), 0o755)
		return Binary{Version: version, SHA256: hexSumBytes([]byte(name)), Path: p, Installed: time.Now().Add(-time.Hour)}
	}
	return self, bin("cur", "v1.1.0"), bin("trial", "v1.2.0")
}

// TestChooseTrial: a trial runs, counted, until MaxStarts starts without a
// confirm, then the previous binary; a damaged one not at all.
func TestChooseTrial(t *testing.T) {
	self, cur, trial := chooseFixture(t)
	o := LaunchOptions{Version: "v1.0.0", MaxStarts: 3}

	// A trial runs, counted, until MaxStarts starts without a confirm.
	st := &State{Current: &cur, Trial: &Trial{Binary: trial}}
	for n := 1; n <= 3; n++ {
		b, role, starts := choose(st, o, self, discard)
		if b == nil || b.Path != trial.Path || role != RoleTrial || starts != n {
			t.Fatalf("start %d: %v %s %d, want the trial, start %d", n, b, role, starts, n)
		}
	}
	b, role, _ := choose(st, o, self, discard)
	if b == nil || b.Path != cur.Path || role != RoleCurrent || st.Trial != nil || st.Last.Result != RolledBack ||
		!strings.Contains(st.Last.Reason, "started 3 times") {
		t.Fatalf("after 3 starts: %v %s, state %+v %+v: want the previous binary and a rollback", b, role, st.Trial, st.Last)
	}

	// A trial whose file was damaged is rolled back at once.
	os.WriteFile(trial.Path, []byte("bit rot"), 0o755)
	st = &State{Trial: &Trial{Binary: trial}}
	if b, _, _ := choose(st, o, self, discard); b != nil || st.Last == nil || !strings.Contains(st.Last.Reason, "SHA-256") {
		t.Fatalf("damaged trial: ran %v, last %+v", b, st.Last)
	}
}

// TestChooseCurrent: a confirmed self-update that keeps failing to start
// gives way to the package after MaxCurrentStarts starts without readings;
// a package of the same or a newer version wins over it.
func TestChooseCurrent(t *testing.T) {
	self, cur, _ := chooseFixture(t)
	o := LaunchOptions{Version: "v1.0.0", MaxStarts: 3}
	st := &State{Current: &cur}
	for n := 1; n <= MaxCurrentStarts; n++ {
		if b, role, _ := choose(st, o, self, discard); b == nil || role != RoleCurrent || st.CurrentStarts != n {
			t.Fatalf("start %d of the self-update: %v %s, count %d", n, b, role, st.CurrentStarts)
		}
	}
	if b, _, _ := choose(st, o, self, discard); b != nil || st.Current != nil || st.Last == nil || st.Last.Result != RolledBack {
		t.Fatalf("after %d failed starts the self-update still ran: %v, last %+v", MaxCurrentStarts, b, st.Last)
	}

	// A package of the same or a newer version wins over the self-update
	// (a dpkg upgrade), and the self-update is forgotten.
	for _, pkg := range []string{"v1.1.0", "v2.0.0"} {
		st = &State{Current: &cur}
		if b, _, _ := choose(st, LaunchOptions{Version: pkg, MaxStarts: 3}, self, discard); b != nil || st.Current != nil {
			t.Errorf("package %s: ran %v, current %v; want the package", pkg, b, st.Current)
		}
	}
	// A development package (no version) wins when its file is newer.
	st = &State{Current: &cur}
	if b, _, _ := choose(st, LaunchOptions{Version: "dev", MaxStarts: 3}, self, discard); b != nil {
		t.Errorf("a dev package installed after the self-update lost to it")
	}
}

// TestGuardRollsBack: a trial not confirmed within the timeout is recorded
// as rolled back and its process stopped.
func TestGuardRollsBack(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(dir)
	if err := s.Update(func(st *State) error {
		st.Trial = &Trial{Binary: Binary{Version: "v2.0.0", SHA256: "x"}, Starts: 1}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sleeper, err := os.StartProcess("/bin/sleep", []string{"sleep", "60"}, &os.ProcAttr{})
	if err != nil {
		t.Skip("no /bin/sleep:", err)
	}
	waited := make(chan *os.ProcessState, 1)
	go func() { ps, _ := sleeper.Wait(); waited <- ps }()
	start := time.Now()
	if err := RunGuard(GuardOptions{DataDir: dir, Starts: 1, PID: sleeper.Pid, Timeout: 500 * time.Millisecond, Grace: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	select {
	case ps := <-waited:
		if ps.Success() {
			t.Errorf("the trial process exited by itself")
		}
	case <-time.After(5 * time.Second):
		sleeper.Kill()
		t.Fatal("the guard did not stop the trial process")
	}
	st, _ := s.Read()
	if st.Trial != nil || st.Last == nil || st.Last.Result != RolledBack || !strings.Contains(st.Last.Reason, "confirm_timeout 500ms") {
		t.Errorf("state after the guard: %+v %+v", st.Trial, st.Last)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("the guard acted after %s, before its timeout", d)
	}
}

var discard = slog.New(slog.DiscardHandler)
