package buffer

import (
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/karana-energy/karana-edge/reading"
)

// Read returns up to max committed readings with Seq >= from, in seq order.
// Where readings were dropped the seqs jump; a from below the first
// available seq starts at the first available one.
func (r *Ring) Read(from uint64, max int) ([]reading.Reading, error) {
	if max <= 0 {
		return nil, fmt.Errorf("buffer %s: read: max must be positive, got %d", r.path, max)
	}
	r.mu.Lock()
	first, last := r.first, r.last
	r.mu.Unlock()
	from = maxU(from, first)
	if from > last {
		return nil, nil
	}
	out := make([]reading.Reading, 0, min(uint64(max), last-from+1, 4096))
	err := r.view(func(tx *bolt.Tx) error {
		// The dictionary is read inside the transaction: every block this
		// transaction can see was built from series interned before it.
		names := r.dict.snapshot()
		meta, data := tx.Bucket(bucketMeta), tx.Bucket(bucketData)
		if meta == nil || data == nil {
			return fmt.Errorf("buckets missing")
		}
		recent := recentBlocks(tx, meta)
		if len(recent) == 0 || from < recent[0].first {
			c := data.Cursor()
			k, v := c.Seek(seqKey(from))
			if s, _ := keySeq(k); k == nil || s > from {
				// The block holding from starts before it, if there is one.
				var pk, pv []byte
				if k == nil {
					pk, pv = c.Last()
				} else {
					pk, pv = c.Prev()
				}
				if pk != nil {
					k, v = pk, pv
				} else {
					k, v = c.Seek(seqKey(from))
				}
			}
			for ; k != nil && len(out) < max; k, v = c.Next() {
				s, _ := keySeq(k)
				out = r.appendBlock(out, s, v, from, max, names)
			}
		}
		for _, b := range recent {
			if len(out) >= max {
				break
			}
			out = r.appendBlock(out, b.first, b.v, from, max, names)
		}
		r.clk.restamp(meta, out)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("buffer %s: read: %w", r.path, err)
	}
	return out, nil
}

// appendBlock appends the readings of block v (first seq first) with seq >=
// from. A damaged block is skipped and reported once: the seq jump tells
// the consumers, and one bad page must not stall every stream forever.
func (r *Ring) appendBlock(out []reading.Reading, first uint64, v []byte, from uint64, max int, names []seriesKey) []reading.Reading {
	if c, err := blockSeqs(v); err == nil && first+c-1 < from {
		return out
	}
	start := len(out)
	_, err := decodeBlock(v, len(names), func(i int, e entry) bool {
		if seq := first + uint64(i); seq >= from {
			out = append(out, toReading(seq, e, names))
		}
		return len(out) < max
	})
	if err != nil {
		out = out[:start]
		r.reportBadBlock(first, err)
	}
	return out
}

func (r *Ring) reportBadBlock(first uint64, err error) {
	r.mu.Lock()
	seen := r.badBlocks[first]
	if !seen && len(r.badBlocks) < 1024 {
		r.badBlocks[first] = true
	}
	r.mu.Unlock()
	if !seen {
		r.log.Error("skipping a damaged block; its readings are lost", "path", r.path, "block_seq", first, "err", err)
	}
}

// view runs fn in a read transaction, with a damaged page's panic or
// memory fault turned into an error rather than a dead daemon.
func (r *Ring) view(fn func(*bolt.Tx) error) (err error) {
	r.dbMu.RLock()
	defer r.dbMu.RUnlock()
	if r.db == nil {
		return ErrClosed
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reading the database panicked (damaged file?): %v", p)
		}
	}()
	return r.db.View(fn)
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
