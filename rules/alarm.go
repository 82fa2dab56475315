package rules

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/reading"
)

// StateKey is where a rule's alarm state is persisted.
func StateKey(rule string) string { return "rules/alarm/" + rule }

// restore reads the persisted alarm states.
func (e *Engine) restore() {
	for _, r := range e.rules {
		v, ok := e.o.Store.GetState(StateKey(r.rc.Name))
		if !ok {
			continue
		}
		if len(v) != 9 {
			e.log.Error("alarm state not restored: unexpected size; the rule starts unknown", "rule", r.rc.Name, "bytes", len(v))
			continue
		}
		r.known, r.raised = true, v[0] == 1
		r.since = int64(binary.BigEndian.Uint64(v[1:]))
		r.lastT = r.since
		if r.raised {
			e.log.Info("alarm restored active", "rule", r.rc.Name, "since", time.Unix(0, r.since).UTC())
		}
	}
}

func stateValue(raised bool, t int64) []byte {
	v := make([]byte, 9)
	if raised {
		v[0] = 1
	}
	binary.BigEndian.PutUint64(v[1:], uint64(t))
	return v
}

// evalRule runs the alarm's state machine at the pending time: while
// cleared, when must hold for For (in reading time) to raise; while
// raised, clear (or not when) clears. Missing inputs change nothing but
// make the rule stale.
func (e *Engine) evalRule(r *rule) {
	at, prev := r.pendT, r.lastT
	r.pendT = 0
	r.lastT = at
	e.maxAge = r.rc.MaxAge.Duration
	if r.holdFrom != 0 && (prev == 0 || at-prev > int64(e.gapOf(r.when))) {
		// Nothing was evaluated for longer than the inputs may be silent
		// (missing readings, a clock step forward): that the condition
		// held across the gap is not known, so `for` counts from now.
		r.holdFrom = 0
	}
	defer func() { e.maxAge = 0 }()
	when, flags, ok := e.evalBool(r, r.when, at)
	if !ok {
		return
	}
	if r.raised {
		clear, cflags := !when, flags
		if r.clear != nil {
			if clear, cflags, ok = e.evalBool(r, r.clear, at); !ok {
				return
			}
		}
		r.stale = false
		if clear {
			e.transition(r, false, at, cflags)
		}
		return
	}
	r.stale = false
	if !when {
		r.holdFrom = 0
		if !r.known {
			e.transition(r, false, at, flags) // first evaluation: the state becomes known
		}
		return
	}
	if r.holdFrom == 0 {
		r.holdFrom = at
	}
	if at-r.holdFrom >= int64(r.rc.For.Duration) {
		e.transition(r, true, at, flags)
	}
}

// gapOf is the longest silence between evaluations of x across which a
// condition is taken to have held: its inputs' staleness bound.
func (e *Engine) gapOf(x *Expr) time.Duration {
	var g time.Duration
	for _, name := range x.Latest {
		g = max(g, e.maxAgeOf(name))
	}
	if g == 0 {
		g = 3 * unknownInterval
	}
	return g
}

func (e *Engine) evalBool(r *rule, x *Expr, at int64) (bool, reading.Flags, bool) {
	_, b, flags, ok, err := x.eval(e, time.Unix(0, at))
	if err != nil && !r.errLogged {
		e.log.Error("rule failed to evaluate; it is stale until it does", "rule", r.rc.Name, "err", err)
		r.errLogged = true
	}
	if !ok {
		if !r.stale {
			e.log.Warn("rule inputs missing; the alarm keeps its state", "rule", r.rc.Name, "inputs", strings.Join(x.Inputs(), ","))
		}
		r.stale = true
		return false, 0, false
	}
	r.errLogged = false
	return b, flags, true
}

func (e *Engine) transition(r *rule, raised bool, at int64, flags reading.Flags) {
	first := !r.known
	r.known, r.raised, r.since, r.holdFrom = true, raised, at, 0
	v := 0.0
	if raised {
		v = 1
	}
	rd := reading.Reading{Name: r.rc.Series(), Time: time.Unix(0, at).UTC(), Value: v, Flags: flags}
	e.trans = append(e.trans, transition{r: rd, key: StateKey(r.rc.Name), value: stateValue(raised, at)})
	if first && !raised {
		// A rule's first verdict "not raised" is recorded, not announced.
		return
	}
	e.urgent = append(e.urgent, rd.Name)
	if raised {
		e.log.Warn("alarm raised", "rule", r.rc.Name, "severity", r.rc.Severity, "when", r.rc.When, "at", rd.Time)
	} else {
		e.log.Info("alarm cleared", "rule", r.rc.Name, "severity", r.rc.Severity, "at", rd.Time)
	}
}

// checkStale marks rules whose inputs went stale: nothing evaluates them
// while no reading comes.
func (e *Engine) checkStale(now time.Time) {
	for _, r := range e.rules {
		if r.stale {
			continue
		}
		e.maxAge = r.rc.MaxAge.Duration
		for _, name := range r.when.Latest {
			if _, _, ok := e.value(name, now); !ok {
				e.log.Warn("rule inputs missing; the alarm keeps its state", "rule", r.rc.Name, "input", name)
				r.stale = true
				break
			}
		}
		e.maxAge = 0
	}
}
