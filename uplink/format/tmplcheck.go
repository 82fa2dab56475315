package format

import (
	"fmt"
	"strings"
	"text/template/parse"
)

// The static check of a template, when the config loads: the sample run
// only sees the branches the sample batch takes, so a misspelt field under
// {{if .Dropped}} would otherwise first fail on a real batch, on a box
// nobody visits. The data model is fixed, so every field chain whose
// receiver is known (the batch, a reading, a time) is checked against
// what it has; where the type is not known (a variable assigned with =, a
// value from and/or) nothing is claimed.

// sType is a value's static type.
type sType uint8

const (
	sUnknown sType = iota
	sBatch
	sReading
	sReadings
	sTags
	sTime
	sString
	sOther // numbers, bools: no fields
)

func (t sType) String() string {
	switch t {
	case sBatch:
		return "the batch (fields: " + batchFields + ")"
	case sReading:
		return "a reading (fields: " + readingFields + ")"
	case sReadings:
		return ".Readings (a list: range over it, or index it)"
	case sTags:
		return "the tags"
	case sTime:
		return "time.Time (methods: " + timeMethods + ")"
	case sString:
		return "string"
	}
	return "a number or bool"
}

type sVar struct {
	name string
	typ  sType
}

type checker struct {
	tree     *parse.Tree
	vars     []sVar
	assigned map[string]bool // variables assigned with = anywhere: their type is not known
}

// checkError carries a check error up through panic, and tells the
// tests the node it is about.
type checkError struct {
	err error
	at  ranKey
}

func (e checkError) Error() string { return e.err.Error() }

// check finds field names and function arguments that cannot work on
// this data model, wherever they are in the template.
func (p *tmplProgram) check() (err error) {
	c := &checker{tree: p.tree, vars: []sVar{{"$", sBatch}}, assigned: map[string]bool{}}
	c.findAssigned(p.tree.Root)
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(checkError)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	c.list(sBatch, p.tree.Root)
	return nil
}

func (c *checker) errorf(n parse.Node, what, format string, args ...any) {
	loc, _ := c.tree.ErrorContext(n)
	panic(checkError{fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, args...)), ranKey{n.Position(), what}})
}

// findAssigned notes every variable a pipeline assigns with =.
func (c *checker) findAssigned(n parse.Node) {
	var pipe *parse.PipeNode
	var lists []*parse.ListNode
	switch n := n.(type) {
	case *parse.ListNode:
		lists = append(lists, n)
	case *parse.ActionNode:
		pipe = n.Pipe
	case *parse.IfNode:
		pipe, lists = n.Pipe, []*parse.ListNode{n.List, n.ElseList}
	case *parse.WithNode:
		pipe, lists = n.Pipe, []*parse.ListNode{n.List, n.ElseList}
	case *parse.RangeNode:
		pipe, lists = n.Pipe, []*parse.ListNode{n.List, n.ElseList}
	}
	if pipe != nil && pipe.IsAssign {
		for _, d := range pipe.Decl {
			c.assigned[d.Ident[0]] = true
		}
	}
	for _, l := range lists {
		if l != nil {
			for _, x := range l.Nodes {
				c.findAssigned(x)
			}
		}
	}
}

func (c *checker) list(dot sType, l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(dot, n)
	}
}

func (c *checker) node(dot sType, n parse.Node) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(dot, n.Pipe, nil)
	case *parse.IfNode:
		c.branch(dot, &n.BranchNode, false)
	case *parse.WithNode:
		c.branch(dot, &n.BranchNode, true)
	case *parse.RangeNode:
		c.rangeNode(dot, n)
	}
}

func (c *checker) branch(dot sType, b *parse.BranchNode, with bool) {
	mark := len(c.vars)
	t := c.pipe(dot, b.Pipe, nil)
	if with {
		c.list(t, b.List)
	} else {
		c.list(dot, b.List)
	}
	c.list(dot, b.ElseList)
	c.vars = c.vars[:mark]
}

func (c *checker) rangeNode(dot sType, r *parse.RangeNode) {
	mark := len(c.vars)
	var index, elem sType
	t := c.pipe(dot, r.Pipe, func(t sType) []sType {
		switch t {
		case sReadings:
			index, elem = sOther, sReading
		case sTags:
			index, elem = sString, sString
		case sOther:
			index, elem = sUnknown, sOther
		case sBatch, sReading, sTime, sString:
			c.errorf(r, "range", "range can't iterate over %s", t)
		}
		if len(r.Pipe.Decl) > 1 {
			return []sType{index, elem}
		}
		return []sType{elem}
	})
	_ = t
	c.list(elem, r.List)
	c.list(dot, r.ElseList)
	c.vars = c.vars[:mark]
}

// pipe checks a pipeline and declares its variables, typed by decl
// (range's) or else as the pipeline's value.
func (c *checker) pipe(dot sType, p *parse.PipeNode, decl func(sType) []sType) sType {
	if p == nil {
		return sUnknown
	}
	t := sUnknown
	for i, cmd := range p.Cmds {
		t = c.command(dot, cmd, i > 0)
	}
	types := []sType{t, t}
	if decl != nil {
		types = decl(t)
	}
	for i, d := range p.Decl {
		name := d.Ident[0]
		vt := types[min(i, len(types)-1)]
		if c.assigned[name] {
			vt = sUnknown
		}
		if !p.IsAssign {
			c.vars = append(c.vars, sVar{name, vt})
		}
	}
	return t
}

// command checks a command; piped: it gets the previous one's value.
func (c *checker) command(dot sType, cmd *parse.CommandNode, piped bool) sType {
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		return c.call(dot, id.Ident, cmd.Args[1:], piped) // a function with its arguments
	}
	return c.arg(dot, cmd.Args[0])
}

func (c *checker) variable(n *parse.VariableNode) sType {
	t := sUnknown
	for i := len(c.vars) - 1; i >= 0; i-- {
		if c.vars[i].name == n.Ident[0] {
			t = c.vars[i].typ
			break
		}
	}
	return c.fields(n, t, n.Ident[1:])
}

// arg is the static type of an argument.
func (c *checker) arg(dot sType, n parse.Node) sType {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		return c.fields(n, dot, n.Ident)
	case *parse.VariableNode:
		return c.variable(n)
	case *parse.ChainNode:
		return c.fields(n, c.arg(dot, n.Node), n.Field)
	case *parse.PipeNode:
		return c.pipe(dot, n, nil)
	case *parse.IdentifierNode:
		return c.call(dot, n.Ident, nil, false)
	case *parse.StringNode:
		return sString
	case *parse.NumberNode, *parse.BoolNode:
		return sOther
	}
	return sUnknown
}

// fields resolves a field chain on a receiver of type t.
func (c *checker) fields(n parse.Node, t sType, idents []string) sType {
	for _, id := range idents {
		t = c.field(n, t, id)
	}
	return t
}

func (c *checker) field(n parse.Node, t sType, name string) sType {
	switch t {
	case sUnknown:
		return sUnknown
	case sTags:
		return sString // a missing tag shows in the sample run, with the stream's tags
	case sBatch:
		switch name {
		case "Device", "Stream", "Aggregate":
			return sString
		case "FirstSeq", "LastSeq", "Dropped", "Thinned":
			return sOther
		case "Tags":
			return sTags
		case "Readings":
			return sReadings
		}
	case sReading:
		switch name {
		case "Name", "Unit":
			return sString
		case "Seq", "Value", "Flags":
			return sOther
		case "Time":
			return sTime
		}
	case sTime:
		switch {
		case name == "UTC":
			return sTime
		case name == "Format" || name == "String":
			return sString
		case strings.Contains(" "+timeMethods+" ", " "+name+" "):
			return sOther
		}
	}
	c.errorf(n, "field", "can't evaluate field %s in type %s", name, t)
	return sUnknown
}

// call checks a function's arguments where their types are known.
func (c *checker) call(dot sType, name string, args []parse.Node, piped bool) sType {
	types := make([]sType, len(args))
	for i, a := range args {
		types[i] = c.arg(dot, a)
	}
	want := sUnknown
	switch name {
	case "rfc3339ms", "unixms", "unixns":
		want = sTime
	case "sensor", "field":
		want = sString
	}
	for i, t := range types {
		if want != sUnknown && t != sUnknown && t != want {
			c.errorf(args[i], "arg", "%s takes a %s, not %s", name, map[sType]string{sTime: "time (.Time)", sString: "string"}[want], t)
		}
	}
	switch name {
	case "index":
		if piped || len(types) < 2 {
			return sUnknown
		}
		switch types[0] {
		case sReadings:
			if len(types) == 2 {
				return sReading
			}
		case sTags:
			if len(types) == 2 {
				return sString
			}
		}
		return sUnknown
	case "slice":
		if !piped && len(types) > 0 && (types[0] == sReadings || types[0] == sString) {
			return types[0]
		}
		return sUnknown
	case "and", "or":
		return sUnknown
	case "print", "printf", "println", "sensor", "field", "rfc3339ms", "json", "html", "js", "urlquery":
		return sString
	}
	return sOther // len, not, eq ..., unixms, unixns
}
