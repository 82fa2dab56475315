package rules

import (
	"sort"
	"time"
)

// rebuildChunk is how many readings one buffer read returns.
const rebuildChunk = 4096

// rebuild refills the windows from the buffer, so a window function gives
// after a restart what it gave before: the readings are all there (and a
// derived series' own readings too), and reading them costs no write.
// The start of the span is found by bisecting seqs on time (the buffer is
// in time order but for clock steps), then the span is read forward once.
func (e *Engine) rebuild() {
	var keep time.Duration
	for _, s := range e.ser {
		keep = max(keep, s.keep)
	}
	if keep == 0 {
		return
	}
	first, last := e.o.Store.Bounds()
	if first > last {
		return
	}
	cutoff := e.o.Now().Add(-keep).UnixNano()
	start := first + uint64(sort.Search(int(last-first+1), func(i int) bool {
		rs, err := e.o.Store.Read(first+uint64(i), 1)
		return err != nil || len(rs) == 0 || rs[0].Time.UnixNano() > cutoff
	}))
	n := 0
	for from := start; from <= last; {
		rs, err := e.o.Store.Read(from, rebuildChunk)
		if err != nil {
			e.log.Error("windows not rebuilt from the buffer; window functions cover only what comes from now", "err", err)
			return
		}
		if len(rs) == 0 {
			break
		}
		for i := range rs {
			s := e.ser[rs[i].Name]
			if s == nil || rs[i].Time.UnixNano() <= cutoff {
				continue
			}
			s.add(point{t: rs[i].Time.UnixNano(), v: rs[i].Value, flags: rs[i].Flags})
			n++
		}
		from = rs[len(rs)-1].Seq + 1
	}
	e.log.Info("rule windows rebuilt from the buffer", "readings", n, "span", keep)
}
