// Package rules is the box's rule engine: derived series ([[derive]]),
// alarms with hysteresis ([[rule]]) and the expressions that drive outputs
// ([[output]], package outputs). It sits between the sampler and the
// buffer: every reading passes through Engine.Append on its way to the
// ring, and what it triggers (derived readings, alarm transitions, output
// switches) follows it in as ordinary readings.
//
// # Expressions
//
// Expressions are compiled by github.com/expr-lang/expr, restricted: every
// expr builtin is off, and a visitor refuses ranges, arrays, maps,
// predicates, variables, pipes and string operators, so an expression's
// cost is its nodes (at most MaxExprNodes) plus the window points its
// functions read (at most MaxWindowPoints a series).
//
// Series are written as named (battery.voltage). expr would read that as
// member access on a map "battery"; nested maps were not used because a
// series may be both a leaf and a prefix (a sensor "pump" whose driver
// names one series "pump" and a derived "pump.hours"), a window function
// needs the series' name rather than its value, and a flat map costs one
// lookup per input. Instead a visitor (the same one at check time and at
// compile time) rewrites every member chain rooted at a name into one
// identifier named as written, looked up in a flat map of latest values,
// and the first argument of a window function or age() into its name as a
// string. A name that is not an identifier ("pv-2.power") can be quoted
// where a name is expected as a string, in window functions. Integers are
// rewritten to floats, so 12 and 12.0 mean the same. Errors carry the
// expression's line and column (ExprError); the agent turns them into the
// file's.
//
// # Evaluation
//
// A derive or rule is pending when an input it reads gets a newer
// reading; it is evaluated once the readings of that slot of every input
// read as a value are in (an input whose next reading is not due by then
// does not hold it back), or Grace after it became pending (Tick). It is
// evaluated at the pending time, the newest input's; an input read as a
// value must be fresh then (max_age, default 3 × its interval) or the
// result is missing. Windows are per series, kept in memory for the
// longest window any expression asks of it, and rebuilt from the buffer at
// start (New), so window functions give the same across a restart and
// cost no writes.
//
// # Alarms
//
// A rule's state changes only on an evaluation: while cleared, when must
// hold for For in reading time (a gap longer than the inputs' staleness
// bound, or a clock step, restarts the count); while raised, clear (or not
// when) clears it. Each transition is appended with its persisted state in
// one commit (Store.AppendState), so a restart or a power cut neither
// repeats a raise nor forgets an active alarm. Missing inputs make a rule
// stale, never cleared.
package rules
