package update

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a release version as `git describe --tags` writes it:
// MAJOR.MINOR.PATCH with an optional leading "v", an optional "-N-gHASH"
// (N commits after the tag) and an optional "-dirty". Its order is the
// numbers, then N: v1.2.3 < v1.2.3-4-gabc < v1.2.4. Pre-release tags
// (-rc1) are not versions here: their order is a convention nobody on a
// box can check.
type Version struct {
	Nums  [3]uint64
	Ahead uint64 // commits after the tag
	Text  string
}

// ParseVersion parses s, naming what is wrong.
func ParseVersion(s string) (Version, error) {
	v := Version{Text: s}
	rest := strings.TrimSuffix(strings.TrimPrefix(s, "v"), "-dirty")
	core, tail, hasTail := strings.Cut(rest, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH, optionally with git describe's -N-gHASH", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return Version{}, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		v.Nums[i] = n
	}
	if hasTail {
		n, hash, ok := strings.Cut(tail, "-")
		ahead, err := strconv.ParseUint(n, 10, 32)
		if !ok || err != nil || !strings.HasPrefix(hash, "g") || len(hash) < 2 {
			return Version{}, fmt.Errorf("version %q: after MAJOR.MINOR.PATCH only git describe's -N-gHASH (and -dirty) is understood, got -%s", s, tail)
		}
		v.Ahead = ahead
	}
	return v, nil
}

// Compare returns -1, 0 or +1 as v is older than, the same as or newer
// than w.
func (v Version) Compare(w Version) int {
	for i := range v.Nums {
		if v.Nums[i] != w.Nums[i] {
			return cmpUint(v.Nums[i], w.Nums[i])
		}
	}
	return cmpUint(v.Ahead, w.Ahead)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Newer reports whether version a is above version b. A version that does
// not parse (a development build says "dev" or a bare commit) is below
// every release, so a box built from a work tree takes any release, and a
// release never counts as older than it.
func Newer(a, b string) bool {
	va, errA := ParseVersion(a)
	vb, errB := ParseVersion(b)
	switch {
	case errA != nil:
		return false
	case errB != nil:
		return true
	}
	return va.Compare(vb) > 0
}
