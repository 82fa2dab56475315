package format

// The template format's own executor over a text/template/parse tree.
//
// Why not text/template: its executor looks methods up by name at run time
// (reflect.Value.MethodByName), and one reachable MethodByName call makes
// the Go linker keep every exported method of every reachable type in the
// binary: about 1.2 MB of the armv6 release binary, which must stay under
// 12 MiB. The template format's data is fixed (a *Batch, its readings,
// tags and times), so this executor knows its fields and the few time
// methods by name, with a switch, and otherwise follows text/template's
// rules (truth, comparison, variables, range, printing), which the
// differential test checks against text/template itself.

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/karana-energy/karana-edge/reading"
)

// Bounds of one run; variables for the tests.
var (
	// tmplMaxOutput caps one batch's payload, as exec's stdout is capped.
	tmplMaxOutput = 64 << 20
	// tmplMaxSteps caps the nodes and range iterations of one run, so
	// that {{range .Seq}} on seq 10^12 fails the batch rather than spin.
	tmplMaxSteps = 50_000_000
)

// batchFields, readingFields and timeMethods are what a template can name.
var (
	batchFields   = "Device Stream FirstSeq LastSeq Dropped Thinned Aggregate Tags Readings"
	readingFields = "Seq Name Time Value Unit Flags"
	timeMethods   = "Unix UnixMilli UnixNano UTC Format String Year Month Day Hour Minute Second Nanosecond IsZero"
)

// tmplParam is what a function's parameter accepts.
type tmplParam uint8

const (
	pValue  tmplParam = iota // any value, nil too (text/template's reflect.Value)
	pAny                     // any value, nil too (interface{})
	pString                  // a string
	pTime                    // a time.Time
)

// tmplFunc is a function templates can call.
type tmplFunc struct {
	params   []tmplParam
	variadic bool // the last param repeats, zero or more times
	fn       func(args []any) (any, error)
}

var tmplFuncs map[string]*tmplFunc

func init() {
	one := func(p tmplParam, fn func(any) (any, error)) *tmplFunc {
		return &tmplFunc{params: []tmplParam{p}, fn: func(a []any) (any, error) { return fn(a[0]) }}
	}
	cmp := func(fn func(a, b any) (bool, error)) *tmplFunc {
		return &tmplFunc{params: []tmplParam{pValue, pValue}, fn: func(a []any) (any, error) { return fn(a[0], a[1]) }}
	}
	tmplFuncs = map[string]*tmplFunc{
		"and": {params: []tmplParam{pValue, pValue}, variadic: true}, // evaluated lazily, in call
		"or":  {params: []tmplParam{pValue, pValue}, variadic: true},
		"not": one(pValue, func(v any) (any, error) { t, _ := tmplTruth(v); return !t, nil }),
		"len": one(pValue, tmplLen),
		"index": {params: []tmplParam{pValue, pValue}, variadic: true, fn: func(a []any) (any, error) {
			return tmplIndex(a[0], a[1:])
		}},
		"slice": {params: []tmplParam{pValue, pValue}, variadic: true, fn: func(a []any) (any, error) {
			return tmplSlice(a[0], a[1:])
		}},
		"print":   {params: []tmplParam{pAny}, variadic: true, fn: func(a []any) (any, error) { return fmt.Sprint(a...), nil }},
		"println": {params: []tmplParam{pAny}, variadic: true, fn: func(a []any) (any, error) { return fmt.Sprintln(a...), nil }},
		"printf": {params: []tmplParam{pString, pAny}, variadic: true, fn: func(a []any) (any, error) {
			return fmt.Sprintf(a[0].(string), a[1:]...), nil
		}},
		"eq": {params: []tmplParam{pValue, pValue}, variadic: true, fn: func(a []any) (any, error) {
			return tmplEq(a[0], a[1:]...)
		}},
		"ne": cmp(func(a, b any) (bool, error) { t, err := tmplEq(a, b); return !t, err }),
		"lt": cmp(tmplLt),
		"le": cmp(tmplLe),
		"gt": cmp(func(a, b any) (bool, error) { t, err := tmplLe(a, b); return !t && err == nil, err }),
		"ge": cmp(func(a, b any) (bool, error) { t, err := tmplLt(a, b); return !t && err == nil, err }),
		"html": {params: []tmplParam{pAny}, variadic: true, fn: func(a []any) (any, error) {
			return tmplHTMLEscape(tmplArgString(a)), nil
		}},
		"js": {params: []tmplParam{pAny}, variadic: true, fn: func(a []any) (any, error) {
			return tmplJSEscape(tmplArgString(a)), nil
		}},
		"urlquery": {params: []tmplParam{pAny}, variadic: true, fn: func(a []any) (any, error) {
			return url.QueryEscape(tmplArgString(a)), nil
		}},
		"rfc3339ms": one(pTime, func(v any) (any, error) { return string(appendTimeMilli(nil, v.(time.Time))), nil }),
		"unixms":    one(pTime, func(v any) (any, error) { return v.(time.Time).UnixMilli(), nil }),
		"unixns":    one(pTime, func(v any) (any, error) { return v.(time.Time).UnixNano(), nil }),
		"json":      one(pAny, func(v any) (any, error) { return templateJSON(v) }),
		"sensor":    one(pString, func(v any) (any, error) { m, _ := splitSeries(v.(string)); return m, nil }),
		"field":     one(pString, func(v any) (any, error) { _, f := splitSeries(v.(string)); return f, nil }),
	}
}

// tmplParseFuncs is the function list text/template/parse checks names against.
func tmplParseFuncs() map[string]any {
	m := make(map[string]any, len(tmplFuncs))
	for name := range tmplFuncs {
		m[name] = true
	}
	return m
}

// tmplProgram is a parsed template.
type tmplProgram struct {
	tree *parse.Tree
}

// parseTemplate parses src with text/template's syntax and refuses what
// this executor does not run.
func parseTemplate(src string) (*tmplProgram, error) {
	trees, err := parse.Parse("template", src, "", "", tmplParseFuncs())
	if err != nil {
		return nil, err
	}
	tree := trees["template"]
	for name := range trees {
		if name != "template" {
			return nil, fmt.Errorf("template: {{define %q}} and {{block %q}} are not supported: write the text in place", name, name)
		}
	}
	if tree == nil || tree.Root == nil {
		return nil, errors.New("template: empty template")
	}
	if err := tmplRefuseTemplateNodes(tree, tree.Root); err != nil {
		return nil, err
	}
	return &tmplProgram{tree: tree}, nil
}

// tmplRefuseTemplateNodes finds {{template}} actions: no recursion.
func tmplRefuseTemplateNodes(tree *parse.Tree, n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := tmplRefuseTemplateNodes(tree, c); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("%s: {{template %q}} is not supported: write the text in place", loc, n.Name)
	case *parse.IfNode:
		return tmplRefuseBranch(tree, &n.BranchNode)
	case *parse.RangeNode:
		return tmplRefuseBranch(tree, &n.BranchNode)
	case *parse.WithNode:
		return tmplRefuseBranch(tree, &n.BranchNode)
	}
	return nil
}

func tmplRefuseBranch(tree *parse.Tree, b *parse.BranchNode) error {
	if err := tmplRefuseTemplateNodes(tree, b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return tmplRefuseTemplateNodes(tree, b.ElseList)
	}
	return nil
}

// execute runs the template on b into out.
func (p *tmplProgram) execute(out *bytes.Buffer, b *Batch) (err error) {
	return p.run(out, b, nil)
}

func (p *tmplProgram) run(out *bytes.Buffer, b *Batch, ran map[ranKey]bool) (err error) {
	s := &tmplState{tree: p.tree, out: out, vars: []tmplVar{{"$", b}}, ran: ran}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(tmplError)
			if !ok {
				panic(r)
			}
			err = e.err
		}
	}()
	s.walk(b, p.tree.Root)
	return nil
}

// tmplError carries an execution error up through panic, like text/template.
type tmplError struct{ err error }

type tmplVar struct {
	name string
	val  any
}

type tmplState struct {
	tree  *parse.Tree
	out   *bytes.Buffer
	vars  []tmplVar
	node  parse.Node // for error positions
	steps int
	// ran, when not nil, records the nodes evaluated without error (a
	// test's proof that the static check refused only what could not run)
	ran map[ranKey]bool
	// scratch formats numbers
	scratch [24]byte
}

// ranKey is a node and what was done with it: "field" (its chain
// evaluated), "arg" (passed as an argument), "range" (iterated over).
type ranKey struct {
	pos  parse.Pos
	what string
}

func (s *tmplState) done(n parse.Node, what string) {
	if s.ran != nil {
		s.ran[ranKey{n.Position(), what}] = true
	}
}

// tmplMissing marks "no final value from the pipeline" (not nil, which is a value).
type tmplMissingT struct{}

var tmplMissing any = tmplMissingT{}

func (s *tmplState) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.node == nil {
		panic(tmplError{fmt.Errorf("template: %s", msg)})
	}
	loc, context := s.tree.ErrorContext(s.node)
	panic(tmplError{fmt.Errorf("%s: executing \"template\" at <%s>: %s", loc, context, msg)})
}

func (s *tmplState) at(n parse.Node) { s.node = n }

func (s *tmplState) step() {
	s.steps++
	if s.steps > tmplMaxSteps {
		s.errorf("more than %d steps: a range over a huge number?", tmplMaxSteps)
	}
}

type tmplControl uint8

const (
	ctlNone tmplControl = iota
	ctlBreak
	ctlContinue
)

func (s *tmplState) walk(dot any, n parse.Node) tmplControl {
	s.at(n)
	s.step()
	switch n := n.(type) {
	case *parse.ActionNode:
		v := s.evalPipeline(dot, n.Pipe)
		if len(n.Pipe.Decl) == 0 {
			s.print(n, v)
		}
	case *parse.BreakNode:
		return ctlBreak
	case *parse.ContinueNode:
		return ctlContinue
	case *parse.CommentNode:
	case *parse.IfNode:
		return s.walkIfOrWith(false, dot, &n.BranchNode)
	case *parse.WithNode:
		return s.walkIfOrWith(true, dot, &n.BranchNode)
	case *parse.ListNode:
		if n == nil {
			return ctlNone
		}
		for _, c := range n.Nodes {
			if ctl := s.walk(dot, c); ctl != ctlNone {
				return ctl
			}
		}
	case *parse.RangeNode:
		s.walkRange(dot, n)
	case *parse.TextNode:
		s.write(n.Text)
	default:
		s.errorf("unsupported node %s", n)
	}
	return ctlNone
}

func (s *tmplState) write(b []byte) {
	if s.out.Len()+len(b) > tmplMaxOutput {
		s.errorf("output larger than %d MiB", tmplMaxOutput>>20)
	}
	s.out.Write(b)
}

func (s *tmplState) writeString(str string) {
	if s.out.Len()+len(str) > tmplMaxOutput {
		s.errorf("output larger than %d MiB", tmplMaxOutput>>20)
	}
	s.out.WriteString(str)
}

// print writes v as text/template prints an action's value.
func (s *tmplState) print(n parse.Node, v any) {
	s.at(n)
	switch x := v.(type) {
	case nil:
		s.writeString("<no value>")
		return
	case string: // the common cases without fmt, which prints them alike
		s.writeString(x)
		return
	case int:
		s.write(strconv.AppendInt(s.scratch[:0], int64(x), 10))
		return
	case int64:
		s.write(strconv.AppendInt(s.scratch[:0], x, 10))
		return
	case uint64:
		s.write(strconv.AppendUint(s.scratch[:0], x, 10))
		return
	case *Batch:
		v = *x
	}
	var buf bytes.Buffer
	fmt.Fprint(&buf, v)
	s.write(buf.Bytes())
}

func (s *tmplState) mark() int { return len(s.vars) }

func (s *tmplState) pop(mark int) { s.vars = s.vars[:mark] }

func (s *tmplState) setVar(name string, v any) {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].val = v
			return
		}
	}
	s.errorf("undefined variable: %s", name)
}

func (s *tmplState) varValue(name string) any {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			return s.vars[i].val
		}
	}
	s.errorf("undefined variable: %s", name)
	return nil
}

func (s *tmplState) walkIfOrWith(with bool, dot any, b *parse.BranchNode) tmplControl {
	defer s.pop(s.mark())
	v := s.evalPipeline(dot, b.Pipe)
	truth, ok := tmplTruth(v)
	if !ok {
		s.at(b.Pipe)
		s.errorf("if/with can't use %v", v)
	}
	if truth {
		if with {
			return s.walk(v, b.List)
		}
		return s.walk(dot, b.List)
	}
	if b.ElseList != nil {
		return s.walk(dot, b.ElseList)
	}
	return ctlNone
}

func (s *tmplState) walkRange(dot any, r *parse.RangeNode) {
	s.at(r)
	defer s.pop(s.mark())
	val := s.evalPipeline(dot, r.Pipe)
	mark := s.mark()
	// one runs the body once; false: stop (break)
	one := func(index, elem any) bool {
		s.step()
		s.setRangeVars(r.Pipe, index, elem)
		defer s.pop(mark)
		return s.walk(elem, r.List) != ctlBreak
	}
	ran := false
	switch val.(type) {
	case []reading.Reading, map[string]string, nil:
		s.done(r, "range")
	default:
		if _, _, ok := tmplIntRange(val); ok {
			s.done(r, "range")
		}
	}
	switch v := val.(type) {
	case []reading.Reading:
		for i := range v {
			ran = true
			if !one(i, v[i]) {
				break
			}
		}
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ran = true
			if !one(k, v[k]) {
				break
			}
		}
	case nil:
	default:
		n, mk, ok := tmplIntRange(v)
		if !ok {
			s.errorf("range can't iterate over %v", val)
		}
		if len(r.Pipe.Decl) > 1 {
			s.errorf("can't use %v to iterate over more than one variable", val)
		}
		for i := uint64(0); i < n; i++ {
			ran = true
			if !one(nil, mk(i)) {
				break
			}
		}
	}
	if !ran && r.ElseList != nil {
		s.walk(dot, r.ElseList)
	}
}

// tmplIntRange is range over an integer: n iterations, each with a
// value of v's own type (as reflect.Value.Seq gives).
func tmplIntRange(v any) (uint64, func(uint64) any, bool) {
	pos := func(x int64) uint64 { return uint64(max(x, 0)) }
	switch x := v.(type) {
	case int:
		return pos(int64(x)), func(i uint64) any { return int(i) }, true
	case int64:
		return pos(x), func(i uint64) any { return int64(i) }, true
	case time.Month:
		return pos(int64(x)), func(i uint64) any { return time.Month(i) }, true
	case uint64:
		return x, func(i uint64) any { return i }, true
	case uint8:
		return uint64(x), func(i uint64) any { return uint8(i) }, true
	case reading.Flags:
		return uint64(x), func(i uint64) any { return reading.Flags(i) }, true
	}
	return 0, nil, false
}

func (s *tmplState) setRangeVars(p *parse.PipeNode, index, elem any) {
	switch {
	case len(p.Decl) == 0:
	case p.IsAssign && len(p.Decl) > 1:
		s.setVar(p.Decl[0].Ident[0], index)
		s.setVar(p.Decl[1].Ident[0], elem)
	case p.IsAssign:
		s.setVar(p.Decl[0].Ident[0], elem)
	default: // declared: the pipeline pushed them, elem on top
		s.vars[len(s.vars)-1].val = elem
		if len(p.Decl) > 1 {
			s.vars[len(s.vars)-2].val = index
		}
	}
}

func (s *tmplState) evalPipeline(dot any, p *parse.PipeNode) any {
	if p == nil {
		return nil
	}
	s.at(p)
	v := tmplMissing
	for _, c := range p.Cmds {
		v = s.evalCommand(dot, c, v)
	}
	for _, d := range p.Decl {
		if p.IsAssign {
			s.setVar(d.Ident[0], v)
		} else {
			s.vars = append(s.vars, tmplVar{d.Ident[0], v})
		}
	}
	return v
}

func (s *tmplState) notAFunction(args []parse.Node, final any) {
	if len(args) > 1 || final != tmplMissing {
		s.errorf("can't give argument to non-function %s", args[0])
	}
}

func (s *tmplState) evalCommand(dot any, c *parse.CommandNode, final any) any {
	first := c.Args[0]
	switch n := first.(type) {
	case *parse.FieldNode:
		return s.evalFieldChain(dot, dot, n, n.Ident, c.Args, final)
	case *parse.ChainNode:
		return s.evalChain(dot, n, c.Args, final)
	case *parse.IdentifierNode:
		return s.evalFunction(dot, n, c.Args, final)
	case *parse.PipeNode:
		s.notAFunction(c.Args, final)
		return s.evalPipeline(dot, n)
	case *parse.VariableNode:
		return s.evalVariable(dot, n, c.Args, final)
	}
	s.at(first)
	s.notAFunction(c.Args, final)
	switch n := first.(type) {
	case *parse.BoolNode:
		return n.True
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		s.errorf("nil is not a command")
	case *parse.NumberNode:
		return s.constant(n)
	case *parse.StringNode:
		return n.Text
	}
	s.errorf("can't evaluate command %q", first)
	return nil
}

// constant is a number literal's value where no type asks for one, as
// text/template types it: complex, float (with . e p), else int.
func (s *tmplState) constant(n *parse.NumberNode) any {
	s.at(n)
	hexInt := len(n.Text) > 2 && n.Text[0] == '0' && (n.Text[1] == 'x' || n.Text[1] == 'X') && !strings.ContainsAny(n.Text, "pP")
	switch {
	case n.IsComplex:
		return n.Complex128
	case n.IsFloat && !hexInt && n.Text[0] != '\'' && strings.ContainsAny(n.Text, ".eEpP"):
		return n.Float64
	case n.IsInt:
		return int(n.Int64)
	case n.IsUint:
		s.errorf("%s overflows int", n.Text)
	}
	return nil
}

func (s *tmplState) evalVariable(dot any, v *parse.VariableNode, args []parse.Node, final any) any {
	s.at(v)
	val := s.varValue(v.Ident[0])
	if len(v.Ident) == 1 {
		s.notAFunction(args, final)
		return val
	}
	return s.evalFieldChain(dot, val, v, v.Ident[1:], args, final)
}

func (s *tmplState) evalChain(dot any, c *parse.ChainNode, args []parse.Node, final any) any {
	if len(c.Field) == 0 {
		s.errorf("internal error: no fields in evalChain")
	}
	if _, ok := c.Node.(*parse.NilNode); ok {
		s.errorf("indirection through explicit nil in %s", c)
	}
	recv := s.evalArg(dot, pValue, c.Node)
	return s.evalFieldChain(dot, recv, c, c.Field, args, final)
}

func (s *tmplState) evalFieldChain(dot, recv any, n parse.Node, idents []string, args []parse.Node, final any) any {
	for i, id := range idents {
		s.at(n)
		if i < len(idents)-1 {
			recv = s.evalField(dot, id, n, nil, tmplMissing, recv)
		} else {
			recv = s.evalField(dot, id, n, args, final, recv)
		}
	}
	s.done(n, "field")
	return recv
}

// evalField is recv.name, with args (args[0] is the field itself) and
// final for the time methods that take one.
func (s *tmplState) evalField(dot any, name string, n parse.Node, args []parse.Node, final, recv any) any {
	hasArgs := len(args) > 1 || final != tmplMissing
	switch r := recv.(type) {
	case time.Time:
		return s.timeMethod(dot, r, name, n, args, final)
	case map[string]string:
		if hasArgs {
			s.errorf("%s is not a method but has arguments", name)
		}
		v, ok := r[name]
		if !ok {
			s.errorf("map has no entry for key %q", name)
		}
		return v
	case nil:
		s.errorf("nil data; no entry for key %q", name)
	}
	v, ok := tmplStructField(recv, name)
	if !ok {
		s.errorf("can't evaluate field %s in type %s", name, tmplTypeName(recv))
	}
	if hasArgs {
		s.errorf("%s has arguments but cannot be invoked as function", name)
	}
	return v
}

// tmplStructField is a field of the batch or of a reading.
func tmplStructField(recv any, name string) (any, bool) {
	switch r := recv.(type) {
	case *Batch:
		switch name {
		case "Device":
			return r.Device, true
		case "Stream":
			return r.Stream, true
		case "FirstSeq":
			return r.FirstSeq, true
		case "LastSeq":
			return r.LastSeq, true
		case "Dropped":
			return r.Dropped, true
		case "Thinned":
			return r.Thinned, true
		case "Aggregate":
			return r.Aggregate, true
		case "Tags":
			return r.Tags, true
		case "Readings":
			return r.Readings, true
		}
	case reading.Reading:
		switch name {
		case "Seq":
			return r.Seq, true
		case "Name":
			return r.Name, true
		case "Time":
			return r.Time, true
		case "Value":
			return r.Value, true
		case "Unit":
			return r.Unit, true
		case "Flags":
			return r.Flags, true
		}
	}
	return nil, false
}

// tmplTypeName names a value's type for errors, with the names a
// template can use on it.
func tmplTypeName(v any) string {
	switch v.(type) {
	case *Batch:
		return "the batch (fields: " + batchFields + ")"
	case reading.Reading:
		return "a reading (fields: " + readingFields + ")"
	}
	return fmt.Sprintf("%T", v)
}

// timeMethod calls one of the documented methods of time.Time.
func (s *tmplState) timeMethod(dot any, t time.Time, name string, n parse.Node, args []parse.Node, final any) any {
	var params []tmplParam
	if name == "Format" {
		params = []tmplParam{pString}
	}
	if !strings.Contains(" "+timeMethods+" ", " "+name+" ") {
		s.errorf("can't evaluate field %s in type time.Time (methods: %s)", name, timeMethods)
	}
	argv := s.evalArgs(dot, &tmplFunc{params: params}, name, args, final)
	switch name {
	case "Unix":
		return t.Unix()
	case "UnixMilli":
		return t.UnixMilli()
	case "UnixNano":
		return t.UnixNano()
	case "UTC":
		return t.UTC()
	case "Format":
		return t.Format(argv[0].(string))
	case "String":
		return t.String()
	case "Year":
		return t.Year()
	case "Month":
		return t.Month()
	case "Day":
		return t.Day()
	case "Hour":
		return t.Hour()
	case "Minute":
		return t.Minute()
	case "Second":
		return t.Second()
	case "Nanosecond":
		return t.Nanosecond()
	}
	return t.IsZero()
}

func (s *tmplState) evalFunction(dot any, id *parse.IdentifierNode, args []parse.Node, final any) any {
	s.at(id)
	f, ok := tmplFuncs[id.Ident]
	if !ok {
		s.errorf("%q is not a defined function", id.Ident)
	}
	if id.Ident == "and" || id.Ident == "or" {
		return s.evalAndOr(dot, id.Ident == "or", args, final)
	}
	argv := s.evalArgs(dot, f, id.Ident, args, final)
	v, err := f.fn(argv)
	if err != nil {
		s.at(id)
		s.errorf("error calling %s: %v", id.Ident, err)
	}
	return v
}

// evalAndOr short-circuits: the first argument that decides, or the last.
func (s *tmplState) evalAndOr(dot any, or bool, args []parse.Node, final any) any {
	n := len(args) - 1
	if final != tmplMissing {
		n++
	}
	if n < 1 {
		s.errorf("wrong number of args for %s: want at least 1 got %d", args[0], n)
	}
	var v any
	for _, a := range args[1:] {
		v = s.evalArg(dot, pValue, a)
		if t, _ := tmplTruth(v); t == or {
			return v
		}
	}
	if final != tmplMissing {
		v = s.checkType(final, pValue)
	}
	return v
}

// evalArgs evaluates a call's arguments (args[0] names the callee) and
// the pipeline's final value against f's params.
func (s *tmplState) evalArgs(dot any, f *tmplFunc, name string, args []parse.Node, final any) []any {
	if args != nil {
		args = args[1:]
	}
	numIn := len(args)
	if final != tmplMissing {
		numIn++
	}
	numFixed := len(f.params)
	if f.variadic {
		numFixed--
		if numIn < numFixed {
			s.errorf("wrong number of args for %s: want at least %d got %d", name, numFixed, len(args))
		}
	} else if numIn != len(f.params) {
		s.errorf("wrong number of args for %s: want %d got %d", name, len(f.params), numIn)
	}
	param := func(i int) tmplParam {
		if i >= len(f.params) {
			return f.params[len(f.params)-1]
		}
		return f.params[i]
	}
	argv := make([]any, numIn)
	for i, a := range args {
		argv[i] = s.evalArg(dot, param(i), a)
		s.done(a, "arg")
	}
	if final != tmplMissing {
		argv[numIn-1] = s.checkType(final, param(numIn-1))
	}
	return argv
}

// evalArg is one argument for a parameter of kind p.
func (s *tmplState) evalArg(dot any, p tmplParam, n parse.Node) any {
	s.at(n)
	switch a := n.(type) {
	case *parse.DotNode:
		return s.checkType(dot, p)
	case *parse.NilNode:
		if p == pAny || p == pValue {
			return nil
		}
		s.errorf("cannot assign nil to %s", p)
	case *parse.FieldNode:
		return s.checkType(s.evalFieldChain(dot, dot, a, a.Ident, []parse.Node{n}, tmplMissing), p)
	case *parse.VariableNode:
		return s.checkType(s.evalVariable(dot, a, nil, tmplMissing), p)
	case *parse.PipeNode:
		return s.checkType(s.evalPipeline(dot, a), p)
	case *parse.IdentifierNode:
		return s.checkType(s.evalFunction(dot, a, []parse.Node{a}, tmplMissing), p)
	case *parse.ChainNode:
		return s.checkType(s.evalChain(dot, a, nil, tmplMissing), p)
	}
	switch p {
	case pString:
		if str, ok := n.(*parse.StringNode); ok {
			return str.Text
		}
		s.errorf("expected string; found %s", n)
	case pTime:
		s.errorf("can't handle %s for arg of type time.Time", n)
	}
	switch a := n.(type) {
	case *parse.BoolNode:
		return a.True
	case *parse.NumberNode:
		return s.constant(a)
	case *parse.StringNode:
		return a.Text
	}
	s.errorf("can't handle assignment of %s to empty interface argument", n)
	return nil
}

func (p tmplParam) String() string {
	switch p {
	case pString:
		return "string"
	case pTime:
		return "time.Time"
	case pAny:
		return "interface {}"
	}
	return "reflect.Value"
}

// checkType checks a computed value against a parameter.
func (s *tmplState) checkType(v any, p tmplParam) any {
	ok := true
	switch p {
	case pString:
		_, ok = v.(string)
	case pTime:
		_, ok = v.(time.Time)
	}
	if !ok {
		if v == nil {
			s.errorf("invalid value; expected %s", p)
		}
		s.errorf("wrong type for value; expected %s; got %T", p, v)
	}
	return v
}

// tmplTruth is text/template's truth: a value is true unless it is its
// type's zero (structs such as time.Time and readings are always true).
func tmplTruth(v any) (truth, ok bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case bool:
		return x, true
	case string:
		return x != "", true
	case []reading.Reading:
		return len(x) > 0, true
	case map[string]string:
		return len(x) > 0, true
	case *Batch:
		return x != nil, true
	case time.Time, reading.Reading:
		return true, true
	case complex128:
		return x != 0, true
	case float64:
		return x != 0, true
	}
	k, i, u, _ := tmplNumber(v)
	switch k {
	case kInt:
		return i != 0, true
	case kUint:
		return u != 0, true
	}
	return false, false
}

// Kinds for comparison, as text/template's basicKind.
const (
	kInvalid = iota
	kBool
	kComplex
	kInt
	kFloat
	kString
	kUint
)

// tmplNumber gives v's comparison kind and its value in that kind.
func tmplNumber(v any) (kind int, i int64, u uint64, f float64) {
	switch x := v.(type) {
	case int:
		return kInt, int64(x), 0, 0
	case int64:
		return kInt, x, 0, 0
	case time.Month:
		return kInt, int64(x), 0, 0
	case uint64:
		return kUint, 0, x, 0
	case uint8:
		return kUint, 0, uint64(x), 0
	case reading.Flags:
		return kUint, 0, uint64(x), 0
	case float64:
		return kFloat, 0, 0, x
	case bool:
		return kBool, 0, 0, 0
	case complex128:
		return kComplex, 0, 0, 0
	case string:
		return kString, 0, 0, 0
	}
	return kInvalid, 0, 0, 0
}

var errBadComparison = errors.New("incompatible types for comparison")

func tmplEq(a any, bs ...any) (bool, error) {
	if len(bs) == 0 {
		return false, errors.New("missing argument for comparison")
	}
	k1, i1, u1, f1 := tmplNumber(a)
	for _, b := range bs {
		k2, i2, u2, f2 := tmplNumber(b)
		truth := false
		switch {
		case k1 == kInt && k2 == kUint:
			truth = i1 >= 0 && uint64(i1) == u2
		case k1 == kUint && k2 == kInt:
			truth = i2 >= 0 && u1 == uint64(i2)
		case k1 != k2 && a != nil && b != nil:
			return false, errBadComparison
		case k1 != k2:
		case k1 == kInt:
			truth = i1 == i2
		case k1 == kUint:
			truth = u1 == u2
		case k1 == kFloat:
			truth = f1 == f2
		case k1 == kBool || k1 == kString || k1 == kComplex:
			truth = a == b
		default:
			t, err := tmplEqOther(a, b)
			if err != nil {
				return false, err
			}
			truth = t
		}
		if truth {
			return true, nil
		}
	}
	return false, nil
}

// tmplEqOther compares non-basic values as text/template does: by
// reflect kind (pointer, struct, slice, map), nil equal only to nil,
// slices and maps not at all otherwise.
func tmplEqOther(a, b any) (bool, error) {
	ka, kb := tmplKind(a), tmplKind(b)
	if ka != kb && a != nil && b != nil {
		return false, fmt.Errorf("non-comparable types %T, %T", a, b)
	}
	if an, bn := tmplIsNil(a), tmplIsNil(b); an || bn {
		return an == bn, nil
	}
	if kb == "slice" || kb == "map" {
		return false, fmt.Errorf("non-comparable type %T", b)
	}
	return a == b, nil
}

func tmplKind(v any) string {
	switch v.(type) {
	case *Batch:
		return "ptr"
	case []reading.Reading:
		return "slice"
	case map[string]string:
		return "map"
	case nil:
		return "invalid"
	}
	return "struct"
}

func tmplIsNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case *Batch:
		return x == nil
	case []reading.Reading:
		return x == nil
	case map[string]string:
		return x == nil
	}
	return false
}

func tmplLt(a, b any) (bool, error) {
	k1, i1, u1, f1 := tmplNumber(a)
	k2, i2, u2, f2 := tmplNumber(b)
	if k1 == kInvalid || k2 == kInvalid {
		return false, errors.New("invalid type for comparison")
	}
	switch {
	case k1 == kInt && k2 == kUint:
		return i1 < 0 || uint64(i1) < u2, nil
	case k1 == kUint && k2 == kInt:
		return i2 >= 0 && u1 < uint64(i2), nil
	case k1 != k2:
		return false, errBadComparison
	case k1 == kBool || k1 == kComplex:
		return false, errors.New("invalid type for comparison")
	case k1 == kInt:
		return i1 < i2, nil
	case k1 == kUint:
		return u1 < u2, nil
	case k1 == kFloat:
		return f1 < f2, nil
	}
	return a.(string) < b.(string), nil
}

func tmplLe(a, b any) (bool, error) {
	lt, err := tmplLt(a, b)
	if lt || err != nil {
		return lt, err
	}
	return tmplEq(a, b)
}

func tmplLen(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return len(x), nil
	case []reading.Reading:
		return len(x), nil
	case map[string]string:
		return len(x), nil
	}
	return nil, fmt.Errorf("len of type %T", v)
}

// tmplIndexArg is an integer index below n.
func tmplIndexArg(v any, n int) (int, error) {
	k, i, u, _ := tmplNumber(v)
	switch k {
	case kInt:
	case kUint:
		i = int64(u)
	default:
		return 0, fmt.Errorf("cannot index slice/array with type %T", v)
	}
	if i < 0 || int(i) < 0 || int(i) > n {
		return 0, fmt.Errorf("index out of range: %d", i)
	}
	return int(i), nil
}

func tmplIndex(item any, idx []any) (any, error) {
	if item == nil {
		return nil, errors.New("index of untyped nil")
	}
	for _, ix := range idx {
		switch x := item.(type) {
		case []reading.Reading:
			i, err := tmplIndexArg(ix, len(x))
			if err == nil && i == len(x) {
				err = fmt.Errorf("index out of range: %d", i)
			}
			if err != nil {
				return nil, err
			}
			item = x[i]
		case string:
			i, err := tmplIndexArg(ix, len(x))
			if err == nil && i == len(x) {
				err = fmt.Errorf("index out of range: %d", i)
			}
			if err != nil {
				return nil, err
			}
			item = x[i]
		case map[string]string:
			k, ok := ix.(string)
			if !ok {
				return nil, fmt.Errorf("value has type %T; should be string", ix)
			}
			item = x[k]
		default:
			return nil, fmt.Errorf("can't index item of type %T", item)
		}
	}
	return item, nil
}

func tmplSlice(item any, idx []any) (any, error) {
	if len(idx) > 3 {
		return nil, fmt.Errorf("too many slice indexes: %d", len(idx))
	}
	var n, c int
	switch x := item.(type) {
	case string:
		if len(idx) == 3 {
			return nil, errors.New("cannot 3-index slice a string")
		}
		n, c = len(x), len(x)
	case []reading.Reading:
		n, c = len(x), cap(x)
	default:
		return nil, fmt.Errorf("can't slice item of type %T", item)
	}
	ix := [3]int{0, n, c}
	for i, v := range idx {
		x, err := tmplIndexArg(v, c)
		if err != nil {
			return nil, err
		}
		ix[i] = x
	}
	if ix[0] > ix[1] {
		return nil, fmt.Errorf("invalid slice index: %d > %d", ix[0], ix[1])
	}
	if len(idx) == 3 && ix[1] > ix[2] {
		return nil, fmt.Errorf("invalid slice index: %d > %d", ix[1], ix[2])
	}
	if str, ok := item.(string); ok {
		return str[ix[0]:ix[1]], nil
	}
	rs := item.([]reading.Reading)
	if len(idx) == 3 {
		return rs[ix[0]:ix[1]:ix[2]], nil
	}
	return rs[ix[0]:ix[1]], nil
}

// tmplArgString is html's and urlquery's text: a single string as is,
// else the args printed as print does.
func tmplArgString(args []any) string {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s
		}
	}
	for i, a := range args {
		switch x := a.(type) {
		case *Batch:
			args[i] = *x
		case nil:
			args[i] = "<no value>"
		}
	}
	return fmt.Sprint(args...)
}

// tmplHTMLEscape escapes as text/template's html function, byte by byte.
func tmplHTMLEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case 0:
			b.WriteString("\uFFFD")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// tmplJSEscape escapes as text/template's js function: quotes, backslash,
// < > & = and control bytes as JavaScript escapes, unprintable runes as \uXXXX.
func tmplJSEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if unicode.IsPrint(r) {
				b.WriteString(s[i : i+size])
			} else {
				fmt.Fprintf(&b, "\\u%04X", r)
			}
			i += size - 1
			continue
		}
		switch c {
		case '\\', '\'', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '<', '>', '&', '=':
			fmt.Fprintf(&b, "\\u%04X", c)
		default:
			if c < ' ' {
				fmt.Fprintf(&b, "\\u%04X", c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}
