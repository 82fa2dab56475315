// Package rules is the box's rule engine: derived series ([[derive]]),
// alarms with hysteresis ([[rule]]) and the expressions that drive outputs
// ([[output]], package outputs). It sits between the sampler and the
// buffer: every reading passes through Engine.Append on its way to the
// ring, and what it triggers (derived readings, alarm transitions, output
// switches) follows it in as ordinary readings.
//
// # Expressions
//
// Expressions are Starlark expressions (go.starlark.net, the engine
// Telegraf's processors use), restricted. github.com/expr-lang/expr was
// used first; it calls reflect's MethodByName (in its checker and vm), and
// one reachable MethodByName call makes the Go linker keep every exported
// method of every reachable type in the binary. Measured on the armv6
// release build of the tree before the rules engine, with text/template
// (the other such caller) gone: expr cost 2.16 MB, Starlark 0.65 MB.
//
// Compile parses the source in parentheses (so that newlines inside a
// TOML multi-line string are space) and walks the tree once, checking and
// rewriting it: a chain of attributes over a name (battery.voltage)
// becomes one identifier named as written, a predeclared name whose value
// is that series' newest, looked up in a flat dict; nested values were not
// used because a series may be both a leaf and a prefix (a sensor "pump"
// whose driver names one series "pump" and a derived "pump.hours"). A
// window function or age() call becomes a call without arguments to a
// builtin bound, at compile time, to its series and its duration (checked
// there). Integers become floats, so 12 and 12.0 mean the same. The walk
// knows every node's type (number or true/false), so `when =
// "battery.voltage"` or `x > 1 and 5` is refused at load, not found out
// at run time, and refuses what a rule does not need: lists, dicts,
// tuples, comprehensions, lambdas, index, slice, strings other than a
// window function's series or duration (hence no string operation), the
// in, bitwise and shift operators, keyword arguments, calls of anything
// but the rule functions. Starlark's expression syntax has no loop or def;
// with those nodes gone an expression's cost is its nodes (at most
// MaxExprNodes) plus the window points its functions read (at most
// MaxWindowPoints a series), and a thread step bound (MaxSteps) backs that
// up. The rewritten tree is compiled once, to a function of no arguments;
// evaluation fills the predeclared dict with the inputs' values and calls
// it. Errors carry the expression's line and column (ExprError); the agent
// turns them into the file's.
//
// Starlark has no ** and no && || !: and, or, not; its conditional is
// `a if cond else b`. x / 0 (and // and %) fails in Starlark where a Go
// float gives ±Inf or NaN; either way the result is missing.
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
