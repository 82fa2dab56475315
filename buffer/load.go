package buffer

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// loaded is what Open learns from walking an existing file.
type loaded struct {
	empty   bool // no buckets at all: bbolt created the file, we never did
	nextSeq uint64
	dropped uint64
	clean   bool
	// thinning totals (thin.go)
	thinned, thinnings uint64
	cursors            map[string]uint64
	series             []seriesKey
	state              map[string][]byte
	clk                []clkRec         // clock.go
	syn                map[string]int64 // clock.go

	tailFirst uint64
	tail      []entry
	tailSize  int64 // key + value bytes of the tail
	holds     []held
	format    byte

	dataFirst, dataLast, dataCount uint64
	dataBytes                      int64
	blocks                         int

	// maxSeq is the highest seq seen anywhere, kept even when the walk fails
	// half-way, so a recovery can still avoid reusing seqs.
	maxSeq uint64

	jump jump // a seq jump not yet announced (jump.go)
	// rollback, set by openExisting, says why bbolt may have opened the
	// previous commit rather than the last one (jump.go: damagedMeta).
	rollback string
}

func (ld *loaded) seen(seq uint64) {
	if seq > ld.maxSeq {
		ld.maxSeq = seq
	}
}

// corruptError marks a file that cannot be used as it is.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return e.err.Error() }
func (e *corruptError) Unwrap() error { return e.err }

func corrupt(format string, args ...any) error {
	return &corruptError{fmt.Errorf(format, args...)}
}

// load walks every page of the database on the calling goroutine, with
// faults turned into panics and panics recovered, before bbolt's own
// writable open walks it on a goroutine of its own where a bad page would
// kill the process (bbolt rebuilds its freelist that way when
// NoFreelistSync is set). Cursor iteration reaches every branch and leaf
// page and touching the last byte of each value reaches its overflow pages,
// so after a clean walk bbolt's walk meets no page we have not survived.
//
// It also reads the meta and series buckets, checks every block header, and
// decodes the first and last data block and the tail. With checkUnclean, and
// when the file was not closed cleanly, it runs bbolt's tx.Check too (after
// our walk, since Check walks the way bbolt's freelist rebuild does): a
// power cut cannot break bbolt, but an SD card that lied about a flush can.
// Any error is a *corruptError; ld is returned even then, for salvage.
func load(db *bolt.DB, fileSize int64, checkUnclean bool) (ld *loaded, err error) {
	ld = &loaded{cursors: map[string]uint64{}}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = corrupt("reading the database panicked: %v", p)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		if need := tx.Size(); need > fileSize {
			// The meta bucket may still be readable: its cursors and
			// next_seq tell how far the streams and the file had got.
			ld.salvageMeta(tx)
			return corrupt("truncated: the database needs %d bytes, the file has %d", need, fileSize)
		}
		var names []string
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			switch string(name) {
			case string(bucketData), string(bucketMeta), string(bucketSeries):
				names = append(names, string(name))
				return nil
			}
			if _, ok := holdSlot(name); ok {
				return nil
			}
			return corrupt("unexpected bucket %q: not a karana-edge buffer", name)
		}); err != nil {
			return err
		}
		if len(names) == 0 {
			ld.empty = true
			return nil
		}
		meta, data, series := tx.Bucket(bucketMeta), tx.Bucket(bucketData), tx.Bucket(bucketSeries)
		if meta == nil || data == nil || series == nil {
			return corrupt("buckets %v found, want data, meta and series", names)
		}
		if err := ld.readMeta(meta); err != nil {
			return err
		}
		if err := ld.readSeries(series); err != nil {
			return err
		}
		if err := ld.walkData(data); err != nil {
			return err
		}
		if checkUnclean && !ld.clean {
			var errs []error
			for e := range tx.Check() {
				if len(errs) < 5 {
					errs = append(errs, e)
				}
			}
			if len(errs) > 0 {
				return corrupt("consistency check: %w", errors.Join(errs...))
			}
		}
		return nil
	})
	var ce *corruptError
	if err != nil && !errors.As(err, &ce) {
		err = &corruptError{err}
	}
	return ld, err
}

// salvageMeta reads what it can of the meta bucket of a file that is
// already known to be unusable; a fault or panic only ends the salvage.
func (ld *loaded) salvageMeta(tx *bolt.Tx) {
	defer func() { _ = recover() }()
	if b := tx.Bucket(bucketMeta); b != nil {
		_ = ld.readMeta(b)
	}
}

// readMeta reads every key it can, so that a damaged file still yields its
// cursors and next_seq for the recovery, and returns the first error.
func (ld *loaded) readMeta(b *bolt.Bucket) error {
	var haveFormat, haveNext bool
	var first error
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			first = cmp.Or(first, corrupt("meta: unexpected nested bucket %q", k))
			continue
		}
		if err := ld.readMetaKey(k, v, &haveFormat, &haveNext); err != nil {
			first = cmp.Or(first, err)
		}
	}
	if first != nil {
		return first
	}
	if !haveFormat || !haveNext {
		return corrupt("meta: format or next_seq missing")
	}
	return nil
}

func (ld *loaded) readMetaKey(k, v []byte, haveFormat, haveNext *bool) error {
	var err error
	switch string(k) {
	case string(keyFormat):
		if len(v) != 1 || v[0] < 1 || v[0] > dbFormat {
			return corrupt("meta: database format %x, this build reads 1 to %d", v, dbFormat)
		}
		ld.format = v[0]
		*haveFormat = true
	case string(keyNextSeq):
		ld.nextSeq, err = getU64(v, "next_seq")
		if err == nil && ld.nextSeq == 0 {
			err = errors.New("meta next_seq is 0")
		}
		*haveNext = err == nil
		if *haveNext {
			ld.seen(ld.nextSeq - 1)
		}
	case string(keyJump):
		if len(v) != 16 {
			err = fmt.Errorf("meta jump: %d bytes, want 16", len(v))
		} else {
			ld.jump = jump{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}
		}
	case string(keyDropped):
		ld.dropped, err = getU64(v, "dropped")
	case string(keyThin):
		if len(v) != 16 {
			err = fmt.Errorf("meta thin: %d bytes, want 16", len(v))
		} else {
			ld.thinned, ld.thinnings = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
		}
	case string(keyClean):
		ld.clean = len(v) == 1 && v[0] == 1
	case string(keyTail):
		err = ld.readTail(v)
	default:
		if s, ok := isCursorKey(k); ok {
			var c uint64
			if c, err = getU64(v, "cursor "+s); err == nil {
				ld.cursors[s] = c
			}
		} else if ok, cerr := ld.readClockMeta(k, v); ok {
			err = cerr
		} else if s, ok := isStateKey(k); ok {
			if ld.state == nil {
				ld.state = map[string][]byte{}
			}
			ld.state[s] = bytes.Clone(v) // v lives only as long as the tx
		}
		// Other keys: written by a later build of the same format; ignored.
	}
	if err != nil {
		return corrupt("%w", err)
	}
	return nil
}

func (ld *loaded) readTail(v []byte) error {
	if len(v) < 8+blockMinLen {
		return fmt.Errorf("meta tail: %d bytes", len(v))
	}
	first, _ := keySeq(v[:8])
	count, err := blockHeader(v[8:])
	if err == nil && v[8] != blockFormat1 {
		err = fmt.Errorf("block format %d (a tail is never thinned)", v[8])
	}
	if err != nil {
		return fmt.Errorf("meta tail at seq %d: %w", first, err)
	}
	ld.tailFirst = first
	ld.seen(first + uint64(count) - 1)
	// Entries are decoded by decodeTail, once the dictionary is known.
	ld.tailSize = int64(len(keyTail) + len(v))
	return nil
}

func (ld *loaded) readSeries(b *bolt.Bucket) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			return corrupt("series: unexpected nested bucket %q", k)
		}
		s, err := decodeSeries(k, v, uint32(len(ld.series)))
		if err != nil {
			return corrupt("%w", err)
		}
		ld.series = append(ld.series, s)
	}
	return nil
}

func (ld *loaded) walkData(b *bolt.Bucket) error {
	var firstV, lastV []byte
	var lastKey uint64
	var sink byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			return corrupt("data: unexpected nested bucket %q", k)
		}
		seq, ok := keySeq(k)
		if !ok || seq == 0 {
			return corrupt("data: bad key %x", k)
		}
		sink ^= v[len(v)-1] // fault in the last overflow page, if any, here
		count, span, _, err := blockLayout(v)
		if err != nil {
			return corrupt("data: block at seq %d: %w", seq, err)
		}
		if ld.blocks > 0 && seq <= ld.dataLast {
			return corrupt("data: block at seq %d overlaps the one at %d (ending %d)", seq, lastKey, ld.dataLast)
		}
		if ld.blocks == 0 {
			ld.dataFirst, firstV = seq, v
		}
		ld.blocks++
		lastKey, lastV = seq, v
		ld.dataLast = seq + uint64(span) - 1
		ld.dataCount += uint64(count)
		ld.dataBytes += int64(len(k) + len(v))
		ld.seen(ld.dataLast)
	}
	_ = sink
	n := len(ld.series)
	if firstV != nil {
		if _, err := decodeBlock(firstV, n, func(int, entry) bool { return true }); err != nil {
			return corrupt("data: first block (seq %d): %w", ld.dataFirst, err)
		}
		if _, err := decodeBlock(lastV, n, func(int, entry) bool { return true }); err != nil {
			return corrupt("data: last block (seq %d): %w", lastKey, err)
		}
	}
	if err := ld.walkHolds(b.Tx()); err != nil {
		return err
	}
	return ld.decodeTail(b.Tx().Bucket(bucketMeta).Get(keyTail))
}

// walkHolds reads the hold buckets (hold.go): each block is decoded whole
// (a hold is under a quarter page) and must lie between data and tail.
func (ld *loaded) walkHolds(tx *bolt.Tx) error {
	for slot, name := range holdBuckets {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				return corrupt("hold %s: unexpected nested bucket %q", name, k)
			}
			seq, ok := keySeq(k)
			if !ok || seq == 0 {
				return corrupt("hold %s: bad key %x", name, k)
			}
			if len(ld.holds) > 0 && ld.holds[len(ld.holds)-1].slot == slot {
				return corrupt("hold %s: more than one block", name)
			}
			count, err := blockHeader(v)
			if err == nil && v[0] != blockFormat1 {
				err = fmt.Errorf("block format %d (a hold is never thinned)", v[0])
			}
			if err == nil {
				_, err = decodeBlock(v, len(ld.series), func(int, entry) bool { return true })
			}
			if err != nil {
				return corrupt("hold %s: block at seq %d: %w", name, seq, err)
			}
			h := held{slot: slot, first: seq, n: uint64(count), size: int64(len(k) + len(v))}
			ld.holds = append(ld.holds, h)
			ld.seen(h.last())
		}
	}
	slices.SortFunc(ld.holds, func(a, b held) int { return cmp.Compare(a.first, b.first) })
	prev := uint64(0)
	if ld.blocks > 0 {
		prev = ld.dataLast
	}
	for _, h := range ld.holds {
		if h.first <= prev {
			return corrupt("hold %s at seq %d overlaps the readings before it (ending %d)", holdBuckets[h.slot], h.first, prev)
		}
		prev = h.last()
	}
	return nil
}

func (ld *loaded) decodeTail(v []byte) error {
	ld.tail = nil
	if v == nil {
		return nil
	}
	_, err := decodeBlock(v[8:], len(ld.series), func(_ int, e entry) bool {
		ld.tail = append(ld.tail, e)
		return true
	})
	if err != nil {
		return corrupt("meta tail (seq %d): %w", ld.tailFirst, err)
	}
	if ld.blocks > 0 && ld.tailFirst <= ld.dataLast {
		return corrupt("meta tail at seq %d overlaps data ending at %d", ld.tailFirst, ld.dataLast)
	}
	if k := len(ld.holds); k > 0 && ld.tailFirst <= ld.holds[k-1].last() {
		return corrupt("meta tail at seq %d overlaps hold %s ending at %d", ld.tailFirst, holdBuckets[ld.holds[k-1].slot], ld.holds[k-1].last())
	}
	return nil
}
