package config

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/BurntSushi/toml"
)

// Doc is one parsed TOML file being decoded, section by section, into the
// structs that each package owns. It collects every mistake with its
// position instead of stopping at the first, so a technician fixes the file
// in one pass.
//
// Why not plain toml.Decode: BurntSushi stops at the first type error,
// reports positions only for keys without array index (every [[sensor]]
// shares one "sensor.interval"), matches struct fields case-insensitively,
// and its Undecoded() cannot tell which [[sensor]] a key belongs to. Doc
// decodes each key on its own (via toml.Primitive) into the field its tag
// names, so every error belongs to exactly one key and KeyIndex gives that
// key's line and column.
type Doc struct {
	File string
	md   toml.MetaData
	keys *KeyIndex
	errs Errors
	// failed marks key paths whose value could not be decoded: a later
	// validation error on the same key (about the default left in place)
	// would only confuse.
	failed map[string]bool
	warns  Errors
	src    []byte // the file, for ValuePos
}

// Parse parses data, read from file (used in messages), and returns the
// document and its root table. A syntax error is returned as Errors holding
// one Error with the parser's position; nothing is decoded then.
func Parse(file string, data []byte) (*Doc, *Table, error) {
	// The decoder's cost grows with the square of the nesting: refuse
	// depth first (keypos.go).
	if err := CheckDepth(file, data, MaxDepth); err != nil {
		return nil, nil, err
	}
	var root map[string]toml.Primitive
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&root)
	if err != nil {
		e := &Error{File: file, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			e.Line, e.Col, e.Msg = pe.Position.Line, pe.Position.Col, "syntax error: "+pe.Message
		}
		return nil, nil, Errors{e}
	}
	d := &Doc{File: file, md: md, keys: ScanKeys(data), failed: map[string]bool{}, src: data}
	return d, &Table{doc: d, keys: root}, nil
}

// Pos returns where path, or its nearest written ancestor, is in the file.
func (d *Doc) Pos(path string) Pos { return d.keys.Find(path) }

// Keys is the file's key index.
func (d *Doc) Keys() *KeyIndex { return d.keys }

func (d *Doc) at(path, msg string) *Error {
	p := d.keys.Find(path)
	return &Error{File: d.File, Line: p.Line, Col: p.Col, Key: path, Msg: msg}
}

// Errorf records an error about the key at path (a full path such as
// "sensor[1].interval"; "" for the file as a whole).
func (d *Doc) Errorf(path, format string, args ...any) {
	d.errs = append(d.errs, d.at(path, fmt.Sprintf(format, args...)))
}

// Warnf records a warning: something that loads but is probably not meant.
func (d *Doc) Warnf(path, format string, args ...any) {
	d.warns = append(d.warns, d.at(path, fmt.Sprintf(format, args...)))
}

// Fail records err, returned by a section's Validate or a driver's
// constructor, against the table at path. FieldError keys are relative to
// that table; any other error is reported at the table itself. Errors on a
// key whose value already failed to decode are dropped.
func (d *Doc) Fail(path string, err error) {
	if err == nil {
		return
	}
	var list FieldErrors
	var one *FieldError
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = FieldErrors{one}
	default:
		d.Errorf(path, "%s", err.Error())
		return
	}
	for _, fe := range list {
		key := path
		if fe.Key != "" {
			key = joinPath(path, fe.Key)
		}
		if d.failed[key] {
			continue
		}
		d.errs = append(d.errs, d.at(key, fe.Msg))
	}
}

// joinPath appends a relative path that is already in key-path syntax
// ("match[1]", "calibration.gain").
func joinPath(parent, rel string) string {
	if parent == "" {
		return rel
	}
	if rel != "" && rel[0] == '[' {
		return parent + rel
	}
	return parent + "." + rel
}

// Err returns every error recorded, sorted by position, or nil.
func (d *Doc) Err() error {
	d.errs.Sort()
	return d.errs.Err()
}

// Warnings returns the recorded warnings, formatted like errors and sorted.
func (d *Doc) Warnings() []string {
	d.warns.Sort()
	out := make([]string, len(d.warns))
	for i, w := range d.warns {
		out[i] = w.Error()
	}
	return out
}

// Table is one TOML table of a Doc: a section, one [[sensor]], an inline
// table. Its keys are decoded on demand.
type Table struct {
	doc  *Doc
	Path string // "" for the root, "buffer", "sensor[2]"
	keys map[string]toml.Primitive
}

// Doc returns the document the table belongs to.
func (t *Table) Doc() *Doc { return t.doc }

// Keys lists the table's keys in file order.
func (t *Table) Keys() []string {
	type at struct {
		key string
		pos Pos
	}
	list := make([]at, 0, len(t.keys))
	for k := range t.keys {
		list = append(list, at{k, t.doc.keys.Find(t.KeyPath(k))}) // once per key, not per comparison
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i].pos, list[j].pos
		if a != b {
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		}
		return list[i].key < list[j].key
	})
	keys := make([]string, len(list))
	for i, e := range list {
		keys[i] = e.key
	}
	return keys
}

// Has reports whether key is written in the table.
func (t *Table) Has(key string) bool {
	_, ok := t.keys[key]
	return ok
}

// KeyPath is the full path of key in this table.
func (t *Table) KeyPath(key string) string { return JoinKey(t.Path, key) }

// Value returns key's raw value as BurntSushi decodes it into an any
// (string, int64, float64, bool, time types, []any, map[string]any,
// []map[string]any), or nil when the key is absent.
func (t *Table) Value(key string) any {
	p, ok := t.keys[key]
	if !ok {
		return nil
	}
	var v any
	if err := t.doc.md.PrimitiveDecode(p, &v); err != nil {
		return nil
	}
	return v
}

// String returns key's value when it is a string.
func (t *Table) String(key string) (string, bool) {
	s, ok := t.Value(key).(string)
	return s, ok
}

// Table returns the sub-table under key, or nil when key is absent. A value
// that is not a table is recorded as an error and nil returned.
func (t *Table) Table(key string) *Table {
	p, ok := t.keys[key]
	if !ok {
		return nil
	}
	path := t.KeyPath(key)
	if _, isMap := t.Value(key).(map[string]any); !isMap {
		t.doc.failed[path] = true
		t.doc.Errorf(path, "wrong type: got %s, want a table ([%s])", describe(t.Value(key)), path)
		return nil
	}
	return t.doc.subTable(path, p)
}

// Tables returns the array of tables under key ([[sensor]]), or nil when key
// is absent. Any other value is recorded as an error.
func (t *Table) Tables(key string) []*Table {
	p, ok := t.keys[key]
	if !ok {
		return nil
	}
	path := t.KeyPath(key)
	if _, isArr := t.Value(key).([]map[string]any); !isArr {
		t.doc.failed[path] = true
		t.doc.Errorf(path, "wrong type: got %s, want an array of tables ([[%s]])", describe(t.Value(key)), path)
		return nil
	}
	return t.doc.subTables(path, p)
}

func (d *Doc) subTable(path string, p toml.Primitive) *Table {
	var m map[string]toml.Primitive
	if err := d.md.PrimitiveDecode(p, &m); err != nil {
		d.Errorf(path, "%s", cleanTOMLError(err))
		return nil
	}
	return &Table{doc: d, Path: path, keys: m}
}

func (d *Doc) subTables(path string, p toml.Primitive) []*Table {
	var list []map[string]toml.Primitive
	if err := d.md.PrimitiveDecode(p, &list); err != nil {
		d.Errorf(path, "%s", cleanTOMLError(err))
		return nil
	}
	out := make([]*Table, len(list))
	for i, m := range list {
		out[i] = &Table{doc: d, Path: IndexKey(path, i), keys: m}
	}
	return out
}

// Errorf records an error about key of this table ("" for the table itself).
func (t *Table) Errorf(key, format string, args ...any) {
	path := t.Path
	if key != "" {
		path = t.KeyPath(key)
	}
	t.doc.Errorf(path, format, args...)
}

// Warnf records a warning about key of this table ("" for the table itself).
func (t *Table) Warnf(key, format string, args ...any) {
	path := t.Path
	if key != "" {
		path = t.KeyPath(key)
	}
	t.doc.Warnf(path, format, args...)
}

// Fail records a Validate or constructor error against this table; see Doc.Fail.
func (t *Table) Fail(err error) { t.doc.Fail(t.Path, err) }

// Failed reports whether key's value could not be decoded.
func (t *Table) Failed(key string) bool { return t.doc.failed[t.KeyPath(key)] }
