package rules

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/karana-energy/karana-edge/reading"
)

// Bounds on one expression. With no loop, comprehension, lambda, list,
// dict, index or string node allowed, an expression's cost is linear in its
// nodes plus the window points its functions read, and windows hold at
// most MaxWindowPoints each.
const (
	// MaxExprBytes bounds an expression's source.
	MaxExprBytes = 1024
	// MaxExprNodes bounds its syntax tree.
	MaxExprNodes = 200
	// MaxSteps bounds the interpreter's steps in one evaluation: an
	// expression of MaxExprNodes compiles to fewer instructions than
	// that, and nothing in it can branch backwards, so the bound is only
	// ever met by a bug; it is there so that such a bug cannot hang the
	// sampler.
	MaxSteps = 4 * MaxExprNodes
	// MaxWindow bounds a window function's duration.
	MaxWindow = 7 * 24 * time.Hour
)

// Kind is what an expression must give.
type Kind uint8

const (
	// Number: a [[derive]] expr.
	Number Kind = iota
	// Bool: a [[rule]] when/clear, an [[output]] on.
	Bool
)

// ExprError is a mistake in an expression; Line and Col count from 1 in
// the expression's own text (runes).
type ExprError struct {
	Line, Col int
	Msg       string
}

func (e *ExprError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

// Offset is the error's 0-based rune offset in src, the expression it was
// compiled from: where it lies inside the TOML value.
func (e *ExprError) Offset(src string) int { return runeOffset(src, e.Line, e.Col) }

// FuncNames are every function an expression may call; a series cannot be
// named like one of them.
var FuncNames = []string{"abs", "age", "count", "delta", "integral", "last", "max", "mean", "min", "rate"}

// Expr is one compiled expression.
type Expr struct {
	Src string
	// Latest are the series read as their newest value: each must be
	// fresh, or the expression gives nothing.
	Latest []string
	// Windows are the series a window function reads, with the longest
	// window asked of each.
	Windows map[string]time.Duration
	// Ages are the series age() reads.
	Ages []string

	kind   Kind
	fn     *starlark.Function
	env    starlark.StringDict // the function's predeclared names: series and functions
	thread *starlark.Thread
	sc     *scope
}

// Inputs are every series the expression reads, sorted.
func (e *Expr) Inputs() []string {
	set := map[string]bool{}
	for _, s := range e.Latest {
		set[s] = true
	}
	for s := range e.Windows {
		set[s] = true
	}
	for _, s := range e.Ages {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// typ is what a node gives; the checker knows every node's, so a rule
// whose when is a number is refused at load, not found out at run time.
type typ uint8

const (
	tBad typ = iota
	tNum
	tBool
)

func (t typ) String() string {
	if t == tBool {
		return "true/false"
	}
	return "a number"
}

// compiler checks and rewrites the parsed tree into what Starlark runs: a
// chain of attribute accesses over names (battery.voltage) becomes one
// identifier named as written, a predeclared name holding that series'
// newest value (Starlark resolves identifiers by name, dots and all); a
// window function or age() call becomes a call without arguments to a
// builtin bound to its series and duration at compile time; integers
// become floats, so that every number is a float64 and 12 and 12.0 mean the
// same. Every node kind a rule does not need (lists, dicts, tuples,
// comprehensions, lambdas, index, slice, strings outside a function's
// series or duration, keyword arguments) is refused with its position.
type compiler struct {
	src     string
	nodes   int
	err     *ExprError
	sc      *scope
	env     starlark.StringDict
	latest  map[string]bool
	windows map[string]time.Duration
	ages    map[string]bool
	sites   int
}

func (c *compiler) fail(p syntax.Position, format string, args ...any) {
	if c.err == nil {
		line, col := c.position(p)
		c.err = &ExprError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
	}
}

// position maps a position in the parsed text, which is the source in
// parentheses ("(" + src + "\n)": newlines then mean nothing, as in a
// TOML multi-line string they should not), back to the source; a position
// past its end (an error at the end of input) is its last character.
func (c *compiler) position(p syntax.Position) (int, int) {
	line, col := int(p.Line), int(p.Col)
	if line == 1 {
		col--
	}
	line, col = max(line, 1), max(col, 1)
	n := utf8.RuneCountInString(c.src)
	if off := runeOffset(c.src, line, col); off >= n {
		return position(c.src, n-1)
	}
	return line, col
}

// position converts a rune offset to a 1-based line and column.
func position(src string, from int) (int, int) {
	line, col, n := 1, 1, 0
	for _, r := range src {
		if n == from {
			break
		}
		n++
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// runeOffset is the 0-based rune offset of a 1-based line and column.
func runeOffset(src string, line, col int) int {
	n, l := 0, 1
	for _, r := range src {
		if l == line {
			break
		}
		n++
		if r == '\n' {
			l++
		}
	}
	return n + col - 1
}

func start(x syntax.Expr) syntax.Position { p, _ := x.Span(); return p }

// check rewrites x (returning the node to use in its place) and gives its
// type; after the first error the result means nothing.
func (c *compiler) check(x syntax.Expr) (syntax.Expr, typ) {
	if c.err != nil {
		return x, tBad
	}
	if c.nodes++; c.nodes > MaxExprNodes {
		c.fail(start(x), "expression has more than %d parts", MaxExprNodes)
		return x, tBad
	}
	switch n := x.(type) {
	case *syntax.Literal:
		return c.literal(n)
	case *syntax.Ident:
		return c.ident(n)
	case *syntax.DotExpr:
		name, ok := dotted(n)
		if !ok {
			c.fail(n.Dot, "only series names may be written with dots (battery.voltage); use a name as written")
			return x, tBad
		}
		return c.ident(&syntax.Ident{NamePos: start(n), Name: name})
	case *syntax.ParenExpr:
		var t typ
		n.X, t = c.check(n.X)
		return n, t
	case *syntax.UnaryExpr:
		return c.unary(n)
	case *syntax.BinaryExpr:
		return c.binary(n)
	case *syntax.CondExpr:
		return c.cond(n)
	case *syntax.CallExpr:
		return c.call(n)
	}
	at := start(x)
	switch n := x.(type) {
	case *syntax.IndexExpr:
		at = n.Lbrack
	case *syntax.SliceExpr:
		at = n.Lbrack
	}
	c.fail(at, "%s are not allowed in a rule expression (only numbers, series, operators, a if c else b and the rule functions)", nodeWhat(x))
	return x, tBad
}

func nodeWhat(x syntax.Expr) string {
	switch x.(type) {
	case *syntax.ListExpr:
		return "lists"
	case *syntax.DictExpr, *syntax.DictEntry:
		return "dicts"
	case *syntax.TupleExpr:
		return "tuples"
	case *syntax.Comprehension:
		return "comprehensions"
	case *syntax.LambdaExpr:
		return "lambdas"
	case *syntax.IndexExpr:
		return "indexes"
	case *syntax.SliceExpr:
		return "slices"
	}
	return fmt.Sprintf("%T nodes", x)
}

// dotted is the name a chain of attributes over an identifier spells.
func dotted(x syntax.Expr) (string, bool) {
	switch n := x.(type) {
	case *syntax.Ident:
		return n.Name, true
	case *syntax.DotExpr:
		s, ok := dotted(n.X)
		return s + "." + n.Name.Name, ok
	}
	return "", false
}

func (c *compiler) literal(n *syntax.Literal) (syntax.Expr, typ) {
	switch v := n.Value.(type) {
	case int64:
		return &syntax.Literal{Token: syntax.FLOAT, TokenPos: n.TokenPos, Raw: n.Raw, Value: float64(v)}, tNum
	case *big.Int:
		f, _ := new(big.Float).SetInt(v).Float64()
		return &syntax.Literal{Token: syntax.FLOAT, TokenPos: n.TokenPos, Raw: n.Raw, Value: f}, tNum
	case float64:
		return n, tNum
	}
	c.fail(n.TokenPos, "text is allowed only as a window function's series or duration (mean(\"pv-2.power\", \"5m\"))")
	return n, tBad
}

func (c *compiler) ident(n *syntax.Ident) (syntax.Expr, typ) {
	switch {
	case n.Name == "True" || n.Name == "False":
		return n, tBool // Starlark's own, resolved in its universe
	case n.Name == "None":
		c.fail(n.NamePos, "None is not a value a rule may use")
		return n, tBad
	case isFunc(n.Name):
		c.fail(n.NamePos, "%s is a function: call it (%s(…))", n.Name, n.Name)
		return n, tBad
	case !reading.ValidName(n.Name):
		c.fail(n.NamePos, "%q is not a series name", n.Name)
		return n, tBad
	}
	c.latest[n.Name] = true
	c.env[n.Name] = starlark.Float(0)
	return n, tNum
}

func isFunc(name string) bool {
	i := sort.SearchStrings(FuncNames, name)
	return i < len(FuncNames) && FuncNames[i] == name
}

func (c *compiler) unary(n *syntax.UnaryExpr) (syntax.Expr, typ) {
	var t typ
	switch n.Op {
	case syntax.MINUS, syntax.PLUS:
		if n.X, t = c.check(n.X); t == tBool {
			c.fail(n.OpPos, "%s needs a number, not true/false", n.Op)
		}
		return n, tNum
	case syntax.NOT:
		if n.X, t = c.check(n.X); t == tNum {
			c.fail(n.OpPos, "not needs true/false (a comparison such as x > 1), not a number")
		}
		return n, tBool
	}
	c.fail(n.OpPos, "the operator %s is not allowed in a rule expression", n.Op)
	return n, tBad
}

func (c *compiler) binary(n *syntax.BinaryExpr) (syntax.Expr, typ) {
	var need, gives typ
	switch n.Op {
	case syntax.PLUS, syntax.MINUS, syntax.STAR, syntax.SLASH, syntax.SLASHSLASH, syntax.PERCENT:
		need, gives = tNum, tNum
	case syntax.LT, syntax.GT, syntax.LE, syntax.GE:
		need, gives = tNum, tBool
	case syntax.AND, syntax.OR:
		need, gives = tBool, tBool
	case syntax.EQL, syntax.NEQ:
		gives = tBool // of two of the same type
	default:
		c.fail(n.OpPos, "the operator %s is not allowed in a rule expression", n.Op)
		return n, tBad
	}
	var tx, ty typ
	n.X, tx = c.check(n.X)
	n.Y, ty = c.check(n.Y)
	switch {
	case c.err != nil:
	case need == tNum && (tx != tNum || ty != tNum):
		c.fail(n.OpPos, "%s needs a number on each side, not true/false", n.Op)
	case need == tBool && (tx != tBool || ty != tBool):
		c.fail(n.OpPos, "%s needs true/false on each side (a comparison such as x > 1), not a number", n.Op)
	case need == tBad && tx != ty:
		c.fail(n.OpPos, "%s compares %s with %s", n.Op, tx, ty)
	}
	return n, gives
}

func (c *compiler) cond(n *syntax.CondExpr) (syntax.Expr, typ) {
	var tc, tt, tf typ
	n.True, tt = c.check(n.True)
	n.Cond, tc = c.check(n.Cond)
	n.False, tf = c.check(n.False)
	switch {
	case c.err != nil:
	case tc != tBool:
		c.fail(start(n.Cond), "the condition after if must be true/false (a comparison such as x > 1), not a number")
	case tt != tf:
		c.fail(n.ElsePos, "a if c else b gives %s or %s: both must be of one kind", tt, tf)
	}
	return n, tt
}

func (c *compiler) call(n *syntax.CallExpr) (syntax.Expr, typ) {
	id, ok := n.Fn.(*syntax.Ident)
	if !ok {
		c.fail(start(n), "only the rule functions may be called")
		return n, tBad
	}
	name, args := id.Name, n.Args
	for _, a := range args {
		if b, ok := a.(*syntax.BinaryExpr); ok && b.Op == syntax.EQ {
			c.fail(start(a), "%s: no named arguments", name)
			return n, tBad
		}
		if u, ok := a.(*syntax.UnaryExpr); ok && (u.Op == syntax.STAR || u.Op == syntax.STARSTAR) {
			c.fail(u.OpPos, "%s: no * or ** arguments", name)
			return n, tBad
		}
	}
	c.nodes += len(args)
	window := windowFuncs[name]
	switch {
	case name == "age":
		if len(args) != 1 {
			c.fail(start(n), "age(series) takes one series")
			return n, tBad
		}
		series, ok := c.seriesArg(name, args[0])
		if !ok {
			return n, tBad
		}
		c.ages[series] = true
		return c.site(n, c.sc.age(series)), tNum
	case window != nil && len(args) == 2 && isString(args[1]):
		return c.windowCall(n, name, window)
	case name == "abs" && len(args) == 1, (name == "min" || name == "max") && len(args) == 2:
		for i := range args {
			var t typ
			if args[i], t = c.check(args[i]); t == tBool {
				c.fail(start(args[i]), "%s needs numbers, not true/false", name)
			}
		}
		return n, tNum // the builtin of valueFuncs, predeclared by that name
	case name == "abs" || name == "min" || name == "max":
		c.fail(start(n), "%s takes %s", name, map[string]string{"abs": "one value", "min": "two values, or a series and a window", "max": "two values, or a series and a window"}[name])
	case window != nil:
		c.fail(start(n), "%s(series, \"duration\") takes a series and a window such as \"1h\"", name)
	default:
		c.fail(start(n), "unknown function %s (functions: %s)", name, strings.Join(FuncNames, ", "))
	}
	return n, tBad
}

func isString(x syntax.Expr) bool {
	l, ok := x.(*syntax.Literal)
	return ok && l.Token == syntax.STRING
}

// windowCall checks f(series, "duration") and binds it.
func (c *compiler) windowCall(n *syntax.CallExpr, name string, f reducer) (syntax.Expr, typ) {
	series, ok := c.seriesArg(name, n.Args[0])
	if !ok {
		return n, tBad
	}
	lit := n.Args[1].(*syntax.Literal)
	d, err := time.ParseDuration(lit.Value.(string))
	switch {
	case err != nil:
		c.fail(lit.TokenPos, "%s: window %q is not a duration such as \"15m\" or \"24h\"", name, lit.Value)
		return n, tBad
	case d <= 0 || d > MaxWindow:
		c.fail(lit.TokenPos, "%s: window %s must be positive and at most %s", name, d, MaxWindow)
		return n, tBad
	}
	c.windows[series] = max(c.windows[series], d)
	return c.site(n, c.sc.window(name, series, d, f)), tNum
}

// seriesArg is the series a function's first argument names: as written
// (pv.power) or quoted ("pv-2.power", a name that is not an identifier).
func (c *compiler) seriesArg(fn string, x syntax.Expr) (string, bool) {
	name, ok := dotted(x)
	if l, lit := x.(*syntax.Literal); lit && l.Token == syntax.STRING {
		name, ok = l.Value.(string), true
	}
	switch {
	case !ok:
		c.fail(start(x), "%s: the first argument must be a series name", fn)
	case !reading.ValidName(name):
		c.fail(start(x), "%q is not a series name", name)
	default:
		return name, true
	}
	return "", false
}

// site replaces a call by a call without arguments to b, predeclared under
// a name no series can have.
func (c *compiler) site(n *syntax.CallExpr, b *starlark.Builtin) syntax.Expr {
	name := fmt.Sprintf("%s#%d", b.Name(), c.sites)
	c.sites++
	c.env[name] = b
	return &syntax.CallExpr{Fn: &syntax.Ident{NamePos: start(n), Name: name}, Lparen: n.Lparen, Rparen: n.Rparen}
}

// unmatched finds the first ")" or "]" of src that closes nothing (outside
// quotes): one that would close the parenthesis Compile wraps src in.
func unmatched(src string) int {
	depth, n, escaped := 0, 0, false
	var quote rune
	for _, r := range src {
		switch {
		case escaped:
			escaped = false
		case quote != 0 && r == '\\':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '(' || r == '[' || r == '{':
			depth++
		case r == ')' || r == ']' || r == '}':
			if depth--; depth < 0 {
				return n
			}
		}
		n++
	}
	return 0
}

// tokenStart is the start of the token that ends at rune offset end (an
// identifier or number, dots and all; a quoted string; else one rune).
func tokenStart(src string, end int) int {
	rs := []rune(src)
	if end <= 0 || end > len(rs) {
		return min(max(end, 0), max(len(rs)-1, 0))
	}
	word := func(r rune) bool {
		return r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	i := end - 1
	switch r := rs[i]; {
	case word(r):
		for i > 0 && word(rs[i-1]) {
			i--
		}
	case r == '"' || r == '\'':
		for i > 0 && rs[i-1] != r {
			i--
		}
		i = max(i-1, 0)
	}
	return i
}

// Compile checks and compiles src. Errors are *ExprError with the position
// in src.
func Compile(src string, kind Kind) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Line: 1, Col: 1, Msg: "empty expression"}
	}
	if len(src) > MaxExprBytes {
		return nil, &ExprError{Line: 1, Col: 1, Msg: fmt.Sprintf("expression is %d bytes; at most %d", len(src), MaxExprBytes)}
	}
	if !utf8.ValidString(src) {
		return nil, &ExprError{Line: 1, Col: 1, Msg: "expression is not valid UTF-8"}
	}
	opts := &syntax.FileOptions{} // no while, set, recursion or top-level control
	c := &compiler{src: src, sc: &scope{}, env: starlark.StringDict{}, latest: map[string]bool{},
		windows: map[string]time.Duration{}, ages: map[string]bool{}}
	for name, b := range valueFuncs {
		c.env[name] = b
	}
	// In parentheses, a newline is only space: an expression may span the
	// lines of a TOML multi-line string.
	x, err := opts.ParseExpr("expr", "("+src+"\n)", 0)
	if err != nil {
		var se syntax.Error
		if errors.As(err, &se) {
			msg := se.Msg
			if l, col := int(se.Pos.Line), int(se.Pos.Col); l == strings.Count(src, "\n")+2 || l == 1 && col-1 > utf8.RuneCountInString(src) {
				// the parenthesis Compile added: the user's text ended
				msg = strings.Replace(msg, "got ')'", "got the end of the expression", 1)
			}
			c.fail(se.Pos, "%s", msg)
			if strings.HasPrefix(msg, "got ") && !strings.HasSuffix(msg, "want primary expression") {
				// Starlark's parser reports an unexpected token where it
				// ends; the user wants where it starts.
				c.err.Line, c.err.Col = position(src, tokenStart(src, runeOffset(src, c.err.Line, c.err.Col)))
			}
			return nil, c.err
		}
		return nil, &ExprError{Line: 1, Col: 1, Msg: err.Error()}
	}
	p, ok := x.(*syntax.ParenExpr)
	if !ok || p.Lparen.Line != 1 || p.Lparen.Col != 1 || int(p.Rparen.Line) != strings.Count(src, "\n")+2 {
		line, col := position(src, unmatched(src))
		return nil, &ExprError{Line: line, Col: col, Msg: "this closes a parenthesis that was never opened"}
	}
	body, t := c.check(p.X)
	switch {
	case c.err != nil:
		return nil, c.err
	case kind == Bool && t != tBool:
		c.fail(start(p.X), "expected bool (true/false: a comparison such as x > 1), got %s", t)
		return nil, c.err
	case kind == Number && t != tNum:
		c.fail(start(p.X), "expected a number, got true/false (for 1/0 write 1 if … else 0)")
		return nil, c.err
	}
	e := &Expr{Src: src, kind: kind, Windows: c.windows, sc: c.sc, env: c.env}
	for name := range c.latest {
		e.Latest = append(e.Latest, name)
	}
	sort.Strings(e.Latest)
	for name := range c.ages {
		e.Ages = append(e.Ages, name)
	}
	sort.Strings(e.Ages)
	if e.fn, err = program(opts, body, c.env); err != nil {
		return nil, &ExprError{Line: 1, Col: 1, Msg: err.Error()}
	}
	e.thread = &starlark.Thread{Name: "rules"}
	e.thread.SetMaxExecutionSteps(MaxSteps)
	return e, nil
}

// program compiles body once into a function of no arguments: a one-line
// module "expr# = lambda: body" run once; the function it leaves reads the
// predeclared env, which eval refills before each call. The global's name
// is none a series can have: a global would shadow a series of its name.
func program(opts *syntax.FileOptions, body syntax.Expr, env starlark.StringDict) (*starlark.Function, error) {
	f := &syntax.File{Path: "expr", Options: opts, Stmts: []syntax.Stmt{&syntax.AssignStmt{
		OpPos: start(body), Op: syntax.EQ, LHS: &syntax.Ident{NamePos: start(body), Name: "expr#"},
		RHS: &syntax.LambdaExpr{Lambda: start(body), Body: body},
	}}}
	prog, err := starlark.FileProgram(f, env.Has)
	if err != nil {
		return nil, err
	}
	th := &starlark.Thread{Name: "rules init"}
	th.SetMaxExecutionSteps(MaxSteps)
	g, err := prog.Init(th, env)
	if err != nil {
		return nil, err
	}
	fn, ok := g["expr#"].(*starlark.Function)
	if !ok {
		return nil, fmt.Errorf("compiled expression is a %T", g["expr#"])
	}
	return fn, nil
}

// source is what evaluation reads: the engine's latest values and windows.
type source interface {
	// value is series' newest value if it is fresh at at.
	value(series string, at time.Time) (float64, reading.Flags, bool)
	// newest is series' newest reading, fresh or not.
	newest(series string) (point, bool)
	// window returns series' points in (at-d, at] and the longest gap
	// that may be bridged; ok is false when the store cannot hold the
	// whole window (evicted or not yet rebuilt).
	window(series string, d time.Duration, at time.Time) (pts []point, maxGap time.Duration, ok bool)
}

// scope is what the functions of one Expr see while it runs; the engine
// runs one expression at a time.
type scope struct {
	src     source
	at      time.Time
	missing bool
	flags   reading.Flags
}

// errMissing ends an evaluation that lacks an input; the result is
// missing, which is not a failure of the expression.
var errMissing = errors.New("input missing")

func (sc *scope) miss() (starlark.Value, error) {
	sc.missing = true
	return nil, errMissing
}

// clockFlags are the flags a result inherits from its inputs.
const clockFlags = reading.ClockUnsynced | reading.ClockCorrected | reading.TimeImplausible

// divByZero: Starlark fails x/0, x//0 and x%0 where Go floats would give
// ±Inf or NaN; either way the result is not a number, hence missing.
func divByZero(err error) bool {
	return strings.HasSuffix(err.Error(), "division by zero") || strings.HasSuffix(err.Error(), "modulo by zero")
}

// Eval runs the expression at time at over src. ok is false when an input
// is missing or stale, a window is empty or incomplete, or the result is
// not a finite number; err reports an expression that failed otherwise.
func (e *Expr) eval(src source, at time.Time) (v float64, b bool, flags reading.Flags, ok bool, err error) {
	for _, name := range e.Latest {
		x, f, fresh := src.value(name, at)
		if !fresh {
			return 0, false, 0, false, nil
		}
		// A Float in an interface is an allocation: skip it when the value
		// is the one already there (alarm.*, output.*, a steady reading).
		if old, ok := e.env[name].(starlark.Float); !ok || math.Float64bits(float64(old)) != math.Float64bits(x) {
			e.env[name] = starlark.Float(x)
		}
		flags |= f
	}
	e.sc.src, e.sc.at, e.sc.missing, e.sc.flags = src, at, false, 0
	e.thread.Steps = 0
	e.thread.Uncancel()
	out, err := starlark.Call(e.thread, e.fn, nil, nil)
	e.sc.src = nil
	flags |= e.sc.flags
	flags &= clockFlags
	if e.sc.missing || err != nil && divByZero(err) {
		return 0, false, 0, false, nil
	}
	if err != nil {
		return 0, false, 0, false, fmt.Errorf("%s: %w", e.Src, err)
	}
	switch x := out.(type) {
	case starlark.Bool:
		if e.kind == Bool {
			return 0, bool(x), flags, true, nil
		}
	case starlark.Float:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return 0, false, 0, false, nil
		}
		if e.kind == Number {
			return float64(x), false, flags, true, nil
		}
	}
	return 0, false, 0, false, fmt.Errorf("%s: result %s", e.Src, out.Type())
}
