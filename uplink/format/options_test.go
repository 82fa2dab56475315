package format

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
)

func TestRegistry(t *testing.T) {
	names := Names()
	for _, want := range []string{"json", "influx", "senml", "senml-cbor", "csv", "template", "exec"} {
		if !slices.Contains(names, want) {
			t.Errorf("%q not registered (have %v)", want, names)
		}
	}
	for _, n := range names {
		f, _ := Lookup(n)
		if f.ContentType() == "" {
			t.Errorf("%s: no content type", n)
		}
	}
	if _, err := Configure("nosuch", nil, nil); err == nil {
		t.Error("unknown format configured")
	}
}

// configureTOML configures format name for a stream table holding src (its
// option keys), as the stream config does: Decode, then Configure. The
// table's mistakes come as config.FieldErrors keyed by the option, as
// Configure's own do.
func configureTOML(name, src string, tags map[string]string) (Formatter, error) {
	doc, root, err := config.Parse("s.toml", []byte(src))
	if err != nil {
		return nil, err
	}
	opts := Decode(root, name, nil)
	if errs, ok := config.AsErrors(doc.Err()); ok {
		var fe config.FieldErrors
		for _, e := range errs {
			fe.Add(e.Key, "%s", e.Msg)
		}
		return nil, fe
	}
	return Configure(name, opts, tags)
}

// TestOptionsAFormatDoesNotUse: each option set on a format that ignores it
// is an error on that key, so a leftover or misplaced key is never silent.
func TestOptionsAFormatDoesNotUse(t *testing.T) {
	for _, tc := range []struct {
		opts string
		key  string
	}{
		{`template = "x"`, KeyTemplate},
		{`command = ["x"]`, KeyCommand},
		{`exec_timeout = "1s"`, KeyExecTimeout},
		{`csv_header = false`, KeyCSVHeader},
	} {
		for _, name := range []string{"json", "influx", "senml", "senml-cbor"} {
			_, err := configureTOML(name, tc.opts, nil)
			var fe config.FieldErrors
			if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Key != tc.key {
				t.Errorf("%s with %s set: got %v, want one error on %s", name, tc.key, err, tc.key)
			}
		}
	}
	// tags go to every format
	for _, name := range []string{"json", "influx", "senml", "senml-cbor", "csv"} {
		f, err := Configure(name, nil, map[string]string{"site": "kisumu-3"})
		if err != nil {
			t.Errorf("%s with tags: %v", name, err)
			continue
		}
		if _, err := f.Format(taggedBatch()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// lineOptions are the options of a format the test registers, as a new
// format (or a new key of one) would be added: the struct, its defaults
// and its configure function, nothing else.
type lineOptions struct {
	Separator string `toml:"line_separator"`
}

type lineFormat struct{ sep string }

func (f lineFormat) Format(b *Batch) ([]byte, error) { return []byte(b.Stream + f.sep), nil }
func (lineFormat) ContentType() string               { return "text/plain" }

func init() {
	RegisterOptions("test-lines", lineFormat{}, func() lineOptions { return lineOptions{Separator: "\n"} },
		func(o *lineOptions, _ map[string]string) (Formatter, error) {
			if len(o.Separator) != 1 {
				return nil, config.Errorf("line_separator", "must be one character, got %q", o.Separator)
			}
			return lineFormat{sep: o.Separator}, nil
		})
}

// TestDecodeOptions: a stream table's keys go to the stream's struct and
// its format's options; another format's key is refused unless it holds
// that format's default; a key no one knows is unknown, with a suggestion
// from every format's keys.
func TestDecodeOptions(t *testing.T) {
	f, err := configureTOML("test-lines", `line_separator = ";"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := f.Format(&Batch{Stream: "raw"}); string(out) != "raw;" {
		t.Errorf("configured format wrote %q", out)
	}
	if _, err := configureTOML("test-lines", `line_separator = ";;"`, nil); err == nil || !strings.Contains(err.Error(), "line_separator: must be one character") {
		t.Errorf("invalid option: %v", err)
	}
	// a json stream that once was csv or exec keeps its defaults harmlessly
	if _, err := configureTOML("json", "csv_header = true\nexec_timeout = \"10s\"\ntemplate = \"\"\nline_separator = \"\\n\"", nil); err != nil {
		t.Errorf("other formats' defaults: %v", err)
	}
	for src, want := range map[string]string{
		`line_separator = ","`: `line_separator: format "json" does not use line_separator`,
		`csv_headr = false`:    `csv_headr: unknown top-level key (did you mean "csv_header"?)`,
		`csv_header = "no"`:    `csv_header: wrong type`,
	} {
		_, err := configureTOML("json", src, nil)
		var fe config.FieldErrors
		if !errors.As(err, &fe) || len(fe) != 1 || !strings.HasPrefix(fe[0].Error(), want) {
			t.Errorf("%s: got %v, want one error %q", src, err, want)
		}
	}
	// with an unknown format, option keys are not told from typos
	doc, root, _ := config.Parse("s.toml", []byte("template = \"x\"\n"))
	if Decode(root, "nosuch", nil) != nil || doc.Err() != nil {
		t.Errorf("unknown format: %v", doc.Err())
	}
	if _, err := Configure("csv", &ExecOptions{}, nil); err == nil {
		t.Error("csv configured with exec's options")
	}
	if _, err := Configure("json", &CSVOptions{}, nil); err == nil {
		t.Error("json, which takes no options, configured with some")
	}
}
