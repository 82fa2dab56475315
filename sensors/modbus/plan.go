package modbus

import (
	"fmt"
	"sort"
)

// plan is what a sensor reads: its points and, for SunSpec, that they
// come from discovery on the device.
type plan struct {
	points  []point
	sunspec bool
	profile *Profile
}

// span is one read request: count registers (or bits) of one table from
// start.
type span struct {
	table table
	start uint16
	count uint16
}

func (s span) String() string {
	if s.count == 1 {
		return fmt.Sprintf("%s 0x%04X", s.table, s.start)
	}
	return fmt.Sprintf("%ss 0x%04X-0x%04X", s.table, s.start, s.start+s.count-1)
}

func (s span) end() uint32 { return uint32(s.start) + uint32(s.count) } // one past

// need is one contiguous range a point (or its scale factor) occupies.
type need struct {
	table table
	start uint16
	n     uint16
}

// needs lists the ranges points occupy, scale-factor registers included,
// sorted by table and address.
func needs(pts []point) []need {
	var out []need
	for _, p := range pts {
		out = append(out, need{p.table, p.addr, p.width()})
		if p.sf >= 0 {
			out = append(out, need{p.table, uint16(p.sf), 1})
		}
	}
	sortNeeds(out)
	return out
}

// coalesce merges ranges of one table into as few requests as the limits
// allow: a request spans at most maxRegs registers (maxPDUBits bits) and
// skips at most maxGap unused ones between two ranges.
func coalesce(ns []need, maxRegs, maxGap int) []span {
	var out []span
	for _, n := range ns {
		limit := uint32(maxRegs)
		if n.table.bits() {
			limit = maxPDUBits
		}
		end := uint32(n.start) + uint32(n.n)
		if len(out) > 0 {
			cur := &out[len(out)-1]
			if cur.table == n.table && uint32(n.start) <= cur.end()+uint32(maxGap) && max(end, cur.end())-uint32(cur.start) <= limit {
				cur.count = uint16(max(end, cur.end()) - uint32(cur.start))
				continue
			}
		}
		out = append(out, span{n.table, n.start, n.n})
	}
	return out
}

// single splits sp into one request per range of ns inside it: the retry
// when a device rejects a merged read.
func single(sp span, ns []need) []span {
	var out []span
	for _, n := range ns {
		if n.table != sp.table || n.start < sp.start || uint32(n.start)+uint32(n.n) > sp.end() {
			continue
		}
		s := span{n.table, n.start, n.n}
		if len(out) > 0 && out[len(out)-1] == s {
			continue // a scale factor shared by several points
		}
		out = append(out, s)
	}
	return out
}

func sortNeeds(out []need) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].table != out[j].table {
			return out[i].table < out[j].table
		}
		return out[i].start < out[j].start
	})
}
