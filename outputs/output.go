package outputs

import (
	"time"
)

// Output is one output's state: what it is set to, since when, and the
// min_switch hold. Not safe for concurrent use: the rules engine owns it.
type Output struct {
	Cfg   Config
	drv   Driver
	on    bool
	since time.Time // last switch (or start)
	err   error     // the last Set failure, retried at the next Drive
	// unreported: on was never confirmed by a reading (the start's Set
	// failed); the first Set that succeeds makes one.
	unreported bool
}

// Switch is one change of an output, for its reading and log line.
type Switch struct {
	On    bool
	At    time.Time
	Cause string
}

// New puts drv in c's safe state at now; the start counts as a switch.
func New(c Config, drv Driver, now time.Time) (*Output, Switch, error) {
	o := &Output{Cfg: c, drv: drv, on: c.SafeOn(), since: now}
	err := drv.Set(o.on)
	// A failed start (a Modbus device that does not answer) is retried by
	// the next Drive; no reading claims the state until then.
	o.err, o.unreported = err, err != nil
	return o, Switch{On: o.on, At: now, Cause: "start: safe state"}, err
}

// On reports the state the output is set to.
func (o *Output) On() bool { return o.on }

// Drive asks for state want at now because of cause. It switches unless
// the output switched less than min_switch ago (the hold); a held change
// is asked again by the next Drive. switched reports a switch done.
func (o *Output) Drive(want bool, now time.Time, cause string) (sw Switch, switched bool, err error) {
	if want == o.on && o.err == nil {
		return Switch{}, false, nil
	}
	if want != o.on && now.Sub(o.since) < o.Cfg.MinSwitch.Duration {
		return Switch{}, false, nil
	}
	if err := o.drv.Set(want); err != nil {
		o.err = err
		return Switch{}, false, err
	}
	o.err = nil
	if want == o.on && !o.unreported {
		return Switch{}, false, nil // a failed Set of the same state, now done
	}
	if want == o.on {
		// the safe state the start failed to set, now set: the reading
		// the start did not make
		cause = "start: safe state (after a failed write)"
	} else {
		o.since = now
	}
	o.on, o.unreported = want, false
	return Switch{On: want, At: now, Cause: cause}, true, nil
}

// Safe drives the safe state at now (eval failure, missing inputs), with
// the min_switch hold.
func (o *Output) Safe(now time.Time, cause string) (Switch, bool, error) {
	return o.Drive(o.Cfg.SafeOn(), now, cause)
}

// Shutdown puts the output in its safe state whatever the hold (the daemon
// stops; nobody drives it after this) and closes the driver.
func (o *Output) Shutdown(now time.Time) (Switch, bool, error) {
	safe := o.Cfg.SafeOn()
	err := o.drv.Set(safe)
	// A failed Set claims nothing: no reading says the device took a state
	// it may not have.
	changed := err == nil && (safe != o.on || o.unreported)
	if err == nil {
		o.on, o.since, o.unreported = safe, now, false
	}
	if cerr := o.drv.Close(); err == nil {
		err = cerr
	}
	return Switch{On: safe, At: now, Cause: "shutdown: safe state"}, changed, err
}
