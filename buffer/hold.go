package buffer

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Holds: full tail blocks parked inline in the root page.
//
// A commit that only grows the tail writes the root page (where the inline
// meta bucket lives) and the meta page: bbolt's floor. Sealing the tail into
// the data bucket also rewrites the rightmost data leaf and its branch
// path, two or three pages more. At the reference site (40 readings per
// 10 s slot, ~350 bytes) the ~800-byte tail filled every other commit, so
// half the commits paid for a seal: 1.65x the floor. A full tail is instead
// moved into a hold bucket: a top-level bucket holding that one block,
// small enough to stay inline (a quarter page), so it too lives in the root
// page and the move costs nothing beyond the floor. Only when no hold is
// free are the holds and the tail sealed into data together, as
// quarter-page blocks like any other.
//
// The root page must stay one page: with more than four top-level buckets
// bbolt splits an over-full root into two leaves and a branch, three pages
// on every commit. holdFits counts what the root may come to hold at most
// before a hold is added: the meta bucket as a full inline quarter page
// (tailLimit keeps it inline), and the series and data buckets likewise
// whenever they are small enough to be inline. Data, once over a quarter
// page, only becomes inline again through a prune, and a prune that leaves
// it that small takes the holds into it (pruneHolds).
//
// Seq order is data < holds (by first seq) < tail: anything written to
// data first takes the holds with it (flushHolds), so readers walk data,
// then the holds, then the tail.
var holdBuckets = [][]byte{[]byte("h0"), []byte("h1"), []byte("h2")}

const (
	bucketHeaderLen = 16 // bbolt's bucket struct before an inline page
	rootSlack       = 32
)

// held is one parked block: the bucket slot it is in, its first seq, its
// reading count and its key + value bytes.
type held struct {
	slot  int
	first uint64
	n     uint64
	size  int64
}

func (h held) last() uint64 { return h.first + h.n - 1 }

func holdSlot(name []byte) (int, bool) {
	for i, b := range holdBuckets {
		if bytes.Equal(b, name) {
			return i, true
		}
	}
	return 0, false
}

func (s *diskState) holdBytes() int64 {
	var n int64
	for _, h := range s.holds {
		n += h.size
	}
	return n
}

func (s *diskState) holdCount() uint64 {
	var n uint64
	for _, h := range s.holds {
		n += h.n
	}
	return n
}

// holdFits tells whether a hold of a block of blockLen bytes keeps the
// root page a single page, and which slot it would take. seriesInline is
// the series bucket's inline size, or 0 when it has its own pages;
// dataBytes is the data bucket's key and value bytes.
func holdFits(pageSize int, holds []held, blockLen, seriesInline int, dataBytes int64) (int, bool) {
	quarter := pageSize / 4
	inlineHold := func(n int) int { return pageHeaderLen + leafElemLen + 8 + n }
	if len(holds) == len(holdBuckets) || inlineHold(blockLen) > quarter {
		return 0, false
	}
	root := pageHeaderLen
	for _, name := range [][]byte{bucketData, bucketMeta, bucketSeries} {
		root += leafElemLen + len(name) + bucketHeaderLen
	}
	// Meta is kept inline (tailLimit); series and small data may grow up
	// to the inline limit.
	root += quarter
	if seriesInline > 0 {
		root += quarter
	}
	if dataBytes <= int64(quarter) {
		root += quarter
	}
	used := make([]bool, len(holdBuckets))
	for _, h := range holds {
		used[h.slot] = true
		root += leafElemLen + len(holdBuckets[h.slot]) + bucketHeaderLen + inlineHold(int(h.size)-8)
	}
	slot := slices.Index(used, false)
	root += leafElemLen + len(holdBuckets[slot]) + bucketHeaderLen + inlineHold(blockLen)
	return slot, root <= pageSize-rootSlack
}

// seriesInlineSize is the series bucket's size as bbolt counts it for
// inlining, or 0 when it is over the limit.
func seriesInlineSize(pageSize int, names []seriesKey) int {
	n := pageHeaderLen
	for _, s := range names {
		n += leafElemLen + 4 + len(encodeSeries(s))
		if n > pageSize/4 {
			return 0
		}
	}
	return n
}

// retireTail makes room for a new tail: the full tail is parked in a hold
// when one fits, and otherwise sealed into data with the holds before it.
func (r *Ring) retireTail(data *bolt.Bucket, next *diskState) error {
	tx := data.Tx()
	if next.tail.n == 0 {
		return nil
	}
	v := next.tail.bytes()
	names := r.dict.snapshot()[:next.nSeries]
	if slot, ok := holdFits(r.pageSize, next.holds, len(v), seriesInlineSize(r.pageSize, names), next.dataBytes); ok {
		b, err := tx.CreateBucketIfNotExists(holdBuckets[slot])
		if err != nil {
			return fmt.Errorf("hold %s: %w", holdBuckets[slot], err)
		}
		if err := b.Put(seqKey(next.tailFirst), v); err != nil {
			return fmt.Errorf("hold %s: block at seq %d: %w", holdBuckets[slot], next.tailFirst, err)
		}
		if next.format < dbFormat {
			// Builds before holds read format 1 and would not see them.
			if err := tx.Bucket(bucketMeta).Put(keyFormat, []byte{dbFormat}); err != nil {
				return fmt.Errorf("format: %w", err)
			}
			next.format = dbFormat
		}
		next.holds = append(slices.Clip(next.holds), held{slot: slot, first: next.tailFirst, n: uint64(next.tail.n), size: int64(8 + len(v))})
		next.tail, next.tailFirst = newBlockEncoder(), 0
		return nil
	}
	return sealTail(data, next)
}

// flushHolds moves the held blocks into data, oldest first.
func flushHolds(data *bolt.Bucket, next *diskState) error {
	tx := data.Tx()
	for _, h := range next.holds {
		b := tx.Bucket(holdBuckets[h.slot])
		if b == nil {
			return fmt.Errorf("hold %s: bucket missing", holdBuckets[h.slot])
		}
		k := seqKey(h.first)
		v := b.Get(k)
		if v == nil {
			return fmt.Errorf("hold %s: block at seq %d missing", holdBuckets[h.slot], h.first)
		}
		v = bytes.Clone(v) // the hold's page is freed by this transaction
		if err := putRaw(data, next, h.first, h.n, v); err != nil {
			return err
		}
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("hold %s: %w", holdBuckets[h.slot], err)
		}
	}
	next.holds = nil
	return nil
}

// pruneHolds runs after a prune removed blocks: data left small enough to
// be inline again would share the root page with the holds, which were
// sized for a data bucket with pages of its own, so the holds join it (its
// leaf is being rewritten by the prune anyway).
func pruneHolds(data *bolt.Bucket, next *diskState, pageSize int) error {
	if len(next.holds) == 0 || next.dataBytes > int64(pageSize/4) {
		return nil
	}
	return flushHolds(data, next)
}

// recentBlock is a block newer than every data block: a hold or the tail.
type recentBlock struct {
	first uint64
	v     []byte
}

// recentBlocks returns the holds and the tail in seq order, as a read
// transaction sees them.
func recentBlocks(tx *bolt.Tx, meta *bolt.Bucket) []recentBlock {
	var out []recentBlock
	for _, name := range holdBuckets {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if s, ok := keySeq(k); ok && v != nil {
				out = append(out, recentBlock{s, v})
			}
		}
	}
	slices.SortFunc(out, func(a, b recentBlock) int { return cmp.Compare(a.first, b.first) })
	if v := meta.Get(keyTail); len(v) >= 8 {
		s, _ := keySeq(v[:8])
		out = append(out, recentBlock{s, v[8:]})
	}
	return out
}
