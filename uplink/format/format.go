// Package format holds the payload formatters that turn a batch of readings
// into the bytes published on a stream's topic, and their registry.
package format

import (
	"sort"
	"sync"

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
	Dropped  uint64
	Readings []reading.Reading
}

// Formatter serializes a batch. Implementations must be safe for concurrent use.
type Formatter interface {
	// Format returns the payload for b.
	Format(b *Batch) ([]byte, error)
	// ContentType names the payload for humans and the status document ("application/json").
	ContentType() string
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
