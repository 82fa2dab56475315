package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/outputs"
	"github.com/karana-energy/karana-edge/reading"
)

func (e *Engine) openOutputs() {
	now := e.o.Now()
	for i, oc := range e.o.Outputs {
		out := e.outs[i]
		if o := e.o.Adopt[oc.Name]; o != nil && reflect.DeepEqual(o.Cfg, oc) {
			out.o = o
			continue
		}
		drv, err := e.o.OpenOutput(oc)
		if err != nil {
			out.openErr = err
			e.log.Error("output not available; it is not driven", "output", oc.Name, "err", err)
			continue
		}
		o, sw, err := outputs.New(oc, drv, now)
		out.o = o
		if err != nil {
			e.log.Error("output: setting its safe state failed; retried at the next evaluation", "output", oc.Name, "err", err)
			out.setErr = err.Error()
			continue
		}
		e.switched(out, sw, e.syncFlags())
	}
}

func (e *Engine) syncFlags() reading.Flags {
	if e.o.Synced() {
		return 0
	}
	return reading.ClockUnsynced
}

func (e *Engine) evalOutputs(now time.Time) {
	for _, out := range e.outs {
		if out.o == nil {
			continue
		}
		e.maxAge = out.o.Cfg.MaxAge.Duration
		_, want, flags, ok, err := out.e.eval(e, now)
		e.maxAge = 0
		var sw outputs.Switch
		var did bool
		if !ok {
			if err != nil && !out.errLogged {
				e.log.Error("output expression failed; the output goes to its safe state", "output", out.o.Cfg.Name, "err", err)
				out.errLogged = true
			}
			cause := ""
			if out.o.On() != out.o.Cfg.SafeOn() { // the string only for a switch
				cause = "inputs missing: safe state (" + strings.Join(out.e.Inputs(), ", ") + ")"
			}
			sw, did, err = out.o.Safe(now, cause)
			flags = e.syncFlags()
		} else {
			out.errLogged = false
			cause := ""
			if want != out.o.On() {
				cause = e.cause(out.e)
			}
			sw, did, err = out.o.Drive(want, now, cause)
		}
		e.logSet(out, err)
		if did {
			// the switch happened now, on this clock, whatever the
			// inputs' times
			e.switched(out, sw, flags|e.syncFlags())
		}
	}
}

// logSet logs a failed write once until its error changes (a Modbus relay
// that does not answer is retried at every evaluation), and its recovery.
func (e *Engine) logSet(out *output, err error) {
	switch {
	case err != nil && err.Error() != out.setErr:
		e.log.Error("output not switched; retried at the next evaluation", "output", out.o.Cfg.Name, "err", err)
		out.setErr = err.Error()
	case err == nil && out.setErr != "":
		e.log.Info("output written again after failures", "output", out.o.Cfg.Name)
		out.setErr = ""
	}
}

// cause names what drove an output: its expression with the values of the
// rules and series it read.
func (e *Engine) cause(x *Expr) string {
	var parts []string
	for _, name := range x.Latest {
		if v, _, ok := e.value(name, e.o.Now()); ok {
			parts = append(parts, fmt.Sprintf("%s=%g", name, v))
		}
	}
	return fmt.Sprintf("%s (%s)", x.Src, strings.Join(parts, ", "))
}

func (e *Engine) switched(out *output, sw outputs.Switch, flags reading.Flags) {
	v := 0.0
	if sw.On {
		v = 1
	}
	name := out.o.Cfg.Series()
	e.out = append(e.out, reading.Reading{Name: name, Time: sw.At.UTC(), Value: v, Flags: flags})
	e.log.Info("output switched", "output", out.o.Cfg.Name, "on", sw.On, "cause", sw.Cause)
	out.cause = sw.Cause
}

// Close puts every output in its safe state (whatever min_switch says: no
// one drives it after this) and appends those readings.
func (e *Engine) Close() { e.Handover(nil) }

// Handover stops the engine for a successor configured with next: the
// outputs next has unchanged are returned as they are (for Options.Adopt),
// the others are put in their safe state and closed.
func (e *Engine) Handover(next []outputs.Config) map[string]*outputs.Output {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	now := e.o.Now()
	kept := map[string]*outputs.Output{}
	for _, out := range e.outs {
		if out.o == nil {
			continue
		}
		if slices.ContainsFunc(next, func(c outputs.Config) bool { return reflect.DeepEqual(c, out.o.Cfg) }) {
			kept[out.o.Cfg.Name] = out.o
			continue
		}
		sw, changed, err := out.o.Shutdown(now)
		if err != nil {
			e.log.Error("output: safe state at shutdown failed", "output", out.o.Cfg.Name, "err", err)
		}
		if changed {
			e.switched(out, sw, e.syncFlags())
		}
	}
	e.mu.Unlock()
	e.emit()
	return kept
}
