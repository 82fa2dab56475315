package sensors

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type regOptions struct {
	Level int    `toml:"level"`
	Unit  string `toml:"unit"`
}

type regSensor struct{ o regOptions }

func (s *regSensor) Read(context.Context) ([]Value, error) {
	return []Value{{Field: "level", Value: float64(s.o.Level), Unit: s.o.Unit}}, nil
}
func (s *regSensor) Close() error { return nil }

// newRegSensor fills in the unit, as drivers fill in what they derive, and
// rejects a negative level with a typed nil, as drivers' New functions do.
func newRegSensor(_ string, o *regOptions) (*regSensor, error) {
	if o.Level < 0 {
		return nil, errors.New("level: must not be negative")
	}
	if o.Unit == "" {
		o.Unit = "m"
	}
	return &regSensor{o: *o}, nil
}

func regDriver(t *testing.T) Driver {
	t.Helper()
	const name = "registry-test"
	if _, done := Lookup(name); !done { // -count=N runs this again
		Register(Driver{Name: name, Doc: "registry test"}, func() regOptions { return regOptions{Level: 7} }, newRegSensor)
	}
	d, _ := Lookup(name)
	return d
}

func TestRegisterTyped(t *testing.T) {
	d := regDriver(t)

	// Options: a fresh pointer with the defaults each time.
	o1, ok := d.Options().(*regOptions)
	if !ok || o1.Level != 7 {
		t.Fatalf("Options() = %#v, want *regOptions with Level 7", d.Options())
	}
	o1.Level = 3
	if o2 := d.Options().(*regOptions); o2 == o1 || o2.Level != 7 {
		t.Errorf("Options() shares its struct: second call %+v", *o2)
	}

	// The driver gets the loader's own pointer: what it fills in shows.
	s, err := d.New("tank", o1)
	if err != nil {
		t.Fatal(err)
	}
	if o1.Unit != "m" {
		t.Errorf("unit filled in by New not seen in the options passed: %+v", *o1)
	}
	if vs, _ := s.Read(context.Background()); len(vs) != 1 || vs[0].Value != 3 {
		t.Errorf("Read = %+v, want the decoded level 3", vs)
	}

	// nil, untyped or typed, is the defaults.
	for _, opts := range []any{nil, (*regOptions)(nil)} {
		s, err := d.New("tank", opts)
		if err != nil {
			t.Fatalf("New(%#v): %v", opts, err)
		}
		if vs, _ := s.Read(context.Background()); len(vs) != 1 || vs[0].Value != 7 {
			t.Errorf("New(%#v) read %+v, want the default level 7", opts, vs)
		}
	}

	// Anything but *regOptions is refused, naming both types.
	for _, opts := range []any{42, regOptions{Level: 1}, &struct{}{}} {
		s, err := d.New("tank", opts)
		if err == nil || s != nil || !strings.Contains(err.Error(), "*sensors.regOptions") {
			t.Errorf("New(%T) = %v, %v; want no sensor and an error naming *sensors.regOptions", opts, s, err)
		}
	}

	// A rejected configuration gives a nil Sensor, not a nil *regSensor
	// in one (which the loader would Close).
	if s, err := d.New("tank", &regOptions{Level: -1}); err == nil || s != nil {
		t.Errorf("New(level -1) = %#v, %v; want nil and an error", s, err)
	}
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	regDriver(t)
	defer func() {
		if recover() == nil {
			t.Error("a second driver of the same name was registered")
		}
	}()
	Register(Driver{Name: "registry-test"}, nil, newRegSensor)
}

func TestDriverNotFromLookup(t *testing.T) {
	var d Driver
	if d.Options() != nil {
		t.Error("zero Driver has options")
	}
	if s, err := d.New("x", nil); err == nil || s != nil {
		t.Errorf("zero Driver made %v, %v", s, err)
	}
}
