package linkwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// sim is a box on a fake clock: the wall clock, the boot clock, a boot
// id, the broker contact and the actions, all moved by the test.
type sim struct {
	mu        sync.Mutex
	now       time.Time // wall clock
	boot      Boot
	synced    bool
	contact   time.Time
	done      []string // actions, "reconnect", "restart", "reset", "reboot"
	modemNF   bool     // no modem fitted
	rebootErr error
}

func newSim() *sim {
	return &sim{now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), boot: Boot{ID: "boot-1", Since: time.Minute}}
}

func (s *sim) Now() time.Time         { s.mu.Lock(); defer s.mu.Unlock(); return s.now }
func (s *sim) Boot() Boot             { s.mu.Lock(); defer s.mu.Unlock(); return s.boot }
func (s *sim) Synced() bool           { s.mu.Lock(); defer s.mu.Unlock(); return s.synced }
func (s *sim) LastContact() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.contact }
func (s *sim) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.boot.Since += d
	s.mu.Unlock()
}
func (s *sim) touch()                          { s.mu.Lock(); s.contact = s.now; s.mu.Unlock() }
func (s *sim) did(a string)                    { s.mu.Lock(); s.done = append(s.done, a); s.mu.Unlock() }
func (s *sim) Reconnect(context.Context) error { s.did("reconnect"); return nil }
func (s *sim) RestartModem(context.Context) error {
	if s.modemNF {
		return fmt.Errorf("modem: %w: ModemManager is not running", ErrNotFitted)
	}
	s.did("restart")
	return nil
}
func (s *sim) ResetModem(context.Context) error { s.did("reset"); return nil }
func (s *sim) Reboot(context.Context) (string, error) {
	s.did("reboot")
	return "logind", s.rebootErr
}

// reboot simulates the box coming back: a new boot id, the boot clock
// from zero, and the wall clock set back by fake-hwclock (unsynced).
func (s *sim) reboot(n int) {
	s.mu.Lock()
	s.boot = Boot{ID: fmt.Sprintf("boot-%d", n), Since: 20 * time.Second}
	s.now = s.now.Add(-3 * time.Hour)
	s.synced = false
	s.contact = time.Time{}
	s.mu.Unlock()
}

func (s *sim) actions() []string { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.done) }

func cfg(nc time.Duration, steps ...string) Config {
	c := DefaultConfig()
	c.NoContact = config.D(nc)
	if steps != nil {
		c.Steps = steps
	}
	return c
}

func newWatch(t *testing.T, s *sim, dir string, c Config) *Watchdog {
	t.Helper()
	w, err := New(Options{Config: c, DataDir: dir, Contact: s, Actions: s, Now: s.Now, Boot: s.Boot, Synced: s.Synced})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

// runFor checks once a minute for d, collecting the steps taken (with the
// minute they were taken at, counted from the start of this call).
func runFor(w *Watchdog, s *sim, d time.Duration) []string {
	var out []string
	for el := time.Duration(0); el < d; el += time.Minute {
		s.advance(time.Minute)
		if st := w.Check(context.Background()); st != nil {
			out = append(out, fmt.Sprintf("%s@%s:%s", st.Step, (el+time.Minute), st.Result))
		}
	}
	return out
}

// The escalation: one step per no_contact period, in order, then round
// again; restart-modem resets the modem the second time; the second
// reboot within a day of the first is skipped.
func TestEscalatesOneStepPerPeriod(t *testing.T) {
	s := newSim()
	w := newWatch(t, s, t.TempDir(), cfg(6*time.Hour))
	got := runFor(w, s, 37*time.Hour)
	want := []string{
		"reconnect@6h0m0s:ok",
		"restart-modem@12h0m0s:ok",
		"reboot@18h0m0s:requested",
		"reconnect@24h0m0s:ok",
		"restart-modem@30h0m0s:ok",
		"reboot@36h0m0s:skipped: 1 reboot(s) in the last 24 h, max_reboots_per_day = 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n got %q\nwant %q", got, want)
	}
	if a := s.actions(); !slices.Equal(a, []string{"reconnect", "restart", "reboot", "reconnect", "reset"}) {
		t.Errorf("actions %v: want a disable/enable first, a reset the second time, one reboot", a)
	}
}

// Contact resets the escalation: the silence counts from the contact, and
// the next step is the first one again.
func TestContactResetsEscalation(t *testing.T) {
	s := newSim()
	w := newWatch(t, s, t.TempDir(), cfg(time.Hour))
	got := runFor(w, s, 90*time.Minute) // reconnect at 1h
	s.touch()                           // contact at 1h30
	got = append(got, runFor(w, s, 150*time.Minute)...)
	want := []string{"reconnect@1h0m0s:ok", "reconnect@1h0m0s:ok", "restart-modem@2h0m0s:ok"}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n got %q\nwant %q (after contact at 1h30: reconnect at 2h30, restart at 3h30)", got, want)
	}
	if a := s.actions(); !slices.Equal(a, []string{"reconnect", "reconnect", "restart"}) {
		t.Errorf("actions %v: after contact the modem restart starts again with disable/enable", a)
	}
}

// A box that was suspended or whose clock jumped sees several periods at
// once: one step, not three.
func TestOneStepWhenPeriodsPassUnseen(t *testing.T) {
	s := newSim()
	w := newWatch(t, s, t.TempDir(), cfg(time.Hour))
	s.advance(3*time.Hour + time.Minute)
	if st := w.Check(context.Background()); st == nil || st.Step != StepReconnect {
		t.Fatalf("want one reconnect, got %+v", st)
	}
	if st := w.Check(context.Background()); st != nil {
		t.Fatalf("a second step in the same period: %+v", st)
	}
	got := runFor(w, s, 60*time.Minute)
	if !slices.Equal(got, []string{"restart-modem@59m0s:ok"}) {
		t.Errorf("next step: %q, want restart-modem at the next period boundary (4h)", got)
	}
}

// The reboot cap holds across the reboot it caused, with the wall clock
// set back three hours by fake-hwclock: the next reboot waits until the
// new boot has been up 24 h. The reboot step is reported after the reboot.
func TestRebootCapAcrossReboot(t *testing.T) {
	s := newSim()
	dir := t.TempDir()
	w := newWatch(t, s, dir, cfg(6*time.Hour))
	if got := runFor(w, s, 18*time.Hour); got[len(got)-1] != "reboot@18h0m0s:requested" {
		t.Fatalf("first boot: %q", got)
	}
	s.reboot(2)
	w2 := newWatch(t, s, dir, cfg(6*time.Hour))
	r := w2.Report()
	if r == nil || len(r.Steps) != 3 || r.Steps[2].Step != StepReboot || r.Steps[2].Result != "requested" || r.Steps[2].How != "logind" {
		t.Fatalf("after the reboot the report lacks the steps before it: %+v", r)
	}
	got := runFor(w2, s, 37*time.Hour)
	want := []string{
		"reconnect@6h0m0s:ok", "restart-modem@12h0m0s:ok",
		"reboot@18h0m0s:skipped: 1 reboot(s) in the last 24 h, max_reboots_per_day = 1",
		"reconnect@24h0m0s:ok", "restart-modem@30h0m0s:ok",
		"reboot@36h0m0s:requested", // up 36 h since the last reboot
	}
	if !slices.Equal(got, want) {
		t.Errorf("second boot:\n got %q\nwant %q", got, want)
	}
}

// With both clocks synchronized, the wall clock may tell a record is old
// when the boot is young: a box rebooted by its owner the next day may
// reboot for the link again.
func TestRebootCapTrustsSyncedWallClock(t *testing.T) {
	s := newSim()
	s.synced = true
	dir := t.TempDir()
	w := newWatch(t, s, dir, cfg(time.Hour, StepReboot))
	runFor(w, s, time.Hour)
	s.mu.Lock()
	s.boot = Boot{ID: "boot-2", Since: time.Minute}
	s.now = s.now.Add(25 * time.Hour)
	s.mu.Unlock()
	w2 := newWatch(t, s, dir, cfg(time.Hour, StepReboot))
	if got := runFor(w2, s, time.Hour); !slices.Equal(got, []string{"reboot@1h0m0s:requested"}) {
		t.Errorf("got %q", got)
	}
	// the same jump with the clock unsynced is not trusted
	s.mu.Lock()
	s.boot = Boot{ID: "boot-3", Since: time.Minute}
	s.now = s.now.Add(25 * time.Hour)
	s.synced = false
	s.mu.Unlock()
	w3 := newWatch(t, s, dir, cfg(time.Hour, StepReboot))
	if got := runFor(w3, s, time.Hour); len(got) != 1 || !strings.HasPrefix(got[0], "reboot@1h0m0s:skipped") {
		t.Errorf("unsynced clock trusted: %q", got)
	}
}

// A reboot loop is impossible: a box whose only step is reboot, at the
// shortest no_contact, rebooting whenever asked, with its wall clock
// thrown back at every boot, reboots at most once per 24 h of uptime.
func TestNoRebootLoop(t *testing.T) {
	s := newSim()
	dir := t.TempDir()
	c := cfg(MinNoContact, StepReboot)
	boots, uptime := 1, time.Duration(0)
	w := newWatch(t, s, dir, c)
	for uptime < 72*time.Hour {
		s.advance(time.Minute)
		uptime += time.Minute
		if st := w.Check(context.Background()); st != nil && st.Result == "requested" {
			boots++
			s.reboot(boots)
			w = newWatch(t, s, dir, c)
		}
	}
	if reboots := boots - 1; reboots > 1+72/24 || reboots < 3 {
		t.Errorf("%d reboots in 72 h of uptime; want 3 (one at 15 min, then one per 24 h)", reboots)
	}
}

// A failed reboot counts against the cap (a refused request must not be
// retried every period) and is reported as failed.
func TestFailedRebootCountsAndIsReported(t *testing.T) {
	s := newSim()
	s.rebootErr = errors.New("org.freedesktop.DBus.Error.AccessDenied: Permission denied")
	w := newWatch(t, s, t.TempDir(), cfg(time.Hour, StepReboot))
	got := runFor(w, s, 2*time.Hour)
	if len(got) != 2 || !strings.Contains(got[0], "failed: org.freedesktop.DBus.Error.AccessDenied") || !strings.Contains(got[1], "skipped: 1 reboot(s)") {
		t.Errorf("got %q", got)
	}
}

func TestModemNotFittedIsSkipped(t *testing.T) {
	s := newSim()
	s.modemNF = true
	w := newWatch(t, s, t.TempDir(), cfg(time.Hour, StepRestartModem))
	got := runFor(w, s, time.Hour)
	if len(got) != 1 || !strings.Contains(got[0], "skipped: modem: not fitted") {
		t.Errorf("got %q", got)
	}
}

// Steps are reported by the status document of the next connect, then
// forgotten once the contact has lasted a poll, so later documents do not
// carry them (bytes on a metered link).
func TestStepsReportedOnNextContact(t *testing.T) {
	s := newSim()
	w := newWatch(t, s, t.TempDir(), cfg(time.Hour))
	runFor(w, s, 2*time.Hour)
	r := w.Report()
	if r == nil || len(r.Steps) != 2 || r.Steps[0].Step != StepReconnect || r.Steps[0].Silence != 3600 || r.Steps[1].How != "disable/enable" {
		t.Fatalf("report before contact: %+v", r)
	}
	s.advance(time.Minute)
	s.touch()
	w.Check(context.Background())
	if w.Report() == nil {
		t.Fatal("the steps are gone at the first sight of contact; the connect's status document may still be building")
	}
	s.advance(time.Minute)
	s.touch()
	w.Check(context.Background())
	if r := w.Report(); r != nil {
		t.Errorf("still reported after a minute of contact: %+v", r)
	}
	// and the file agrees: a restart does not report them again
	w2 := newWatch(t, s, w.opts.DataDir, cfg(time.Hour))
	if r := w2.Report(); r != nil {
		t.Errorf("reported again after a restart: %+v", r)
	}
}

// Steps from before a reboot are not forgotten by the quiet start of the
// next boot, only by a contact.
func TestStepsSurviveStartWithoutContact(t *testing.T) {
	s := newSim()
	dir := t.TempDir()
	w := newWatch(t, s, dir, cfg(time.Hour))
	runFor(w, s, time.Hour)
	w2 := newWatch(t, s, dir, cfg(time.Hour))
	runFor(w2, s, 30*time.Minute)
	if r := w2.Report(); r == nil || len(r.Steps) != 1 {
		t.Errorf("steps lost without contact: %+v", r)
	}
}

// A damaged state file may have held reboots: it counts as a full day of
// them, so the next reboot waits for 24 h of uptime.
func TestDamagedStateCountsAsFullDay(t *testing.T) {
	s := newSim()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{\"reboots\":[{"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := New(Options{Config: cfg(time.Hour, StepReboot), DataDir: dir, Contact: s, Actions: s, Now: s.Now, Boot: s.Boot, Synced: s.Synced})
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), StateFile) {
		t.Fatalf("want an error naming the damaged file, got %v", err)
	}
	got := runFor(w, s, 25*time.Hour)
	var requested []string
	for _, g := range got {
		if strings.HasSuffix(g, ":requested") {
			requested = append(requested, g)
		}
	}
	if !slices.Equal(requested, []string{"reboot@24h0m0s:requested"}) {
		t.Errorf("reboots %q, want one once the boot is 24 h old", requested)
	}
}

// A long outage keeps the report bounded: the first step and the newest.
func TestReportIsBounded(t *testing.T) {
	s := newSim()
	w := newWatch(t, s, t.TempDir(), cfg(MinNoContact, StepReconnect))
	runFor(w, s, 24*time.Hour)
	r := w.Report()
	if r == nil || len(r.Steps) != maxSteps || r.Dropped != 24*4-maxSteps {
		t.Fatalf("report: %d steps, %d dropped", len(r.Steps), r.Dropped)
	}
	if r.Steps[0].Silence != 15*60 || r.Steps[maxSteps-1].Silence != 24*3600 {
		t.Errorf("kept %d s .. %d s, want the first and the newest", r.Steps[0].Silence, r.Steps[maxSteps-1].Silence)
	}
}

type blockingModem struct {
	*sim
	entered, release chan struct{}
}

func (b blockingModem) RestartModem(context.Context) error {
	close(b.entered)
	<-b.release
	return nil
}

// A modem restart takes a minute; the status document built by a connect
// meanwhile must get the report without waiting for it.
func TestReportDoesNotWaitForAnAction(t *testing.T) {
	s := newSim()
	b := blockingModem{s, make(chan struct{}), make(chan struct{})}
	w, err := New(Options{Config: cfg(time.Hour, StepRestartModem), DataDir: t.TempDir(), Contact: s, Actions: b, Now: s.Now, Boot: s.Boot})
	if err != nil {
		t.Fatal(err)
	}
	s.advance(time.Hour)
	done := make(chan *Step)
	go func() { done <- w.Check(context.Background()) }()
	<-b.entered
	got := make(chan *Report)
	go func() { got <- w.Report() }()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("Report waited for the modem restart")
	}
	close(b.release)
	if st := <-done; st == nil || st.Result != "ok" {
		t.Errorf("step %+v", st)
	}
}

// windowed is a box whose link is meant to be up from 06:00 to 06:30
// each day ([mqtt] windows = ["0 6 * * * 30m"]): the other 23.5 hours are
// not silence.
type windowed struct{ *sim }

func (w windowed) LinkWanted() bool {
	t := w.Now()
	return t.Hour() == 6 && t.Minute() < 30
}

func TestClosedWindowIsNotSilence(t *testing.T) {
	s := newSim()
	box := windowed{s}
	w, err := New(Options{Config: cfg(time.Hour), DataDir: t.TempDir(), Contact: box, Actions: s, Now: s.Now, Boot: s.Boot})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for range 4 * 24 * 60 { // four days, no contact ever
		s.advance(time.Minute)
		if st := w.Check(context.Background()); st != nil {
			steps = append(steps, st.At.Format("Jan 2 15:04")+" "+st.Step)
		}
	}
	// 30 wanted minutes a day: the first hour of silence is complete on
	// the second day's window, at 06:29; the next at day 4's 06:29.
	want := []string{"Dec 7 06:29 reconnect", "Dec 9 06:29 restart-modem"}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
}

// No record, no reboot: when the record cannot be written (a read-only
// card, a data_dir that is a file), the reboot is not asked for, since
// nothing would then count it against the cap.
func TestNoRebootWithoutRecord(t *testing.T) {
	s := newSim()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w := newWatch(t, s, dir, cfg(time.Hour, StepReboot))
	// the data directory goes away under the daemon: nothing can be written
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := runFor(w, s, time.Hour)
	if len(got) != 1 || !strings.Contains(got[0], "failed: reboot not asked for: its record could not be written") {
		t.Errorf("got %q", got)
	}
	if a := s.actions(); len(a) != 0 {
		t.Errorf("actions %v, want no reboot", a)
	}
}

// Turned off by a reload between checks: no step, no division by zero.
func TestOffTakesNoStep(t *testing.T) {
	s := newSim()
	w := newWatch(t, s, t.TempDir(), cfg(time.Hour))
	w.SetConfig(DefaultConfig())
	if got := runFor(w, s, 3*time.Hour); len(got) != 0 || len(s.actions()) != 0 {
		t.Errorf("steps while off: %q", got)
	}
}
