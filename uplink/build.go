package uplink

import (
	"context"
	"fmt"
	"path"
	"sort"
	"sync"

	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink/format"
)

// built is the next batch of a stream, formatted.
type built struct {
	last    uint64 // last seq the batch covers; next-1: nothing to send yet
	more    bool   // more is ready right after this batch
	batch   format.Batch
	payload []byte  // nil: the range holds nothing for this stream
	buf     *[]byte // pooled payload buffer, nil when not pooled
}

// build reads and formats the stream's next batch from seq next; rangeStart
// is the first seq the batch accounts for (ranges with nothing for this
// stream fold into the next batch).
//
// max_batch_bytes: a payload (after compression, as it goes on the wire)
// over the bound is built again from half as much: half the raw readings,
// or for an aggregate stream half the (series, window) groups, so that a
// batch always ends on a window boundary. Only a batch of a single reading
// or a single window can exceed the bound; it goes out anyway, with a
// warning, because dropping it would lose data.
//
// stop, when non-zero, is the first seq of a range already sent ahead of
// the cursor (priority.go): the batch ends at stop-1, counting the holes
// up to there, and reports more.
func (s *stream) build(ctx context.Context, next, rangeStart, stop uint64) (built, error) {
	if s.fns != nil {
		return s.buildAggregate(ctx, next, rangeStart)
	}
	src := s.u.src
	limit := s.cfg.MaxBatch
	for {
		rs, err := src.Read(next, limit)
		if err == nil {
			err = checkOrder(rs, next)
		}
		if err != nil {
			return built{}, fmt.Errorf("read from seq %d: %w", next, err)
		}
		nb := built{more: len(rs) == limit}
		if stop > next {
			// everything below stop is committed (a reading at or past
			// stop was sent ahead), so a clipped read ends exactly at stop-1
			if i := sort.Search(len(rs), func(i int) bool { return rs[i].Seq >= stop }); i < len(rs) {
				rs, nb.last, nb.more = rs[:i], stop-1, true
			}
		}
		if nb.last == 0 {
			if len(rs) == 0 {
				return built{last: next - 1}, nil
			}
			nb.last = rs[len(rs)-1].Seq
		}
		// holes: overflow or lost before commit; not the seqs thinning consumed
		dropped := nb.last - next + 1 - uint64(len(rs)) - thinGaps(rs, next)
		matched := s.filter(rs)
		if len(matched) == 0 && dropped == 0 {
			return nb, nil
		}
		nb.batch = format.Batch{
			Device: s.u.opts.DeviceID, Stream: s.name,
			FirstSeq: rangeStart, LastSeq: nb.last, Dropped: dropped, Readings: matched,
			Tags: s.cfg.Tags, Thinned: countThinned(matched), Severity: s.u.opts.Severity,
		}
		if err := s.formatBatch(ctx, &nb); err != nil {
			return built{}, err
		}
		if s.oversize(&nb, len(matched) > 1) {
			limit = max(1, len(rs)/2)
			stop = 0 // the halved read ends before stop anyway
			continue
		}
		return nb, nil
	}
}

func (s *stream) buildAggregate(ctx context.Context, next, rangeStart uint64) (built, error) {
	maxGroups := max(1, s.cfg.MaxBatch/len(s.fns))
	for {
		ab, err := s.scanAggregate(next, maxGroups)
		if err != nil {
			return built{}, err
		}
		nb := built{last: ab.last, more: ab.more}
		if ab.last < next || (len(ab.readings) == 0 && ab.dropped == 0) {
			return nb, nil
		}
		nb.batch = format.Batch{
			Device: s.u.opts.DeviceID, Stream: s.name,
			FirstSeq: rangeStart, LastSeq: ab.last, Dropped: ab.dropped, Readings: ab.readings,
			Tags: s.cfg.Tags, Aggregate: s.aggName, Thinned: countThinned(ab.readings),
		}
		if err := s.formatBatch(ctx, &nb); err != nil {
			return built{}, err
		}
		if s.oversize(&nb, ab.windows > 1) {
			maxGroups = max(1, ab.groups/2)
			continue
		}
		return nb, nil
	}
}

func (s *stream) formatBatch(ctx context.Context, nb *built) error {
	payload, buf, err := s.format(ctx, &nb.batch)
	if err != nil {
		return fmt.Errorf("format %s batch %d..%d: %w", s.cfg.Format, nb.batch.FirstSeq, nb.batch.LastSeq, err)
	}
	nb.payload, nb.buf = payload, buf
	if nb.payload == nil {
		nb.payload = []byte{} // an empty payload is still a batch to publish
	}
	return nil
}

// oversize reports whether nb is over max_batch_bytes and can be split
// (releasing its buffer then); an unsplittable one is logged.
func (s *stream) oversize(nb *built, splittable bool) bool {
	if s.maxBytes <= 0 || len(nb.payload) <= s.maxBytes {
		return false
	}
	if splittable {
		s.splits.Add(1)
		if nb.buf != nil {
			payloadPool.Put(nb.buf)
		}
		return true
	}
	s.u.log.Warn("one reading or window alone exceeds max_batch_bytes; publishing it anyway rather than losing it",
		"stream", s.name, "first_seq", nb.batch.FirstSeq, "last_seq", nb.batch.LastSeq,
		"bytes", len(nb.payload), "max_batch_bytes", s.maxBytes)
	return false
}

// appender is the optional fast path of a formatter (format.JSON has it):
// the payload is written into a buffer the uplink reuses once the broker
// has acknowledged it.
type appender interface {
	AppendFormat(dst []byte, b *format.Batch) ([]byte, error)
}

// contextFormatter is the optional form of a formatter that runs
// something which must stop with the stream (format.Exec's command).
type contextFormatter interface {
	FormatContext(ctx context.Context, b *format.Batch) ([]byte, error)
}

var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}

// checkOrder guards the dropped arithmetic against a source that breaks its
// contract: seqs must ascend strictly from at least from.
func checkOrder(rs []reading.Reading, from uint64) error {
	prev := from - 1
	for i := range rs {
		if rs[i].Seq <= prev {
			return fmt.Errorf("source returned seq %d after %d (want ascending from %d)", rs[i].Seq, prev, from)
		}
		prev = rs[i].Seq
	}
	return nil
}

func (s *stream) filter(rs []reading.Reading) []reading.Reading {
	if s.all {
		return rs
	}
	out := make([]reading.Reading, 0, len(rs))
	for i := range rs {
		if s.matches(rs[i].Name) {
			out = append(out, rs[i])
		}
	}
	return out
}

// matches applies the globs with a per-name cache: a box has tens of series,
// and path.Match per reading per glob would cost more than formatting.
func (s *stream) matches(name string) bool {
	if m, ok := s.cache[name]; ok {
		return m
	}
	m := false
	for _, g := range s.cfg.Match {
		if ok, _ := path.Match(g, name); ok {
			m = true
			break
		}
	}
	if len(s.cache) < 4096 {
		s.cache[name] = m
	}
	return m
}

// format returns the payload for b, compressed when the stream says so,
// and the pooled buffer holding it (nil when not pooled).
func (s *stream) format(ctx context.Context, b *format.Batch) ([]byte, *[]byte, error) {
	raw, rawBuf, err := s.formatRaw(ctx, b)
	if err != nil || s.compress == "" {
		return raw, rawBuf, err
	}
	bp := payloadPool.Get().(*[]byte)
	out, err := format.AppendCompressed(s.compress, (*bp)[:0], raw)
	if rawBuf != nil {
		payloadPool.Put(rawBuf)
	}
	if err != nil {
		payloadPool.Put(bp)
		return nil, nil, err
	}
	*bp = out
	return out, bp, nil
}

func (s *stream) formatRaw(ctx context.Context, b *format.Batch) ([]byte, *[]byte, error) {
	switch {
	case s.ctxf != nil:
		out, err := s.ctxf.FormatContext(ctx, b)
		return out, nil, err
	case s.app == nil:
		out, err := s.f.Format(b)
		return out, nil, err
	}
	bp := payloadPool.Get().(*[]byte)
	out, err := s.app.AppendFormat((*bp)[:0], b)
	if err != nil {
		payloadPool.Put(bp)
		return nil, nil, err
	}
	*bp = out
	return out, bp, nil
}
