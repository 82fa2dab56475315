package buffer

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Buckets and meta keys. Names are short on purpose: the root page and the
// inline meta bucket are rewritten by every commit.
var (
	bucketData   = []byte("data")
	bucketMeta   = []byte("meta")
	bucketSeries = []byte("series")

	keyFormat  = []byte("format")
	keyNextSeq = []byte("next_seq")
	keyDropped = []byte("dropped")
	keyClean   = []byte("clean")
	keyTail    = []byte("tail")
	// keyJump marks a seq jump still to be announced (jump.go): the floor
	// for streams new to the file and the first seq the next reading may
	// take, 8 bytes each. Present for seconds after a recovery.
	keyJump = []byte("jump")
)

const (
	// dbFormat is the layout of buckets and meta keys; a file with a higher
	// value was written by a later, incompatible build. Format 2 added the
	// hold buckets (hold.go); a format 1 file is read as it is and marked 2
	// by the commit that first parks a hold in it.
	dbFormat      = 2
	cursorPrefix  = "cur/"
	pageHeaderLen = 16 // bbolt page header, for the inline-size estimate
	leafElemLen   = 16 // bbolt leaf element header
)

func cursorKey(stream string) []byte { return []byte(cursorPrefix + stream) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(v []byte, what string) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("meta %s: %d bytes, want 8", what, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// metaFixedSize estimates the bytes the meta bucket holds apart from the
// tail, as bbolt counts them to decide whether a bucket stays inline.
func metaFixedSize(cursors map[string]uint64) int {
	n := pageHeaderLen
	n += leafElemLen + len(keyFormat) + 1
	n += leafElemLen + len(keyNextSeq) + 8
	n += leafElemLen + len(keyDropped) + 8
	n += leafElemLen + len(keyClean) + 1
	for s := range cursors {
		n += leafElemLen + len(cursorPrefix) + len(s) + 8
	}
	return n
}

// tailLimit is the largest tail block that keeps the meta bucket inline in
// the root page (a quarter page in bbolt), so that an ordinary commit writes
// just the root page and the meta page. With many streams the bucket cannot
// stay inline anyway and the tail may fill half a page instead. stateBytes
// is what persisted state entries take in the bucket (see stateSize).
func tailLimit(pageSize int, cursors map[string]uint64, stateBytes int) int {
	const slack = 16
	room := pageSize/4 - metaFixedSize(cursors) - stateBytes - (leafElemLen + len(keyTail) + 8) - slack
	if room < 256 {
		return pageSize / 2
	}
	return room
}

func isCursorKey(k []byte) (string, bool) {
	s := string(k)
	if !strings.HasPrefix(s, cursorPrefix) {
		return "", false
	}
	return s[len(cursorPrefix):], true
}
