package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

type testInner struct {
	Gain   float64 `toml:"gain"`
	Offset float64 `toml:"offset"`
}

type testChannel struct {
	Pin  int    `toml:"pin"`
	Name string `toml:"name"`
}

type TestEmbedded struct {
	Extra bool `toml:"extra"`
}

type testSection struct {
	Name     string            `toml:"name"`
	Every    Duration          `toml:"every"`
	Size     Size              `toml:"size"`
	Count    uint8             `toml:"count"`
	Tags     []string          `toml:"tags"`
	Cal      testInner         `toml:"calibration"`
	Channels []testChannel     `toml:"channel"`
	Ptr      *testInner        `toml:"ptr"`
	Labels   map[string]string `toml:"labels"`
	Skip     string            `toml:"-"`
	TestEmbedded
}

func defaultSection() testSection {
	return testSection{Name: "def", Every: D(time.Second), Size: 1 << 20, Count: 3, Tags: []string{"x"}}
}

type testDriverOpts struct {
	Bus string `toml:"bus"`
}

// decodeOne parses src and decodes its [s] table into a defaulted section
// plus driver options, strictly.
func decodeOne(t *testing.T, src string) (testSection, testDriverOpts, *Doc) {
	t.Helper()
	doc, root, err := Parse("f.toml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	s, o := defaultSection(), testDriverOpts{Bus: "1"}
	if tbl := root.Table("s"); tbl != nil {
		tbl.DecodeStrict(&s, &o)
	}
	return s, o, doc
}

func TestDecodeValues(t *testing.T) {
	s, o, doc := decodeOne(t, `
[s]
name = "n"
every = "1m30s"
size = 2048
count = 255
tags = ["a", "b"]
calibration = { gain = 2.5 }
ptr.offset = -1
labels = { site = "x", "a.b" = "y" }
extra = true
bus = "2"
[[s.channel]]
pin = 4
[[s.channel]]
pin = 5
name = "b"
`)
	if err := doc.Err(); err != nil {
		t.Fatal(err)
	}
	want := testSection{
		Name: "n", Every: D(90 * time.Second), Size: 2048, Count: 255, Tags: []string{"a", "b"},
		Cal: testInner{Gain: 2.5}, Ptr: &testInner{Offset: -1},
		Channels:     []testChannel{{Pin: 4}, {Pin: 5, Name: "b"}},
		Labels:       map[string]string{"site": "x", "a.b": "y"},
		TestEmbedded: TestEmbedded{Extra: true},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if o.Bus != "2" {
		t.Errorf("driver option bus = %q", o.Bus)
	}

	// Absent keys keep their defaults, and a decoded slice is a new one.
	def := defaultSection()
	s, _, doc = decodeOne(t, "[s]\ntags = [\"z\"]\n")
	if doc.Err() != nil || s.Name != "def" || s.Every != def.Every || s.Tags[0] != "z" || def.Tags[0] != "x" {
		t.Errorf("defaults: %+v (err %v)", s, doc.Err())
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // the exact error lines
	}{
		{"bare number duration", "[s]\nevery = 5\n",
			[]string{`f.toml:2:1: s.every: invalid duration 5: a duration is a string with a unit, e.g. "5s" or "500ms"`}},
		{"bad duration", "[s]\n  every = \"5 minutes\"\n",
			[]string{`f.toml:2:3: s.every: invalid duration "5 minutes" (use e.g. "500ms", "10s", "5m")`}},
		{"bad size", "[s]\nsize = \"lots\"\n",
			[]string{`f.toml:2:1: s.size: invalid size "lots" (use e.g. "64MiB", "512KiB", "1GiB")`}},
		{"negative size", "[s]\nsize = -1\n",
			[]string{`f.toml:2:1: s.size: invalid size -1: must not be negative`}},
		{"out of range", "[s]\ncount = 300\n",
			[]string{`f.toml:2:1: s.count: 300 is out of range for uint8`}},
		{"wrong type string", "[s]\nname = true\n",
			[]string{`f.toml:2:1: s.name: wrong type: got boolean true, want a string`}},
		{"wrong type in array", "[s]\ntags = [\"a\", 1]\n",
			[]string{`f.toml:2:1: s.tags: wrong type: got an array, want an array of strings`}},
		{"scalar for a table", "[s]\ncalibration = 5\n",
			[]string{`f.toml:2:1: s.calibration: wrong type: got integer 5, want a table`}},
		{"unknown key in a nested table", "[s]\n[s.calibration]\ngian = 1.0\n",
			[]string{`f.toml:3:1: s.calibration.gian: unknown key (did you mean "gain"?)`}},
		{"unknown key in an inline table", "[s]\ncalibration = { gain = 1.0, ofset = 2.0 }\n",
			[]string{`f.toml:2:29: s.calibration.ofset: unknown key (did you mean "offset"?)`}},
		{"unknown key in an array of tables", "[s]\n[[s.channel]]\npin = 1\n[[s.channel]]\npn = 2\n",
			[]string{`f.toml:5:1: s.channel[1].pn: unknown key (did you mean "pin"?)`}},
		{"skipped field is not a key", "[s]\nSkip = \"x\"\n",
			[]string{`f.toml:2:1: s.Skip: unknown key`}},
		{"case matters", "[s]\nNAME = \"x\"\n",
			[]string{`f.toml:2:1: s.NAME: unknown key (did you mean "name"?)`}},
		{"all errors, in line order", "[s]\nzzz = 1\nevery = \"x\"\nbus = 1\n",
			[]string{
				`f.toml:2:1: s.zzz: unknown key`,
				`f.toml:3:1: s.every: invalid duration "x" (use e.g. "500ms", "10s", "5m")`,
				`f.toml:4:1: s.bus: wrong type: got integer 1, want a string`,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _, doc := decodeOne(t, tc.src)
			err := doc.Err()
			if err == nil {
				t.Fatal("no error")
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			// A rejected value leaves the default in place.
			if def := defaultSection(); s.Every != def.Every || s.Size != def.Size || s.Count != def.Count || s.Tags[0] != "x" {
				t.Errorf("defaults overwritten: %+v", s)
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	_, _, err := Parse("f.toml", []byte("a = 1\nb = = 2\n"))
	list, ok := AsErrors(err)
	if !ok || len(list) != 1 {
		t.Fatalf("err = %#v", err)
	}
	if e := list[0]; e.Line != 2 || e.Col != 5 || !strings.HasPrefix(e.Error(), "f.toml:2:5: syntax error: ") {
		t.Errorf("syntax error = %q (%d:%d)", e.Error(), e.Line, e.Col)
	}
}

func TestFail(t *testing.T) {
	src := "[s]\nname = \"x\"\nevery = \"bad\"\n"
	doc, root, err := Parse("f.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tbl := root.Table("s")
	s := defaultSection()
	tbl.DecodeStrict(&s)

	var fe FieldErrors
	fe.Add("name", "too short")
	fe.Add("every", "about the default; dropped, the key failed to decode")
	fe.Add("size", "not in the file: points at the table")
	fe.Add("calibration.gain", "nested, not in the file")
	tbl.Fail(fmt.Errorf("wrapped: %w", fe))
	tbl.Fail(Errorf("name", "single"))
	tbl.Fail(errors.New("plain"))
	doc.Fail("nosection", Errorf("key", "nowhere"))
	doc.Fail("s", nil)

	want := []string{
		`f.toml:1:1: s.size: not in the file: points at the table`,
		`f.toml:1:1: s.calibration.gain: nested, not in the file`,
		`f.toml:1:1: s: plain`,
		`f.toml:2:1: s.name: too short`,
		`f.toml:2:1: s.name: single`,
		`f.toml:3:1: s.every: invalid duration "bad" (use e.g. "500ms", "10s", "5m")`,
		`f.toml: nosection.key: nowhere`,
	}
	if got := doc.Err().Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	tbl.Warnf("name", "odd")
	if w := doc.Warnings(); len(w) != 1 || w[0] != "f.toml:2:1: s.name: odd" {
		t.Errorf("warnings = %q", w)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "c.toml", Line: 12, Col: 3, Key: "sensor[1].interval", Msg: "bad"}, "c.toml:12:3: sensor[1].interval: bad"},
		{Error{File: "c.toml", Line: 12, Key: "k", Msg: "bad"}, "c.toml:12: k: bad"},
		{Error{File: "c.toml", Key: "k", Msg: "bad"}, "c.toml: k: bad"},
		{Error{File: "c.toml", Line: 2, Col: 1, Msg: "syntax"}, "c.toml:2:1: syntax"},
		{Error{Msg: "bare"}, "bare"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	l := Errors{{Line: 0, Msg: "c"}, {Line: 5, Col: 2, Msg: "b"}, {Line: 5, Col: 1, Msg: "a"}, {Line: 1, Msg: "first"}}
	l.Sort()
	var got []string
	for _, e := range l {
		got = append(got, e.Msg)
	}
	if strings.Join(got, ",") != "first,a,b,c" {
		t.Errorf("sorted: %v", got)
	}
	if Errors(nil).Err() != nil {
		t.Error("empty Errors.Err() != nil")
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"interval", "timeout", "name", "driver", "max_bytes", "log"}
	for key, want := range map[string]string{
		"intervall": "interval",
		"Interval":  "interval",
		"intrval":   "interval",
		"timout":    "timeout",
		"max_byte":  "max_bytes",
		"maxbytes":  "max_bytes",
		"lg":        "log",
		"foo":       "", // two edits from "log", but that is most of it
		"address":   "",
		"drivers":   "driver",
		"timeuot":   "timeout", // a swap is one edit
		"nmae":      "name",
	} {
		if got := Suggest(key, keys); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestDecodeTableOfTables: a map of structs ([s.fields.voltage]) decodes
// each entry strictly, with positions for typos inside an entry.
func TestDecodeTableOfTables(t *testing.T) {
	type fieldCal struct {
		Scale *float64 `toml:"scale"`
		Max   float64  `toml:"max"`
	}
	type section struct {
		Fields map[string]fieldCal  `toml:"fields"`
		Ptrs   map[string]*fieldCal `toml:"ptrs"`
	}
	decode := func(src string) (section, error) {
		doc, root, err := Parse("f.toml", []byte(src))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		var s section
		root.Table("s").DecodeStrict(&s)
		return s, doc.Err()
	}
	s, err := decode("[s]\nptrs = { a = { max = 1.0 } }\n[s.fields.voltage]\nscale = 2.0\n[s.fields.\"cur.rent\"]\nmax = 3.5\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Fields) != 2 || s.Fields["voltage"].Scale == nil || *s.Fields["voltage"].Scale != 2 || s.Fields["cur.rent"].Max != 3.5 || s.Ptrs["a"].Max != 1 {
		t.Errorf("decoded %+v", s)
	}
	for src, want := range map[string]string{
		"[s]\n[s.fields.voltage]\nscael = 1.0\n":            `f.toml:3:1: s.fields.voltage.scael: unknown key (did you mean "scale"?)`,
		"[s]\nfields.voltage = 5\n":                         `f.toml:2:1: s.fields.voltage: wrong type: got integer 5, want a table ([s.fields.voltage])`,
		"[s]\nfields = 5\n":                                 `f.toml:2:1: s.fields: wrong type: got integer 5, want a table`,
		"[s]\n[s.fields.v]\nmax = \"high\"\n":               `f.toml:3:1: s.fields.v.max: wrong type: got string "high", want a number`,
		"[s]\nfields = { v = { scale = 1.0, scal = 2 } }\n": `f.toml:2:31: s.fields.v.scal: unknown key (did you mean "scale"?)`,
	} {
		if _, err := decode(src); err == nil || err.Error() != want {
			t.Errorf("%q:\n got  %v\n want %s", src, err, want)
		}
	}
}
