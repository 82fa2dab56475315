package linkwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"
)

// Contact is what the watchdog needs from the uplink.
type Contact interface {
	// LastContact is when the last successful exchange with the broker
	// happened (now while connected); zero when none since start.
	LastContact() time.Time
}

// LinkWanter is what a Contact may also implement: whether the link is
// meant to be up now ([mqtt] windows). Time when it is not does not count
// as silence, and no step is taken then.
type LinkWanter interface {
	LinkWanted() bool
}

// Actions carry out the steps. An error wrapping ErrNotFitted means the
// step does not apply on this box (no modem): it is reported as skipped.
type Actions interface {
	Reconnect(ctx context.Context) error
	RestartModem(ctx context.Context) error // disable, then enable
	ResetModem(ctx context.Context) error
	// Reboot asks for a clean reboot and returns how ("logind",
	// "systemctl"); the daemon then gets SIGTERM like at any stop.
	Reboot(ctx context.Context) (how string, err error)
}

// ErrNotFitted is what Actions wrap when a step has nothing to act on.
var ErrNotFitted = errors.New("not fitted")

// Options are the watchdog's collaborators.
type Options struct {
	Config  Config
	DataDir string
	Contact Contact
	Actions Actions
	// Now is the clock; nil is time.Now. Its readings are compared with
	// LastContact's, so both must come from the same clock.
	Now func() time.Time
	// Boot reads the boot id and time since boot; nil is CurrentBoot.
	Boot func() Boot
	// Synced reports whether the wall clock is synchronized; nil: never
	// trusted.
	Synced func() bool
	Log    *slog.Logger
}

// Watchdog is the link watchdog. Check runs one decision; Run calls it
// periodically.
type Watchdog struct {
	opts Options
	path string
	log  *slog.Logger

	// checkMu serialises Check; mu guards the state and is let go while
	// an action runs (a modem restart takes a minute, and the status
	// document built at a connect meanwhile asks for the Report).
	checkMu sync.Mutex
	mu      sync.Mutex
	st      state
	start   time.Time // the silence counts from here without contact
	contact time.Time // the latest contact seen
	periods int       // no_contact periods of the current silence acted on
	taken   int       // steps taken in the current silence: the next is Steps[taken%len]
	resets  int       // restart-modem runs in this silence (the 2nd on is a reset)
	seenAt  time.Time // when contact after steps was first seen (report clearing)
	// lastStep is when this process last took a step (zero: none): only
	// a contact after it reports the steps.
	lastStep time.Time
	// paused is the time since base (the start or the latest contact)
	// when the link was not wanted; lastCheck is the previous Check.
	base, lastCheck time.Time
	paused          time.Duration
}

// New loads the watchdog's state from DataDir. A state file that cannot be
// read counts as a full day of reboots (it may have held them): the next
// reboot waits until this boot has been up 24 h; the error says so and the
// watchdog runs anyway.
func New(opts Options) (*Watchdog, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Boot == nil {
		opts.Boot = CurrentBoot
	}
	if opts.Synced == nil {
		opts.Synced = func() bool { return false }
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now()
	w := &Watchdog{opts: opts, path: filepath.Join(opts.DataDir, StateFile), log: opts.Log, start: now, base: now, lastCheck: now}
	st, err := loadState(w.path)
	if err != nil {
		for range opts.Config.MaxRebootsPerDay {
			st.Reboots = append(st.Reboots, rebootRecord{})
		}
		err = fmt.Errorf("%w; counting it as %d reboot(s) in the last day", err, opts.Config.MaxRebootsPerDay)
	}
	w.st = st
	return w, err
}

// Run checks every poll interval until ctx ends; with the watchdog off it
// returns at once.
func (w *Watchdog) Run(ctx context.Context) {
	if !w.opts.Config.Enabled() {
		return
	}
	t := time.NewTicker(w.Poll())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check(ctx)
		}
	}
}

// Poll is how often Run checks: a tenth of no_contact, at most a minute.
func (w *Watchdog) Poll() time.Duration {
	return min(time.Minute, w.opts.Config.NoContact.Duration/10)
}

// Check looks at the contact and runs the step due, if any; it returns the
// step taken (nil: none).
func (w *Watchdog) Check(ctx context.Context) *Step {
	w.checkMu.Lock()
	defer w.checkMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.opts.Config.Enabled() || len(w.opts.Config.Steps) == 0 {
		return nil // off (a reload may turn it off between checks)
	}
	now := w.opts.Now()
	if c := w.opts.Contact.LastContact(); c.After(w.contact) {
		w.contact = c
	}
	last := w.start
	if w.contact.After(last) {
		last = w.contact
	}
	wanted := w.wanted(now, last)
	silence := now.Sub(last) - w.paused
	if !wanted {
		return nil
	}
	if silence < w.opts.Config.NoContact.Duration {
		w.contactSeen(now)
		return nil
	}
	w.seenAt = time.Time{}
	n := int(silence / w.opts.Config.NoContact.Duration)
	if n <= w.periods {
		return nil
	}
	// One step per period, even when several periods passed unseen (a
	// suspended box, a clock jump): the periods skipped are not made up.
	step := w.opts.Config.Steps[w.taken%len(w.opts.Config.Steps)]
	w.periods = n
	w.taken++
	s := w.run(ctx, step, now, silence)
	return &s
}

// wanted asks the Contact whether the link is meant to be up, and counts
// the time since the previous Check as paused when it is not.
func (w *Watchdog) wanted(now, last time.Time) bool {
	if !last.Equal(w.base) {
		w.base, w.paused = last, 0
	}
	lw, ok := w.opts.Contact.(LinkWanter)
	wanted := !ok || lw.LinkWanted()
	if !wanted && !w.lastCheck.IsZero() {
		from := w.lastCheck
		if last.After(from) {
			from = last
		}
		w.paused += now.Sub(from)
	}
	w.lastCheck = now
	return wanted
}

// contactSeen resets the escalation, and forgets the steps once the
// contact has lasted a poll: the status document of the connect carried
// them.
func (w *Watchdog) contactSeen(now time.Time) {
	if w.taken > 0 {
		w.log.Info("link watchdog: broker contact is back", "steps_taken", w.taken)
	}
	w.periods, w.taken, w.resets = 0, 0, 0
	// Steps of a previous boot are reported by this process's first
	// contact; without any, the quiet time after start is no contact.
	if len(w.st.Steps) == 0 || w.contact.IsZero() || !w.contact.After(w.lastStep) {
		return
	}
	if w.seenAt.IsZero() {
		w.seenAt = now
		return
	}
	if now.Sub(w.seenAt) >= w.Poll() {
		w.st.Steps, w.st.Dropped, w.seenAt = nil, 0, time.Time{}
		if err := w.st.save(w.path); err != nil {
			w.log.Warn("link watchdog: cannot clear the reported steps", "err", err)
		}
	}
}

func (w *Watchdog) run(ctx context.Context, step string, now time.Time, silence time.Duration) Step {
	s := Step{Step: step, At: now.UTC(), Silence: int64(silence.Seconds())}
	w.lastStep = now
	w.log.Warn("link watchdog: no broker contact; recovery step", "no_contact_for", silence.Round(time.Second), "step", step)
	var err error
	switch step {
	case StepReconnect:
		err = w.unlocked(func() error { return w.opts.Actions.Reconnect(ctx) })
	case StepRestartModem:
		if w.resets == 0 {
			s.How, err = "disable/enable", w.unlocked(func() error { return w.opts.Actions.RestartModem(ctx) })
		} else {
			s.How, err = "reset", w.unlocked(func() error { return w.opts.Actions.ResetModem(ctx) })
		}
		w.resets++
	case StepReboot:
		err = w.reboot(ctx, &s, now)
	}
	switch {
	case s.Result != "":
	case errors.Is(err, ErrNotFitted):
		s.Result = "skipped: " + err.Error()
	case err != nil:
		s.Result = "failed: " + err.Error()
	default:
		s.Result = "ok"
	}
	w.log.Warn("link watchdog: step done", "step", step, "how", s.How, "result", s.Result)
	w.st.addStep(s)
	if err := w.st.save(w.path); err != nil {
		w.log.Error("link watchdog: step not recorded for the report", "err", err)
	}
	return s
}

// reboot asks for a reboot unless the day's cap is reached. The record is
// on disk before the request: a reboot that happens is always counted.
func (w *Watchdog) reboot(ctx context.Context, s *Step, now time.Time) error {
	b := w.opts.Boot()
	synced := w.opts.Synced()
	if n := w.st.recentReboots(now, b, synced); n >= w.opts.Config.MaxRebootsPerDay {
		s.Result = fmt.Sprintf("skipped: %d reboot(s) in the last 24 h, max_reboots_per_day = %d", n, w.opts.Config.MaxRebootsPerDay)
		return nil
	}
	w.st.Reboots = append(w.st.Reboots, rebootRecord{At: now.UTC(), BootID: b.ID, Since: b.Since, Synced: synced})
	s.Result = "requested" // what the report says if the box goes down now
	w.st.addStep(*s)
	err := w.st.save(w.path)
	w.st.Steps = w.st.Steps[:len(w.st.Steps)-1] // run adds the final one
	if err != nil {
		// Not recorded, not counted: no reboot either.
		w.st.Reboots = w.st.Reboots[:len(w.st.Reboots)-1]
		s.Result = ""
		return fmt.Errorf("reboot not asked for: its record could not be written (%w)", err)
	}
	var how string
	err = w.unlocked(func() (err error) {
		how, err = w.opts.Actions.Reboot(ctx)
		return err
	})
	s.How = how
	if err == nil {
		s.Result = "requested"
	} else {
		s.Result = ""
	}
	return err
}

// unlocked runs an action without w.mu (Check still holds checkMu).
func (w *Watchdog) unlocked(f func() error) error {
	w.mu.Unlock()
	defer w.mu.Lock()
	return f()
}

// Report is the steps of the current or last outage, for the status
// document; nil when there is nothing to report.
type Report struct {
	Steps []Step `json:"steps"`
	// Dropped steps are not listed (a long outage keeps the first and the
	// newest).
	Dropped int `json:"steps_dropped,omitempty"`
}

// Report returns what the next status document should carry.
func (w *Watchdog) Report() *Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.st.Steps) == 0 {
		return nil
	}
	return &Report{Steps: append([]Step(nil), w.st.Steps...), Dropped: w.st.Dropped}
}

// SetConfig replaces the config (a reload). A silence in progress keeps
// its count: shortening no_contact may make a step due at the next Check,
// one step, as always.
func (w *Watchdog) SetConfig(c Config) {
	w.mu.Lock()
	w.opts.Config = c
	w.mu.Unlock()
}
