package buffer

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
)

// seriesKey is one dictionary entry: a reading costs its small id on disk,
// and the name and unit are stored once in the series bucket.
type seriesKey struct{ name, unit string }

// dict maps series to ids. It only grows: ids are never reused, so a reader
// holding an old snapshot of the list still resolves every id it can meet.
type dict struct {
	mu   sync.RWMutex
	list []seriesKey
	ids  map[seriesKey]uint32
}

func newDict(list []seriesKey) *dict {
	d := &dict{list: list, ids: make(map[seriesKey]uint32, len(list))}
	for i, s := range list {
		d.ids[s] = uint32(i)
	}
	return d
}

// intern returns the id of name+unit, adding it when new.
func (d *dict) intern(name, unit string) uint32 {
	k := seriesKey{name, unit}
	d.mu.RLock()
	id, ok := d.ids[k]
	d.mu.RUnlock()
	if ok {
		return id
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.ids[k]; ok {
		return id
	}
	// Clone so a name cut from a big buffer does not pin it for the life of
	// the process.
	k = seriesKey{strings.Clone(name), strings.Clone(unit)}
	id = uint32(len(d.list))
	d.list = append(d.list, k)
	d.ids[k] = id
	return id
}

// snapshot returns the current list; its elements never change.
func (d *dict) snapshot() []seriesKey {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.list
}

func seriesID(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }

func encodeSeries(s seriesKey) []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(s.name)+len(s.unit)+2), uint64(len(s.name)))
	b = append(b, s.name...)
	return append(b, s.unit...)
}

func decodeSeries(k, v []byte, want uint32) (seriesKey, error) {
	if len(k) != 4 || binary.BigEndian.Uint32(k) != want {
		return seriesKey{}, fmt.Errorf("series dictionary: key %x where id %d was expected", k, want)
	}
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return seriesKey{}, fmt.Errorf("series dictionary: id %d: bad entry", want)
	}
	return seriesKey{name: string(v[w : w+int(n)]), unit: string(v[w+int(n):])}, nil
}
