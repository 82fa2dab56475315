package remote

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/karana-energy/karana-edge/config"
)

// Schema is what the config struct declares about remote documents: its
// sections (the fields of the root struct, by TOML name) and, for each key,
// the allow entry that lets a document set it. It is derived from the
// struct's tags, so a section or key added to the struct is known here
// with nothing else to update:
//
//   - Every section carries a `remote` tag: its own name (a document may
//     set it with that entry in [remote] allow) or LocalOnly.
//   - A section's struct either tags none of its keys (each is then decided
//     by the section's entry) or tags every one of them, with the section
//     name, a guarded entry, a part or LocalOnly. A struct that tags some
//     keys and not others is an error: a key added next to guarded keys
//     must say whether it is guarded.
//   - Keys of an array of tables ([[sensor]]) are decided by the section;
//     what runs programs there is the exec guard, checked by the agent.
type Schema struct {
	// Sections are the top-level sections, in declaration order.
	Sections []string
	// Keys are the sections (Name "") and the keys that carry a decision of
	// their own, in declaration order.
	Keys []Key
	root reflect.Type
	list map[string]bool
}

// Key is one key of the config and its decision.
type Key struct {
	Section string // top-level section: "mqtt"
	Name    string // key inside it: "broker"; "" for the section itself
	Entry   string // the allow entry its tag names
	Reason  string // why, for LocalOnly
	index   []int  // field index path from the root struct
}

// Path is the key's config path: "mqtt.broker", or the section.
func (k Key) Path() string {
	if k.Name == "" {
		return k.Section
	}
	return k.Section + "." + k.Name
}

// NewSchema derives the schema of the root config struct (a struct or a
// pointer to one). The error lists every key without a decision or with
// an entry that is no section, guard, part or LocalOnly.
func NewSchema(root any) (*Schema, error) {
	t := reflect.TypeOf(root)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("remote: schema of %T: not a struct", root)
	}
	s := &Schema{root: t, list: map[string]bool{}}
	var errs []error
	for _, f := range config.Fields(t) {
		tag, ok := f.Tag.Lookup("remote")
		entry, reason, _ := strings.Cut(tag, ",")
		if !ok || (entry != f.Name && entry != LocalOnly) {
			errs = append(errs, fmt.Errorf("section %s: tag it remote:%q (settable with the entry %q) or remote:%q, got %q", f.Name, f.Name, f.Name, LocalOnly, tag))
			continue
		}
		s.Sections = append(s.Sections, f.Name)
		s.Keys = append(s.Keys, Key{Section: f.Name, Entry: entry, Reason: reason, index: f.Index})
		et := f.Type
		if et.Kind() == reflect.Slice {
			et = et.Elem()
			s.list[f.Name] = true
		}
		if !config.IsTable(et) {
			continue
		}
		errs = append(errs, s.addKeys(f, et)...)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("remote: config keys without a valid remote decision: %w", errors.Join(errs...))
	}
	return s, nil
}

// MustSchema is NewSchema for a package variable: a config struct without
// its decisions is a programming error.
func MustSchema(root any) *Schema {
	s, err := NewSchema(root)
	if err != nil {
		panic(err)
	}
	return s
}

// addKeys records the keys of section sec (a field of type et, or of a
// slice of et) that carry their own decision.
func (s *Schema) addKeys(sec config.Field, et reflect.Type) []error {
	fields := config.Fields(et)
	tagged := slices.ContainsFunc(fields, func(f config.Field) bool { _, ok := f.Tag.Lookup("remote"); return ok })
	if !tagged {
		return nil
	}
	var errs []error
	for _, f := range fields {
		path := sec.Name + "." + f.Name
		tag, ok := f.Tag.Lookup("remote")
		entry, reason, _ := strings.Cut(tag, ",")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no remote decision: tag it like the other keys of [%s] (remote:%q, a guarded entry such as %q, a part such as %q, or %q)",
				path, sec.Name, sec.Name, GuardTLS, PartBudget, LocalOnly))
			continue
		case s.list[sec.Name] && entry != sec.Name:
			errs = append(errs, fmt.Errorf("%s: remote:%q: a key of an array of tables is decided by its section, %q", path, tag, sec.Name))
			continue
		case entry != sec.Name && entry != LocalOnly && !isGuard(entry) && !slices.Contains(parts, entry):
			errs = append(errs, fmt.Errorf("%s: remote:%q is no section, guarded entry (%s), part (%s) or %q",
				path, tag, strings.Join(guardNames(), ", "), strings.Join(parts, ", "), LocalOnly))
			continue
		}
		s.Keys = append(s.Keys, Key{Section: sec.Name, Name: f.Name, Entry: entry, Reason: reason,
			index: append(slices.Clone(sec.Index), f.Index...)})
	}
	return errs
}

// IsList reports whether the section is an array of tables ([[sensor]]).
func (s *Schema) IsList(section string) bool { return s.list[section] }

// Section returns a pointer to the field of section name in root (a
// pointer to the schema's struct), nil when there is no such section.
func (s *Schema) Section(root any, name string) any {
	k := s.sectionKey(name)
	if k.index == nil {
		return nil
	}
	return s.value(root, k).Addr().Interface()
}

func (s *Schema) value(root any, k Key) reflect.Value {
	v := reflect.ValueOf(root)
	if v.Kind() != reflect.Pointer || v.Elem().Type() != s.root {
		panic(fmt.Sprintf("remote: schema of %s used on %T", s.root, root))
	}
	return v.Elem().FieldByIndex(k.index)
}

// Refusal is one reason a document may not be applied: the config key it
// is about and the message.
type Refusal struct{ Key, Msg string }

// Check returns what the policy refuses in a document d that turns the
// running config cur into next (pointers to the schema's struct; next is
// d merged over the local file, patches applied). Sections are checked on
// the keys d sets, guarded and local-only keys on their effective values.
func (s *Schema) Check(p Policy, d *Doc, cur, next any) []Refusal {
	var out []Refusal
	allow := strings.Join(p.Allow(), ", ")
	for _, sec := range d.Sections {
		if !slices.Contains(s.Sections, sec) {
			continue // the loader refused it already
		}
		sk := s.sectionKey(sec)
		if p.Allows(sk) {
			continue
		}
		if sk.Entry == LocalOnly {
			out = append(out, Refusal{sec, fmt.Sprintf("section [%s] may only be set in the local file: %s", sec, sk.Reason)})
			continue
		}
		msg := fmt.Sprintf("section [%s] may not be set remotely (the local [remote] allow is [%s])", sec, allow)
		settable := s.settable(p, sec)
		if keys, isTable := d.Keys[sec]; len(settable) > 0 && isTable {
			var not []string
			for _, k := range keys {
				if !slices.Contains(settable, k) {
					not = append(not, k)
				}
			}
			if len(not) == 0 {
				continue
			}
			msg += fmt.Sprintf(": it lets a document set only %s of it, not %s", strings.Join(settable, ", "), strings.Join(not, ", "))
		}
		out = append(out, Refusal{sec, msg})
	}
	reported := map[string]bool{}
	for _, k := range s.Keys {
		if k.Name == "" || reflect.DeepEqual(s.value(cur, k).Interface(), s.value(next, k).Interface()) {
			continue
		}
		switch {
		case k.Entry == LocalOnly:
			msg := fmt.Sprintf("%s may only be set in the local file", k.Name)
			if k.Reason != "" {
				msg += ": " + k.Reason
			}
			out = append(out, Refusal{k.Path(), msg})
		case isGuard(k.Entry) && !p.Guard(k.Entry) && !reported[k.Entry]:
			reported[k.Entry] = true
			g := guardOf(k.Entry)
			out = append(out, Refusal{g.key, fmt.Sprintf("%s may not be changed remotely (needs %q in [remote] allow)", g.what, g.name)})
		}
	}
	return out
}

// settable lists the keys of sec that p allows although it does not allow
// the section: those of allowed parts.
func (s *Schema) settable(p Policy, sec string) []string {
	var out []string
	for _, k := range s.Keys {
		if k.Section == sec && k.Name != "" && slices.Contains(parts, k.Entry) && p.Allows(k) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Patches lists the sections of d that set only keys of parts (the budget
// keys of [mqtt]): those change the keys d sets and leave the rest of the
// section as it was (Patch), where any other section d carries replaces
// the current one whole.
func (s *Schema) Patches(d *Doc) []string {
	var out []string
	for _, sec := range d.Sections {
		keys := d.Keys[sec]
		if len(keys) > 0 && !slices.ContainsFunc(keys, func(name string) bool { return !s.isPart(sec, name) }) {
			out = append(out, sec)
		}
	}
	return out
}

func (s *Schema) isPart(sec, name string) bool {
	return slices.ContainsFunc(s.Keys, func(k Key) bool {
		return k.Section == sec && k.Name == name && slices.Contains(parts, k.Entry)
	})
}

// Patch does what a section listed by Patches means: section sec of next
// (d's section over the defaults) becomes base's (the local file's) with
// the keys d sets taken from next. A key of the part that d leaves out
// keeps the local file's value, so a document that sets the budget does
// not drop the file's rate_limit.
func (s *Schema) Patch(sec string, d *Doc, next, base any) {
	dst := reflect.ValueOf(s.Section(next, sec)).Elem()
	patched := reflect.New(dst.Type()).Elem()
	patched.Set(reflect.ValueOf(s.Section(base, sec)).Elem())
	depth := len(s.sectionKey(sec).index)
	for _, k := range s.Keys {
		if k.Section == sec && k.Name != "" && slices.Contains(d.Keys[sec], k.Name) {
			rel := k.index[depth:]
			patched.FieldByIndex(rel).Set(dst.FieldByIndex(rel))
		}
	}
	dst.Set(patched)
}

// sectionKey is the Key of section sec itself (Entry LocalOnly and no
// index when there is none).
func (s *Schema) sectionKey(sec string) Key {
	for _, k := range s.Keys {
		if k.Name == "" && k.Section == sec {
			return k
		}
	}
	return Key{Section: sec, Entry: LocalOnly}
}
