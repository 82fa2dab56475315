// Package format holds the payload formatters that turn a batch of readings
// into the bytes published on a stream's topic, and their registry.
//
// A formatter's life: init registers an instance under its name, with its
// options type if it takes any (Register, RegisterOptions); when a stream
// is configured, Decode reads the format's options from the stream's
// table (the format's own struct, with its toml tags and defaults) and
// Configure has the format validate them and return the formatter for that
// stream; the stream then calls Format (or the optional AppendFormat and
// FormatContext forms) for every batch, from its own goroutine, so
// formatters must be safe for concurrent use and must not keep the batch.
// A Format error fails that batch only: the stream's cursor stays and the
// batch is formatted again later, so an error must mean "try again", never
// "skip".
//
// Formats: json (the contract), influx, senml, senml-cbor, csv, template,
// exec (local config only, see LocalOnly) and packed. Compression (gzip,
// zstd) is applied after the formatter, by AppendCompressed, and undone by
// Decompress from the payload's magic bytes; see compress.go for why the
// topic, not an envelope, tells the backend.
package format

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// Batch is what a stream publishes at once: a contiguous range of the buffer
// and the readings of it that the stream's globs matched.
type Batch struct {
	Device   string
	Stream   string
	FirstSeq uint64 // first buffer seq this batch covers
	LastSeq  uint64 // last buffer seq this batch covers
	// Dropped counts readings lost (buffer overflow) between the stream's
	// previous batch and this one.
	Dropped uint64
	// Thinned counts the readings of this batch flagged reading.Thinned:
	// per-minute aggregates ("<series>_count", "_min", "_max", "_mean") the
	// buffer wrote in place of raw readings during a long outage. The seqs
	// of the raw readings they replaced are not counted in Dropped; each
	// _count's value is how many raw readings its minute had.
	Thinned  uint64
	Readings []reading.Reading
	// Tags are the stream's static tags (site, customer ...), validated by
	// the stream config. Formatters read them and must not modify the map,
	// which every batch of the stream shares.
	Tags map[string]string
	// Aggregate is the window of an aggregate stream ("1m", "15m"): the
	// readings are per-window statistics named <series>_<function>, timed
	// at the window start. Empty for raw readings.
	Aggregate string
	// Severity names an alarm reading's severity (info, warning,
	// critical; "" for every other series); nil: none. The json format
	// writes it as the reading's "severity".
	Severity func(series string) string
}

// Formatter serializes a batch. Implementations must be safe for concurrent use.
type Formatter interface {
	// Format returns the payload for b.
	Format(b *Batch) ([]byte, error)
	// ContentType names the payload for humans and the status document ("application/json").
	ContentType() string
}

// KeyTags is the stream's tags key, as the errors of a format that cannot
// encode a tag name it (senml base names).
const KeyTags = "tags"

// NoOptions is the options type of a format that takes no option keys but
// checks the stream's tags when it is configured (senml).
type NoOptions struct{}

// LocalOnly is implemented by formatters that run local code (exec): they
// may be configured only in the box's own config file, never by a remote
// config overlay, since that would let whoever can publish to the broker
// run commands on the box. The remote-config code checks IsLocalOnly.
type LocalOnly interface {
	LocalOnly() bool
}

// IsLocalOnly reports whether the formatter registered under name must be
// configured locally only.
func IsLocalOnly(name string) bool {
	f, ok := Lookup(name)
	if !ok {
		return false
	}
	lo, ok := f.(LocalOnly)
	return ok && lo.LocalOnly()
}

// format is a registered format: the instance, and for one that takes
// options, a fresh options pointer with the defaults and the constructor
// that validates them.
type format struct {
	f         Formatter
	options   func() any
	configure func(opts any, tags map[string]string) (Formatter, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]format{}
)

// Register adds a formatter that takes no options under name; it panics on
// a duplicate, as it is called from init. A stream of that format that
// sets another format's option is refused (Decode).
func Register(name string, f Formatter) {
	add(name, format{f: f})
}

// RegisterOptions adds a formatter whose streams take options of type O,
// from the stream's [[stream]] table (O's toml tags name the keys), as a
// driver's options sit in its [[sensor]] table:
//
//	format.RegisterOptions("csv", CSV{}, func() CSVOptions { return CSVOptions{Header: true} }, configureCSV)
//
// defaults gives O's documented defaults (nil: the zero O). configure
// validates the decoded options and the stream's tags and returns the
// formatter for that stream; it gets its own *O, never nil, and must not
// change f, the registry's instance. Its errors should be
// config.FieldError(s) keyed by the option's key, so that the loader
// points at the line. Nothing else needs to know the keys: the stream
// config, `check`'s output and the refusal of a key the format does not
// use all come from O.
func RegisterOptions[O any](name string, f Formatter, defaults func() O, configure func(o *O, tags map[string]string) (Formatter, error)) {
	if configure == nil {
		panic("format: " + name + ": RegisterOptions without a configure function")
	}
	fresh := func() *O {
		o := new(O)
		if defaults != nil {
			*o = defaults()
		}
		return o
	}
	add(name, format{
		f:       f,
		options: func() any { return fresh() },
		configure: func(opts any, tags map[string]string) (Formatter, error) {
			o, ok := opts.(*O)
			switch {
			case opts == nil || ok && o == nil:
				o = fresh()
			case !ok:
				return nil, fmt.Errorf("format %s: options are %T, want %T", name, opts, o)
			}
			return configure(o, tags)
		},
	})
}

func add(name string, f format) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("format: duplicate formatter " + name)
	}
	registry[name] = f
}

func lookup(name string) (format, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Lookup returns the formatter registered under name (for a format with
// options, the unconfigured instance).
func Lookup(name string) (Formatter, bool) {
	f, ok := lookup(name)
	return f.f, ok
}

// Names lists the registered formatters, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Options returns a pointer to a fresh options struct of format name with
// its defaults, for a stream table to be decoded into; nil for a format
// that takes no options, or none registered under name.
func Options(name string) any {
	f, ok := lookup(name)
	if !ok || f.options == nil {
		return nil
	}
	return f.options()
}

// Configure returns the formatter registered under name, configured for a
// stream with opts (a pointer Options returned, decoded; nil for the
// defaults) and the stream's tags.
func Configure(name string, opts any, tags map[string]string) (Formatter, error) {
	f, ok := lookup(name)
	switch {
	case !ok:
		return nil, config.Errorf("format", "unknown format %q (known: %s)", name, strings.Join(Names(), ", "))
	case f.configure != nil:
		return f.configure(opts, tags)
	case opts != nil:
		return nil, fmt.Errorf("format %s takes no options, got %T", name, opts)
	}
	return f.f, nil
}

// Decode decodes a [[stream]] table for a stream of format name: the
// stream's own keys into common (a pointer to its struct, holding its
// defaults; nil for none) and the format's into the options it returns
// (Options(name)). A key of another format's options is an error naming
// it ("format "json" does not use csv_header"), unless it holds that
// format's default, as a stream whose format was changed keeps a
// csv_header = true; with an unknown format (an error of its own), such
// keys are left alone. A key that no format knows is an unknown key, with
// a suggestion.
func Decode(t *config.Table, name string, common any) (opts any) {
	opts = Options(name)
	_, known := lookup(name)
	dsts := []any{common, opts}
	type other struct {
		name      string
		opts, def any
	}
	var others []other
	for _, n := range Names() {
		if n != name {
			if o := Options(n); o != nil {
				others = append(others, other{n, o, Options(n)})
				dsts = append(dsts, o)
			}
		}
	}
	// One Decode for all: each key is decoded once, into the first struct
	// that names it, so a wrong type is reported once.
	t.Unknown(t.Decode(dsts...), config.AllowedKeys(dsts...), nil)
	if !known {
		return opts
	}
	own := config.AllowedKeys(common, opts)
	for _, key := range t.Keys() {
		if slices.Contains(own, key) || t.Failed(key) {
			continue
		}
		for _, o := range others {
			v, ok := keyValue(o.opts, key)
			if !ok {
				continue
			}
			if d, _ := keyValue(o.def, key); !reflect.DeepEqual(v.Interface(), d.Interface()) {
				t.Errorf(key, "format %q does not use %s; remove it or pick the format that does", name, key)
			}
			break
		}
	}
	return opts
}

// keyValue is the field of the struct p points to whose toml tag is key.
func keyValue(p any, key string) (reflect.Value, bool) {
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("toml"), ","); name == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// TimeRFC3339Milli is the timestamp layout of the json format: RFC 3339 UTC
// with milliseconds.
const TimeRFC3339Milli = "2006-01-02T15:04:05.000Z07:00"
