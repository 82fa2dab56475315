package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/karana-energy/karana-edge/reading"
)

// Bounds on one expression. With every builtin disabled and no loop,
// range, array, map, closure or variable nodes allowed, an expression's
// cost is linear in its nodes plus the window points its functions read,
// and windows hold at most MaxWindowPoints each.
const (
	// MaxExprBytes bounds an expression's source.
	MaxExprBytes = 1024
	// MaxExprNodes bounds its syntax tree (expr's own check).
	MaxExprNodes = 200
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

// windowFuncs read a series' buffered past: f(series, "duration").
var windowFuncs = map[string]bool{
	"mean": true, "min": true, "max": true, "last": true, "delta": true,
	"rate": true, "integral": true, "count": true,
}

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

	kind Kind
	prog *vm.Program
	sc   *scope
	env  map[string]float64
	vm   vm.VM
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

// rewriter turns what the user writes into what expr compiles: a chain of
// member accesses rooted at a name (battery.voltage) becomes one identifier
// named as written, looked up in a flat map of latest values; the series
// argument of a window function or age() becomes its name as a string;
// integers become floats, so that every number is a float64 and 12 and 12.0
// mean the same. Anything else expr can express but a rule must not (loops
// over ranges, arrays, maps, closures, variables, pipes, string operators)
// is refused with its position.
type rewriter struct {
	funcs map[string]bool // names called as functions
	err   *ExprError
	src   string
}

func (w *rewriter) fail(n ast.Node, format string, args ...any) {
	if w.err == nil {
		line, col := position(w.src, n.Location().From)
		w.err = &ExprError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
	}
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

var refusedOps = map[string]string{
	"..": "ranges", "|": "pipes", "in": "'in'", "matches": "'matches'", "contains": "'contains'",
	"startsWith": "'startsWith'", "endsWith": "'endsWith'", "??": "'??'",
}

func (w *rewriter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		id, ok1 := n.Node.(*ast.IdentifierNode)
		p, ok2 := n.Property.(*ast.StringNode)
		if !ok1 || !ok2 || n.Optional || n.Method {
			w.fail(n, "only series names may be written with dots (battery.voltage); use a name as written")
			return
		}
		ast.Patch(node, &ast.IdentifierNode{Value: id.Value + "." + p.Value})
	case *ast.IntegerNode:
		ast.Patch(node, &ast.FloatNode{Value: float64(n.Value)})
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			w.fail(n, "only the rule functions may be called")
			return
		}
		w.call(id.Value, n, n.Arguments)
	case *ast.BuiltinNode:
		// Parsed without our functions: min, max and abs are expr builtins.
		w.call(n.Name, n, n.Arguments)
	case *ast.BinaryNode:
		if what, bad := refusedOps[n.Operator]; bad {
			w.fail(n, "%s are not allowed in a rule expression", what)
		}
	case *ast.ArrayNode, *ast.MapNode, *ast.PairNode, *ast.PredicateNode, *ast.PointerNode,
		*ast.VariableDeclaratorNode, *ast.SequenceNode, *ast.SliceNode, *ast.ChainNode, *ast.BytesNode:
		w.fail(n, "%s are not allowed in a rule expression (only numbers, series, operators, if/else and the rule functions)", nodeWhat(n))
	}
}

func nodeWhat(n ast.Node) string {
	switch n.(type) {
	case *ast.ArrayNode:
		return "arrays"
	case *ast.MapNode, *ast.PairNode:
		return "maps"
	case *ast.PredicateNode, *ast.PointerNode:
		return "predicates"
	case *ast.VariableDeclaratorNode, *ast.SequenceNode:
		return "variables and sequences"
	case *ast.SliceNode:
		return "slices"
	case *ast.ChainNode:
		return "optional chains (?.)"
	}
	return "byte strings"
}

func (w *rewriter) call(name string, n ast.Node, args []ast.Node) {
	w.funcs[name] = true
	switch {
	case name == "age":
		if len(args) != 1 {
			w.fail(n, "age(series) takes one series")
			return
		}
		w.seriesArg(n, name, &args[0])
	case windowFuncs[name] && len(args) == 2 && isString(args[1]):
		w.seriesArg(n, name, &args[0])
		d, err := time.ParseDuration(args[1].(*ast.StringNode).Value)
		switch {
		case err != nil:
			w.fail(args[1], "%s: window %q is not a duration such as \"15m\" or \"24h\"", name, args[1].(*ast.StringNode).Value)
		case d <= 0 || d > MaxWindow:
			w.fail(args[1], "%s: window %s must be positive and at most %s", name, d, MaxWindow)
		}
	case name == "min" || name == "max" || name == "abs":
		// of values: expr's checker counts the arguments
	case windowFuncs[name]:
		w.fail(n, "%s(series, \"duration\") takes a series and a window such as \"1h\"", name)
	default:
		w.fail(n, "unknown function %s (functions: %s)", name, strings.Join(FuncNames, ", "))
	}
}

func isString(n ast.Node) bool { _, ok := n.(*ast.StringNode); return ok }

// seriesArg turns a window function's first argument, a name as written,
// into a string constant.
func (w *rewriter) seriesArg(call ast.Node, fn string, arg *ast.Node) {
	switch a := (*arg).(type) {
	case *ast.IdentifierNode:
		ast.Patch(arg, &ast.StringNode{Value: a.Value})
	case *ast.StringNode:
		// a name that is not an identifier ("pv-1.power") may be quoted
	default:
		w.fail(call, "%s: the first argument must be a series name", fn)
	}
}

// collect lists the series of a rewritten tree.
type collector struct {
	latest  map[string]bool
	windows map[string]time.Duration
	ages    map[string]bool
	callees map[ast.Node]bool
}

func (c *collector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		c.callees[n.Callee] = true
		c.args(n.Callee.(*ast.IdentifierNode).Value, n.Arguments)
	case *ast.BuiltinNode:
		c.args(n.Name, n.Arguments)
	}
}

func (c *collector) args(fn string, args []ast.Node) {
	if len(args) == 0 {
		return
	}
	s, ok := args[0].(*ast.StringNode)
	if !ok {
		return
	}
	switch {
	case fn == "age":
		c.ages[s.Value] = true
	case len(args) == 2 && isString(args[1]):
		d, _ := time.ParseDuration(args[1].(*ast.StringNode).Value)
		c.windows[s.Value] = max(c.windows[s.Value], d)
	}
}

// identifiers lists the identifiers that are not callees, after collect.
type identifiers struct {
	callees map[ast.Node]bool
	names   map[string]bool
}

func (v *identifiers) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.IdentifierNode); ok && !v.callees[n] {
		v.names[n.Value] = true
	}
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
	// Parsed with the rule functions declared and expr's builtins off, as
	// the compile below parses it: count(x, …) is then our count, not
	// expr's count over a predicate.
	pc := conf.CreateNew()
	for _, op := range append([]expr.Option{expr.DisableAllBuiltins()}, (&scope{}).functions()...) {
		op(pc)
	}
	for name := range pc.Disabled {
		delete(pc.Builtins, name)
	}
	tree, err := parser.ParseWithConfig(src, pc)
	if err != nil {
		return nil, exprErr(err)
	}
	rw := &rewriter{funcs: map[string]bool{}, src: src}
	ast.Walk(&tree.Node, rw)
	if rw.err != nil {
		return nil, rw.err
	}
	col := &collector{latest: map[string]bool{}, windows: map[string]time.Duration{}, ages: map[string]bool{}, callees: map[ast.Node]bool{}}
	ast.Walk(&tree.Node, col)
	ids := &identifiers{callees: col.callees, names: map[string]bool{}}
	ast.Walk(&tree.Node, ids)

	e := &Expr{Src: src, kind: kind, Windows: col.windows, sc: &scope{}, env: map[string]float64{}}
	for name := range ids.names {
		if slices.Contains(FuncNames, name) {
			continue
		}
		e.Latest = append(e.Latest, name)
		e.env[name] = 0
	}
	sort.Strings(e.Latest)
	for name := range col.ages {
		e.Ages = append(e.Ages, name)
	}
	sort.Strings(e.Ages)
	for name := range col.windows {
		if !reading.ValidName(name) {
			return nil, &ExprError{Line: 1, Col: 1, Msg: fmt.Sprintf("%q is not a series name", name)}
		}
	}
	for _, name := range append(slices.Clone(e.Latest), e.Ages...) {
		if !reading.ValidName(name) {
			return nil, &ExprError{Line: 1, Col: 1, Msg: fmt.Sprintf("%q is not a series name", name)}
		}
	}

	opts := []expr.Option{
		expr.Env(e.env), expr.Patch(&rewriter{funcs: map[string]bool{}, src: src}),
		expr.DisableAllBuiltins(), expr.MaxNodes(MaxExprNodes),
	}
	opts = append(opts, e.sc.functions()...)
	if kind == Bool {
		opts = append(opts, expr.AsBool())
	} else {
		opts = append(opts, expr.AsFloat64())
	}
	e.prog, err = expr.Compile(src, opts...)
	if err != nil {
		return nil, exprErr(err)
	}
	return e, nil
}

// exprErr converts expr's error (0-based column) to an ExprError.
func exprErr(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &ExprError{Line: max(fe.Line, 1), Col: fe.Column + 1, Msg: fe.Message}
	}
	return &ExprError{Line: 1, Col: 1, Msg: err.Error()}
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

// clockFlags are the flags a result inherits from its inputs.
const clockFlags = reading.ClockUnsynced | reading.ClockCorrected | reading.TimeImplausible

// Eval runs the expression at time at over src. ok is false when an input
// is missing or stale, a window is empty or incomplete, or the result is
// not a finite number; err reports an expression that failed otherwise.
func (e *Expr) eval(src source, at time.Time) (v float64, b bool, flags reading.Flags, ok bool, err error) {
	for _, name := range e.Latest {
		x, f, fresh := src.value(name, at)
		if !fresh {
			return 0, false, 0, false, nil
		}
		e.env[name] = x
		flags |= f
	}
	e.sc.src, e.sc.at, e.sc.missing, e.sc.flags = src, at, false, 0
	out, err := e.vm.Run(e.prog, e.env)
	e.sc.src = nil
	flags |= e.sc.flags
	flags &= clockFlags
	if e.sc.missing {
		return 0, false, 0, false, nil
	}
	if err != nil {
		return 0, false, 0, false, fmt.Errorf("%s: %w", e.Src, err)
	}
	switch x := out.(type) {
	case bool:
		return 0, x, flags, true, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false, 0, false, nil
		}
		return x, false, flags, true, nil
	}
	return 0, false, 0, false, fmt.Errorf("%s: result %T", e.Src, out)
}
