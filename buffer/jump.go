package buffer

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Seq jumps: when readings that may have been sent are lost with the file
// (moved aside as corrupt, found empty or missing while the .seq
// reservation says it held readings) or rolled back (bbolt fell back to the
// previous commit because the newest meta page is damaged), numbering
// resumes at the reservation, above every seq ever committed, and the jump
// is announced the way every hole is: a stream reads from its cursor, and
// every seq between it and the next reading counts as dropped in its batch.
//
// The meta key "jump" (floor, to) carries it until it is announced:
//   - to: the next reading takes a seq at or above it. After a rollback
//     the file's next_seq is below it; the first commit with readings
//     skips to it (a new block: seqs within a block are contiguous).
//   - floor: where a stream the file has no cursor for starts (floor-1)
//     instead of first-1, so that it announces [floor, to) too. A fresh file
//     after a loss has no cursors; those that could be salvaged from the
//     lost file are kept, and the floor stands for the others: the highest
//     seq the lost file is known to have reached, plus one.
//
// The key is deleted by the first commit that writes readings at or above
// `to` after SetStreams has given every configured stream its cursor; it
// is written in the same transaction that replaces the lost state, so a
// power cut in between cannot make the jump silent.

// jump is the persisted (floor, to); zero: none.
type jump struct{ floor, to uint64 }

func (j jump) bytes() []byte {
	return binary.BigEndian.AppendUint64(u64(j.floor), j.to)
}

func (s *diskState) jumpBytes() int {
	if s.jump.to == 0 {
		return 0
	}
	return leafElemLen + len(keyJump) + 16
}

// recovery is what this open did about a lost or rolled-back file, for
// Stats and the status document.
type recovery struct {
	aside  string    // where the file was moved ("" when there was nothing to move)
	reason string    // why
	at     time.Time // when (UTC)
	jump   uint64    // seqs skipped: the jump every stream announces as dropped
}

// plausibleSeq rejects seqs read from a damaged file that no box can have
// reached (a garbage next_seq would otherwise push numbering to the end).
func plausibleSeq(s uint64) bool { return s < 1<<53 }

// resumeSeq is where numbering resumes after a loss: above the durable
// reservation and above anything the damaged file still showed. ok is
// false when neither is known.
func resumeSeq(reserved uint64, ld *loaded) (next uint64, ok bool) {
	next = reserved
	if ld != nil && ld.maxSeq > 0 && plausibleSeq(ld.maxSeq) {
		next = max(next, ld.maxSeq+1)
	}
	return next, next > 0
}

// wallClockSeq is the last resort when nothing tells which seqs were used:
// wall-clock milliseconds outrun any seq we could have assigned (we never
// commit 1000 readings a second for long), unless the clock is behind.
func wallClockSeq() uint64 { return max(uint64(time.Now().UnixMilli()), 1) }

// lostFloor is the first seq of the jump announced to streams whose cursor
// did not survive: one past the highest seq the lost file is known to have
// reached, from what could be read of it or else from the reservation (when
// the reservation was last written a commit had just reached reserved -
// step). Never above to.
func lostFloor(ld *loaded, reserved, step, to uint64) uint64 {
	var k uint64
	if ld != nil && plausibleSeq(ld.maxSeq) {
		k = ld.maxSeq
	}
	if reserved > step {
		k = max(k, reserved-step-1)
	}
	return min(k, to-1) + 1
}

// salvagedCursors keeps the cursors read from a lost file that are below
// the new numbering: a stream then announces exactly what it had not
// acknowledged.
func salvagedCursors(ld *loaded, to uint64) map[string]uint64 {
	out := map[string]uint64{}
	if ld == nil {
		return out
	}
	for s, c := range ld.cursors {
		if c < to && (ld.maxSeq == 0 || c <= ld.maxSeq) {
			out[s] = c
		}
	}
	return out
}

// bbolt's meta page (go.etcd.io/bbolt internal/common meta.go and page.go):
// a 16-byte page header, then magic, version, page size, flags (uint32
// each), the root bucket (16), freelist, pgid and txid (uint64 each) and
// the checksum: FNV-64a of the meta up to it. bbolt writes the struct as it
// is in memory, little-endian on every board karana-edge runs on, and the
// two meta pages alternately: txid%2 is the page a commit writes.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	metaOff        = 16 // page header
	metaSumLen     = 56 // the meta up to the checksum
	metaTxidOff    = 48
	metaChecksumAt = metaSumLen
	metaLen        = metaSumLen + 8
)

type metaPage struct {
	valid    bool
	pageSize uint32
	txid     uint64
}

func parseMeta(b []byte) metaPage {
	if len(b) < metaOff+metaLen {
		return metaPage{}
	}
	m := b[metaOff : metaOff+metaLen]
	h := fnv.New64a()
	_, _ = h.Write(m[:metaSumLen])
	le := binary.LittleEndian
	return metaPage{
		valid: le.Uint32(m) == boltMagic && le.Uint32(m[4:]) == boltVersion &&
			le.Uint64(m[metaChecksumAt:]) == h.Sum64(),
		pageSize: le.Uint32(m[8:]),
		txid:     le.Uint64(m[metaTxidOff:]),
	}
}

// damagedMeta reports whether exactly one of the file's two meta pages
// fails its checksum while the other is valid: bbolt then opens the
// valid one, and if the damaged page was the newer one, the last commit is
// gone (SD cards can corrupt a written page on power loss). Which one it
// was cannot be told (the txid in a damaged page is not to be trusted), so
// either case counts as a possible rollback. With both pages valid (an
// ordinary power cut) it reports nothing: the commit that was cut never
// returned, so none of its seqs went out.
func damagedMeta(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	read := func(off int64) metaPage {
		b := make([]byte, metaOff+metaLen)
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return metaPage{}
		}
		return parseMeta(b)
	}
	m0 := read(0)
	if m0.valid {
		m1 := read(int64(m0.pageSize))
		if !m1.valid {
			return fmt.Sprintf("meta page 1 is damaged; bbolt opened txid %d from meta page 0", m0.txid), true
		}
		return "", false
	}
	// Like bbolt: the page size from the second meta page, tried at each
	// possible size.
	for i := 0; i <= 14; i++ {
		off := int64(1024) << i
		if m1 := read(off); m1.valid && int64(m1.pageSize) == off {
			return fmt.Sprintf("meta page 0 is damaged; bbolt opened txid %d from meta page 1", m1.txid), true
		}
	}
	return "", false
}

// recordJump persists j at open (a rollback keeps the file): that commit
// replaces the damaged meta page, so the jump is durable before anything
// else is written.
func recordJump(db *bolt.DB, j jump) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("meta bucket missing")
		}
		return meta.Put(keyJump, j.bytes())
	})
}
