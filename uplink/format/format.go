// Package format holds the payload formatters that turn a batch of readings
// into the bytes published on a stream's topic, and their registry.
//
// A formatter's life: init registers an instance under its name
// (Register); when a stream is configured, Configure asks the registered
// instance for one configured with the stream's Options (template text,
// command ...) if it is Configurable, and refuses options a format does not
// use; the stream then calls Format (or the optional AppendFormat and
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
	"sort"
	"strings"
	"sync"
	"time"

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
}

// Formatter serializes a batch. Implementations must be safe for concurrent use.
type Formatter interface {
	// Format returns the payload for b.
	Format(b *Batch) ([]byte, error)
	// ContentType names the payload for humans and the status document ("application/json").
	ContentType() string
}

// Options are a stream's formatter options, decoded from its [[stream]]
// table. The zero value means every default. Each field names its key.
type Options struct {
	// Template is the text/template source of the "template" format
	// (key template).
	Template string
	// Command is the argv the "exec" format runs, without a shell
	// (key command).
	Command []string
	// Timeout bounds one run of the exec command; 0 means
	// DefaultExecTimeout (key exec_timeout).
	Timeout time.Duration
	// CSVNoHeader leaves out the csv format's header row (key csv_header,
	// inverted so that the zero value is the default).
	CSVNoHeader bool
	// Tags are the stream's tags (key tags), given so that a formatter can
	// reject at configure time the tags it cannot encode (senml base
	// names). Every format accepts tags; each batch carries them again.
	Tags map[string]string
}

// Option keys in a [[stream]] table, as validation errors name them.
const (
	KeyTemplate    = "template"
	KeyCommand     = "command"
	KeyExecTimeout = "exec_timeout"
	KeyCSVHeader   = "csv_header"
	KeyTags        = "tags"
)

// set lists the keys of the options that differ from their defaults.
func (o *Options) set() []string {
	var keys []string
	if o.Template != "" {
		keys = append(keys, KeyTemplate)
	}
	if o.Command != nil {
		keys = append(keys, KeyCommand)
	}
	if o.Timeout != 0 {
		keys = append(keys, KeyExecTimeout)
	}
	if o.CSVNoHeader {
		keys = append(keys, KeyCSVHeader)
	}
	return keys
}

// Unused returns an error for each option set that the format named does
// not use, so a typo in the format or a leftover key is not silently
// ignored. uses lists the keys the format reads.
func (o *Options) Unused(format string, uses ...string) config.FieldErrors {
	var errs config.FieldErrors
	for _, k := range o.set() {
		used := false
		for _, u := range uses {
			used = used || u == k
		}
		if !used {
			errs.Add(k, "format %q does not use %s; remove it or pick the format that does", format, k)
		}
	}
	return errs
}

// Configurable is a formatter that takes per-stream options. Configure
// validates opts and returns the formatter to use for that stream; its
// errors are config.FieldErrors keyed by the option's key. It must not
// change the receiver, the instance in the registry.
type Configurable interface {
	Configure(opts Options) (Formatter, error)
}

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

// Configure returns the formatter registered under name, configured with
// opts. A formatter that is not Configurable takes no options: any option
// set is an error naming its key.
func Configure(name string, opts Options) (Formatter, error) {
	f, ok := Lookup(name)
	if !ok {
		return nil, config.Errorf("format", "unknown format %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if c, ok := f.(Configurable); ok {
		return c.Configure(opts)
	}
	if errs := opts.Unused(name); len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

var (
	mu       sync.RWMutex
	registry = map[string]Formatter{}
)

// Register adds a formatter under name; it panics on a duplicate, as it is
// called from init.
func Register(name string, f Formatter) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("format: duplicate formatter " + name)
	}
	registry[name] = f
}

// Lookup returns the formatter registered under name.
func Lookup(name string) (Formatter, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[name]
	return f, ok
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

// TimeRFC3339Milli is the timestamp layout of the json format: RFC 3339 UTC
// with milliseconds.
const TimeRFC3339Milli = "2006-01-02T15:04:05.000Z07:00"
