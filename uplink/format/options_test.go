package format

import (
	"errors"
	"slices"
	"testing"
	"time"

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
	if _, err := Configure("nosuch", Options{}); err == nil {
		t.Error("unknown format configured")
	}
}

// TestOptionsAFormatDoesNotUse: each option set on a format that ignores it
// is an error on that key, so a leftover or misplaced key is never silent.
func TestOptionsAFormatDoesNotUse(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		key  string
	}{
		{Options{Template: "x"}, KeyTemplate},
		{Options{Command: []string{"x"}}, KeyCommand},
		{Options{Timeout: time.Second}, KeyExecTimeout},
		{Options{CSVNoHeader: true}, KeyCSVHeader},
	} {
		for _, name := range []string{"json", "influx", "senml", "senml-cbor"} {
			_, err := Configure(name, tc.opts)
			var fe config.FieldErrors
			if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Key != tc.key {
				t.Errorf("%s with %s set: got %v, want one error on %s", name, tc.key, err, tc.key)
			}
		}
	}
	// tags go to every format
	for _, name := range []string{"json", "influx", "senml", "senml-cbor", "csv"} {
		f, err := Configure(name, Options{Tags: map[string]string{"site": "kisumu-3"}})
		if err != nil {
			t.Errorf("%s with tags: %v", name, err)
			continue
		}
		if _, err := f.Format(taggedBatch()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
